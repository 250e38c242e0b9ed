//! `[[wecom_archive]]`: WeCom 会话存档 through the Finance SDK (design §9). Parsing and the
//! checks that need no file: the SDK file and the PEM keys are checked by the connector and
//! by `check-config`, which load them.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::Secret;

/// `[[wecom_archive]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WecomArchiveConfig {
    /// Connector name.
    pub name: String,
    /// CorpID.
    pub corp_id: String,
    /// The 会话存档 secret.
    pub secret: Secret,
    /// The operator's copy of `libWeWorkFinanceSdk_C.so` (chatvault never ships it).
    pub sdk_path: PathBuf,
    /// One private key per `publickey_ver`; keep old ones after a rotation.
    #[serde(default)]
    pub private_keys: Vec<PrivateKeyConfig>,
    /// Proxy for the SDK's connections, e.g. `socks5://10.0.0.1:8081`.
    #[serde(default)]
    pub proxy: Option<String>,
    /// Proxy credentials `user:pass`.
    #[serde(default)]
    pub proxy_password: Option<Secret>,
    /// Pull interval (`msgaudit_notify` on a `[[wecom]]` callback pulls at once too).
    #[serde(default = "default_poll", deserialize_with = "duration")]
    pub poll_interval: Duration,
    /// Items per GetChatData call (1..=1000).
    #[serde(default = "default_limit")]
    pub batch_limit: u32,
    /// Timeout of each SDK call; the worker is replaced when it has not answered in twice this.
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Download media (images, voice, video, files) through GetMediaData.
    #[serde(default = "default_true")]
    pub media: bool,
    /// Media above this size keep metadata only (default: `storage.blob_max_bytes`).
    #[serde(default)]
    pub media_max_bytes: Option<u64>,
    /// API base for group names (`msgaudit/groupchat/get`, `externalcontact/groupchat/get`).
    #[serde(default = "default_api")]
    pub api_base: String,
    /// Look chat and people names up through the WeCom API (the 会话存档 secret reads group
    /// names; `contact_secret` and `user_secret` add customers and employees).
    #[serde(default = "default_true")]
    pub names: bool,
    /// The 客户联系 secret: customer names (`externalcontact/get`) and customer group names.
    #[serde(default)]
    pub contact_secret: Option<Secret>,
    /// A secret that may read members (`user/get`): the 通讯录 secret, or an app's whose
    /// visible range covers the archived employees.
    #[serde(default)]
    pub user_secret: Option<Secret>,
    /// How long a looked-up name is trusted before it is asked again (renames show after at
    /// most this long).
    #[serde(default = "default_name_refresh", deserialize_with = "duration")]
    pub name_refresh: Duration,
}

/// `[[wecom_archive.private_keys]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateKeyConfig {
    /// `publickey_ver` of the public key uploaded with it.
    pub version: u32,
    /// A file path, or the PEM itself (when it starts with `-----BEGIN`), PKCS#1 or PKCS#8.
    pub pem: Secret,
}

impl PrivateKeyConfig {
    /// Whether `pem` holds the key itself rather than a path.
    pub fn is_inline(&self) -> bool {
        self.pem.expose().trim_start().starts_with("-----BEGIN")
    }
}

fn default_poll() -> Duration {
    Duration::from_secs(30)
}
fn default_limit() -> u32 {
    1000
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_name_refresh() -> Duration {
    Duration::from_secs(3600)
}
fn default_true() -> bool {
    true
}
fn default_api() -> String {
    "https://qyapi.weixin.qq.com".into()
}

/// `"30s"`, `"500ms"`, `"2m"`, `"1h"`, or a number of seconds. Hand-written: four units do
/// not justify a dependency.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Secs(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => parse_duration(&t).map_err(serde::de::Error::custom),
    }
}

pub(crate) fn parse_duration(t: &str) -> Result<Duration, String> {
    let t = t.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{t}` is not a duration; write e.g. \"30s\", \"500ms\", \"2m\""))?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        u => Err(format!("unknown unit `{u}` in `{t}` (valid: ms, s, m, h)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").unwrap_err().contains("valid: ms, s, m, h"));
    }
}
