//! [`AtomicFile`]: a file that appears under its final name complete or not at all.
//!
//! Bytes go to a hidden temporary name in the same directory (`.<name>.<pid>.tmp`: same
//! filesystem, so the rename is atomic; the leading dot and the suffix keep `*.parquet` globs,
//! Spark and DuckDB from picking it up). `commit` fsyncs the file, renames it over the final
//! name and fsyncs the directory, so after a crash a reader finds either the old file or the
//! new one. Dropping an uncommitted file removes the temporary.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{ExportError, Result};

/// Size and checksum of a committed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Bytes.
    pub bytes: u64,
    /// Hex sha256 of the content.
    pub sha256: String,
}

/// A file being written under a temporary name; hashes what it writes.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
    hasher: Sha256,
    bytes: u64,
    committed: bool,
}

impl AtomicFile {
    /// Starts writing what will become `path` (its directory is created if needed).
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        // Owner-only while being written; the export's file mode is set when it is published.
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| ExportError::io(&tmp, e))?;
        // A temporary left by a crashed run with the same name keeps its old mode otherwise.
        file.set_permissions(Permissions::from_mode(0o600))
            .map_err(|e| ExportError::io(&tmp, e))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            hasher: Sha256::new(),
            bytes: 0,
            committed: false,
        })
    }

    /// Flushes, fsyncs, sets the permissions to `mode`, renames into place and fsyncs the
    /// directory.
    pub fn commit(self, mode: u32) -> Result<Written> {
        let path = self.path.clone();
        let staged = self.stage(&path)?;
        staged.set_mode(mode)?;
        staged.publish()
    }

    /// Flushes and fsyncs the temporary, to be renamed to `path` (same directory) by
    /// [`Staged::publish`]. Staging every file of an export before publishing any keeps a
    /// failure while writing (disk full) from changing what readers see.
    pub fn stage(mut self, path: &Path) -> Result<Staged> {
        let Some(out) = self.out.take() else {
            return Err(ExportError::io(&self.tmp, io::Error::other("file already staged")));
        };
        let file = out
            .into_inner()
            .map_err(|e| ExportError::io(&self.tmp, e.into_error()))?;
        file.sync_all().map_err(|e| ExportError::io(&self.tmp, e))?;
        drop(file);
        // The temporary now belongs to the `Staged`, which removes it if never published.
        self.committed = true;
        let hasher = std::mem::take(&mut self.hasher);
        Ok(Staged {
            tmp: self.tmp.clone(),
            path: path.to_path_buf(),
            written: Written {
                bytes: self.bytes,
                sha256: hex::encode(hasher.finalize()),
            },
            published: false,
        })
    }
}

/// A complete, fsynced file under its temporary name.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    written: Written,
    published: bool,
}

impl Staged {
    /// Size and checksum.
    pub fn written(&self) -> &Written {
        &self.written
    }

    /// Sets the permissions the file will have once published: exactly `mode`, whatever the
    /// process's umask (which applies only at creation).
    pub fn set_mode(&self, mode: u32) -> Result<()> {
        fs::set_permissions(&self.tmp, Permissions::from_mode(mode)).map_err(|e| ExportError::io(&self.path, e))
    }

    /// Renames it into place and fsyncs the directory.
    pub fn publish(mut self) -> Result<Written> {
        fs::rename(&self.tmp, &self.path).map_err(|e| ExportError::io(&self.path, e))?;
        self.published = true;
        sync_dir(self.path.parent().unwrap_or(Path::new(".")))?;
        Ok(self.written.clone())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("file already committed"))?;
        let n = out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            drop(self.out.take());
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Makes a rename or unlink in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ExportError::io(dir, e))
}

/// Writes `bytes` to `path` atomically, with permissions `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<Written> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes).map_err(|e| ExportError::io(path, e))?;
    f.commit(mode)
}

/// Whether a file name is one of our temporaries (left behind by a crash).
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appears_only_on_commit_with_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/data.parquet");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!path.exists());
        let w = f.commit(0o640).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert_eq!(w.bytes, 5);
        assert_eq!(
            w.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_file_leaves_the_old_one_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.parquet");
        fs::write(&path, b"old").unwrap();
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"half").unwrap();
        drop(f);
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn unwritable_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        let err = AtomicFile::create(&blocker.join("data.parquet"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("cannot write"), "{err}");
        assert!(err.contains("file"), "{err}");
    }
}
