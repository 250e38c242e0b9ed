//! Content-addressed attachment storage: `data_dir/blobs/<sha256>`, size-capped, files 0600.
//!
//! A blob is written under a temporary name of its own (process, counter, random part: two
//! puts of the same bytes at once, in one process or two, never share one), synced and
//! renamed into place, so its name only ever shows whole content. A file already under the
//! name is trusted only once its bytes hash to the name; a damaged one is replaced.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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

    /// The per-blob size cap, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
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
        if holds(&path, &sha, bytes.len() as u64)? {
            return Ok(Stored::Blob(sha));
        }
        fsutil::create_private_dir(&self.dir)?;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let tmp = self.dir.join(format!(
            ".{sha}.{}.{}.{:016x}.tmp",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            rand::random::<u64>()
        ));
        let written = (|| {
            // `create_new`: a name that exists is never written through.
            let mut f = fsutil::create_private_file(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            // Same bytes under the same name: whichever rename lands last, the content is whole.
            std::fs::rename(&tmp, &path)?;
            // The rename itself survives a power cut once the directory is synced.
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        Ok(Stored::Blob(sha))
    }

    /// Reads a blob back.
    pub fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.path(sha256))
    }
}

/// Whether `path` holds exactly the `len` bytes whose sha256 is `sha` (hex).
fn holds(path: &Path, sha: &str, len: u64) -> std::io::Result<bool> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if f.metadata()?.len() != len {
        return Ok(false);
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()) == sha)
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
    fn concurrent_puts_of_the_same_bytes_leave_one_whole_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(BlobStore::new(dir.path().join("blobs"), 64 << 20));
        let bytes: std::sync::Arc<Vec<u8>> = std::sync::Arc::new((0..4_000_000u32).map(|i| (i % 251) as u8).collect());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (store, bytes) = (store.clone(), bytes.clone());
                std::thread::spawn(move || {
                    (0..5)
                        .map(|_| store.put(&bytes).map(|s| s.sha256().map(str::to_string)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let want = hex::encode(Sha256::digest(&bytes[..]));
        for t in threads {
            for r in t.join().unwrap() {
                assert_eq!(r.unwrap().as_deref(), Some(want.as_str()));
            }
        }
        assert_eq!(store.get(&want).unwrap(), *bytes, "the stored blob is whole");
        let names: Vec<_> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from(&want)],
            "no temporary file is left"
        );
    }

    #[test]
    fn a_damaged_blob_is_replaced_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path(), 1024);
        let sha = store.put(b"attachment bytes").unwrap().sha256().unwrap().to_string();
        std::fs::write(store.path(&sha), b"attachment byt").unwrap();
        store.put(b"attachment bytes").unwrap();
        assert_eq!(store.get(&sha).unwrap(), b"attachment bytes");
        std::fs::write(store.path(&sha), b"attachment BYTES").unwrap();
        store.put(b"attachment bytes").unwrap();
        assert_eq!(store.get(&sha).unwrap(), b"attachment bytes");
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
