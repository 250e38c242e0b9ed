//! Chat names for Yunhu messages, from the conversation list (`POST /v1/conversation/list`,
//! protocols.md §5.4: `Data.name` = field 15, `remark` = field 3; the push carries no chat
//! name, seed 004 `push_message` has only the sender's `name`).
//!
//! The list is read by every catch-up and, when a message names a chat not known yet, again
//! at most every [`DEFAULT_REFRESH`] in a task of its own: a slow or failing list never holds
//! a live message back, which is then archived without a chat name.
//!
//! A message's name is part of its `message` event, and the store records a message once only
//! when every copy of it (the live push, the history row read by a catch-up, again after a
//! restart) is identical. So the name a message gets is fixed by its chat and `msg_seq`: when
//! the cache learns a chat's name (or a new one), the position notes it from the next seq not
//! archived yet ([`Position::name_from`], committed with the batches), and every copy of a
//! message looks its name up by seq ([`Position::name_at`]). Messages archived before a name
//! was known stay without it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::yunhu::conversation_list_response;
use proto::{ChatEvent, EventBody};
use tokio::time::Instant;

use super::api::Api;
use super::cursor::Position;

/// Shortest time between two conversation-list reads for a chat without a name.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(600);

#[derive(Default)]
struct Inner {
    names: HashMap<String, String>,
    fetched_at: Option<Instant>,
    refreshing: bool,
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

    /// Notes the cached name of `chat_id` in the position, from the next message not archived
    /// yet (call it before the messages of a frame or page move the position). Returns
    /// whether the chat has no name yet.
    pub fn sync(&self, pos: &mut Position, chat_id: &str) -> bool {
        match self.lock().names.get(chat_id) {
            Some(n) => {
                pos.name_from(chat_id, n);
                false
            }
            None => true,
        }
    }

    /// Sets the chat name of every `message` event from the position, by the message's seq
    /// (`seq_of`; a message without one gets no name).
    pub fn apply(pos: &Position, events: &mut [ChatEvent], seq_of: impl Fn(&str) -> Option<u64>) {
        for ev in events {
            let (EventBody::Message(m), Some(msg_id)) = (&mut ev.body, &ev.msg_id) else {
                continue;
            };
            m.chat_name = seq_of(msg_id).and_then(|s| pos.name_at(&ev.chat_id, s));
        }
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
    fn every_copy_of_a_message_gets_the_name_of_its_seq() {
        let names = Names::new(DEFAULT_REFRESH);
        let mut pos = Position::default();
        // Seq 1 archived live before the list was read.
        assert!(names.sync(&mut pos, "g1"));
        pos.advance("g1", 2, 1);
        let mut live = vec![msg("g1", "m1")];
        Names::apply(&pos, &mut live, |_| Some(1));
        names.learn(&[conversation_list_response::Data {
            chat_id: "g1".into(),
            name: "财务报销群".into(),
            ..Default::default()
        }]);
        assert!(!names.sync(&mut pos, "g1"));
        // History, after a restart from the committed position: seq 1 again and seq 2.
        let (mut pos, _) = Position::from_cursor(Some(&pos.to_cursor()));
        let mut history = vec![msg("g1", "m1"), msg("g1", "m2")];
        Names::apply(&pos, &mut history, |id| Some(if id == "m1" { 1 } else { 2 }));
        assert_eq!(live[0], history[0], "both copies of m1 are identical");
        assert_eq!(name_of(&history[1]).as_deref(), Some("财务报销群"));
        // A rename applies from the next seq on.
        pos.advance("g1", 2, 2);
        names.learn(&[conversation_list_response::Data {
            chat_id: "g1".into(),
            name: "财务群".into(),
            ..Default::default()
        }]);
        names.sync(&mut pos, "g1");
        assert_eq!(pos.name_at("g1", 2).as_deref(), Some("财务报销群"));
        assert_eq!(pos.name_at("g1", 3).as_deref(), Some("财务群"));
        // The remark stands in for an empty name.
        names.learn(&[conversation_list_response::Data {
            chat_id: "u7".into(),
            remark: "李经理".into(),
            ..Default::default()
        }]);
        assert!(!names.sync(&mut pos, "u7"));
    }
}
