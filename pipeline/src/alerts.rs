//! `[alerts] webhook`: telling a human when archiving stops, when it stops.
//!
//! Two sources: every connector's gap opening and closing ([`ingest::state::GapAlert`], from
//! the state registry), and the store itself — [`watch_commits`] sits between the connectors'
//! channel and the store writer (only when a webhook is configured, so a deployment without
//! one keeps the direct channel) and notices the first failed commit after a good one, the
//! first good one after failures, and the writer going away. Each alert is one POST of a
//! WeCom group-robot text message (`{"msgtype":"text","text":{"content":…}}`), so a robot URL
//! works as it is; other receivers get the same JSON. Delivery never blocks archiving: the
//! queue is bounded and a full queue drops the alert with a log line; a failed POST is retried
//! twice. The URL is a secret (a robot URL carries its key): it is never logged.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use ingest::state::GapAlert;
use proto::{CommitError, CommitInfo, EventBatch};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Alerts waiting to be posted, at most.
pub const QUEUE: usize = 256;

/// Something an operator must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// A connector stopped or resumed archiving.
    Gap(GapAlert),
    /// The store stopped committing (`committing: false`) or committed again.
    Store {
        /// Whether commits succeed now.
        committing: bool,
        /// Why it failed (no secrets).
        detail: String,
    },
}

impl Alert {
    /// The human-readable text of the message.
    pub fn text(&self) -> String {
        match self {
            Alert::Gap(g) => {
                let what = if g.opened {
                    "stopped archiving"
                } else {
                    "is archiving again"
                };
                let detail = g.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
                let at = chrono::DateTime::from_timestamp_millis(g.at)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
                format!(
                    "chatvault: {} connector `{}` {what}: {}{detail} at {at}",
                    g.platform.as_str(),
                    g.connector,
                    g.status
                )
            }
            Alert::Store {
                committing: false,
                detail,
            } => {
                format!("chatvault: the archive stopped committing: {detail}. Nothing is archived until this is fixed.")
            }
            Alert::Store { committing: true, .. } => "chatvault: the archive commits again.".to_string(),
        }
    }

    /// The POST body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "msgtype": "text", "text": { "content": self.text() } })
    }
}

/// Posts alerts from `rx` to `url` until the channel closes or `shutdown` fires (then what is
/// queued is still sent, each with the per-call timeout).
pub async fn deliver(
    url: config::Secret,
    timeout: Duration,
    mut rx: mpsc::Receiver<Alert>,
    shutdown: CancellationToken,
) {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "alert webhook client not built; alerts disabled");
            return;
        }
    };
    loop {
        let alert = tokio::select! {
            a = rx.recv() => a,
            _ = shutdown.cancelled() => {
                rx.close();
                rx.recv().await
            }
        };
        let Some(alert) = alert else { return };
        post(&client, &url, &alert).await;
    }
}

async fn post(client: &reqwest::Client, url: &config::Secret, alert: &Alert) {
    for attempt in 1..=3u32 {
        match client.post(url.expose()).json(&alert.body()).send().await {
            Ok(r) if r.status().is_success() => {
                metrics::counter!("chatvault_alerts_sent_total").increment(1);
                return;
            }
            // `without_url`: the URL may carry the robot's key.
            Ok(r) => tracing::warn!(status = r.status().as_u16(), attempt, "alert webhook refused the alert"),
            Err(e) => tracing::warn!(error = %e.without_url(), attempt, "alert webhook not reached"),
        }
        tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
    }
    metrics::counter!("chatvault_alerts_failed_total").increment(1);
    tracing::error!(alert = %alert.text(), "alert not delivered");
}

/// Forwards `GapAlert`s into the alert queue until shutdown (connectors going down because
/// the archive is being stopped are not an outage to page anyone about).
pub async fn forward_gaps(mut gaps: mpsc::Receiver<GapAlert>, out: mpsc::Sender<Alert>, shutdown: CancellationToken) {
    loop {
        let g = tokio::select! {
            g = gaps.recv() => g,
            _ = shutdown.cancelled() => return,
        };
        let Some(g) = g else { return };
        if out.try_send(Alert::Gap(g)).is_err() {
            tracing::warn!("alert queue full; alert dropped");
        }
    }
}

/// Forwards batches from `rx` to the writer's `tx`, watching their commit notices: the first
/// failure after success (or the writer going away) and the first success after failures are
/// alerted. Order and back-pressure are kept (one batch is held while the writer's channel is
/// full).
pub async fn watch_commits(
    mut rx: mpsc::Receiver<EventBatch>,
    tx: mpsc::Sender<EventBatch>,
    alerts: mpsc::Sender<Alert>,
) {
    type Outcome = (
        Result<Result<CommitInfo, CommitError>, oneshot::error::RecvError>,
        proto::batch::CommitNotice,
    );
    let mut inflight: FuturesUnordered<std::pin::Pin<Box<dyn Future<Output = Outcome> + Send>>> =
        FuturesUnordered::new();
    let mut committing = true;
    let mut held: Option<EventBatch> = None;
    let mut input_open = true;
    let send = |a: Alert| {
        if alerts.try_send(a).is_err() {
            tracing::warn!("alert queue full; alert dropped");
        }
    };
    loop {
        tokio::select! {
            biased;
            Some((result, notice)) = inflight.next(), if !inflight.is_empty() => {
                match &result {
                    Ok(Ok(_)) if !committing => {
                        committing = true;
                        send(Alert::Store { committing: true, detail: String::new() });
                    }
                    Ok(Err(e)) if committing => {
                        committing = false;
                        send(Alert::Store { committing: false, detail: e.message.clone() });
                    }
                    _ => {}
                }
                // A dropped notice (writer gone) is passed on as a dropped notice.
                if let Ok(r) = result {
                    let _ = notice.send(r);
                }
            }
            permit = tx.reserve(), if held.is_some() => {
                let Ok(permit) = permit else {
                    send(Alert::Store { committing: false, detail: "the store writer stopped".into() });
                    return;
                };
                if let Some(mut batch) = held.take() {
                    let (ours, theirs) = oneshot::channel();
                    let notice = std::mem::replace(&mut batch.committed, ours);
                    permit.send(batch);
                    inflight.push(Box::pin(async move { (theirs.await, notice) }));
                }
            }
            b = rx.recv(), if held.is_none() && input_open => match b {
                Some(b) => held = Some(b),
                None => input_open = false,
            },
            else => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::Platform;

    #[tokio::test]
    async fn a_failing_store_is_alerted_once_and_its_recovery_too() {
        let (in_tx, in_rx) = mpsc::channel(4);
        let (w_tx, mut w_rx) = mpsc::channel::<EventBatch>(1);
        let (a_tx, mut a_rx) = mpsc::channel(8);
        let watcher = tokio::spawn(watch_commits(in_rx, w_tx, a_tx));
        // A fake writer: fails the 2nd and 3rd batch.
        let writer = tokio::spawn(async move {
            let mut n = 0;
            while let Some(b) = w_rx.recv().await {
                n += 1;
                let r = if n == 2 || n == 3 {
                    Err(CommitError {
                        message: "disk I/O error".into(),
                    })
                } else {
                    Ok(CommitInfo::default())
                };
                let _ = b.committed.send(r);
            }
        });
        let mut results = Vec::new();
        for _ in 0..4 {
            let (b, rx) = EventBatch::new(Platform::Wecom, "corp", vec![], None);
            in_tx.send(b).await.unwrap();
            results.push(rx.await.unwrap().is_ok());
        }
        assert_eq!(results, [true, false, false, true], "notices are passed on unchanged");
        drop(in_tx);
        watcher.await.unwrap();
        writer.await.unwrap();
        let mut got = Vec::new();
        while let Ok(a) = a_rx.try_recv() {
            got.push(a);
        }
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].text().contains("stopped committing: disk I/O error"),
            "{}",
            got[0].text()
        );
        assert_eq!(
            got[1],
            Alert::Store {
                committing: true,
                detail: String::new()
            }
        );
    }
}
