//! `/chat/{platform}/{account}/{chat}?at=MSG`: a chat's timeline around a message (or its
//! latest messages): every message with its state; edited ones with every revision;
//! withdrawn and deleted ones with their original text and who/when; attachments as download
//! links. Stream-built bot replies are shown whole (the record holds the folded text).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use proto::{MessageKey, MessageRecord, MessageState, Platform};
use serde::Deserialize;
use serde_json::json;
use store::access::Outcome;

use crate::i18n::Lang;
use crate::page::{self, frame, message_url, time};
use crate::state::AppState;

/// Messages shown on each side of the focused one.
const AROUND: usize = 50;

/// The access-log action of a view, and of a refused one.
const ACTION: &str = "view_conversation";

/// `?at=MSG_ID`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct At {
    at: Option<String>,
}

/// State and edit badges of a message.
pub(crate) fn state_badges(lang: Lang, r: &MessageRecord) -> Markup {
    html! {
        @match r.state {
            MessageState::Withdrawn => span.badge.withdrawn { (lang.t("已撤回", "withdrawn")) },
            MessageState::Deleted => span.badge.deleted { (lang.t("已删除", "deleted")) },
            _ => {},
        }
        @if r.revision > 0 { span.badge.edited { (lang.t("已编辑", "edited")) } }
    }
}

/// The timeline the page shows: ([`AROUND`] each side of the focused message's time, or the
/// latest 2 × [`AROUND`]) as (point, before, after). A case bundle of the page takes the same.
pub(crate) fn window(focus_at: Option<i64>) -> (i64, usize, usize) {
    match focus_at {
        Some(t) => (t, AROUND, AROUND),
        None => (i64::MAX, 2 * AROUND, 0),
    }
}

/// The parsed path of a chat or message page, or `None` for an unknown platform.
pub(crate) fn platform(p: &str) -> Option<Platform> {
    p.parse().ok()
}

/// `GET /chat/…`.
pub(crate) async fn page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((platform_s, account, chat)): Path<(String, String, String)>,
    Query(at): Query<At>,
) -> Response {
    crate::blocking::run(state, move |state| {
        page_blocking(state, &headers, platform_s, account, chat, at)
    })
    .await
}

fn page_blocking(
    state: &AppState,
    headers: &HeaderMap,
    platform_s: String,
    account: String,
    chat: String,
    at: At,
) -> Response {
    let path = page::path("/chat", &[&platform_s, &account, &chat]);
    let super::ChatAccess {
        session: s,
        lang,
        platform,
        reader,
    } = match super::chat_access(state, headers, &path, true, (&platform_s, &chat), ACTION) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let internal = |e: &dyn std::fmt::Display| crate::errors::internal(lang, e);
    let focus_at = match &at.at {
        Some(id) => {
            let key = MessageKey {
                platform,
                account: account.clone(),
                chat_id: chat.clone(),
                msg_id: id.clone(),
            };
            match reader.messages_by_keys(std::slice::from_ref(&key)) {
                Ok(v) => v.first().map(|r| r.sent_at),
                Err(e) => return internal(&e),
            }
        }
        None => None,
    };
    let (point, before, after) = window(focus_at);
    let msgs = match reader.chat_timeline(platform, &account, &chat, point, before, after) {
        Ok(m) => m,
        Err(e) => return internal(&e),
    };
    if msgs.is_empty() {
        let detail = json!({ "reason": "no such chat" });
        super::record(state, &s.user.name, ACTION, &path, detail, Outcome::Denied);
        return crate::errors::not_found(lang);
    }
    let mut revisions = Vec::with_capacity(msgs.len());
    for m in &msgs {
        if m.revision > 0 {
            match reader.revisions(&m.key) {
                Ok(r) => revisions.push(r),
                Err(e) => return internal(&e),
            }
        } else {
            revisions.push(Vec::new());
        }
    }
    let detail = json!({ "at": at.at, "messages": msgs.len() });
    if let Err(r) = super::log_or_fail(state, lang, &s.user.name, ACTION, &path, detail) {
        return r;
    }
    let tz = state.opts.tz;
    let title = msgs
        .iter()
        .rev()
        .find_map(|m| m.chat_name.clone().filter(|n| !n.is_empty()))
        .unwrap_or_else(|| chat.clone());
    let body = html! {
        h1 { (title) }
        p.meta { span.badge { (platform.as_str()) } span { (account) } span { (chat) } }
        (super::bundle::chat_form(lang, &path.replacen("/chat/", "/bundle/chat/", 1), at.at.as_deref(), &s.csrf))
        @for (m, revs) in msgs.iter().zip(&revisions) {
            div.msg.focus[at.at.as_deref() == Some(m.key.msg_id.as_str())] id=(format!("m-{}", m.key.msg_id)) {
                div.meta {
                    strong { (m.sender_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| m.sender_id.clone())) }
                    span { (time(m.sent_at, tz)) }
                    (state_badges(lang, m))
                    a href=(message_url(&m.key)) { (lang.t("详情", "details")) }
                    (super::bundle::checkbox(lang, &m.key.msg_id))
                }
                @if let Some(w) = m.withdrawn_at {
                    div.meta { (lang.t("撤回：", "Withdrawn: ")) (m.withdrawn_by.clone().unwrap_or_default()) " · " (time(w, tz)) }
                }
                @if let Some(d) = m.deleted_at {
                    div.meta { (lang.t("删除：", "Deleted: ")) (m.deleted_by.clone().unwrap_or_default()) " · " (time(d, tz)) }
                }
                @if m.state != MessageState::Active {
                    div.meta { (lang.t("原文：", "Original text:")) }
                }
                div.text { (m.text) }
                @if revs.len() > 1 {
                    div.meta { (lang.t("修改记录：", "Revisions:")) }
                    ol.revisions {
                        @for r in revs { li { span.meta { (time(r.at, tz)) } " " (r.text) } }
                    }
                }
                @for (i, a) in m.attachments.iter().enumerate() {
                    div {
                        (lang.t("附件：", "Attachment: "))
                        @if a.sha256.is_some() {
                            a href=(page::attachment_url(&m.key, i)) {
                                (a.name.clone().unwrap_or_else(|| lang.t("附件", "attachment").into()))
                            }
                        } @else {
                            (a.name.clone().unwrap_or_default()) " " span.meta { (lang.t("（仅元数据）", "(metadata only)")) }
                        }
                    }
                }
            }
        }
    };
    Html(frame(lang, &title, Some(&s), body).into_string()).into_response()
}
