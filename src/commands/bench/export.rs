//! `chatvault bench export`.

pub fn run(_args: &crate::cli::BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("`bench export` is not implemented yet")
}
