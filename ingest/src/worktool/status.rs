//! The optional robot status poll: `GET <api_base>/robot/robotInfo/online?robotId=…`, at most
//! once a minute by default (the platform allows 60 requests per minute per IP, shared with
//! every other API call made from the same address), and never faster than once a second.
//!
//! The answer is documented as a boolean or `{}`; the hosted API wraps it as
//! `{"code":…,"data":true}`. Both are read; anything else counts as "unknown" and changes
//! nothing. A change is recorded like a robot online/offline callback.
//!
//! Beside it, [`check_settings`] reads `robotInfo/get` at start and hourly (seed 003 §3):
//! whether WorkTool forwards every message at all. Both polls log a failing API at most once
//! an hour ([`Quiet`]); a failure never stops the callback route.

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::api::HttpFailure;
use super::robot::RobotView;
use crate::state::StateReporter;

/// Default poll interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Default interval of the settings check (`robotInfo/get`): settings change rarely, and
/// every request counts against the 60 QPM shared by all API calls from this address.
pub const DEFAULT_SETTINGS_INTERVAL: Duration = Duration::from_secs(3600);
/// Shortest interval allowed (60 QPM).
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Why one poll gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// Network or HTTP failure (the URL carries no secret; the robot id is not one).
    #[error("robot status request failed: {0}")]
    Http(String),
    /// HTTP status other than 2xx.
    #[error("robot status answered HTTP {0}")]
    Status(u16),
}

/// Publishes the robot state to `/metrics` (`chatvault_worktool_robot_online`, 1 or 0).
pub fn publish(connector: &str, online: bool) {
    metrics::gauge!("chatvault_worktool_robot_online", "connector" => connector.to_string()).set(if online {
        1.0
    } else {
        0.0
    });
}

/// Reads an online answer: `true`/`false`, `{"data": bool}`, or `None` when it says nothing.
pub fn parse_online(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" || s == "false" => Some(s == "true"),
        Value::Object(m) => m.get("data").and_then(parse_online),
        _ => None,
    }
}

/// One poll.
pub async fn online(client: &reqwest::Client, api_base: &str, robot_id: &str) -> Result<Option<bool>, StatusError> {
    let v = super::api::get_json(super::api::robot_request(client, api_base, "online", robot_id))
        .await
        .map_err(|f| match f {
            HttpFailure::Transport(e) => StatusError::Http(e),
            HttpFailure::Status(s) => StatusError::Status(s),
        })?;
    Ok(parse_online(&v))
}

/// Logs a failure at most once per [`QUIET`]: an unreachable API must not flood the log
/// (the first failure is always logged, and so is the first after a success).
#[derive(Debug, Default)]
pub struct Quiet {
    last: Option<tokio::time::Instant>,
}

/// Shortest time between two log lines of the same failing poll.
pub const QUIET: Duration = Duration::from_secs(3600);

impl Quiet {
    /// Whether to log this failure.
    pub fn should_log(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < QUIET) {
            return false;
        }
        self.last = Some(now);
        true
    }

    /// The call worked: the next failure is news again.
    pub fn ok(&mut self) {
        self.last = None;
    }
}

/// What both polls need.
pub struct PollCx {
    /// Connector name.
    pub name: String,
    /// API base URL.
    pub api_base: String,
    /// Robot id.
    pub robot_id: String,
    /// The API's 校验码, if configured.
    pub api_key: Option<config::Secret>,
    /// Where facts about the robot meet.
    pub view: std::sync::Arc<RobotView>,
    /// Where the resulting status goes.
    pub state: StateReporter,
    /// Stops the poll.
    pub shutdown: CancellationToken,
}

/// What both polls share: the HTTP client, the clock, and the failure log kept quiet.
struct Poller<'a> {
    cx: &'a PollCx,
    client: reqwest::Client,
    tick: tokio::time::Interval,
    quiet: Quiet,
}

impl<'a> Poller<'a> {
    /// Ticks at once, then every `interval` (never below [`MIN_INTERVAL`]), a late tick
    /// delaying the next rather than bunching them. `None` (logged) without an HTTP client.
    fn start(cx: &'a PollCx, interval: Duration) -> Option<Self> {
        let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(connector = %cx.name, error = %e, "no HTTP client for the WorkTool API");
                return None;
            }
        };
        let mut tick = tokio::time::interval(interval.max(MIN_INTERVAL));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Some(Poller {
            cx,
            client,
            tick,
            quiet: Quiet::default(),
        })
    }

    /// Waits for the next tick; `false` once shutdown fires.
    async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.tick.tick() => true,
            _ = self.cx.shutdown.cancelled() => false,
        }
    }

    /// The call worked.
    fn answered(&mut self) {
        self.quiet.ok();
    }

    /// The call failed: counted under `metric`, logged as `what` at most once per [`QUIET`].
    fn failed(&mut self, error: &dyn std::fmt::Display, what: &str, metric: &'static str) {
        if self.quiet.should_log() {
            tracing::warn!(connector = %self.cx.name, error = %error, "{what}");
        }
        crate::metrics::noticed(&self.cx.name, metric);
    }
}

/// Polls `robotInfo/online` until shutdown, recording changes through the view.
pub async fn poll(cx: std::sync::Arc<PollCx>, interval: Duration) {
    let Some(mut poller) = Poller::start(&cx, interval) else {
        return;
    };
    while poller.next().await {
        match online(&poller.client, &cx.api_base, &cx.robot_id).await {
            Ok(Some(up)) => {
                poller.answered();
                publish(&cx.name, up);
                cx.view.set_online(up);
                cx.view.report(&cx.state).await;
            }
            Ok(None) => crate::metrics::noticed(&cx.name, "robot_status_unknown"),
            Err(e) => poller.failed(
                &e,
                "robot status poll failed; the robot's state is unknown (callbacks are still archived)",
                "robot_status_failed",
            ),
        }
    }
}

/// Reads the robot's settings (`robotInfo/get`) at start and every `interval` until
/// shutdown. `replyAll` ≠ 1 or `openCallback` 0 are gaps (see [`RobotView`]); an unreachable
/// API leaves the state as it was, with one log line per [`QUIET`] at most.
pub async fn check_settings(cx: std::sync::Arc<PollCx>, interval: Duration) {
    let Some(mut poller) = Poller::start(&cx, interval) else {
        return;
    };
    while poller.next().await {
        match super::api::robot_info(&poller.client, &cx.api_base, &cx.robot_id, cx.api_key.as_ref()).await {
            Ok(s) => {
                poller.answered();
                if s.callbacks_off() || s.mentions_only() {
                    tracing::warn!(
                        connector = %cx.name,
                        open_callback = s.open_callback,
                        reply_all = s.reply_all,
                        "WorkTool does not forward every message: only @-mentions of the robot (replyAll != 1) or none (openCallback = 0) reach the archive; recorded as a coverage gap"
                    );
                }
                cx.view.set_settings(s);
                cx.view.report(&cx.state).await;
            }
            Err(e) => poller.failed(
                &e,
                "cannot read the robot's settings (robotInfo/get); whether it forwards every message is unknown; callbacks are still archived",
                "robot_settings_failed",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_documented_answer_shape() {
        assert_eq!(parse_online(&json!(true)), Some(true));
        assert_eq!(parse_online(&json!({"code":200,"data":false})), Some(false));
        assert_eq!(parse_online(&json!({})), None);
        assert_eq!(parse_online(&json!("true")), Some(true));
        assert_eq!(parse_online(&json!(3)), None);
    }
}
