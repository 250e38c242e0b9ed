//! One module per subcommand.

mod access_log;
mod anchor;
mod audit;
mod backup;
mod check_config;
mod demo;
mod export;
mod reindex;
mod rejects;
mod rejects_media;
mod run;
mod search;
mod serve;
mod show;
mod sim;
mod stats;
mod user;
mod verify;
mod verify_bundle;

use crate::cli::{Cli, Command};
use crate::context::Ctx;

/// Runs the chosen subcommand.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let ctx = Ctx::load(cli.config.as_deref(), cli.data_dir.as_deref())?;
    match cli.command {
        Command::Run(a) => run::run(&ctx, a),
        Command::Demo(a) => demo::run(cli.data_dir.as_deref(), a),
        Command::Search(a) => search::run(&ctx, a),
        Command::Audit(a) => audit::run(&ctx, a),
        Command::Show(a) => show::run(&ctx, a),
        Command::Export(a) => export::run(&ctx, a),
        Command::Stats(a) => stats::run(&ctx, a),
        Command::Verify(a) => verify::run(&ctx, a),
        Command::Backup(a) => backup::run(&ctx, a),
        Command::Reindex => reindex::run(&ctx),
        Command::Anchor => anchor::run(&ctx),
        Command::Rejects(a) => rejects::run(&ctx, a),
        Command::CheckConfig => check_config::run(&ctx),
        Command::Sim(a) => sim::run(a),
        Command::Bench(mut a) => {
            // `bench ui --data-dir DIR` reuses (or builds) the archive there.
            a.data_dir = cli.data_dir.clone();
            bench::run(&a).map_err(|e| match e {
                bench::BenchError::UnknownBenchmark(_) => crate::exit::usage(e.to_string()),
                e => e.into(),
            })
        }
        Command::Serve(a) => serve::run(&ctx, a),
        Command::User(a) => user::run(&ctx, a),
        Command::AccessLog(a) => access_log::run(&ctx, a),
        Command::VerifyBundle(a) => verify_bundle::run(a),
    }
}
