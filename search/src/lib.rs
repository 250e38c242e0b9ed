//! Chinese-aware full-text search over the archive.
//!
//! The index (`data_dir/index`, tantivy) is derived from the event log and can always be
//! rebuilt from it. It holds one document per message with its current text, names, state
//! and filter fields; texts are indexed but not stored (results are read back from the
//! archive).
//!
//! # Layout
//! - `tokenizer`: CJK bigrams with real positions, run-end marks and lower-cased words: any
//!   query of CJK characters matches exactly the messages containing it.
//! - `schema`: fields and the document of a message.
//! - `query`: the user's syntax (AND, `"phrase"`, `-exclude`, `OR`).
//! - `compile`: parsed query + filters → tantivy query; `phrase` (exact phrases with top-k
//!   pruning) and `char_query` (one CJK character) are its own query types.
//! - `index`: the index directory and its commit payload (last indexed `seq`).
//! - `lock`: the writer lock naming the process that holds it.
//! - `indexer`: follows `events.seq` ([`follow`] for `run`, catch-up, rebuild).
//! - `searcher`: ranked search (`ranked`: top k by score, newer first among equals),
//!   `--chat`/`--sender` resolution.
//! - `highlight`: hit ranges and snippets for display.
//! - `records`: hits → the current records of their messages, read back from the store.
#![deny(missing_docs)]

mod char_query;
mod compile;
mod error;
pub mod highlight;
mod index;
mod indexer;
mod lock;
mod materialize;
mod phrase;
pub mod query;
mod ranked;
mod records;
pub mod schema;
mod searcher;
#[cfg(test)]
mod testing;
pub mod tokenizer;

pub use compile::{Filters, is_searchable};
pub use error::SearchError;
pub use index::{INDEX_DIR, Payload, SearchIndex, index_path};
pub use indexer::{Indexer, IndexerOptions, Opened, follow, index_lag};
pub use lock::{LOCK_FILE, WriterLock, holder};
pub use query::{Clause, ParsedQuery, parse};
pub use records::with_records;
pub use searcher::{Hit, Named, SearchRequest, Searcher, Sort, resolve};
