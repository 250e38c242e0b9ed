//! `/status`: what `chatvault stats` shows, for people: each connector's state, its last
//! receive time and how long ago that was, its open gaps; the last export and the chain head;
//! what the archive holds.
//!
//! Who sees what: every signed-in user sees the chain head and the last export (positions on
//! the chain, no message data: what a reviewer compares a case bundle or a ticket against),
//! and the connectors of the platforms in their scope (a chat scope counts its platform: that
//! connector's health is the chat's coverage). Message and chat counts are limited to the
//! user's scope. Archive-wide counts (events, raw payloads, rejected payloads and their
//! reasons) are for admins only: a reject's reason can quote the payload it refused. The
//! view is on the access log before the page is sent.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use proto::Platform;
use serde_json::json;
use store::access::{Role, Session};
use store::anchors::Anchor;

use crate::i18n::Lang;
use crate::page::time;
use crate::state::AppState;

/// `GET /status`.
pub(crate) async fn page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    super::signed_in_page(state, headers, "/status", ("状态", "Status"), run).await
}

/// The last line of the anchors file written by an export, with its time.
struct LastExport {
    anchor: Anchor,
    at: Option<i64>,
}

/// The newest `export` line of `data_dir/anchors` (`SEQ:HASH TIME SOURCE`, see
/// `store::anchors`); every export, scheduled or not, local or lake, writes one.
fn last_export(data_dir: &std::path::Path) -> Result<Option<LastExport>, store::StoreError> {
    let path = data_dir.join(store::anchors::ANCHORS_FILE);
    let text = match std::fs::read(&path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(store::StoreError::Io {
                context: format!("cannot read `{}`", path.display()),
                source,
            });
        }
    };
    Ok(text.lines().rev().find_map(|l| {
        let mut f = l.split_whitespace();
        let anchor = Anchor::parse(f.next()?)?;
        let at = f.next().and_then(|t| t.parse().ok());
        (f.next() == Some("export")).then_some(LastExport { anchor, at })
    }))
}

fn run(state: &AppState, lang: Lang, s: &Session) -> Result<Markup, Response> {
    let internal = |e: &dyn std::fmt::Display| crate::errors::internal(lang, e);
    let reader = state.reader().map_err(|e| internal(&e))?;
    let admin = s.user.role == Role::Admin;
    let scopes = &s.user.scopes;
    let visible = crate::scope::platforms(scopes);
    let shown = |p: &str| {
        visible
            .as_ref()
            .is_none_or(|v| p.parse::<Platform>().is_ok_and(|p| v.contains(&p)))
    };

    let connectors: Vec<_> = reader
        .connectors()
        .map_err(|e| internal(&e))?
        .into_iter()
        .filter(|c| shown(&c.platform))
        .collect();
    let gaps = reader.gaps(None, None, None).map_err(|e| internal(&e))?;
    let head = reader.head().map_err(|e| internal(&e))?;
    let export = last_export(&state.opts.data_dir).map_err(|e| internal(&e))?;
    // Messages and chats per platform, of the chats in scope.
    let mut in_scope: BTreeMap<Platform, (u64, u64)> = BTreeMap::new();
    for c in reader.chats().map_err(|e| internal(&e))? {
        if crate::scope::allows(scopes, c.platform, &c.chat_id) {
            let e = in_scope.entry(c.platform).or_default();
            e.0 += c.messages;
            e.1 += 1;
        }
    }
    let stats = if admin {
        Some(reader.stats().map_err(|e| internal(&e))?)
    } else {
        None
    };

    let detail = json!({ "connectors": connectors.len(), "archive_counts": admin });
    super::log_or_fail(state, lang, &s.user.name, "status", "/status", detail)?;

    let tz = state.opts.tz;
    let now = state.now();
    let open_gaps = |p: &str, a: &str| {
        gaps.iter()
            .filter(|g| g.to.is_none() && g.platform.as_str() == p && g.account == a)
            .count()
    };
    Ok(html! {
        h1 { (lang.t("状态", "Status")) }
        h2 { (lang.t("连接器", "Connectors")) }
        @if connectors.is_empty() {
            p.notice { (lang.t("尚无连接器写入归档。", "No connector has written to the archive yet.")) }
        } @else {
            table.status {
                tr {
                    th { (lang.t("连接器", "connector")) } th { (lang.t("状态", "state")) }
                    th { (lang.t("最近接收", "last received")) }
                    th { (lang.t("未恢复中断", "open gaps")) } th { (lang.t("事件数", "events")) }
                }
                @for c in &connectors {
                    @let open = open_gaps(&c.platform, &c.account);
                    @let up = c.state.as_deref().and_then(|s| s.parse::<proto::ConnectorStatus>().ok()).is_some_and(|s| s.is_up());
                    tr {
                        td { span.badge { (c.platform) } " " (c.account) }
                        td {
                            @match &c.state {
                                Some(st) => {
                                    @if up { span.ok { (st) } } @else { span.bad { (st) } }
                                    @if let Some(t) = c.state_since { br; span.meta { (lang.t("自 ", "since ")) (time(t, tz)) } }
                                }
                                None => span.meta { (lang.t("从未报告", "never reported")) },
                            }
                        }
                        td {
                            @match c.last_event_at {
                                Some(t) => { (time(t, tz)) br; span.meta { (super::audit::duration(now - t)) (lang.t(" 前", " ago")) } }
                                None => "—",
                            }
                        }
                        td {
                            @if open > 0 { a.bad href=(format!("/audit?kind=gap&platform={}", c.platform)) { (open) } }
                            @else { span.ok { "0" } }
                        }
                        td { (c.events) }
                    }
                }
            }
        }
        h2 { (lang.t("哈希链", "Hash chain")) }
        dl.status {
            dt { (lang.t("链头", "Chain head")) }
            dd { "seq " (head.seq) " " code { (head.hash) } }
            dt { (lang.t("最近导出", "Last export")) }
            dd {
                @match &export {
                    Some(e) => {
                        "seq " (e.anchor.seq) " " code { (e.anchor.hash) }
                        @if let Some(t) = e.at { br; span.meta { (time(t, tz)) " · " (super::audit::duration(now - t)) (lang.t(" 前", " ago")) } }
                        @if e.anchor.seq < head.seq { br; span.meta { (head.seq - e.anchor.seq) (lang.t(" 个事件尚未导出", " events since")) } }
                    }
                    None => span.meta { (lang.t("尚无导出记录", "no export recorded")) },
                }
            }
        }
        h2 { (lang.t("归档内容", "Archive")) }
        @if !scopes.is_empty() { p.meta { (lang.t("仅统计您有权查看的会话。", "Counted over the chats you may see.")) } }
        table.status {
            tr { th { (lang.t("平台", "platform")) } th { (lang.t("消息", "messages")) } th { (lang.t("会话", "chats")) } }
            @for (p, (m, n)) in &in_scope { tr { td { (p.as_str()) } td { (m) } td { (n) } } }
            @if in_scope.is_empty() { tr { td colspan="3" { "—" } } }
        }
        @if let Some(st) = &stats { (archive_counts(lang, st)) }
    })
}

/// Admins only: the counts of `chatvault stats` over the whole archive.
fn archive_counts(lang: Lang, st: &store::Stats) -> Markup {
    html! {
        h2 { (lang.t("全部归档（仅管理员）", "Whole archive (admins only)")) }
        p {
            (st.messages) (lang.t(" 条消息 · ", " messages · ")) (st.events) (lang.t(" 个事件 · ", " events · "))
            (st.raw_payloads) (lang.t(" 份原始数据 · ", " raw payloads · ")) (st.rejects) (lang.t(" 份被拒数据", " rejected payloads"))
        }
        @for (title, rows) in [(lang.t("按状态", "by state"), &st.by_state), (lang.t("按事件类型", "by event kind"), &st.by_kind)] {
            @if !rows.is_empty() {
                p.meta { (title) ": " @for (k, n) in rows.iter() { span.badge { (k) " " (n) } " " } }
            }
        }
        @if !st.rejects_by_connector.is_empty() {
            table.status {
                tr { th { (lang.t("被拒数据", "rejected payloads")) } th { (lang.t("数量", "count")) } th { (lang.t("最近原因", "latest reason")) } }
                @for r in &st.rejects_by_connector { tr { td { (r.platform) "/" (r.account) } td { (r.count) } td { (r.last_reason) } } }
            }
        }
    }
}
