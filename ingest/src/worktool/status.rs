//! The optional robot status poll: `GET <api_base>/robot/robotInfo/online?robotId=…`, at most
//! once a minute by default (the platform allows 60 requests per minute per IP, shared with
//! every other API call made from the same address), and never faster than once a second.
//!
//! The answer is documented as a boolean or `{}`; the hosted API wraps it as
//! `{"code":…,"data":true}`. Both are read; anything else counts as "unknown" and changes
//! nothing. A change is recorded like a robot online/offline callback.

use std::time::Duration;

use proto::ConnectorStatus;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::state::StateReporter;

/// Default poll interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
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
    let url = format!("{}/robot/robotInfo/online", api_base.trim_end_matches('/'));
    let resp = client
        .get(url)
        .query(&[("robotId", robot_id)])
        .send()
        .await
        .map_err(|e| StatusError::Http(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(StatusError::Status(resp.status().as_u16()));
    }
    let v: Value = resp
        .json()
        .await
        .map_err(|e| StatusError::Http(e.without_url().to_string()))?;
    Ok(parse_online(&v))
}

/// Polls until `shutdown`, recording changes through `state`.
pub async fn poll(
    name: String,
    api_base: String,
    robot_id: String,
    interval: Duration,
    state: StateReporter,
    shutdown: CancellationToken,
) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(connector = %name, error = %e, "no HTTP client for the robot status poll");
            return;
        }
    };
    let mut tick = tokio::time::interval(interval.max(MIN_INTERVAL));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        match online(&client, &api_base, &robot_id).await {
            Ok(Some(up)) => {
                publish(&name, up);
                let status = if up {
                    ConnectorStatus::RobotOnline
                } else {
                    ConnectorStatus::RobotOffline
                };
                state.set(status, Some("robotInfo/online poll".into())).await;
            }
            Ok(None) => crate::metrics::noticed(&name, "robot_status_unknown"),
            Err(e) => {
                tracing::warn!(connector = %name, error = %e, "robot status poll");
                crate::metrics::noticed(&name, "robot_status_failed");
            }
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
