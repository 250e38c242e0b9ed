//! The stand-in Finance SDK (`standin/standin.c`, embedded here by the build script) and what
//! writes the world it serves. See the C file for the world format and the fault switches.
//!
//! Its encryption is its own: `encrypt_chat_msg` = hex of (`CVSTANDIN1` ‖ message JSON) XOR a
//! keystream (64-bit LCG seeded with FNV-1a of the random key string). [`encrypt`] here and
//! `DecryptData` there must agree; the RSA layer around the random key is the world writer's
//! business, as with Tencent's servers.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The stand-in shared object (empty on platforms other than Linux).
pub const STANDIN_SO: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libfinance_standin.so"));

/// File name the stand-in is installed under.
pub const FILE_NAME: &str = "libWeWorkFinanceSdk_C_standin.so";

const MAGIC: &[u8] = b"CVSTANDIN1";

/// Writes the stand-in into `dir` and returns its path; its world goes to
/// [`world_path`]`(that path)`.
pub fn install(dir: &Path) -> io::Result<PathBuf> {
    if STANDIN_SO.is_empty() {
        return Err(io::Error::other("the stand-in Finance SDK is built for Linux only"));
    }
    std::fs::create_dir_all(dir)?;
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, STANDIN_SO)?;
    Ok(path)
}

/// Where the stand-in at `so_path` reads its world.
pub fn world_path(so_path: &Path) -> PathBuf {
    let mut p = so_path.as_os_str().to_owned();
    p.push(".world");
    PathBuf::from(p)
}

/// Encrypts a message the way the stand-in's `DecryptData` decrypts it.
pub fn encrypt(random_key: &str, plaintext: &[u8]) -> String {
    let mut state: u64 = 1469598103934665603;
    for b in random_key.bytes() {
        state ^= u64::from(b);
        state = state.wrapping_mul(1099511628211);
    }
    let mut out = String::with_capacity((MAGIC.len() + plaintext.len()) * 2);
    for &b in MAGIC.iter().chain(plaintext) {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let _ = write!(out, "{:02x}", b ^ (state >> 56) as u8);
    }
    out
}

/// A fault the stand-in fires once (until its marker file exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `abort()` inside GetChatData.
    ChatAbort,
    /// GetChatData never returns.
    ChatHang,
    /// GetChatData returns 10001.
    ChatNetwork,
    /// GetMediaData returns 10001.
    MediaNetwork,
    /// GetMediaData corrupts a chunk (md5 mismatch).
    MediaCorrupt,
    /// GetMediaData never returns.
    MediaHang,
}

impl Fault {
    fn spec(self) -> (&'static str, &'static str) {
        match self {
            Fault::ChatAbort => ("chat", "abort"),
            Fault::ChatHang => ("chat", "hang"),
            Fault::ChatNetwork => ("chat", "e10001"),
            Fault::MediaNetwork => ("media", "e10001"),
            Fault::MediaCorrupt => ("media", "corrupt"),
            Fault::MediaHang => ("media", "hang"),
        }
    }
}

/// A world under construction: chatdata items, media files and faults.
#[derive(Debug, Default)]
pub struct World {
    lines: Vec<String>,
}

impl World {
    /// An empty world.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a chatdata item (the JSON object GetChatData lists), served after `seq - 1`.
    /// Items must be added in increasing `seq`.
    pub fn item(&mut self, seq: u64, item: &serde_json::Value) -> &mut Self {
        self.lines.push(format!("item {seq} {item}"));
        self
    }

    /// Serves the bytes of `file` for `sdkfileid`.
    pub fn media(&mut self, sdkfileid: &str, file: &Path) -> &mut Self {
        self.lines.push(format!("media {sdkfileid} {}", file.display()));
        self
    }

    /// Arms a fault that fires once, remembered by `marker` (which must not exist yet).
    pub fn fault(&mut self, fault: Fault, marker: &Path) -> &mut Self {
        let (op, kind) = fault.spec();
        self.lines.push(format!("fault {op} {kind} {}", marker.display()));
        self
    }

    /// Writes the world for the stand-in at `so_path` (replacing any earlier one).
    pub fn write(&self, so_path: &Path) -> io::Result<()> {
        let path = world_path(so_path);
        let tmp = path.with_extension("world.tmp");
        let mut f = io::BufWriter::new(std::fs::File::create(&tmp)?);
        for l in &self.lines {
            debug_assert!(!l.contains('\n'));
            writeln!(f, "{l}")?;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        // Renamed into place: a stand-in being initialised never reads half a world.
        std::fs::rename(tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_is_keyed_and_deterministic() {
        let a = encrypt("k1k1k1k1k1k1k1k1", b"{}");
        assert_eq!(a, encrypt("k1k1k1k1k1k1k1k1", b"{}"));
        assert_ne!(a, encrypt("k2k2k2k2k2k2k2k2", b"{}"));
        assert_eq!(a.len(), (MAGIC.len() + 2) * 2);
    }
}
