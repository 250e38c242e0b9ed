//! Content-addressed attachment storage: `data_dir/blobs/<sha256>`, size-capped, files 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Where attachment bytes go. Writing the same bytes twice stores them once.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
    max_bytes: u64,
}

/// Outcome of [`BlobStore::put`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Stored (or already present) under this hex sha256.
    Blob(String),
    /// Larger than the cap: only metadata is kept; the hex sha256 is still reported.
    TooLarge(String),
}

impl Stored {
    /// The hex sha256 when the bytes are in the store.
    pub fn sha256(&self) -> Option<&str> {
        match self {
            Stored::Blob(s) => Some(s),
            Stored::TooLarge(_) => None,
        }
    }
}

impl BlobStore {
    /// A store under `dir` (created on first write) with a per-blob size cap.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        BlobStore {
            dir: dir.into(),
            max_bytes,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of a blob by hex sha256.
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// Stores `bytes` durably (temp file, fsync, rename) unless already present or too large.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<Stored> {
        let sha = hex::encode(Sha256::digest(bytes));
        if bytes.len() as u64 > self.max_bytes {
            return Ok(Stored::TooLarge(sha));
        }
        let path = self.path(&sha);
        if path.exists() {
            return Ok(Stored::Blob(sha));
        }
        fsutil::create_private_dir(&self.dir)?;
        let tmp = self.dir.join(format!(".{sha}.{}.tmp", std::process::id()));
        {
            let mut f = open_private(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok(Stored::Blob(sha))
    }

    /// Reads a blob back.
    pub fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.path(sha256))
    }
}

/// Opens `path` for writing, created 0600 and truncated: blobs and spool entries are written
/// whole under a temporary name, then renamed into place.
pub(crate) fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    fsutil::private_open_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_once_and_reads_back_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().join("blobs"), 1024);
        let a = store.put(b"hello").unwrap();
        let b = store.put(b"hello").unwrap();
        assert_eq!(a, b);
        let sha = a.sha256().unwrap();
        assert_eq!(sha, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(store.get(sha).unwrap(), b"hello");
        assert_eq!(std::fs::read_dir(store.dir()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path(sha)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dmode = std::fs::metadata(store.dir()).unwrap().permissions().mode() & 0o777;
            assert_eq!(dmode, 0o700);
        }
    }

    #[test]
    fn over_the_cap_keeps_metadata_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path(), 4);
        let r = store.put(b"too large").unwrap();
        assert!(matches!(r, Stored::TooLarge(_)));
        assert!(r.sha256().is_none());
    }
}
