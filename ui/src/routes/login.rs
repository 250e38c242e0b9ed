//! `/login` (a plain form: name, password, hidden CSRF token; urlencoded POST) and `/logout`.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use serde_json::json;
use store::access::Outcome;

use crate::auth::{csrf, password, random_token, session, throttle};
use crate::i18n::Lang;
use crate::page::frame;
use crate::state::AppState;

/// The login form's fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct LoginForm {
    user: String,
    password: String,
    csrf: String,
}

/// The logout form's field.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CsrfForm {
    csrf: String,
}

/// `GET /login`: the form, with a fresh login CSRF token in a cookie and a hidden field.
pub(crate) async fn form(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    crate::blocking::run(state, move |state| {
        if session::current(state, &headers).is_some() {
            return Redirect::to("/").into_response();
        }
        render(state, Lang::from_headers(&headers), StatusCode::OK, None)
    })
    .await
}

fn render(state: &AppState, lang: Lang, status: StatusCode, error: Option<&str>) -> Response {
    let token = random_token();
    let body = html! {
        form.login method="post" action="/login" {
            h1 { (lang.t("登录", "Log in")) }
            @if let Some(e) = error { p.bad role="alert" { (e) } }
            input type="hidden" name=(csrf::FIELD) value=(token);
            label for="user" { (lang.t("用户名", "User name")) }
            input id="user" name="user" autocomplete="username" required autofocus;
            label for="password" { (lang.t("密码", "Password")) }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            p { button.primary type="submit" { (lang.t("登录", "Log in")) } }
        }
    };
    let cookie = session::set_cookie(state, csrf::LOGIN_COOKIE, &token, Some(600));
    (
        status,
        [(header::SET_COOKIE, cookie)],
        Html(frame(lang, lang.t("登录", "Log in"), None, body).into_string()),
    )
        .into_response()
}

/// `POST /login`.
pub(crate) async fn submit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    crate::blocking::run(state, move |state| submit_blocking(state, &headers, f)).await
}

fn submit_blocking(state: &AppState, headers: &HeaderMap, f: LoginForm) -> Response {
    let lang = Lang::from_headers(headers);
    let name = f.user.trim().to_string();
    let deny = |action: &str, why: &str| {
        super::record(state, &name, action, &name, json!({ "reason": why }), Outcome::Denied);
    };
    let expected = session::cookie(headers, csrf::LOGIN_COOKIE).unwrap_or("");
    if !csrf::matches(expected, &f.csrf) {
        deny("login", "csrf");
        return render(
            state,
            lang,
            StatusCode::FORBIDDEN,
            Some(lang.t("表单已过期，请重试。", "The form expired; please try again.")),
        );
    }
    let now = state.now();
    // Bound first: the lock must be released before `deny` writes to the log.
    let allowed = throttle::allowed(&state.db(), &name, now);
    match allowed {
        Ok(true) => {}
        Ok(false) => {
            deny("login_throttled", "too many failed logins");
            return render(
                state,
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                Some(lang.t(
                    "失败次数过多，请 15 分钟后再试。",
                    "Too many failed logins; try again in 15 minutes.",
                )),
            );
        }
        Err(e) => return crate::errors::internal(lang, &e),
    }
    let user = match state.db().user(&name) {
        Ok(u) => u,
        Err(e) => return crate::errors::internal(lang, &e),
    };
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::decoy_hash().to_string());
    let pw = f.password;
    let good = password::verify_password(&pw, &hash);
    let user = match user {
        Some(u) if good && !u.disabled => u,
        other => {
            let why = match other {
                Some(u) if u.disabled && good => "disabled",
                Some(_) => "bad password",
                None => "unknown user",
            };
            deny("login", why);
            return render(
                state,
                lang,
                StatusCode::UNAUTHORIZED,
                Some(lang.t("用户名或密码错误。", "Wrong user name or password.")),
            );
        }
    };
    let token = random_token();
    let csrf_token = random_token();
    let created = state.db().create_session(&token, &user.name, &csrf_token, now);
    if let Err(e) = created {
        return crate::errors::internal(lang, &e);
    }
    super::record(state, &user.name, "login", &user.name, json!({}), Outcome::Ok);
    let mut res = Redirect::to("/").into_response();
    let h = res.headers_mut();
    if let Ok(v) = session::set_cookie(state, session::COOKIE_NAME, &token, None).parse() {
        h.append(header::SET_COOKIE, v);
    }
    if let Ok(v) = session::set_cookie(state, csrf::LOGIN_COOKIE, "", Some(0)).parse() {
        h.append(header::SET_COOKIE, v);
    }
    res
}

/// `POST /logout`: ends the session (CSRF-checked, so another site cannot log a user out).
pub(crate) async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    crate::blocking::run(state, move |state| logout_blocking(state, &headers, &f)).await
}

fn logout_blocking(state: &AppState, headers: &HeaderMap, f: &CsrfForm) -> Response {
    let lang = Lang::from_headers(headers);
    let Some((token, s)) = session::current(state, headers) else {
        return Redirect::to("/login").into_response();
    };
    if !csrf::matches(&s.csrf, &f.csrf) {
        return super::deny(state, lang, &s.user.name, "logout", "/logout", "csrf");
    }
    if let Err(e) = state.db().end_session(&token) {
        return crate::errors::internal(lang, &e);
    }
    super::record(state, &s.user.name, "logout", &s.user.name, json!({}), Outcome::Ok);
    let mut res = Redirect::to("/login").into_response();
    if let Ok(v) = session::set_cookie(state, session::COOKIE_NAME, "", Some(0)).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}
