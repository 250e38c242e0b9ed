//! `chatvault check-config`.

pub fn run(_ctx: &crate::context::Ctx) -> anyhow::Result<()> {
    anyhow::bail!("`check-config` is not implemented yet")
}
