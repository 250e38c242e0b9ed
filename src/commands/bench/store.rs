//! `chatvault bench store`.

pub fn run(_args: &crate::cli::BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("`bench store` is not implemented yet")
}
