//! Optional API lookups that add what a callback does not carry: member names, customer
//! group names (and so renames), and media bytes into the blob store.
//!
//! The store recognises a WeCom retry as a duplicate only if its events are identical, but a
//! lookup may fail on the first attempt and succeed on the retry. So the events built for a
//! callback are remembered (bounded) and a retry gets exactly the events of the first
//! attempt. A retry is recognised by its decrypted callback, byte for byte (WeCom resends the
//! same message; only the encryption's random prefix differs), not by chat and message id:
//! two different callbacks can share a derived id (two `update_user` of one member in one
//! second) and must stay two events. Lookups run within a time budget so the answer stays inside WeCom's
//! 5 s deadline; what does not finish in time is simply left out.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::{ChatEvent, EventBody};
use sha2::Digest;

use super::api::WecomApi;
use crate::blobs::BlobStore;

/// Callbacks remembered for retries (WeCom retries within seconds; this is hours of traffic
/// for most companies and a few MB of memory).
const MEMO_CAP: usize = 4096;
/// Names cached per process.
const NAME_CAP: usize = 10_000;

/// A bounded insertion-ordered map: the oldest entry goes first.
pub(crate) struct Bounded<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
    cap: usize,
}

impl<V: Clone> Bounded<V> {
    pub(crate) fn new(cap: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    pub(crate) fn get(&self, k: &str) -> Option<V> {
        self.map.get(k).cloned()
    }

    /// Inserts or replaces; a replaced entry keeps its place in the order.
    pub(crate) fn insert(&mut self, k: String, v: V) {
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
            while self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

/// Adds API data to decoded events.
pub struct Enricher {
    api: Arc<WecomApi>,
    blobs: Arc<BlobStore>,
    users: Mutex<Bounded<String>>,
    memo: Mutex<Bounded<Vec<ChatEvent>>>,
}

impl Enricher {
    /// Lookups through `api`, media into `blobs`.
    pub fn new(api: Arc<WecomApi>, blobs: Arc<BlobStore>) -> Self {
        Enricher {
            api,
            blobs,
            users: Mutex::new(Bounded::new(NAME_CAP)),
            memo: Mutex::new(Bounded::new(MEMO_CAP)),
        }
    }

    /// The API client.
    pub fn api(&self) -> &Arc<WecomApi> {
        &self.api
    }

    /// Returns `events` with what the API adds within `budget`; a retry of a callback seen
    /// before gets the same events as its first attempt.
    /// `callback` is the decrypted callback the events were decoded from.
    pub async fn enrich(&self, callback: &[u8], events: Vec<ChatEvent>, budget: Duration) -> Vec<ChatEvent> {
        let key = memo_key(callback);
        if let Some(seen) = lock(&self.memo).get(&key) {
            return seen;
        }
        let mut out = Vec::with_capacity(events.len());
        let deadline = tokio::time::Instant::now() + budget;
        for ev in &events {
            let done = tokio::time::timeout_at(deadline, self.enrich_one(ev.clone())).await;
            out.push(done.unwrap_or_else(|_| ev.clone()));
        }
        lock(&self.memo).insert(key, out.clone());
        out
    }

    async fn enrich_one(&self, mut ev: ChatEvent) -> ChatEvent {
        let at = ev.occurred_at;
        match &mut ev.body {
            EventBody::Message(m) => {
                if m.sender_name.is_none() {
                    m.sender_name = self.user_name(&m.sender_id).await;
                }
                for a in &mut m.attachments {
                    let Some(media_id) = a.name.clone() else {
                        continue;
                    };
                    match self.api.media(&media_id).await {
                        Ok(bytes) => {
                            a.size = Some(bytes.len() as u64);
                            let blobs = self.blobs.clone();
                            let stored = tokio::task::spawn_blocking(move || blobs.put(&bytes)).await;
                            match stored {
                                Ok(Ok(s)) => a.sha256 = s.sha256().map(str::to_string),
                                Ok(Err(e)) => {
                                    tracing::warn!(error = %e, "could not store wecom media")
                                }
                                Err(e) => tracing::warn!(error = %e, "media store task failed"),
                            }
                        }
                        Err(e) => {
                            tracing::info!(error = %e, "wecom media not downloaded; metadata kept")
                        }
                    }
                }
            }
            EventBody::GroupCreated { name, .. } if name.is_none() => {
                *name = self.chat_name(&ev.chat_id).await;
            }
            EventBody::Other { subtype, .. } if subtype == "change_external_chat.change_name" => {
                if let Some(name) = self.chat_name(&ev.chat_id).await {
                    ev.body = EventBody::GroupRenamed { name, at };
                }
            }
            _ => {}
        }
        ev
    }

    async fn user_name(&self, user_id: &str) -> Option<String> {
        if let Some(n) = lock(&self.users).get(user_id) {
            return Some(n);
        }
        match self.api.user_name(user_id).await {
            Ok(n) => {
                lock(&self.users).insert(user_id.to_string(), n.clone());
                Some(n)
            }
            Err(e) => {
                tracing::info!(error = %e, "wecom member name not resolved");
                None
            }
        }
    }

    async fn chat_name(&self, chat_id: &str) -> Option<String> {
        // Not cached: group names change, and these events are rare.
        match self.api.group_chat_name(chat_id).await {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::info!(error = %e, "wecom group name not resolved");
                None
            }
        }
    }
}

fn memo_key(callback: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(callback))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a single map operation; a poisoned lock holds a valid map.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
