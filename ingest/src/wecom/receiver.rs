//! The callback routes: GET (URL verification) and POST (messages and events), answering as
//! design §3.2 says.
//!
//! POST, cheapest check first, so a refused request costs little: query parameters (400) →
//! `timestamp` within the window (403; a replay of an old signed request) → one of the
//! route's permits (503 when none comes free within `slot_wait`) → the body with the limit
//! (413) and the server's body deadline (408) → the envelope's `Encrypt`, read as a stream
//! without building a tree (400) → `msg_signature` (403) → decrypt and check the corp id (403
//! for a foreign corp id, 400 for garbage) → decode (400) → optional lookups → send the batch
//! (503 when no slot within `slot_wait`) → wait for the commit notice (503 unless it is Ok
//! before `answer_within`) → 200 `success`. WeCom gives up after 5 s and retries the same
//! payload, which the store then recognises as a duplicate.
//!
//! Every refusal is itself recorded as a reject before it is answered. A request refused
//! before its signature was checked is anyone's: its reject row keeps the first 64 KiB of the
//! body with the body's size and sha256 (the rest is read through a hash, never held), so a
//! flood of large unsigned posts costs bandwidth, not memory or disk. A signed message that
//! fails to decode keeps its whole decrypted text (only WeCom can send one).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use proto::batch::media;
use proto::{Ingested, RawPayload};

use super::codec;
use super::crypto::{CryptoError, WecomCrypto};
use super::enrich::Enricher;
use crate::EventSender;
use crate::connector::SendTimeout;
use crate::server::body::{BodyError, RefusedBody, read_limited};
use crate::server::permits::RoutePermits;

/// How long a callback may take, all inside WeCom's 5 s deadline.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Wait for a free channel slot before answering 503.
    pub slot_wait: Duration,
    /// Answer 503 if the commit notice has not come this long after the request arrived.
    pub answer_within: Duration,
    /// Budget for API lookups (names, media) per callback.
    pub lookup_budget: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            slot_wait: Duration::from_millis(1500),
            answer_within: Duration::from_millis(4000),
            lookup_budget: Duration::from_millis(1000),
        }
    }
}

/// Shared state of the routes of one connector.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
}

/// What one connector's routes are built from.
pub struct Setup {
    /// Connector name (logs, metrics).
    pub name: String,
    /// Signature check and decryption with the connector's token, key and corp id.
    pub crypto: WecomCrypto,
    /// Where decoded batches go.
    pub out: EventSender,
    /// Largest body read; a larger one is refused with 413.
    pub max_body: usize,
    /// Waits and deadlines inside WeCom's 5 s.
    pub timing: Timing,
    /// API lookups (names, media), when a secret is configured.
    pub enricher: Option<Arc<Enricher>>,
    /// How far `timestamp` may be from now before a request counts as a replay.
    pub timestamp_window: Duration,
}

struct Inner {
    setup: Setup,
    permits: RoutePermits,
}

/// The four query parameters WeCom signs with.
#[derive(Debug, Default)]
struct Params {
    msg_signature: Option<String>,
    timestamp: Option<String>,
    nonce: Option<String>,
    echostr: Option<String>,
}

/// Splits a raw query string. Values are percent-decoded but `+` stays `+`: WeCom's own
/// samples decode with `unquote`, and a base64 `echostr` sent unencoded keeps its `+`.
fn params(query: Option<&str>) -> Params {
    let mut p = Params::default();
    for pair in query.unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned();
        match k {
            "msg_signature" => p.msg_signature = Some(v),
            "timestamp" => p.timestamp = Some(v),
            "nonce" => p.nonce = Some(v),
            "echostr" => p.echostr = Some(v),
            _ => {}
        }
    }
    p
}

impl Params {
    fn signed(&self) -> Result<(&str, &str, &str), &'static str> {
        match (&self.msg_signature, &self.timestamp, &self.nonce) {
            (Some(s), Some(t), Some(n)) => Ok((s, t, n)),
            _ => Err("missing msg_signature, timestamp or nonce"),
        }
    }
}

fn answer(status: StatusCode, body: &'static str) -> Response {
    (status, body).into_response()
}

fn crypto_status(e: &CryptoError) -> StatusCode {
    match e {
        CryptoError::BadSignature | CryptoError::WrongReceiveId { .. } => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl Receiver {
    /// Routes' state.
    pub fn new(setup: Setup) -> Self {
        Receiver {
            inner: Arc::new(Inner {
                setup,
                permits: RoutePermits::default(),
            }),
        }
    }

    /// Records a refused request, then returns its answer.
    async fn refuse(&self, status: StatusCode, raw: RawPayload, reason: String) -> Response {
        let me = &self.inner.setup;
        tracing::warn!(connector = %me.name, status = status.as_u16(), %reason, "wecom callback refused");
        let reason = format!("wecom callback answered {}: {reason}", status.as_u16());
        match me
            .out
            .send_timeout(vec![Ingested::Rejected { raw, reason }], None, me.timing.slot_wait)
            .await
        {
            Ok(rx) => match tokio::time::timeout(me.timing.answer_within, rx).await {
                Ok(Ok(Ok(_))) => {}
                _ => tracing::warn!(connector = %me.name, "reject row not confirmed by the store"),
            },
            Err(_) => {
                tracing::warn!(connector = %me.name, "could not record a refused callback: store busy")
            }
        }
        let body = match status {
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::PAYLOAD_TOO_LARGE => "payload too large",
            _ => "bad request",
        };
        answer(status, body)
    }

    /// Refuses a request whose body was not read yet: reads it through a hash, keeping only
    /// its head (see the module docs).
    async fn refuse_unread(&self, status: StatusCode, body: Body, why: String) -> Response {
        let r = RefusedBody::read(body, self.inner.setup.max_body as u64).await;
        let reason = format!("{why}; {}", r.describe());
        self.refuse(status, RawPayload::now(media::XML, r.head), reason).await
    }

    /// GET: URL verification; answers the decrypted `echostr`.
    pub async fn verify(&self, query: Option<String>) -> Response {
        let raw = || RawPayload::now(media::FORM, Bytes::from(query.clone().unwrap_or_default()));
        let p = params(query.as_deref());
        let (sig, ts, nonce) = match p.signed() {
            Ok(v) => v,
            Err(why) => {
                return self.refuse(StatusCode::BAD_REQUEST, raw(), why.into()).await;
            }
        };
        let Some(echostr) = p.echostr.as_deref() else {
            return self
                .refuse(StatusCode::BAD_REQUEST, raw(), "missing echostr".into())
                .await;
        };
        let crypto = &self.inner.setup.crypto;
        let plain = crypto
            .verify(sig, ts, nonce, echostr)
            .and_then(|()| crypto.decrypt(echostr));
        match plain {
            Ok(plain) => (StatusCode::OK, plain).into_response(),
            Err(e) => {
                self.refuse(crypto_status(&e), raw(), format!("URL verification: {e}"))
                    .await
            }
        }
    }

    /// POST: a message or event.
    pub async fn receive(&self, query: Option<String>, body: Body) -> Response {
        let started = Instant::now();
        let me = &self.inner.setup;
        let p = params(query.as_deref());
        let (sig, ts, nonce) = match p.signed() {
            Ok(v) => v,
            Err(why) => return self.refuse_unread(StatusCode::BAD_REQUEST, body, why.into()).await,
        };
        if let Err(why) = timestamp_fresh(ts, proto::time::now_ms() / 1000, me.timestamp_window) {
            crate::metrics::noticed(&me.name, "stale_timestamp");
            return self.refuse_unread(StatusCode::FORBIDDEN, body, why).await;
        }
        let deadline = tokio::time::Instant::from_std(started + me.timing.slot_wait);
        let Some(_permit) = self.inner.permits.acquire_by(deadline).await else {
            crate::metrics::noticed(&me.name, "route_busy");
            tracing::warn!(connector = %me.name, "every callback permit busy: answering 503 so WeCom retries");
            return answer(StatusCode::SERVICE_UNAVAILABLE, "busy");
        };
        let body = match read_limited(body, me.max_body).await {
            Ok(b) => b,
            Err(BodyError::TooLarge { head }) => {
                let why = format!("body larger than {} bytes (first {} kept)", me.max_body, head.len());
                return self
                    .refuse(StatusCode::PAYLOAD_TOO_LARGE, RawPayload::now(media::XML, head), why)
                    .await;
            }
            Err(BodyError::TimedOut { head }) => {
                let why = format!("body not received in time (first {} bytes kept)", head.len());
                return self
                    .refuse(StatusCode::REQUEST_TIMEOUT, RawPayload::now(media::XML, head), why)
                    .await;
            }
            // The client went away: nobody is left to answer.
            Err(BodyError::Io(e)) => {
                tracing::info!(connector = %me.name, error = %e, "wecom callback body not read whole");
                return answer(StatusCode::BAD_REQUEST, "incomplete body");
            }
        };
        // Before the signature is checked, a refusal keeps only the body's head, size and hash.
        let refused = |status: StatusCode, why: String| {
            let r = RefusedBody::of(&body);
            let reason = format!("{why}; {}", r.describe());
            self.refuse(status, RawPayload::now(media::XML, r.head), reason)
        };
        let encrypt = match codec::envelope_encrypt(&body) {
            Ok(e) => e,
            Err(e) => return refused(StatusCode::BAD_REQUEST, format!("envelope: {e}")).await,
        };
        if let Err(e) = me.crypto.verify(sig, ts, nonce, &encrypt) {
            return refused(crypto_status(&e), e.to_string()).await;
        }
        let raw_body = || RawPayload::now(media::XML, body.clone());
        let plain = match me.crypto.decrypt(&encrypt) {
            Ok(p) => Bytes::from(p),
            Err(e) => {
                return self.refuse(crypto_status(&e), raw_body(), e.to_string()).await;
            }
        };
        let decoded = match codec::decode(&plain) {
            Ok(d) => d,
            Err(e) => {
                let raw = RawPayload::now(media::XML, plain);
                return self
                    .refuse(StatusCode::BAD_REQUEST, raw, format!("message XML: {e}"))
                    .await;
            }
        };
        let mut events = decoded.events;
        // The decrypted receive id is the corp id this callback was verified for.
        crate::wecom_archive::notify::on_callback(Some(me.crypto.receive_id()), &events);
        if let Some(enricher) = &me.enricher {
            events = enricher.enrich(&plain, events, me.timing.lookup_budget).await;
        }
        let item = Ingested::Payload {
            raw: RawPayload::now(media::XML, plain),
            events,
        };
        let rx = match me.out.send_timeout(vec![item], None, me.timing.slot_wait).await {
            Ok(rx) => rx,
            Err(SendTimeout::Full(_)) => {
                crate::metrics::noticed(&me.name, "store_busy");
                tracing::warn!(connector = %me.name, "store busy: answering 503 so WeCom retries");
                return answer(StatusCode::SERVICE_UNAVAILABLE, "store busy");
            }
            Err(SendTimeout::Closed(_)) => {
                return answer(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
            }
        };
        let left = me.timing.answer_within.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, rx).await {
            Ok(Ok(Ok(info))) => {
                crate::metrics::committed(&me.name, &info);
                crate::metrics::acked(&me.name, 1);
                answer(StatusCode::OK, "success")
            }
            Ok(Ok(Err(e))) => {
                tracing::warn!(connector = %me.name, error = %e, "commit failed: answering 503");
                answer(StatusCode::SERVICE_UNAVAILABLE, "not committed")
            }
            Ok(Err(_)) => answer(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
            Err(_) => {
                crate::metrics::noticed(&me.name, "commit_late");
                tracing::warn!(connector = %me.name, "commit not confirmed in time: answering 503 so WeCom retries");
                answer(StatusCode::SERVICE_UNAVAILABLE, "not committed in time")
            }
        }
    }
}

/// Whether a signed request's `timestamp` (seconds) is within `window` of `now` (seconds).
/// Signing covers the timestamp, so an old request replayed verbatim is refused here; checked
/// arithmetic, since both come from outside.
fn timestamp_fresh(ts: &str, now: i64, window: Duration) -> Result<(), String> {
    let t: i64 = ts.trim().parse().map_err(|_| {
        format!(
            "timestamp `{}` is not a number",
            ts.chars().take(32).collect::<String>()
        )
    })?;
    let skew = t.checked_sub(now).map(i64::unsigned_abs).unwrap_or(u64::MAX);
    if skew > window.as_secs() {
        return Err(format!(
            "timestamp {t} is {skew} s from the archive's clock (window {} s): a replay or a wrong clock",
            window.as_secs()
        ));
    }
    Ok(())
}

/// The GET and POST routes at `path`.
pub fn router(path: &str, receiver: Receiver) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route(
            path,
            get(|State(r): State<Receiver>, RawQuery(q): RawQuery| async move { r.verify(q).await }).post(
                |State(r): State<Receiver>, RawQuery(q): RawQuery, body: Body| async move { r.receive(q, body).await },
            ),
        )
        .with_state(receiver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plus_signs_and_decodes_percent_escapes() {
        let p = params(Some("msg_signature=ab&timestamp=1&nonce=2&echostr=a+b%2Fc%3D%3D"));
        assert_eq!(p.echostr.as_deref(), Some("a+b/c=="));
        assert_eq!(p.signed().unwrap(), ("ab", "1", "2"));
        assert!(params(Some("timestamp=1")).signed().is_err());
    }

    #[test]
    fn timestamps_outside_the_window_are_refused() {
        let w = Duration::from_secs(300);
        assert!(timestamp_fresh("1000", 1000, w).is_ok());
        assert!(timestamp_fresh("700", 1000, w).is_ok());
        assert!(timestamp_fresh("1300", 1000, w).is_ok());
        assert!(timestamp_fresh("699", 1000, w).is_err());
        assert!(timestamp_fresh("1301", 1000, w).is_err());
        assert!(timestamp_fresh("x", 1000, w).is_err());
        assert!(timestamp_fresh(&i64::MIN.to_string(), i64::MAX, w).is_err());
    }
}
