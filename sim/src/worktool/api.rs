//! A fake WorkTool API: `GET /robot/robotInfo/online?robotId=` (answers
//! `{"code":200,"message":"操作成功","data":<bool>}`) and `GET /robot/robotInfo/get`, with a
//! switch for the robot's state and a request counter (to check the 60 QPM budget).
//! `robotInfo/get` answers seed 003 §3's fields; [`FakeApi::set_settings`] sets its
//! `openCallback` and `replyAll` (both 1 at start).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ROBOT_ID, WorktoolSimError};

#[derive(Default)]
struct Inner {
    online: AtomicBool,
    polls: AtomicU64,
    open_callback: AtomicI64,
    reply_all: AtomicI64,
    info_requests: AtomicU64,
}

/// A running fake API.
#[derive(Clone)]
pub struct FakeApi {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

impl FakeApi {
    /// Starts on `127.0.0.1:port` (0 = any free port) with the robot online.
    pub async fn start(port: u16) -> Result<FakeApi, WorktoolSimError> {
        let api = |addr| {
            let api = FakeApi {
                addr,
                inner: Arc::default(),
            };
            api.set_online(true);
            api.set_settings(1, 1);
            api
        };
        let routes = |api: &FakeApi| {
            Router::new()
                .route("/robot/robotInfo/online", get(online))
                .route("/robot/robotInfo/get", get(info))
                .with_state(api.clone())
        };
        crate::http::start(port, "fake worktool API", api, routes)
            .await
            .map_err(WorktoolSimError::Io)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        crate::http::base_url(self.addr)
    }

    /// Sets what `robotInfo/online` answers.
    pub fn set_online(&self, online: bool) {
        self.inner.online.store(online, Ordering::Release);
    }

    /// Sets what `robotInfo/get` answers for `openCallback` and `replyAll`.
    pub fn set_settings(&self, open_callback: i64, reply_all: i64) {
        self.inner.open_callback.store(open_callback, Ordering::Release);
        self.inner.reply_all.store(reply_all, Ordering::Release);
    }

    /// `robotInfo/get` requests served.
    pub fn info_requests(&self) -> u64 {
        self.inner.info_requests.load(Ordering::Acquire)
    }

    /// `robotInfo/online` requests served.
    pub fn polls(&self) -> u64 {
        self.inner.polls.load(Ordering::Acquire)
    }
}

async fn online(State(api): State<FakeApi>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    api.inner.polls.fetch_add(1, Ordering::AcqRel);
    if q.get("robotId").map(String::as_str) != Some(ROBOT_ID) {
        // The documented answer for an unknown robot: an empty object.
        return Json(json!({}));
    }
    Json(json!({ "code": 200, "message": "操作成功", "data": api.inner.online.load(Ordering::Acquire) }))
}

async fn info(State(api): State<FakeApi>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    api.inner.info_requests.fetch_add(1, Ordering::AcqRel);
    let robot = q.get("robotId").cloned().unwrap_or_default();
    let open = api.inner.open_callback.load(Ordering::Acquire);
    let all = api.inner.reply_all.load(Ordering::Acquire);
    Json(json!({ "code": 200, "message": "操作成功", "data": {
        "robotId": robot, "name": "小助手", "openCallback": open, "encryptType": 0, "replyAll": all,
        "robotKeyCheck": 0, "callBackRequestType": 2, "robotType": 0, "enableAdd": false,
        "createTime": "2026-01-05 10:00:00"
    }}))
}
