//! The config structs (design §9). Defaults live here; validation lives in `load`.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::Secret;

/// The whole `chatvault.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// IANA time zone for schedules, date partitions and human dates.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Parsed [`Config::timezone`] (set by `load`).
    #[serde(skip, default = "default_tz")]
    pub tz: chrono_tz::Tz,
    /// `[storage]`.
    #[serde(default)]
    pub storage: StorageConfig,
    /// `[server]`.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[[eoffice]]` connectors.
    #[serde(default)]
    pub eoffice: Vec<EofficeConfig>,
    /// `[[wecom]]` connectors.
    #[serde(default)]
    pub wecom: Vec<WecomConfig>,
    /// `[[goofish]]` connectors.
    #[serde(default)]
    pub goofish: Vec<GoofishConfig>,
    /// `[[worktool]]` connectors.
    #[serde(default)]
    pub worktool: Vec<WorktoolConfig>,
    /// `[[yunhu]]` connectors.
    #[serde(default)]
    pub yunhu: Vec<YunhuConfig>,
    /// `[[wecom_archive]]` connectors.
    #[serde(default)]
    pub wecom_archive: Vec<crate::wecom_archive::WecomArchiveConfig>,
    /// `[export]`.
    #[serde(default)]
    pub export: ExportConfig,
    /// `[alerts]`.
    #[serde(default)]
    pub alerts: crate::AlertsConfig,
    /// `[ui]`: the reviewer web UI.
    #[serde(default)]
    pub ui: UiConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timezone: default_timezone(),
            tz: default_tz(),
            storage: StorageConfig::default(),
            server: ServerConfig::default(),
            eoffice: vec![],
            wecom: vec![],
            goofish: vec![],
            worktool: vec![],
            yunhu: vec![],
            wecom_archive: vec![],
            export: ExportConfig::default(),
            alerts: crate::AlertsConfig::default(),
            ui: UiConfig::default(),
        }
    }
}

impl Config {
    /// Number of configured connectors of all kinds.
    pub fn connector_count(&self) -> usize {
        self.eoffice.len()
            + self.wecom.len()
            + self.goofish.len()
            + self.worktool.len()
            + self.yunhu.len()
            + self.wecom_archive.len()
    }

    /// Every configured connector, in file order per kind.
    pub fn connectors(&self) -> Vec<ConnectorConfig> {
        let mut v = Vec::new();
        v.extend(self.eoffice.iter().cloned().map(ConnectorConfig::Eoffice));
        v.extend(self.wecom.iter().cloned().map(ConnectorConfig::Wecom));
        v.extend(self.goofish.iter().cloned().map(ConnectorConfig::Goofish));
        v.extend(self.worktool.iter().cloned().map(ConnectorConfig::Worktool));
        v.extend(self.yunhu.iter().cloned().map(ConnectorConfig::Yunhu));
        v.extend(self.wecom_archive.iter().cloned().map(ConnectorConfig::WecomArchive));
        v
    }

    /// The data directory: `override_dir`, else `storage.data_dir`.
    pub fn data_dir(&self, override_dir: Option<&std::path::Path>) -> PathBuf {
        override_dir
            .map(PathBuf::from)
            .unwrap_or_else(|| self.storage.data_dir.clone())
    }
}

fn default_timezone() -> String {
    "UTC".into()
}
fn default_tz() -> chrono_tz::Tz {
    chrono_tz::UTC
}

/// `[storage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Where the database, blobs, index, spool and export live.
    pub data_dir: PathBuf,
    /// Group-commit window of the store writer, in ms.
    pub group_commit_ms: u64,
    /// Attachments above this size keep metadata only.
    pub blob_max_bytes: u64,
    /// `synchronous=FULL` (true, default: acknowledged data survives power loss) or NORMAL.
    pub synchronous_full: bool,
    /// Capacity (in batches) of the channel between connectors and the store writer.
    pub channel_capacity: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("./chatvault-data"),
            group_commit_ms: 5,
            blob_max_bytes: 50 * 1024 * 1024,
            synchronous_full: true,
            channel_capacity: 64,
        }
    }
}

/// `[server]`: the shared HTTP server for callbacks, `/healthz` and `/metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Listen address; loopback by default (put a TLS reverse proxy in front).
    pub listen: SocketAddr,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Time a client gets to send a request's headers, in ms.
    pub header_timeout_ms: u64,
    /// Time a client gets to send a request's body once its headers arrived, in ms.
    pub body_timeout_ms: u64,
    /// Open connections at most; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// On shutdown, time in-flight requests get before their connections are closed, in ms.
    pub shutdown_grace_ms: u64,
    /// Refused requests (4xx) one peer address may send in a row before it is answered 429
    /// without being read; 0 turns this off.
    pub refused_burst: u32,
    /// How many refused requests per minute refill a peer's budget.
    pub refused_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` (its last address) names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8088".parse().expect("valid literal"),
            max_body_bytes: 10 * 1024 * 1024,
            header_timeout_ms: 10_000,
            body_timeout_ms: 15_000,
            max_connections: 1024,
            shutdown_grace_ms: 5_000,
            refused_burst: 20,
            refused_per_minute: 60,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[ui]`: the reviewer web UI (`chatvault serve`; inside `run` only when `listen` is set).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Its own listen address, never the callback server's; `run` starts the UI only when set.
    pub listen: Option<SocketAddr>,
    /// Mark session cookies `Secure` (set it when a TLS proxy is in front).
    pub secure_cookies: bool,
    /// A session unused for this many seconds ends.
    pub idle_timeout_secs: u64,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            listen: None,
            secure_cookies: false,
            idle_timeout_secs: 30 * 60,
        }
    }
}

/// `connect_type` of an e-office login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConnectType {
    /// Browser.
    Web,
    /// Mobile app.
    Mobile,
    /// Desktop client.
    #[default]
    Client,
}

impl ConnectType {
    /// The query parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectType::Web => "web",
            ConnectType::Mobile => "mobile",
            ConnectType::Client => "client",
        }
    }
}

/// `[[eoffice]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EofficeConfig {
    /// Connector name (the account in message identities).
    pub name: String,
    /// Socket.IO endpoint, `http(s)://host:port`.
    pub url: String,
    /// Socket.IO path.
    #[serde(default = "default_sio_path")]
    pub path: String,
    /// OA token sent in the CONNECT auth payload.
    pub token: Secret,
    /// The login user id whose chats are archived.
    pub user_id: String,
    /// `web`, `mobile` or `client`.
    #[serde(default)]
    pub connect_type: ConnectType,
    /// AES key for `message_content` (Latin-1, 16/24/32 bytes); optional.
    #[serde(default)]
    pub aes_key: Option<Secret>,
    /// AES IV (Latin-1, 16 bytes); optional.
    #[serde(default)]
    pub aes_iv: Option<Secret>,
}

fn default_sio_path() -> String {
    "/socket.io/".into()
}

/// `[[wecom]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WecomConfig {
    /// Connector name.
    pub name: String,
    /// CorpID (the expected receive id).
    pub corp_id: String,
    /// Callback token (signature).
    pub token: Secret,
    /// 43-character EncodingAESKey.
    pub encoding_aes_key: Secret,
    /// Callback route on the shared server.
    pub path: String,
    /// App secret for gettoken (names and media download); optional.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// API base URL.
    #[serde(default = "default_wecom_api")]
    pub api_base: String,
    /// Signed requests whose `timestamp` is further than this from now are refused (403), in
    /// seconds.
    #[serde(default = "default_wecom_timestamp_window")]
    pub timestamp_window_secs: u64,
}

fn default_wecom_timestamp_window() -> u64 {
    // WeCom retries within seconds; an hour also absorbs a badly set server clock.
    3600
}

fn default_wecom_api() -> String {
    "https://qyapi.weixin.qq.com".into()
}

/// `[[goofish]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoofishConfig {
    /// Connector name.
    pub name: String,
    /// LWP WebSocket URL.
    #[serde(default = "default_goofish_ws")]
    pub ws_url: String,
    /// accessToken (or use `cookies`).
    #[serde(default)]
    pub token: Option<Secret>,
    /// goofish.com login cookies, to obtain and refresh the access token.
    #[serde(default)]
    pub cookies: Option<Secret>,
    /// Device id.
    pub device_id: String,
    /// mtop API base URL.
    #[serde(default = "default_goofish_api")]
    pub api_base: String,
    /// History depth per conversation on backfill.
    #[serde(default = "default_backfill")]
    pub backfill_messages_per_chat: u32,
}

fn default_goofish_ws() -> String {
    "wss://wss-goofish.dingtalk.com/".into()
}
fn default_goofish_api() -> String {
    "https://h5api.m.goofish.com".into()
}
fn default_backfill() -> u32 {
    200
}

/// `[[worktool]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorktoolConfig {
    /// Connector name.
    pub name: String,
    /// Robot id (for the online-status poll); optional.
    #[serde(default)]
    pub robot_id: Option<String>,
    /// Callback route on the shared server.
    pub path: String,
    /// Secret carried in the callback URL as `?key=`.
    pub key: Secret,
    /// WorkTool API base URL.
    #[serde(default = "default_worktool_api")]
    pub api_base: String,
    /// The WorkTool API's 校验码 (`key`), needed by `robotInfo/get` when the robot has
    /// `robotKeyCheck` on; optional.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// Cap of the spool file (callbacks the store could not take in time), in bytes.
    #[serde(default = "default_spool_max_bytes")]
    pub spool_max_bytes: u64,
}

fn default_spool_max_bytes() -> u64 {
    1024 * 1024 * 1024
}

fn default_worktool_api() -> String {
    "https://api.worktool.ymdyes.cn".into()
}

/// `[[yunhu]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YunhuConfig {
    /// Connector name.
    pub name: String,
    /// WebSocket URL.
    #[serde(default = "default_yunhu_ws")]
    pub ws_url: String,
    /// HTTP API base URL.
    #[serde(default = "default_yunhu_api")]
    pub api_base: String,
    /// User id.
    pub user_id: String,
    /// Login token.
    pub token: Secret,
    /// Platform name sent at login (case-sensitive).
    #[serde(default = "default_yunhu_platform")]
    pub platform: String,
    /// Device id.
    pub device_id: String,
    /// Archive the account's own unsent drafts (`draft_input`, synced from its other
    /// devices). Off by default: a draft was never sent to anyone.
    #[serde(default)]
    pub archive_drafts: bool,
}

fn default_yunhu_ws() -> String {
    "wss://chat-ws-go.jwzhd.com/ws".into()
}
fn default_yunhu_api() -> String {
    "https://chat-go.jwzhd.com".into()
}
fn default_yunhu_platform() -> String {
    "windows".into()
}

/// `[export]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    /// Export directory; relative paths are under the data dir. Default `<data_dir>/export`.
    pub dir: Option<PathBuf>,
    /// Cron schedule (5-field crontab or 6-field with seconds); none = no scheduled export.
    pub schedule: Option<String>,
    /// Object-store target, `s3://bucket/prefix`; an alternative to `dir` (not both).
    pub target: Option<String>,
    /// Table format: `parquet` (default) or `delta` (Delta Lake tables).
    pub format: ExportFormat,
    /// S3 endpoint URL for stores other than AWS (MinIO, SeaweedFS, OSS, COS …).
    pub endpoint: Option<String>,
    /// S3 region; default `AWS_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style S3 URLs (`endpoint/bucket/key`), needed by most self-hosted stores.
    pub path_style: bool,
    /// Allow a plain-HTTP endpoint.
    pub allow_http: bool,
    /// S3 access key id; default `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<Secret>,
    /// S3 secret access key; default `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<Secret>,
    /// Permissions of the files of a local export, octal (`"0640"`, `"0600"`); default `0640`.
    pub file_mode: Option<String>,
}

/// `[export] format`.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// Hive-partitioned Parquet files and `_manifest.json`.
    #[default]
    Parquet,
    /// Delta Lake tables.
    Delta,
}

impl ExportConfig {
    /// Default permissions of export files: the owner writes, the owner's group (a BI
    /// service account) reads, nobody else.
    pub const DEFAULT_FILE_MODE: u32 = 0o640;

    /// `file_mode` as a number; `None` if it is not an octal mode.
    pub fn parsed_file_mode(&self) -> Option<u32> {
        match &self.file_mode {
            None => Some(Self::DEFAULT_FILE_MODE),
            Some(s) => u32::from_str_radix(s.trim().trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o777),
        }
    }
}

/// One configured connector of any kind.
#[derive(Debug, Clone)]
pub enum ConnectorConfig {
    /// e-office.
    Eoffice(EofficeConfig),
    /// WeCom.
    Wecom(WecomConfig),
    /// Goofish.
    Goofish(GoofishConfig),
    /// WorkTool.
    Worktool(WorktoolConfig),
    /// Yunhu.
    Yunhu(YunhuConfig),
    /// WeCom 会话存档.
    WecomArchive(crate::wecom_archive::WecomArchiveConfig),
}

impl ConnectorConfig {
    /// Its configured name.
    pub fn name(&self) -> &str {
        match self {
            ConnectorConfig::Eoffice(c) => &c.name,
            ConnectorConfig::Wecom(c) => &c.name,
            ConnectorConfig::Goofish(c) => &c.name,
            ConnectorConfig::Worktool(c) => &c.name,
            ConnectorConfig::Yunhu(c) => &c.name,
            ConnectorConfig::WecomArchive(c) => &c.name,
        }
    }
    /// Its platform.
    pub fn platform(&self) -> proto::Platform {
        match self {
            ConnectorConfig::Eoffice(_) => proto::Platform::Eoffice,
            ConnectorConfig::Wecom(_) => proto::Platform::Wecom,
            ConnectorConfig::Goofish(_) => proto::Platform::Goofish,
            ConnectorConfig::Worktool(_) => proto::Platform::Worktool,
            ConnectorConfig::Yunhu(_) => proto::Platform::Yunhu,
            ConnectorConfig::WecomArchive(_) => proto::Platform::WecomArchive,
        }
    }
}
