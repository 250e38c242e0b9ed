//! `chatvault anchor`: appends the current chain head as `SEQ:HASH` to the anchors file in the
//! data directory and prints it. `verify` then fails on any log that no longer passes through
//! it (rewritten, or cut back below it); the printed line is meant to be kept off the box
//! (syslog, a ticket, the data lake), where the archive's owner cannot rewrite it, and given
//! back later as `verify --expect-head SEQ:HASH`.

use store::anchors::{self, Anchor};

use crate::context::Ctx;

/// Runs the command.
pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let head = ctx.reader()?.head()?;
    let anchor = record(&ctx.data_dir, head.seq, &head.hash, "anchor")?;
    println!("{anchor}");
    Ok(())
}

/// Records `seq:hash` in `data_dir`'s anchors file (`source`: what wrote it) and returns it.
pub fn record(data_dir: &std::path::Path, seq: u64, hash: &str, source: &str) -> anyhow::Result<Anchor> {
    let anchor = Anchor {
        seq,
        hash: hash.to_ascii_lowercase(),
    };
    anchors::record(data_dir, &anchor, source)?;
    tracing::info!(anchor = %anchor, source, "chain position anchored");
    Ok(anchor)
}
