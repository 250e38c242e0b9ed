//! The index directory (`data_dir/index`): opening, creating, and the commit payload that
//! records how far into the event log the index is.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tantivy::Index;
use tantivy::directory::MmapDirectory;

use crate::SearchError;
use crate::schema::{self, Fields, SCHEMA_VERSION};

/// Directory of the index inside the data directory.
pub const INDEX_DIR: &str = "index";

/// What every commit records (JSON in the tantivy commit payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// [`SCHEMA_VERSION`] the index was built with.
    pub schema: u32,
    /// Last event `seq` whose effect is in the index.
    pub seq: u64,
}

/// An opened index with its fields.
#[derive(Clone)]
pub struct SearchIndex {
    pub(crate) index: Index,
    pub(crate) fields: Fields,
    path: PathBuf,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").field("path", &self.path).finish()
    }
}

/// Path of the index directory.
pub fn index_path(data_dir: &Path) -> PathBuf {
    data_dir.join(INDEX_DIR)
}

impl SearchIndex {
    /// Opens an existing index for searching; [`SearchError::Missing`] or
    /// [`SearchError::Corrupt`] (both tell the user to run `chatvault reindex`).
    pub fn open(data_dir: &Path) -> Result<SearchIndex, SearchError> {
        let path = index_path(data_dir);
        if !path.join("meta.json").exists() {
            return Err(SearchError::Missing(path));
        }
        let corrupt = |reason: String| SearchError::Corrupt {
            path: path.clone(),
            reason,
        };
        let index = Index::open_in_dir(&path).map_err(|e| corrupt(e.to_string()))?;
        let (expected, fields) = schema::schema();
        if index.schema() != expected {
            return Err(corrupt("it was built with a different schema".into()));
        }
        schema::register_tokenizers(&index);
        let ix = SearchIndex {
            index,
            fields,
            path: path.clone(),
        };
        let payload = ix.payload()?;
        if payload.schema != SCHEMA_VERSION {
            return Err(corrupt(format!(
                "it was built by index version {}, this chatvault uses {SCHEMA_VERSION}",
                payload.schema
            )));
        }
        Ok(ix)
    }

    /// Creates an empty index, replacing whatever is in the directory. Only call while
    /// holding the writer lock.
    pub(crate) fn create_fresh(data_dir: &Path) -> Result<SearchIndex, SearchError> {
        let path = index_path(data_dir);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|source| SearchError::Io {
                path: path.clone(),
                source,
            })?;
        }
        std::fs::create_dir_all(&path).map_err(|source| SearchError::Io {
            path: path.clone(),
            source,
        })?;
        let (schema, fields) = schema::schema();
        let dir = MmapDirectory::open(&path).map_err(|e| SearchError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let index = Index::create(dir, schema, Default::default())?;
        schema::register_tokenizers(&index);
        Ok(SearchIndex { index, fields, path })
    }

    /// The recorded payload of the last commit.
    pub fn payload(&self) -> Result<Payload, SearchError> {
        let corrupt = |reason: String| SearchError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        let metas = self.index.load_metas().map_err(|e| corrupt(e.to_string()))?;
        let text = metas
            .payload
            .ok_or_else(|| corrupt("it records no position in the event log".into()))?;
        serde_json::from_str(&text).map_err(|e| corrupt(format!("its commit payload does not decode: {e}")))
    }

    /// Last event `seq` in the index.
    pub fn indexed_seq(&self) -> Result<u64, SearchError> {
        Ok(self.payload()?.seq)
    }

    /// The index directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fields.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }
}
