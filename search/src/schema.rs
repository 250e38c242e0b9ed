//! The index schema: one document per message (current state), keyed by its identity.
//!
//! Texts are indexed, not stored: the archive holds them, and results are shown from the
//! store's current record, so the index stays below the size of the text it covers.

use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{Index, TantivyDocument, Term};

use proto::{ContentType, MessageKey, MessageRecord, MessageState, Platform};

use crate::tokenizer::{BIGRAM, BigramTokenizer, UNIGRAM, UnigramTokenizer};

/// Version of the schema and tokenization; an index built with another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 1;

/// Separates the parts of composite keys (never appears in ids or names of any platform).
pub const SEP: char = '\u{1f}';

/// The fields of the index.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// `platform␟account␟chat_id␟msg_id`, stored; the term deleted on re-index.
    pub key: Field,
    /// Current text, CJK bigrams + words, with positions.
    pub text: Field,
    /// Current text, CJK unigrams (one-character queries).
    pub text1: Field,
    /// Earlier texts of edited messages (`--all-revisions`), bigrams.
    pub old_text: Field,
    /// Earlier texts, unigrams.
    pub old_text1: Field,
    /// Chat display name, bigrams.
    pub chat_name: Field,
    /// Sender display name, bigrams.
    pub sender_name: Field,
    /// `platform␟account␟chat_id`: the `--chat` filter.
    pub chat: Field,
    /// `platform␟account␟chat_id␟chat name`: the chat name lookup (term dictionary).
    pub chat_ref: Field,
    /// `platform␟sender_id`: the `--sender` filter.
    pub sender: Field,
    /// `platform␟sender_id␟sender name`: the sender name lookup (term dictionary).
    pub sender_ref: Field,
    /// Platform ordinal.
    pub platform: Field,
    /// Content type ordinal.
    pub content_type: Field,
    /// State ordinal.
    pub state: Field,
    /// Sent time, UTC ms.
    pub sent_at: Field,
}

fn text_options(tokenizer: &str, record: IndexRecordOption) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(record),
    )
}

/// Builds the schema.
pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let positions = IndexRecordOption::WithFreqsAndPositions;
    let freqs = IndexRecordOption::WithFreqs;
    let ord = NumericOptions::default().set_indexed().set_fast();
    let fields = Fields {
        key: b.add_text_field("key", STRING | STORED),
        text: b.add_text_field("text", text_options(BIGRAM, positions)),
        text1: b.add_text_field("text1", text_options(UNIGRAM, freqs)),
        old_text: b.add_text_field("old_text", text_options(BIGRAM, positions)),
        old_text1: b.add_text_field("old_text1", text_options(UNIGRAM, freqs)),
        chat_name: b.add_text_field("chat_name", text_options(BIGRAM, positions)),
        sender_name: b.add_text_field("sender_name", text_options(BIGRAM, positions)),
        chat: b.add_text_field("chat", STRING),
        chat_ref: b.add_text_field("chat_ref", STRING),
        sender: b.add_text_field("sender", STRING),
        sender_ref: b.add_text_field("sender_ref", STRING),
        platform: b.add_u64_field("platform", ord.clone()),
        content_type: b.add_u64_field("content_type", ord.clone()),
        state: b.add_u64_field("state", ord),
        sent_at: b.add_i64_field("sent_at", NumericOptions::default().set_fast()),
    };
    (b.build(), fields)
}

/// Registers the tokenizers the schema names; every opened or created index needs this.
pub fn register_tokenizers(index: &Index) {
    index.tokenizers().register(BIGRAM, BigramTokenizer);
    index.tokenizers().register(UNIGRAM, UnigramTokenizer);
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

/// The stored key of a message.
pub fn key_string(k: &MessageKey) -> String {
    format!("{}{SEP}{}{SEP}{}{SEP}{}", k.platform, k.account, k.chat_id, k.msg_id)
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

/// The term deleting a message's document.
pub fn key_term(f: &Fields, k: &MessageKey) -> Term {
    Term::from_field_text(f.key, &key_string(k))
}

/// The document of a message: its current state, plus earlier texts when it was edited.
pub fn document(f: &Fields, r: &MessageRecord, earlier_texts: &[String]) -> TantivyDocument {
    let k = &r.key;
    let mut d = TantivyDocument::default();
    d.add_text(f.key, key_string(k));
    d.add_text(f.text, &r.text);
    d.add_text(f.text1, &r.text);
    for t in earlier_texts {
        d.add_text(f.old_text, t);
        d.add_text(f.old_text1, t);
    }
    let chat_name = r.chat_name.as_deref().unwrap_or("");
    let sender_name = r.sender_name.as_deref().unwrap_or("");
    if !chat_name.is_empty() {
        d.add_text(f.chat_name, chat_name);
    }
    if !sender_name.is_empty() {
        d.add_text(f.sender_name, sender_name);
    }
    let chat = chat_key(k.platform, &k.account, &k.chat_id);
    d.add_text(f.chat_ref, format!("{chat}{SEP}{chat_name}"));
    d.add_text(f.chat, chat);
    let sender = sender_key(k.platform, &r.sender_id);
    d.add_text(f.sender_ref, format!("{sender}{SEP}{sender_name}"));
    d.add_text(f.sender, sender);
    d.add_u64(f.platform, platform_ord(k.platform));
    d.add_u64(f.content_type, content_type_ord(r.content_type));
    d.add_u64(f.state, state_ord(r.state));
    d.add_i64(f.sent_at, r.sent_at);
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
        assert_eq!(parse_key(&key_string(&k)), Some(k));
        assert_eq!(parse_key("nope"), None);
    }
}
