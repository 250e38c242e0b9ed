//! `chatvault audit`.

pub fn run(_ctx: &crate::context::Ctx, _args: crate::cli::AuditArgs) -> anyhow::Result<()> {
    anyhow::bail!("`audit` is not implemented yet")
}
