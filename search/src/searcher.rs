//! Running a search: the query and filters against the committed index, ranked by relevance
//! with newer messages first among equal scores, or newest first.

use std::collections::BTreeMap;
use std::path::Path;

use proto::MessageKey;
use tantivy::collector::TopDocs;
use tantivy::columnar::StrColumn;
use tantivy::schema::Field;
use tantivy::{DocAddress, IndexReader, Order, ReloadPolicy};

use crate::SearchError;
use crate::compile::{self, Filters};
use crate::index::SearchIndex;
use crate::query::ParsedQuery;
use crate::ranked::TopRanked;
use crate::schema::{self, SEP};

/// Result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Best match first; newer first among equal scores.
    #[default]
    Relevance,
    /// Newest first.
    Time,
}

/// What to search for.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Parsed query (empty = every message matching the filters).
    pub query: ParsedQuery,
    /// Filters.
    pub filters: Filters,
    /// Also match earlier texts of edited messages.
    pub all_revisions: bool,
    /// Order.
    pub sort: Sort,
    /// Most results.
    pub limit: usize,
}

/// One result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The message.
    pub key: MessageKey,
    /// Relevance (`None` when sorted by time).
    pub score: Option<f32>,
    /// Sent time (UTC ms).
    pub sent_at: i64,
}

/// A chat or sender known to the index, for `--chat` / `--sender` resolution.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Named {
    /// The filter key (`platform␟account␟chat_id` or `platform␟sender_id`).
    pub key: String,
    /// Id on its platform.
    pub id: String,
    /// Names seen for it.
    pub names: Vec<String>,
}

/// A reader on the committed index.
pub struct Searcher {
    ix: SearchIndex,
    reader: IndexReader,
}

impl std::fmt::Debug for Searcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Searcher").field("index", &self.ix).finish()
    }
}

impl Searcher {
    /// Opens the index in `data_dir` for reading (see [`SearchIndex::open`] for errors).
    pub fn open(data_dir: &Path) -> Result<Searcher, SearchError> {
        Self::new(SearchIndex::open(data_dir)?)
    }

    /// A reader on an opened index.
    pub fn new(ix: SearchIndex) -> Result<Searcher, SearchError> {
        let reader = ix
            .index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Searcher { ix, reader })
    }

    /// Sees the latest commit.
    pub fn reload(&self) -> Result<(), SearchError> {
        Ok(self.reader.reload()?)
    }

    /// The index.
    pub fn index(&self) -> &SearchIndex {
        &self.ix
    }

    /// Number of indexed messages.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Runs a search.
    pub fn search(&self, req: &SearchRequest) -> Result<Vec<Hit>, SearchError> {
        if req.limit == 0 {
            return Ok(Vec::new());
        }
        let f = &self.ix.fields;
        let query = compile::build(f, &req.query, &req.filters, req.all_revisions)?;
        let searcher = self.reader.searcher();
        let scored = !req.query.clauses.is_empty() && req.sort == Sort::Relevance;
        let hits: Vec<(Option<f32>, Option<i64>, DocAddress)> = if scored {
            searcher
                .search(&query, &TopRanked { limit: req.limit })?
                .into_iter()
                .map(|r| (Some(r.score), Some(r.sent_at), r.addr))
                .collect()
        } else {
            let collector = TopDocs::with_limit(req.limit).order_by_fast_field::<i64>("sent_at", Order::Desc);
            searcher
                .search(&query, &collector)?
                .into_iter()
                .map(|(t, a)| (None, t, a))
                .collect()
        };
        let mut keys: Vec<Option<Option<StrColumn>>> = vec![None; searcher.segment_readers().len()];
        let mut text = String::new();
        let mut out = Vec::with_capacity(hits.len());
        for (score, sent_at, addr) in hits {
            let seg = addr.segment_ord as usize;
            if keys[seg].is_none() {
                keys[seg] = Some(searcher.segment_reader(addr.segment_ord).fast_fields().str("key")?);
            }
            let column = keys[seg].as_ref().and_then(Option::as_ref);
            let found = match column.and_then(|c| c.term_ords(addr.doc_id).next().map(|o| (c, o))) {
                Some((c, ord)) => c.ord_to_str(ord, &mut text).map_err(|source| SearchError::Io {
                    path: self.ix.path().to_path_buf(),
                    source,
                })?,
                None => false,
            };
            let key = found
                .then(|| schema::parse_key(&text))
                .flatten()
                .ok_or_else(|| SearchError::Corrupt {
                    path: self.ix.path().to_path_buf(),
                    reason: "a document has no readable message key".into(),
                })?;
            out.push(Hit {
                key,
                score,
                sent_at: sent_at.unwrap_or(0),
            });
        }
        Ok(out)
    }

    /// Number of messages matching (no ranking).
    pub fn count(&self, req: &SearchRequest) -> Result<usize, SearchError> {
        let query = compile::build(&self.ix.fields, &req.query, &req.filters, req.all_revisions)?;
        Ok(self.reader.searcher().search(&query, &tantivy::collector::Count)?)
    }

    /// `sent_at` of every matching message, unordered (recall checks against a ground
    /// truth that has no message keys at hand, e.g. benchmarks with unique send times).
    pub fn matching_sent_at(&self, req: &SearchRequest) -> Result<Vec<i64>, SearchError> {
        let query = compile::build(&self.ix.fields, &req.query, &req.filters, req.all_revisions)?;
        let searcher = self.reader.searcher();
        let docs = searcher.search(&query, &tantivy::collector::DocSetCollector)?;
        let mut columns = Vec::new();
        for seg in searcher.segment_readers() {
            columns.push(seg.fast_fields().i64("sent_at")?);
        }
        Ok(docs
            .into_iter()
            .filter_map(|a| columns[a.segment_ord as usize].first(a.doc_id))
            .collect())
    }

    /// Every chat in the index with the names seen on its messages.
    pub fn chats(&self) -> Result<Vec<Named>, SearchError> {
        self.named(self.ix.fields.chat, 3)
    }

    /// [`Searcher::chats`] and every chat the archive knows (with its latest name), merged by
    /// key: what `--chat` and the UI's chat filter resolve against, so a chat whose name was
    /// learnt after its messages were indexed is still found by that name. One map lookup per
    /// chat: archives hold tens of thousands of chats.
    pub fn chats_with_archive(&self, reader: &store::StoreReader) -> Result<Vec<Named>, SearchError> {
        let mut by_key: BTreeMap<String, Named> = self.chats()?.into_iter().map(|n| (n.key.clone(), n)).collect();
        for c in reader.chats()? {
            let key = crate::schema::chat_key(c.platform, &c.account, &c.chat_id);
            let e = by_key.entry(key.clone()).or_insert_with(|| Named {
                key,
                id: c.chat_id.clone(),
                names: Vec::new(),
            });
            if let Some(name) = c.name.filter(|n| !n.is_empty() && !e.names.contains(n)) {
                e.names.push(name);
            }
        }
        Ok(by_key.into_values().collect())
    }

    /// Every sender in the index with the names seen on their messages.
    pub fn senders(&self) -> Result<Vec<Named>, SearchError> {
        self.named(self.ix.fields.sender, 2)
    }

    /// Reads the dictionary of a `…␟id␟name` column: `key_parts` parts form the key, the last
    /// of them is the id, the rest of the value is the name.
    fn named(&self, field: Field, key_parts: usize) -> Result<Vec<Named>, SearchError> {
        let name = self.ix.index.schema().get_field_name(field).to_string();
        let io_err = |source| SearchError::Io {
            path: self.ix.path().to_path_buf(),
            source,
        };
        let mut by_key: BTreeMap<String, Named> = BTreeMap::new();
        for seg in self.reader.searcher().segment_readers() {
            let Some(column) = seg.fast_fields().str(&name)? else {
                continue;
            };
            let mut stream = column.dictionary().stream().map_err(io_err)?;
            while stream.advance() {
                let Ok(term) = std::str::from_utf8(stream.key()) else {
                    continue;
                };
                let parts: Vec<&str> = term.splitn(key_parts + 1, SEP).collect();
                if parts.len() < key_parts {
                    continue;
                }
                let key = parts[..key_parts].join(&SEP.to_string());
                let id = parts[key_parts - 1].to_string();
                let name = parts.get(key_parts).copied().unwrap_or("");
                let e = by_key.entry(key.clone()).or_insert_with(|| Named {
                    key,
                    id,
                    names: Vec::new(),
                });
                if !name.is_empty() && !e.names.iter().any(|n| n == name) {
                    e.names.push(name.to_string());
                }
            }
        }
        Ok(by_key.into_values().collect())
    }
}

/// `--chat` / `--sender` resolution: the entries whose id equals `spec`, else those with a
/// name containing it (case-insensitive, full-width folded). Empty when nothing matches.
pub fn resolve<'a>(entries: &'a [Named], spec: &str) -> Vec<&'a Named> {
    let exact: Vec<&Named> = entries.iter().filter(|e| e.id == spec).collect();
    if !exact.is_empty() {
        return exact;
    }
    let needle = fold_str(spec);
    if needle.is_empty() {
        return Vec::new();
    }
    entries
        .iter()
        .filter(|e| e.names.iter().any(|n| fold_str(n).contains(&needle)))
        .collect()
}

fn fold_str(s: &str) -> String {
    s.chars()
        .map(crate::tokenizer::fold)
        .collect::<String>()
        .trim()
        .to_string()
}
