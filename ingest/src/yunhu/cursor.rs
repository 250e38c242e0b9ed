//! The Yunhu resume position, committed with the batches (through the runtime's window, so
//! a stored position never passes a batch that failed to commit).
//!
//! Yunhu numbers messages per chat (`msg_seq`, seed `004`: "消息序列"), and the history API
//! lists a chat's messages after a given seq (protocols.md §5.4 `list-message-by-seq`), so the
//! position is a map chat → (chat type, catch-up watermark). The watermark `seq` promises that
//! every message of the chat up to it is archived; live pushes are archived at once but move
//! it only when they follow it directly (`seq + 1`), since neither the seed nor protocols.md
//! says that seqs have no holes or that a chat's pushes arrive in seq order: a live message
//! further ahead is noted in `live`, and the history between the two is fetched by the next
//! catch-up (which re-reads up to the live ones; the store records them once). So a chat's
//! stored position never passes history that was not fetched, however long the history API
//! is down.
//!
//! It also remembers the byte length of recent streamed bot replies, so chunks that arrive
//! after a restart, or the missing tail fetched from history after a drop, get the right
//! offset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Streams remembered at most (oldest forgotten first); bot replies finish within seconds.
pub const MAX_STREAMS: usize = 32;
/// Names remembered per chat (renames); older messages are never archived again.
pub const MAX_NAMES: usize = 4;

/// One chat's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatPos {
    /// Yunhu chat type (1 user, 2 group, 3 bot), needed by the history API.
    #[serde(rename = "t")]
    pub chat_type: u64,
    /// Catch-up watermark: every message up to this `msg_seq` is archived.
    pub seq: u64,
    /// Highest `msg_seq` archived from a live push (0 = none past `seq`); history between
    /// `seq` and it is not fetched yet.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub live: u64,
    /// Listed on a first start without `--backfill`: its history before the first live
    /// message is not wanted, so catch-up skips it until then.
    #[serde(default, skip_serializing_if = "is_false")]
    pub from_live: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ChatPos {
    fn new(chat_type: u64, seq: u64) -> Self {
        ChatPos {
            chat_type,
            seq,
            live: 0,
            from_live: false,
        }
    }
}

/// A streamed message whose text may still grow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPos {
    /// Message id.
    pub msg_id: String,
    /// Its chat.
    pub chat_id: String,
    /// Chat type (for the history API).
    #[serde(rename = "t")]
    pub chat_type: u64,
    /// Bytes of content archived so far (first push + appended chunks).
    pub len: u64,
}

/// The whole position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// chat id → position.
    #[serde(default)]
    pub chats: BTreeMap<String, ChatPos>,
    /// Recent bot messages that are or may become streams, oldest first.
    #[serde(default)]
    pub streams: Vec<StreamPos>,
    /// chat id → `(first msg_seq, name)`, oldest first: the chat name each message gets,
    /// by its seq, so a message's copies get the same name across restarts (`names.rs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<String, Vec<(u64, String)>>,
    /// Whether a chat never seen before wants its history fetched (it may have been created
    /// while the connector was away). False on a first start without `--backfill` until a
    /// catch-up succeeded: such chats start at their first live message. Not stored.
    #[serde(skip)]
    pub want_history: bool,
}

impl Position {
    /// Reads a committed cursor; an unreadable one starts from scratch (and says so).
    pub fn from_cursor(c: Option<&serde_json::Value>) -> (Position, Option<String>) {
        match c {
            None => (Position::default(), None),
            Some(v) => match serde_json::from_value(v.clone()) {
                Ok(p) => (p, None),
                Err(e) => (Position::default(), Some(format!("unreadable cursor ignored: {e}"))),
            },
        }
    }

    /// As JSON for the batch.
    pub fn to_cursor(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Notes that history of `chat_id` up to `seq` is archived (catch-up; never goes back).
    pub fn fetched(&mut self, chat_id: &str, chat_type: u64, seq: u64) {
        let e = self
            .chats
            .entry(chat_id.to_string())
            .or_insert(ChatPos::new(chat_type, 0));
        if chat_type != 0 {
            e.chat_type = chat_type;
        }
        e.seq = e.seq.max(seq);
        e.from_live = false;
        if e.live <= e.seq {
            e.live = 0;
        }
    }

    /// Notes a message archived from a live push (positions never go back). It moves the
    /// watermark only when it follows it directly, or when the chat starts at its first live
    /// message.
    pub fn advance(&mut self, chat_id: &str, chat_type: u64, seq: u64) {
        let from_live = !self.want_history;
        // Looked up before `entry`, which would allocate the id for every message.
        if !self.chats.contains_key(chat_id) {
            self.chats.insert(
                chat_id.to_string(),
                ChatPos {
                    from_live,
                    ..ChatPos::new(chat_type, 0)
                },
            );
        }
        let Some(e) = self.chats.get_mut(chat_id) else {
            return;
        };
        if chat_type != 0 {
            e.chat_type = chat_type;
        }
        if e.from_live || seq == e.seq + 1 {
            e.seq = e.seq.max(seq);
            e.from_live = false;
        } else if seq > e.seq {
            e.live = e.live.max(seq);
        }
        if e.live <= e.seq {
            e.live = 0;
        }
    }

    /// Marks a listed chat that a first start does not backfill (see [`ChatPos::from_live`]).
    pub fn skip_history(&mut self, chat_id: &str, chat_type: u64) {
        self.chats.entry(chat_id.to_string()).or_insert(ChatPos {
            from_live: true,
            ..ChatPos::new(chat_type, 0)
        });
    }

    /// Notes that `chat_id` is called `name` from the next message not archived yet on: the
    /// messages already archived keep the name they were archived with.
    pub fn name_from(&mut self, chat_id: &str, name: &str) {
        let next = self.chats.get(chat_id).map_or(0, |p| p.seq.max(p.live)) + 1;
        if self
            .names
            .get(chat_id)
            .and_then(|l| l.last())
            .is_some_and(|(_, n)| n == name)
        {
            return;
        }
        let list = self.names.entry(chat_id.to_string()).or_default();
        list.push((next, name.to_string()));
        if list.len() > MAX_NAMES {
            list.remove(0);
        }
    }

    /// The name a message of `chat_id` with `seq` gets (see [`Position::name_from`]).
    pub fn name_at(&self, chat_id: &str, seq: u64) -> Option<String> {
        self.names
            .get(chat_id)?
            .iter()
            .rev()
            .find(|(from, _)| *from <= seq)
            .map(|(_, n)| n.clone())
    }

    /// The catch-up watermark of a chat (0 = none).
    pub fn seq(&self, chat_id: &str) -> u64 {
        self.chats.get(chat_id).map_or(0, |p| p.seq)
    }

    /// Chats whose live messages are ahead of their fetched history.
    pub fn behind(&self) -> usize {
        self.chats.values().filter(|c| c.live > c.seq).count()
    }

    /// Remembers a message that may be streamed into, with its first content length.
    pub fn open_stream(&mut self, msg_id: &str, chat_id: &str, chat_type: u64, len: u64) {
        if self.streams.iter().any(|s| s.msg_id == msg_id) {
            return;
        }
        self.streams.push(StreamPos {
            msg_id: msg_id.into(),
            chat_id: chat_id.into(),
            chat_type,
            len,
        });
        if self.streams.len() > MAX_STREAMS {
            self.streams.remove(0);
        }
    }

    /// Bytes of a remembered stream archived so far.
    pub fn stream_len(&self, msg_id: &str) -> Option<u64> {
        self.streams.iter().find(|s| s.msg_id == msg_id).map(|s| s.len)
    }

    /// Appends `chunk_len` bytes to a stream; returns the chunk's offset. A stream whose
    /// start was never seen starts at 0 (its chunks still order among themselves).
    pub fn append_stream(&mut self, msg_id: &str, chat_id: &str, chunk_len: u64) -> (u64, bool) {
        if let Some(s) = self.streams.iter_mut().find(|s| s.msg_id == msg_id) {
            let off = s.len;
            s.len += chunk_len;
            return (off, true);
        }
        self.open_stream(msg_id, chat_id, 0, chunk_len);
        (0, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_never_goes_back() {
        let mut p = Position::default();
        p.advance("g1", 2, 5);
        p.advance("g1", 0, 3);
        assert_eq!(p.seq("g1"), 5);
        p.open_stream("m1", "g1", 2, 6);
        assert_eq!(p.append_stream("m1", "g1", 4), (6, true));
        assert_eq!(p.append_stream("m1", "g1", 1), (10, true));
        let (back, err) = Position::from_cursor(Some(&p.to_cursor()));
        assert_eq!((back, err), (p, None));
    }

    #[test]
    fn live_messages_move_the_watermark_only_when_they_follow_it() {
        let mut p = Position {
            want_history: true,
            ..Position::default()
        };
        p.advance("g", 2, 1);
        p.advance("g", 2, 2);
        assert_eq!((p.seq("g"), p.behind()), (2, 0));
        // Seq 3 and 4 not seen live (pushed while away, or not pushed at all).
        p.advance("g", 2, 5);
        p.advance("g", 2, 6);
        assert_eq!((p.seq("g"), p.chats["g"].live, p.behind()), (2, 6, 1));
        // A chat never seen wants its history (it may be new since the last catch-up).
        p.advance("n", 1, 7);
        assert_eq!((p.seq("n"), p.chats["n"].live), (0, 7));
        p.fetched("g", 2, 6);
        assert_eq!((p.seq("g"), p.chats["g"].live), (6, 0));
        let (back, _) = Position::from_cursor(Some(&p.to_cursor()));
        assert_eq!(back.chats, p.chats);
        // A first start: a chat never seen, or listed and skipped, starts at its first push.
        let mut fresh = Position::default();
        fresh.skip_history("old", 2);
        fresh.advance("old", 2, 40);
        fresh.advance("new", 2, 9);
        assert_eq!((fresh.seq("old"), fresh.seq("new"), fresh.behind()), (40, 9, 0));
    }

    #[test]
    fn forgets_old_streams_and_bad_cursors() {
        let mut p = Position::default();
        for i in 0..(MAX_STREAMS + 5) {
            p.open_stream(&format!("m{i}"), "c", 3, 1);
        }
        assert_eq!(p.streams.len(), MAX_STREAMS);
        assert_eq!(p.streams[0].msg_id, "m5");
        let (pos, err) = Position::from_cursor(Some(&serde_json::json!({"chats": 7})));
        assert_eq!(pos, Position::default());
        assert!(err.is_some());
    }
}
