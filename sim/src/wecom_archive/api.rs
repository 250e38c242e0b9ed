//! The WeCom server API of the 会话存档 world: the name lookups a 会话存档 archive makes,
//! answered from the world's directory, each only with the secret that may read it
//! (`msgaudit/groupchat/get` with the 会话存档 secret; `externalcontact/groupchat/get` with it
//! or the 客户联系 secret; `externalcontact/get` with the 客户联系 secret; `user/get` with the
//! member-reading secret). Another secret's token gets 48002 (API forbidden), as WeCom answers.
//!
//! Faults: [`NamesApi::set_failing`] answers every request HTTP 503 (the API unreachable as
//! a whole); [`NamesApi::rename`] renames a group.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{CORP_ID, CUSTOMER, CUSTOMER_GROUP, INTERNAL_GROUP};
use crate::http::{errcode, group_chat, ok, user};

/// The 会话存档 secret of the world (what [`super::config_toml`] configures).
pub const ARCHIVE_SECRET: &str = "standin-secret";
/// The world's 客户联系 secret.
pub const CONTACT_SECRET: &str = "standin-contact-secret";
/// The world's member-reading (通讯录) secret.
pub const USER_SECRET: &str = "standin-user-secret";
/// Employees and their names.
pub const EMPLOYEES: [(&str, &str); 3] = [("zhangsan", "张三"), ("lisi", "李四"), ("wangwu", "王五")];
/// The customer's name.
pub const CUSTOMER_NAME: &str = "陈女士";
/// The internal group's name.
pub const INTERNAL_GROUP_NAME: &str = "销售部内部群";
/// The customer group's name.
pub const CUSTOMER_GROUP_NAME: &str = "华东客户服务群";

/// What a secret's token may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Archive,
    Contact,
    Users,
}

struct Shared {
    failing: AtomicBool,
    calls: AtomicU64,
    groups: Mutex<HashMap<String, String>>,
}

/// A running names API.
#[derive(Clone)]
pub struct NamesApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl NamesApi {
    /// Starts on a free loopback port.
    pub async fn start() -> std::io::Result<NamesApi> {
        let groups = [
            (INTERNAL_GROUP.to_string(), INTERNAL_GROUP_NAME.to_string()),
            (CUSTOMER_GROUP.to_string(), CUSTOMER_GROUP_NAME.to_string()),
        ];
        let api = |addr| NamesApi {
            addr,
            shared: Arc::new(Shared {
                failing: AtomicBool::new(false),
                calls: AtomicU64::new(0),
                groups: Mutex::new(groups.into_iter().collect()),
            }),
        };
        let routes = |api: &NamesApi| {
            Router::new()
                .route("/cgi-bin/gettoken", get(gettoken))
                .route("/cgi-bin/msgaudit/groupchat/get", post(msgaudit_groupchat))
                .route("/cgi-bin/externalcontact/groupchat/get", post(customer_groupchat))
                .route("/cgi-bin/externalcontact/get", get(external_contact))
                .route("/cgi-bin/user/get", get(user_get))
                .with_state(api.clone())
        };
        crate::http::start(0, "fake 会话存档 names API", api, routes).await
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        crate::http::base_url(self.addr)
    }

    /// While `true`, every request is answered HTTP 503.
    pub fn set_failing(&self, failing: bool) {
        self.shared.failing.store(failing, Ordering::SeqCst);
    }

    /// Requests served, failed ones included.
    pub fn calls(&self) -> u64 {
        self.shared.calls.load(Ordering::SeqCst)
    }

    /// Renames a group.
    pub fn rename(&self, room_id: &str, name: &str) {
        lock(&self.shared.groups).insert(room_id.to_string(), name.to_string());
    }

    /// The `[[wecom_archive]]` keys that point the archive at this API with all three secrets.
    pub fn config_lines(&self) -> String {
        format!(
            "api_base = \"{}\"\ncontact_secret = \"{CONTACT_SECRET}\"\nuser_secret = \"{USER_SECRET}\"\n",
            self.base_url()
        )
    }

    /// `None` to go on; `Some` is the answer (fault, or a token that may not read this).
    fn refusal(&self, q: &HashMap<String, String>, allowed: &[Scope]) -> Option<Response> {
        self.shared.calls.fetch_add(1, Ordering::SeqCst);
        if self.shared.failing.load(Ordering::SeqCst) {
            return Some(StatusCode::SERVICE_UNAVAILABLE.into_response());
        }
        match q.get("access_token").and_then(|t| scope_of_token(t)) {
            None => Some(errcode(40014, "invalid access_token")),
            Some(s) if !allowed.contains(&s) => Some(errcode(48002, "api forbidden")),
            Some(_) => None,
        }
    }
}

fn token_of(scope: Scope) -> String {
    format!("namestoken-{scope:?}")
}

fn scope_of_token(t: &str) -> Option<Scope> {
    [Scope::Archive, Scope::Contact, Scope::Users]
        .into_iter()
        .find(|s| token_of(*s) == t)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn gettoken(State(api): State<NamesApi>, Query(q): Query<HashMap<String, String>>) -> Response {
    api.shared.calls.fetch_add(1, Ordering::SeqCst);
    if api.shared.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let scope = match q.get("corpsecret").map(String::as_str) {
        Some(ARCHIVE_SECRET) => Scope::Archive,
        Some(CONTACT_SECRET) => Scope::Contact,
        Some(USER_SECRET) => Scope::Users,
        _ => return errcode(40001, "invalid credential"),
    };
    if q.get("corpid").map(String::as_str) != Some(CORP_ID) {
        return errcode(40013, "invalid corpid");
    }
    ok(json!({"access_token": token_of(scope), "expires_in": 7200}))
}

async fn msgaudit_groupchat(
    State(api): State<NamesApi>,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = api.refusal(&q, &[Scope::Archive]) {
        return r;
    }
    let room = body["roomid"].as_str().unwrap_or("");
    // Only internal groups are known to this API; a customer group is not found here.
    match lock(&api.shared.groups).get(room) {
        Some(name) if room == INTERNAL_GROUP => ok(json!({
            "roomname": name, "creator": "zhangsan", "room_create_time": 1_700_000_000,
            "notice": "", "members": EMPLOYEES.iter().map(|(u, _)| json!({"memberid": u, "jointime": 1_700_000_000})).collect::<Vec<_>>()
        })),
        _ => errcode(86001, "chat not exist"),
    }
}

async fn customer_groupchat(
    State(api): State<NamesApi>,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = api.refusal(&q, &[Scope::Archive, Scope::Contact]) {
        return r;
    }
    let id = body["chat_id"].as_str().unwrap_or("");
    let groups = lock(&api.shared.groups);
    // Only customer groups are known to this API; an internal group is not found here.
    group_chat(
        groups
            .get(id)
            .filter(|_| id == CUSTOMER_GROUP)
            .map(|name| (id, name.as_str())),
    )
}

async fn external_contact(State(api): State<NamesApi>, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(r) = api.refusal(&q, &[Scope::Contact]) {
        return r;
    }
    if q.get("external_userid").map(String::as_str) == Some(CUSTOMER) {
        ok(
            json!({"external_contact": {"external_userid": CUSTOMER, "name": CUSTOMER_NAME, "type": 1}, "follow_user": []}),
        )
    } else {
        errcode(84061, "not external contact")
    }
}

async fn user_get(State(api): State<NamesApi>, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(r) = api.refusal(&q, &[Scope::Users]) {
        return r;
    }
    user(&EMPLOYEES, q.get("userid").map(String::as_str).unwrap_or(""))
}
