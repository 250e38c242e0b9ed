//! LWP frames: the JSON text objects Goofish exchanges over its WebSocket (protocols §3.1).
//!
//! A request is `{"lwp": path, "headers": {"mid": …}, "body": …}`, a response carries `code`
//! and the request's `mid`, a server push carries `lwp: "/s/…"` with `mid` and `sid`. Pure: no
//! I/O here.

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The heartbeat path.
pub const HEARTBEAT: &str = "/!";
/// The push that carries messages.
pub const SYNC_PUSH: &str = "/s/sync";
/// The IM app key the web client registers with (\[GC\], \[XAA\]).
pub const APP_KEY: &str = "444e9908a51d1cb236a27862abc769c9";
/// A DingTalk web user agent, as the web client sends in `/reg` (§3.3).
pub const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
Chrome/133.0.0.0 Safari/537.36 DingTalk(2.1.5) OS(Windows/10) Browser(Chrome/133.0.0.0) DingWeb/2.1.5 IMPaaS DingWeb/2.1.5";

/// One LWP frame, in either direction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// Path of a request or push; absent in responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lwp: Option<String>,
    /// Status of a response (200 = success); absent in requests and pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// Headers; `mid` matches responses to requests.
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// Body (array for requests, object for responses and pushes).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub body: Value,
}

/// What a received frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A server push (`lwp` starting with `/s/`).
    Push,
    /// A response to one of our requests (has `code`).
    Response,
    /// Something else (a request from the server we do not serve).
    Other,
}

impl Frame {
    /// A request with a fresh `mid`.
    pub fn request(lwp: &str, body: Value) -> Frame {
        let mut headers = Map::new();
        headers.insert("mid".into(), Value::String(new_mid()));
        Frame {
            lwp: Some(lwp.into()),
            code: None,
            headers,
            body,
        }
    }

    /// A heartbeat (no body).
    pub fn heartbeat() -> Frame {
        Frame::request(HEARTBEAT, Value::Null)
    }

    /// Parses a text frame.
    pub fn parse(text: &str) -> Result<Frame, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Serializes to the wire text.
    pub fn to_text(&self) -> String {
        // A Frame holds only JSON values and strings: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Classifies a received frame.
    pub fn kind(&self) -> FrameKind {
        match (&self.lwp, self.code) {
            (Some(p), _) if p.starts_with("/s/") => FrameKind::Push,
            (_, Some(_)) => FrameKind::Response,
            _ => FrameKind::Other,
        }
    }

    /// The `mid` header, if any.
    pub fn mid(&self) -> Option<&str> {
        self.headers.get("mid").and_then(Value::as_str)
    }

    /// The acknowledgement of this push: `code 200` with the same `mid` and `sid`, plus the
    /// `app-key`, `ua` and `dt` headers when the push carried them (\[XAA\]/\[XAR\] form; a peer
    /// that expects the \[GC\] echo still finds `mid` and `sid`).
    pub fn ack(&self) -> Frame {
        let mut headers = Map::new();
        headers.insert(
            "mid".into(),
            self.headers.get("mid").cloned().unwrap_or(Value::String(String::new())),
        );
        headers.insert(
            "sid".into(),
            self.headers.get("sid").cloned().unwrap_or(Value::String(String::new())),
        );
        for key in ["app-key", "ua", "dt"] {
            if let Some(v) = self.headers.get(key) {
                headers.insert(key.into(), v.clone());
            }
        }
        Frame {
            lwp: None,
            code: Some(200),
            headers,
            body: Value::Null,
        }
    }

    /// Whether a response reports IM flow control (`400600001`, in `code` or `body.code`).
    pub fn is_flow_control(&self) -> bool {
        const FLOW: i64 = 400_600_001;
        if self.code == Some(FLOW) {
            return true;
        }
        match self.body.get("code") {
            Some(Value::String(s)) => s == "400600001",
            Some(Value::Number(n)) => n.as_i64() == Some(FLOW),
            _ => false,
        }
    }

    /// A short description of a failed response for errors and logs (`reason` / `moreInfo`
    /// fields; never headers, which may carry the token).
    pub fn failure(&self) -> String {
        let reason = self.body.get("reason").and_then(Value::as_str).unwrap_or("");
        let more = self.body.get("moreInfo").and_then(Value::as_str).unwrap_or("");
        format!(
            "code {} {reason} {more}",
            self.code.map(|c| c.to_string()).unwrap_or_else(|| "-".into())
        )
        .trim_end()
        .to_string()
    }
}

/// The `/reg` request of §3.3 (headers only).
pub fn register(token: &str, device_id: &str) -> Frame {
    let mut f = Frame::request("/reg", Value::Null);
    let h = &mut f.headers;
    h.insert("cache-header".into(), json!("app-key token ua wv"));
    h.insert("app-key".into(), json!(APP_KEY));
    h.insert("token".into(), json!(token));
    h.insert("ua".into(), json!(UA));
    h.insert("dt".into(), json!("j"));
    h.insert("wv".into(), json!("im:3,au:3,sy:6"));
    h.insert("sync".into(), json!("0,0;0;0;"));
    h.insert("did".into(), json!(device_id));
    f
}

/// A new message id: `<random 0..999><epoch ms> 0` (§3.1).
pub fn new_mid() -> String {
    let r: u32 = rand::rng().random_range(0..1000);
    format!("{r}{} 0", proto::time::now_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mid_has_the_documented_shape() {
        let mid = new_mid();
        let (num, zero) = mid.split_once(' ').unwrap();
        assert_eq!(zero, "0");
        assert!(num.len() >= 13 && num.chars().all(|c| c.is_ascii_digit()), "{mid}");
    }

    #[test]
    fn ack_echoes_mid_and_sid_only_with_code_200() {
        let push =
            Frame::parse(r#"{"lwp":"/s/sync","headers":{"mid":"12 0","sid":"s1","token":"t"},"body":{}}"#).unwrap();
        assert_eq!(push.kind(), FrameKind::Push);
        let ack = push.ack();
        assert_eq!(ack.code, Some(200));
        assert_eq!(ack.mid(), Some("12 0"));
        assert_eq!(ack.headers.get("sid"), Some(&json!("s1")));
        assert!(!ack.headers.contains_key("token"));
        assert!(!ack.to_text().contains("lwp"));
    }

    #[test]
    fn flow_control_is_recognised_in_body_or_code() {
        let a = Frame::parse(r#"{"code":400,"headers":{"mid":"1 0"},"body":{"code":"400600001"}}"#).unwrap();
        let b = Frame::parse(r#"{"code":200,"headers":{"mid":"1 0"},"body":{"userConvs":[]}}"#).unwrap();
        assert!(a.is_flow_control());
        assert!(!b.is_flow_control());
    }

    #[test]
    fn registration_carries_the_documented_headers() {
        let f = register("tok", "dev-1");
        assert_eq!(f.lwp.as_deref(), Some("/reg"));
        for k in [
            "cache-header",
            "app-key",
            "token",
            "ua",
            "dt",
            "wv",
            "sync",
            "did",
            "mid",
        ] {
            assert!(f.headers.contains_key(k), "missing {k}");
        }
        assert!(!f.to_text().contains("\"body\""));
    }
}
