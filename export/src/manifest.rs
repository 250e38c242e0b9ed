//! `_manifest.json`: what the last finished export contains. Written last and atomically, so
//! it always describes complete files; the next export starts from its `seq` watermark.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::{Written, write_atomic};
use crate::error::{ExportError, Result};
use crate::partition::PartitionKey;

/// File name of the manifest in the export directory.
pub const MANIFEST_FILE: &str = "_manifest.json";

/// The export directory's table of contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`crate::EXPORT_SCHEMA_VERSION`] the files were written with.
    pub schema_version: u32,
    /// The chatvault version that wrote it.
    pub chatvault_version: String,
    /// When this export finished (RFC 3339, UTC).
    pub created_at: String,
    /// IANA time zone of the `date=` partitions.
    pub timezone: String,
    /// Watermark: every event with `seq <= seq` is in the export.
    pub seq: u64,
    /// The archive's hash-chain head at the watermark (`chatvault verify --expect-head`).
    pub head: ManifestHead,
    /// Every data file, sorted by path.
    pub files: Vec<FileEntry>,
}

/// Seq and hash of the chain head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestHead {
    /// Last seq.
    pub seq: u64,
    /// Hex sha256.
    pub hash: String,
}

/// One Parquet file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the export directory, `/`-separated.
    pub path: String,
    /// `messages` or `events`.
    pub table: String,
    /// Hive partition value.
    pub platform: String,
    /// Hive partition value (YYYY-MM-DD).
    pub date: String,
    /// Rows.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// Hex sha256 of the file.
    pub sha256: String,
    /// Lowest event seq in the file (events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_seq: Option<u64>,
    /// Highest event seq in the file (events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seq: Option<u64>,
}

impl FileEntry {
    /// The entry of the finished file `name` of `table` in partition `key`; `seqs` = the
    /// lowest and highest event seq it holds (events only).
    pub(crate) fn new(
        table: &str,
        key: &PartitionKey,
        name: &str,
        rows: u64,
        written: &Written,
        seqs: Option<(u64, u64)>,
    ) -> FileEntry {
        FileEntry {
            path: format!("{table}/{}/{name}", key.rel_dir().to_string_lossy().replace('\\', "/")),
            table: table.into(),
            platform: key.platform.to_string(),
            date: key.date.format("%Y-%m-%d").to_string(),
            rows,
            bytes: written.bytes,
            sha256: written.sha256.clone(),
            min_seq: seqs.map(|(lo, _)| lo),
            max_seq: seqs.map(|(_, hi)| hi),
        }
    }
}

impl Manifest {
    /// Reads the manifest of `out_dir`; `None` if there is none yet.
    pub fn load(out_dir: &Path) -> Result<Option<Manifest>> {
        let path = out_dir.join(MANIFEST_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ExportError::io(&path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ExportError::Manifest {
                path,
                reason: e.to_string(),
            })
    }

    /// Writes it atomically into `out_dir` with the default file mode.
    pub fn save(&self, out_dir: &Path) -> Result<()> {
        self.save_with_mode(out_dir, crate::run::DEFAULT_FILE_MODE)
    }

    /// Writes it atomically into `out_dir` with permissions `mode`.
    pub fn save_with_mode(&self, out_dir: &Path, mode: u32) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| ExportError::Manifest {
            path: out_dir.join(MANIFEST_FILE),
            reason: e.to_string(),
        })?;
        json.push(b'\n');
        write_atomic(&out_dir.join(MANIFEST_FILE), &json, mode)?;
        Ok(())
    }

    /// Total rows of one table.
    pub fn rows(&self, table: &str) -> u64 {
        self.files.iter().filter(|f| f.table == table).map(|f| f.rows).sum()
    }
}
