//! Chat names for Yunhu messages, from the conversation list (`POST /v1/conversation/list`,
//! protocols.md §5.4: `Data.name` = field 15, `remark` = field 3; the push carries no chat
//! name, seed 004 `push_message` has only the sender's `name`).
//!
//! The list is read by every catch-up and, when a message names a chat not known yet, again
//! at most every [`DEFAULT_REFRESH`] in a task of its own: a slow or failing list never holds
//! a live message back, which is then archived without a chat name.
//!
//! A message's name is part of its `message` event, and the store records a message once only
//! when both copies of it (the live push and the history row of the same message) are
//! identical. So the name is chosen once per message and remembered ([`Names::apply`]): the
//! second copy gets the name the first one got, even when the list arrived in between.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::yunhu::conversation_list_response;
use proto::{ChatEvent, EventBody};
use tokio::time::Instant;

use super::api::Api;

/// Shortest time between two conversation-list reads for a chat without a name.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(600);
/// Messages whose chosen name is remembered (a live copy and its history copy arrive within
/// one catch-up; this is hours of traffic).
const CHOSEN_CAP: usize = 16_384;

#[derive(Default)]
struct Inner {
    names: HashMap<String, String>,
    fetched_at: Option<Instant>,
    refreshing: bool,
    chosen: HashMap<(String, String), Option<String>>,
    order: VecDeque<(String, String)>,
}

/// The name cache of one connector, shared by the live loop and the catch-up.
pub struct Names {
    inner: Mutex<Inner>,
    refresh: Duration,
}

impl Names {
    /// An empty cache that reads the list again at most every `refresh`.
    pub fn new(refresh: Duration) -> Self {
        Names {
            inner: Mutex::default(),
            refresh,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every critical section is a few map operations; a poisoned lock holds valid maps.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the names of a conversation list: `name`, else the account's `remark`.
    pub fn learn(&self, list: &[conversation_list_response::Data]) {
        let mut g = self.lock();
        for c in list {
            let name = if c.name.trim().is_empty() { &c.remark } else { &c.name };
            if !c.chat_id.is_empty() && !name.trim().is_empty() {
                g.names.insert(c.chat_id.clone(), name.trim().to_string());
            }
        }
        g.fetched_at = Some(Instant::now());
    }

    /// The known name of a chat.
    #[cfg(test)]
    pub fn get(&self, chat_id: &str) -> Option<String> {
        self.lock().names.get(chat_id).cloned()
    }

    /// Sets the chat name of every `message` event: the name already chosen for that message,
    /// else the cached one (then remembered). Returns whether a chat had no name yet.
    pub fn apply(&self, events: &mut [ChatEvent]) -> bool {
        let mut g = self.lock();
        let mut unknown = false;
        for ev in events {
            let (EventBody::Message(m), Some(msg_id)) = (&mut ev.body, &ev.msg_id) else {
                continue;
            };
            let key = (ev.chat_id.clone(), msg_id.clone());
            let name = match g.chosen.get(&key) {
                Some(n) => n.clone(),
                None => {
                    let n = g.names.get(&ev.chat_id).cloned();
                    g.chosen.insert(key.clone(), n.clone());
                    g.order.push_back(key);
                    while g.order.len() > CHOSEN_CAP {
                        if let Some(old) = g.order.pop_front() {
                            g.chosen.remove(&old);
                        }
                    }
                    n
                }
            };
            unknown |= !g.names.contains_key(&ev.chat_id);
            m.chat_name = name;
        }
        unknown
    }

    /// Reads the list again in the background if the last read is older than the refresh
    /// interval and none is running. Never waits.
    pub fn refresh_soon(self: &Arc<Self>, api: &Api, connector: &str) {
        {
            let mut g = self.lock();
            let fresh = g.fetched_at.is_some_and(|t| t.elapsed() < self.refresh);
            if fresh || g.refreshing {
                return;
            }
            g.refreshing = true;
            // A failed read also waits a full interval before the next try.
            g.fetched_at = Some(Instant::now());
        }
        let (me, api, connector) = (self.clone(), api.clone(), connector.to_string());
        tokio::spawn(async move {
            match api.conversations().await {
                Ok(list) => me.learn(&list),
                Err(e) => {
                    tracing::info!(connector = %connector, error = %e, "yunhu chat names not refreshed; messages are archived without them")
                }
            }
            me.lock().refreshing = false;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{ChatType, ContentType, NewMessage, TextFormat};

    fn msg(chat: &str, id: &str) -> ChatEvent {
        ChatEvent::message(
            chat,
            id,
            EventBody::Message(NewMessage {
                chat_type: ChatType::Group,
                chat_name: None,
                external: false,
                sender_id: "u".into(),
                sender_name: None,
                sent_at: 1,
                content_type: ContentType::Text,
                text: "t".into(),
                attachments: vec![],
                reply_to: None,
                mentions: vec![],
                recipients: vec![],
                text_format: TextFormat::Plain,
                source_text: None,
            }),
        )
    }

    fn name_of(ev: &ChatEvent) -> Option<String> {
        match &ev.body {
            EventBody::Message(m) => m.chat_name.clone(),
            _ => None,
        }
    }

    #[test]
    fn a_message_keeps_the_name_its_first_copy_got() {
        let names = Names::new(DEFAULT_REFRESH);
        let mut live = vec![msg("g1", "m1")];
        assert!(names.apply(&mut live), "g1 has no name yet");
        names.learn(&[conversation_list_response::Data {
            chat_id: "g1".into(),
            name: "财务报销群".into(),
            ..Default::default()
        }]);
        let mut history = vec![msg("g1", "m1"), msg("g1", "m2")];
        assert!(!names.apply(&mut history));
        assert_eq!(live[0], history[0], "both copies of m1 are identical");
        assert_eq!(name_of(&history[1]).as_deref(), Some("财务报销群"));
        // The remark stands in for an empty name.
        names.learn(&[conversation_list_response::Data {
            chat_id: "u7".into(),
            remark: "李经理".into(),
            ..Default::default()
        }]);
        assert_eq!(names.get("u7").as_deref(), Some("李经理"));
    }
}
