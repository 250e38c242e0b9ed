//! `chatvault bench`: benchmarks, each beside a baseline measured in the same run.

mod export;
mod pipeline;
mod search;
mod store;
pub mod util;

/// Runs one benchmark and prints its markdown table.
pub fn run(args: crate::cli::BenchArgs) -> anyhow::Result<()> {
    match args.what.as_str() {
        "store" => store::run(&args),
        "search" => search::run(&args),
        "export" => export::run(&args),
        "pipeline" => pipeline::run(&args),
        other => Err(crate::exit::usage(format!(
            "unknown benchmark `{other}` (valid: store, search, export, pipeline)"
        ))),
    }
}
