//! The per-event work of an append that needs no database: the stored envelope, its content
//! hash (dedup) and the raw payload's hash. [`Prepared`] is computed apart from the
//! transaction — the writer task prepares the next group on another thread while the current
//! one commits — so the single SQLite thread only does what must be sequential: lookups,
//! inserts and the hash chain link.

use proto::{ChatEvent, EventBatch, EventBody, Ingested, Platform};
use serde::Serialize;

use crate::chain;
use crate::{Result, StoreError};

/// A batch's precomputed hashes and envelopes, item by item; see the module docs.
pub struct Prepared {
    pub(crate) items: Vec<ItemPrep>,
}

/// One item: `None` for a rejection, else the raw payload's hash and each event's parts.
pub(crate) type ItemPrep = Option<([u8; 32], Vec<EventPrep>)>;

pub(crate) struct EventPrep {
    /// sha256 of the event's [`DedupView`].
    pub content: [u8; 32],
    /// The stored envelope (the `payload` column, hashed into the chain).
    pub payload: Vec<u8>,
}

/// What the dedup hash covers: identity, kind and content; never receive or occurred times.
#[derive(Serialize)]
struct DedupView<'a> {
    platform: &'a str,
    account: &'a str,
    chat_id: &'a str,
    msg_id: Option<&'a str>,
    #[serde(flatten)]
    body: &'a EventBody,
}

/// [`crate::Envelope`] by reference: the same JSON without cloning the event.
#[derive(Serialize)]
pub(crate) struct EnvelopeRef<'a> {
    pub v: u32,
    pub platform: Platform,
    pub account: &'a str,
    pub received_at: i64,
    pub event: &'a ChatEvent,
}

impl Prepared {
    /// Computes the parts of every event of `batch`.
    pub fn new(batch: &EventBatch) -> Result<Prepared> {
        let items = batch
            .items
            .iter()
            .map(|item| match item {
                Ingested::Rejected { .. } => Ok(None),
                Ingested::Payload { raw, events } => {
                    let events = events
                        .iter()
                        .map(|ev| prepare_event(batch.platform, &batch.account, raw.received_at, ev))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(Some((chain::sha(&raw.bytes), events)))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Prepared { items })
    }
}

fn prepare_event(platform: Platform, account: &str, received_at: i64, ev: &ChatEvent) -> Result<EventPrep> {
    let view = DedupView {
        platform: platform.as_str(),
        account,
        chat_id: &ev.chat_id,
        msg_id: ev.msg_id.as_deref(),
        body: &ev.body,
    };
    let content = chain::sha_json(&view).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let envelope = EnvelopeRef {
        v: proto::SCHEMA_VERSION,
        platform,
        account,
        received_at,
        event: ev,
    };
    let payload = serde_json::to_vec(&envelope).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(EventPrep { content, payload })
}
