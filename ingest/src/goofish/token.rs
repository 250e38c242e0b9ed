//! The IM access token: taken from the config, or obtained (and refreshed before it expires)
//! from the goofish.com login cookies with the mtop call of protocols §3.2.
//!
//! The mtop gateway signs requests with `md5(<_m_h5_tk prefix>&<t>&<appKey>&<data>)`. When
//! that cookie itself has expired the gateway answers `FAIL_SYS_TOKEN_EXOIRED` (sic) and sets a
//! fresh `_m_h5_tk`; we take it and sign once more. A `FAIL_SYS_SESSION_EXPIRED` means the login
//! cookies are gone: only a new login in a browser helps, so that is an authentication error.
//! Nothing here logs or returns cookie or token values.

use std::time::Duration;

use config::Secret;
use md5::{Digest, Md5};
use proto::TimestampMs;
use serde_json::Value;

/// mtop app key of the Goofish web client.
const MTOP_APP_KEY: &str = "34839810";
/// The token API.
const API: &str = "mtop.taobao.idlemessage.pc.login.token";
/// Lifetime assumed when the answer gives none (the documented `86400000`).
const DEFAULT_LIFETIME_MS: i64 = 86_400_000;

/// Why no token could be obtained.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The cookies were refused (expired login): needs the operator.
    #[error("goofish login cookies refused: {0}")]
    Auth(String),
    /// Network or HTTP failure: retry later.
    #[error("token request failed: {0}")]
    Transport(String),
    /// An answer we cannot read.
    #[error("unexpected token answer: {0}")]
    Protocol(String),
}

/// An access token and when it stops working.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token.
    pub value: Secret,
    /// Expiry (UTC ms); `None` for a configured token of unknown lifetime.
    pub expires_at: Option<TimestampMs>,
}

impl AccessToken {
    /// Whether it should be replaced before (re)connecting: expired or in its last tenth /
    /// last hour, whichever margin is smaller.
    pub fn needs_refresh(&self, now: TimestampMs, lifetime_ms: i64) -> bool {
        match self.expires_at {
            Some(at) => now + (lifetime_ms / 10).min(3_600_000) >= at,
            None => false,
        }
    }
}

/// Obtains access tokens from login cookies.
pub struct TokenSource {
    http: reqwest::Client,
    api_base: String,
    cookies: String,
    device_id: String,
}

impl TokenSource {
    /// A source for one account.
    pub fn new(api_base: &str, cookies: &Secret, device_id: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_default();
        TokenSource {
            http,
            api_base: api_base.trim_end_matches('/').to_string(),
            cookies: cookies.expose().to_string(),
            device_id: device_id.to_string(),
        }
    }

    /// The cookie header the WebSocket handshake sends too.
    pub fn cookies(&self) -> &str {
        &self.cookies
    }

    /// Calls the token API (re-signing once if the gateway renews `_m_h5_tk`).
    pub async fn fetch(&mut self) -> Result<(AccessToken, i64), TokenError> {
        for _ in 0..2 {
            match self.call().await? {
                Answer::Token(t, lifetime) => return Ok((t, lifetime)),
                Answer::Renewed => continue,
            }
        }
        Err(TokenError::Auth(
            "the mtop gateway kept refusing the _m_h5_tk cookie".into(),
        ))
    }

    async fn call(&mut self) -> Result<Answer, TokenError> {
        let t = proto::time::now_ms().to_string();
        let data = format!(
            r#"{{"appKey":"{}","deviceId":"{}"}}"#,
            super::frame::APP_KEY,
            self.device_id
        );
        let tk = cookie(&self.cookies, "_m_h5_tk").map(|v| v.split('_').next().unwrap_or("").to_string());
        let sign = sign(tk.as_deref().unwrap_or(""), &t, &data);
        let url = format!("{}/h5/{API}/1.0/", self.api_base);
        let resp = self
            .http
            .post(&url)
            .query(&[
                ("jsv", "2.7.2"),
                ("appKey", MTOP_APP_KEY),
                ("t", t.as_str()),
                ("sign", sign.as_str()),
                ("v", "1.0"),
                ("type", "originaljson"),
                ("accountSite", "xianyu"),
                ("dataType", "json"),
                ("timeout", "20000"),
                ("api", API),
                ("sessionOption", "AutoLoginOnly"),
            ])
            .header("cookie", &self.cookies)
            .header("origin", "https://www.goofish.com")
            .header("referer", "https://www.goofish.com/")
            .form(&[("data", data.as_str())])
            .send()
            .await
            .map_err(|e| TokenError::Transport(e.without_url().to_string()))?;
        let renewed: Vec<String> = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(str::to_string)
            .collect();
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| TokenError::Protocol(format!("HTTP {status}: {}", e.without_url())))?;
        let ret = body
            .get("ret")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        if ret.starts_with("SUCCESS") {
            let data = body.get("data").ok_or_else(|| TokenError::Protocol("no data".into()))?;
            let token = data
                .get("accessToken")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| TokenError::Protocol("no accessToken".into()))?;
            let now = proto::time::now_ms();
            let given = data.get("accessTokenExpiredTime").and_then(super::content::as_i64);
            // The documented value is a duration (86400000); an absolute time is accepted too.
            let (expires_at, lifetime) = match given {
                Some(v) if v > proto::time::MIN_PLAUSIBLE_MS && v > now => (v, v - now),
                Some(v) if v > 0 => (now + v, v),
                _ => (now + DEFAULT_LIFETIME_MS, DEFAULT_LIFETIME_MS),
            };
            return Ok(Answer::Token(
                AccessToken {
                    value: Secret::new(token),
                    expires_at: Some(expires_at),
                },
                lifetime,
            ));
        }
        if ret.contains("FAIL_SYS_TOKEN_EXOIRED")
            || ret.contains("FAIL_SYS_TOKEN_EXPIRED")
            || ret.contains("FAIL_SYS_TOKEN_EMPTY")
        {
            let mut changed = false;
            for kv in &renewed {
                if let Some((k, v)) = kv.split_once('=')
                    && (k.trim() == "_m_h5_tk" || k.trim() == "_m_h5_tk_enc")
                {
                    self.cookies = set_cookie(&self.cookies, k.trim(), v.trim());
                    changed = true;
                }
            }
            if changed {
                return Ok(Answer::Renewed);
            }
        }
        Err(TokenError::Auth(if ret.is_empty() {
            format!("HTTP {status}")
        } else {
            ret
        }))
    }
}

enum Answer {
    Token(AccessToken, i64),
    Renewed,
}

/// The mtop signature: lowercase hex MD5 of `token&t&appKey&data`.
pub fn sign(token: &str, t: &str, data: &str) -> String {
    hex::encode(Md5::digest(format!("{token}&{t}&{MTOP_APP_KEY}&{data}").as_bytes()))
}

/// A cookie's value from a `Cookie` header string.
pub fn cookie<'a>(cookies: &'a str, name: &str) -> Option<&'a str> {
    cookies
        .split(';')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim())
}

/// Replaces (or adds) one cookie in a `Cookie` header string.
pub fn set_cookie(cookies: &str, name: &str, value: &str) -> String {
    let mut parts: Vec<String> = cookies
        .split(';')
        .map(str::trim)
        .filter(|kv| !kv.is_empty() && kv.split_once('=').map(|(k, _)| k.trim()) != Some(name))
        .map(str::to_string)
        .collect();
    parts.push(format!("{name}={value}"));
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_is_md5_of_the_documented_string() {
        // md5("abc&1700000000000&34839810&{}") computed independently with coreutils md5sum.
        let s = sign("abc", "1700000000000", "{}");
        assert_eq!(s, "f91495ee7ef825d7eb2d9c9d6e9835a1");
    }

    #[test]
    fn cookies_are_read_and_replaced() {
        let c = "cookie2=x; _m_h5_tk=tk123_1700; unb=42";
        assert_eq!(cookie(c, "_m_h5_tk"), Some("tk123_1700"));
        let c2 = set_cookie(c, "_m_h5_tk", "new_1");
        assert_eq!(cookie(&c2, "_m_h5_tk"), Some("new_1"));
        assert_eq!(cookie(&c2, "unb"), Some("42"));
    }

    #[test]
    fn refresh_margin() {
        let t = AccessToken {
            value: Secret::new("x"),
            expires_at: Some(100_000_000),
        };
        assert!(!t.needs_refresh(0, 86_400_000));
        assert!(t.needs_refresh(100_000_000 - 3_000_000, 86_400_000));
    }
}
