//! `chatvault bench`: benchmarks, each beside a baseline measured in the same run.
//!
//! A crate of its own so the production command path does not carry the baselines (they talk
//! to SQLite directly, which nothing else outside `store` may). The binary only parses
//! [`BenchArgs`] and calls [`run`]; the `export` benchmark re-runs the binary (`chatvault bench
//! export` in a child) to build its archive, so it must stay reachable as that subcommand.

mod archive;
mod cpu;
mod error;
mod export;
mod pipeline;
mod running;
mod search;
mod sims;
mod store;
mod stream;
pub mod ui;
mod util;

use std::path::PathBuf;

pub use error::BenchError;

/// `chatvault bench` arguments.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// store, search, export, pipeline, stream, archive or ui.
    pub what: String,
    /// Number of messages.
    #[arg(long, default_value_t = 1_000_000)]
    pub n: usize,
    /// Working directory (default: a temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// `pipeline`: messages per Goofish `/s/sync` push (200: a catch-up; 1: one message per
    /// frame, the shape of the figures measured before catch-up pushes).
    #[arg(long, default_value_t = 200)]
    pub push_items: usize,
    /// `pipeline`: Goofish pushes the simulator keeps unacknowledged at most.
    #[arg(long, default_value_t = 8)]
    pub pushes_in_flight: usize,
    /// `pipeline`: how the Goofish simulator numbers its messages: `across-chats` (one
    /// sequence for the account, what the archive's keys are laid out for) or `per-chat`
    /// (each conversation from the same number; the same id stands in many chats).
    #[arg(long, default_value = "across-chats", value_parser = ["across-chats", "per-chat"])]
    pub goofish_numbering: String,
    /// `pipeline`: connectors to feed, comma-separated (`eoffice,goofish,yunhu`); the
    /// messages are split evenly between them.
    #[arg(long, value_delimiter = ',', default_value = "eoffice,goofish,yunhu")]
    pub connectors: Vec<String>,
    /// `ui`: messages of the large chat whose conversation pages are measured.
    #[arg(long, default_value_t = 10_000)]
    pub chat_size: usize,
    /// `ui`: measured runs per query and per page (after two warm-up rounds).
    #[arg(long, default_value_t = 100)]
    pub reps: usize,
    /// `ui`: print the results as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// `ui`: the data directory to reuse, or to build the archive in (the global
    /// `--data-dir`, passed on by the command; none: a scratch directory).
    #[arg(skip)]
    pub data_dir: Option<PathBuf>,
}

/// Runs one benchmark and prints its markdown table.
pub fn run(args: &BenchArgs) -> Result<(), BenchError> {
    match args.what.as_str() {
        "store" => store::run(args),
        "search" => search::run(args),
        "export" => export::run(args),
        "pipeline" => pipeline::run(args),
        "stream" => stream::run(args),
        "archive" => archive::run(args),
        "ui" => ui::run(args),
        other => Err(BenchError::UnknownBenchmark(other.to_string())),
    }
}
