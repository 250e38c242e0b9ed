//! One item from the feed to what the store keeps: RSA-decrypt its random key, `DecryptData`
//! in the worker, decode, fetch its media. Shared by the pull loop and `rejects retry`.
//!
//! An item that cannot be decrypted for a reason that will not pass by itself (no key for its
//! version, a key that does not match) is rejected with its exact bytes, so that the feed goes
//! on and `rejects retry` can archive it once the key is configured. A reason that may pass
//! (worker lost, network) stops the page at that item, so the cursor does not move past it.

use std::sync::Arc;
use std::time::Duration;

use finance::{FinanceClient, FinanceError};
use md5::{Digest, Md5};
use proto::{ChatEvent, EventBody, Ingested, RawPayload, TimestampMs, batch::media};
use serde_json::Value;

use super::codec;
use super::item::Item;
use super::keys::Keys;
use crate::blobs::{BlobStore, Stored};
use crate::refetch::{FetchError, RetryPolicy, Source};

/// Media settings.
#[derive(Clone)]
pub struct MediaPolicy {
    /// Download media at all.
    pub enabled: bool,
    /// Files above this keep metadata only.
    pub max_bytes: u64,
    /// Where the bytes go.
    pub blobs: Arc<BlobStore>,
    /// Attempts per file (md5 mismatch, 10001–10003, a lost worker).
    pub attempts: u32,
    /// First pause between attempts (doubles).
    pub pause: Duration,
    /// Where a file that failed every attempt is kept for a later retry (`rejects retry`),
    /// with the connector's name; `None`: not kept.
    pub retry: Option<(crate::refetch::Queue, String)>,
}

/// What became of an item.
#[derive(Debug)]
pub enum Outcome {
    /// Decoded (or rejected for good): goes into the batch.
    Done(Ingested),
    /// Could not be processed now; try again later from this item.
    Later(FinanceError),
}

/// An item's `DecryptData` answer: already fetched with its page, or to ask for now.
enum Plain {
    Given(Result<String, FinanceError>),
    Ask,
}

/// Decrypts and decodes items through a worker.
pub struct Processor {
    /// The worker.
    pub client: FinanceClient,
    /// Private keys by version (shared with the threads that do a page's RSA).
    pub keys: Arc<Keys>,
    /// Media settings.
    pub media: MediaPolicy,
    /// Chat and people names (`None`: not looked up).
    pub names: Option<super::names::Names>,
}

impl Processor {
    /// Adds the chat and sender names known now (or within the lookup budget) to the
    /// messages of a batch.
    pub async fn fill_names(&self, batch: &mut [Ingested]) {
        if let Some(n) = &self.names {
            n.fill(batch).await;
        }
    }

    /// Processes one item given as the exact bytes of its `chatdata` element.
    pub async fn item(&mut self, bytes: &[u8], received_at: TimestampMs) -> Outcome {
        let item = Item::parse(bytes);
        let key = item
            .as_ref()
            .ok()
            .map(|i| self.keys.random_key(i.publickey_ver, &i.encrypt_random_key));
        self.finish(bytes, item, key, Plain::Ask, received_at).await
    }

    /// Processes a page's items in order, up to and including the first that must wait
    /// ([`Outcome::Later`]). The RSA step of every item — one 2048-bit private-key operation
    /// each, most of an item's cost — runs first, spread over the machine's cores; then one
    /// `DecryptData` round trip to the worker serves the whole page.
    pub async fn page(&mut self, raws: &[&[u8]], received_at: TimestampMs) -> Vec<Outcome> {
        let parsed: Vec<Result<Item, String>> = raws.iter().map(|b| Item::parse(b)).collect();
        let jobs: Vec<Option<(u32, String)>> = parsed
            .iter()
            .map(|p| p.as_ref().ok().map(|i| (i.publickey_ver, i.encrypt_random_key.clone())))
            .collect();
        let keys = self.keys.clone();
        let random = match tokio::task::spawn_blocking(move || keys.random_keys(&jobs)).await {
            Ok(r) => r,
            Err(e) => {
                return vec![Outcome::Later(FinanceError::Answer(format!(
                    "the RSA step failed: {e}"
                )))];
            }
        };
        let wanted: Vec<(String, String)> = parsed
            .iter()
            .zip(&random)
            .filter_map(|(item, key)| match (item, key) {
                (Ok(i), Some(Ok(k))) => Some((k.clone(), i.encrypt_chat_msg.clone())),
                _ => None,
            })
            .collect();
        let mut lost = None;
        let answers = if wanted.is_empty() {
            Ok(Vec::new())
        } else {
            self.client.decrypt_many(wanted).await
        };
        let mut plains = match answers {
            Ok(p) => p.into_iter(),
            Err(e) => {
                lost = Some(e);
                Vec::new().into_iter()
            }
        };
        let mut out = Vec::with_capacity(raws.len());
        for ((bytes, item), key) in raws.iter().zip(parsed).zip(random) {
            let plain = if matches!((&item, &key), (Ok(_), Some(Ok(_)))) {
                match (plains.next(), lost.take()) {
                    (Some(p), _) => Plain::Given(p),
                    // The worker was lost: no item from here on was decrypted.
                    (None, Some(e)) => {
                        out.push(Outcome::Later(e));
                        break;
                    }
                    (None, None) => Plain::Ask,
                }
            } else {
                Plain::Ask
            };
            let o = self.finish(bytes, item, key, plain, received_at).await;
            let later = matches!(o, Outcome::Later(_));
            out.push(o);
            if later {
                break;
            }
        }
        out
    }

    /// Decoding and media of an item whose random key is recovered (or not) and whose
    /// `DecryptData` answer is given (or asked for here).
    async fn finish(
        &mut self,
        bytes: &[u8],
        item: Result<Item, String>,
        key: Option<Result<String, super::keys::RandomKeyError>>,
        plain: Plain,
        received_at: TimestampMs,
    ) -> Outcome {
        let reject = |reason: String| {
            Outcome::Done(Ingested::Rejected {
                raw: RawPayload {
                    received_at,
                    media_type: media::JSON.into(),
                    bytes: bytes.to_vec().into(),
                },
                reason,
            })
        };
        let item = match item {
            Ok(i) => i,
            Err(reason) => return reject(reason),
        };
        let key = key.unwrap_or_else(|| self.keys.random_key(item.publickey_ver, &item.encrypt_random_key));
        let key = match key {
            Ok(k) => k,
            Err(e) => {
                return reject(format!("seq {} msgid {}: {e}", item.seq, item.msgid));
            }
        };
        let plain = match plain {
            Plain::Given(p) => p,
            Plain::Ask => self.client.decrypt(&key, &item.encrypt_chat_msg).await,
        };
        let plain = match plain {
            Ok(p) => p,
            Err(FinanceError::Sdk { code, .. }) if !code.retryable() => {
                let hint = if code.is_key_error() {
                    format!(
                        "; check the private key of publickey_ver {}, then run `chatvault rejects retry --platform wecom_archive`",
                        item.publickey_ver
                    )
                } else {
                    String::new()
                };
                return reject(format!(
                    "seq {} msgid {}: DecryptData {code}{hint}",
                    item.seq, item.msgid
                ));
            }
            Err(e) => return Outcome::Later(e),
        };
        let plain = plain.into_bytes();
        let decoded = codec::decode(&plain);
        let raw = |plain: Vec<u8>| RawPayload {
            received_at,
            media_type: media::JSON.into(),
            bytes: plain.into(),
        };
        match decoded {
            Ok(mut events) => {
                if let Some(extra) = self.fetch_media(&plain, &mut events).await {
                    events.push(extra);
                }
                Outcome::Done(Ingested::Payload {
                    raw: raw(plain),
                    events,
                })
            }
            Err(e) => Outcome::Done(Ingested::Rejected {
                raw: raw(plain),
                reason: format!("seq {} msgid {}: {e}", item.seq, item.msgid),
            }),
        }
    }

    /// Downloads the media of a message into the blob store and records its sha256 on the
    /// attachment; a file that cannot be fetched gets a `media_unavailable` event on the
    /// message with the reason (never silently dropped).
    async fn fetch_media(&mut self, plain: &[u8], events: &mut [ChatEvent]) -> Option<ChatEvent> {
        if !self.media.enabled {
            return None;
        }
        let v: Value = serde_json::from_slice(plain).ok()?;
        let msgtype = v.get("msgtype")?.as_str()?;
        let body = v.get(msgtype)?;
        let (file_id, md5sum, size) = codec::media_ref(body)?;
        let (file_id, md5sum) = (file_id.to_string(), md5sum.to_lowercase());
        let first = events.first_mut()?;
        let (chat_id, msg_id) = (first.chat_id.clone(), first.msg_id.clone());
        let EventBody::Message(m) = &mut first.body else {
            return None;
        };
        let failure = |reason: String| ChatEvent {
            chat_id: chat_id.clone(),
            msg_id: msg_id.clone(),
            occurred_at: Some(m.sent_at),
            body: EventBody::Other {
                subtype: "media_unavailable".into(),
                detail: serde_json::json!({"sdkfileid": file_id, "reason": reason}),
            },
        };
        if size.is_some_and(|s| s > self.media.max_bytes) {
            return Some(failure(format!(
                "{} bytes, above the media size cap of {}",
                size.unwrap_or(0),
                self.media.max_bytes
            )));
        }
        let bytes = match self.download(&file_id, &md5sum).await {
            Ok(b) => b,
            Err(reason) => {
                if let (Some((queue, connector)), Some(msg_id)) = (&self.media.retry, &msg_id) {
                    let source = Source::ArchiveFile {
                        sdkfileid: file_id.clone(),
                        md5sum: md5sum.clone(),
                        size,
                    };
                    let entry = RetryPolicy::default().first_failure(&chat_id, msg_id, 0, source, &reason);
                    crate::refetch::remember(queue, entry, connector).await;
                }
                return Some(failure(reason));
            }
        };
        let blobs = self.media.blobs.clone();
        let stored = tokio::task::spawn_blocking(move || blobs.put(&bytes)).await;
        match stored {
            Ok(Ok(Stored::Blob(sha))) => {
                if let Some(a) = m.attachments.first_mut() {
                    a.sha256 = Some(sha);
                }
                None
            }
            Ok(Ok(Stored::TooLarge(_))) => Some(failure("above the blob store's size cap".into())),
            Ok(Err(e)) => Some(failure(format!("cannot store the file: {e}"))),
            Err(e) => Some(failure(format!("cannot store the file: {e}"))),
        }
    }

    /// A file kept for a later retry ([`MediaPolicy::retry`]), fetched again with the same
    /// chunk loop and md5 check, within the size cap.
    pub async fn refetch(&mut self, source: &Source) -> Result<Vec<u8>, FetchError> {
        let Source::ArchiveFile {
            sdkfileid,
            md5sum,
            size,
        } = source
        else {
            return Err(FetchError {
                reason: "not a 会话存档 file".into(),
                permanent: true,
            });
        };
        if size.is_some_and(|s| s > self.media.max_bytes) {
            return Err(FetchError {
                reason: format!("above the media size cap of {}", self.media.max_bytes),
                permanent: true,
            });
        }
        self.download(sdkfileid, md5sum).await.map_err(FetchError::transient)
    }

    /// The chunk loop, retried whole on an md5 mismatch, a retryable code or a lost worker.
    async fn download(&mut self, file_id: &str, md5sum: &str) -> Result<Vec<u8>, String> {
        let mut pause = self.media.pause;
        let mut last = String::new();
        for attempt in 0..self.media.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(pause).await;
                pause = pause.saturating_mul(2);
            }
            let mut index = String::new();
            let mut data = Vec::new();
            let result: Result<(), FinanceError> = async {
                loop {
                    let chunk = self.client.media_chunk(&index, file_id).await?;
                    data.extend_from_slice(&chunk.data);
                    if data.len() as u64 > self.media.max_bytes {
                        return Err(FinanceError::Answer("above the media size cap".into()));
                    }
                    if chunk.finished {
                        return Ok(());
                    }
                    index = chunk.index;
                }
            }
            .await;
            match result {
                Ok(()) => {
                    let got = hex::encode(Md5::digest(&data));
                    if md5sum.is_empty() || got == md5sum {
                        return Ok(data);
                    }
                    last = format!("md5 mismatch (expected {md5sum}, got {got})");
                }
                Err(FinanceError::Sdk { code, .. }) if !code.retryable() => {
                    return Err(format!("GetMediaData {code}"));
                }
                Err(FinanceError::Answer(m)) => return Err(m),
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!("gave up after {} attempts: {last}", self.media.attempts.max(1)))
    }
}
