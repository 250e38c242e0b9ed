//! The Yunhu resume position, committed with every batch.
//!
//! Yunhu numbers messages per chat (`msg_seq`), and the history API lists a chat's messages
//! after a given seq, so the position is a map chat → (chat type, highest seq archived). It
//! also remembers the byte length of recent streamed bot replies, so chunks that arrive after
//! a restart, or the missing tail fetched from history after a drop, get the right offset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Streams remembered at most (oldest forgotten first); bot replies finish within seconds.
pub const MAX_STREAMS: usize = 32;

/// One chat's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatPos {
    /// Yunhu chat type (1 user, 2 group, 3 bot), needed by the history API.
    #[serde(rename = "t")]
    pub chat_type: u64,
    /// Highest `msg_seq` archived.
    pub seq: u64,
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

    /// Notes that `seq` of `chat_id` is archived (positions never go back).
    pub fn advance(&mut self, chat_id: &str, chat_type: u64, seq: u64) {
        let e = self
            .chats
            .entry(chat_id.to_string())
            .or_insert(ChatPos { chat_type, seq: 0 });
        if chat_type != 0 {
            e.chat_type = chat_type;
        }
        e.seq = e.seq.max(seq);
    }

    /// The archived seq of a chat (0 = none).
    pub fn seq(&self, chat_id: &str) -> u64 {
        self.chats.get(chat_id).map_or(0, |p| p.seq)
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
