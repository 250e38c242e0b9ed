//! `chatvault run`.

pub fn run(_ctx: &crate::context::Ctx, _args: crate::cli::RunArgs) -> anyhow::Result<()> {
    anyhow::bail!("`run` is not implemented yet")
}
