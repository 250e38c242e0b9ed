//! `chatvault demo`.

pub fn run(_data_dir: Option<&std::path::Path>, _args: crate::cli::DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("`demo` is not implemented yet")
}
