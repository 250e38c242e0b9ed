//! The robot's own settings: `GET <api_base>/robot/robotInfo/get?robotId=…[&key=…]` (seed 003
//! §3 "机器人信息接口"; protocols.md §4.4).
//!
//! Two of its fields decide what the archive can see (seed 003 §3): `openCallback`
//! ("消息回调地址（0=关闭，1=开启）") and `replyAll` ("消息回调策略/回复策略 - 0 = 仅回复@我的消息,
//! 1 = 回复所有消息"). With `openCallback` 0 no message callback arrives at all; with
//! `replyAll` 0 only messages that @-mention the robot do. `key` is the API's optional 校验码,
//! needed when the robot has `robotKeyCheck` 1 (seed 003 §3); it travels in the query and is
//! never logged (errors are rendered without their URL).

use std::time::Duration;

use config::Secret;
use serde_json::Value;

/// What `robotInfo/get` says about callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RobotSettings {
    /// `openCallback`: 1 = message callbacks on, 0 = off.
    pub open_callback: Option<i64>,
    /// `replyAll`: 1 = every message is called back, 0 = only @-mentions of the robot.
    pub reply_all: Option<i64>,
}

impl RobotSettings {
    /// Whether WorkTool sends no message callback at all.
    pub fn callbacks_off(&self) -> bool {
        self.open_callback == Some(0)
    }

    /// Whether WorkTool calls back only messages that @-mention the robot (`replyAll` set and
    /// not 1, per the seed's two values).
    pub fn mentions_only(&self) -> bool {
        self.reply_all.is_some_and(|r| r != 1)
    }
}

/// Why the settings could not be read. Never contains the key.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Network failure or timeout.
    #[error("robotInfo/get failed: {0}")]
    Http(String),
    /// HTTP status other than 2xx.
    #[error("robotInfo/get answered HTTP {0}")]
    Status(u16),
    /// An answer without the documented `data` object (unknown robot, refused key …).
    #[error("robotInfo/get gave no robot settings (code {code:?}: {message})")]
    NoData {
        /// The answer's `code`.
        code: Option<i64>,
        /// The answer's `message`.
        message: String,
    },
}

/// Reads a `robotInfo/get` answer: `{code, message, data: {openCallback, replyAll, …}}`. The
/// numbers are accepted as JSON numbers or numeric strings (WorkTool's documentation shows
/// both for these flags).
pub fn parse_info(v: &Value) -> Result<RobotSettings, ApiError> {
    let data = v.get("data").filter(|d| d.is_object());
    let Some(data) = data else {
        return Err(ApiError::NoData {
            code: v.get("code").and_then(Value::as_i64),
            message: v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(200)
                .collect(),
        });
    };
    let int = |k: &str| match data.get(k) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(Value::Bool(b)) => Some(i64::from(*b)),
        _ => None,
    };
    Ok(RobotSettings {
        open_callback: int("openCallback"),
        reply_all: int("replyAll"),
    })
}

/// One `robotInfo/get` request.
pub async fn robot_info(
    client: &reqwest::Client,
    api_base: &str,
    robot_id: &str,
    key: Option<&Secret>,
) -> Result<RobotSettings, ApiError> {
    let mut req = robot_request(client, api_base, "get", robot_id);
    if let Some(k) = key.filter(|k| !k.expose().is_empty()) {
        req = req.query(&[("key", k.expose())]);
    }
    let v = get_json(req.timeout(Duration::from_secs(10)))
        .await
        .map_err(|f| match f {
            HttpFailure::Transport(e) => ApiError::Http(e),
            HttpFailure::Status(s) => ApiError::Status(s),
        })?;
    parse_info(&v)
}

/// `GET <api_base>/robot/robotInfo/<what>?robotId=…`, the form of every robot API call.
pub(super) fn robot_request(
    client: &reqwest::Client,
    api_base: &str,
    what: &str,
    robot_id: &str,
) -> reqwest::RequestBuilder {
    let url = format!("{}/robot/robotInfo/{what}", api_base.trim_end_matches('/'));
    client.get(url).query(&[("robotId", robot_id)])
}

/// Why a robot API call gave no JSON to read, before its content is looked at. The reason is
/// rendered without the URL, which may carry the key.
pub(super) enum HttpFailure {
    /// Network failure, timeout, or an answer that is not JSON.
    Transport(String),
    /// HTTP status other than 2xx.
    Status(u16),
}

/// Sends `req` and reads its answer as JSON.
pub(super) async fn get_json(req: reqwest::RequestBuilder) -> Result<Value, HttpFailure> {
    let resp = req
        .send()
        .await
        .map_err(|e| HttpFailure::Transport(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(HttpFailure::Status(resp.status().as_u16()));
    }
    resp.json()
        .await
        .map_err(|e| HttpFailure::Transport(e.without_url().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_documented_answer_and_string_flags() {
        let s = parse_info(&json!({"code":200,"message":"操作成功","data":{
            "robotId":"r","openCallback":1,"replyAll":0,"encryptType":0}}))
        .unwrap();
        assert_eq!((s.callbacks_off(), s.mentions_only()), (false, true));
        let s = parse_info(&json!({"code":200,"data":{"openCallback":"0","replyAll":"1"}})).unwrap();
        assert_eq!((s.callbacks_off(), s.mentions_only()), (true, false));
        // Flags missing: nothing is concluded.
        let s = parse_info(&json!({"data":{}})).unwrap();
        assert_eq!((s.callbacks_off(), s.mentions_only()), (false, false));
        assert!(matches!(
            parse_info(&json!({"code":500,"message":"robotId不存在","data":null})),
            Err(ApiError::NoData { code: Some(500), .. })
        ));
    }
}
