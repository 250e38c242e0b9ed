//! The keys the store derives, one name each. Every other module uses these names; SQL column
//! names of existing archives are kept and listed here.
//!
//! | Rust name | What it is | Stored in |
//! |---|---|---|
//! | [`proto::MessageKey`] | a message's identity: platform, account, chat id, message id | `messages`, `events` (text columns) |
//! | ordered key ([`RowKeys::first`]) | 64 bits of an identity that keep numbered messages together and in order: the first row key tried. Which of two it is depends on the archive ([`KeyScheme`]): [`RowKeys::by_number`] (schema 7) or [`RowKeys::by_chat`] (archives that held messages under schema 6) | — |
//! | identity hash ([`RowKeys::hash`]) | 64-bit hash of an identity: where the probe goes on when the ordered key is another identity's (and the first key tried before schema 6) | — |
//! | row key | the 64-bit key an identity's `messages` row holds: its ordered key, else the first free value of `hash, hash + 1, …` ([`crate::dedup::resolve`]) | `messages.mkey`, `events.mkey`, `revisions.mkey` |
//! | content hash | sha256 of an event's dedup view (identity, kind, body; never receive or occurred times: `prepare.rs`) | — |
//! | content key ([`content_key`]) | first 8 bytes of the content hash | `messages.msg_key` (of the `message` event the row was made from), `dedup.k` |
//! | content check ([`content_check`]) | bytes 8..16 of the content hash | `dedup.h` |
//!
//! Two events are the same event when their content key and content check are equal (a false
//! duplicate needs a 128-bit collision); a `message` row's content key alone is trusted because
//! the row's identity is compared too.
//!
//! **Why an ordered key.** Every new message inserts its row key into `messages_by_key`, and a
//! transaction writes each index page it touched to the WAL whole. With the identity hash as
//! the key, the messages of one commit land on as many pages as they are messages (the index
//! has more leaves than a commit has messages once an archive holds a few hundred thousand),
//! so the key index alone wrote more WAL pages than every new row together. Schema 6's ordered
//! key ([`RowKeys::by_chat`]) puts a chat's messages in one run of the index (its high half is
//! a hash of the chat) and, where the platform numbers its messages, in the order they come
//! (its low half is that number): a commit then touches about one page per chat it holds, as
//! the `UNIQUE(platform, chat_id, msg_id)` index of a hand-written insert does. Schema 7's
//! ([`RowKeys::by_number`]) orders a numbered message by its number alone within its account:
//! a catch-up commit of ~700 messages from ~200 chats then appends to one run of the index
//! instead of touching a page per chat (`docs/performance.md`, "Pipeline"). That the numbers
//! run across chats is an inference: Goofish reads and recalls a message by its `.PNM` id
//! alone, without its chat (protocols.md §3), and e-office's documentation makes its ids from
//! `Date.now()` (§1.4). Were a platform to number per chat, its chats' equal numbers would
//! collide on one key and all but the first take the probe sequence, in random order: as
//! correct (`store/tests/properties.rs` stores messages that share a number; the root test
//! `goofish_store.rs` archives a simulator that numbers per chat), but slower — Goofish 1M
//! through the pipeline ran at 0.37×–0.42× of the raw insert numbered per chat against
//! 0.53×–0.54× numbered across chats (`bench pipeline --goofish-numbering`,
//! `docs/performance.md`). Message ids that
//! are not numbers get their chat's hash and the low half of the identity hash: their chat's
//! run is in random order, as the whole index was before schema 6. Correctness never rests on
//! the order: a key held by another identity moves the probe on.

use proto::{ChatEvent, MessageKey, Platform};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Where a message identity's row is looked for: its ordered key ([`RowKeys::first`]) first,
/// then the probe sequence `hash, hash + 1, …` ([`crate::dedup::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowKeys {
    /// Schema 6's ordered key. High 32 bits: a hash of the chat (platform, account, chat id).
    /// Low 32 bits: the message id's number ([`msg_number`]) if it has one, else the low half
    /// of `hash`.
    pub by_chat: i64,
    /// Schema 7's ordered key. For an id with a number: high 8 bits a hash of the account
    /// (platform, account), low 56 bits the number. Otherwise `by_chat`.
    pub by_number: i64,
    /// 64 bits of sha256 over the length-prefixed platform, account, chat id and message id.
    pub hash: i64,
}

/// The bits of [`RowKeys::by_number`] that hold the number.
const NUMBER_BITS: u64 = 0x00FF_FFFF_FFFF_FFFF;

impl RowKeys {
    pub(crate) fn of(platform: &str, account: &str, chat_id: &str, msg_id: &str) -> RowKeys {
        let mut h = Sha256::new();
        for part in [platform, account] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        let number = msg_number(msg_id);
        let account_hash = number.map(|_| content_key(&h.clone().finalize().into()) as u64);
        h.update((chat_id.len() as u64).to_be_bytes());
        h.update(chat_id.as_bytes());
        let chat = content_key(&h.clone().finalize().into()) as u64;
        h.update((msg_id.len() as u64).to_be_bytes());
        h.update(msg_id.as_bytes());
        let hash = content_key(&h.finalize().into());
        let by_chat = ((chat & !0xFFFF_FFFF) | (number.unwrap_or(hash as u64) & 0xFFFF_FFFF)) as i64;
        let by_number = match (number, account_hash) {
            (Some(n), Some(a)) => ((a & !NUMBER_BITS) | (n & NUMBER_BITS)) as i64,
            _ => by_chat,
        };
        RowKeys {
            by_chat,
            by_number,
            hash,
        }
    }

    /// The ordered key: the first row key tried for the identity in an archive of `scheme`.
    pub(crate) fn first(&self, scheme: KeyScheme) -> i64 {
        match scheme {
            KeyScheme::ByNumber => self.by_number,
            KeyScheme::ByChat | KeyScheme::Mixed => self.by_chat,
        }
    }

    pub(crate) fn of_key(key: &MessageKey) -> RowKeys {
        RowKeys::of(key.platform.as_str(), &key.account, &key.chat_id, &key.msg_id)
    }
}

/// Which row keys an archive's `messages` rows may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyScheme {
    /// An archive created by schema 7 or later: every row was stored at its
    /// [`RowKeys::by_number`] or, when another identity held that, in its hash sequence; a
    /// free ordered key means the identity has no row.
    ByNumber,
    /// An archive that held messages under schema 6: the same with [`RowKeys::by_chat`], for
    /// good (its rows are where schema 6 put them).
    ByChat,
    /// Rows stored before schema 6 sit in their hash sequence whatever their ordered key
    /// ([`RowKeys::by_chat`]) holds: a free ordered key sends the probe on to the hash sequence.
    Mixed,
}

/// `meta` key set by the schema 6 migration on an archive that held messages before it.
pub(crate) const HASH_KEYED_ROWS: &str = "hash_keyed_rows";

/// `meta` key set by the schema 7 migration on an archive that held messages before it.
pub(crate) const CHAT_KEYED_ROWS: &str = "chat_keyed_rows";

impl KeyScheme {
    /// The scheme of the archive `conn` is open on. An archive before schema 6 (one a reader
    /// opens before any writer has migrated it) may hold rows at their identity hash, one
    /// before schema 7 at their [`RowKeys::by_chat`]. An older archive without messages is
    /// read as the migration will leave it ([`KeyScheme::ByNumber`]), so that a reader opened
    /// before a writer migrates it finds the rows that writer adds.
    pub(crate) fn of(conn: &rusqlite::Connection) -> rusqlite::Result<KeyScheme> {
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let flagged = |key: &str| -> rusqlite::Result<bool> {
            conn.query_row("SELECT EXISTS(SELECT 1 FROM meta WHERE key = ?1)", [key], |r| r.get(0))
        };
        let unmigrated_rows = || -> rusqlite::Result<bool> {
            Ok(version < 7 && conn.query_row("SELECT EXISTS(SELECT 1 FROM messages)", [], |r| r.get(0))?)
        };
        Ok(if flagged(HASH_KEYED_ROWS)? || (version < 6 && unmigrated_rows()?) {
            KeyScheme::Mixed
        } else if flagged(CHAT_KEYED_ROWS)? || unmigrated_rows()? {
            KeyScheme::ByChat
        } else {
            KeyScheme::ByNumber
        })
    }

    /// Whether a free ordered key means the identity has no row.
    pub(crate) fn free_means_new(self) -> bool {
        self != KeyScheme::Mixed
    }
}

/// The number a platform gave a message, when its id spells one: its decimal digits read as
/// one number, if there are 6 to 19 of them (`4263141580162.PNM` → 4263141580162,
/// `m000001234` → 1234). Fewer digits say little; more do not fit 64 bits.
fn msg_number(msg_id: &str) -> Option<u64> {
    let digits = msg_id.bytes().filter(u8::is_ascii_digit).count();
    if !(6..=19).contains(&digits) {
        return None;
    }
    Some(
        msg_id
            .bytes()
            .filter(u8::is_ascii_digit)
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

/// The content key of a content hash (its first 8 bytes as an SQLite integer).
pub fn content_key(content_hash: &[u8; 32]) -> i64 {
    i64::from_be_bytes(content_hash[..8].try_into().expect("8 bytes"))
}

/// The content check of a content hash (its bytes 8..16).
pub fn content_check(content_hash: &[u8; 32]) -> i64 {
    i64::from_be_bytes(content_hash[8..16].try_into().expect("8 bytes"))
}

/// The row keys of an event's message (events that target one).
pub(crate) fn row_keys_of(platform: Platform, account: &str, ev: &ChatEvent) -> RowKeys {
    RowKeys::of(
        platform.as_str(),
        account,
        &ev.chat_id,
        ev.msg_id.as_deref().unwrap_or_default(),
    )
}

/// What the dedup hash covers: identity, kind and content; never receive or occurred times.
/// The definition of the content hash; `prepare.rs` writes the same bytes from the envelope's
/// slices.
#[derive(Serialize)]
pub(crate) struct DedupView<'a> {
    platform: &'a str,
    account: &'a str,
    chat_id: &'a str,
    msg_id: Option<&'a str>,
    #[serde(flatten)]
    body: &'a proto::EventBody,
}

impl<'a> DedupView<'a> {
    pub(crate) fn of(platform: Platform, account: &'a str, ev: &'a ChatEvent) -> Self {
        DedupView {
            platform: platform.as_str(),
            account,
            chat_id: &ev.chat_id,
            msg_id: ev.msg_id.as_deref(),
            body: &ev.body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{RowKeys, msg_number};

    /// The identity hash is where every row of a version 5 archive sits: it must not change.
    #[test]
    fn the_identity_hash_is_the_one_earlier_archives_were_keyed_by() {
        // sha256(len ‖ "goofish" ‖ len ‖ "shop" ‖ len ‖ "48011000001" ‖ len ‖ "4263141580162.PNM"),
        // first 8 bytes, as written by schema versions 1 to 5.
        let k = RowKeys::of("goofish", "shop", "48011000001", "4263141580162.PNM");
        assert_eq!(k.hash, -6_228_798_300_111_365_368);
        assert_eq!(
            RowKeys::of("yunhu", "team", "c1", "m1").hash,
            -6_103_079_523_148_126_414
        );
    }

    #[test]
    fn a_numbered_message_is_keyed_by_its_chat_then_its_number() {
        let k = RowKeys::of("goofish", "shop", "48011000001", "4263141580162.PNM");
        let chat = 0xe989_1722_u64 << 32;
        assert_eq!(k.by_chat, (chat | (4_263_141_580_162u64 & 0xFFFF_FFFF)) as i64);
        // The chat's next messages follow it in the key index, another chat's are elsewhere.
        let next: Vec<i64> = (1..=5)
            .map(|i| {
                RowKeys::of(
                    "goofish",
                    "shop",
                    "48011000001",
                    &format!("{}.PNM", 4_263_141_580_162u64 + i),
                )
                .by_chat
            })
            .collect();
        assert!(next.windows(2).all(|w| w[1] == w[0] + 1) && next[0] == k.by_chat + 1);
        let other = RowKeys::of("goofish", "shop", "48011000002", "4263141580162.PNM");
        assert_ne!(other.by_chat >> 32, k.by_chat >> 32);
    }

    #[test]
    fn a_numbered_message_is_keyed_by_its_number_across_the_accounts_chats() {
        // Goofish numbers messages across chats: one commit's messages of many chats follow
        // one another in the key index.
        let keys: Vec<i64> = (0..6u64)
            .map(|i| {
                let chat = format!("4801100000{}", i % 3);
                RowKeys::of("goofish", "shop", &chat, &format!("{}.PNM", 4_263_141_580_162 + i)).by_number
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[1] == w[0] + 1), "{keys:?}");
        assert_eq!(keys[0] & 0x00FF_FFFF_FFFF_FFFF, 4_263_141_580_162);
        // Another account's numbers sit in another run (the high byte, for these two).
        let other = RowKeys::of("goofish", "shop2", "48011000000", "4263141580162.PNM").by_number;
        assert_ne!(other >> 56, keys[0] >> 56);
        // An id without a number keeps its chat's key.
        let k = RowKeys::of("yunhu", "team", "c1", "m1");
        assert_eq!(k.by_number, k.by_chat);
    }

    #[test]
    fn an_id_without_a_number_takes_the_low_half_of_its_hash() {
        for id in ["m1", "yh-d002", "abc-12345", "12345"] {
            let k = RowKeys::of("yunhu", "team", "c1", id);
            assert_eq!(k.by_chat & 0xFFFF_FFFF, k.hash & 0xFFFF_FFFF, "{id}");
            assert_eq!(k.by_chat >> 32, RowKeys::of("yunhu", "team", "c1", "m2").by_chat >> 32);
        }
    }

    #[test]
    fn six_to_nineteen_digits_make_a_number() {
        assert_eq!(msg_number("m000001234"), Some(1234));
        assert_eq!(msg_number("4263141580162.PNM"), Some(4_263_141_580_162));
        assert_eq!(msg_number("123456"), Some(123_456));
        assert_eq!(msg_number("12345"), None);
        assert_eq!(msg_number("9999999999999999999"), Some(9_999_999_999_999_999_999));
        assert_eq!(msg_number("12345678901234567890"), None);
    }
}
