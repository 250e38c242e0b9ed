//! A connector running against the fake store, as every connector test needs it.

use std::sync::Arc;
use std::time::Duration;

use chatvault_ingest::{Connector, ConnectorContext, ConnectorError};
use proto::{ConnectorStatus, EventBatch, EventBody, EventKind};
use sim::fake_store::FakeStore;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running connector, its fake store and its data directory.
pub struct Rig {
    /// The fake store its batches go to.
    pub store: FakeStore,
    /// Fires the connector's shutdown.
    pub shutdown: CancellationToken,
    task: JoinHandle<Result<(), ConnectorError>>,
    _dir: tempfile::TempDir,
}

impl Rig {
    /// Starts `connector` on a fresh fake store with a channel of `cap` batches; `setup`
    /// adjusts the context (resume cursor, body limit, `--backfill`).
    pub fn start(connector: impl Connector, cap: usize, setup: impl FnOnce(&mut ConnectorContext)) -> Rig {
        let (tx, store) = FakeStore::channel(cap);
        Rig::start_on(connector, &tx, &store, setup)
    }

    /// Starts `connector` on an existing fake store (a restart of the same archive).
    pub fn start_on(
        connector: impl Connector,
        tx: &mpsc::Sender<EventBatch>,
        store: &FakeStore,
        setup: impl FnOnce(&mut ConnectorContext),
    ) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let mut cx = ConnectorContext::new(connector.platform(), connector.name(), tx.clone(), dir.path());
        setup(&mut cx);
        let shutdown = cx.shutdown.clone();
        let task = tokio::spawn(Arc::new(connector).run(cx));
        Rig {
            store: store.clone(),
            shutdown,
            task,
            _dir: dir,
        }
    }

    /// Requests shutdown; the connector must stop cleanly within 10 s.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let r = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("stops in time");
        r.expect("no panic").expect("clean stop");
    }

    /// Every `connector_state` recorded: status and detail.
    pub fn states(&self) -> Vec<(ConnectorStatus, String)> {
        states(&self.store)
    }

    /// Message ids of every `message` event, in commit order.
    pub fn message_ids(&self) -> Vec<String> {
        self.store
            .events()
            .into_iter()
            .filter(|c| c.event.kind() == EventKind::Message)
            .filter_map(|c| c.event.msg_id)
            .collect()
    }
}

/// Every `connector_state` a fake store recorded.
pub fn states(store: &FakeStore) -> Vec<(ConnectorStatus, String)> {
    store
        .events()
        .into_iter()
        .filter_map(|c| match c.event.body {
            EventBody::ConnectorState { status, detail, .. } => Some((status, detail.unwrap_or_default())),
            _ => None,
        })
        .collect()
}
