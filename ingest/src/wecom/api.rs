//! The WeCom server API, used only when a `secret` is configured: `gettoken` (cached),
//! member, customer and group names, approval details, media download.
//!
//! Token policy (seed 001): the token is cached per app and refreshed five minutes before
//! `expires_in` runs out, or at once when a call answers 40014 / 42001 / 42009 (then the
//! call is retried once). `gettoken` is limited to 300 calls an hour, so a new fetch within
//! 12 s of the previous one is refused rather than sent: an invalid secret cannot turn into
//! a hot loop. `errcode -1` (system busy) is retried up to three times with the shared
//! [`Backoff`]. All other API calls share a 10,000-per-minute budget.
//!
//! Error messages never contain the secret or the token: request URLs (which carry them in
//! the query) are stripped from transport errors.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use config::Secret;
use serde_json::Value;

use super::errcode;
use crate::backoff::Backoff;

/// Minimum spacing of `gettoken` calls (300 per hour).
const TOKEN_MIN_INTERVAL: Duration = Duration::from_secs(12);
/// Refresh this long before the token expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);
/// Calls per minute per app and API (seed 001).
const CALLS_PER_MINUTE: u32 = 10_000;
/// Attempts for a call answered "system busy".
const BUSY_ATTEMPTS: u32 = 3;
/// Largest media file downloaded (WeCom's own limit for files is 20 MB).
pub const MEDIA_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Why an API call failed. No secrets inside.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// WeCom answered with an error code.
    #[error("wecom API `{api}` answered errcode {code}: {meaning}")]
    Platform {
        /// Which API.
        api: &'static str,
        /// The code.
        code: i64,
        /// What it means (see [`errcode::meaning`]).
        meaning: &'static str,
    },
    /// Network failure or timeout.
    #[error("wecom API `{api}` request failed: {reason}")]
    Http {
        /// Which API.
        api: &'static str,
        /// Transport error without the URL.
        reason: String,
    },
    /// Not a JSON answer, or not the expected shape.
    #[error("wecom API `{api}` answer unreadable: {reason}")]
    Decode {
        /// Which API.
        api: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A new token was wanted too soon after the last fetch.
    #[error("gettoken not called again within {0:?} of the last fetch (300 per hour limit)")]
    TokenThrottled(Duration),
    /// The per-minute call budget is spent.
    #[error("wecom API call budget of {0} per minute is spent")]
    RateLimited(u32),
}

impl ApiError {
    /// Whether the configured credentials were refused.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            ApiError::Platform {
                code: 40001 | 40013 | 301002,
                ..
            }
        )
    }
}

struct Token {
    value: String,
    refresh_at: Instant,
}

#[derive(Default)]
struct TokenState {
    token: Option<Token>,
    last_fetch: Option<Instant>,
}

/// A WeCom API client for one app.
pub struct WecomApi {
    http: reqwest::Client,
    base: String,
    corp_id: String,
    secret: Secret,
    token: tokio::sync::Mutex<TokenState>,
    window: Mutex<(Instant, u32)>,
    busy: Backoff,
    token_min_interval: Duration,
}

impl WecomApi {
    /// A client for `api_base` (e.g. `https://qyapi.weixin.qq.com` or the simulator).
    pub fn new(api_base: &str, corp_id: &str, secret: Secret) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ApiError::Http {
                api: "client",
                reason: e.without_url().to_string(),
            })?;
        Ok(WecomApi {
            http,
            base: api_base.trim_end_matches('/').to_string(),
            corp_id: corp_id.to_string(),
            secret,
            token: tokio::sync::Mutex::new(TokenState::default()),
            window: Mutex::new((Instant::now(), 0)),
            busy: Backoff::new(Duration::from_millis(200), Duration::from_secs(2)).with_jitter(0.3),
            token_min_interval: TOKEN_MIN_INTERVAL,
        })
    }

    /// Changes the minimum spacing of `gettoken` calls (tests against the simulator).
    pub fn with_token_min_interval(mut self, d: Duration) -> Self {
        self.token_min_interval = d;
        self
    }

    /// A valid access token, fetched when missing or near expiry. Only one fetch runs at a
    /// time; callers waiting meanwhile get its result.
    pub async fn token(&self) -> Result<String, ApiError> {
        let mut st = self.token.lock().await;
        if let Some(t) = &st.token
            && Instant::now() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        if let Some(last) = st.last_fetch
            && last.elapsed() < self.token_min_interval
        {
            // A token fetched moments ago is still better than none while it lasts.
            return match &st.token {
                Some(t) => Ok(t.value.clone()),
                None => Err(ApiError::TokenThrottled(self.token_min_interval)),
            };
        }
        st.last_fetch = Some(Instant::now());
        let url = format!("{}/cgi-bin/gettoken", self.base);
        let req = self
            .http
            .get(url)
            .query(&[("corpid", self.corp_id.as_str()), ("corpsecret", self.secret.expose())]);
        let v = self.send_json("gettoken", req).await?;
        check("gettoken", &v)?;
        let value = v["access_token"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or(ApiError::Decode {
                api: "gettoken",
                reason: "no access_token".into(),
            })?
            .to_string();
        let refresh_at = refresh_at(Instant::now(), v["expires_in"].as_u64());
        st.token = Some(Token {
            value: value.clone(),
            refresh_at,
        });
        Ok(value)
    }

    async fn invalidate(&self, stale: &str) {
        let mut st = self.token.lock().await;
        if st.token.as_ref().is_some_and(|t| t.value == stale) {
            st.token = None;
        }
    }

    /// `GET /cgi-bin/user/get`: a member's display name.
    pub async fn user_name(&self, user_id: &str) -> Result<String, ApiError> {
        let url = format!("{}/cgi-bin/user/get", self.base);
        let v = self
            .call("user/get", |token| {
                self.http
                    .get(&url)
                    .query(&[("access_token", token), ("userid", user_id)])
            })
            .await?;
        string_at("user/get", &v, &["name"])
    }

    /// `POST /cgi-bin/externalcontact/groupchat/get`: a customer group's name.
    pub async fn group_chat_name(&self, chat_id: &str) -> Result<String, ApiError> {
        let body = serde_json::json!({ "chat_id": chat_id, "need_name": 1 });
        let v = self
            .post("groupchat/get", "externalcontact/groupchat/get", body)
            .await?;
        string_at("groupchat/get", &v, &["group_chat", "name"])
    }

    /// `POST /cgi-bin/msgaudit/groupchat/get` `{"roomid"}`: an internal group's name as 会话存档
    /// sees it (`roomname`), callable with the 会话存档 secret (protocols.md §2.5 [WENER]).
    pub async fn msgaudit_group_name(&self, room_id: &str) -> Result<String, ApiError> {
        let body = serde_json::json!({ "roomid": room_id });
        let v = self
            .post("msgaudit/groupchat/get", "msgaudit/groupchat/get", body)
            .await?;
        string_at("msgaudit/groupchat/get", &v, &["roomname"])
    }

    /// `GET /cgi-bin/externalcontact/get?external_userid=ID`: a customer's `external_contact`
    /// object (seed 001, 客户联系: "获取客户详情", with the token of the 客户联系 secret or of an
    /// app allowed to call 客户联系 APIs).
    pub async fn external_contact(&self, external_user_id: &str) -> Result<Value, ApiError> {
        const API: &str = "externalcontact/get";
        let url = format!("{}/cgi-bin/externalcontact/get", self.base);
        let v = self
            .call(API, |token| {
                self.http
                    .get(&url)
                    .query(&[("access_token", token), ("external_userid", external_user_id)])
            })
            .await?;
        string_at(API, &v, &["external_contact", "name"])?;
        Ok(v["external_contact"].clone())
    }

    /// A customer's name (see [`WecomApi::external_contact`]).
    pub async fn external_contact_name(&self, external_user_id: &str) -> Result<String, ApiError> {
        let c = self.external_contact(external_user_id).await?;
        string_at("externalcontact/get", &c, &["name"])
    }

    /// `POST /cgi-bin/oa/getapprovaldetail` `{"sp_no"}`: an approval's `info` (seed 001,
    /// 审批流程: "获取审批申请详情"; shape per document 91983).
    pub async fn approval_detail(&self, sp_no: &str) -> Result<Value, ApiError> {
        const API: &str = "oa/getapprovaldetail";
        let v = self.post(API, API, serde_json::json!({ "sp_no": sp_no })).await?;
        string_at(API, &v, &["info", "sp_no"])?;
        Ok(v["info"].clone())
    }

    /// `POST /cgi-bin/corp/getopenapprovaldata` `{"thirdNo"}`: the current state of an
    /// approval a self-built app started through the approval flow engine (审批流程引擎),
    /// the approval an `open_approval_change` callback names by `ApprovalInfo.ThirdNo`.
    /// Documented at https://developer.work.weixin.qq.com/document/path/90269 (查询自建应用
    /// 审批单当前状态); the request key `thirdNo` and the answer's `data` fields (`ThirdNo`,
    /// `OpenSpName`, `OpenSpstatus`, `ApplyUsername`, `ApplyUserId`,
    /// `ApprovalNodes.ApprovalNode[].Items.Item[]`, `NotifyNodes.NotifyNode[]`) are as the
    /// public clients WxJava (`WxCpOaAgentService.getOpenApprovalData`) and
    /// SKIT.FlurlHttpClient.Wechat.Work (`CgibinCorpGetOpenApprovalDataResponse`) read them;
    /// the seed names only the callback (001: "open_approval_change:自建审批状态变更").
    pub async fn open_approval_data(&self, third_no: &str) -> Result<Value, ApiError> {
        const API: &str = "corp/getopenapprovaldata";
        let v = self.post(API, API, serde_json::json!({ "thirdNo": third_no })).await?;
        string_at(API, &v, &["data", "ThirdNo"])?;
        Ok(v["data"].clone())
    }

    /// `GET /cgi-bin/media/get`: the bytes of a `MediaId` (valid 3 days after the message).
    pub async fn media(&self, media_id: &str) -> Result<Vec<u8>, ApiError> {
        const API: &str = "media/get";
        let url = format!("{}/cgi-bin/media/get", self.base);
        let mut busy = self.busy.clone();
        let mut refreshed = false;
        loop {
            self.spend()?;
            let token = self.token().await?;
            let req = self
                .http
                .get(&url)
                .query(&[("access_token", token.as_str()), ("media_id", media_id)]);
            let mut resp = req.send().await.map_err(|e| http_err(API, e))?;
            let is_json = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/plain"));
            if !is_json && resp.status().is_success() {
                let mut buf = Vec::new();
                while let Some(chunk) = resp.chunk().await.map_err(|e| http_err(API, e))? {
                    if buf.len() + chunk.len() > MEDIA_MAX_BYTES {
                        return Err(ApiError::Decode {
                            api: API,
                            reason: format!("larger than {MEDIA_MAX_BYTES} bytes"),
                        });
                    }
                    buf.extend_from_slice(&chunk);
                }
                return Ok(buf);
            }
            let v: Value = resp.json().await.map_err(|e| ApiError::Decode {
                api: API,
                reason: e.without_url().to_string(),
            })?;
            match next_step(API, &v, &mut busy, &mut refreshed) {
                Step::Done => {
                    return Err(ApiError::Decode {
                        api: API,
                        reason: "JSON instead of media".into(),
                    });
                }
                Step::Fail(e) => return Err(e),
                Step::RefreshToken => self.invalidate(&token).await,
                Step::Wait(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// `POST /cgi-bin/<path>` with `body` through [`WecomApi::call`]; `api` names the call
    /// in errors.
    async fn post(&self, api: &'static str, path: &str, body: Value) -> Result<Value, ApiError> {
        let url = format!("{}/cgi-bin/{path}", self.base);
        self.call(api, |token| {
            self.http.post(&url).query(&[("access_token", token)]).json(&body)
        })
        .await
    }

    /// One JSON API call with the token and busy-retry policy.
    async fn call(&self, api: &'static str, req: impl Fn(&str) -> reqwest::RequestBuilder) -> Result<Value, ApiError> {
        let mut busy = self.busy.clone();
        let mut refreshed = false;
        loop {
            self.spend()?;
            let token = self.token().await?;
            let v = self.send_json(api, req(&token)).await?;
            match next_step(api, &v, &mut busy, &mut refreshed) {
                Step::Done => return Ok(v),
                Step::Fail(e) => return Err(e),
                Step::RefreshToken => self.invalidate(&token).await,
                Step::Wait(d) => tokio::time::sleep(d).await,
            }
        }
    }

    async fn send_json(&self, api: &'static str, req: reqwest::RequestBuilder) -> Result<Value, ApiError> {
        let resp = req.send().await.map_err(|e| http_err(api, e))?;
        if !resp.status().is_success() {
            return Err(ApiError::Http {
                api,
                reason: format!("HTTP {}", resp.status()),
            });
        }
        resp.json().await.map_err(|e| ApiError::Decode {
            api,
            reason: e.without_url().to_string(),
        })
    }

    fn spend(&self) -> Result<(), ApiError> {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if w.0.elapsed() >= Duration::from_secs(60) {
            *w = (Instant::now(), 0);
        }
        if w.1 >= CALLS_PER_MINUTE {
            return Err(ApiError::RateLimited(CALLS_PER_MINUTE));
        }
        w.1 += 1;
        Ok(())
    }
}

enum Step {
    Done,
    Fail(ApiError),
    RefreshToken,
    Wait(Duration),
}

fn next_step(api: &'static str, v: &Value, busy: &mut Backoff, refreshed: &mut bool) -> Step {
    let code = v["errcode"].as_i64().unwrap_or(0);
    if code == 0 {
        Step::Done
    } else if errcode::TOKEN_INVALID.contains(&code) && !*refreshed {
        *refreshed = true;
        Step::RefreshToken
    } else if code == errcode::SYSTEM_BUSY && busy.attempts() + 1 < BUSY_ATTEMPTS {
        Step::Wait(busy.next_delay())
    } else {
        Step::Fail(ApiError::Platform {
            api,
            code,
            meaning: errcode::meaning(code),
        })
    }
}

fn check(api: &'static str, v: &Value) -> Result<(), ApiError> {
    match v["errcode"].as_i64().unwrap_or(0) {
        0 => Ok(()),
        code => Err(ApiError::Platform {
            api,
            code,
            meaning: errcode::meaning(code),
        }),
    }
}

fn string_at(api: &'static str, v: &Value, path: &[&str]) -> Result<String, ApiError> {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ApiError::Decode {
            api,
            reason: format!("no `{}`", path.join(".")),
        })
}

fn http_err(api: &'static str, e: reqwest::Error) -> ApiError {
    ApiError::Http {
        api,
        reason: e.without_url().to_string(),
    }
}

/// The longest token lifetime believed (WeCom's is 7200 s).
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// When to fetch a new token: `expires_in` (seconds, from the platform; 7200 when absent)
/// minus a margin, bounded so that no figure can overflow the clock arithmetic or keep a
/// token past a day.
fn refresh_at(now: Instant, expires_in: Option<u64>) -> Instant {
    let expires = Duration::from_secs(expires_in.unwrap_or(7200)).min(MAX_TOKEN_LIFETIME);
    let after = expires.saturating_sub(TOKEN_MARGIN.min(expires / 2));
    now.checked_add(after).unwrap_or(now)
}

#[cfg(test)]
mod refresh_tests {
    use super::*;

    #[test]
    fn any_expires_in_gives_a_refresh_time_without_panicking() {
        let now = Instant::now();
        assert_eq!(refresh_at(now, Some(7200)), now + Duration::from_secs(6900));
        assert_eq!(refresh_at(now, None), now + Duration::from_secs(6900));
        assert_eq!(refresh_at(now, Some(0)), now);
        assert_eq!(refresh_at(now, Some(u64::MAX)), now + MAX_TOKEN_LIFETIME - TOKEN_MARGIN);
    }
}
