//! The `[export] schedule` inside `chatvault run`: the configured [`ExportJob`] (local folder,
//! S3 Parquet, S3 or local Delta) on a cron schedule. Runs never overlap (one loop); a failed
//! run is logged and counted while archiving goes on, and the next run picks up where the
//! target's last complete export left off. Every finished run anchors the chain head it
//! exported, like `chatvault export`.

use tokio_util::sync::CancellationToken;

use crate::export_job::ExportJob;

/// Runs `job` on `schedule` until shutdown.
pub async fn scheduled_exports(schedule: export::Schedule, job: ExportJob, shutdown: CancellationToken) {
    tracing::info!(
        target = job.target(),
        schedule = schedule.expr(),
        "export schedule started"
    );
    loop {
        let now = chrono::Utc::now();
        let Some(next) = schedule.next_after(now) else {
            tracing::warn!("export schedule has no future run");
            return;
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => return,
        }
        let j = job.clone();
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || j.run(&mut |_| {})).await;
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(Ok(outcome)) => {
                let s = outcome.export();
                tracing::info!(
                    target = job.target(),
                    partitions = s.partitions_written,
                    event_files = s.event_files_written,
                    files_sent = outcome.files_sent(),
                    bytes_sent = outcome.bytes_sent(),
                    to_seq = s.to_seq,
                    seconds = secs,
                    "scheduled export finished"
                );
                if s.to_seq > 0 {
                    let anchor = store::anchors::Anchor {
                        seq: s.to_seq,
                        hash: s.head_hash.to_ascii_lowercase(),
                    };
                    if let Err(e) = store::anchors::record(job.data_dir(), &anchor, "export") {
                        tracing::error!(error = %e, "scheduled export not anchored");
                    }
                }
            }
            Ok(Err(e)) => tracing::error!(
                target = job.target(),
                error = %e,
                "scheduled export failed; the target's previous export is intact and archiving continues"
            ),
            Err(e) => tracing::error!(error = %e, "scheduled export task failed"),
        }
    }
}
