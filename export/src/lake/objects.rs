//! The object store behind a [`LakeTarget`] (the `object_store` crate: S3 signing, retries
//! with backoff, multipart uploads) and the few operations the lake export needs on it, each
//! turning failures into [`ExportError::Remote`] errors that name the target and the object.

use std::fs::File;
use std::io::Read;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientOptions, GetOptions, ObjectStore, ObjectStoreExt, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, RetryConfig, WriteMultipart,
};

use super::target::{LakeTarget, S3Settings};
use crate::error::{ExportError, Result};

/// Object metadata key holding the hex sha256 of the content (`x-amz-meta-sha256` on S3): a
/// resumed export skips every object whose recorded checksum matches the file it would send.
pub const SHA256_METADATA: &str = "sha256";

/// Part size of multipart uploads. S3 needs at least 5 MiB per part; 8 MiB parts with
/// [`PARTS_IN_FLIGHT`] uploads at once bound an upload's memory to a few tens of MB whatever
/// the file's size.
const PART_BYTES: usize = 8 << 20;

/// Parts uploaded concurrently per file.
const PARTS_IN_FLIGHT: usize = 2;

/// An open target: the store and how to name its objects.
#[derive(Debug, Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    target: String,
    /// Whether the store keeps user metadata (S3 does; a local folder does not, and its
    /// copies are simply sent again after an interruption).
    metadata: bool,
}

impl Objects {
    /// Connects to `target` (no request is sent yet).
    pub fn open(target: &LakeTarget, s3: &S3Settings) -> Result<Objects> {
        let name = target.to_string();
        let store: Arc<dyn ObjectStore> = match target {
            LakeTarget::S3 { bucket, .. } => {
                Arc::new(s3_store(bucket, s3).map_err(|e| remote(&name, "connect to", "", e))?)
            }
            LakeTarget::Dir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
                Arc::new(LocalFileSystem::new_with_prefix(dir).map_err(|e| remote(&name, "open", "", e))?)
            }
        };
        let prefix = match target {
            LakeTarget::S3 { prefix, .. } => prefix.clone(),
            LakeTarget::Dir(_) => String::new(),
        };
        Ok(Objects {
            store,
            prefix,
            target: name,
            metadata: matches!(target, LakeTarget::S3 { .. }),
        })
    }

    /// The target as configured, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn path(&self, rel: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rel)
        } else {
            Path::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn err(&self, op: &str, rel: &str, e: object_store::Error) -> ExportError {
        remote(&self.target, op, rel, e)
    }

    /// The content of `rel`, or `None` if there is no such object.
    pub async fn get(&self, rel: &str) -> Result<Option<bytes::Bytes>> {
        match self.store.get(&self.path(rel)).await {
            Ok(r) => r.bytes().await.map(Some).map_err(|e| self.err("read", rel, e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("read", rel, e)),
        }
    }

    /// The sha256 recorded in `rel`'s metadata; `None` if the object is missing or has none.
    pub async fn recorded_sha256(&self, rel: &str) -> Result<Option<String>> {
        if !self.metadata {
            return Ok(None);
        }
        let opts = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        match self.store.get_opts(&self.path(rel), opts).await {
            Ok(r) => Ok(r
                .attributes
                .get(&Attribute::Metadata(SHA256_METADATA.into()))
                .map(|v| v.to_string())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("look up", rel, e)),
        }
    }

    /// Writes a small object in one request (overwriting).
    pub async fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&self.path(rel), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.err("write", rel, e))
    }

    /// Writes a small object only if none exists under that name (S3 `If-None-Match: *`, an
    /// exclusive create on a local disk). `Ok(false)` = another writer got there first.
    pub async fn put_new(&self, rel: &str, bytes: Vec<u8>) -> Result<bool> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&self.path(rel), PutPayload::from(bytes), opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.err("create", rel, e)),
        }
    }

    /// Streams the local file `src` to `rel` as a multipart upload with its sha256 in the
    /// object's metadata. The object appears only when the upload completes; a failed upload
    /// is aborted, so nothing partial is ever visible.
    pub async fn upload_file(
        &self,
        rel: &str,
        src: &FsPath,
        sha256: &str,
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let mut attributes = Attributes::new();
        if self.metadata {
            attributes.insert(Attribute::Metadata(SHA256_METADATA.into()), sha256.to_string().into());
        }
        let opts = PutMultipartOptions {
            attributes,
            ..PutMultipartOptions::default()
        };
        let path = self.path(rel);
        let upload = self
            .store
            .put_multipart_opts(&path, opts)
            .await
            .map_err(|e| self.err("start upload of", rel, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let sent = self.send_parts(&mut writer, rel, src, on_bytes).await;
        match sent {
            Ok(()) => writer
                .finish()
                .await
                .map(|_| ())
                .map_err(|e| self.err("finish upload of", rel, e)),
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    async fn send_parts(
        &self,
        writer: &mut WriteMultipart,
        rel: &str,
        src: &FsPath,
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let mut file = File::open(src).map_err(|e| ExportError::io(src, e))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(|e| self.err("upload", rel, e))?;
            let n = file.read(&mut buf).map_err(|e| ExportError::io(src, e))?;
            if n == 0 {
                return Ok(());
            }
            writer.write(&buf[..n]);
            on_bytes(n as u64);
        }
    }

    /// Every object under `dir/` (relative paths).
    pub async fn list(&self, dir: &str) -> Result<Vec<String>> {
        let prefix = self.path(dir);
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut out = Vec::new();
        let mut stream = self.store.list(Some(&prefix));
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| self.err("list", dir, e))?;
            let p = meta.location.to_string();
            out.push(p.strip_prefix(&strip).unwrap_or(&p).to_string());
        }
        Ok(out)
    }

    /// Removes `rel` (a missing object is not an error).
    pub async fn delete(&self, rel: &str) -> Result<()> {
        match self.store.delete(&self.path(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err("delete", rel, e)),
        }
    }
}

fn s3_store(bucket: &str, s: &S3Settings) -> object_store::Result<object_store::aws::AmazonS3> {
    // Environment first (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION …), then what
    // the config sets explicitly.
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_retry(RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(10),
                base: 2.0,
            },
            max_retries: 6,
            retry_timeout: Duration::from_secs(120),
        })
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(s.allow_http)
                .with_connect_timeout(Duration::from_secs(10))
                .with_timeout(Duration::from_secs(300)),
        );
    if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
        b = b.with_region("us-east-1");
    }
    if let Some(r) = &s.region {
        b = b.with_region(r);
    }
    if let Some(e) = &s.endpoint {
        b = b.with_endpoint(e);
    }
    if s.path_style {
        b = b.with_virtual_hosted_style_request(false);
    }
    if let Some(k) = &s.access_key_id {
        b = b.with_access_key_id(k.expose());
    }
    if let Some(k) = &s.secret_access_key {
        b = b.with_secret_access_key(k.expose());
    }
    b.build()
}

fn remote(target: &str, op: &str, rel: &str, source: object_store::Error) -> ExportError {
    ExportError::Remote {
        target: target.to_string(),
        op: op.to_string(),
        object: rel.to_string(),
        reason: describe(&source),
    }
}

/// The store's error, made readable: S3's "Access Denied"/"NoSuchBucket" come back as generic
/// request errors whose text holds the code; point at the likely fix.
fn describe(e: &object_store::Error) -> String {
    let text = e.to_string();
    if text.contains("NoSuchBucket") {
        return format!("the bucket does not exist ({text})");
    }
    if text.contains("InvalidAccessKeyId")
        || text.contains("SignatureDoesNotMatch")
        || text.contains("AccessDenied")
        || text.contains("403")
    {
        return format!(
            "the store refused the credentials (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or [export] access_key_id / secret_access_key): {text}"
        );
    }
    text
}
