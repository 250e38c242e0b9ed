//! 企业微信 WeCom simulator: a poster that calls a callback URL exactly like WeCom (signed,
//! AES-encrypted XML, 5 s deadline, three attempts), and a fake server API for the
//! connector's name and media lookups.
//!
//! # API
//! - [`WecomPoster::sim`]`(url)` posts to a running receiver with the simulator's
//!   credentials ([`CORP_ID`], [`TOKEN`], [`ENCODING_AES_KEY`]); [`WecomPoster::deliver`],
//!   [`WecomPoster::run`], [`WecomPoster::burst`], [`WecomPoster::verify_url`];
//!   [`WecomPoster::deliver_with`] injects a [`Fault`] (bad signature, wrong corp id, truncated
//!   XML, oversized body, missing parameters); [`WecomPoster::sign`] + [`WecomPoster::send`]
//!   replay a payload byte for byte. [`WecomPoster::log`] lists every attempt with its
//!   answer and times ([`Attempt::acked`]).
//! - [`Script`]`::{DemoDay, Bulk(n)}`[`.callbacks(corp_id)`](Script::callbacks): what to send.
//! - [`FakeApi::start`]`(port, secret)`: `gettoken`, `user/get`, `groupchat/get`,
//!   `externalcontact/get`, `oa/getapprovaldetail`, `media/get` on loopback; [`FakeApi::expire_token`], [`FakeApi::busy`] inject errors.
//! - [`config_toml`]`(name, path, api_base)`: the `[[wecom]]` section for these credentials.
//! - [`run_standalone`]`(port)`: fake API on `port`, then the demo day posted to
//!   `http://127.0.0.1:8088` + [`DEFAULT_PATH`] once the receiver answers; runs until Ctrl-C.

mod api;
mod poster;
mod script;

pub use api::{FakeApi, media_bytes};
pub use poster::{ATTEMPTS, Attempt, DEADLINE, Fault, Signed, WecomPoster};
pub use script::{
    AGENT_ID, APPROVAL_SP_NO, CUSTOMERS, Callback, DEMO_DAY_START, DEMO_GROUP, MEMBERS, OPEN_APPROVAL_THIRD_NO, Script,
    open_approval_change, text,
};

/// The simulated corp id.
pub const CORP_ID: &str = "wwc4a7f0de5b1e2d3c";
/// The simulated callback token.
pub const TOKEN: &str = "chatvaultSimToken2026";
/// The simulated 43-character EncodingAESKey.
pub const ENCODING_AES_KEY: &str = "Q2hhdHZhdWx0U2ltdWxhdGVkV2VDb21BRVNLZXkyMDI";
/// The simulated app secret for the fake API.
pub const SECRET: &str = "chatvault-sim-secret";
/// Callback path the standalone simulator posts to.
pub const DEFAULT_PATH: &str = "/callback/wecom/sim";

/// What can go wrong in the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Socket error.
    #[error("wecom simulator I/O: {0}")]
    Io(#[source] std::io::Error),
    /// HTTP client error.
    #[error("wecom simulator HTTP: {0}")]
    Http(String),
    /// Bad credentials given.
    #[error("wecom simulator config: {0}")]
    Config(String),
}

/// The `[[wecom]]` section for a connector named `name` at `path`, with the simulator's
/// credentials; with `api_base`, the secret for the fake API too.
pub fn config_toml(name: &str, path: &str, api_base: Option<&str>) -> String {
    let mut s = format!(
        "[[wecom]]\nname = \"{name}\"\ncorp_id = \"{CORP_ID}\"\ntoken = \"{TOKEN}\"\nencoding_aes_key = \"{ENCODING_AES_KEY}\"\npath = \"{path}\"\n"
    );
    if let Some(base) = api_base {
        s.push_str(&format!("secret = \"{SECRET}\"\napi_base = \"{base}\"\n"));
    }
    s
}

/// Runs the fake API on `port` (default: any free port), prints the config section, posts
/// the demo day to `http://127.0.0.1:8088` + [`DEFAULT_PATH`] once it answers the URL
/// verification, and waits for Ctrl-C.
pub async fn run_standalone(port: Option<u16>) -> Result<(), SimError> {
    let api = FakeApi::start(port.unwrap_or(0), SECRET).await?;
    eprintln!("wecom simulator: fake API on {}", api.base_url());
    eprintln!(
        "config section:\n\n{}",
        config_toml("wecom-sim", DEFAULT_PATH, Some(&api.base_url()))
    );
    let url = format!("http://127.0.0.1:8088{DEFAULT_PATH}");
    let poster = WecomPoster::sim(&url);
    let answers = async || poster.verify_url("chatvault-sim-echo").await.status == 200;
    let post = async {
        let callbacks = Script::DemoDay.callbacks(CORP_ID);
        let acked = poster.run(&callbacks).await;
        eprintln!(
            "wecom simulator: {acked}/{} callbacks acknowledged; Ctrl-C to stop",
            callbacks.len()
        );
    };
    crate::delivery::post_when_up(&url, answers, post)
        .await
        .map_err(SimError::Io)
}
