//! WorkTool simulator: a poster that calls a callback URL exactly like WorkTool (one POST per
//! callback, JSON or form data, `?key=` in the URL, 3 s deadline, never a retry) and a fake
//! WorkTool API for the connector's robot status poll.
//!
//! # API
//! - [`WorktoolPoster::sim`]`(url)` posts to a running receiver with [`KEY`];
//!   [`WorktoolPoster::with_encoding`]`(`[`Encoding`]`)` picks JSON, urlencoded or multipart;
//!   [`WorktoolPoster::deliver`], [`WorktoolPoster::run`], [`WorktoolPoster::burst`];
//!   [`WorktoolPoster::deliver_with`] injects a [`Fault`] (wrong or missing key, malformed
//!   JSON, wrong types, invalid base64, huge body). [`WorktoolPoster::log`] lists every request
//!   with its answer and times ([`Attempt::acked`]); [`WorktoolPoster::with_probe`] runs a
//!   check the moment each answer arrives (for "answered only after commit").
//! - [`Script`]`::{DemoDay, Bulk(n)}`[`.callbacks()`](Script::callbacks): what to send;
//!   [`Callback`] builds single callbacks.
//! - [`FakeApi::start`]`(port)`: `robotInfo/online` and `robotInfo/get` on loopback;
//!   [`FakeApi::set_online`] flips the robot, [`FakeApi::polls`] counts status requests,
//!   [`FakeApi::set_settings`] sets `openCallback` / `replyAll`.
//! - [`config_toml`]`(name, path, api_base)`: the `[[worktool]]` section for [`KEY`] and
//!   [`ROBOT_ID`].
//! - [`run_standalone`]`(port)`: fake API on `port`, then the demo day posted to
//!   `http://127.0.0.1:8088` + [`DEFAULT_PATH`] once the receiver answers; runs until Ctrl-C.

mod api;
mod poster;
mod script;

pub use api::FakeApi;
pub use poster::{Attempt, DEADLINE, Encoding, Fault, Probe, WorktoolPoster};
pub use script::{Callback, DEMO_EXTERNAL_GROUP, DEMO_GROUP, PNG_BASE64, Script, room};

/// The simulated callback key.
pub const KEY: &str = "wt-sim-key-2026";
/// The simulated robot id.
pub const ROBOT_ID: &str = "wt-sim-robot";
/// Callback path the standalone simulator posts to.
pub const DEFAULT_PATH: &str = "/callback/worktool/sim";

/// What can go wrong in the simulator.
#[derive(Debug, thiserror::Error)]
pub enum WorktoolSimError {
    /// Socket error.
    #[error("worktool simulator I/O: {0}")]
    Io(#[source] std::io::Error),
}

/// The `[[worktool]]` section for a connector named `name` at `path` with the simulator's
/// key; with `api_base`, the robot id and the fake API for the status poll too.
pub fn config_toml(name: &str, path: &str, api_base: Option<&str>) -> String {
    let mut s = format!("[[worktool]]\nname = \"{name}\"\npath = \"{path}\"\nkey = \"{KEY}\"\n");
    if let Some(base) = api_base {
        s.push_str(&format!("robot_id = \"{ROBOT_ID}\"\napi_base = \"{base}\"\n"));
    }
    s
}

/// Runs the fake API on `port` (default: any free port), prints the config section, posts
/// the demo day to `http://127.0.0.1:8088` + [`DEFAULT_PATH`] once the receiver answers, and
/// waits for Ctrl-C.
pub async fn run_standalone(port: Option<u16>) -> Result<(), WorktoolSimError> {
    let api = FakeApi::start(port.unwrap_or(0)).await?;
    eprintln!("worktool simulator: fake API on {}", api.base_url());
    eprintln!(
        "config section:\n\n{}",
        config_toml("worktool-sim", DEFAULT_PATH, Some(&api.base_url()))
    );
    let url = format!("http://127.0.0.1:8088{DEFAULT_PATH}");
    let poster = WorktoolPoster::sim(&url);
    let script = Script::DemoDay.callbacks();
    // The first callback doubles as the probe: it is posted until someone answers.
    let answers = async || poster.deliver(&script[0]).await.status != 0;
    let post = async {
        let acked = 1 + poster.run(&script[1..]).await;
        eprintln!(
            "posted {} callbacks, {acked} acknowledged; Ctrl-C to stop",
            script.len()
        );
    };
    // A Ctrl-C handler that cannot be installed ends the run as Ctrl-C does.
    let _ = crate::delivery::post_when_up(&url, answers, post).await;
    Ok(())
}
