//! The mtop token endpoint (`mtop.taobao.idlemessage.pc.login.token`, protocols §3.2): checks
//! the login cookies and the request signature, and issues access tokens the LWP side accepts.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use md5::{Digest, Md5};
use serde_json::json;

use super::server::Shared;

/// Path of the token call.
pub const TOKEN_PATH: &str = "/h5/mtop.taobao.idlemessage.pc.login.token/1.0/";

/// The router serving [`TOKEN_PATH`].
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().route(TOKEN_PATH, post(token)).with_state(shared)
}

async fn token(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let cookies = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let cookie = |name: &str| {
        cookies
            .split(';')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let fail = |ret: &str| {
        Json(json!({"api": "mtop.taobao.idlemessage.pc.login.token", "data": {}, "ret": [ret], "v": "1.0"}))
    };
    let mut st = shared.lock();
    st.token_calls += 1;
    if !st.faults.cookies_valid || cookie("unb").is_none() {
        return fail("FAIL_SYS_SESSION_EXPIRED::Session过期").into_response();
    }
    let tk = cookie("_m_h5_tk").unwrap_or_default();
    let tk = tk.split('_').next().unwrap_or("").to_string();
    if tk != st.h5tk {
        // The gateway renews the signing cookie and asks for a new signature.
        let fresh = format!("{:016x}", st.token_calls as u64 * 0x9e37_79b9_7f4a_7c15);
        st.h5tk = fresh.clone();
        let mut resp = fail("FAIL_SYS_TOKEN_EXOIRED::令牌过期").into_response();
        if let Ok(v) = HeaderValue::from_str(&format!(
            "_m_h5_tk={fresh}_{}; Path=/; Domain=.goofish.com",
            proto::time::now_ms()
        )) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
        return resp;
    }
    let data = form.get("data").cloned().unwrap_or_default();
    let t = q.get("t").cloned().unwrap_or_default();
    let expected = hex::encode(Md5::digest(format!("{tk}&{t}&34839810&{data}").as_bytes()));
    if q.get("sign") != Some(&expected) || q.get("appKey").map(String::as_str) != Some("34839810") {
        return fail("FAIL_SYS_ILLEGAL_ACCESS::非法请求").into_response();
    }
    let issued = format!("sim-im-token-{}", st.token_calls);
    st.valid_tokens.insert(issued.clone());
    let lifetime = shared.opts.token_lifetime_ms;
    Json(json!({
        "api": "mtop.taobao.idlemessage.pc.login.token",
        "data": {"accessToken": issued, "accessTokenExpiredTime": lifetime.to_string(), "refreshToken": "sim-refresh"},
        "ret": ["SUCCESS::调用成功"],
        "v": "1.0",
    }))
    .into_response()
}
