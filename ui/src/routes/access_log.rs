//! `/access-log`: the latest access log entries, for admins only (a reviewer's request is
//! refused and logged). Nobody can change it from the UI.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use serde_json::json;
use store::access::{AccessFilter, Role, Session};

use crate::i18n::Lang;
use crate::page::time;
use crate::state::AppState;

/// Entries shown.
const SHOWN: usize = 500;

const PATH: &str = "/access-log";
const ACTION: &str = "view_access_log";
const TITLE: (&str, &str) = ("访问日志", "Access log");

/// `GET /access-log`.
pub(crate) async fn page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    super::signed_in_page(state, headers, PATH, TITLE, run).await
}

fn run(state: &AppState, lang: Lang, s: &Session) -> Result<Markup, Response> {
    if s.user.role != Role::Admin {
        return Err(super::deny(state, lang, &s.user.name, ACTION, PATH, "not an admin"));
    }
    super::log_or_fail(state, lang, &s.user.name, ACTION, PATH, json!({}))?;
    let entries = state
        .db()
        .entries(&AccessFilter::default())
        .map_err(|e| crate::errors::internal(lang, &e))?;
    let tz = state.opts.tz;
    Ok(html! {
        h1 { (lang.t(TITLE.0, TITLE.1)) }
        table {
            tr { th { "#" } th { (lang.t("时间", "time")) } th { (lang.t("用户", "user")) } th { (lang.t("操作", "action")) } th { (lang.t("对象", "target")) } th { (lang.t("结果", "outcome")) } th { (lang.t("详情", "detail")) } }
            @for e in entries.iter().rev().take(SHOWN) {
                tr {
                    td { (e.seq) } td { (time(e.at, tz)) } td { (e.user) } td { (e.action) } td { (e.target) }
                    td { @if e.outcome == "ok" { span.ok { (e.outcome) } } @else { span.bad { (e.outcome) } } }
                    td { code { (e.detail.to_string()) } }
                }
            }
        }
    })
}
