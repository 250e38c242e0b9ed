//! `chatvault serve [--listen ADDR]`: the reviewer web UI alone (no connectors), on its own
//! address. It keeps the search index caught up unless `run` (which indexes) is running.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cli::ServeArgs;
use crate::context::Ctx;

/// Where the UI listens when neither `--listen` nor `[ui] listen` says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8090";

/// The UI options of `ctx`.
pub fn options(ctx: &Ctx) -> ui::UiOptions {
    ui::UiOptions {
        data_dir: ctx.data_dir.clone(),
        secure_cookies: ctx.config.ui.secure_cookies,
        idle_timeout: Duration::from_secs(ctx.config.ui.idle_timeout_secs),
        tz: ctx.tz(),
    }
}

/// Runs the command.
pub fn run(ctx: &Ctx, args: ServeArgs) -> anyhow::Result<()> {
    let listen = args
        .listen
        .or(ctx.config.ui.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid literal"));
    if listen == ctx.config.server.listen && ctx.config.connector_count() > 0 {
        return Err(crate::exit::usage(format!(
            "--listen {listen} is the callback server's address; the UI needs its own"
        )));
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let shutdown = CancellationToken::new();
        super::run::spawn_signal_handler(shutdown.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(ui::serve(options(ctx), listen, true, shutdown, Some(tx)));
        if let Ok(addr) = rx.await {
            // Scripts (and tests) wait for this line to know the port.
            eprintln!("reviewer UI on http://{addr}/");
        }
        task.await??;
        Ok(())
    })
}
