//! `/` (the search form) and `/search?q=…` (results): the CLI's query language, filters for
//! platform / chat / sender / time / type / state, highlighted fragments, pages of
//! [`PAGE`] with the total count. Restricted to the user's scopes.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use proto::{ContentType, MessageState, Platform};
use search::{Filters, SearchRequest, Sort};
use serde::Deserialize;
use serde_json::json;
use store::access::{Outcome, Session};

use super::filter;
use crate::i18n::Lang;
use crate::page::{chat_url, message_url, time, with_query};
use crate::state::AppState;

/// Results per page.
const PAGE: usize = 20;
/// Deepest page (ranking cost grows with the page).
const MAX_PAGE: usize = 50;
/// Longest query accepted, in characters.
pub(crate) const MAX_QUERY_CHARS: usize = 256;
/// Characters shown around the first hit.
const SNIPPET_CHARS: usize = 160;

/// The search form's fields (all optional; empty = not set).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Params {
    pub(crate) q: String,
    pub(crate) platform: String,
    pub(crate) chat: String,
    pub(crate) sender: String,
    pub(crate) since: String,
    pub(crate) until: String,
    #[serde(rename = "type")]
    pub(crate) content_type: String,
    pub(crate) state: String,
    pub(crate) page: Option<usize>,
    /// The session's CSRF token, on the POST that exports the results as a case bundle.
    pub(crate) csrf: String,
}

impl Params {
    /// The query and its filters as (field, value), in the form's order: what a link to
    /// another page of results, or the bundle form under them, carries over.
    pub(crate) fn fields(&self) -> [(&'static str, &str); 8] {
        [
            ("q", &self.q),
            ("platform", &self.platform),
            ("chat", &self.chat),
            ("sender", &self.sender),
            ("since", &self.since),
            ("until", &self.until),
            ("type", &self.content_type),
            ("state", &self.state),
        ]
    }
}

/// `GET /`.
pub(crate) async fn index(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    super::signed_in_page(state, headers, "/", ("搜索", "Search"), |_, lang, _| {
        Ok(html! {
            h1 { (lang.t("搜索消息", "Search messages")) }
            (search_form(lang, &Params::default()))
            p.meta { (lang.t(
                "多个词同时匹配；\"引号\" 精确短语；-词 排除；A OR B 任一。",
                "Words are AND-ed; \"quotes\" for a phrase; -word excludes; a OR b for either."
            )) }
        })
    })
    .await
}

fn search_form(lang: Lang, p: &Params) -> Markup {
    let opt = |v: &str, cur: &str, label: &str| {
        html! { option value=(v) selected[v == cur] { (label) } }
    };
    html! {
        form.search method="get" action="/search" role="search" {
            input type="search" name="q" value=(p.q) maxlength=(MAX_QUERY_CHARS)
                placeholder=(lang.t("例如：农业 合同", "e.g. 农业 contract")) aria-label=(lang.t("查询", "Query"));
            button.primary type="submit" { (lang.t("搜索", "Search")) }
            div.filters {
                select name="platform" aria-label=(lang.t("平台", "Platform")) {
                    (opt("", &p.platform, lang.t("全部平台", "All platforms")))
                    @for pl in Platform::ALL { (opt(pl.as_str(), &p.platform, pl.as_str())) }
                }
                input name="chat" value=(p.chat) placeholder=(lang.t("会话（ID 或名称）", "Chat (id or name)"));
                input name="sender" value=(p.sender) placeholder=(lang.t("发送者（ID 或名称）", "Sender (id or name)"));
                input type="date" name="since" value=(p.since) aria-label=(lang.t("起始日期", "From date"));
                input type="date" name="until" value=(p.until) aria-label=(lang.t("截止日期", "Until date"));
                select name="type" aria-label=(lang.t("类型", "Type")) {
                    (opt("", &p.content_type, lang.t("全部类型", "All types")))
                    @for t in ContentType::ALL { (opt(t.as_str(), &p.content_type, t.as_str())) }
                }
                select name="state" aria-label=(lang.t("状态", "State")) {
                    (opt("", &p.state, lang.t("全部状态", "All states")))
                    (opt("active", &p.state, lang.t("正常", "active")))
                    (opt("withdrawn", &p.state, lang.t("已撤回", "withdrawn")))
                    (opt("deleted", &p.state, lang.t("已删除", "deleted")))
                }
            }
        }
    }
}

/// The filters of `p`, or the message to show for a bad one.
fn filters(p: &Params, lang: Lang, tz: chrono_tz::Tz) -> Result<Filters, String> {
    let mut f = Filters::default();
    if let Some(pl) = filter::optional::<Platform>(lang, "platform", &p.platform)? {
        f.platforms.push(search::schema::platform_ord(pl));
    }
    if let Some(t) = filter::optional::<ContentType>(lang, "type", &p.content_type)? {
        f.content_types.push(search::schema::content_type_ord(t));
    }
    if let Some(s) = filter::optional::<MessageState>(lang, "state", &p.state)? {
        f.states.push(search::schema::state_ord(s));
    }
    (f.since, f.until) = filter::time_range(lang, tz, &p.since, &p.until)?;
    Ok(f)
}

/// `GET /search`.
pub(crate) async fn results(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    super::signed_in_page(
        state,
        headers,
        "/search",
        ("搜索结果", "Results"),
        move |state, lang, s| run(state, lang, s, &p),
    )
    .await
}

/// A validated search for `p`, restricted to the user's scopes, with the reader and searcher
/// it runs on; `None` while the index is not ready. A refused query is logged under `action`
/// (`search`, or `case_bundle` when the results are to be exported).
pub(crate) struct Planned {
    pub(crate) req: SearchRequest,
    /// Nothing can match (no chat in scope, or the chat/sender filter named none).
    pub(crate) nothing: bool,
    pub(crate) reader: store::StoreReader,
    pub(crate) searcher: Arc<search::Searcher>,
}

pub(crate) fn plan(
    state: &AppState,
    lang: Lang,
    s: &Session,
    p: &Params,
    action: &str,
    limit: usize,
) -> Result<Option<Planned>, Response> {
    let user = s.user.name.as_str();
    let denied_query = |why: &str| {
        let target: String = p.q.chars().take(MAX_QUERY_CHARS).collect();
        super::record(state, user, action, &target, json!({ "reason": why }), Outcome::Denied);
    };
    if p.q.chars().count() > MAX_QUERY_CHARS {
        denied_query("query too long");
        return Err(crate::errors::bad_request(
            lang,
            lang.t(
                "查询过长（最多 256 个字符）。",
                "The query is too long (at most 256 characters).",
            ),
        ));
    }
    let query = search::parse(&p.q).map_err(|e| {
        denied_query("malformed query");
        crate::errors::bad_request(lang, &e.to_string())
    })?;
    let mut f = filters(p, lang, state.opts.tz).map_err(|m| {
        denied_query("bad filter");
        crate::errors::bad_request(lang, &m)
    })?;
    let internal = |e: &dyn std::fmt::Display| crate::errors::internal(lang, e);
    let reader = state.reader().map_err(|e| internal(&e))?;
    let searcher = match state.searcher() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "search index not readable");
            return Ok(None);
        }
    };

    // Scopes first: the chats this user may see, then the chat filter within them.
    let allowed = crate::scope::allowed_chat_keys(&s.user.scopes, &reader).map_err(|e| internal(&e))?;
    let mut nothing = matches!(&allowed, Some(a) if a.is_empty());
    if !p.chat.is_empty() {
        let known = searcher.chats_with_archive(&reader).map_err(|e| internal(&e))?;
        let picked: Vec<String> = search::resolve(&known, &p.chat)
            .into_iter()
            .map(|n| n.key.clone())
            .filter(|k| allowed.as_ref().is_none_or(|a| a.contains(k)))
            .collect();
        nothing |= picked.is_empty();
        f.chats = picked;
    } else if let Some(a) = &allowed {
        f.chats = a.clone();
    }
    if !p.sender.is_empty() {
        let known = searcher.senders().map_err(|e| internal(&e))?;
        f.senders = search::resolve(&known, &p.sender)
            .into_iter()
            .map(|n| n.key.clone())
            .collect();
        nothing |= f.senders.is_empty();
    }

    let req = SearchRequest {
        query,
        filters: f,
        all_revisions: false,
        sort: if p.q.trim().is_empty() {
            Sort::Time
        } else {
            Sort::Relevance
        },
        limit,
    };
    Ok(Some(Planned {
        req,
        nothing,
        reader,
        searcher,
    }))
}

fn run(state: &AppState, lang: Lang, s: &Session, p: &Params) -> Result<Markup, Response> {
    let user = s.user.name.as_str();
    let page = p.page.unwrap_or(1).clamp(1, MAX_PAGE);
    let internal = |e: &dyn std::fmt::Display| crate::errors::internal(lang, e);
    let Some(Planned {
        req,
        nothing,
        reader,
        searcher,
    }) = plan(state, lang, s, p, "search", page * PAGE)?
    else {
        return Ok(html! {
            h1 { (lang.t("搜索结果", "Results")) }
            (search_form(lang, p))
            p.notice { (lang.t("搜索索引尚未就绪，请稍后再试。", "The search index is not ready yet; try again shortly.")) }
        });
    };
    let (total, hits) = if nothing {
        (0, Vec::new())
    } else {
        let total = searcher.count(&req).map_err(|e| internal(&e))?;
        let hits = searcher.search(&req).map_err(|e| internal(&e))?;
        (total, hits.into_iter().skip((page - 1) * PAGE).collect::<Vec<_>>())
    };
    // The filter above is built from the chat list; each result is checked on its own too.
    let shown: Vec<_> = search::with_records(&reader, hits)
        .map_err(|e| internal(&e))?
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| crate::scope::allows(&s.user.scopes, r.key.platform, &r.key.chat_id))
        .collect();

    let detail = json!({
        "platform": p.platform, "chat": p.chat, "sender": p.sender, "since": p.since,
        "until": p.until, "type": p.content_type, "state": p.state, "page": page,
        "total": total, "shown": shown.len(),
    });
    super::log_or_fail(state, lang, user, "search", &p.q, detail)?;

    let terms: Vec<&str> = req.query.positive_terms().collect();
    let tz = state.opts.tz;
    let pages = total.div_ceil(PAGE).clamp(1, MAX_PAGE);
    let link = |n: usize| format!("{}&page={n}", with_query("/search", &p.fields()));
    Ok(html! {
        h1 { (lang.t("搜索结果", "Results")) }
        (search_form(lang, p))
        p.count { (lang.t("共 ", "")) strong { (total) } (lang.t(" 条结果", " results")) " · " (lang.t("第 ", "page ")) (page) " / " (pages) (lang.t(" 页", "")) }
        @if total > 0 { (super::bundle::search_form(lang, p, &s.csrf, total)) }
        @for r in &shown {
            div.hit {
                div.meta {
                    span { (time(r.sent_at, tz)) }
                    span.badge { (r.key.platform.as_str()) }
                    a href=(chat_url(&r.key)) { (r.chat_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| r.key.chat_id.clone())) }
                    span { (r.sender_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| r.sender_id.clone())) }
                    (crate::routes::conversation::state_badges(lang, r))
                    a href=(message_url(&r.key)) { (lang.t("详情", "details")) }
                }
                div.text {
                    @for seg in search::highlight::highlight(&r.text, terms.iter().copied(), SNIPPET_CHARS) {
                        @if seg.hit { mark { (seg.text) } } @else { (seg.text) }
                    }
                }
            }
        }
        @if shown.is_empty() { p.notice { (lang.t("没有匹配的消息。", "No messages match.")) } }
        div.pager {
            @if page > 1 { a href=(link(page - 1)) { "« " (lang.t("上一页", "Previous")) } }
            @if page < pages { a href=(link(page + 1)) { (lang.t("下一页", "Next")) " »" } }
        }
    })
}
