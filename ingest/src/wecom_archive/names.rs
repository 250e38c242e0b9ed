//! Names for 会话存档 chats and people. A decrypted message carries ids only (`roomid`,
//! `from`, `tolist`); the names come from the WeCom API, each through the secret that may
//! read it:
//!
//! - internal groups: `msgaudit/groupchat/get` `{"roomid"}` → `roomname`, with the 会话存档
//!   secret (protocols.md §2.5, [WENER]);
//! - customer groups: `externalcontact/groupchat/get` `{"chat_id"}` → `group_chat.name`,
//!   with the 客户联系 secret when configured, else the 会话存档 secret ([WENER] says it may);
//! - customers (`wo…`/`wm…`): `externalcontact/get` → `external_contact.name`, with the
//!   客户联系 secret only (seed 001: "需使用客户联系 Secret 获取的 access_token");
//! - employees: `user/get` → `name`, with `user_secret` only (seed 001, 成员管理).
//!
//! A roomid does not say whether the group is internal or a customer group, so the internal
//! lookup goes first and a refusal for that id falls through to the customer one.
//!
//! Archiving never waits for a name: a page waits at most a short budget for the lookups it
//! started, and what does not arrive in time is left out of that page and fills later
//! messages once it does (lookups keep running after the budget). An API that fails as a
//! whole (network, 5xx, refused secret, busy) is left alone for a growing pause (2 s → 10
//! min), so an outage costs one budget, not one per page. Names are cached (bounded) and
//! asked again after `name_refresh`, which is how a rename reaches the archive; a stale name
//! is used until its refresh answers.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::{ChatType, EventBody, Ingested};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::codec::is_external;
use crate::wecom::api::{ApiError, WecomApi};
use crate::wecom::enrich::Bounded;

/// Names cached per connector (each a few dozen bytes).
const CACHE_CAP: usize = 50_000;
/// How long a page waits for its lookups.
const DEFAULT_BUDGET: Duration = Duration::from_secs(2);
/// First pause after an API failed as a whole; doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_secs(2);
/// Longest pause between attempts on a failing API.
const MAX_PAUSE: Duration = Duration::from_secs(600);

/// The API clients names can be read with; `None` = not configured, never asked.
#[derive(Clone, Default)]
pub struct NameApis {
    /// The 会话存档 secret's client (internal group names).
    pub audit: Option<Arc<WecomApi>>,
    /// The 客户联系 secret's client (customers, customer groups).
    pub contact: Option<Arc<WecomApi>>,
    /// A client that may read members (employees).
    pub users: Option<Arc<WecomApi>>,
}

/// Which API a lookup goes through (one secret each, failing independently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Via {
    Audit,
    Contact,
    Users,
}

#[derive(Clone)]
struct Entry {
    name: Option<String>,
    /// Asked again after this.
    fresh_until: Instant,
}

#[derive(Default)]
struct Pauses {
    /// (api, until, current pause)
    by_api: Vec<(Via, Instant, Duration)>,
}

impl Pauses {
    fn paused(&self, via: Via, now: Instant) -> bool {
        self.by_api.iter().any(|(v, until, _)| *v == via && now < *until)
    }

    /// Records a failure; returns whether it starts an outage. Lookups that were already
    /// under way when the pause began fail with it and do not lengthen it.
    fn failed(&mut self, via: Via, now: Instant) -> bool {
        match self.by_api.iter_mut().find(|(v, ..)| *v == via) {
            Some(p) => {
                if now >= p.1 {
                    p.2 = (p.2 * 2).min(MAX_PAUSE);
                    p.1 = now + p.2;
                }
                false
            }
            None => {
                self.by_api.push((via, now + FIRST_PAUSE, FIRST_PAUSE));
                true
            }
        }
    }

    fn recovered(&mut self, via: Via) -> bool {
        let before = self.by_api.len();
        self.by_api.retain(|(v, ..)| *v != via);
        before != self.by_api.len()
    }
}

struct Inner {
    apis: NameApis,
    refresh: Duration,
    cache: Mutex<Bounded<Entry>>,
    inflight: Mutex<HashSet<String>>,
    pauses: Mutex<Pauses>,
    done: Notify,
}

/// The name cache and its lookups; cheap to clone (shared).
#[derive(Clone)]
pub struct Names {
    inner: Arc<Inner>,
    budget: Duration,
}

/// What a name is of; the cache key is the prefix + the id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Group(String),
    Customer(String),
    Member(String),
}

impl Subject {
    fn person(id: &str) -> Subject {
        if is_external(id) {
            Subject::Customer(id.to_string())
        } else {
            Subject::Member(id.to_string())
        }
    }

    fn key(&self) -> String {
        match self {
            Subject::Group(id) => format!("g:{id}"),
            Subject::Customer(id) => format!("c:{id}"),
            Subject::Member(id) => format!("u:{id}"),
        }
    }
}

impl Names {
    /// Names through `apis`, each trusted for `refresh`.
    pub fn new(apis: NameApis, refresh: Duration) -> Names {
        Names {
            inner: Arc::new(Inner {
                apis,
                refresh,
                cache: Mutex::new(Bounded::new(CACHE_CAP)),
                inflight: Mutex::new(HashSet::new()),
                pauses: Mutex::new(Pauses::default()),
                done: Notify::new(),
            }),
            budget: DEFAULT_BUDGET,
        }
    }

    /// Changes how long a page waits for its lookups.
    pub fn with_budget(mut self, budget: Duration) -> Names {
        self.budget = budget;
        self
    }

    /// Fills chat and sender names into the messages of `batch` from the cache, after
    /// waiting at most the budget for the lookups of names not known yet or due a refresh.
    pub async fn fill(&self, batch: &mut [Ingested]) {
        let mut wanted = Vec::new();
        for_each_message(batch, |chat_id, m| {
            if m.chat_type == ChatType::Group {
                wanted.push(Subject::Group(chat_id.to_string()));
            }
            wanted.push(Subject::person(&m.sender_id));
            if m.chat_type == ChatType::Direct {
                wanted.extend(m.recipients.iter().map(|r| Subject::person(r)));
            }
        });
        wanted.sort_by_key(Subject::key);
        wanted.dedup();
        self.resolve(&wanted).await;
        for_each_message(batch, |chat_id, m| {
            if m.chat_type == ChatType::Group {
                m.chat_name = self.cached(&Subject::Group(chat_id.to_string())).or(m.chat_name.take());
            }
            m.sender_name = self.cached(&Subject::person(&m.sender_id)).or(m.sender_name.take());
            if m.chat_type == ChatType::Direct && m.chat_name.is_none() {
                m.chat_name = self.pair_name(chat_id);
            }
        });
    }

    /// A direct chat's name: its participants' names in id order, when all are known.
    fn pair_name(&self, chat_id: &str) -> Option<String> {
        let names: Option<Vec<String>> = chat_id.split('|').map(|id| self.cached(&Subject::person(id))).collect();
        names.filter(|n| n.len() > 1).map(|n| n.join("、"))
    }

    fn cached(&self, s: &Subject) -> Option<String> {
        lock(&self.inner.cache).get(&s.key()).and_then(|e| e.name)
    }

    /// Starts the lookups `subjects` need and waits for them until the budget is spent.
    async fn resolve(&self, subjects: &[Subject]) {
        let now = Instant::now();
        let deadline = now + self.budget;
        let mut waiting = Vec::new();
        for s in subjects {
            if !self.inner.can_look_up(s) {
                continue;
            }
            let key = s.key();
            let due = lock(&self.inner.cache).get(&key).is_none_or(|e| now >= e.fresh_until);
            if !due {
                continue;
            }
            if lock(&self.inner.inflight).insert(key.clone()) {
                let inner = self.inner.clone();
                let s = s.clone();
                tokio::spawn(async move {
                    inner.look_up(&s).await;
                    lock(&inner.inflight).remove(&s.key());
                    inner.done.notify_waiters();
                });
            }
            waiting.push(key);
        }
        loop {
            let notified = self.inner.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let pending = {
                let inflight = lock(&self.inner.inflight);
                waiting.iter().any(|k| inflight.contains(k))
            };
            if !pending || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }
}

impl Inner {
    /// Whether any configured, not paused API can name `s`.
    fn can_look_up(&self, s: &Subject) -> bool {
        let now = Instant::now();
        let pauses = lock(&self.pauses);
        let open = |via: Via, api: &Option<Arc<WecomApi>>| api.is_some() && !pauses.paused(via, now);
        match s {
            Subject::Group(_) => open(Via::Audit, &self.apis.audit) || open(Via::Contact, &self.apis.contact),
            Subject::Customer(_) => open(Via::Contact, &self.apis.contact),
            Subject::Member(_) => open(Via::Users, &self.apis.users),
        }
    }

    fn api(&self, via: Via) -> Option<&Arc<WecomApi>> {
        let api = match via {
            Via::Audit => &self.apis.audit,
            Via::Contact => &self.apis.contact,
            Via::Users => &self.apis.users,
        };
        api.as_ref().filter(|_| !lock(&self.pauses).paused(via, Instant::now()))
    }

    async fn look_up(&self, s: &Subject) {
        let answer = match s {
            Subject::Member(id) => self.ask(Via::Users, |api| async move { api.user_name(id).await }).await,
            Subject::Customer(id) => {
                self.ask(Via::Contact, |api| async move { api.external_contact_name(id).await })
                    .await
            }
            Subject::Group(id) => {
                let internal = self
                    .ask(Via::Audit, |api| async move { api.msgaudit_group_name(id).await })
                    .await;
                if let Answer::Name(n) = internal {
                    Answer::Name(n)
                } else {
                    // Refused for this id (or the API is out): perhaps a customer group, read
                    // with the 客户联系 secret, or the 会话存档 one when that is all there is.
                    let via = if self.apis.contact.is_some() {
                        Via::Contact
                    } else {
                        Via::Audit
                    };
                    let customer = self.ask(via, |api| async move { api.group_chat_name(id).await }).await;
                    match (internal, customer) {
                        (_, Answer::Name(n)) => Answer::Name(n),
                        // Not "no name" while one of the two could not be asked.
                        (Answer::Outage, _) | (_, Answer::Outage) => Answer::Outage,
                        _ => Answer::NoName,
                    }
                }
            }
        };
        let now = Instant::now();
        let key = s.key();
        let mut cache = lock(&self.cache);
        let previous = cache.get(&key).and_then(|e| e.name);
        match answer {
            Answer::Name(name) => cache.insert(
                key,
                Entry {
                    name: Some(name),
                    fresh_until: now + self.refresh,
                },
            ),
            // The platform has no name for this id: keep what was known, ask again later.
            Answer::NoName => cache.insert(
                key,
                Entry {
                    name: previous,
                    fresh_until: now + self.refresh,
                },
            ),
            // The API is paused; the entry stays due so the next page after the pause asks.
            Answer::Outage => {}
        }
    }

    /// One call through `via`, recording whether the API as a whole works.
    async fn ask<'a, F, Fut>(&'a self, via: Via, call: F) -> Answer
    where
        F: FnOnce(&'a WecomApi) -> Fut,
        Fut: std::future::Future<Output = Result<String, ApiError>>,
    {
        let Some(api) = self.api(via) else {
            return Answer::Outage;
        };
        match call(api).await {
            Ok(name) => {
                if lock(&self.pauses).recovered(via) {
                    tracing::info!(api = ?via, "wecom_archive name lookups answer again");
                }
                Answer::Name(name)
            }
            Err(e) if is_outage(&e) => {
                if lock(&self.pauses).failed(via, Instant::now()) {
                    tracing::warn!(api = ?via, error = %e, "wecom_archive name lookups failing; archiving goes on without names");
                }
                Answer::Outage
            }
            Err(e) => {
                tracing::debug!(api = ?via, error = %e, "no name for this id");
                Answer::NoName
            }
        }
    }
}

enum Answer {
    Name(String),
    NoName,
    Outage,
}

/// Whether an error is about the API as a whole (network, refused credentials, limits,
/// busy) rather than about the id asked.
fn is_outage(e: &ApiError) -> bool {
    match e {
        ApiError::Platform { code, .. } => {
            e.is_auth()
                || matches!(code, -1 | 41001 | 45009 | 45033)
                || crate::wecom::errcode::TOKEN_INVALID.contains(code)
        }
        // An answer without the name field is about the id; an unreadable one is not.
        ApiError::Decode { reason, .. } => !reason.starts_with("no `"),
        ApiError::Http { .. } | ApiError::TokenThrottled(_) | ApiError::RateLimited(_) => true,
    }
}

fn for_each_message(batch: &mut [Ingested], mut f: impl FnMut(&str, &mut proto::NewMessage)) {
    for i in batch {
        if let Ingested::Payload { events, .. } = i {
            for ev in events {
                if let EventBody::Message(m) = &mut ev.body {
                    f(&ev.chat_id, m);
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a few map operations; a poisoned lock holds valid maps.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
