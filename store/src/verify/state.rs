//! The tables that are neither the log nor a message projection, against what the walks
//! found: `chats` and `members` must equal their fold; every `dedup` entry must stand for an
//! event of the log (an entry with none would make a future event be dropped as a duplicate);
//! no connector's cursor may be ahead of the log (its resume position would skip messages
//! that were never stored).

use std::collections::{BTreeMap, HashMap};

use rusqlite::Connection;

use super::chain::{ChatId, Member, MemberId};
use super::projection::ChatFold;
use super::push_listed;
use crate::Result;

/// Every `dedup` entry, content key → content check. The chain walk removes those the log
/// accounts for; what is left names no event.
pub(super) fn load_dedup(conn: &Connection) -> Result<HashMap<i64, i64>> {
    let mut st = conn.prepare("SELECT k, h FROM dedup")?;
    let map = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<HashMap<i64, i64>>>()?;
    Ok(map)
}

/// Lists the `dedup` entries no event accounted for.
pub(super) fn report_dedup(left: &HashMap<i64, i64>, out: &mut Vec<String>) {
    if left.is_empty() {
        return;
    }
    let mut keys: Vec<_> = left.iter().collect();
    keys.sort();
    for (k, h) in keys.iter().take(5) {
        push_listed(
            out,
            format!(
                "dedup entry ({k}, {h}) stands for no event of the log: it would make a future event be \
                 dropped as a duplicate"
            ),
        );
    }
    if keys.len() > 5 {
        push_listed(out, format!("… {} dedup entries in all stand for no event", keys.len()));
    }
}

/// `chats` against the fold: message counts, types and names from the messages, names from
/// the chat-level events, whichever is later.
pub(super) fn check_chats(
    conn: &Connection,
    messages: &BTreeMap<ChatId, ChatFold>,
    names: &BTreeMap<ChatId, (i64, String)>,
    out: &mut Vec<String>,
) -> Result<()> {
    type Row = (Option<String>, Option<String>, i64);
    let mut expected: BTreeMap<ChatId, Row> = BTreeMap::new();
    for (chat, f) in messages {
        expected.insert(
            chat.clone(),
            (
                f.name.as_ref().map(|(_, n)| n.clone()),
                f.chat_type.map(|(_, t)| t.to_string()),
                f.messages,
            ),
        );
    }
    for (chat, (seq, name)) in names {
        let e = expected.entry(chat.clone()).or_insert((None, None, 0));
        let by_message = messages.get(chat).and_then(|f| f.name.as_ref()).map(|(s, _)| *s as i64);
        if by_message.is_none_or(|s| s < *seq) {
            e.0 = Some(name.clone());
        }
    }
    let mut st = conn.prepare("SELECT platform, account, chat_id, name, chat_type, messages FROM chats")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let chat: ChatId = (r.get(0)?, r.get(1)?, r.get(2)?);
        let actual: Row = (r.get(3)?, r.get(4)?, r.get(5)?);
        match expected.remove(&chat) {
            Some(e) if e == actual => {}
            Some(e) => push_listed(
                out,
                format!(
                    "chat {}/{}/{} differs from the fold of the log (stored name {:?}, type {:?}, {} messages; \
                     the log gives {:?}, {:?}, {})",
                    chat.0, chat.1, chat.2, actual.0, actual.1, actual.2, e.0, e.1, e.2
                ),
            ),
            None => push_listed(
                out,
                format!("chat {}/{}/{} is in `chats` but not in the log", chat.0, chat.1, chat.2),
            ),
        }
    }
    for chat in expected.keys() {
        push_listed(
            out,
            format!(
                "chat {}/{}/{} of the log is missing from `chats`",
                chat.0, chat.1, chat.2
            ),
        );
    }
    Ok(())
}

/// `members` against the fold of the member events.
pub(super) fn check_members(
    conn: &Connection,
    folded: &BTreeMap<MemberId, Member>,
    out: &mut Vec<String>,
) -> Result<()> {
    let mut expected = folded.clone();
    let mut st = conn.prepare("SELECT platform, account, chat_id, user_id, name, present, since_seq FROM members")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let id: MemberId = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        let actual = Member {
            name: r.get(4)?,
            present: r.get(5)?,
            since_seq: r.get(6)?,
        };
        let shown = format!("member {} of chat {}/{}/{}", id.3, id.0, id.1, id.2);
        match expected.remove(&id) {
            Some(e) if e == actual => {}
            Some(_) => push_listed(out, format!("{shown} differs from the fold of the log")),
            None => push_listed(out, format!("{shown} is in `members` but not in the log")),
        }
    }
    for id in expected.keys() {
        push_listed(
            out,
            format!(
                "member {} of chat {}/{}/{} of the log is missing from `members`",
                id.3, id.0, id.1, id.2
            ),
        );
    }
    Ok(())
}

/// No cursor may have been stored at a seq the log does not reach.
pub(super) fn check_cursors(conn: &Connection, head_seq: u64, out: &mut Vec<String>) -> Result<()> {
    let mut st = conn.prepare("SELECT platform, account, updated_seq FROM cursors WHERE updated_seq > ?1")?;
    let mut rows = st.query([head_seq as i64])?;
    while let Some(r) = rows.next()? {
        let (p, a, s): (String, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        push_listed(
            out,
            format!(
                "cursor of {p}/{a} was stored with seq {s} but the log ends at seq {head_seq}: events it \
                 resumes after are missing"
            ),
        );
    }
    Ok(())
}
