//! `chatvault backup`.

pub fn run(_ctx: &crate::context::Ctx, _args: crate::cli::BackupArgs) -> anyhow::Result<()> {
    anyhow::bail!("`backup` is not implemented yet")
}
