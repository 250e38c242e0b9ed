//! The index schema: one document per message (current state), keyed by its identity.
//!
//! Texts are indexed, not stored: the archive holds them, and results are shown from the
//! store's current record, so the index stays below the size of the text it covers.

use tantivy::schema::{Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions};
use tantivy::{Index, TantivyDocument, Term};

use proto::{ContentType, MessageKey, MessageRecord, MessageState, Platform};
use store::MessageRow;

use crate::tokenizer::{BIGRAM, BigramTokenizer};

/// Version of the schema and tokenization; an index built with another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 3;

/// Separates the parts of composite keys (never appears in ids or names of any platform).
pub const SEP: char = '\u{1f}';

/// The fields of the index.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// `platform␟account␟chat_id␟msg_id`: the term deleted on re-index, and a fast column
    /// results are read from. Nothing is stored: the column's sorted, prefix-compressed
    /// dictionary is a third of the document store the key took, and reads as fast.
    pub key: Field,
    /// Current text: CJK bigrams, run ends and words, with positions.
    pub text: Field,
    /// Earlier texts of edited messages (`--all-revisions`), tokenized like `text`.
    pub old_text: Field,
    /// `platform␟account␟chat_id␟chat name`, a fast column: the `--chat` filter (the range of
    /// values starting with the chat's key) and the chat name lookup (its dictionary).
    pub chat: Field,
    /// `platform␟sender_id␟sender name`, a fast column: the `--sender` filter and the sender
    /// name lookup.
    pub sender: Field,
    /// Platform ordinal (fast column).
    pub platform: Field,
    /// Content type ordinal (fast column).
    pub content_type: Field,
    /// State ordinal (fast column).
    pub state: Field,
    /// Sent time, UTC ms.
    pub sent_at: Field,
}

/// A field searched by relevance: positions for phrases, field norms for BM25.
fn text_options() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(BIGRAM)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

/// The message key: matched whole, only to delete a message's document, so doc ids alone and
/// no field norms (a byte per message, only read for scoring).
fn key_options() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    )
}

/// Builds the schema.
///
/// Filters read fast columns (a range query on a fast field scans its column), not posting
/// lists: one value per message packs into a few bits in a column, while a posting list
/// per value costs about two bytes per message.
pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let ord = NumericOptions::default().set_fast();
    let column = TextOptions::default().set_fast("raw");
    let fields = Fields {
        key: b.add_text_field("key", key_options().set_fast("raw")),
        text: b.add_text_field("text", text_options()),
        old_text: b.add_text_field("old_text", text_options()),
        chat: b.add_text_field("chat", column.clone()),
        sender: b.add_text_field("sender", column),
        platform: b.add_u64_field("platform", ord.clone()),
        content_type: b.add_u64_field("content_type", ord.clone()),
        state: b.add_u64_field("state", ord),
        sent_at: b.add_i64_field("sent_at", NumericOptions::default().set_fast()),
    };
    (b.build(), fields)
}

/// Registers the tokenizers the schema names; every opened or created index needs this.
pub fn register_tokenizers(index: &Index) {
    index.tokenizers().register(BIGRAM, BigramTokenizer::default());
}

/// Position of a value in its enum's `ALL` (stable: declaration order).
fn ordinal<T: PartialEq>(all: &[T], v: &T) -> u64 {
    all.iter().position(|x| x == v).unwrap_or(all.len()) as u64
}

/// Ordinal of a platform in the index.
pub fn platform_ord(p: Platform) -> u64 {
    ordinal(Platform::ALL, &p)
}
/// Ordinal of a content type in the index.
pub fn content_type_ord(t: ContentType) -> u64 {
    ordinal(ContentType::ALL, &t)
}
/// Ordinal of a state in the index.
pub fn state_ord(s: MessageState) -> u64 {
    ordinal(MessageState::ALL, &s)
}

/// The stored key of a message (what [`parse_key`] reads back).
pub fn key_string(platform: Platform, account: &str, chat_id: &str, msg_id: &str) -> String {
    format!("{platform}{SEP}{account}{SEP}{chat_id}{SEP}{msg_id}")
}

/// Parses a stored key.
pub fn parse_key(s: &str) -> Option<MessageKey> {
    let mut it = s.split(SEP);
    let platform = it.next()?.parse().ok()?;
    let account = it.next()?.to_string();
    let chat_id = it.next()?.to_string();
    let msg_id = it.next()?.to_string();
    Some(MessageKey {
        platform,
        account,
        chat_id,
        msg_id,
    })
}

/// The `--chat` filter value of a message's chat.
pub fn chat_key(platform: Platform, account: &str, chat_id: &str) -> String {
    format!("{platform}{SEP}{account}{SEP}{chat_id}")
}

/// The `--sender` filter value.
pub fn sender_key(platform: Platform, sender_id: &str) -> String {
    format!("{platform}{SEP}{sender_id}")
}

/// What a message's document is made of (the fields of [`MessageRecord`] the index reads),
/// borrowed from an owned record or from a row as the store reads it.
#[derive(Debug, Clone, Copy)]
pub struct Indexed<'a> {
    platform: Platform,
    account: &'a str,
    chat_id: &'a str,
    msg_id: &'a str,
    chat_name: Option<&'a str>,
    sender_id: &'a str,
    sender_name: Option<&'a str>,
    text: &'a str,
    content_type: ContentType,
    state: MessageState,
    sent_at: i64,
}

impl<'a> From<&'a MessageRecord> for Indexed<'a> {
    fn from(r: &'a MessageRecord) -> Self {
        Indexed {
            platform: r.key.platform,
            account: &r.key.account,
            chat_id: &r.key.chat_id,
            msg_id: &r.key.msg_id,
            chat_name: r.chat_name.as_deref(),
            sender_id: &r.sender_id,
            sender_name: r.sender_name.as_deref(),
            text: &r.text,
            content_type: r.content_type,
            state: r.state,
            sent_at: r.sent_at,
        }
    }
}

impl<'a> From<&MessageRow<'a>> for Indexed<'a> {
    fn from(r: &MessageRow<'a>) -> Self {
        Indexed {
            platform: r.platform,
            account: r.account,
            chat_id: r.chat_id,
            msg_id: r.msg_id,
            chat_name: r.chat_name,
            sender_id: r.sender_id,
            sender_name: r.sender_name,
            text: r.text,
            content_type: r.content_type,
            state: r.state,
            sent_at: r.sent_at,
        }
    }
}

impl Indexed<'_> {
    /// The stored key ([`key_string`]).
    pub fn key(&self) -> String {
        key_string(self.platform, self.account, self.chat_id, self.msg_id)
    }
}

/// The term deleting a message's document.
pub fn key_term(f: &Fields, key: &str) -> Term {
    Term::from_field_text(f.key, key)
}

/// The document of a message: its current state, plus earlier texts when it was edited.
/// `key` is [`Indexed::key`].
pub fn document(f: &Fields, m: &Indexed<'_>, key: String, earlier_texts: &[String]) -> TantivyDocument {
    let mut d = TantivyDocument::default();
    d.add_text(f.key, key);
    d.add_text(f.text, m.text);
    for t in earlier_texts {
        d.add_text(f.old_text, t);
    }
    let chat_name = m.chat_name.unwrap_or("");
    let sender_name = m.sender_name.unwrap_or("");
    let named = |mut key: String, name: &str| {
        key.push(SEP);
        key.push_str(name);
        key
    };
    d.add_text(f.chat, named(chat_key(m.platform, m.account, m.chat_id), chat_name));
    d.add_text(f.sender, named(sender_key(m.platform, m.sender_id), sender_name));
    d.add_u64(f.platform, platform_ord(m.platform));
    d.add_u64(f.content_type, content_type_ord(m.content_type));
    d.add_u64(f.state, state_ord(m.state));
    d.add_i64(f.sent_at, m.sent_at);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let k = MessageKey {
            platform: Platform::Yunhu,
            account: "team".into(),
            chat_id: "g1".into(),
            msg_id: "m/1 2".into(),
        };
        let stored = key_string(k.platform, &k.account, &k.chat_id, &k.msg_id);
        assert_eq!(parse_key(&stored), Some(k));
        assert_eq!(parse_key("nope"), None);
    }
}
