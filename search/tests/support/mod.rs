//! A small archive builder for the search tests: a real store in a temporary directory.

#![allow(dead_code)]

use std::path::Path;

use chatvault_search as search;

use proto::batch::media;
use proto::{ChatEvent, ContentType, EventBatch, Ingested, NewMessage, Platform, RawPayload};
use search::{Indexer, IndexerOptions, Searcher};
use store::{Store, StoreOptions};

/// 2026-03-01T00:00:00Z.
pub const T0: i64 = 1_772_323_200_000;

/// A message to archive.
#[derive(Clone)]
pub struct Msg {
    pub platform: Platform,
    pub chat_id: &'static str,
    pub chat_name: &'static str,
    pub sender_id: &'static str,
    pub sender_name: &'static str,
    pub id: String,
    pub text: String,
    pub sent_at: i64,
    pub content_type: ContentType,
}

impl Msg {
    pub fn text(id: impl Into<String>, text: impl Into<String>) -> Msg {
        Msg {
            platform: Platform::Yunhu,
            chat_id: "g1",
            chat_name: "报销群",
            sender_id: "u1",
            sender_name: "张三",
            id: id.into(),
            text: text.into(),
            sent_at: T0,
            content_type: ContentType::Text,
        }
    }

    /// The same message in chat `chat_id` (`chat_name`) of `platform`.
    pub fn in_chat(self, platform: Platform, chat_id: &'static str, chat_name: &'static str) -> Msg {
        Msg {
            platform,
            chat_id,
            chat_name,
            ..self
        }
    }

    /// The same message from `sender_id` (`sender_name`).
    pub fn from(self, sender_id: &'static str, sender_name: &'static str) -> Msg {
        Msg {
            sender_id,
            sender_name,
            ..self
        }
    }

    /// The same message sent at `sent_at`.
    pub fn at(self, sent_at: i64) -> Msg {
        Msg { sent_at, ..self }
    }

    pub fn event(&self) -> ChatEvent {
        testkit::message(
            self.chat_id,
            &self.id,
            NewMessage {
                chat_name: Some(self.chat_name.into()),
                sender_id: self.sender_id.into(),
                sender_name: Some(self.sender_name.into()),
                content_type: self.content_type,
                ..testkit::text(&self.text, self.sent_at)
            },
        )
    }
}

/// An archive in a temporary directory.
pub struct Archive {
    pub dir: tempfile::TempDir,
    store: Store,
}

impl Archive {
    pub fn new() -> Archive {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path(),
            StoreOptions {
                synchronous_full: false,
                ..Default::default()
            },
        )
        .unwrap();
        Archive { dir, store }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Appends events of one platform as one batch.
    pub fn append(&mut self, platform: Platform, events: Vec<ChatEvent>) {
        let items = events
            .into_iter()
            .map(|e| Ingested::Payload {
                raw: RawPayload::now(media::JSON, b"{}".to_vec()),
                events: vec![e],
            })
            .collect();
        let (batch, _rx) = EventBatch::new(platform, "acct", items, None);
        self.store.append(&[&batch]).unwrap();
    }

    pub fn add(&mut self, msgs: &[Msg]) {
        for m in msgs {
            self.append(m.platform, vec![m.event()]);
        }
    }

    /// Brings the index up to the head of the log and opens a searcher.
    /// A new archive holding `msgs`, indexed.
    pub fn indexed(msgs: &[Msg]) -> (Archive, Searcher) {
        let mut a = Archive::new();
        a.add(msgs);
        let s = a.index();
        (a, s)
    }

    pub fn index(&self) -> Searcher {
        let (mut ix, _) = Indexer::open(self.path(), IndexerOptions::default()).unwrap();
        let reader = store::StoreReader::open(self.path()).unwrap();
        ix.catch_up(&reader, 10_000, &mut |_, _| {}).unwrap();
        drop(ix);
        Searcher::open(self.path()).unwrap()
    }
}

/// Message ids found for `query` (sorted), with default filters.
pub fn ids(s: &Searcher, query: &str) -> Vec<String> {
    ids_with(s, query, search::Filters::default(), false)
}

pub fn ids_with(s: &Searcher, query: &str, filters: search::Filters, all_revisions: bool) -> Vec<String> {
    let req = search::SearchRequest {
        query: search::parse(query).unwrap(),
        filters,
        all_revisions,
        sort: search::Sort::Relevance,
        limit: 1000,
    };
    let mut v: Vec<String> = s.search(&req).unwrap().into_iter().map(|h| h.key.msg_id).collect();
    v.sort();
    v
}
