//! `chatvault rejects retry --platform wecom_archive`, first part: 会话存档 files that failed
//! every download of the live feed (each has a `media_unavailable` event and an entry under
//! `data_dir/attachments/<connector>/retry/`) are fetched again through the Finance SDK
//! worker, whatever their next scheduled time. A file stored now is linked to its message by
//! an `attachment_stored` event (`show`, the export and the reviewer UI then give it); one that
//! fails again counts an attempt, and after the last attempt a `rejects` row says so.

use std::sync::Arc;

use ingest::blobs::{BlobStore, Stored};
use ingest::refetch::{Entry, EntryState, Queue, RetryPolicy, given_up, linked};
use proto::{EventBatch, Platform};

use crate::context::Ctx;

/// Fetches every pending 会话存档 file again and reports what became of them.
pub fn retry(ctx: &Ctx, rt: &tokio::runtime::Runtime, blobs: &Arc<BlobStore>) -> anyhow::Result<()> {
    let policy = RetryPolicy::default();
    for cfg in &ctx.config.wecom_archive {
        let queue = Queue::new(&ctx.data_dir, &cfg.name);
        let pending: Vec<Entry> = queue
            .all()?
            .into_iter()
            .filter(|e| e.state == EntryState::Pending)
            .collect();
        if pending.is_empty() {
            continue;
        }
        let connector = ingest::wecom_archive::WecomArchiveConnector::new(cfg.clone());
        let mut p = connector.processor(blobs.clone(), ctx.config.storage.blob_max_bytes)?;
        let (items, after) = rt.block_on(async {
            let (mut items, mut after) = (Vec::new(), Vec::new());
            for mut e in pending {
                let fetched = p.refetch(&e.source).await;
                let failed = match fetched {
                    Ok(bytes) => {
                        let size = bytes.len() as u64;
                        match blobs.put(&bytes) {
                            Ok(Stored::Blob(sha)) => {
                                items.push(linked(&e, &sha, size));
                                e.attempts += 1;
                                e.state = EntryState::Stored;
                                None
                            }
                            Ok(Stored::TooLarge(_)) => Some(("above the blob store's size cap".to_string(), true)),
                            Err(err) => Some((format!("cannot store the file: {err}"), false)),
                        }
                    }
                    Err(f) => Some((f.reason, f.permanent)),
                };
                if let Some((reason, permanent)) = failed {
                    e.attempts += 1;
                    e.last_error = reason;
                    if permanent || e.attempts >= policy.attempts {
                        items.push(given_up(&e));
                        e.state = EntryState::GaveUp;
                    }
                }
                after.push(e);
            }
            p.client.shutdown().await;
            (items, after)
        });
        if !items.is_empty() {
            let mut store = store::Store::open(&ctx.data_dir, store::StoreOptions::default())?;
            let (batch, _notice) = EventBatch::new(Platform::WecomArchive, cfg.name.clone(), items, None);
            store.append(&[&batch])?;
        }
        // Only after the store holds the links and rows do the entries end.
        let count = |s: EntryState| after.iter().filter(|e| e.state == s).count();
        let (stored, failing, gave_up) = (
            count(EntryState::Stored),
            count(EntryState::Pending),
            count(EntryState::GaveUp),
        );
        for e in &after {
            queue.save(e)?;
        }
        println!(
            "wecom_archive `{}`: {stored} file(s) fetched again, {failing} still failing, {gave_up} given up (see `rejects`)",
            cfg.name
        );
    }
    Ok(())
}
