//! `chatvault sim`.

pub fn run(_args: crate::cli::SimArgs) -> anyhow::Result<()> {
    anyhow::bail!("`sim` is not implemented yet")
}
