//! What the fake HTTP APIs (WeCom, 会话存档 names, WorkTool) share: starting on a loopback
//! port and serving in the background, their base URL, and WeCom's answers (errors, and the
//! member and group-chat lookups both fake WeCom APIs serve).

use std::net::SocketAddr;

use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Starts a fake API on `127.0.0.1:port` (0 = any free port): `api` builds its handle on the
/// address it got, `routes` its router (state included), served in the background until the
/// process ends; `what` names the API in the one log line written if it stops early.
pub(crate) async fn start<A>(
    port: u16,
    what: &'static str,
    api: impl FnOnce(SocketAddr) -> A,
    routes: impl FnOnce(&A) -> Router,
) -> std::io::Result<A> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let api = api(listener.local_addr()?);
    let app = routes(&api);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "{what} stopped");
        }
    });
    Ok(api)
}

/// `http://<addr>`: the base URL a connector is pointed at.
pub(crate) fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// A WeCom API error answer: HTTP 200 with `errcode` and `errmsg`, as WeCom sends them.
pub(crate) fn errcode(code: i64, errmsg: &str) -> Response {
    Json(json!({"errcode": code, "errmsg": errmsg})).into_response()
}

/// A WeCom API success answer: `v` with `errcode` 0 and `errmsg` "ok".
pub(crate) fn ok(mut v: Value) -> Response {
    v["errcode"] = json!(0);
    v["errmsg"] = json!("ok");
    Json(v).into_response()
}

/// `user/get`'s answer for `userid` from a directory of (userid, name).
pub(crate) fn user(directory: &[(&str, &str)], userid: &str) -> Response {
    match directory.iter().find(|(u, _)| *u == userid) {
        Some((u, name)) => ok(json!({"userid": u, "name": name, "department": [1]})),
        None => errcode(60111, "userid not found"),
    }
}

/// `externalcontact/groupchat/get`'s answer for a group found as (chat id, name), or for none.
pub(crate) fn group_chat(found: Option<(&str, &str)>) -> Response {
    match found {
        Some((id, name)) => ok(json!({"group_chat": {"chat_id": id, "name": name, "owner": "zhangsan"}})),
        None => errcode(86001, "chat not exist"),
    }
}
