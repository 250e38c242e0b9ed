//! Per-connector state: recorded as `connector_state` events (so `audit --gaps` can show when a
//! platform was not archived) and kept in memory for `/healthz` and `/metrics`.
//!
//! A state event is most needed exactly when the store is failing (the outage is the gap), so
//! one whose commit failed is not dropped: it stays queued, in order, and a background task
//! commits the queue again with a backoff until the store takes it. The event keeps the time
//! the state changed, so `audit --gaps` shows the outage where it happened even when it was
//! recorded later. Every change from archiving to not archiving and back is also handed to
//! the optional alert sink ([`StateRegistry::with_alerts`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::{
    ChatEvent, ConnectorStatus, EventBody, Ingested, Platform, RawPayload, TimestampMs, batch::media, time::now_ms,
};
use serde::Serialize;

use crate::{ConnectorError, EventSender};

/// State events queued for their commit at most; beyond, the oldest is dropped with an error
/// log (a connector flapping for days against a dead store).
const MAX_QUEUED: usize = 10_000;

/// A connector starting or ending a gap, for [`StateRegistry::with_alerts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapAlert {
    /// Connector name.
    pub connector: String,
    /// Platform.
    pub platform: Platform,
    /// `true`: stopped archiving; `false`: archiving again.
    pub opened: bool,
    /// The new status.
    pub status: ConnectorStatus,
    /// Why (no secrets).
    pub detail: Option<String>,
    /// When.
    pub at: TimestampMs,
}

/// Current state of one connector.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConnectorState {
    /// Platform.
    pub platform: Platform,
    /// Current status (`None` = not started yet).
    pub status: Option<ConnectorStatus>,
    /// Since when.
    pub since: TimestampMs,
    /// Why (no secrets).
    pub detail: Option<String>,
    /// Last time the connector committed events.
    pub last_event_at: Option<TimestampMs>,
}

/// Shared map of connector name → state.
#[derive(Debug, Clone, Default)]
pub struct StateRegistry {
    inner: Arc<Mutex<BTreeMap<String, ConnectorState>>>,
    alerts: Option<tokio::sync::mpsc::Sender<GapAlert>>,
}

impl StateRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands every gap opening and closing to `sink` (never waiting: a full sink drops the
    /// alert with a log line; the `connector_state` event is recorded either way).
    pub fn with_alerts(mut self, sink: tokio::sync::mpsc::Sender<GapAlert>) -> Self {
        self.alerts = Some(sink);
        self
    }

    /// Registers a connector (status unknown until it reports).
    pub fn register(&self, name: &str, platform: Platform) {
        self.lock().entry(name.to_string()).or_insert(ConnectorState {
            platform,
            status: None,
            since: now_ms(),
            detail: None,
            last_event_at: None,
        });
    }

    /// A snapshot of every connector's state.
    pub fn snapshot(&self) -> BTreeMap<String, ConnectorState> {
        self.lock().clone()
    }

    /// Notes that `name` committed events now.
    pub fn touch(&self, name: &str) {
        if let Some(s) = self.lock().get_mut(name) {
            s.last_event_at = Some(now_ms());
        }
    }

    /// Sets a state; returns whether it changed.
    fn set(&self, name: &str, platform: Platform, status: ConnectorStatus, detail: Option<String>) -> bool {
        let mut map = self.lock();
        let entry = map.entry(name.to_string()).or_insert(ConnectorState {
            platform,
            status: None,
            since: now_ms(),
            detail: None,
            last_event_at: None,
        });
        if entry.status == Some(status) {
            return false;
        }
        let was_up = entry.status.map(ConnectorStatus::is_up);
        entry.status = Some(status);
        entry.since = now_ms();
        entry.detail = detail.clone();
        // A connector that was up (or never reported) and is down opens a gap; coming back up
        // closes it; down → down is the same gap.
        let opened = match (was_up, status.is_up()) {
            (Some(true), false) | (None, false) => Some(true),
            (Some(false), true) => Some(false),
            _ => None,
        };
        if let (Some(opened), Some(sink)) = (opened, &self.alerts) {
            let alert = GapAlert {
                connector: name.to_string(),
                platform,
                opened,
                status,
                detail,
                at: entry.since,
            };
            if sink.try_send(alert).is_err() {
                tracing::warn!(connector = %name, "alert queue full; alert dropped");
            }
        }
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ConnectorState>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connector's handle on the registry; reports state changes as events.
#[derive(Clone)]
pub struct StateReporter {
    name: String,
    platform: Platform,
    registry: StateRegistry,
    out: EventSender,
    queue: Arc<Queue>,
}

/// State events not yet committed, oldest first.
#[derive(Default)]
struct Queue {
    items: Mutex<VecDeque<Ingested>>,
    /// One committer at a time, so events commit in the order they happened.
    committing: tokio::sync::Mutex<()>,
    /// A retry task is running.
    retrying: AtomicBool,
}

impl StateReporter {
    /// A reporter for one connector.
    pub fn new(name: impl Into<String>, platform: Platform, registry: StateRegistry, out: EventSender) -> Self {
        let name = name.into();
        registry.register(&name, platform);
        StateReporter {
            name,
            platform,
            registry,
            out,
            queue: Arc::default(),
        }
    }

    /// Records a new state. Only a change is recorded; the event is committed before this
    /// returns, or, if its commit failed, queued and retried in the background (see the module
    /// docs): losing a state event must not stop archiving, and must not lose the gap either.
    pub async fn set(&self, status: ConnectorStatus, detail: Option<String>) {
        if !self.registry.set(&self.name, self.platform, status, detail.clone()) {
            return;
        }
        match status {
            ConnectorStatus::Connected | ConnectorStatus::RobotOnline => {
                tracing::info!(connector = %self.name, %status, "connector state")
            }
            _ => {
                tracing::warn!(connector = %self.name, %status, detail = detail.as_deref().unwrap_or(""), "connector state")
            }
        }
        let at = now_ms();
        let event = ChatEvent {
            chat_id: String::new(),
            msg_id: None,
            occurred_at: Some(at),
            body: EventBody::ConnectorState { status, detail, at },
        };
        let raw_json = serde_json::to_vec(&event).unwrap_or_default();
        let item = Ingested::Payload {
            raw: RawPayload::now(media::JSON, raw_json),
            events: vec![event],
        };
        {
            let mut q = lock(&self.queue.items);
            if q.len() >= MAX_QUEUED {
                q.pop_front();
                tracing::error!(connector = %self.name, "too many connector state events waiting for the store; the oldest was dropped");
            }
            q.push_back(item);
        }
        if let Err(e) = self.commit_queued().await {
            tracing::warn!(connector = %self.name, error = %e, "could not record connector state; retrying in the background");
            self.spawn_retry();
        }
    }

    /// Commits queued events in order, each once; stops at the first failure.
    async fn commit_queued(&self) -> Result<(), ConnectorError> {
        let _turn = self.queue.committing.lock().await;
        loop {
            // Only the holder of `committing` removes items, so the front stays the same item
            // between this read and the `pop_front` below.
            let Some(item) = lock(&self.queue.items).front().cloned() else {
                return Ok(());
            };
            self.out.commit(vec![item], None).await?;
            lock(&self.queue.items).pop_front();
        }
    }

    fn spawn_retry(&self) {
        if self.queue.retrying.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(200);
            let mut closed = false;
            loop {
                tokio::time::sleep(wait).await;
                match me.commit_queued().await {
                    Ok(()) => {
                        tracing::info!(connector = %me.name, "queued connector state recorded");
                        break;
                    }
                    Err(ConnectorError::Closed) => {
                        let lost = lock(&me.queue.items).len();
                        tracing::error!(connector = %me.name, lost, "store closed: connector state events not recorded");
                        closed = true;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(connector = %me.name, error = %e, "connector state still not recorded; retrying");
                        wait = (wait * 2).min(Duration::from_secs(30));
                    }
                }
            }
            me.queue.retrying.store(false, Ordering::Release);
            // A failure after the last check but before the flag was cleared left items behind.
            if !closed && !lock(&me.queue.items).is_empty() {
                me.spawn_retry();
            }
        });
    }

    /// Notes that events were committed now (for `last_event_at`).
    pub fn touch(&self) {
        self.registry.touch(&self.name);
    }

    /// The registry.
    pub fn registry(&self) -> &StateRegistry {
        &self.registry
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a single queue operation; a poisoned lock holds a valid queue.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
