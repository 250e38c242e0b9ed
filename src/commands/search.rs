//! `chatvault search`.

pub fn run(_ctx: &crate::context::Ctx, _args: crate::cli::SearchArgs) -> anyhow::Result<()> {
    anyhow::bail!("`search` is not implemented yet")
}
