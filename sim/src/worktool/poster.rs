//! Calls a callback URL the way WorkTool does: one POST per callback, JSON or form data,
//! `?key=` in the URL, a 3 s deadline and no retry. Records every request and its answer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::script::Callback;

/// WorkTool's answer deadline (it never retries).
pub const DEADLINE: Duration = Duration::from_secs(3);

/// Body encoding (`callBackRequestType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 2: `application/json`.
    Json,
    /// 1, urlencoded variant.
    Form,
    /// 1, `multipart/form-data` variant.
    Multipart,
}

/// Something wrong with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A key that is not the configured one.
    WrongKey,
    /// No `key` in the URL.
    MissingKey,
    /// The JSON body cut in half.
    MalformedJson,
    /// `roomType` as a word instead of a number.
    WrongTypes,
    /// `fileBase64` that is not base64.
    InvalidBase64,
    /// Body padded to this many bytes.
    Huge(usize),
}

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// What was posted.
    pub callback: Callback,
    /// Encoding used.
    pub encoding: Encoding,
    /// Fault injected, if any.
    pub fault: Option<Fault>,
    /// When it was sent.
    pub sent_at: Instant,
    /// When the answer (or the failure) came.
    pub answered_at: Instant,
    /// HTTP status; 0 = no answer within the deadline or the connection failed.
    pub status: u16,
    /// Answer body.
    pub body: String,
    /// What the probe returned when the answer arrived (see [`WorktoolPoster::with_probe`]).
    pub probe: Option<bool>,
}

impl Attempt {
    /// Whether WorkTool counts it as delivered: HTTP 200 with `code` 0.
    pub fn acked(&self) -> bool {
        self.status == 200
            && serde_json::from_str::<Value>(&self.body)
                .ok()
                .and_then(|v| v.get("code").and_then(Value::as_i64))
                == Some(0)
    }

    /// Answer latency.
    pub fn latency(&self) -> Duration {
        self.answered_at - self.sent_at
    }
}

/// Called the moment an answer arrives, before anything else happens; a test checks there
/// whether the callback is already archived ("ack came after commit").
pub type Probe = Arc<dyn Fn(&Callback) -> bool + Send + Sync>;

/// Posts to one callback URL.
#[derive(Clone)]
pub struct WorktoolPoster {
    url: String,
    key: String,
    encoding: Encoding,
    http: reqwest::Client,
    log: Arc<Mutex<Vec<Attempt>>>,
    probe: Option<Probe>,
}

impl WorktoolPoster {
    /// Posts to `url` (the receiver's full callback URL without query) with `key`.
    pub fn new(url: &str, key: &str) -> WorktoolPoster {
        WorktoolPoster {
            url: url.to_string(),
            key: key.to_string(),
            encoding: Encoding::Json,
            http: reqwest::Client::builder().timeout(DEADLINE).build().unwrap_or_default(),
            log: Arc::default(),
            probe: None,
        }
    }

    /// Posts with the simulator's key ([`super::KEY`]).
    pub fn sim(url: &str) -> WorktoolPoster {
        WorktoolPoster::new(url, super::KEY)
    }

    /// Uses `encoding` for bodies.
    pub fn with_encoding(mut self, encoding: Encoding) -> WorktoolPoster {
        self.encoding = encoding;
        self
    }

    /// Calls `probe` when each answer arrives and records its result.
    pub fn with_probe(mut self, probe: Probe) -> WorktoolPoster {
        self.probe = Some(probe);
        self
    }

    /// Every request so far, in the order answers arrived.
    pub fn log(&self) -> Vec<Attempt> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Posts one callback.
    pub async fn deliver(&self, cb: &Callback) -> Attempt {
        self.deliver_with(cb, None).await
    }

    /// Posts one callback with a fault.
    pub async fn deliver_with(&self, cb: &Callback, fault: Option<Fault>) -> Attempt {
        let mut cb = cb.clone();
        match fault {
            Some(Fault::WrongTypes) => cb = cb.with("roomType", "外部群"),
            Some(Fault::InvalidBase64) => cb = cb.with("textType", 2).with("fileBase64", "这不是base64!!"),
            Some(Fault::Huge(n)) => {
                let pad = n.saturating_sub(serde_json::to_vec(&cb.fields).map(|v| v.len()).unwrap_or(0));
                let spoken = format!("{}{}", cb.text(), "哈".repeat(pad / 3 + 1));
                cb = cb.with("spoken", spoken);
            }
            _ => {}
        }
        let key = match fault {
            Some(Fault::WrongKey) => Some(format!("{}x", self.key)),
            Some(Fault::MissingKey) => None,
            _ => Some(self.key.clone()),
        };
        let mut req = self.http.post(&self.url);
        if let Some(k) = &key {
            req = req.query(&[("key", k)]);
        }
        if let Some(e) = &cb.event {
            req = req.query(&[("event", e)]);
        }
        let req = match (self.encoding, fault) {
            (_, Some(Fault::MalformedJson)) => {
                let full = serde_json::to_string(&cb.fields).unwrap_or_default();
                let cut: String = full.chars().take(full.chars().count() / 2).collect();
                req.header("content-type", "application/json").body(cut)
            }
            (Encoding::Json, _) => req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&cb.fields).unwrap_or_default()),
            (Encoding::Form, _) => req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(urlencoded(&cb)),
            (Encoding::Multipart, _) => {
                let boundary = "----WorkToolSimBoundary7MA4YWxkTrZu0gW";
                req.header("content-type", format!("multipart/form-data; boundary={boundary}"))
                    .body(multipart(&cb, boundary))
            }
        };
        let sent_at = Instant::now();
        let (status, body) = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                (status, resp.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        };
        let answered_at = Instant::now();
        let probe = self.probe.as_ref().map(|p| p(&cb));
        let attempt = Attempt {
            callback: cb,
            encoding: self.encoding,
            fault,
            sent_at,
            answered_at,
            status,
            body,
            probe,
        };
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(attempt.clone());
        attempt
    }

    /// Posts `callbacks` one after another; returns how many were acknowledged.
    pub async fn run(&self, callbacks: &[Callback]) -> usize {
        crate::delivery::in_order(self, callbacks).await
    }

    /// Posts `callbacks` with up to `concurrency` requests in flight; returns how many were
    /// acknowledged.
    pub async fn burst(&self, callbacks: &[Callback], concurrency: usize) -> usize {
        crate::delivery::burst(self, callbacks, concurrency).await
    }
}

impl crate::delivery::Deliver for WorktoolPoster {
    type Callback = Callback;

    async fn deliver_acked(&self, cb: &Callback) -> bool {
        self.deliver(cb).await.acked()
    }
}

fn form_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn urlencoded(cb: &Callback) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &cb.fields {
        ser.append_pair(k, &form_value(v));
    }
    ser.finish()
}

fn multipart(cb: &Callback, boundary: &str) -> String {
    let mut body = String::new();
    for (k, v) in &cb.fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{}\r\n",
            form_value(v)
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body
}
