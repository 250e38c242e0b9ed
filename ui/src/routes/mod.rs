//! The router: one file per page, a 404 page for everything else, security headers on every
//! response, and the helpers every page starts with ([`signed_in`], or [`signed_in_page`] for a
//! page with no other address than its path; [`chat_access`] for a chat's or a message's).

// Handlers return a finished `Response` as their early exit, once per request; boxing it
// would only add an allocation on the refusal path.
#![allow(clippy::result_large_err)]

mod access_log;
mod attachment;
mod audit;
mod bundle;
mod conversation;
mod filter;
mod login;
mod message;
mod record;
mod search;
mod status;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use proto::{MessageKey, Platform};
use serde_json::json;
use store::access::{Outcome, Session};

use crate::i18n::Lang;
use crate::state::AppState;
use record::{deny, log_or_fail, record};

/// Forms are a few fields; anything bigger is refused before it is read.
const BODY_LIMIT: usize = 16 * 1024;

/// The UI's routes on `state`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(search::index))
        .route("/search", get(search::results))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/chat/{platform}/{account}/{chat}", get(conversation::page))
        .route("/message/{platform}/{account}/{chat}/{msg}", get(message::page))
        .route(
            "/attachment/{platform}/{account}/{chat}/{msg}/{index}",
            get(attachment::download),
        )
        .route("/access-log", get(access_log::page))
        .route("/audit", get(audit::page))
        .route("/status", get(status::page))
        .route("/bundle/search", post(bundle::from_search))
        .route("/bundle/chat/{platform}/{account}/{chat}", post(bundle::from_chat))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn not_found(State(state): State<Arc<AppState>>, headers: HeaderMap, req: Request) -> Response {
    let path = req.uri().path().to_string();
    crate::blocking::run(state, move |state| not_found_blocking(state, &headers, &path)).await
}

fn not_found_blocking(state: &AppState, headers: &HeaderMap, path: &str) -> Response {
    let lang = Lang::from_headers(headers);
    // Unknown paths are not data, but probing for them is worth knowing about.
    let who = crate::auth::session::current(state, headers).map(|(_, s)| s.user.name);
    let who = who.unwrap_or_default();
    record(state, &who, "not_found", path, json!({}), Outcome::Denied);
    crate::errors::not_found(lang)
}

/// No caching, no framing, no scripts, no referrers: pages hold archived messages.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The request's session, or the refusal to send: a redirect to the login page for a page
/// request, 401 for anything else; either way logged, and no data.
pub(crate) fn signed_in(state: &AppState, headers: &HeaderMap, path: &str, page: bool) -> Result<Session, Response> {
    if let Some((_, s)) = crate::auth::session::current(state, headers) {
        return Ok(s);
    }
    record(state, "", "anonymous", path, json!({}), Outcome::Denied);
    if page {
        Err(Redirect::to("/login").into_response())
    } else {
        let lang = Lang::from_headers(headers);
        Err(crate::errors::page(
            StatusCode::UNAUTHORIZED,
            lang,
            lang.t("请先登录", "Please log in"),
            lang.t("此页面需要登录。", "This page needs a login."),
        ))
    }
}

/// `GET` of a page behind the login wall at `path`, on the blocking pool: `body` for the
/// session, in the page frame under `title` (Chinese, English); or the response [`signed_in`]
/// or `body` gives instead.
pub(crate) async fn signed_in_page<F>(
    state: Arc<AppState>,
    headers: HeaderMap,
    path: &'static str,
    (zh, en): (&'static str, &'static str),
    body: F,
) -> Response
where
    F: FnOnce(&AppState, Lang, &Session) -> Result<Markup, Response> + Send + 'static,
{
    crate::blocking::run(state, move |state| {
        let s = match signed_in(state, &headers, path, true) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let lang = Lang::from_headers(&headers);
        match body(state, lang, &s) {
            Ok(body) => Html(crate::page::frame(lang, lang.t(zh, en), Some(&s), body).into_string()).into_response(),
            Err(r) => r,
        }
    })
    .await
}

/// What every chat-level page or download starts with: the session, the language, the
/// platform and an archive reader, once the chat is known to be in the user's scope — or the
/// response to send instead (login, 404, a logged 403, 500). One place, so no route can skip
/// the scope check.
pub(crate) struct ChatAccess {
    pub(crate) session: Session,
    pub(crate) lang: Lang,
    pub(crate) platform: Platform,
    pub(crate) reader: store::StoreReader,
}

/// See [`ChatAccess`]; `target` is (platform as written in the path, chat id), `action` names
/// the access-log entry of a denial.
pub(crate) fn chat_access(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    page: bool,
    target: (&str, &str),
    action: &str,
) -> Result<ChatAccess, Response> {
    let session = signed_in(state, headers, path, page)?;
    let lang = Lang::from_headers(headers);
    let Some(platform) = conversation::platform(target.0) else {
        return Err(crate::errors::not_found(lang));
    };
    if !crate::scope::allows(&session.user.scopes, platform, target.1) {
        return Err(deny(state, lang, &session.user.name, action, path, "out of scope"));
    }
    let reader = state.reader().map_err(|e| crate::errors::internal(lang, &e))?;
    Ok(ChatAccess {
        session,
        lang,
        platform,
        reader,
    })
}

/// [`ChatAccess`] to one message, and the message's key and path.
pub(crate) struct MessageAccess {
    pub(crate) session: Session,
    pub(crate) lang: Lang,
    pub(crate) reader: store::StoreReader,
    pub(crate) key: MessageKey,
    /// `{route}/{platform}/{account}/{chat}/{msg}{suffix}`, each segment escaped: the page's
    /// own address and its access-log target.
    pub(crate) path: String,
}

/// [`chat_access`] to one message addressed by (platform as written, account, chat, message
/// id) under `route` (`/message`, `/attachment`), with `suffix` after the message id.
pub(crate) fn message_access(
    state: &AppState,
    headers: &HeaderMap,
    (route, suffix): (&str, &str),
    page: bool,
    (platform_s, account, chat, msg): (String, String, String, String),
    action: &str,
) -> Result<MessageAccess, Response> {
    let path = crate::page::path(route, &[&platform_s, &account, &chat, &msg]) + suffix;
    let access = chat_access(state, headers, &path, page, (&platform_s, &chat), action)?;
    Ok(MessageAccess {
        session: access.session,
        lang: access.lang,
        reader: access.reader,
        key: MessageKey {
            platform: access.platform,
            account,
            chat_id: chat,
            msg_id: msg,
        },
        path,
    })
}
