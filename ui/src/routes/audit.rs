//! `/audit`: what `chatvault audit` and `audit --gaps` list, as one timeline — withdrawals,
//! edits, deletions (for everyone, or for one user only) and the periods a connector was not
//! archiving — grouped by day, newest first, in pages of [`PAGE`]. Filters (a GET form):
//! platform, kind, and a date range on the time of the change (the withdrawal, the latest
//! edit, the deletion, the gap).
//!
//! Scopes: a change is listed only when its chat is in the user's scope, a gap only when its
//! platform is (a gap is a connector's, not a chat's: every chat of the platform missed that
//! time). Each change links to its conversation and message pages, whose own guard checks
//! the scope again. The view is on the access log before the page is sent.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use proto::{MessageKey, MessageRecord, Platform};
use serde::Deserialize;
use serde_json::json;
use store::access::{Outcome, Session};
use store::{AuditFilter, Gap, Revision};

use super::filter;
use crate::i18n::Lang;
use crate::page::{chat_url, message_url, time, with_query};
use crate::state::AppState;

/// Timeline entries per page.
const PAGE: usize = 50;
/// Deepest page.
const MAX_PAGE: usize = 200;

/// The filter form's fields (empty = not set).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Params {
    platform: String,
    kind: String,
    since: String,
    until: String,
    page: Option<usize>,
}

/// What happened to a message, or to a connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Withdrawn,
    Edited,
    Deleted,
    Gap,
}

impl std::str::FromStr for Kind {
    type Err = ();

    fn from_str(s: &str) -> Result<Kind, ()> {
        Ok(match s {
            "withdrawn" => Kind::Withdrawn,
            "edited" => Kind::Edited,
            "deleted" => Kind::Deleted,
            "gap" => Kind::Gap,
            _ => return Err(()),
        })
    }
}

/// One timeline entry before its page is rendered: changes keep only the message's key (the
/// record is read again for the entries of the page shown).
enum Item {
    Change {
        kind: Kind,
        at: i64,
        key: MessageKey,
        /// Who withdrew or deleted it.
        by: Option<String>,
        /// `Deleted` only: removed from this one user's view (`None` = for everyone).
        for_user: Option<Option<String>>,
    },
    Gap(Gap),
}

impl Item {
    fn at(&self) -> i64 {
        match self {
            Item::Change { at, .. } => *at,
            Item::Gap(g) => g.from,
        }
    }
}

/// `GET /audit`.
pub(crate) async fn page(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(p): Query<Params>) -> Response {
    super::signed_in_page(state, headers, "/audit", ("审计", "Audit"), move |state, lang, s| {
        run(state, lang, s, &p)
    })
    .await
}

/// The parsed filters: platform, kind, [since, until) in UTC ms.
type Filters = (Option<Platform>, Option<Kind>, Option<i64>, Option<i64>);

fn filters(p: &Params, lang: Lang, tz: chrono_tz::Tz) -> Result<Filters, String> {
    let platform = filter::optional(lang, "platform", &p.platform)?;
    let kind = filter::optional(lang, "kind", &p.kind)?;
    let (since, until) = filter::time_range(lang, tz, &p.since, &p.until)?;
    Ok((platform, kind, since, until))
}

fn run(state: &AppState, lang: Lang, s: &Session, p: &Params) -> Result<Markup, Response> {
    let user = s.user.name.as_str();
    let tz = state.opts.tz;
    let (platform, kind, since, until) = filters(p, lang, tz).map_err(|m| {
        let detail = json!({ "reason": "bad filter" });
        super::record(state, user, "audit", "/audit", detail, Outcome::Denied);
        crate::errors::bad_request(lang, &m)
    })?;
    let internal = |e: &dyn std::fmt::Display| crate::errors::internal(lang, e);
    let reader = state.reader().map_err(|e| internal(&e))?;
    let scopes = &s.user.scopes;
    let in_range = |at: i64| since.is_none_or(|t| at >= t) && until.is_none_or(|t| at < t);

    let mut items = Vec::new();
    if kind != Some(Kind::Gap) {
        let filter = AuditFilter {
            withdrawn: kind == Some(Kind::Withdrawn),
            edited: kind == Some(Kind::Edited),
            deleted: kind == Some(Kind::Deleted),
            // The reader selects on the sent time; every change comes after the sending, so
            // `until` can be pushed down and `since` is applied to the change time below.
            since: None,
            until,
            platform,
            chats: None,
        };
        reader
            .audit(&filter, &mut |e| {
                let r = &e.record;
                if !crate::scope::allows(scopes, r.key.platform, &r.key.chat_id) {
                    return Ok(());
                }
                for item in changes(r) {
                    if let Item::Change { kind: k, at, .. } = &item
                        && kind.is_none_or(|want| want == *k)
                        && in_range(*at)
                    {
                        items.push(item);
                    }
                }
                Ok(())
            })
            .map_err(|e| internal(&e))?;
    }
    if kind.is_none() || kind == Some(Kind::Gap) {
        let visible = crate::scope::platforms(scopes);
        for g in reader.gaps(since, until, platform).map_err(|e| internal(&e))? {
            if visible.as_ref().is_none_or(|v| v.contains(&g.platform)) {
                items.push(Item::Gap(g));
            }
        }
    }
    // Newest first; a stable sort keeps a message's own changes in the order written.
    items.sort_by_key(|i| std::cmp::Reverse(i.at()));
    let total = items.len();
    let pages = total.div_ceil(PAGE).clamp(1, MAX_PAGE);
    let page = p.page.unwrap_or(1).clamp(1, pages);
    let shown: Vec<Item> = items.into_iter().skip((page - 1) * PAGE).take(PAGE).collect();

    // The records (and revisions) of the messages on this page only.
    let keys: Vec<MessageKey> = shown
        .iter()
        .filter_map(|i| match i {
            Item::Change { key, .. } => Some(key.clone()),
            Item::Gap(_) => None,
        })
        .collect();
    let mut records: HashMap<MessageKey, (MessageRecord, Vec<Revision>)> = HashMap::new();
    for r in reader.messages_by_keys(&keys).map_err(|e| internal(&e))? {
        let revs = if r.revision > 0 {
            reader.revisions(&r.key).map_err(|e| internal(&e))?
        } else {
            Vec::new()
        };
        records.insert(r.key.clone(), (r, revs));
    }

    let detail = json!({
        "platform": p.platform, "kind": p.kind, "since": p.since, "until": p.until,
        "page": page, "total": total, "shown": shown.len(),
    });
    super::log_or_fail(state, lang, user, "audit", "/audit", detail)?;

    let now = state.now();
    let fields: [(&str, &str); 4] = [
        ("platform", &p.platform),
        ("kind", &p.kind),
        ("since", &p.since),
        ("until", &p.until),
    ];
    let link = |n: usize| format!("{}&page={n}", with_query("/audit", &fields));
    // Grouped by local day (newest first, as sorted).
    let mut days: Vec<(String, Vec<&Item>)> = Vec::new();
    for item in &shown {
        let d: String = time(item.at(), tz).chars().take(10).collect();
        match days.last_mut() {
            Some((last, v)) if *last == d => v.push(item),
            _ => days.push((d, vec![item])),
        }
    }
    Ok(html! {
        h1 { (lang.t("审计", "Audit")) }
        (form(lang, p, scopes))
        p.count { (lang.t("共 ", "")) strong { (total) } (lang.t(" 条记录", " entries")) " · " (lang.t("第 ", "page ")) (page) " / " (pages) (lang.t(" 页", "")) }
        @for (d, day) in &days {
            section.day {
                h2 { (d) }
                @for item in day {
                    @match item {
                        Item::Gap(g) => (gap(lang, g, tz, now)),
                        Item::Change { kind, at, key, by, for_user } => {
                            @if let Some((r, revs)) = records.get(key) {
                                (change(lang, tz, *kind, *at, by.as_deref(), for_user.as_ref(), r, revs))
                            }
                        }
                    }
                }
            }
        }
        @if shown.is_empty() { p.notice { (lang.t("没有符合条件的记录。", "Nothing matches.")) } }
        div.pager {
            @if page > 1 { a href=(link(page - 1)) { "« " (lang.t("较新", "Newer")) } }
            @if page < pages { a href=(link(page + 1)) { (lang.t("较早", "Older")) " »" } }
        }
    })
}

/// The timeline entries of one changed message: its withdrawal, its latest edit, its deletion
/// for everyone, and each deletion for one user.
fn changes(r: &MessageRecord) -> Vec<Item> {
    let mut out = Vec::new();
    let change = |kind, at: Option<i64>, by: Option<String>, for_user| Item::Change {
        kind,
        // A state without its time (an old archive) sits at the sending.
        at: at.unwrap_or(r.sent_at),
        key: r.key.clone(),
        by,
        for_user,
    };
    if r.withdrawn_at.is_some() || r.state == proto::MessageState::Withdrawn {
        out.push(change(Kind::Withdrawn, r.withdrawn_at, r.withdrawn_by.clone(), None));
    }
    if r.revision > 0 {
        out.push(change(Kind::Edited, r.edited_at, None, None));
    }
    if r.deleted_at.is_some() || r.state == proto::MessageState::Deleted {
        out.push(change(Kind::Deleted, r.deleted_at, r.deleted_by.clone(), None));
    }
    for d in &r.deleted_for {
        out.push(change(Kind::Deleted, Some(d.at), None, Some(d.user.clone())));
    }
    out
}

fn form(lang: Lang, p: &Params, scopes: &[store::access::Scope]) -> Markup {
    let opt = |v: &str, cur: &str, label: &str| html! { option value=(v) selected[v == cur] { (label) } };
    let visible = crate::scope::platforms(scopes);
    html! {
        form.search method="get" action="/audit" {
            div.filters {
                select name="platform" aria-label=(lang.t("平台", "Platform")) {
                    (opt("", &p.platform, lang.t("全部平台", "All platforms")))
                    @for pl in Platform::ALL.iter().filter(|pl| visible.as_ref().is_none_or(|v| v.contains(pl))) {
                        (opt(pl.as_str(), &p.platform, pl.as_str()))
                    }
                }
                select name="kind" aria-label=(lang.t("类别", "Kind")) {
                    (opt("", &p.kind, lang.t("全部类别", "All kinds")))
                    (opt("withdrawn", &p.kind, lang.t("撤回", "withdrawn")))
                    (opt("edited", &p.kind, lang.t("编辑", "edited")))
                    (opt("deleted", &p.kind, lang.t("删除", "deleted")))
                    (opt("gap", &p.kind, lang.t("归档中断", "coverage gaps")))
                }
                input type="date" name="since" value=(p.since) aria-label=(lang.t("起始日期", "From date"));
                input type="date" name="until" value=(p.until) aria-label=(lang.t("截止日期", "Until date"));
                button.primary type="submit" { (lang.t("筛选", "Filter")) }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn change(
    lang: Lang,
    tz: chrono_tz::Tz,
    kind: Kind,
    at: i64,
    by: Option<&str>,
    for_user: Option<&Option<String>>,
    r: &MessageRecord,
    revs: &[Revision],
) -> Markup {
    let original = revs.first().map_or(r.text.as_str(), |v| v.text.as_str());
    let sender = r
        .sender_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| r.sender_id.clone());
    let chat = r
        .chat_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| r.key.chat_id.clone());
    html! {
        div.msg.audit {
            div.meta {
                span { (time(at, tz)) }
                @match (kind, for_user) {
                    (Kind::Withdrawn, _) => span.badge.withdrawn { (lang.t("撤回", "withdrawn")) },
                    (Kind::Edited, _) => span.badge.edited { (lang.t("编辑", "edited")) },
                    (_, Some(_)) => span.badge.deleted { (lang.t("仅对一人删除", "deleted for one user")) },
                    _ => span.badge.deleted { (lang.t("对所有人删除", "deleted for everyone")) },
                }
                span.badge { (r.key.platform.as_str()) }
                a href=(chat_url(&r.key)) { (chat) }
                a href=(message_url(&r.key)) { (lang.t("详情", "details")) }
            }
            div.meta {
                span { (lang.t("发送：", "Sent: ")) (sender) " · " (time(r.sent_at, tz)) }
                @match (kind, for_user) {
                    (Kind::Withdrawn, _) => span { (lang.t("撤回者：", "Withdrawn by: ")) (by.unwrap_or("?")) },
                    (Kind::Deleted, Some(u)) => span { (lang.t("删除者（仅其本人不可见）：", "Removed from the view of: ")) (u.as_deref().unwrap_or("?")) },
                    (Kind::Deleted, None) => span { (lang.t("删除者：", "Deleted by: ")) (by.unwrap_or("?")) },
                    _ => {},
                }
            }
            @if kind == Kind::Edited && revs.len() > 1 {
                div.meta { (lang.t("修改记录：", "Revisions:")) }
                ol.revisions {
                    @for v in revs { li { span.meta { (time(v.at, tz)) } " " (v.text) } }
                }
            } @else {
                div.meta { (lang.t("原文：", "Original text:")) }
                div.text { (original) }
                @if original != r.text {
                    div.meta { (lang.t("当前：", "Current:")) }
                    div.text { (r.text) }
                }
            }
        }
    }
}

fn gap(lang: Lang, g: &Gap, tz: chrono_tz::Tz, now: i64) -> Markup {
    html! {
        div.msg.gap {
            div.meta {
                span { (time(g.from, tz)) }
                span.badge.deleted { (lang.t("归档中断", "coverage gap")) }
                span.badge { (g.platform.as_str()) }
                span { (g.account) }
                span { (g.status.as_str()) }
            }
            div.text {
                @match g.to {
                    Some(to) => {
                        (lang.t("未归档：", "Not archiving: ")) (time(g.from, tz)) " → " (time(to, tz))
                        " (" (duration(to - g.from)) ")"
                    }
                    None => {
                        (lang.t("自 ", "Not archiving since ")) (time(g.from, tz)) (lang.t(" 起未归档", ""))
                        " (" (duration(now - g.from)) (lang.t("，或归档程序在中断期间停止", ", or the archive stopped while it was down")) ")"
                    }
                }
            }
            @if let Some(d) = &g.detail { div.meta { (d) } }
        }
    }
}

/// `3d 4h`, `2h 5m`, `5m 3s`, `12s`: the two largest units.
pub(crate) fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_keep_the_two_largest_units() {
        assert_eq!(super::duration(12_000), "12s");
        assert_eq!(super::duration(303_000), "5m 3s");
        assert_eq!(super::duration(7_500_000), "2h 5m");
        assert_eq!(super::duration(273_600_000), "3d 4h");
    }
}
