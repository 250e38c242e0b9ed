//! `chatvault verify`.

pub fn run(_ctx: &crate::context::Ctx, _args: crate::cli::VerifyArgs) -> anyhow::Result<()> {
    anyhow::bail!("`verify` is not implemented yet")
}
