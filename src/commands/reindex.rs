//! `chatvault reindex`.

pub fn run(_ctx: &crate::context::Ctx) -> anyhow::Result<()> {
    anyhow::bail!("`reindex` is not implemented yet")
}
