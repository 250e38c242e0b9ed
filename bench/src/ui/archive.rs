//! The archive `bench ui` reads: the perf-notes corpus (seed 42, five platforms, 2,000 chats
//! per platform, 5,000 senders, Chinese business text) with every `step`-th WeCom message
//! regrouped into one large chat, indexed through the same path as `chatvault reindex`, and a
//! reviewer who can log in. An existing archive is reused as it is (opened for writing once,
//! which brings an older schema to the current version, as `run` would).

use std::path::Path;
use std::time::Instant;

use proto::{MessageRecord, Platform, TimestampMs};
use sim::corpus::{Corpus, Row};
use store::access::{AccessDb, Role};

use crate::BenchError;

/// The corpus batches' account.
pub(crate) const ACCOUNT: &str = "bench";
/// The large chat's id.
pub(crate) const BIG_CHAT: &str = "chat-big";
/// Its platform (corpus rows `i % 5 == 1`).
pub(crate) const BIG_PLATFORM: Platform = Platform::Wecom;
/// The reviewer the benchmark signs in as (no scopes: sees everything).
pub(crate) const USER: &str = "bench-reviewer";
/// Its password (a throwaway archive's throwaway user).
pub(crate) const PASSWORD: &str = "bench 农业 password";

/// What [`prepare`] did and found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Prepared {
    /// Messages in the archive.
    pub messages: u64,
    /// Seconds spent appending the corpus (None: an existing archive was reused).
    pub built_secs: Option<f64>,
    /// Seconds spent indexing it from the event log (None: the index was there).
    pub indexed_secs: Option<f64>,
    /// Schema version of a reused archive before it was opened for writing, and the seconds
    /// that open (with any migration) took.
    pub reused_from_schema: Option<(i64, f64)>,
    /// The large chat.
    pub big: ChatPages,
    /// An ordinary chat of the same platform (the median by message count).
    pub small: ChatPages,
}

/// A chat's message count and the messages its pages are opened at.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChatPages {
    /// Chat id (on [`BIG_PLATFORM`], account [`ACCOUNT`]).
    pub chat_id: String,
    /// Its messages.
    pub messages: u64,
    /// Its first message (id, sent at).
    pub first: (String, TimestampMs),
    /// The message nearest the middle of its time span.
    pub middle: (String, TimestampMs),
    /// Who sent its first message.
    pub first_sender: String,
}

/// The corpus rows of an `n`-message archive whose large chat holds up to `chat_size`
/// messages: every `step`-th message of the large chat's platform, spread over the whole
/// time range as a long-lived busy group's would be.
pub(crate) fn rows(n: usize, chat_size: usize) -> impl Iterator<Item = Row> {
    let per_platform = (n / 5).max(1);
    let step = (per_platform / chat_size.max(1)).max(1) as u64;
    let chat_size = chat_size as u64;
    Corpus::new(42).take(n).map(move |mut r| {
        let k = r.i / 5;
        if r.i % 5 == 1 && k % step == 0 && k / step < chat_size {
            r.chat_id = BIG_CHAT.to_string();
        }
        r
    })
}

/// Builds the archive and index in `data` unless they are there, and adds the reviewer.
pub(crate) fn prepare(data: &Path, n: usize, chat_size: usize) -> Result<Prepared, BenchError> {
    let db = data.join(store::DB_FILE);
    let mut built_secs = None;
    let mut reused_from_schema = None;
    if db.exists() {
        let version: i64 = rusqlite::Connection::open(&db)?.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let t = Instant::now();
        drop(store::Store::open(data, store::StoreOptions::default())?);
        reused_from_schema = Some((version, t.elapsed().as_secs_f64()));
        eprintln!(
            "  reusing the archive in {} (schema {version}; opened for writing in {:.1} s)",
            data.display(),
            t.elapsed().as_secs_f64()
        );
    } else {
        eprintln!("  appending {n} corpus messages (large chat: {chat_size})…");
        built_secs = Some(super::super::export::build_archive_from(data, rows(n, chat_size))?);
    }
    let reader = store::StoreReader::open(data)?;
    let indexed_secs = if search::index_path(data).exists() {
        // Whatever the index has not seen (nothing, normally), as `chatvault search` would.
        let (mut ix, _) = search::Indexer::open(data, search::IndexerOptions::default())?;
        ix.catch_up(&reader, 200_000, &mut |_, _| {})?;
        ix.finish()?;
        None
    } else {
        eprintln!("  indexing…");
        let t = Instant::now();
        let mut ix = search::Indexer::open_for_rebuild(data, search::IndexerOptions::bulk())?;
        ix.catch_up(&reader, usize::MAX, &mut |_, _| {})?;
        ix.finish()?;
        Some(t.elapsed().as_secs_f64())
    };
    add_reviewer(data)?;
    Ok(Prepared {
        messages: reader.stats()?.messages,
        built_secs,
        indexed_secs,
        reused_from_schema,
        big: chat_pages(&reader, BIG_CHAT)?,
        small: chat_pages(&reader, &ordinary_chat(&reader)?)?,
    })
}

/// The reviewer, created or given the benchmark's password again.
fn add_reviewer(data: &Path) -> Result<(), BenchError> {
    let access = AccessDb::open(data).map_err(failed)?;
    let hash = ::ui::hash_password(PASSWORD).map_err(|e| BenchError::Failed(format!("password hash: {e}")))?;
    if access.user(USER).map_err(failed)?.is_some() {
        access.set_password(USER, &hash).map_err(failed)?;
    } else {
        access
            .add_user(USER, &hash, Role::Reviewer, &[], proto::time::now_ms())
            .map_err(failed)?;
    }
    Ok(())
}

fn failed(e: store::access::AccessError) -> BenchError {
    BenchError::Failed(format!("access database: {e}"))
}

/// The median chat by message count among the large chat's platform's other chats: one the
/// corpus generator filled like any other (about `n / 10,000` messages).
fn ordinary_chat(reader: &store::StoreReader) -> Result<String, BenchError> {
    let mut chats: Vec<_> = reader
        .chats()?
        .into_iter()
        .filter(|c| c.platform == BIG_PLATFORM && c.account == ACCOUNT && c.chat_id != BIG_CHAT)
        .collect();
    chats.sort_by_key(|c| c.messages);
    chats
        .get(chats.len() / 2)
        .map(|c| c.chat_id.clone())
        .ok_or_else(|| BenchError::Failed(format!("no chat on {BIG_PLATFORM} besides `{BIG_CHAT}`")))
}

fn chat_pages(reader: &store::StoreReader, chat_id: &str) -> Result<ChatPages, BenchError> {
    let count = reader
        .chats()?
        .into_iter()
        .find(|c| c.platform == BIG_PLATFORM && c.account == ACCOUNT && c.chat_id == chat_id)
        .map(|c| c.messages)
        .ok_or_else(|| {
            BenchError::Failed(format!(
                "no chat `{chat_id}` on {BIG_PLATFORM}: the archive was not built by `chatvault bench ui`"
            ))
        })?;
    let one = |at: TimestampMs, before: usize, after: usize| -> Result<MessageRecord, BenchError> {
        reader
            .chat_timeline(BIG_PLATFORM, ACCOUNT, chat_id, at, before, after)?
            .pop()
            .ok_or_else(|| BenchError::Failed(format!("chat `{chat_id}` has no messages")))
    };
    let first = one(TimestampMs::MIN, 0, 1)?;
    let last = one(TimestampMs::MAX, 1, 0)?;
    let middle = one(first.sent_at + (last.sent_at - first.sent_at) / 2, 0, 1)?;
    Ok(ChatPages {
        chat_id: chat_id.to_string(),
        messages: count,
        first_sender: first.sender_id,
        first: (first.key.msg_id, first.sent_at),
        middle: (middle.key.msg_id, middle.sent_at),
    })
}
