//! Per-connector counters (Prometheus names via the `metrics` facade; the CLI installs the
//! recorder and serves `/metrics`).

use proto::{CommitInfo, EventBatch, Ingested};

/// Counts a batch handed to the store writer.
pub fn received(account: &str, batch: &EventBatch) {
    let payloads = batch
        .items
        .iter()
        .filter(|i| matches!(i, Ingested::Payload { .. }))
        .count();
    let rejected = batch.items.len() - payloads;
    metrics::counter!("chatvault_received_total", "connector" => account.to_string()).increment(payloads as u64);
    if rejected > 0 {
        metrics::counter!("chatvault_rejected_total", "connector" => account.to_string()).increment(rejected as u64);
    }
}

/// Counts a committed batch.
pub fn committed(account: &str, info: &CommitInfo) {
    metrics::counter!("chatvault_committed_total", "connector" => account.to_string()).increment(info.appended);
    metrics::counter!("chatvault_duplicates_total", "connector" => account.to_string()).increment(info.duplicates);
    if info.appended > 0 {
        let now = proto::time::now_ms() as f64 / 1000.0;
        metrics::gauge!("chatvault_last_event_timestamp_seconds", "connector" => account.to_string()).set(now);
    }
}

/// Counts acknowledgements sent to the platform.
pub fn acked(account: &str, n: u64) {
    metrics::counter!("chatvault_acked_total", "connector" => account.to_string()).increment(n);
}

/// Counts a reconnect attempt.
pub fn reconnect(account: &str) {
    metrics::counter!("chatvault_reconnects_total", "connector" => account.to_string()).increment(1);
}

/// Counts something a connector noticed but could still handle (e.g. an AES failure with a
/// plaintext fallback, an unknown event name).
pub fn noticed(account: &str, what: &'static str) {
    metrics::counter!("chatvault_noticed_total", "connector" => account.to_string(), "what" => what).increment(1);
}
