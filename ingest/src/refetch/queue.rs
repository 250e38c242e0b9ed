//! The durable list of attachments waiting for another download: one small JSON file per
//! attachment under `data_dir/attachments/<connector>/retry/`, named by the hash of
//! (chat, message, index), so every copy of a message (live push, history, a platform's
//! retry of a callback) names the same entry and adds it once. An entry is kept after it
//! ends (`stored` or `gave_up`), so a later copy of the message does not start it again.
//!
//! Entries hold what is needed to fetch again (a URL or a platform media id) and nothing
//! secret: tokens are added by the fetcher at request time. Files are 0600 in a 0700
//! directory, as the rest of the data directory.

use std::path::{Path, PathBuf};

use proto::TimestampMs;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where the bytes can be fetched again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Source {
    /// A plain HTTP(S) URL the platform gave in the message (Yunhu).
    Url {
        /// The URL.
        url: String,
        /// Size the message announced, when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
    /// A WeCom `MediaId`, read through `cgi-bin/media/get` with the connector's secret.
    WecomMedia {
        /// The media id.
        media_id: String,
    },
    /// A 会话存档 file, read in chunks through the Finance SDK (`GetMediaData`).
    ArchiveFile {
        /// `sdkfileid` of the message.
        sdkfileid: String,
        /// `md5sum` of the message (lower case), checked after the download.
        md5sum: String,
        /// `filesize` of the message, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Waiting for its next attempt.
    Pending,
    /// The bytes are in the blob store and the store committed the event that links them.
    Stored,
    /// Attempts spent; a `rejects` row says so.
    GaveUp,
}

/// One attachment of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Chat of the message.
    pub chat_id: String,
    /// The message.
    pub msg_id: String,
    /// Position in the message's attachments.
    pub index: u32,
    /// Where to fetch it.
    pub source: Source,
    /// Downloads tried so far, the first (failed) one included.
    pub attempts: u32,
    /// When the next attempt is due (UTC ms).
    pub next_at: TimestampMs,
    /// Why the latest attempt failed (never holds a token).
    pub last_error: String,
    /// Where it stands.
    pub state: EntryState,
}

/// The entries of one connector.
#[derive(Debug, Clone)]
pub struct Queue {
    dir: PathBuf,
}

impl Queue {
    /// Entries under `data_dir/attachments/<connector>/retry`.
    pub fn new(data_dir: &Path, connector: &str) -> Self {
        Queue {
            dir: data_dir.join("attachments").join(connector).join("retry"),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, chat_id: &str, msg_id: &str, index: u32) -> PathBuf {
        let mut h = Sha256::new();
        for part in [
            chat_id.as_bytes(),
            b"\0",
            msg_id.as_bytes(),
            b"\0",
            &index.to_be_bytes(),
        ] {
            h.update(part);
        }
        self.dir.join(format!("{}.json", hex::encode(h.finalize())))
    }

    /// Adds `entry` unless an entry for its attachment exists (in any state); `true` if added.
    pub fn add(&self, entry: &Entry) -> std::io::Result<bool> {
        if self.path(&entry.chat_id, &entry.msg_id, entry.index).exists() {
            return Ok(false);
        }
        self.save(entry)?;
        Ok(true)
    }

    /// Writes `entry` whole (temporary file, fsync, rename).
    pub fn save(&self, entry: &Entry) -> std::io::Result<()> {
        fsutil::create_private_dir(&self.dir)?;
        let path = self.path(&entry.chat_id, &entry.msg_id, entry.index);
        let tmp = path.with_extension(format!("{:016x}.tmp", rand::random::<u64>()));
        let written = (|| {
            use std::io::Write;
            let mut f = fsutil::create_private_file(&tmp)?;
            f.write_all(&serde_json::to_vec(entry).map_err(std::io::Error::other)?)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Every entry (unreadable files are skipped with a log line: one damaged file never
    /// stops the others).
    pub fn all(&self) -> std::io::Result<Vec<Entry>> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for f in rd {
            let path = f?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            match std::fs::read(&path).map(|b| serde_json::from_slice::<Entry>(&b)) {
                Ok(Ok(e)) => out.push(e),
                _ => tracing::warn!(file = %path.display(), "unreadable attachment retry entry skipped"),
            }
        }
        Ok(out)
    }

    /// Pending entries due at `now`, oldest due first.
    pub fn due(&self, now: TimestampMs) -> std::io::Result<Vec<Entry>> {
        let mut due: Vec<Entry> = self
            .all()?
            .into_iter()
            .filter(|e| e.state == EntryState::Pending && e.next_at <= now)
            .collect();
        due.sort_by_key(|e| e.next_at);
        Ok(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(msg: &str) -> Entry {
        Entry {
            chat_id: "c".into(),
            msg_id: msg.into(),
            index: 0,
            source: Source::WecomMedia { media_id: "m".into() },
            attempts: 1,
            next_at: 10,
            last_error: "HTTP 500".into(),
            state: EntryState::Pending,
        }
    }

    #[test]
    fn an_attachment_is_added_once_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::new(dir.path(), "team");
        assert!(q.add(&entry("m1")).unwrap());
        let mut again = entry("m1");
        again.attempts = 9;
        assert!(!q.add(&again).unwrap(), "a second copy of the message adds nothing");
        let q = Queue::new(dir.path(), "team");
        assert_eq!(q.due(9).unwrap(), vec![]);
        assert_eq!(q.due(10).unwrap(), vec![entry("m1")]);
        let mut done = entry("m1");
        done.state = EntryState::Stored;
        q.save(&done).unwrap();
        assert_eq!(q.due(i64::MAX).unwrap(), vec![]);
        assert!(!q.add(&entry("m1")).unwrap(), "an ended entry is not started again");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let f = std::fs::read_dir(q.dir()).unwrap().next().unwrap().unwrap();
            assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
