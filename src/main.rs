//! The `chatvault` command line: wiring, process lifecycle, signals, logs and exit codes.
//! Business logic lives in the crates; this binary only connects them (and is the only place
//! that uses `anyhow`).

mod cli;
mod commands;
mod context;
mod exit;
mod render;
mod timearg;

use clap::Parser;

/// Every message crosses threads (connector → prepare threads → writer → indexer), and glibc's
/// allocator paid for those frees in lock and consolidation work on every thread.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // The 会话存档 worker (a child of `run`): before clap and logging, which it needs neither of.
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new(ingest::wecom_archive::WORKER_SUBCOMMAND)) {
        std::process::exit(finance::worker::main());
    }
    let cli = cli::Cli::parse();
    // The demo and the read commands print for people: only warnings in between, unless
    // RUST_LOG asks for more. A service (`run`) logs at info.
    let default_level = match cli.command {
        cli::Command::Run(_) | cli::Command::Sim(_) => "info",
        _ => "warn",
    };
    context::init_logging(default_level);
    let code = match commands::dispatch(cli) {
        Ok(()) => 0,
        Err(e) => exit::report(&e),
    };
    std::process::exit(code);
}
