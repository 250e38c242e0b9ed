//! `chatvault rejects retry [--platform P]`: re-process kept rejects that can succeed later —
//! today the 会话存档 items that could not be decrypted (no key for their `publickey_ver`, or
//! a key that did not match) once the right key is configured.
//!
//! It writes the archive, so it takes the writer lock and refuses while `run` holds it. Each
//! kept item goes through the same processing as the live feed (worker, keys, media); what
//! decrypts now is appended with the time the item was first received (the rejects row's),
//! not the retry's, and keeps its own send time; what still fails stays as it is, and the report says both. Rejects rows are never
//! deleted (the archive is append-only); a second retry finds the items already archived.
//! 会话存档 files that failed every download of the live feed are fetched again first
//! (`rejects_media.rs`).

use std::sync::Arc;

use proto::{EventBatch, Ingested, Platform};

use crate::cli::{RejectsAction, RejectsArgs};
use crate::context::Ctx;

/// Runs the command.
pub fn run(ctx: &Ctx, args: RejectsArgs) -> anyhow::Result<()> {
    match args.action {
        RejectsAction::Retry { platform } => retry(ctx, platform.as_deref()),
    }
}

fn retry(ctx: &Ctx, platform: Option<&str>) -> anyhow::Result<()> {
    let platform = platform.map(crate::render::platform_arg).transpose()?;
    if let Some(p) = platform
        && p != Platform::WecomArchive
    {
        return Err(crate::exit::usage(format!(
            "rejects of `{p}` cannot succeed on a second try (they are kept for inspection); only `wecom_archive` rejects can be retried"
        )));
    }
    let _lock = pipeline::WriterLock::acquire(&ctx.data_dir)?;
    let rows = ctx.reader()?.rejects(i64::MAX as usize)?;
    let rows: Vec<_> = rows
        .into_iter()
        .rev()
        .filter(|r| r.platform == Platform::WecomArchive.as_str())
        // A file given up after its last retry is a row of its own, not a feed item.
        .filter(|r| !r.bytes.starts_with(br#"{"attachment_retry""#))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let blobs = Arc::new(ingest::blobs::BlobStore::new(
        ctx.data_dir.join("blobs"),
        ctx.config.storage.blob_max_bytes,
    ));
    crate::commands::rejects_media::retry(ctx, &rt, &blobs)?;
    if rows.is_empty() {
        println!("no wecom_archive rejects to retry");
        return Ok(());
    }
    let mut items: Vec<(String, Vec<Ingested>)> = Vec::new();
    let mut still = Vec::new();
    for cfg in &ctx.config.wecom_archive {
        let mine: Vec<_> = rows.iter().filter(|r| r.account == cfg.name).collect();
        if mine.is_empty() {
            continue;
        }
        let connector = ingest::wecom_archive::WecomArchiveConnector::new(cfg.clone());
        let mut p = connector.processor(blobs.clone(), ctx.config.storage.blob_max_bytes)?;
        let done = rt.block_on(async {
            let mut done = Vec::new();
            for r in &mine {
                // The item was received when it was first rejected: that time stays its
                // receive time (the retry only appends it later in the log).
                match p.item(&r.bytes, r.received_at).await {
                    ingest::wecom_archive::process::Outcome::Done(i @ Ingested::Payload { .. }) => done.push(i),
                    ingest::wecom_archive::process::Outcome::Done(Ingested::Rejected { reason, .. }) => {
                        still.push(format!("  reject {}: {reason}", r.id))
                    }
                    ingest::wecom_archive::process::Outcome::Later(e) => {
                        p.client.shutdown().await;
                        return Err(anyhow::anyhow!("the Finance SDK worker is not available: {e}"));
                    }
                }
            }
            p.fill_names(&mut done).await;
            p.client.shutdown().await;
            Ok(done)
        })?;
        items.push((cfg.name.clone(), done));
    }
    let unknown = rows
        .iter()
        .filter(|r| !ctx.config.wecom_archive.iter().any(|c| c.name == r.account))
        .count();
    let mut store = store::Store::open(&ctx.data_dir, store::StoreOptions::default())?;
    let (mut appended, mut duplicates, mut archived) = (0, 0, 0);
    for (account, done) in items {
        archived += done.len();
        if done.is_empty() {
            continue;
        }
        let (batch, _notice) = EventBatch::new(Platform::WecomArchive, account, done, None);
        let info = store.append(&[&batch])?;
        appended += info.iter().map(|i| i.appended).sum::<u64>();
        duplicates += info.iter().map(|i| i.duplicates).sum::<u64>();
    }
    println!(
        "retried {} wecom_archive reject(s): {archived} decrypted ({appended} new events, {duplicates} already archived), {} still failing{}",
        rows.len(),
        still.len(),
        if unknown > 0 {
            format!(", {unknown} of connectors no longer configured")
        } else {
            String::new()
        }
    );
    for s in still {
        println!("{s}");
    }
    Ok(())
}
