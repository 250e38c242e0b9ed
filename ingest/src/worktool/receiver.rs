//! The WorkTool callback route: key check, route permit, body limit, decoding, attachment
//! storage, commit (or spool), and only then the answer.
//!
//! The key is in the query string, so it is checked before anything else: a request without
//! it takes no permit, is never spooled, and leaves a reject row of at most 64 KiB (plus the
//! body's size and sha256). A keyed request waits for one of the route's permits only until
//! [`Timing::slot_wait`] after its arrival (WorkTool gives up after 3 s and never retries, so a
//! late answer is worth nothing) and is answered 503 if none came free. When the store is slow
//! and the spool is full, the answer is 503 and the connector's state records the gap: never
//! "success" without durable storage.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use config::Secret;
use proto::{Attachment, Ingested, RawPayload, TimestampMs, batch::media, time::now_ms};
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use super::codec::{self, Callback, DecodeError, MessageCx};
use super::robot::RobotView;
use crate::blobs::{BlobStore, Stored};
use crate::server::body::{BodyError, RefusedBody, read_limited};
use crate::server::permits::RoutePermits;
use crate::server::spool::{Delivery, Spool, SpoolError};
use crate::state::StateReporter;
use crate::{EventSender, connector::SendTimeout};

/// How long a callback may take before it is spooled instead (WorkTool gives up after 3 s).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Longest wait for a free channel slot.
    pub slot_wait: Duration,
    /// From the request's arrival to the answer, at most (commit wait included).
    pub answer_within: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            slot_wait: Duration::from_secs(2),
            answer_within: Duration::from_millis(2500),
        }
    }
}

/// How long a content fingerprint is remembered to notice repeated identical messages.
const REPEAT_WINDOW_MS: TimestampMs = 10_000;
const REPEAT_MEMORY: usize = 512;

/// Everything the route needs, shared by its requests.
pub struct Receiver {
    pub(super) name: String,
    pub(super) key: Secret,
    pub(super) robot: String,
    pub(super) out: EventSender,
    pub(super) state: StateReporter,
    pub(super) blobs: Arc<BlobStore>,
    pub(super) spool: Option<Arc<Spool>>,
    pub(super) max_body: usize,
    pub(super) timing: Timing,
    pub(super) arrivals: AtomicU64,
    pub(super) permits: RoutePermits,
    /// Set while the spool refuses appends (a `connector_state` gap is open).
    pub(super) spool_full: std::sync::atomic::AtomicBool,
    pub(super) recent: Mutex<VecDeque<(String, TimestampMs)>>,
    /// What is known about the robot; the connector status comes from it.
    pub(super) view: Arc<RobotView>,
}

impl Receiver {
    /// A receiver; `spool` is `None` when the spool file could not be opened (then a full
    /// channel is answered 503 and the failure is logged).
    pub fn new(
        name: String,
        key: Secret,
        robot: String,
        cx: &crate::ConnectorContext,
        spool: Option<Arc<Spool>>,
        timing: Timing,
        view: Arc<RobotView>,
    ) -> Self {
        Receiver {
            name,
            key,
            robot,
            out: cx.out.clone(),
            state: cx.state.clone(),
            blobs: cx.blobs.clone(),
            spool,
            max_body: cx.max_body_bytes,
            timing,
            arrivals: AtomicU64::new(0),
            permits: RoutePermits::default(),
            spool_full: std::sync::atomic::AtomicBool::new(false),
            recent: Mutex::new(VecDeque::new()),
            view,
        }
    }

    /// The route at `path`.
    pub fn router(self: Arc<Self>, path: &str) -> Router {
        Router::new().route(path, post(callback)).with_state(self)
    }

    fn key_ok(&self, query: Option<&str>) -> bool {
        let expected = self.key.expose().as_bytes();
        if expected.is_empty() {
            return false;
        }
        let given = query
            .and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "key")
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or_default();
        bool::from(given.as_bytes().ct_eq(expected))
    }

    /// Commits `items` (or spools them); `Err` carries the 503 answer.
    async fn deliver(&self, items: Vec<Ingested>, answer_by: Instant) -> Result<(), Response> {
        match &self.spool {
            Some(spool) => match spool.deliver(&self.out, items, self.timing.slot_wait, answer_by).await {
                Ok(Delivery::Committed(_)) => {
                    self.spool_has_room();
                    Ok(())
                }
                Ok(Delivery::Spooled) => {
                    tracing::debug!(connector = %self.name, "callback spooled");
                    self.spool_has_room();
                    Ok(())
                }
                Err(e @ SpoolError::Full { .. }) => {
                    self.spool_is_full(&e);
                    Err(answer(
                        StatusCode::SERVICE_UNAVAILABLE,
                        -1,
                        "archive cannot store the callback now (spool full)",
                    ))
                }
                Err(e) => {
                    tracing::error!(connector = %self.name, error = %e, "callback neither committed nor spooled");
                    Err(answer(
                        StatusCode::SERVICE_UNAVAILABLE,
                        -1,
                        "archive cannot store the callback now",
                    ))
                }
            },
            None => {
                let wait = self
                    .timing
                    .slot_wait
                    .min(answer_by.saturating_duration_since(Instant::now()));
                let rx = match self.out.send_timeout(items, None, wait).await {
                    Ok(rx) => rx,
                    Err(SendTimeout::Full(_) | SendTimeout::Closed(_)) => {
                        return Err(answer(StatusCode::SERVICE_UNAVAILABLE, -1, "archive busy"));
                    }
                };
                match tokio::time::timeout_at(answer_by, rx).await {
                    Ok(Ok(Ok(info))) => {
                        crate::metrics::committed(&self.name, &info);
                        Ok(())
                    }
                    _ => Err(answer(
                        StatusCode::SERVICE_UNAVAILABLE,
                        -1,
                        "archive did not commit in time",
                    )),
                }
            }
        }
    }

    /// Opens a `connector_state` gap: callbacks are being refused, and WorkTool will not send
    /// them again.
    fn spool_is_full(&self, e: &SpoolError) {
        if self.spool_full.swap(true, Ordering::AcqRel) {
            return;
        }
        let (state, view) = (self.state.clone(), self.view.clone());
        view.set_refusing(Some(format!(
            "callbacks refused (503): the store is not taking them and {e}"
        )));
        // The answer must not wait for this event's commit (the store is the problem).
        tokio::spawn(async move { view.report(&state).await });
    }

    /// Closes the gap opened by [`Receiver::spool_is_full`].
    fn spool_has_room(&self) {
        if !self.spool_full.swap(false, Ordering::AcqRel) {
            return;
        }
        let (state, view) = (self.state.clone(), self.view.clone());
        view.set_refusing(None);
        tokio::spawn(async move { view.report(&state).await });
    }

    /// Records a request refused before its key was accepted: never spooled (anyone can send
    /// these), the reject row only if the store takes it at once, answered without waiting
    /// for its commit.
    async fn refuse_unauthenticated(&self, raw: RawPayload, reason: String) -> Response {
        tracing::warn!(connector = %self.name, status = 401, %reason, "callback refused");
        crate::metrics::noticed(&self.name, "unauthenticated");
        let item = Ingested::Rejected {
            raw,
            reason: reason.clone(),
        };
        if self
            .out
            .send_timeout(vec![item], None, Duration::from_millis(100))
            .await
            .is_err()
        {
            tracing::warn!(connector = %self.name, "reject row of an unauthenticated request dropped: store busy");
        }
        answer(StatusCode::UNAUTHORIZED, -1, "missing or wrong `key`")
    }

    /// Records a refused request and builds its answer.
    async fn refuse(&self, raw: RawPayload, code: StatusCode, reason: String, answer_by: Instant) -> Response {
        tracing::warn!(connector = %self.name, status = code.as_u16(), %reason, "callback refused");
        let item = Ingested::Rejected {
            raw,
            reason: reason.clone(),
        };
        match self.deliver(vec![item], answer_by).await {
            Ok(()) => answer(code, -1, &reason),
            Err(busy) => busy,
        }
    }

    /// Notes a message whose content equals one seen moments ago. Both are kept (WorkTool
    /// never retries, so a repeat is a second message); the counter lets an operator see it.
    fn note_repeat(&self, fingerprint: &str, at: TimestampMs) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        while recent.front().is_some_and(|(_, t)| at - t > REPEAT_WINDOW_MS) || recent.len() >= REPEAT_MEMORY {
            recent.pop_front();
        }
        if recent.iter().any(|(f, _)| f == fingerprint) {
            crate::metrics::noticed(&self.name, "repeated_content");
        }
        recent.push_back((fingerprint.to_string(), at));
    }

    /// Stores a decoded `fileBase64` and describes it.
    async fn store_file(&self, bytes: Vec<u8>) -> Attachment {
        let size = bytes.len() as u64;
        let blobs = self.blobs.clone();
        let stored = tokio::task::spawn_blocking(move || blobs.put(&bytes)).await;
        let sha256 = match stored {
            Ok(Ok(Stored::Blob(sha))) => Some(sha),
            Ok(Ok(Stored::TooLarge(_))) => {
                crate::metrics::noticed(&self.name, "attachment_over_cap");
                None
            }
            Ok(Err(e)) => {
                tracing::error!(connector = %self.name, error = %e, "cannot store an attachment; keeping its metadata");
                crate::metrics::noticed(&self.name, "attachment_not_stored");
                None
            }
            Err(e) => {
                tracing::error!(connector = %self.name, error = %e, "attachment task failed");
                None
            }
        };
        Attachment {
            name: Some("image.png".into()),
            mime: Some("image/png".into()),
            size: Some(size),
            url: None,
            sha256,
        }
    }
}

/// One query parameter's value (the first, decoded).
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn answer(code: StatusCode, app_code: i32, message: &str) -> Response {
    (code, axum::Json(json!({ "code": app_code, "message": message }))).into_response()
}

fn success() -> Response {
    answer(StatusCode::OK, 0, "success")
}

enum Encoding {
    Json,
    UrlEncoded,
    Multipart(String),
}

fn encoding(headers: &HeaderMap) -> (Encoding, &'static str) {
    let raw_ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Lower-cased for the type only: the multipart boundary is case-sensitive.
    let ct = raw_ct.to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(raw_ct).unwrap_or_default();
        (Encoding::Multipart(boundary), "multipart/form-data")
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        (Encoding::UrlEncoded, media::FORM)
    } else {
        // The seed documents JSON; a missing or odd content type is read as JSON.
        (Encoding::Json, media::JSON)
    }
}

/// Reads a `multipart/form-data` body into its text fields (public for the fuzz targets and
/// the never-panic tests).
pub async fn parse_multipart(body: bytes::Bytes, boundary: String) -> Result<Map<String, Value>, DecodeError> {
    let bad = |detail: String| DecodeError::Malformed {
        what: "multipart",
        detail,
    };
    if boundary.is_empty() {
        return Err(bad("no boundary in the content type".into()));
    }
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut m = Map::new();
    while let Some(field) = mp.next_field().await.map_err(|e| bad(e.to_string()))? {
        let name = field.name().unwrap_or("").to_string();
        let text = field.text().await.map_err(|e| bad(e.to_string()))?;
        if !name.is_empty() {
            m.insert(name, Value::String(text));
        }
    }
    if m.is_empty() {
        return Err(bad("no fields".into()));
    }
    Ok(m)
}

async fn callback(
    State(rx): State<Arc<Receiver>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let arrived = Instant::now();
    let answer_by = arrived + rx.timing.answer_within;
    let received_at = now_ms();
    let (enc, media_type) = encoding(&headers);
    let raw_of = |bytes: bytes::Bytes| RawPayload {
        received_at,
        media_type: media_type.into(),
        bytes,
    };
    if !rx.key_ok(query.as_deref()) {
        let refused = RefusedBody::read(body, rx.max_body as u64).await;
        let reason = format!("missing or wrong `key`; {}", refused.describe());
        return rx.refuse_unauthenticated(raw_of(refused.head), reason).await;
    }
    let Some(_permit) = rx.permits.acquire_by(arrived + rx.timing.slot_wait).await else {
        crate::metrics::noticed(&rx.name, "route_busy");
        tracing::warn!(connector = %rx.name, "every callback permit busy until the deadline: answering 503");
        return answer(StatusCode::SERVICE_UNAVAILABLE, -1, "archive busy");
    };
    let bytes = match read_limited(body, rx.max_body).await {
        Ok(b) => b,
        Err(BodyError::TooLarge { head }) => {
            let reason = format!("body larger than {} bytes (first {} kept)", rx.max_body, head.len());
            return rx
                .refuse(raw_of(head), StatusCode::PAYLOAD_TOO_LARGE, reason, answer_by)
                .await;
        }
        Err(BodyError::TimedOut { head }) => {
            let reason = format!("body not received in time (first {} bytes kept)", head.len());
            return rx
                .refuse(raw_of(head), StatusCode::REQUEST_TIMEOUT, reason, answer_by)
                .await;
        }
        Err(BodyError::Io(e)) => {
            // The client went away mid-body; nobody will read an answer and there is no
            // whole payload to keep.
            tracing::debug!(connector = %rx.name, error = %e, "callback body not received whole");
            return answer(StatusCode::BAD_REQUEST, -1, "incomplete body");
        }
    };
    let fields = match enc {
        Encoding::Json => codec::parse_json(&bytes),
        Encoding::UrlEncoded => codec::parse_urlencoded(&bytes),
        Encoding::Multipart(boundary) => parse_multipart(bytes.clone(), boundary).await,
    };
    let event = query_param(query.as_deref(), "event");
    let callback = fields.and_then(|f| codec::classify_with(&f, event.as_deref()).map(|c| (f, c)));
    let (fields, callback) = match callback {
        Ok(x) => x,
        Err(e) => {
            let refused = RefusedBody::of(&bytes);
            let reason = format!("{e}; {}", refused.describe());
            return rx
                .refuse(raw_of(refused.head), StatusCode::BAD_REQUEST, reason, answer_by)
                .await;
        }
    };
    let raw = raw_of(bytes);
    match callback {
        Callback::Message(m) => {
            let arrival = rx.arrivals.fetch_add(1, Ordering::AcqRel) + 1;
            let mut bad_file = None;
            let attachment = match m.file_base64.as_deref().map(codec::decode_file) {
                Some(Ok(file)) => Some(rx.store_file(file).await),
                Some(Err(reason)) => {
                    bad_file = Some(reason);
                    Some(Attachment {
                        name: Some("image.png".into()),
                        mime: Some("image/png".into()),
                        ..Default::default()
                    })
                }
                None => None,
            };
            let fp = codec::fingerprint(&m);
            rx.note_repeat(&fp, received_at);
            let ev = codec::message_event(
                &m,
                &MessageCx {
                    received_at,
                    arrival,
                    robot: &rx.robot,
                },
                attachment,
            );
            let mut items = vec![Ingested::Payload {
                raw: raw.clone(),
                events: vec![ev],
            }];
            if let Some(reason) = &bad_file {
                items.push(Ingested::Rejected {
                    raw,
                    reason: format!("{reason} (message archived without the image)"),
                });
            }
            if let Err(busy) = rx.deliver(items, answer_by).await {
                return busy;
            }
            crate::metrics::acked(&rx.name, 1);
            rx.state.touch();
            match bad_file {
                Some(reason) => answer(
                    StatusCode::BAD_REQUEST,
                    -1,
                    &format!("{reason}; message archived without the image"),
                ),
                None => success(),
            }
        }
        Callback::RobotOnline | Callback::RobotOffline => {
            let online = callback == Callback::RobotOnline;
            let ev = codec::robot_state_event(online, &fields, received_at);
            if let Err(busy) = rx
                .deliver(vec![Ingested::Payload { raw, events: vec![ev] }], answer_by)
                .await
            {
                return busy;
            }
            super::status::publish(&rx.name, online);
            rx.view.set_online(online);
            let (state, view) = (rx.state.clone(), rx.view.clone());
            // The state event waits for its own commit; WorkTool's 3 s must not.
            tokio::spawn(async move { view.report(&state).await });
            success()
        }
        Callback::Other { subtype } => {
            if subtype == "worktool_callback_5" || subtype == "worktool_callback_6" || subtype == "worktool_notice" {
                tracing::warn!(
                    connector = %rx.name,
                    %subtype,
                    "callback in a shape no public source documents: kept as `other`, robot state unchanged; \
                     to record the robot going online/offline, bind WorkTool's callback types 5 and 6 to this URL \
                     with `&event=online` and `&event=offline`"
                );
            }
            let ev = codec::other_event(&subtype, &fields);
            if let Err(busy) = rx
                .deliver(vec![Ingested::Payload { raw, events: vec![ev] }], answer_by)
                .await
            {
                return busy;
            }
            success()
        }
    }
}
