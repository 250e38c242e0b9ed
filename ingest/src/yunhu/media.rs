//! Yunhu attachments into the blob store: the files, images, videos, voice notes and stickers
//! a message links to (seed 004 `Content`: `file_url`, `image_url`, `video_url`, `audio_url`,
//! `sticker_url`, with `file_size`), downloaded under the blob store's size cap
//! (`[storage] blob_max_bytes`, the cap every connector's attachments share).
//!
//! The `sha256` of a stored attachment is part of the message's `message` event, and the store
//! records a message once only when the live push and the history row of it give identical
//! events. A download that succeeds for one copy and fails for the other would make two
//! versions of one message. So the outcome of an attachment's first download, stored or not,
//! is remembered per URL in `data_dir/attachments/<connector>/` (one small file per URL, so it
//! survives restarts, which re-read recent history) and every later copy of the message gets
//! exactly that outcome without downloading again; two copies in flight at once share one
//! download. An attachment whose first download failed (not one over the cap) is handed to
//! [`crate::refetch`]: the message keeps that first outcome, and a later download, when it
//! succeeds, is linked to it by an `attachment_stored` event.
//!
//! Only the `sha256` (and a size the platform did not give) comes from the download; names and
//! types come from the message alone.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::{ChatEvent, EventBody};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::blobs::{BlobStore, Stored};
use crate::refetch::{self, FetchError, Queue, RetryPolicy, Source};

/// Longest a single attachment download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// What the first download of a URL gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Hex sha256 when the bytes are in the blob store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Bytes downloaded (when the whole file was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Why it is not stored (over the cap, HTTP error …); never contains the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// The failure cannot pass by itself (over the cap): no retry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permanent: bool,
}

/// Downloads of one connector.
pub struct Media {
    http: reqwest::Client,
    blobs: Arc<BlobStore>,
    memo_dir: PathBuf,
    connector: String,
    inflight: Mutex<HashMap<String, Arc<OnceCell<Outcome>>>>,
    retry: Queue,
    policy: RetryPolicy,
}

impl Media {
    /// Downloads into `blobs`, remembering outcomes under `data_dir/attachments/<connector>`.
    /// Failed downloads are queued for retries under `policy`.
    pub fn new(
        blobs: Arc<BlobStore>,
        data_dir: &std::path::Path,
        connector: &str,
        policy: RetryPolicy,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(DOWNLOAD_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Media {
            http,
            blobs,
            memo_dir: data_dir.join("attachments").join(connector),
            connector: connector.to_string(),
            inflight: Mutex::default(),
            retry: Queue::new(data_dir, connector),
            policy,
        })
    }

    /// The retry entries of this connector.
    pub fn retry_queue(&self) -> &Queue {
        &self.retry
    }

    /// Sets `sha256` (and a missing `size`) on every attachment of every `message` event.
    /// A failed download (not over the cap) is queued for retries under the message.
    pub async fn fill(&self, events: &mut [ChatEvent]) {
        for ev in events {
            let EventBody::Message(m) = &mut ev.body else { continue };
            for (index, a) in m.attachments.iter_mut().enumerate() {
                let Some(url) = a
                    .url
                    .clone()
                    .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
                else {
                    continue;
                };
                let o = self.outcome(&url, a.size).await;
                if let (Some(why), false, Some(msg_id)) = (&o.failed, o.permanent, &ev.msg_id) {
                    let source = Source::Url { url, size: a.size };
                    let entry = self
                        .policy
                        .first_failure(&ev.chat_id, msg_id, index as u32, source, why);
                    refetch::remember(&self.retry, entry, &self.connector).await;
                }
                a.sha256 = o.sha256;
                if a.size.is_none() {
                    a.size = o.size;
                }
            }
        }
    }

    fn memo_path(&self, url: &str) -> PathBuf {
        self.memo_dir.join(hex::encode(Sha256::digest(url.as_bytes())))
    }

    /// The remembered outcome of `url`, else that of one download shared by every caller.
    async fn outcome(&self, url: &str, size: Option<u64>) -> Outcome {
        if let Some(o) = self.remembered(url).await {
            return o;
        }
        let cell = {
            let mut g = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            g.entry(url.to_string()).or_default().clone()
        };
        let o = cell
            .get_or_init(|| async {
                // Another caller may have finished (and left its memo) before this cell.
                if let Some(o) = self.remembered(url).await {
                    return o;
                }
                let o = self.download(url, size).await;
                self.remember(url, &o).await;
                o
            })
            .await
            .clone();
        self.inflight.lock().unwrap_or_else(|e| e.into_inner()).remove(url);
        o
    }

    async fn remembered(&self, url: &str) -> Option<Outcome> {
        let bytes = tokio::fs::read(self.memo_path(url)).await.ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    async fn remember(&self, url: &str, o: &Outcome) {
        let (dir, path) = (self.memo_dir.clone(), self.memo_path(url));
        let body = serde_json::to_vec(o).unwrap_or_default();
        let done = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            fsutil::create_private_dir(&dir)?;
            let tmp = path.with_extension(format!("{}.tmp", rand::random::<u64>()));
            std::fs::write(&tmp, &body)?;
            std::fs::rename(&tmp, &path)
        })
        .await;
        if !matches!(done, Ok(Ok(()))) {
            tracing::warn!(connector = %self.connector, "attachment outcome not remembered; a later copy of the message may differ");
        }
    }

    async fn download(&self, url: &str, size: Option<u64>) -> Outcome {
        let failed = |f: FetchError| {
            crate::metrics::noticed(&self.connector, "attachment_not_stored");
            tracing::info!(connector = %self.connector, reason = %f.reason, "yunhu attachment not stored; its URL is kept");
            Outcome {
                sha256: None,
                size: None,
                failed: Some(f.reason),
                permanent: f.permanent,
            }
        };
        let buf = match self.bytes(url, size).await {
            Ok(b) => b,
            Err(f) => return failed(f),
        };
        let n = buf.len() as u64;
        let blobs = self.blobs.clone();
        match tokio::task::spawn_blocking(move || blobs.put(&buf)).await {
            Ok(Ok(Stored::Blob(sha))) => Outcome {
                sha256: Some(sha),
                size: Some(n),
                failed: None,
                permanent: false,
            },
            Ok(Ok(Stored::TooLarge(_))) => failed(self.over_cap()),
            Ok(Err(e)) => failed(FetchError::transient(format!("blob store: {e}"))),
            Err(e) => failed(FetchError::transient(format!("blob task: {e}"))),
        }
    }

    fn over_cap(&self) -> FetchError {
        crate::metrics::noticed(&self.connector, "attachment_over_cap");
        FetchError {
            reason: format!("larger than the blob cap of {} bytes", self.blobs.max_bytes()),
            permanent: true,
        }
    }

    /// The bytes at `url`, within the blob cap (the error never holds the URL).
    async fn bytes(&self, url: &str, size: Option<u64>) -> Result<Vec<u8>, FetchError> {
        let cap = self.blobs.max_bytes();
        if size.is_some_and(|s| s > cap) {
            return Err(self.over_cap());
        }
        let mut resp = match self.http.get(url).send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => return Err(FetchError::transient(format!("HTTP {}", r.status().as_u16()))),
            Err(e) => return Err(FetchError::transient(e.without_url().to_string())),
        };
        let mut buf = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if (buf.len() + c.len()) as u64 > cap {
                        return Err(self.over_cap());
                    }
                    buf.extend_from_slice(&c);
                }
                Ok(None) => return Ok(buf),
                Err(e) => return Err(FetchError::transient(e.without_url().to_string())),
            }
        }
    }
}

#[async_trait::async_trait]
impl refetch::Fetch for Media {
    async fn fetch(&self, source: &Source) -> Result<Vec<u8>, FetchError> {
        match source {
            Source::Url { url, size } => self.bytes(url, *size).await,
            Source::WecomMedia { .. } | Source::ArchiveFile { .. } => Err(FetchError {
                reason: "not a Yunhu attachment".into(),
                permanent: true,
            }),
        }
    }
}
