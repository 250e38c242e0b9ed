//! Attachments whose first download failed, fetched again while the connector runs.
//!
//! A message is archived at once, with its attachment's metadata and URL but without the
//! bytes when the download fails (a platform outage must not hold messages back). The
//! attachment is then remembered in a durable [`Queue`] and retried with backoff (doubling
//! from [`RetryPolicy::first`] up to [`RetryPolicy::max_pause`]). Once the bytes are in the
//! blob store, an `attachment_stored` event links them to the message through the log (the
//! `message` event is never rewritten; the fold sets the attachment's `sha256`), and the
//! entry ends only after the store committed that event. After [`RetryPolicy::attempts`]
//! downloads, or at once when the file is over the blob cap, the entry gives up with a
//! `rejects` row naming the message and the last reason.
//!
//! Used by the connectors that download by reference: Yunhu (`file_url` …) and WeCom
//! callbacks (`MediaId` through `media/get`) retry while they run. 会话存档 media go through
//! the Finance SDK worker its pull loop owns: a file that failed every in-process attempt gets
//! a `media_unavailable` event and an entry here, fetched again by
//! `chatvault rejects retry --platform wecom_archive` ([`linked`], [`given_up`] build what that
//! command stores). WorkTool's files come inline (`fileBase64`) and have nothing to fetch again.

mod queue;

use std::sync::Arc;
use std::time::Duration;

use proto::{ChatEvent, EventBody, Ingested, RawPayload, batch::media, time::now_ms};
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub use queue::{Entry, EntryState, Queue, Source};

use crate::blobs::{BlobStore, Stored};
use crate::{ConnectorError, EventSender};

/// When failed downloads are tried again.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Pause after the first failure (doubles after each further one).
    pub first: Duration,
    /// Longest pause between two attempts.
    pub max_pause: Duration,
    /// Downloads in all, the first included, before giving up.
    pub attempts: u32,
}

impl Default for RetryPolicy {
    /// 1 minute doubling to 1 hour, 12 downloads: about six hours of a platform's file host
    /// being away before an attachment is given up.
    fn default() -> Self {
        RetryPolicy {
            first: Duration::from_secs(60),
            max_pause: Duration::from_secs(3600),
            attempts: 12,
        }
    }
}

impl RetryPolicy {
    /// Pause after `attempts` failed downloads.
    fn pause(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first.saturating_mul(1u32 << doublings).min(self.max_pause)
    }

    /// The entry of an attachment whose first download just failed for `why`.
    pub fn first_failure(&self, chat_id: &str, msg_id: &str, index: u32, source: Source, why: &str) -> Entry {
        Entry {
            chat_id: chat_id.to_string(),
            msg_id: msg_id.to_string(),
            index,
            source,
            attempts: 1,
            next_at: now_ms().saturating_add(self.pause(1).as_millis() as i64),
            last_error: why.to_string(),
            state: EntryState::Pending,
        }
    }
}

/// Why a fetch failed (no secrets).
#[derive(Debug, Clone)]
pub struct FetchError {
    /// What went wrong.
    pub reason: String,
    /// Trying again cannot help (over the blob cap).
    pub permanent: bool,
}

impl FetchError {
    /// A failure that may pass.
    pub fn transient(reason: impl Into<String>) -> Self {
        FetchError {
            reason: reason.into(),
            permanent: false,
        }
    }
}

/// Fetches the bytes of a [`Source`], within the blob cap.
#[async_trait::async_trait]
pub trait Fetch: Send + Sync + 'static {
    /// The bytes, or why not.
    async fn fetch(&self, source: &Source) -> Result<Vec<u8>, FetchError>;
}

/// Adds an entry from an async context (the file write runs on the blocking pool); a failure
/// to remember is logged, never fatal: the message itself is archived either way.
pub async fn remember(queue: &Queue, entry: Entry, connector: &str) {
    let q = queue.clone();
    let added = tokio::task::spawn_blocking(move || q.add(&entry)).await;
    match added {
        Ok(Ok(true)) => crate::metrics::noticed(connector, "attachment_retry_queued"),
        Ok(Ok(false)) => {}
        _ => tracing::warn!(
            connector,
            "a failed attachment download could not be queued for a retry"
        ),
    }
}

/// The item that links stored bytes (`sha256`, `size`) to the message of `entry`: an
/// `attachment_stored` event, its raw payload a record of the retry (the file is the blob).
pub fn linked(entry: &Entry, sha256: &str, size: u64) -> Ingested {
    let event = ChatEvent::message(
        entry.chat_id.clone(),
        entry.msg_id.clone(),
        EventBody::AttachmentStored {
            index: entry.index,
            sha256: sha256.to_string(),
            size: Some(size),
        },
    );
    let raw = json!({
        "attachment_retry": {
            "chat_id": entry.chat_id, "msg_id": entry.msg_id, "index": entry.index,
            "attempt": entry.attempts + 1, "sha256": sha256, "size": size,
        }
    });
    Ingested::Payload {
        raw: RawPayload::now(media::JSON, serde_json::to_vec(&raw).unwrap_or_default()),
        events: vec![event],
    }
}

/// The `rejects` row of an attachment given up after `entry.attempts` downloads (its raw
/// payload names the message and the last reason, never the source).
pub fn given_up(entry: &Entry) -> Ingested {
    let reason = format!(
        "attachment {} of message {} in chat {} not downloaded after {} attempts: {}",
        entry.index, entry.msg_id, entry.chat_id, entry.attempts, entry.last_error
    );
    let raw = json!({
        "attachment_retry": {
            "chat_id": entry.chat_id, "msg_id": entry.msg_id, "index": entry.index,
            "attempts": entry.attempts, "last_error": entry.last_error,
        }
    });
    Ingested::Rejected {
        raw: RawPayload::now(media::JSON, serde_json::to_vec(&raw).unwrap_or_default()),
        reason,
    }
}

/// What the retry task works with.
pub struct Retrier {
    /// Its entries.
    pub queue: Queue,
    /// How bytes are fetched.
    pub fetch: Arc<dyn Fetch>,
    /// Where they go.
    pub blobs: Arc<BlobStore>,
    /// The connector's sender (the linking events and give-up rows go through the store).
    pub out: EventSender,
    /// When to try.
    pub policy: RetryPolicy,
    /// The connector's name (logs, metrics).
    pub connector: String,
}

impl Retrier {
    /// Runs until `stop` fires, trying each due entry.
    pub async fn run(self, stop: CancellationToken) {
        // Due entries are looked for at least as often as the first pause, at most every 10 s.
        let poll = self
            .policy
            .first
            .clamp(Duration::from_millis(20), Duration::from_secs(10));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(poll) => {}
            }
            let q = self.queue.clone();
            let due = match tokio::task::spawn_blocking(move || q.due(now_ms())).await {
                Ok(Ok(d)) => d,
                _ => {
                    tracing::warn!(connector = %self.connector, "attachment retry entries unreadable");
                    continue;
                }
            };
            for entry in due {
                if stop.is_cancelled() {
                    return;
                }
                // Shutdown does not wait for a slow download; an attempt cut short is made
                // again by the next run (a linking event committed twice is a duplicate).
                tokio::select! {
                    _ = stop.cancelled() => return,
                    r = self.attempt(entry) => {
                        if let Err(ConnectorError::Closed | ConnectorError::Shutdown) = r {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// One attempt at `entry`; the entry moves on only after what it sent was committed.
    async fn attempt(&self, mut entry: Entry) -> Result<(), ConnectorError> {
        let failure = match self.fetch.fetch(&entry.source).await {
            Ok(bytes) => match self.store(bytes).await {
                Ok((sha, size)) => return self.link(entry, sha, size).await,
                Err(f) => f,
            },
            Err(f) => f,
        };
        entry.attempts += 1;
        entry.last_error = failure.reason;
        if failure.permanent || entry.attempts >= self.policy.attempts {
            return self.give_up(entry).await;
        }
        tracing::info!(connector = %self.connector, attempts = entry.attempts, reason = %entry.last_error,
            "attachment download failed again; will retry");
        entry.next_at = now_ms().saturating_add(self.policy.pause(entry.attempts).as_millis() as i64);
        self.save(entry).await;
        Ok(())
    }

    async fn store(&self, bytes: Vec<u8>) -> Result<(String, u64), FetchError> {
        let size = bytes.len() as u64;
        let blobs = self.blobs.clone();
        match tokio::task::spawn_blocking(move || blobs.put(&bytes)).await {
            Ok(Ok(Stored::Blob(sha))) => Ok((sha, size)),
            Ok(Ok(Stored::TooLarge(_))) => Err(FetchError {
                reason: format!("larger than the blob cap of {} bytes", self.blobs.max_bytes()),
                permanent: true,
            }),
            Ok(Err(e)) => Err(FetchError::transient(format!("blob store: {e}"))),
            Err(e) => Err(FetchError::transient(format!("blob task: {e}"))),
        }
    }

    /// Commits the event that links the stored bytes to the message.
    async fn link(&self, mut entry: Entry, sha256: String, size: u64) -> Result<(), ConnectorError> {
        self.commit(linked(&entry, &sha256, size)).await?;
        crate::metrics::noticed(&self.connector, "attachment_retry_stored");
        tracing::info!(connector = %self.connector, attempts = entry.attempts + 1, "attachment stored on a retry");
        entry.attempts += 1;
        entry.state = EntryState::Stored;
        self.save(entry).await;
        Ok(())
    }

    /// Records the attachment as given up: a `rejects` row, then the entry ends.
    async fn give_up(&self, mut entry: Entry) -> Result<(), ConnectorError> {
        let item = given_up(&entry);
        let reason = match &item {
            Ingested::Rejected { reason, .. } => reason.clone(),
            Ingested::Payload { .. } => String::new(),
        };
        self.commit(item).await?;
        crate::metrics::noticed(&self.connector, "attachment_given_up");
        tracing::warn!(connector = %self.connector, %reason, "attachment given up; its metadata and URL stay archived");
        entry.state = EntryState::GaveUp;
        self.save(entry).await;
        Ok(())
    }

    /// Sends one item and waits for its commit; a failed commit leaves the entry as it was
    /// (tried again at the next poll).
    async fn commit(&self, item: Ingested) -> Result<(), ConnectorError> {
        match self.out.commit(vec![item], None).await {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(connector = %self.connector, error = %e, "attachment retry not committed; will try again");
                Err(e)
            }
        }
    }

    async fn save(&self, entry: Entry) {
        let q = self.queue.clone();
        if !matches!(tokio::task::spawn_blocking(move || q.save(&entry)).await, Ok(Ok(()))) {
            tracing::warn!(connector = %self.connector, "attachment retry entry not saved");
        }
    }
}
