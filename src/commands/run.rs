//! `chatvault run`: archive until SIGINT/SIGTERM.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cli::RunArgs;
use crate::context::Ctx;
use pipeline::{Pipeline, PipelineOptions};

pub fn run(ctx: &Ctx, args: RunArgs) -> anyhow::Result<()> {
    if ctx.config.connector_count() == 0 {
        let file = ctx
            .config_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(no config file)".into());
        return Err(crate::exit::usage(format!(
            "no connectors configured in {file}: add an [[eoffice]], [[wecom]], [[goofish]], [[worktool]] or [[yunhu]] section (see examples/chatvault.toml), or try `chatvault demo`"
        )));
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let shutdown = CancellationToken::new();
        spawn_signal_handler(shutdown.clone());
        let ui_shutdown = shutdown.clone();
        let pipeline = Pipeline::start(
            PipelineOptions {
                config: ctx.config.clone(),
                data_dir: ctx.data_dir.clone(),
                backfill: args.backfill,
                drain_timeout: Duration::from_secs(10),
                index: true,
            },
            shutdown,
        )
        .await?;
        tracing::info!(
            connectors = ctx.config.connector_count(),
            data_dir = %ctx.data_dir.display(),
            server = ?pipeline.server_addr,
            "archiving"
        );
        // The reviewer UI only when configured, on its own address; the pipeline indexes.
        let ui = ctx.config.ui.listen.map(|listen| {
            tokio::spawn(ui::serve(
                super::serve::options(ctx),
                listen,
                false,
                ui_shutdown.clone(),
                None,
            ))
        });
        let result = pipeline.wait().await;
        ui_shutdown.cancel();
        if let Some(task) = ui {
            match task.await {
                Ok(Err(e)) => tracing::error!(error = %e, "reviewer UI stopped"),
                Err(e) => tracing::error!(error = %e, "reviewer UI task failed"),
                Ok(Ok(())) => {}
            }
        }
        result?;
        Ok(())
    })
}

/// Cancels `token` on SIGINT or SIGTERM.
pub fn spawn_signal_handler(token: CancellationToken) {
    tokio::spawn(async move {
        let term = async {
            #[cfg(unix)]
            {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            }
            #[cfg(not(unix))]
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
        tracing::info!("signal received");
        token.cancel();
    });
}
