//! `chatvault show`.

pub fn run(_ctx: &crate::context::Ctx, _args: crate::cli::ShowArgs) -> anyhow::Result<()> {
    anyhow::bail!("`show` is not implemented yet")
}
