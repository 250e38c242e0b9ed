//! The keys the store derives, one name each. Every other module uses these names; SQL column
//! names of existing archives are kept and listed here.
//!
//! | Rust name | What it is | Stored in |
//! |---|---|---|
//! | [`proto::MessageKey`] | a message's identity: platform, account, chat id, message id | `messages`, `events` (text columns) |
//! | identity hash ([`identity_hash`]) | 64-bit hash of an identity: the first row key tried | — |
//! | row key | the 64-bit key an identity's `messages` row holds: its identity hash, or the next free value after it if another identity holds that one ([`crate::dedup::resolve`]) | `messages.mkey`, `events.mkey`, `revisions.mkey` |
//! | content hash | sha256 of an event's dedup view (identity, kind, body; never receive or occurred times: `prepare.rs`) | — |
//! | content key ([`content_key`]) | first 8 bytes of the content hash | `messages.msg_key` (of the `message` event the row was made from), `dedup.k` |
//! | content check ([`content_check`]) | bytes 8..16 of the content hash | `dedup.h` |
//!
//! Two events are the same event when their content key and content check are equal (a false
//! duplicate needs a 128-bit collision); a `message` row's content key alone is trusted because
//! the row's identity is compared too.

use proto::{ChatEvent, Platform};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The identity hash of a message: 64 bits of sha256 over the length-prefixed parts.
pub fn identity_hash(platform: &str, account: &str, chat_id: &str, msg_id: &str) -> i64 {
    let mut h = Sha256::new();
    for part in [platform, account, chat_id, msg_id] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    content_key(&h.finalize().into())
}

/// The content key of a content hash (its first 8 bytes as an SQLite integer).
pub fn content_key(content_hash: &[u8; 32]) -> i64 {
    i64::from_be_bytes(content_hash[..8].try_into().expect("8 bytes"))
}

/// The content check of a content hash (its bytes 8..16).
pub fn content_check(content_hash: &[u8; 32]) -> i64 {
    i64::from_be_bytes(content_hash[8..16].try_into().expect("8 bytes"))
}

/// The identity hash of an event's message (events that target one).
pub(crate) fn identity_of(platform: Platform, account: &str, ev: &ChatEvent) -> i64 {
    identity_hash(
        platform.as_str(),
        account,
        &ev.chat_id,
        ev.msg_id.as_deref().unwrap_or_default(),
    )
}

/// What the dedup hash covers: identity, kind and content; never receive or occurred times.
/// The definition of the content hash; `prepare.rs` writes the same bytes from the envelope's
/// slices.
#[derive(Serialize)]
pub(crate) struct DedupView<'a> {
    platform: &'a str,
    account: &'a str,
    chat_id: &'a str,
    msg_id: Option<&'a str>,
    #[serde(flatten)]
    body: &'a proto::EventBody,
}

impl<'a> DedupView<'a> {
    pub(crate) fn of(platform: Platform, account: &'a str, ev: &'a ChatEvent) -> Self {
        DedupView {
            platform: platform.as_str(),
            account,
            chat_id: &ev.chat_id,
            msg_id: ev.msg_id.as_deref(),
            body: &ev.body,
        }
    }
}
