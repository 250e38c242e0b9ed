//! Case bundles from the UI: `POST /bundle/search` (every result of a query, at most [`CAP`])
//! and `POST /bundle/chat/{platform}/{account}/{chat}` (the messages ticked on the
//! conversation page, else the chat around the focused message). A POST with the session's
//! CSRF token, because making a bundle is on the record like a state change: a GET never makes
//! one. Every message is checked against the user's scopes (attachments enter only as a
//! message's own); the access-log entry (`case_bundle`: what was included and the bundle's
//! sha256) is written before a byte is sent. The bundle is built in an unnamed file inside the
//! data directory and streamed from it, so memory stays bounded whatever its attachments weigh.

use std::io::Seek;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use proto::MessageKey;
use serde_json::{Value, json};
use store::access::{Outcome, Session};
use tokio::io::AsyncReadExt;

use super::search::{Params, Planned};
use crate::auth::csrf;
use crate::i18n::Lang;
use crate::state::AppState;

/// Most messages in one bundle: a case is read by people.
pub(crate) const CAP: usize = 1000;

/// The access-log action of every bundle, made or refused.
const ACTION: &str = "case_bundle";

/// The button under search results: the same query and filters, posted.
pub(crate) fn search_form(lang: Lang, p: &Params, csrf_token: &str, total: usize) -> Markup {
    html! {
        form.bundle method="post" action="/bundle/search" {
            input type="hidden" name=(csrf::FIELD) value=(csrf_token);
            @for (name, value) in p.fields() {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" disabled[total > CAP] {
                (lang.t("下载案卷（全部结果）", "Download case bundle (all results)"))
            }
            @if total > CAP {
                span.meta { (lang.t("结果超过 1000 条，请缩小查询范围。", "More than 1000 results: narrow the query.")) }
            }
        }
    }
}

/// The form on a conversation page; its checkboxes sit beside each message
/// (`form="case-bundle"`), so the timeline's layout stays as it is.
pub(crate) fn chat_form(lang: Lang, action: &str, at: Option<&str>, csrf_token: &str) -> Markup {
    html! {
        form.bundle id="case-bundle" method="post" action=(action) {
            input type="hidden" name=(csrf::FIELD) value=(csrf_token);
            @if let Some(at) = at { input type="hidden" name="at" value=(at); }
            button type="submit" {
                (lang.t("下载案卷（勾选的消息；未勾选则为本页全部）", "Download case bundle (ticked messages; none ticked = all on this page)"))
            }
        }
    }
}

/// The checkbox of one message on a conversation page.
pub(crate) fn checkbox(lang: Lang, msg_id: &str) -> Markup {
    html! {
        label.pick {
            input type="checkbox" form="case-bundle" name="msg" value=(msg_id);
            " " (lang.t("选入案卷", "add to bundle"))
        }
    }
}

/// `POST /bundle/search`.
pub(crate) async fn from_search(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(p): Form<Params>,
) -> Response {
    crate::blocking::run(state, move |state| from_search_blocking(state, &headers, &p)).await
}

fn from_search_blocking(state: &AppState, headers: &HeaderMap, p: &Params) -> Response {
    let path = "/bundle/search";
    let s = match super::signed_in(state, headers, path, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::from_headers(headers);
    if !csrf::matches(&s.csrf, &p.csrf) {
        return super::deny(state, lang, &s.user.name, ACTION, path, "csrf");
    }
    let internal = |e: &dyn std::fmt::Display| crate::errors::internal(lang, e);
    let Planned {
        req,
        nothing,
        reader,
        searcher,
    } = match super::search::plan(state, lang, &s, p, ACTION, CAP + 1) {
        Ok(Some(planned)) => planned,
        Ok(None) => {
            return crate::errors::page(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                lang.t("索引未就绪", "Index not ready"),
                lang.t(
                    "搜索索引尚未就绪，请稍后再试。",
                    "The search index is not ready yet; try again shortly.",
                ),
            );
        }
        Err(r) => return r,
    };
    let hits = if nothing {
        Vec::new()
    } else {
        match searcher.search(&req) {
            Ok(h) => h,
            Err(e) => return internal(&e),
        }
    };
    if hits.len() > CAP {
        let detail = json!({ "q": p.q, "reason": "more than 1000 results" });
        super::record(state, &s.user.name, ACTION, path, detail, Outcome::Denied);
        return crate::errors::page(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang,
            lang.t("结果过多", "Too many results"),
            lang.t(
                "一个案卷最多 1000 条消息，此查询的结果更多。请缩小查询范围（时间、会话、发送者）后再下载。",
                "A case bundle holds at most 1000 messages and this query matches more. Narrow it (time, chat, sender) and download again.",
            ),
        );
    }
    let keys: Vec<MessageKey> = hits.into_iter().map(|h| h.key).collect();
    let origin = json!({
        "kind": "search", "q": p.q, "platform": p.platform, "chat": p.chat, "sender": p.sender,
        "since": p.since, "until": p.until, "type": p.content_type, "state": p.state,
    });
    send(state, lang, &s, path, &reader, &keys, origin)
}

/// `POST /bundle/chat/…`: the form's fields, read by hand because `msg` repeats.
pub(crate) async fn from_chat(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((platform_s, account, chat)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    crate::blocking::run(state, move |state| {
        from_chat_blocking(state, &headers, (&platform_s, &account, &chat), &body)
    })
    .await
}

fn from_chat_blocking(
    state: &AppState,
    headers: &HeaderMap,
    (platform_s, account, chat): (&str, &str, &str),
    body: &[u8],
) -> Response {
    let path = crate::page::path("/bundle/chat", &[platform_s, account, chat]);
    let super::ChatAccess {
        session: s,
        lang,
        platform,
        reader,
    } = match super::chat_access(state, headers, &path, false, (platform_s, chat), ACTION) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (mut token, mut at, mut picked) = (String::new(), None, Vec::new());
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            csrf::FIELD => token = v.into_owned(),
            "at" if !v.is_empty() => at = Some(v.into_owned()),
            "msg" => picked.push(v.into_owned()),
            _ => {}
        }
    }
    if !csrf::matches(&s.csrf, &token) {
        return super::deny(state, lang, &s.user.name, ACTION, &path, "csrf");
    }
    let internal = |e: &dyn std::fmt::Display| crate::errors::internal(lang, e);
    let key = |msg_id: String| MessageKey {
        platform,
        account: account.to_owned(),
        chat_id: chat.to_owned(),
        msg_id,
    };
    let keys: Vec<MessageKey> = if picked.is_empty() {
        // Nothing ticked: the messages the conversation page shows.
        let point = match &at {
            Some(id) => match reader.messages_by_keys(&[key(id.clone())]) {
                Ok(v) => v.first().map(|r| r.sent_at),
                Err(e) => return internal(&e),
            },
            None => None,
        };
        let (point, before, after) = super::conversation::window(point);
        match reader.chat_timeline(platform, account, chat, point, before, after) {
            Ok(m) => m.into_iter().map(|r| r.key).collect(),
            Err(e) => return internal(&e),
        }
    } else {
        if picked.len() > CAP {
            return super::deny(state, lang, &s.user.name, ACTION, &path, "more than 1000 messages");
        }
        let wanted: Vec<MessageKey> = picked.into_iter().map(key).collect();
        // Every ticked id must be a message of this chat: the scope check was the chat's, so
        // an id from anywhere else is refused, not looked up elsewhere.
        let found = match reader.messages_by_keys(&wanted) {
            Ok(v) => v,
            Err(e) => return internal(&e),
        };
        if let Some(missing) = wanted.iter().find(|k| !found.iter().any(|r| &r.key == *k)) {
            let detail = json!({ "reason": "no such message in this chat", "msg": missing.msg_id });
            super::record(state, &s.user.name, ACTION, &path, detail, Outcome::Denied);
            return crate::errors::not_found(lang);
        }
        wanted
    };
    if keys.is_empty() {
        return super::deny(state, lang, &s.user.name, ACTION, &path, "no such chat");
    }
    let origin = json!({
        "kind": "conversation", "platform": platform.as_str(), "account": account, "chat": chat, "at": at,
    });
    send(state, lang, &s, &path, &reader, &keys, origin)
}

/// Builds the bundle of `keys` (each re-checked against the scopes), records it, sends it.
/// Runs on the blocking pool: the bundle is written before the response starts.
fn send(
    state: &AppState,
    lang: Lang,
    s: &Session,
    path: &str,
    reader: &store::StoreReader,
    keys: &[MessageKey],
    origin: Value,
) -> Response {
    if let Some(k) = keys
        .iter()
        .find(|k| !crate::scope::allows(&s.user.scopes, k.platform, &k.chat_id))
    {
        let why = format!("message {k} is out of scope");
        return super::deny(state, lang, &s.user.name, ACTION, path, &why);
    }
    let now = state.now();
    let included: Vec<String> = keys.iter().map(ToString::to_string).collect();
    let (written, file, sha, size) = match build(reader, keys, &s.user.name, now, origin, &state.opts.data_dir) {
        Ok(b) => b,
        Err(e) => return crate::errors::internal(lang, &e),
    };
    let detail = json!({
        "sha256": sha, "size": size, "messages": included, "events": written.events,
        "attachments": written.attachments, "attachments_left_out": written.attachments_left_out,
        "chain_head": format!("{}:{}", written.chain_head.seq, written.chain_head.hash),
    });
    if let Err(r) = super::log_or_fail(state, lang, &s.user.name, ACTION, path, detail) {
        return r;
    }
    let name = format!(
        "chatvault-case-{}-{}.zip",
        chrono::DateTime::from_timestamp_millis(now)
            .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
            .unwrap_or_default(),
        &sha[..12]
    );
    let mut res = Body::from_stream(chunks(tokio::fs::File::from_std(file))).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&size.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

type Built = (::bundle::Written, std::fs::File, String, u64);

/// Writes the bundle into an unnamed file inside the data directory (owner-only, gone when
/// closed), not into memory: a thousand messages with their attachments can be large. Returns
/// what was written, the file rewound, its sha256 and its size.
fn build(
    reader: &store::StoreReader,
    keys: &[MessageKey],
    user: &str,
    now: i64,
    origin: Value,
    data_dir: &std::path::Path,
) -> Result<Built, Box<dyn std::error::Error + Send + Sync>> {
    let mut file = tempfile::tempfile_in(data_dir)?;
    let written = ::bundle::write(
        reader,
        &::bundle::Request {
            keys,
            created_by: user,
            created_at_ms: now,
            origin,
            blobs_dir: &data_dir.join("blobs"),
        },
        &mut file,
    )?;
    file.rewind()?;
    let (sha, size) = ::bundle::sha256_of(&mut file)?;
    file.rewind()?;
    Ok((written, file, sha, size))
}

/// The file's bytes as a stream of chunks; a read error ends it (the client sees a cut-off
/// download, which its length header makes plain).
fn chunks(file: tokio::fs::File) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}
