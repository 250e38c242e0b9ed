//! Optional API lookups that add what a callback does not carry: member and customer names,
//! customer group names (and so renames), approval details, and media bytes into the blob
//! store.
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
use super::approval;
use crate::blobs::BlobStore;
use crate::refetch::{Queue, RetryPolicy, Source};

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
    /// Where media whose download failed are queued for retries (`None`: not retried).
    retry: Option<(Queue, RetryPolicy, String)>,
    /// A failed `getopenapprovaldata` was logged.
    open_approval_warned: std::sync::atomic::AtomicBool,
}

impl Enricher {
    /// Lookups through `api`, media into `blobs`.
    pub fn new(api: Arc<WecomApi>, blobs: Arc<BlobStore>) -> Self {
        Enricher {
            api,
            blobs,
            users: Mutex::new(Bounded::new(NAME_CAP)),
            memo: Mutex::new(Bounded::new(MEMO_CAP)),
            retry: None,
            open_approval_warned: Default::default(),
        }
    }

    /// Queues media whose download failed in `queue`, retried under `policy`.
    pub fn with_retry(mut self, queue: Queue, policy: RetryPolicy, connector: &str) -> Self {
        self.retry = Some((queue, policy, connector.to_string()));
        self
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
            match done {
                Ok(evs) => out.extend(evs),
                Err(_) => {
                    self.queue_media(ev, "not downloaded within the callback's answer deadline")
                        .await;
                    out.push(ev.clone())
                }
            }
        }
        lock(&self.memo).insert(key, out.clone());
        out
    }

    /// Queues every media of a message event for a retry (its download failed or ran out of
    /// time).
    async fn queue_media(&self, ev: &ChatEvent, why: &str) {
        let (Some((queue, policy, connector)), Some(msg_id), EventBody::Message(m)) =
            (&self.retry, &ev.msg_id, &ev.body)
        else {
            return;
        };
        for (index, a) in m.attachments.iter().enumerate() {
            if let Some(media_id) = a.name.clone() {
                let entry =
                    policy.first_failure(&ev.chat_id, msg_id, index as u32, Source::WecomMedia { media_id }, why);
                crate::refetch::remember(queue, entry, connector).await;
            }
        }
    }

    /// The event with what the API adds; an approval callback becomes two events (see
    /// [`approval`]).
    async fn enrich_one(&self, mut ev: ChatEvent) -> Vec<ChatEvent> {
        let at = ev.occurred_at;
        match &mut ev.body {
            EventBody::Other { subtype, detail } if subtype == "sys_approval_change" => {
                let detail = detail.clone();
                return self.approval(ev, &detail).await;
            }
            EventBody::Other { subtype, detail } if subtype == "open_approval_change" => {
                let detail = detail.clone();
                return self.open_approval(ev, &detail).await;
            }
            EventBody::ContactChanged { user_id, detail, .. } if is_external_id(user_id) => {
                // seed 001, 客户联系: "获取客户详情" → the customer's name and company.
                match self.api.external_contact(user_id).await {
                    Ok(c) => {
                        if let Some(obj) = detail.as_object_mut() {
                            obj.insert("external_contact".into(), c);
                        }
                    }
                    Err(e) => tracing::info!(error = %e, "wecom customer not resolved"),
                }
            }
            EventBody::MemberJoin { members, .. } | EventBody::MemberLeave { members, .. } => {
                for m in members.iter_mut().filter(|m| m.name.is_none()) {
                    m.name = if is_external_id(&m.id) {
                        self.customer_name(&m.id).await
                    } else {
                        self.user_name(&m.id).await
                    };
                }
            }
            EventBody::Message(m) => {
                if m.sender_name.is_none() {
                    m.sender_name = self.user_name(&m.sender_id).await;
                }
                for (index, a) in m.attachments.iter_mut().enumerate() {
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
                            tracing::info!(error = %e, "wecom media not downloaded; metadata kept, queued for a retry");
                            if let (Some((queue, policy, connector)), Some(msg_id)) = (&self.retry, &ev.msg_id) {
                                let source = Source::WecomMedia { media_id };
                                let entry =
                                    policy.first_failure(&ev.chat_id, msg_id, index as u32, source, &e.to_string());
                                crate::refetch::remember(queue, entry, connector).await;
                            }
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
        vec![ev]
    }

    /// `sys_approval_change` with `oa/getapprovaldetail`: the callback's event keeps the
    /// fetched `info` as `approval_detail`, and a readable message of the approval follows it.
    /// The status is the callback's own (`SpStatus`), since the detail is read later and may
    /// already be past it.
    async fn approval(&self, mut ev: ChatEvent, detail: &serde_json::Value) -> Vec<ChatEvent> {
        let Some(sp_no) = approval_field(detail, "SpNo") else {
            return vec![ev];
        };
        let mut info = match self.api.approval_detail(&sp_no).await {
            Ok(info) => info,
            Err(e) => {
                tracing::info!(error = %e, "wecom approval detail not fetched");
                return vec![ev];
            }
        };
        if let EventBody::Other { detail, .. } = &mut ev.body
            && let Some(obj) = detail.as_object_mut()
        {
            obj.insert("approval_detail".into(), info.clone());
        }
        if let Some(status) = approval_field(detail, "SpStatus").and_then(|s| s.parse::<i64>().ok()) {
            info["sp_status"] = status.into();
        }
        let applicant = info.pointer("/applyer/userid").and_then(serde_json::Value::as_str);
        let name = match applicant {
            Some(id) if !id.is_empty() => self.user_name(id).await,
            _ => None,
        };
        let message = approval::message(&ev, &info, name);
        std::iter::once(ev).chain(message).collect()
    }

    /// `open_approval_change` with `corp/getopenapprovaldata`, as [`Self::approval`]: the
    /// callback's event keeps the fetched `data` as `open_approval_data`, and a readable
    /// message follows it. When the data cannot be read (the secret's app is not the one that
    /// started the approval, the API is away) the callback stays a raw event; that is logged
    /// once per process, since it usually repeats for every such callback.
    async fn open_approval(&self, mut ev: ChatEvent, detail: &serde_json::Value) -> Vec<ChatEvent> {
        let Some(third_no) = approval_field(detail, "ThirdNo") else {
            return vec![ev];
        };
        let data = match self.api.open_approval_data(&third_no).await {
            Ok(d) => d,
            Err(e) => {
                if !self
                    .open_approval_warned
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    tracing::warn!(error = %e, "self-built approval data not fetched; the callback is kept as an event (logged once)");
                }
                return vec![ev];
            }
        };
        if let EventBody::Other { detail, .. } = &mut ev.body
            && let Some(obj) = detail.as_object_mut()
        {
            obj.insert("open_approval_data".into(), data.clone());
        }
        let status = approval_field(detail, "OpenSpStatus").and_then(|s| s.parse::<i64>().ok());
        let message = approval::open_message(&ev, &data, status);
        std::iter::once(ev).chain(message).collect()
    }

    async fn customer_name(&self, id: &str) -> Option<String> {
        let key = format!("external:{id}");
        if let Some(n) = lock(&self.users).get(&key) {
            return Some(n);
        }
        match self.api.external_contact_name(id).await {
            Ok(n) => {
                lock(&self.users).insert(key, n.clone());
                Some(n)
            }
            Err(e) => {
                tracing::info!(error = %e, "wecom customer name not resolved");
                None
            }
        }
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

/// `ApprovalInfo.<field>` of an approval callback's tree.
fn approval_field(detail: &serde_json::Value, field: &str) -> Option<String> {
    detail
        .get("ApprovalInfo")?
        .get(field)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Customer ids (`wo…`/`wm…`, protocols.md §2.4) as the 会话存档 codec recognises them.
fn is_external_id(id: &str) -> bool {
    crate::wecom_archive::codec::is_external(id)
}

fn memo_key(callback: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(callback))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a single map operation; a poisoned lock holds a valid map.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
