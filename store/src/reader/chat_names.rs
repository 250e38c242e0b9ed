//! Chats by any name they were ever recorded under: the chat list's latest name and the chat
//! name each message was archived with (a group renamed, a remark set or changed later). Used
//! by `audit --chat`; `search --chat` reads the same names from the index.
//!
//! Platforms that send names only (WorkTool) give a renamed group a new chat id; such chats
//! are linked only by a name they share (the robot's remark), never by a guess.

use std::collections::BTreeMap;

use proto::Platform;

use super::StoreReader;
use super::rows::{all, parse};
use crate::Result;

/// A chat with every name it was recorded under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedChat {
    /// Platform.
    pub platform: Platform,
    /// Account.
    pub account: String,
    /// Chat id.
    pub chat_id: String,
    /// Every distinct name, in no particular order.
    pub names: Vec<String>,
}

impl StoreReader {
    /// The chats whose id is `spec`, else those with a recorded name containing it
    /// (case-insensitive, full-width letters and digits folded). Reads every message row's
    /// chat name when no id matches (one scan of `messages`).
    pub fn chats_named(&self, spec: &str) -> Result<Vec<NamedChat>> {
        let spec = spec.trim();
        let exact = all(
            &self.conn,
            "SELECT platform, account, chat_id, name FROM chats WHERE chat_id = ?1",
            [spec],
            |r| {
                Ok(NamedChat {
                    platform: parse(&r.get::<_, String>(0)?, "platform")?,
                    account: r.get(1)?,
                    chat_id: r.get(2)?,
                    names: r.get::<_, Option<String>>(3)?.into_iter().collect(),
                })
            },
        )?;
        if !exact.is_empty() {
            return Ok(exact);
        }
        let needle = fold(spec);
        if needle.is_empty() {
            return Ok(Vec::new());
        }
        let mut st = self.conn.prepare(
            "SELECT platform, account, chat_id, name FROM chats WHERE name IS NOT NULL
             UNION
             SELECT platform, account, chat_id, chat_name FROM messages WHERE chat_name IS NOT NULL",
        )?;
        let mut rows = st.query([])?;
        let mut all: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
        while let Some(r) = rows.next()? {
            let key = (r.get(0)?, r.get(1)?, r.get(2)?);
            let name: String = r.get(3)?;
            let names = all.entry(key).or_default();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let mut out = Vec::new();
        for ((platform, account, chat_id), names) in all {
            if names.iter().any(|n| fold(n).contains(&needle)) {
                out.push(NamedChat {
                    platform: parse(&platform, "platform")?,
                    account,
                    chat_id,
                    names,
                });
            }
        }
        Ok(out)
    }
}

/// Lower case, full-width ASCII (U+FF01–U+FF5E) as ASCII, so `ＡＢＣ群` matches `abc群`.
fn fold(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}
