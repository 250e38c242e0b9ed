//! `chatvault sim PLATFORM [--port N]`: one simulator by hand, running its scripted demo day
//! until Ctrl-C (it prints the config section to point a connector at it).

pub fn run(args: crate::cli::SimArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        match args.platform.as_str() {
            "eoffice" => sim::eoffice::run_standalone(args.port).await?,
            "wecom" => sim::wecom::run_standalone(args.port).await?,
            "goofish" => sim::goofish::run_standalone(args.port).await?,
            "worktool" => sim::worktool::run_standalone(args.port).await?,
            "yunhu" => sim::yunhu::run_standalone(args.port).await?,
            other => {
                return Err(crate::exit::usage(format!(
                    "unknown platform `{other}` (valid: {})",
                    proto::Platform::choices()
                )));
            }
        }
        Ok(())
    })
}
