//! `sim eoffice`: a 泛微 e-office IM server (Socket.IO v5 over Engine.IO v4 WebSocket) for
//! tests, benchmarks and the demo. It speaks the server side of the protocol with the
//! connector's own framing module: handshake checks (`EIO=4`, `transport=websocket`, path),
//! open packet, pings with a pong deadline, the token check of CONNECT (`44` when wrong),
//! `get offline info` → `user offline info` / `group offline info` batches that each ask for
//! an ack and are redelivered on every new connection until acked with `'success'`, then the
//! script's live pushes.
//!
//! # API
//! - [`EofficeSim::start`]`(SimOptions) -> Result<EofficeSim, SimError>`: listens on
//!   `127.0.0.1:0` (or [`EofficeSim::start_on`] for a given address); [`EofficeSim::addr`],
//!   [`EofficeSim::url`].
//! - [`SimOptions::new`]`(Script)` with [`Script::DemoDay`], [`Script::Bulk`]`(n)`,
//!   [`Script::Empty`]; token, user id, AES key/IV, path, ping timing, offline batch size,
//!   live push interval are public fields.
//! - Records: [`EofficeSim::log`] (every connection, push, ack, refusal, in order),
//!   [`EofficeSim::acked_ids`], [`EofficeSim::sent_ids`], [`EofficeSim::pending_offline`],
//!   [`EofficeSim::live_remaining`], [`EofficeSim::on_ack`] (runs at the moment an ack
//!   arrives, so a test can check "ack came after commit").
//! - Faults: [`EofficeSim::drop_connections`], [`EofficeSim::set_pinging`],
//!   [`EofficeSim::send_raw`] (garbage frames), [`EofficeSim::refuse_logins`] (wrong-token
//!   answers), [`EofficeSim::kick`] (`refresh page`), [`EofficeSim::push`].
//! - [`EofficeSim::config_section`]`(name) -> String`: the `[[eoffice]]` TOML for a connector.
//! - [`run_standalone`]`(port: Option<u16>) -> Result<(), SimError>`: DemoDay until Ctrl-C.

mod log;
pub mod script;
mod server;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ingest::eoffice::crypto::ContentKey;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use log::{LogEntry, SimEvent};
pub use script::{LivePush, Script};
use server::{Control, Shared, State};

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Binding the listener failed.
    #[error(transparent)]
    Bind(#[from] crate::listen::BindError),
    /// The AES key or IV of the options is unusable.
    #[error("bad simulator aes key: {0}")]
    Key(#[from] ingest::eoffice::crypto::CryptoError),
    /// Waiting for Ctrl-C failed.
    #[error("signal handling: {0}")]
    Signal(std::io::Error),
}

/// Token the simulator accepts by default.
pub const SIM_TOKEN: &str = "sim-oa-token";
/// AES key the simulator encrypts `message_content` with by default (16 Latin-1 bytes).
pub const SIM_AES_KEY: &str = "e-office-sim-key";
/// AES IV the simulator uses by default.
pub const SIM_AES_IV: &str = "0102030405060708";

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// What it says.
    pub script: Script,
    /// Accepted OA token.
    pub token: String,
    /// The login user id the script is written for.
    pub user_id: String,
    /// `(key, iv)` for `message_content`; `None` sends an empty ciphertext.
    pub aes: Option<(String, String)>,
    /// Socket.IO path.
    pub path: String,
    /// `pingInterval`.
    pub ping_interval: Duration,
    /// `pingTimeout`.
    pub ping_timeout: Duration,
    /// Messages per offline batch (each batch asks for one ack).
    pub offline_batch: usize,
    /// Pause between live pushes (zero: as fast as the socket takes them).
    pub live_interval: Duration,
}

impl SimOptions {
    /// Defaults: the sim token and key, user `admin`, path `/socket.io/`, the reference
    /// server's ping timing (25 s / 20 s), offline batches of 100, no pause between pushes.
    pub fn new(script: Script) -> Self {
        SimOptions {
            script,
            token: SIM_TOKEN.into(),
            user_id: script::LOGIN_USER.into(),
            aes: Some((SIM_AES_KEY.into(), SIM_AES_IV.into())),
            path: "/socket.io/".into(),
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            offline_batch: 100,
            live_interval: Duration::ZERO,
        }
    }
}

/// A running simulator; stops when dropped.
pub struct EofficeSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Drop for EofficeSim {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl EofficeSim {
    /// Starts on `127.0.0.1:0`.
    pub async fn start(opts: SimOptions) -> Result<EofficeSim, SimError> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), opts).await
    }

    /// Starts on `addr`.
    pub async fn start_on(addr: SocketAddr, opts: SimOptions) -> Result<EofficeSim, SimError> {
        let key = match &opts.aes {
            Some((k, iv)) => Some(ContentKey::new(k, iv)?),
            None => None,
        };
        let feed = script::feed(opts.script, key.as_ref());
        let (listener, addr) = crate::listen::bind(addr).await?;
        let chat_list = json!([
            {"room_id": "pub_finance", "group_name": "财务报销群"},
            {"room_id": "grp_agri", "group_name": "农业局项目组"},
            {"room_id": "grp_contract", "group_name": "合同评审群"},
        ]);
        let state = State {
            offline: feed.offline,
            live: feed.live.into_iter().map(server::ReadyPush::new).collect(),
            chat_list,
            ..State::default()
        };
        let shared = Arc::new(Shared {
            opts,
            key,
            state: Mutex::new(state),
            pinging: AtomicBool::new(true),
            refuse: AtomicU32::new(0),
            controls: Mutex::default(),
            observer: Mutex::default(),
            shutdown: CancellationToken::new(),
        });
        tokio::spawn(server::accept_loop(listener, shared.clone()));
        Ok(EofficeSim { addr, shared })
    }

    /// Listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, the connector's `url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `[[eoffice]]` section pointing a connector named `name` at this simulator.
    pub fn config_section(&self, name: &str) -> String {
        let o = &self.shared.opts;
        let mut s = format!(
            "[[eoffice]]\nname = \"{name}\"\nurl = \"{}\"\npath = \"{}\"\ntoken = \"{}\"\nuser_id = \"{}\"\nconnect_type = \"client\"\n",
            self.url(),
            o.path,
            o.token,
            o.user_id
        );
        if let Some((k, iv)) = &o.aes {
            s.push_str(&format!("aes_key = \"{k}\"\naes_iv = \"{iv}\"\n"));
        }
        s
    }

    /// Everything that happened, in order.
    pub fn log(&self) -> Vec<LogEntry> {
        self.shared.lock().log.clone()
    }

    /// Ids of offline messages the client acknowledged with `'success'`, in ack order.
    pub fn acked_ids(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter_map(|e| match e.event {
                SimEvent::Acked { payload, msg_ids, .. } if payload == r#"["success"]"# => Some(msg_ids),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Message ids pushed (offline and live, redeliveries included), in order.
    pub fn sent_ids(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter_map(|e| match e.event {
                SimEvent::Sent { msg_ids, .. } => Some(msg_ids),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Offline messages not acknowledged yet.
    pub fn pending_offline(&self) -> usize {
        self.shared.lock().offline.len()
    }

    /// Live pushes not sent yet.
    pub fn live_remaining(&self) -> usize {
        self.shared.lock().live.len()
    }

    /// Frames sent so far.
    pub fn frames_sent(&self) -> u64 {
        self.shared.lock().frames_sent
    }

    /// Connections whose Socket.IO CONNECT was accepted.
    pub fn logins(&self) -> usize {
        self.log()
            .iter()
            .filter(|e| matches!(e.event, SimEvent::Connected { .. }))
            .count()
    }

    /// Runs `f` with the acknowledged message ids at the moment each ack arrives.
    pub fn on_ack(&self, f: impl Fn(&[String]) + Send + Sync + 'static) {
        *self.shared.observer.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(f));
    }

    fn control(&self, c: Control) {
        let mut list = self.shared.controls.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|tx| !tx.is_closed());
        for tx in list.iter() {
            let _ = tx.try_send(c.clone());
        }
    }

    /// Fault: drops every open connection without a close handshake.
    pub fn drop_connections(&self) {
        self.control(Control::Drop);
    }

    /// Fault: stops (false) or resumes (true) pinging; the client should detect the silence.
    pub fn set_pinging(&self, on: bool) {
        self.shared.pinging.store(on, Ordering::SeqCst);
    }

    /// Fault: sends a raw text frame (garbage, malformed packets, huge frames).
    pub fn send_raw(&self, frame: impl Into<String>) {
        self.control(Control::Raw(frame.into()));
    }

    /// Fault: answers the next `n` logins with `44 Not authorized`, whatever the token.
    pub fn refuse_logins(&self, n: u32) {
        self.shared.refuse.store(n, Ordering::SeqCst);
    }

    /// Fault: tells the client it was logged in elsewhere (`refresh page`).
    pub fn kick(&self) {
        self.push("refresh page", json!({"message": "您的账号已在其他地方登录"}));
    }

    /// Pushes an event to every open connection now.
    pub fn push(&self, event: &str, body: Value) {
        self.control(Control::Push(LivePush {
            event: event.into(),
            body,
        }));
    }

    /// Adds an offline message (delivered on the next `get offline info`).
    pub fn add_offline(&self, group: bool, body: Value) {
        let id = match &body["message_id"] {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        self.shared
            .lock()
            .offline
            .push(script::OfflineMessage { group, id, body });
    }

    /// The content key the simulator encrypts with.
    pub fn content_key(&self) -> Option<ContentKey> {
        self.shared.key.clone()
    }

    /// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
    pub async fn wait_until(&self, timeout: Duration, cond: impl Fn(&EofficeSim) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Runs the DemoDay script on `127.0.0.1:<port>` (0 or `None`: any free port) until Ctrl-C,
/// printing the address and the config section to stderr.
pub async fn run_standalone(port: Option<u16>) -> Result<(), SimError> {
    let mut opts = SimOptions::new(Script::DemoDay);
    opts.live_interval = Duration::from_millis(500);
    let sim = EofficeSim::start_on(SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0))), opts).await?;
    eprintln!(
        "e-office simulator listening on {} (Socket.IO path /socket.io/)",
        sim.url()
    );
    eprintln!("config section:\n\n{}", sim.config_section("oa"));
    tokio::signal::ctrl_c().await.map_err(SimError::Signal)?;
    eprintln!(
        "e-office simulator: {} frames sent, {} offline messages acked",
        sim.frames_sent(),
        sim.acked_ids().len()
    );
    Ok(())
}
