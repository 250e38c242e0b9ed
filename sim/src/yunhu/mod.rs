//! 云湖 Yunhu simulator: a chat-ws-go WebSocket server (JSON text frames in, protobuf binary
//! frames out, using the same prost types as the connector) and the HTTP history API.
//!
//! # API
//! - [`YunhuSim::start`]`(Script) -> Result<YunhuSim, SimError>`: WebSocket and API servers on
//!   loopback, port 0. [`YunhuSim::ws_url`], [`YunhuSim::api_base`] say where.
//! - [`Script::DemoDay`] (a Chinese company chat day: edits, a streamed bot reply, recalls,
//!   files, a dropped connection with offline activity), [`Script::Bulk`]`(n)` (corpus text
//!   for benchmarks), [`Script::Steps`] (explicit [`Step`]s, including faults: `Garbage`,
//!   `UnknownCmd`, `Drop`).
//! - [`YunhuSim::faults`]: refuse logins, stop answering heartbeats, fail API calls (HTTP 500
//!   or an undecodable body); [`YunhuSim::set_api_refusing`]: the history API refuses
//!   connections (its listener closed) until switched back.
//! - [`YunhuSim::sent`] (every frame pushed), [`YunhuSim::received`] (logins, heartbeats, API
//!   calls: Yunhu clients acknowledge no message, so this is all a client sends),
//!   [`YunhuSim::wait_done`], [`YunhuSim::wait_logins`].
//! - [`YunhuSim::add_file`]: bytes served as an attachment URL (`<api>/files/<name>`;
//!   [`YunhuSim::start_with`] builds a script that knows `<api>`); `Faults::fail_files`
//!   answers the next downloads with 503.
//! - [`YunhuSim::set_chat_name`]: the name the conversation list gives a chat.
//! - [`YunhuSim::config_toml`]`(name)`: the `[[yunhu]]` section pointing a connector here.
//! - [`run_standalone`]`(port)`: DemoDay until Ctrl-C (WebSocket on `port`, API on
//!   `port + 1`).
//!
//! The script starts at the first accepted login and continues across reconnects; a
//! `Drop` closes the connection after applying its offline steps to history only.

mod script;
mod server;
mod world;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use script::{DEMO_START_MS, DEVICE_ID, Script, Step, TOKEN, USER_ID, post};
pub use server::{Faults, PAGE, Received, SentFrame};
pub use world::{Post, SimContent};

/// Why the simulator could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Binding or serving failed.
    #[error("yunhu simulator: {0}")]
    Io(#[from] std::io::Error),
}

/// A running simulator; stops when dropped.
pub struct YunhuSim {
    ws_addr: SocketAddr,
    api_addr: SocketAddr,
    shared: Arc<server::Shared>,
    tasks: Vec<JoinHandle<()>>,
    /// The history API server; `None` while it refuses connections.
    api_task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl YunhuSim {
    /// Starts on loopback with OS-chosen ports.
    pub async fn start(script: Script) -> Result<YunhuSim, SimError> {
        Self::start_on(script, 0, 0).await
    }

    /// Starts with the script `build` makes from the API's base URL (steps whose attachment
    /// URLs point at files served here, see [`YunhuSim::add_file`]).
    pub async fn start_with(build: impl FnOnce(&str) -> Script) -> Result<YunhuSim, SimError> {
        Self::start_built(build, 0, 0).await
    }

    async fn start_on(script: Script, ws_port: u16, api_port: u16) -> Result<YunhuSim, SimError> {
        Self::start_built(|_| script, ws_port, api_port).await
    }

    async fn start_built(
        build: impl FnOnce(&str) -> Script,
        ws_port: u16,
        api_port: u16,
    ) -> Result<YunhuSim, SimError> {
        let ws = TcpListener::bind(("127.0.0.1", ws_port)).await?;
        let api = TcpListener::bind(("127.0.0.1", api_port)).await?;
        let (ws_addr, api_addr) = (ws.local_addr()?, api.local_addr()?);
        let shared = server::Shared::new(build(&format!("http://{api_addr}")).steps());
        let tasks = vec![tokio::spawn(server::serve_ws(ws, shared.clone()))];
        let api_task = std::sync::Mutex::new(Some(serve_api(api, shared.clone())));
        Ok(YunhuSim {
            ws_addr,
            api_addr,
            shared,
            tasks,
            api_task,
        })
    }

    /// The simulated world, also after a panic elsewhere (tests read it after failures).
    fn world(&self) -> std::sync::MutexGuard<'_, world::World> {
        self.shared.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves `bytes` as an attachment; returns its URL (on the API server).
    pub fn add_file(&self, name: &str, bytes: &[u8]) -> String {
        self.world().files.insert(name.to_string(), bytes.to_vec());
        format!("{}/files/{name}", self.api_base())
    }

    /// Sets the name the conversation list gives for `chat_id` (default: the chat id).
    pub fn set_chat_name(&self, chat_id: &str, name: &str) {
        self.world().names.insert(chat_id.to_string(), name.to_string());
    }

    /// Closes the history API's listener (clients get "connection refused"; the API answers
    /// `Connection: close`, so no pooled connection survives) or opens it again on the same
    /// port.
    pub async fn set_api_refusing(&self, refusing: bool) -> Result<(), SimError> {
        let running = self.api_task.lock().unwrap().take();
        match (refusing, running) {
            (true, Some(task)) => {
                task.abort();
                let _ = task.await;
            }
            (false, None) => {
                let api = TcpListener::bind(self.api_addr).await?;
                *self.api_task.lock().unwrap() = Some(serve_api(api, self.shared.clone()));
            }
            (_, running) => *self.api_task.lock().unwrap() = running,
        }
        Ok(())
    }

    /// `ws://127.0.0.1:<port>/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.ws_addr)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// The `[[yunhu]]` config section for a connector named `name`.
    pub fn config_toml(&self, name: &str) -> String {
        format!(
            "[[yunhu]]\nname = \"{name}\"\nws_url = \"{}\"\napi_base = \"{}\"\nuser_id = \"{USER_ID}\"\ntoken = \"{TOKEN}\"\nplatform = \"windows\"\ndevice_id = \"{DEVICE_ID}\"\n",
            self.ws_url(),
            self.api_base()
        )
    }

    /// Fault switches.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Waits this long before each step (demo pacing).
    pub fn set_pace(&self, d: Duration) {
        *self.shared.pace.lock().unwrap() = d;
    }

    /// Every frame pushed so far.
    pub fn sent(&self) -> Vec<SentFrame> {
        self.shared.sent.lock().unwrap().clone()
    }

    /// Number of frames pushed so far.
    pub fn sent_count(&self) -> usize {
        self.shared.sent.lock().unwrap().len()
    }

    /// Everything clients sent (logins, heartbeats, API calls).
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Current text of a message in the server's history (after edits and stream chunks).
    pub fn current_text(&self, msg_id: &str) -> Option<String> {
        self.shared
            .world
            .lock()
            .unwrap()
            .find(msg_id)
            .map(|m| m.post.content.text.clone())
    }

    /// Waits until every step was executed (or `timeout`); returns whether it was.
    pub async fn wait_done(&self, timeout: Duration) -> bool {
        let mut rx = self.shared.done.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|d| *d)).await.is_ok()
    }

    /// Waits until `n` logins were accepted (or `timeout`); returns the count.
    pub async fn wait_logins(&self, n: u32, timeout: Duration) -> u32 {
        let mut rx = self.shared.logins_ok.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|c| *c >= n)).await;
        *rx.borrow()
    }

    /// Refuses the next `n` logins.
    pub fn refuse_logins(&self, n: u32) {
        self.shared.faults.refuse_logins.store(n, Ordering::SeqCst);
    }
}

impl Drop for YunhuSim {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(t) = self.api_task.lock().unwrap().take() {
            t.abort();
        }
    }
}

fn serve_api(api: TcpListener, shared: Arc<server::Shared>) -> JoinHandle<()> {
    let router = server::router(shared);
    tokio::spawn(async move {
        let _ = axum::serve(api, router).await;
    })
}

/// Runs DemoDay for manual testing until Ctrl-C, printing where it listens and the config
/// section to use.
pub async fn run_standalone(port: Option<u16>) -> Result<(), SimError> {
    let (ws, api) = match port {
        Some(p) => (p, p.checked_add(1).unwrap_or(0)),
        None => (0, 0),
    };
    let sim = YunhuSim::start_on(Script::DemoDay, ws, api).await?;
    sim.set_pace(Duration::from_millis(500));
    eprintln!(
        "yunhu simulator: websocket {} , history api {}",
        sim.ws_url(),
        sim.api_base()
    );
    eprintln!("config section:\n\n{}", sim.config_toml("yunhu-sim"));
    tokio::signal::ctrl_c().await?;
    Ok(())
}
