//! `chatvault verify-bundle FILE [--expect-head SEQ:HASH | HASH] [--json]`: checks a case
//! bundle from the reviewer UI offline, with nothing but the file: every file against the
//! manifest, every event's hash recomputed from the hash before it and the bytes the chain
//! hashed, every message re-folded from its events, every attachment against its name. Exit 0
//! when it checks out, 3 naming the first altered item, 1 when the file cannot be read, 2 for
//! a malformed `--expect-head`.
//!
//! It proves the bundle is what the archive's chain recorded for those events; whether those
//! positions are still the live archive's is `chatvault verify --expect-head SEQ:HASH` on the
//! archive (or an anchor kept off the box). `docs/case-bundle.md` says what each check covers.

use std::io::Write;

use store::anchors::{self, Anchor};

use crate::render;

/// Runs the command.
pub fn run(args: crate::cli::VerifyBundleArgs) -> anyhow::Result<()> {
    let expect = match args.expect_head.as_deref() {
        None => Vec::new(),
        Some(v) => vec![expected(v)?],
    };
    let report = bundle::check_file(&args.file, &expect)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        render::json_line(&mut out, &serde_json::to_value(&report)?)?;
    } else {
        writeln!(out, "bundle {}", args.file.display())?;
        writeln!(out, "  sha256 {}", report.bundle_sha256)?;
        if let (Some(by), Some(at)) = (&report.created_by, &report.created_at) {
            writeln!(out, "  made by {by} at {at}")?;
        }
        if let Some(o) = &report.origin {
            writeln!(out, "  from {o}")?;
        }
        if let Some(h) = &report.chain_head {
            writeln!(out, "  chain head when made: {}:{}", h.seq, h.hash)?;
        }
        if report.ok {
            writeln!(
                out,
                "ok: {} messages re-folded from their events, {} event hashes recomputed, {} attachments re-hashed{}",
                report.messages,
                report.events,
                report.attachments,
                if report.positions_checked > 0 {
                    format!(", {} expected position(s) found", report.positions_checked)
                } else {
                    String::new()
                }
            )?;
            if let Some(h) = &report.chain_head {
                writeln!(
                    out,
                    "to tie it to the archive: chatvault verify --expect-head {}:{} (on the archive, or compare with an anchor)",
                    h.seq, h.hash
                )?;
            }
        }
    }
    out.flush()?;
    match report.problem {
        Some(p) => Err(crate::exit::check_failed(format!("the bundle does not check out: {p}"))),
        None => Ok(()),
    }
}

/// `--expect-head`'s value.
fn expected(value: &str) -> anyhow::Result<bundle::Expected> {
    if let Some(a) = Anchor::parse(value) {
        return Ok(bundle::Expected {
            seq: Some(a.seq),
            hash: a.hash,
        });
    }
    match anchors::parse_hash(value) {
        Some(hash) => Ok(bundle::Expected { seq: None, hash }),
        None => Err(crate::exit::usage(format!(
            "--expect-head takes SEQ:HASH or a 64-digit hex HASH, not `{}`",
            value.chars().take(80).collect::<String>()
        ))),
    }
}
