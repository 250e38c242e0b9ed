//! A stand-in for the store writer in connector tests (`ingest` cannot depend on `store`).
//!
//! It receives [`EventBatch`]es from a bounded channel, records them, deduplicates events the
//! way the store does (identity + kind + content, receive times excluded) and fires each
//! batch's commit notice, optionally after a delay or with a failure, so tests can check
//! "acknowledged only after commit" and "redelivery recorded once".

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::{ChatEvent, CommitError, CommitInfo, EventBatch, Ingested, Platform};
use tokio::sync::{mpsc, watch};

/// One committed event as the fake store recorded it.
#[derive(Debug, Clone)]
pub struct Committed {
    /// Commit order (1-based).
    pub seq: u64,
    /// Platform.
    pub platform: Platform,
    /// Account.
    pub account: String,
    /// The event.
    pub event: ChatEvent,
}

#[derive(Default)]
struct Inner {
    events: Vec<Committed>,
    rejects: Vec<(String, String)>,
    cursors: Vec<(String, serde_json::Value)>,
    seen: HashSet<String>,
    duplicates: u64,
    fail_next: u32,
    fail_once_with: Option<String>,
    batches: u64,
}

/// Handle on a running fake store.
#[derive(Clone)]
pub struct FakeStore {
    inner: Arc<Mutex<Inner>>,
    delay: Arc<Mutex<Duration>>,
    committed_tx: watch::Sender<u64>,
}

impl FakeStore {
    /// Starts a fake writer draining `rx`.
    pub fn spawn(mut rx: mpsc::Receiver<EventBatch>) -> FakeStore {
        let (committed_tx, _) = watch::channel(0);
        let store = FakeStore {
            inner: Arc::default(),
            delay: Arc::new(Mutex::new(Duration::ZERO)),
            committed_tx,
        };
        let s = store.clone();
        tokio::spawn(async move {
            while let Some(batch) = rx.recv().await {
                let delay = *s.delay.lock().unwrap();
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let result = s.apply(&batch);
                let _ = batch.committed.send(result);
            }
        });
        store
    }

    /// A bounded channel (capacity `cap`) with a fake store on its receiving end.
    pub fn channel(cap: usize) -> (mpsc::Sender<EventBatch>, FakeStore) {
        let (tx, rx) = mpsc::channel(cap);
        (tx, FakeStore::spawn(rx))
    }

    fn apply(&self, batch: &EventBatch) -> Result<CommitInfo, CommitError> {
        let mut g = self.inner.lock().unwrap();
        g.batches += 1;
        if g.fail_next > 0 {
            g.fail_next -= 1;
            return Err(CommitError {
                message: "injected failure".into(),
            });
        }
        if let Some(id) = g.fail_once_with.clone()
            && batch.items.iter().any(|i| match i {
                Ingested::Payload { events, .. } => events.iter().any(|e| e.msg_id.as_deref() == Some(id.as_str())),
                Ingested::Rejected { .. } => false,
            })
        {
            g.fail_once_with = None;
            return Err(CommitError {
                message: "injected failure".into(),
            });
        }
        let mut info = CommitInfo::default();
        for item in &batch.items {
            match item {
                Ingested::Rejected { reason, raw } => {
                    info.rejected += 1;
                    g.rejects
                        .push((reason.clone(), String::from_utf8_lossy(&raw.bytes).into_owned()));
                }
                Ingested::Payload { events, .. } => {
                    for ev in events {
                        if let Err(reason) = ev.validate() {
                            info.rejected += 1;
                            g.rejects.push((reason, String::new()));
                            continue;
                        }
                        let key = dedup_key(batch.platform, &batch.account, ev);
                        if !g.seen.insert(key) {
                            g.duplicates += 1;
                            info.duplicates += 1;
                            continue;
                        }
                        let seq = g.events.len() as u64 + 1;
                        g.events.push(Committed {
                            seq,
                            platform: batch.platform,
                            account: batch.account.clone(),
                            event: ev.clone(),
                        });
                        info.appended += 1;
                    }
                }
            }
        }
        if let Some(c) = &batch.cursor {
            g.cursors.push((batch.account.clone(), c.clone()));
        }
        info.head_seq = g.events.len() as u64;
        let n = info.head_seq;
        drop(g);
        self.committed_tx.send_replace(n);
        Ok(info)
    }

    /// Delays every commit by `d` (slow disk).
    pub fn set_delay(&self, d: Duration) {
        *self.delay.lock().unwrap() = d;
    }

    /// Fails the next `n` batches (their notices report an error).
    pub fn fail_next(&self, n: u32) {
        self.inner.lock().unwrap().fail_next = n;
    }

    /// Fails the first batch holding an event of message `msg_id` (one group failing while
    /// later ones commit).
    pub fn fail_once_with(&self, msg_id: &str) {
        self.inner.lock().unwrap().fail_once_with = Some(msg_id.to_string());
    }

    /// Every committed event, in commit order.
    pub fn events(&self) -> Vec<Committed> {
        self.inner.lock().unwrap().events.clone()
    }

    /// Rejects as (reason, raw text).
    pub fn rejects(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().rejects.clone()
    }

    /// Cursors committed, in order, as (account, cursor).
    pub fn cursors(&self) -> Vec<(String, serde_json::Value)> {
        self.inner.lock().unwrap().cursors.clone()
    }

    /// The last committed cursor of `account`.
    pub fn last_cursor(&self, account: &str) -> Option<serde_json::Value> {
        self.inner
            .lock()
            .unwrap()
            .cursors
            .iter()
            .rev()
            .find(|(a, _)| a == account)
            .map(|(_, c)| c.clone())
    }

    /// Events recognised as duplicates.
    pub fn duplicates(&self) -> u64 {
        self.inner.lock().unwrap().duplicates
    }

    /// Batches received (including failed ones).
    pub fn batches(&self) -> u64 {
        self.inner.lock().unwrap().batches
    }

    /// Waits until at least `n` events are committed, or `timeout` passes; returns the count.
    pub async fn wait_for(&self, n: u64, timeout: Duration) -> u64 {
        let mut rx = self.committed_tx.subscribe();
        let _ = tokio::time::timeout(timeout, async {
            loop {
                if *rx.borrow_and_update() >= n {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        *rx.borrow()
    }
}

fn dedup_key(platform: Platform, account: &str, ev: &ChatEvent) -> String {
    let body = serde_json::to_string(&ev.body).unwrap_or_default();
    format!(
        "{platform}\u{0}{account}\u{0}{}\u{0}{}\u{0}{body}",
        ev.chat_id,
        ev.msg_id.as_deref().unwrap_or("")
    )
}
