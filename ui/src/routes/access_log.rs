//! `/access-log`: the latest access log entries, for admins only (a reviewer's request is
//! refused and logged). Nobody can change it from the UI.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde_json::json;
use store::access::{AccessFilter, NewAccess, Outcome, Role};

use crate::i18n::Lang;
use crate::page::{frame, time};
use crate::state::AppState;

/// Entries shown.
const SHOWN: usize = 500;

/// `GET /access-log`.
pub(crate) async fn page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    crate::blocking::run(state, move |state| page_blocking(state, &headers)).await
}

fn page_blocking(state: &AppState, headers: &HeaderMap) -> Response {
    let s = match super::signed_in(state, headers, "/access-log", true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::from_headers(headers);
    if s.user.role != Role::Admin {
        return super::deny(
            state,
            lang,
            &s.user.name,
            "view_access_log",
            "/access-log",
            "not an admin",
        );
    }
    if let Err(r) = super::log_or_fail(
        state,
        lang,
        &NewAccess {
            user: &s.user.name,
            action: "view_access_log",
            target: "/access-log",
            detail: json!({}),
            outcome: Outcome::Ok,
        },
    ) {
        return r;
    }
    let entries = match state.db().entries(&AccessFilter::default()) {
        Ok(e) => e,
        Err(e) => return crate::errors::internal(lang, &e),
    };
    let tz = state.opts.tz;
    let body = html! {
        h1 { (lang.t("访问日志", "Access log")) }
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
    };
    Html(frame(lang, lang.t("访问日志", "Access log"), Some(&s), body).into_string()).into_response()
}
