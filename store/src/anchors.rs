//! Anchors: `data_dir/anchors`, an append-only text file of chain positions written down as
//! `SEQ:HASH` ("the event at seq SEQ has hash HASH"), one per line, with when and why:
//!
//! ```text
//! 1204:9f2c…e1 1764680000000 anchor
//! 1530:04ab…7d 1764683600000 export
//! ```
//!
//! `verify` checks every line: the recomputed chain must pass through each of them, so a log
//! cut back below the newest anchor (the last events deleted, an older copy put in place)
//! fails even though what is left is a consistent chain. The file itself sits beside the
//! database and its owner can rewrite both; the printed `SEQ:HASH` is what should be kept
//! somewhere else (syslog, a ticket, the data lake) and given back to
//! `verify --expect-head SEQ:HASH`.

use std::io::Write;
use std::path::Path;

use crate::{Result, StoreError};

/// File name of the anchors file in the data directory.
pub const ANCHORS_FILE: &str = "anchors";

/// A chain position: the event at `seq` has the hex sha256 `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Log position.
    pub seq: u64,
    /// Hex sha256 (lower case).
    pub hash: String,
}

impl Anchor {
    /// Parses `SEQ:HASH` (the hash as 64 hex digits, any case).
    pub fn parse(s: &str) -> Option<Anchor> {
        let (seq, hash) = s.trim().split_once(':')?;
        let seq = seq.trim().parse().ok()?;
        let hash = parse_hash(hash)?;
        Some(Anchor { seq, hash })
    }
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

/// A hex sha256 (64 hex digits), lower-cased; `None` for anything else.
pub fn parse_hash(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// Appends `anchor` to `data_dir/anchors` (created 0600), with the time and `source` (a word:
/// `anchor`, `export`…), and syncs it before returning.
pub fn record(data_dir: &Path, anchor: &Anchor, source: &str) -> Result<()> {
    let path = data_dir.join(ANCHORS_FILE);
    let io = |e| StoreError::io(format!("cannot append to `{}`", path.display()), e);
    let mut f = fsutil::private_open_options()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(io)?;
    let source: String = source
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    // One write call: an append of one short line is not interleaved with another writer's.
    f.write_all(format!("{anchor} {} {source}\n", proto::time::now_ms()).as_bytes())
        .map_err(io)?;
    f.sync_all().map_err(io)
}

/// One line of the anchors file as read back: the anchor, or why the line is unreadable.
pub type AnchorLine = (usize, std::result::Result<Anchor, String>);

/// Every line of `data_dir/anchors` (numbered from 1; blank lines and `#` comments skipped).
/// No file means no anchors.
pub fn read(data_dir: &Path) -> Result<Vec<AnchorLine>> {
    let path = data_dir.join(ANCHORS_FILE);
    let text = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(format!("cannot read `{}`", path.display()), e)),
    };
    Ok(parse_lines(&String::from_utf8_lossy(&text)))
}

/// The lines of an anchors file's text (see [`read`]).
pub fn parse_lines(text: &str) -> Vec<AnchorLine> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(n, l)| {
            let first = l.split_whitespace().next().unwrap_or_default();
            let parsed = Anchor::parse(first).ok_or_else(|| {
                let shown: String = l.chars().take(80).collect();
                format!("line {} is not SEQ:HASH: `{shown}`", n + 1)
            });
            (n + 1, parsed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_append_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_empty());
        let a = Anchor {
            seq: 7,
            hash: "ab".repeat(32),
        };
        record(dir.path(), &a, "anchor").unwrap();
        record(dir.path(), &Anchor { seq: 9, ..a.clone() }, "export").unwrap();
        let lines = read(dir.path()).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].1.as_ref().unwrap(), &a);
        assert_eq!(lines[1].1.as_ref().unwrap().seq, 9);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(ANCHORS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn parses_seq_hash_and_refuses_the_rest() {
        let h = "AB".repeat(32);
        assert_eq!(
            Anchor::parse(&format!("12:{h}")),
            Some(Anchor {
                seq: 12,
                hash: "ab".repeat(32)
            })
        );
        assert_eq!(Anchor::parse(&h), None);
        assert_eq!(Anchor::parse("12:abc"), None);
        assert_eq!(Anchor::parse(&format!("-1:{h}")), None);
        let lines = parse_lines(&format!("# kept off-box too\n\n3:{h} 1 anchor\ngarbage\n"));
        assert_eq!(lines.len(), 2);
        assert!(lines[0].1.is_ok());
        assert!(lines[1].1.as_ref().unwrap_err().contains("line 4"));
    }
}
