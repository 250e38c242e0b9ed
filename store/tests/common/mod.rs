//! Builders shared by the store tests: the workspace's event builders (`testkit`) with the
//! chat, account and sender these tests use.
//!
//! `goofish`: the builders of the tests that choose a payload's raw bytes.
// Each test binary uses a different subset of these.
#![allow(dead_code, unused_imports)]

pub mod goofish;

use testkit::events;

use chatvault_store as store;
use proto::{ChatEvent, EventBatch, Platform};

pub use events::{delete, edit, payload, withdraw};

pub const T0: i64 = 1_760_000_000_000;

/// The identity of message `id` in `chat` of the account [`batch`] uses.
pub fn key(chat: &str, id: &str) -> proto::MessageKey {
    events::key(Platform::Yunhu, "team", chat, id)
}

/// A text in the group named after its chat.
pub fn msg(chat: &str, id: &str, text: &str, sent_at: i64) -> ChatEvent {
    events::group_text(chat, id, &format!("群{chat}"), text, sent_at)
}

pub fn append(chat: &str, id: &str, chunk: &str, offset: u64) -> ChatEvent {
    events::stream_append(chat, id, chunk, offset)
}

/// The connector's state changing to `status` at `at`, received at once.
pub fn state_change(status: proto::ConnectorStatus, detail: &str, at: i64) -> proto::Ingested {
    payload(events::connector_state(status, detail, at), at)
}

pub fn batch(items: Vec<proto::Ingested>) -> EventBatch {
    events::batch(Platform::Yunhu, "team", items)
}

/// A new archive in a temporary directory, which lives as long as the returned guard.
pub fn temp_store() -> (tempfile::TempDir, store::Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    (dir, s)
}

pub fn open(dir: &std::path::Path) -> store::Store {
    store::Store::open(
        dir,
        store::StoreOptions {
            synchronous_full: false,
            cache_mib: 16,
        },
    )
    .unwrap()
}
