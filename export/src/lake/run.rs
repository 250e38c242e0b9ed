//! [`run_lake_export`]: the export to an object store (or a Delta table on local disk).
//!
//! The files are produced by the local export ([`crate::run_export`]) into a staging folder
//! that belongs to the target (`<data_dir>/lake/<target id>/staging`): its manifest is the
//! target's incremental state, so a new target gets a full export and two targets never share
//! a watermark. Then the staged files are streamed to the target (multipart, bounded memory),
//! `_manifest.json` last, and the uploaded files are removed from the staging folder (the
//! next incremental export only needs the manifest).
//!
//! A run interrupted anywhere leaves the target's previous `_manifest.json` in force. The next
//! run uploads what is still missing: every object carries its sha256 in its metadata, and an
//! object whose recorded checksum matches the staged file is not sent again. Staged files are
//! removed only after the target's manifest lists them, so nothing needed is ever lost; if a
//! target lost objects it was known to hold, the run rewrites everything from the archive.
//!
//! Plain Parquet targets get the local layout (`messages/…/data.parquet`, `events/…/part-…`),
//! objects no longer listed are deleted after the manifest. Delta targets name each data file
//! by its content (`part-<sha256 prefix>.parquet`), so a rewritten partition is a new file:
//! one commit removes the old one and adds the new, and older versions stay readable.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::Utc;
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use super::delta::{self, AddFile};
use super::objects::Objects;
use super::target::{LakeTarget, S3Settings};
use crate::error::{ExportError, Result};
use crate::events_out::EVENTS_TABLE;
use crate::lock::ExportLock;
use crate::manifest::{FileEntry, MANIFEST_FILE, Manifest};
use crate::messages_out::MESSAGES_TABLE;
use crate::run::{DEFAULT_FILE_MODE, ExportOptions, ExportSummary, Progress, Stage, run_export};
use crate::schema::{events_schema, messages_schema};

/// Table format of a lake export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LakeFormat {
    /// Hive-partitioned Parquet files and `_manifest.json`.
    #[default]
    Parquet,
    /// The same files as Delta Lake tables (`messages/_delta_log`, `events/_delta_log`).
    Delta,
}

/// What to export, where.
#[derive(Debug, Clone)]
pub struct LakeOptions {
    /// The archive's data directory.
    pub data_dir: PathBuf,
    /// Destination.
    pub target: LakeTarget,
    /// How to reach an S3 target.
    pub s3: S3Settings,
    /// Table format.
    pub format: LakeFormat,
    /// Time zone of the `date=` partitions.
    pub tz: Tz,
    /// Rewrite everything.
    pub full: bool,
    /// Fault injection for tests: fail after this many uploads in this run.
    #[doc(hidden)]
    pub fail_after_uploads: Option<usize>,
}

/// What a lake export did.
#[derive(Debug, Clone)]
pub struct LakeSummary {
    /// The target.
    pub target: String,
    /// The export of the archive into the target's staging folder.
    pub export: ExportSummary,
    /// Objects uploaded by this run.
    pub files_uploaded: usize,
    /// Files the target already held with the same checksum (unchanged, or uploaded by an
    /// interrupted earlier run).
    pub files_skipped: usize,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
    /// Objects deleted from the target (no longer listed).
    pub objects_removed: usize,
    /// Delta versions committed (`(table, version)`).
    pub delta_commits: Vec<(String, u64)>,
}

/// Runs one lake export (the local export into the target's staging folder, then the upload).
pub fn run_lake_export(opts: &LakeOptions, progress: &mut dyn FnMut(&Progress)) -> Result<LakeSummary> {
    let objects = Objects::open(&opts.target, &opts.s3)?;
    let state = state_dir(&opts.data_dir, &opts.target, &opts.s3);
    let _lock = ExportLock::acquire(&state)?;
    let staging = state.join("staging");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ExportError::io(&state, e))?;
    let mut full = opts.full;
    loop {
        let export = run_export(
            &ExportOptions {
                data_dir: opts.data_dir.clone(),
                out_dir: staging.clone(),
                tz: opts.tz,
                full,
                file_mode: DEFAULT_FILE_MODE,
            },
            progress,
        )?;
        let manifest = Manifest::load(&staging)?.ok_or_else(|| ExportError::Manifest {
            path: staging.join(MANIFEST_FILE),
            reason: "missing after the export".into(),
        })?;
        let mut summary = LakeSummary {
            target: objects.target().to_string(),
            export,
            files_uploaded: 0,
            files_skipped: 0,
            bytes_uploaded: 0,
            objects_removed: 0,
            delta_commits: Vec::new(),
        };
        match runtime.block_on(sync(&objects, opts, &staging, &manifest, &mut summary, progress))? {
            Synced::Done => {
                prune(&staging, &manifest);
                tracing::info!(
                    target = %summary.target,
                    uploaded = summary.files_uploaded,
                    skipped = summary.files_skipped,
                    bytes = summary.bytes_uploaded,
                    "lake export finished"
                );
                return Ok(summary);
            }
            Synced::MissingFiles if !full => {
                tracing::warn!(target = %summary.target, "the target lacks files it was sent before; exporting everything again");
                full = true;
            }
            Synced::MissingFiles => {
                return Err(ExportError::Target(format!(
                    "{}: staged files vanished during the export",
                    summary.target
                )));
            }
        }
    }
}

enum Synced {
    Done,
    /// A file the target needs is neither on the target nor staged.
    MissingFiles,
}

/// The target's state folder: `<data_dir>/lake/<readable name>-<hash of target and endpoint>`.
pub fn state_dir(data_dir: &Path, target: &LakeTarget, s3: &S3Settings) -> PathBuf {
    let id = format!("{target}|{}", s3.endpoint.as_deref().unwrap_or(""));
    let hash = hex::encode(Sha256::digest(id.as_bytes()));
    let readable: String = target
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
        .take(48)
        .collect();
    data_dir.join("lake").join(format!("{readable}-{}", &hash[..12]))
}

/// Where a manifest entry goes on the target: the same path, except that Delta tables name
/// `messages` files by content so a rewrite never replaces a file an older version reads.
fn remote_path(f: &FileEntry, format: LakeFormat) -> String {
    match format {
        LakeFormat::Delta if f.table == MESSAGES_TABLE => match f.path.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/part-{}.parquet", &f.sha256[..24.min(f.sha256.len())]),
            None => f.path.clone(),
        },
        _ => f.path.clone(),
    }
}

async fn sync(
    objects: &Objects,
    opts: &LakeOptions,
    staging: &Path,
    manifest: &Manifest,
    summary: &mut LakeSummary,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Synced> {
    let previous: Option<Manifest> = match objects.get(MANIFEST_FILE).await? {
        Some(bytes) => serde_json::from_slice(&bytes).ok(),
        None => None,
    };
    let known: HashMap<&str, &str> = previous
        .as_ref()
        .map(|m| m.files.iter().map(|f| (f.path.as_str(), f.sha256.as_str())).collect())
        .unwrap_or_default();

    // What must be sent: files whose remote copy is not known to match.
    let mut todo = Vec::new();
    for f in &manifest.files {
        let rel = remote_path(f, opts.format);
        if known.get(rel.as_str()) == Some(&f.sha256.as_str())
            || objects.recorded_sha256(&rel).await?.as_deref() == Some(f.sha256.as_str())
        {
            summary.files_skipped += 1;
            continue;
        }
        let src = staging.join(&f.path);
        if !src.exists() {
            return Ok(Synced::MissingFiles);
        }
        todo.push((f, rel, src));
    }
    let total: u64 = todo.iter().map(|(f, _, _)| f.bytes).sum();
    let mut sent = 0u64;
    progress(&Progress {
        stage: Stage::Uploading,
        done: 0,
        total,
        rows: 0,
    });
    for (f, rel, src) in &todo {
        if opts.fail_after_uploads == Some(summary.files_uploaded) {
            return Err(ExportError::Remote {
                target: objects.target().to_string(),
                op: "upload".into(),
                object: rel.clone(),
                reason: "injected failure".into(),
            });
        }
        let files_done = summary.files_uploaded as u64;
        objects
            .upload_file(rel, src, &f.sha256, &mut |n| {
                sent += n;
                progress(&Progress {
                    stage: Stage::Uploading,
                    done: sent,
                    total,
                    rows: files_done,
                });
            })
            .await?;
        summary.files_uploaded += 1;
        summary.bytes_uploaded += f.bytes;
        progress(&Progress {
            stage: Stage::Uploading,
            done: sent,
            total,
            rows: summary.files_uploaded as u64,
        });
    }

    // The tables' commits (Delta), then the manifest: only now does the target move on.
    let mut published = manifest.clone();
    for f in &mut published.files {
        f.path = remote_path(f, opts.format);
    }
    if opts.format == LakeFormat::Delta {
        let now = Utc::now().timestamp_millis();
        for (table, schema) in [(MESSAGES_TABLE, messages_schema()), (EVENTS_TABLE, events_schema())] {
            let state = delta::read_state(objects, table).await?;
            let prefix = format!("{table}/");
            let wanted: Vec<AddFile> = published
                .files
                .iter()
                .filter(|f| f.table == table)
                .map(|f| AddFile {
                    path: f.path.strip_prefix(&prefix).unwrap_or(&f.path).to_string(),
                    platform: f.platform.clone(),
                    date: f.date.clone(),
                    size: f.bytes,
                    rows: f.rows,
                })
                .collect();
            if let Some(v) = delta::commit(objects, table, &schema, &state, &wanted, manifest.seq, now).await? {
                summary.delta_commits.push((table.to_string(), v));
            }
        }
    }
    let mut json = serde_json::to_vec_pretty(&published).map_err(|e| ExportError::Manifest {
        path: MANIFEST_FILE.into(),
        reason: e.to_string(),
    })?;
    json.push(b'\n');
    objects.put(MANIFEST_FILE, json).await?;

    // Plain Parquet: readers glob the folders, so anything not listed goes (old partitions of
    // a full rewrite, files of a target shared with an older layout). Delta keeps them: older
    // versions still read them.
    if opts.format == LakeFormat::Parquet {
        let listed: std::collections::HashSet<&str> = published.files.iter().map(|f| f.path.as_str()).collect();
        for table in [MESSAGES_TABLE, EVENTS_TABLE] {
            for rel in objects.list(table).await? {
                let in_partition = rel.contains("/platform=") && rel.contains("/date=");
                if in_partition && !listed.contains(rel.as_str()) {
                    objects.delete(&rel).await?;
                    summary.objects_removed += 1;
                }
            }
        }
    }
    Ok(Synced::Done)
}

/// Removes the staged data files the target now holds; the staging manifest stays as the
/// target's watermark. A file that cannot be removed is only disk space, not an error.
fn prune(staging: &Path, manifest: &Manifest) {
    for f in &manifest.files {
        let _ = fs::remove_file(staging.join(&f.path));
    }
}
