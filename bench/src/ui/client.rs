//! A signed-in browser stand-in for `bench ui`: logs in through the UI's own form (login
//! CSRF cookie and hidden field, then the session cookie) and fetches pages whole, keeping its
//! cookies by hand (the workspace's HTTP client is built without a cookie store).

use std::time::{Duration, Instant};

use crate::BenchError;

/// A reviewer's session on the UI at `base`.
pub(crate) struct Client {
    base: String,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

/// A fetched page: status, body, and the time from sending the request to the last byte.
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) took: Duration,
}

impl Client {
    /// Signs in as `user`.
    pub(crate) async fn login(base: String, user: &str, password: &str) -> Result<Client, BenchError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(http_failed)?;
        let mut c = Client {
            base,
            http,
            cookies: Vec::new(),
        };
        let form = c.get("/login", &[]).await?;
        let csrf = hidden_csrf(&form.body)?;
        let res = c
            .http
            .post(format!("{}/login", c.base))
            .header("cookie", c.cookie_header())
            .form(&[("user", user), ("password", password), ("csrf", csrf.as_str())])
            .send()
            .await
            .map_err(http_failed)?;
        c.keep_cookies(&res);
        if res.status().as_u16() != 303 || !c.cookies.iter().any(|(k, _)| k == "cv_session") {
            return Err(BenchError::Failed(format!(
                "logging in to the UI as `{user}` failed (HTTP {})",
                res.status()
            )));
        }
        Ok(c)
    }

    /// `GET path?query` with the session's cookies, read to the end.
    pub(crate) async fn get(&mut self, path: &str, query: &[(&str, &str)]) -> Result<Page, BenchError> {
        let started = Instant::now();
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .header("cookie", self.cookie_header())
            .header("accept-language", "zh-CN")
            .send()
            .await
            .map_err(http_failed)?;
        let status = res.status().as_u16();
        self.keep_cookies(&res);
        let body = res.text().await.map_err(http_failed)?;
        Ok(Page {
            status,
            body,
            took: started.elapsed(),
        })
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, res: &reqwest::Response) {
        for set in res.headers().get_all("set-cookie") {
            let Some((k, v)) = set.to_str().ok().and_then(|s| s.split(';').next()?.split_once('=')) else {
                continue;
            };
            self.cookies.retain(|(n, _)| n != k);
            if !v.is_empty() {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
    }
}

/// The value of the login form's hidden CSRF field.
fn hidden_csrf(html: &str) -> Result<String, BenchError> {
    const FIELD: &str = "name=\"csrf\" value=\"";
    let at = html
        .find(FIELD)
        .ok_or_else(|| BenchError::Failed("the login page has no CSRF field".into()))?
        + FIELD.len();
    let end = html[at..]
        .find('"')
        .ok_or_else(|| BenchError::Failed("unterminated CSRF field".into()))?;
    Ok(html[at..at + end].to_string())
}

fn http_failed(e: reqwest::Error) -> BenchError {
    BenchError::Failed(format!("HTTP request to the UI failed: {e}"))
}
