//! `sim goofish`: a 闲鱼 Goofish IM server (LWP JSON frames over WebSocket) plus the mtop token
//! endpoint, for tests, benchmarks and the demo.
//!
//! It speaks the server side of protocols §3: `/reg` with token check (`401` for an unknown or
//! expired token) followed by a `/s/vulcan` push, `/r/SyncStatus/getState`,
//! `/r/SyncStatus/ackDiff` (pushes start; with `server_replays` its `pts` is where a replay
//! starts and unacked pushes are redelivered on the next connection, otherwise only what is
//! released from then on is pushed), `/s/sync` pushes with MessagePack chat items that each
//! wait for a `code 200` ack with the same `mid` (at most `window` unacked), `/!` heartbeats,
//! `/r/Conversation/listNewestPagination` (positional body only, §3.10 [GC]) and
//! `/r/MessageManager/listUserMessages` pages, and `mtop.taobao.idlemessage.pc.login.token`
//! with cookie and signature checks.
//!
//! # API
//! - [`GoofishSim::start`]`(SimOptions) -> Result<GoofishSim, SimError>` on `127.0.0.1:0`, or
//!   [`GoofishSim::start_on`]`(opts, port)`; [`GoofishSim::ws_url`], [`GoofishSim::api_base`].
//! - [`SimOptions::new`]`(Script)` with [`Script::DemoDay`], [`Script::Bulk`]`(n)`,
//!   [`Script::Empty`]; public fields: `offline` (messages already on the server before the
//!   first connection), `live_interval`, `items_per_push`, `window`, `token_lifetime_ms`.
//! - Records: [`GoofishSim::pushes`], [`GoofishSim::acks`], [`GoofishSim::acked_ids`],
//!   [`GoofishSim::requests`], [`GoofishSim::heartbeats`], [`GoofishSim::connections`],
//!   [`GoofishSim::handshakes`], [`GoofishSim::reg_headers`], [`GoofishSim::messages`],
//!   [`GoofishSim::live_remaining`], [`GoofishSim::on_ack`] (runs when an ack arrives, so a
//!   test can check "ack came after commit").
//! - Faults: [`GoofishSim::drop_connections`], [`GoofishSim::drop_after_pushes`],
//!   [`GoofishSim::set_answer_heartbeats`], [`GoofishSim::inject_garbage`],
//!   [`GoofishSim::expire_tokens`], [`GoofishSim::set_cookies_valid`],
//!   [`GoofishSim::flow_control_next`], [`GoofishSim::set_live_paused`];
//!   [`GoofishSim::add_message`] releases a message now.
//! - [`GoofishSim::config_section`]`(name) -> String`: the `[[goofish]]` TOML for a connector.
//! - [`run_standalone`]`(port: Option<u16>) -> Result<(), SimError>`: DemoDay until Ctrl-C.

mod mtop;
pub mod script;
mod server;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use script::{Numbering, SELF_NAME, SELF_UID, Script, SimContent, SimConversation, SimMessage};
use server::Shared;

/// Access token the simulator accepts without the mtop call.
pub const SIM_TOKEN: &str = "sim-goofish-access-token";
/// `_m_h5_tk` signing prefix the simulator's gateway expects.
pub const SIM_H5TK: &str = "5f3c1d2e9a8b7c6d";
/// Login cookies matching the simulator.
pub const SIM_COOKIES: &str =
    "cookie2=sim-cookie2; unb=2200000000001; _m_h5_tk=5f3c1d2e9a8b7c6d_1700000000000; _m_h5_tk_enc=sim-enc";
/// Device id used in the config section.
pub const SIM_DEVICE_ID: &str = "5C1B6A2E-4F0D-4E8B-9A53-7D2C1E0F9B3A-2200000000001";

/// Why the simulator could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Binding a listener failed.
    #[error(transparent)]
    Bind(#[from] crate::listen::BindError),
    /// Waiting for Ctrl-C failed.
    #[error("signal handling: {0}")]
    Signal(std::io::Error),
}

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// What it says.
    pub script: Script,
    /// Messages on the server before the first connection (`None`: the script's default).
    pub offline: Option<usize>,
    /// Pause between live messages (zero: release all at the first registration).
    pub live_interval: Duration,
    /// Messages per `/s/sync` push.
    pub items_per_push: usize,
    /// Unacknowledged pushes at most, before the server waits for acks.
    pub window: usize,
    /// Lifetime of issued access tokens (`accessTokenExpiredTime`).
    pub token_lifetime_ms: i64,
    /// Whether a new connection gets the pushes a client never acknowledged and everything
    /// released after the `pts` of its `ackDiff`. No source says the real server does either
    /// (seed `002` only says `ackDiff` makes pushes start), so by default it does neither and
    /// pushes only what is released from then on; a client must recover from history.
    pub server_replays: bool,
    /// Conversations the history and the conversation list report with `conversationType`
    /// 2 (a group); every other conversation is 1, the single chat every published client
    /// sends (seed `002`).
    pub group_cids: Vec<String>,
    /// How message ids are numbered (across the account's conversations unless set).
    pub numbering: Numbering,
}

impl SimOptions {
    /// Defaults for a script: DemoDay pushes a live message every 150 ms, Bulk as fast as
    /// acks allow.
    pub fn new(script: Script) -> Self {
        let live_interval = match script {
            Script::DemoDay => Duration::from_millis(150),
            _ => Duration::ZERO,
        };
        SimOptions {
            script,
            offline: None,
            live_interval,
            items_per_push: 1,
            window: 512,
            token_lifetime_ms: 86_400_000,
            server_replays: false,
            group_cids: Vec::new(),
            numbering: Numbering::AcrossChats,
        }
    }
}

/// A push the simulator sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRecord {
    /// Its `mid`.
    pub mid: String,
    /// Message ids it carried (for a recall, the recalled id).
    pub msg_ids: Vec<String>,
    /// Connection number (1-based).
    pub connection: u32,
    /// Whether it was a redelivery of an unacked push.
    pub redelivery: bool,
}

/// An acknowledgement the simulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckRecord {
    /// The acked push's `mid`.
    pub mid: String,
    /// Message ids that push carried.
    pub msg_ids: Vec<String>,
    /// Connection it was last sent on.
    pub connection: u32,
}

/// A running simulator; stops when dropped.
pub struct GoofishSim {
    shared: Arc<Shared>,
    ws_addr: SocketAddr,
    api_addr: SocketAddr,
}

impl Drop for GoofishSim {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl GoofishSim {
    /// Starts on loopback with ephemeral ports.
    pub async fn start(opts: SimOptions) -> Result<GoofishSim, SimError> {
        Self::start_on(opts, 0).await
    }

    /// Starts with the WebSocket on `port` (0 = any) and the mtop endpoint on any port.
    pub async fn start_on(opts: SimOptions, port: u16) -> Result<GoofishSim, SimError> {
        let (ws, ws_addr) = crate::listen::bind(loopback(port)).await?;
        let (api, api_addr) = crate::listen::bind(loopback(0)).await?;
        let shared = Shared::new(opts);
        tokio::spawn(server::serve(shared.clone(), ws));
        let router = mtop::router(shared.clone());
        let stop = shared.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(api, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        Ok(GoofishSim {
            shared,
            ws_addr,
            api_addr,
        })
    }

    /// WebSocket address.
    pub fn addr(&self) -> SocketAddr {
        self.ws_addr
    }

    /// `ws://…/` for the connector's `ws_url`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.ws_addr)
    }

    /// `http://…` for the connector's `api_base`.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// The `[[goofish]]` config section for a connector named `name` (cookie login, so the
    /// token call is exercised too).
    pub fn config_section(&self, name: &str) -> String {
        self.config_section_with_backfill(name, 200)
    }

    /// [`Self::config_section`] with another backfill depth (0: a first start pages no
    /// history, so everything arrives as pushes).
    pub fn config_section_with_backfill(&self, name: &str, depth: u32) -> String {
        format!(
            "[[goofish]]\nname = \"{name}\"\nws_url = \"{}\"\napi_base = \"{}\"\ncookies = \"{SIM_COOKIES}\"\ndevice_id = \"{SIM_DEVICE_ID}\"\nbackfill_messages_per_chat = {depth}\n",
            self.ws_url(),
            self.api_base()
        )
    }

    /// Every push sent, in order.
    pub fn pushes(&self) -> Vec<PushRecord> {
        self.shared.lock().pushes.clone()
    }

    /// Every ack received, in order.
    pub fn acks(&self) -> Vec<AckRecord> {
        self.shared.lock().acks.clone()
    }

    /// Message ids of every acked push.
    pub fn acked_ids(&self) -> Vec<String> {
        self.shared.lock().acks.iter().flat_map(|a| a.msg_ids.clone()).collect()
    }

    /// Paths of the client's requests in order (heartbeats excluded).
    pub fn requests(&self) -> Vec<String> {
        self.shared.lock().requests.clone()
    }

    /// Heartbeats received.
    pub fn heartbeats(&self) -> u64 {
        self.shared.lock().heartbeats
    }

    /// WebSocket connections accepted.
    pub fn connections(&self) -> u32 {
        self.shared.lock().connections
    }

    /// HTTP headers of each WebSocket handshake.
    pub fn handshakes(&self) -> Vec<Vec<(String, String)>> {
        self.shared.lock().handshakes.clone()
    }

    /// Headers of each `/reg` request.
    pub fn reg_headers(&self) -> Vec<serde_json::Map<String, serde_json::Value>> {
        self.shared.lock().reg_headers.clone()
    }

    /// Messages released so far (the server's history), in pts order.
    pub fn messages(&self) -> Vec<SimMessage> {
        self.shared.lock().released.iter().map(|r| r.held.msg.clone()).collect()
    }

    /// Scripted live messages not released yet.
    pub fn live_remaining(&self) -> usize {
        self.shared.lock().pending_live.len()
    }

    /// Calls `f` the moment each ack arrives (before the simulator moves on).
    pub fn on_ack(&self, f: impl Fn(&AckRecord) + Send + Sync + 'static) {
        *self.shared.observer.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(f));
    }

    /// Releases a message now: it is pushed to a connected client and is in history.
    pub fn add_message(&self, m: SimMessage) {
        self.shared.release(m);
    }

    /// Cuts every open connection (no close frame).
    pub fn drop_connections(&self) {
        self.shared.kill.send_modify(|v| *v += 1);
    }

    /// Cuts the connection right after the `n`-th next push (that push stays unacked).
    pub fn drop_after_pushes(&self, n: u32) {
        self.shared.lock().faults.drop_after = Some(n.max(1));
    }

    /// Whether `/!` heartbeats are answered.
    pub fn set_answer_heartbeats(&self, on: bool) {
        self.shared.lock().faults.answer_heartbeats = on;
    }

    /// The next push carries a non-Base64 item and an undecodable MessagePack item beside its
    /// real ones, and is preceded by a non-JSON text frame.
    pub fn inject_garbage(&self) {
        self.shared.lock().faults.garbage_next = true;
    }

    /// Every access token issued so far stops working (`/reg` answers 401).
    pub fn expire_tokens(&self) {
        self.shared.lock().valid_tokens.clear();
    }

    /// Whether the login cookies are accepted by the token call (`false`:
    /// `FAIL_SYS_SESSION_EXPIRED`).
    pub fn set_cookies_valid(&self, on: bool) {
        self.shared.lock().faults.cookies_valid = on;
    }

    /// The next `n` list/history requests are answered with flow control (`400600001`).
    pub fn flow_control_next(&self, n: u32) {
        self.shared.lock().faults.flow_control = n;
    }

    /// Holds (or resumes) the release of scripted live messages.
    pub fn set_live_paused(&self, on: bool) {
        self.shared.lock().faults.live_paused = on;
        self.shared.bump();
    }

    /// Token calls received by the mtop endpoint.
    pub fn token_calls(&self) -> u32 {
        self.shared.lock().token_calls
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Runs the DemoDay script until Ctrl-C, printing where it listens and the config section.
pub async fn run_standalone(port: Option<u16>) -> Result<(), SimError> {
    let sim = GoofishSim::start_on(SimOptions::new(Script::DemoDay), port.unwrap_or(0)).await?;
    eprintln!(
        "goofish simulator: LWP WebSocket on {}, mtop token API on {}",
        sim.ws_url(),
        sim.api_base()
    );
    eprintln!("config section:\n\n{}", sim.config_section("shop"));
    tokio::signal::ctrl_c().await.map_err(SimError::Signal)?;
    Ok(())
}
