//! A fake WeCom server API for the connector's lookups: `gettoken`, `user/get`,
//! `externalcontact/groupchat/get`, `externalcontact/get`, `oa/getapprovaldetail`,
//! `corp/getopenapprovaldata`, `media/get`, with faults (expired token, system busy, media host away).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use axum::extract::{Query, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::SimError;
use super::script::{APPROVAL_SP_NO, CUSTOMERS, DEMO_GROUP, MEMBERS, OPEN_APPROVAL_THIRD_NO};
use crate::http::{errcode, group_chat, ok, user};

#[derive(Default)]
struct Counters {
    gettoken: AtomicU64,
    calls: AtomicU64,
    token_gen: AtomicU64,
    expire_next: AtomicU32,
    busy_next: AtomicU32,
    media_fail_next: AtomicU32,
}

/// A running fake API.
#[derive(Clone)]
pub struct FakeApi {
    addr: SocketAddr,
    state: Arc<Counters>,
    secret: String,
}

impl FakeApi {
    /// Starts on `127.0.0.1:port` (0 = any free port), accepting `secret`.
    pub async fn start(port: u16, secret: &str) -> Result<FakeApi, SimError> {
        let api = |addr| FakeApi {
            addr,
            state: Arc::default(),
            secret: secret.to_string(),
        };
        let routes = |api: &FakeApi| {
            Router::new()
                .route("/cgi-bin/user/get", get(user_get))
                .route("/cgi-bin/externalcontact/groupchat/get", post(groupchat_get))
                .route("/cgi-bin/externalcontact/get", get(external_contact_get))
                .route("/cgi-bin/oa/getapprovaldetail", post(approval_detail))
                .route("/cgi-bin/media/get", get(media_get))
                .route("/cgi-bin/corp/getopenapprovaldata", post(open_approval_data))
                .route_layer(axum::middleware::from_fn_with_state(api.clone(), checked))
                .route("/cgi-bin/gettoken", get(gettoken))
                .with_state(api.clone())
        };
        crate::http::start(port, "fake wecom API", api, routes)
            .await
            .map_err(SimError::Io)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        crate::http::base_url(self.addr)
    }

    /// `gettoken` calls served.
    pub fn gettoken_calls(&self) -> u64 {
        self.state.gettoken.load(Ordering::SeqCst)
    }

    /// Other API calls served (including refused ones).
    pub fn api_calls(&self) -> u64 {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// The next `n` API calls answer 42001 (token expired) and the current token dies.
    pub fn expire_token(&self, n: u32) {
        self.state.expire_next.store(n, Ordering::SeqCst);
    }

    /// The next `n` API calls answer -1 (system busy).
    pub fn busy(&self, n: u32) {
        self.state.busy_next.store(n, Ordering::SeqCst);
    }

    /// The next `n` `media/get` calls answer HTTP 503 (the media host is away).
    pub fn fail_media(&self, n: u32) {
        self.state.media_fail_next.store(n, Ordering::SeqCst);
    }

    fn current_token(&self) -> String {
        format!("simtoken{:06}", self.state.token_gen.load(Ordering::SeqCst))
    }

    /// Checks token and faults; `Some` is the error answer.
    fn refusal(&self, q: &HashMap<String, String>) -> Option<Response> {
        self.state.calls.fetch_add(1, Ordering::SeqCst);
        if take(&self.state.busy_next) {
            return Some(errcode(-1, "system busy"));
        }
        if take(&self.state.expire_next) {
            self.state.token_gen.fetch_add(1, Ordering::SeqCst);
            return Some(errcode(42001, "access_token expired"));
        }
        if q.get("access_token").map(String::as_str) != Some(self.current_token().as_str()) {
            return Some(errcode(40014, "invalid access_token"));
        }
        None
    }
}

/// Every call but `gettoken` passes the token and fault checks before its handler.
async fn checked(
    State(api): State<FakeApi>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
    next: Next,
) -> Response {
    match api.refusal(&q) {
        Some(refused) => refused,
        None => next.run(req).await,
    }
}

fn take(n: &AtomicU32) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
        .is_ok()
}

async fn gettoken(State(api): State<FakeApi>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    api.state.gettoken.fetch_add(1, Ordering::SeqCst);
    if q.get("corpsecret") != Some(&api.secret) || q.get("corpid").map(String::as_str) != Some(super::CORP_ID) {
        return Json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
    }
    Json(json!({"errcode": 0, "errmsg": "ok", "access_token": api.current_token(), "expires_in": 7200}))
}

async fn user_get(Query(q): Query<HashMap<String, String>>) -> Response {
    user(&MEMBERS, q.get("userid").map(String::as_str).unwrap_or(""))
}

async fn groupchat_get(Json(body): Json<Value>) -> Response {
    group_chat((body["chat_id"] == DEMO_GROUP.0).then_some(DEMO_GROUP))
}

async fn external_contact_get(Query(q): Query<HashMap<String, String>>) -> Response {
    let id = q.get("external_userid").cloned().unwrap_or_default();
    match CUSTOMERS.iter().find(|(u, _)| *u == id) {
        Some((u, name)) => ok(json!({
            "external_contact": {"external_userid": u, "name": name, "type": 2, "corp_name": "农业局", "gender": 1},
            "follow_user": [{"userid": "zhangsan", "remark": "", "createtime": 1772413500}]})),
        None => errcode(84061, "not external contact"),
    }
}

/// The demo day's approval: a travel expense claim by 李四, approved by 张三 (shape of
/// https://developer.work.weixin.qq.com/document/path/91983).
async fn approval_detail(Json(body): Json<Value>) -> Response {
    if body["sp_no"] != APPROVAL_SP_NO {
        return errcode(301025, "sp_no not found");
    }
    ok(json!({"info": {
        "sp_no": APPROVAL_SP_NO, "sp_name": "报销", "sp_status": 2,
        "template_id": "3TkZjxugodbqpEb5RqrJcS8S6wr", "apply_time": 1772413620,
        "applyer": {"userid": "lisi", "partyid": "1"},
        "sp_record": [{"sp_status": 2, "approverattr": 1, "details": [
            {"approver": {"userid": "zhangsan"}, "speech": "同意，注意保留发票", "sp_status": 2, "sptime": 1772428200, "media_id": []}]}],
        "notifyer": [],
        "apply_data": {"contents": [
            {"control": "Money", "id": "Money-1", "title": [{"text": "报销金额", "lang": "zh_CN"}], "value": {"new_money": "1280.00"}},
            {"control": "Textarea", "id": "Textarea-1", "title": [{"text": "报销事由", "lang": "zh_CN"}], "value": {"text": "农业局项目现场调研差旅费"}},
            {"control": "File", "id": "File-1", "title": [{"text": "附件", "lang": "zh_CN"}], "value": {"files": [{"file_id": "F1"}]}}
        ]},
        "comments": []
    }}))
}

/// `corp/getopenapprovaldata` `{"thirdNo"}` (document 90269; field names as WxJava and
/// SKIT.FlurlHttpClient.Wechat.Work read them, note `OpenSpstatus` and `ApplyUsername`).
/// Any other body, such as `{"third_no"}`, is refused as WeCom refuses a missing parameter.
async fn open_approval_data(Json(body): Json<Value>) -> Response {
    match body.get("thirdNo").and_then(Value::as_str) {
        None => return errcode(41001, "missing thirdNo"),
        Some(n) if n != OPEN_APPROVAL_THIRD_NO => {
            return errcode(301025, "thirdNo not found");
        }
        Some(_) => {}
    }
    ok(json!({"data": {
        "ThirdNo": OPEN_APPROVAL_THIRD_NO, "OpenTemplateId": "tpl-pay-01", "OpenSpName": "付款",
        "OpenSpstatus": 2, "ApplyTime": 1772413800, "ApplyUsername": "李四", "ApplyUserParty": "项目部",
        "ApplyUserImage": "", "ApplyUserId": "lisi",
        "ApprovalNodes": {"ApprovalNode": [{"NodeStatus": 2, "NodeAttr": 1, "NodeType": 1, "Items": {"Item": [
            {"ItemName": "张三", "ItemUserId": "zhangsan", "ItemParty": "管理部", "ItemImage": "",
             "ItemStatus": 2, "ItemSpeech": "同意付款，合同已归档", "ItemOpTime": 1772416800}]}}]},
        "NotifyNodes": {"NotifyNode": [{"ItemName": "王五", "ItemUserId": "wangwu", "ItemParty": "财务部", "ItemImage": ""}]},
        "ApproverStep": 0
    }}))
}

/// Bytes served for a media id: deterministic, so tests can check the blob's sha256.
pub fn media_bytes(media_id: &str) -> Vec<u8> {
    format!("chatvault simulated media {media_id}\n")
        .repeat(16)
        .into_bytes()
}

async fn media_get(State(api): State<FakeApi>, Query(q): Query<HashMap<String, String>>) -> Response {
    if take(&api.state.media_fail_next) {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match q.get("media_id") {
        Some(id) if id.starts_with("MEDIA_") => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], media_bytes(id)).into_response()
        }
        _ => errcode(40007, "invalid media_id"),
    }
}
