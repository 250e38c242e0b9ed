//! `chatvault bench search`.

pub fn run(_args: &crate::cli::BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("`bench search` is not implemented yet")
}
