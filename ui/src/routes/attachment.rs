//! `/attachment/{platform}/{account}/{chat}/{msg}/{index}`: an attachment of a message the
//! user may see, from the content-addressed blob store (`data_dir/blobs/<sha256>`). The URL
//! names the message, never the blob: knowing or guessing a hash gives nothing, and the scope
//! check is the chat's. The blob is re-hashed before it is sent.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::page::seg;
use crate::state::AppState;

/// `GET /attachment/…`.
pub(crate) async fn download(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((platform_s, account, chat, msg, index)): Path<(String, String, String, String, usize)>,
) -> Response {
    crate::blocking::run(state, move |state| {
        download_blocking(state, &headers, (platform_s, account, chat, msg, index))
    })
    .await
}

fn download_blocking(
    state: &AppState,
    headers: &HeaderMap,
    (platform_s, account, chat, msg, index): (String, String, String, String, usize),
) -> Response {
    let target = (platform_s, account, chat, msg);
    let suffix = format!("/{index}");
    let access = match super::message_access(state, headers, ("/attachment", &suffix), false, target, "download") {
        Ok(a) => a,
        Err(r) => return r,
    };
    let lang = access.lang;
    let internal = |e: &dyn std::fmt::Display| crate::errors::internal(lang, e);
    let record = match access.reader.messages_by_keys(std::slice::from_ref(&access.key)) {
        Ok(mut v) => v.pop(),
        Err(e) => return internal(&e),
    };
    let Some(att) = record.and_then(|r| r.attachments.into_iter().nth(index)) else {
        return crate::errors::not_found(lang);
    };
    let Some(sha) = att
        .sha256
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return crate::errors::not_found(lang);
    };
    let bytes = match std::fs::read(state.opts.data_dir.join("blobs").join(&sha)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return crate::errors::not_found(lang),
        Err(e) => return internal(&e),
    };
    if hex::encode(Sha256::digest(&bytes)) != sha.to_ascii_lowercase() {
        return internal(&format!("blob {sha} does not match its hash"));
    }
    let detail = json!({ "sha256": sha, "name": att.name, "size": bytes.len() });
    if let Err(r) = super::log_or_fail(state, lang, &access.session.user.name, "download", &access.path, detail) {
        return r;
    }
    let name = att.name.unwrap_or_else(|| sha.clone());
    let disposition = format!("attachment; filename*=UTF-8''{}", seg(&name));
    let mime = att
        .mime
        .as_deref()
        .and_then(|m| HeaderValue::from_str(m).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, mime);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}
