//! `/message/{platform}/{account}/{chat}/{msg}`: one message's current state, revisions, its
//! full event history with raw payloads and chain positions; `?verify=1` re-checks each of
//! its events against the hash chain.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use crate::page::{chat_url, frame, time};
use crate::state::AppState;

/// `?verify=1`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Verify {
    verify: Option<String>,
}

/// `GET /message/…`.
pub(crate) async fn page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(target): Path<(String, String, String, String)>,
    Query(v): Query<Verify>,
) -> Response {
    crate::blocking::run(state, move |state| page_blocking(state, &headers, target, v)).await
}

fn page_blocking(
    state: &AppState,
    headers: &HeaderMap,
    target: (String, String, String, String),
    v: Verify,
) -> Response {
    let access = match super::message_access(state, headers, ("/message", ""), true, target, "view_message") {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (lang, key, path) = (access.lang, &access.key, &access.path);
    let internal = |e: &dyn std::fmt::Display| crate::errors::internal(lang, e);
    let h = match access.reader.message(key) {
        Ok(Some(h)) => h,
        Ok(None) => return crate::errors::not_found(lang),
        Err(e) => return internal(&e),
    };
    let verify = v.verify.is_some();
    let checks = if verify {
        match access.reader.check_message(key) {
            Ok(c) => Some(c),
            Err(e) => return internal(&e),
        }
    } else {
        None
    };
    let detail = json!({ "verify": verify, "chain_ok": checks.as_ref().map(|c| c.iter().all(|e| e.ok)) });
    if let Err(r) = super::log_or_fail(state, lang, &access.session.user.name, "view_message", path, detail) {
        return r;
    }
    let tz = state.opts.tz;
    let body = html! {
        h1 { (lang.t("消息详情", "Message")) }
        p.meta {
            span.badge { (key.platform.as_str()) }
            a href=(chat_url(key)) { (lang.t("在会话中查看", "Show in conversation")) }
            a href=(format!("{path}?verify=1")) { (lang.t("校验此消息", "Verify this message")) }
        }
        @if let Some(c) = &checks {
            @if c.iter().all(|e| e.ok) {
                p.notice.ok { (lang.t("哈希链校验通过：", "Chain check passed: ")) (c.len()) (lang.t(" 个事件均与链一致。", " events match the chain.")) }
            } @else {
                p.notice.bad { (lang.t("哈希链校验失败：以下事件与链不一致。", "Chain check FAILED: the events marked below do not match the chain.")) }
            }
        }
        @if let Some(r) = &h.record {
            div.msg {
                div.meta {
                    strong { (r.sender_name.clone().unwrap_or_else(|| r.sender_id.clone())) }
                    span { (time(r.sent_at, tz)) }
                    (super::conversation::state_badges(lang, r))
                }
                div.text { (r.text) }
            }
        }
        @if h.revisions.len() > 1 {
            h2 { (lang.t("修改记录", "Revisions")) }
            ol.revisions { @for r in &h.revisions { li { span.meta { (time(r.at, tz)) " · seq " (r.seq) } " " (r.text) } } }
        }
        h2 { (lang.t("事件", "Events")) " (" (h.events.len()) ")" }
        table {
            tr { th { "seq" } th { (lang.t("类型", "kind")) } th { (lang.t("时间", "time")) } th { (lang.t("哈希", "hash")) } th { (lang.t("事件", "event")) } }
            @for e in &h.events {
                tr {
                    td { (e.seq) }
                    td { (e.kind.as_str()) }
                    td { (time(e.occurred_at, tz)) }
                    td {
                        code { (e.hash) }
                        @if let Some(c) = checks.as_ref().and_then(|c| c.iter().find(|c| c.seq == e.seq)) {
                            @if c.ok { " " span.ok { "✓" } } @else { " " span.bad { "✗" } }
                        }
                    }
                    td { code { (e.event().ok().and_then(|v| serde_json::to_string(&v).ok()).unwrap_or_default()) } }
                }
            }
        }
        h2 { (lang.t("原始数据", "Raw payloads")) " (" (h.raws.len()) ")" }
        @for r in &h.raws {
            p.meta { "#" (r.id) " · " (r.media_type) " · " (r.bytes.len()) " bytes · " (time(r.received_at, tz)) }
            pre { (match std::str::from_utf8(&r.bytes) { Ok(t) => t.to_string(), Err(_) => format!("({} bytes, binary)", r.bytes.len()) }) }
        }
    };
    Html(frame(lang, lang.t("消息详情", "Message"), Some(&access.session), body).into_string()).into_response()
}
