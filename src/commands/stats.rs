//! `chatvault stats`.

pub fn run(_ctx: &crate::context::Ctx, _args: crate::cli::StatsArgs) -> anyhow::Result<()> {
    anyhow::bail!("`stats` is not implemented yet")
}
