//! Per-connector state: recorded as `connector_state` events (so `audit --gaps` can show when a
//! platform was not archived) and kept in memory for `/healthz` and `/metrics`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use proto::{
    ChatEvent, ConnectorStatus, EventBody, Ingested, Platform, RawPayload, TimestampMs, batch::media, time::now_ms,
};
use serde::Serialize;

use crate::EventSender;

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
}

impl StateRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
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
        entry.status = Some(status);
        entry.since = now_ms();
        entry.detail = detail;
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
        }
    }

    /// Records a new state. Only a change is recorded; the event is committed before this
    /// returns (errors are logged: losing a state event must not stop archiving).
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
        if let Err(e) = self.out.commit(vec![item], None).await {
            tracing::warn!(connector = %self.name, error = %e, "could not record connector state");
        }
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
