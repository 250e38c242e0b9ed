//! `chatvault export`.

pub fn run(_ctx: &crate::context::Ctx, _args: crate::cli::ExportArgs) -> anyhow::Result<()> {
    anyhow::bail!("`export` is not implemented yet")
}
