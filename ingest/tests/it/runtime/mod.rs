//! The shared WebSocket runtime: the in-flight window (ordering and commit-before-release
//! over random outcomes), the supervisor (backoff bounds, states), batch bounds.

mod batch;
mod supervisor;
mod window;

use chatvault_ingest::ConnectorContext;
use proto::{EventBatch, Ingested, Platform, RawPayload, batch::media};
use tokio::sync::mpsc;

/// A context on a bare channel (the test plays the store writer).
fn context(cap: usize) -> (ConnectorContext, mpsc::Receiver<EventBatch>, tempfile::TempDir) {
    let (tx, rx) = mpsc::channel(cap);
    let dir = tempfile::tempdir().unwrap();
    let cx = ConnectorContext::new(Platform::Goofish, "shop", tx, dir.path());
    (cx, rx, dir)
}

/// A payload of `n` raw bytes and no events.
fn payload(n: usize) -> Ingested {
    Ingested::Payload {
        raw: RawPayload::now(media::JSON, vec![b'x'; n]),
        events: Vec::new(),
    }
}
