//! What the fake HTTP APIs (WeCom, 会话存档 names, WorkTool) share: a loopback listener,
//! serving in the background, and WeCom's error answer.

use std::net::SocketAddr;

use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// A listener on `127.0.0.1:port` (0 = any free port) and the address it got.
pub(crate) async fn listen(port: u16) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Serves `app` until the process ends; `what` names the API in the one log line written if
/// it stops early.
pub(crate) fn serve(listener: TcpListener, app: Router, what: &'static str) {
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "{what} stopped");
        }
    });
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
