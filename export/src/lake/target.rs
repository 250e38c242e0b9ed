//! [`LakeTarget`]: where a lake export goes (`s3://bucket/prefix` or a local folder), and the
//! S3 connection settings ([`S3Settings`]) with credentials that never print.

use std::fmt;
use std::path::PathBuf;

use crate::error::{ExportError, Result};

/// The destination of a lake export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LakeTarget {
    /// An S3 (or S3-compatible) bucket and a key prefix (no leading or trailing `/`; may be
    /// empty).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix under which `messages/`, `events/` and `_manifest.json` go.
        prefix: String,
    },
    /// A local folder (used for Delta tables on local disk).
    Dir(PathBuf),
}

impl LakeTarget {
    /// Parses `s3://bucket/prefix`; anything without a scheme is a local folder.
    pub fn parse(s: &str) -> Result<LakeTarget> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            // `s3://key:secret@bucket`: refused without echoing it, so the secret never
            // reaches a log, an error or a metrics label.
            if bucket.contains('@') {
                return Err(ExportError::Target(
                    "the target URL carries credentials (`s3://…@bucket`); give them as [export] access_key_id / \
                     secret_access_key or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY instead"
                        .into(),
                ));
            }
            if bucket.is_empty() {
                return Err(ExportError::Target(format!(
                    "`{s}` names no bucket; write it as s3://bucket/prefix"
                )));
            }
            return Ok(LakeTarget::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if s.contains("://") {
            return Err(ExportError::Target(format!(
                "`{s}`: only s3:// targets (AWS S3 and S3-compatible stores) and local folders are supported"
            )));
        }
        Ok(LakeTarget::Dir(PathBuf::from(s)))
    }

    /// Whether `s` names an object-store target rather than a local folder.
    pub fn is_remote(s: &str) -> bool {
        s.starts_with("s3://")
    }
}

impl fmt::Display for LakeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LakeTarget::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            LakeTarget::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            LakeTarget::Dir(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A credential: `Debug` prints `***`, so no log line or error can carry it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credential(String);

impl Credential {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Credential(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to reach an S3-compatible store. Unset values come from the standard `AWS_*`
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
/// `AWS_ENDPOINT`, `AWS_SESSION_TOKEN`).
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// Endpoint URL for stores other than AWS (`http://127.0.0.1:8333`, an OSS or COS
    /// endpoint).
    pub endpoint: Option<String>,
    /// Region (default `us-east-1`, which S3-compatible stores accept).
    pub region: Option<String>,
    /// Path-style URLs (`endpoint/bucket/key`), which most self-hosted stores need.
    pub path_style: bool,
    /// Allow a plain-HTTP endpoint (local test stores).
    pub allow_http: bool,
    /// Access key id.
    pub access_key_id: Option<Credential>,
    /// Secret access key.
    pub secret_access_key: Option<Credential>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        assert_eq!(
            LakeTarget::parse("s3://lake/chat/vault/").unwrap(),
            LakeTarget::S3 {
                bucket: "lake".into(),
                prefix: "chat/vault".into()
            }
        );
        assert_eq!(LakeTarget::parse("s3://lake").unwrap().to_string(), "s3://lake");
        assert!(LakeTarget::parse("s3:///x").is_err());
        assert!(
            LakeTarget::parse("gs://x/y")
                .unwrap_err()
                .to_string()
                .contains("only s3://")
        );
        assert_eq!(
            LakeTarget::parse("out/lake").unwrap(),
            LakeTarget::Dir("out/lake".into())
        );
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_echoing_them() {
        let err = LakeTarget::parse("s3://AKIDEXAMPLE:hunter2@lake/chat")
            .unwrap_err()
            .to_string();
        assert!(err.contains("carries credentials"), "{err}");
        assert!(!err.contains("hunter2") && !err.contains("AKIDEXAMPLE"), "{err}");
    }

    #[test]
    fn credentials_never_print() {
        let s = S3Settings {
            secret_access_key: Some(Credential::new("hunter2")),
            ..S3Settings::default()
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
