//! The Yunhu HTTP API used for catch-up: conversation list, history by seq, one message by
//! id, and a message's edit records. Protobuf bodies (edit records are JSON, as documented),
//! header `token`, `Status.code` 1 = OK.

use bytes::Bytes;
use config::Secret;
use prost::Message as _;
use proto::yunhu::{
    ChatType, ConversationListRequest, ConversationListResponse, ListMsgByMidSeqRequest, ListMsgBySeqRequest,
    ListMsgResponse, Status, conversation_list_response, list_msg_response::MsgData,
};
use serde::Deserialize;

/// Largest response read (a history page is a few hundred KiB at most).
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Edit records fetched per page.
const EDIT_PAGE: u64 = 50;

/// Why an API call failed. Never contains the token.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Network failure or timeout.
    #[error("yunhu api {path}: {message}")]
    Transport {
        /// Endpoint.
        path: &'static str,
        /// What failed.
        message: String,
    },
    /// The token was refused (HTTP 401/403).
    #[error("yunhu api {path}: token refused (HTTP {status})")]
    Unauthorized {
        /// Endpoint.
        path: &'static str,
        /// HTTP status.
        status: u16,
    },
    /// Non-success HTTP status.
    #[error("yunhu api {path}: HTTP {status}")]
    Http {
        /// Endpoint.
        path: &'static str,
        /// HTTP status.
        status: u16,
    },
    /// `Status.code` was not 1.
    #[error("yunhu api {path}: status {code} {msg}")]
    Status {
        /// Endpoint.
        path: &'static str,
        /// Platform code.
        code: i64,
        /// Platform message.
        msg: String,
    },
    /// The body was not what the endpoint returns.
    #[error("yunhu api {path}: undecodable response: {message}")]
    Decode {
        /// Endpoint.
        path: &'static str,
        /// Decoder message.
        message: String,
    },
}

/// One edit record: the content a message had *before* the edit at `msg_time`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditRecord {
    /// Record id.
    #[serde(default)]
    pub id: u64,
    /// Message id.
    #[serde(default)]
    pub msg_id: String,
    /// Content type of the old content.
    #[serde(default)]
    pub content_type: u64,
    /// The old content as escaped JSON (`{"text": …}`).
    #[serde(default)]
    pub content_old: String,
    /// Message creation time (ms).
    #[serde(default)]
    pub create_time: u64,
    /// Edit time (ms).
    #[serde(default)]
    pub msg_time: u64,
}

impl EditRecord {
    /// The old text.
    pub fn old_text(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.content_old)
            .ok()
            .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_string))
            .unwrap_or_else(|| self.content_old.clone())
    }
}

#[derive(Deserialize)]
struct EditRecordResponse {
    code: i64,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    data: Option<EditRecordPage>,
}

#[derive(Deserialize)]
struct EditRecordPage {
    #[serde(default)]
    list: Vec<EditRecord>,
    #[serde(default)]
    total: u64,
}

/// A response body with its decoded form (the raw bytes are archived).
pub struct Fetched<T> {
    /// Body as received.
    pub raw: Bytes,
    /// Decoded.
    pub value: T,
}

/// Client for one account.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl Api {
    /// A client for `base` (e.g. `https://chat-go.jwzhd.com`); each request may take
    /// `timeout` (a slow history API fails the catch-up, which is retried, instead of
    /// holding it).
    pub fn new(base: &str, token: Secret, timeout: std::time::Duration) -> Result<Api, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ApiError::Transport {
                path: "client",
                message: e.to_string(),
            })?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    async fn post(&self, path: &'static str, body: Vec<u8>, json: bool) -> Result<Bytes, ApiError> {
        let ct = if json {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        let mut resp = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("token", self.token.expose())
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .map_err(|e| ApiError::Transport {
                path,
                message: e.without_url().to_string(),
            })?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(ApiError::Unauthorized { path, status });
        }
        if !resp.status().is_success() {
            return Err(ApiError::Http { path, status });
        }
        let mut buf = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| ApiError::Transport {
            path,
            message: e.without_url().to_string(),
        })? {
            if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ApiError::Decode {
                    path,
                    message: format!("response over {MAX_RESPONSE_BYTES} bytes"),
                });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    }

    /// `POST /v1/conversation/list`.
    pub async fn conversations(&self) -> Result<Vec<conversation_list_response::Data>, ApiError> {
        const PATH: &str = "/v1/conversation/list";
        let raw = self
            .post(
                PATH,
                ConversationListRequest { md5: String::new() }.encode_to_vec(),
                false,
            )
            .await?;
        let r = ConversationListResponse::decode(raw.as_ref()).map_err(|e| decode_err(PATH, e))?;
        check(PATH, r.status.as_ref())?;
        Ok(r.data)
    }

    /// `POST /v1/msg/list-message-by-seq`: messages of a chat after `start` (excluded).
    pub async fn after_seq(
        &self,
        chat_id: &str,
        chat_type: u64,
        start: u64,
    ) -> Result<Fetched<Vec<MsgData>>, ApiError> {
        const PATH: &str = "/v1/msg/list-message-by-seq";
        let req = ListMsgBySeqRequest {
            msg_start: start,
            chat_type: wire_chat_type(chat_type),
            chat_id: chat_id.into(),
        };
        let raw = self.post(PATH, req.encode_to_vec(), false).await?;
        let r = ListMsgResponse::decode(raw.as_ref()).map_err(|e| decode_err(PATH, e))?;
        check(PATH, r.status.as_ref())?;
        Ok(Fetched { raw, value: r.data })
    }

    /// `POST /v1/msg/list-message-by-mid-seq` with count 0: one message by id.
    pub async fn message(
        &self,
        chat_id: &str,
        chat_type: u64,
        msg_id: &str,
    ) -> Result<Fetched<Option<MsgData>>, ApiError> {
        const PATH: &str = "/v1/msg/list-message-by-mid-seq";
        let req = ListMsgByMidSeqRequest {
            chat_type: wire_chat_type(chat_type),
            chat_id: chat_id.into(),
            msg_id: msg_id.into(),
            msg_count: 0,
            ..Default::default()
        };
        let raw = self.post(PATH, req.encode_to_vec(), false).await?;
        let r = ListMsgResponse::decode(raw.as_ref()).map_err(|e| decode_err(PATH, e))?;
        check(PATH, r.status.as_ref())?;
        let value = r.data.into_iter().find(|m| m.msg_id == msg_id);
        Ok(Fetched { raw, value })
    }

    /// `POST /v1/msg/list-message-edit-record`, every page: the message's edit records.
    pub async fn edit_records(&self, msg_id: &str) -> Result<Fetched<Vec<EditRecord>>, ApiError> {
        const PATH: &str = "/v1/msg/list-message-edit-record";
        let mut all = Vec::new();
        let mut raws = Vec::new();
        for page in 1..=100u64 {
            let body = serde_json::json!({ "msgId": msg_id, "size": EDIT_PAGE, "page": page });
            let raw = self.post(PATH, body.to_string().into_bytes(), true).await?;
            let r: EditRecordResponse = serde_json::from_slice(&raw).map_err(|e| ApiError::Decode {
                path: PATH,
                message: e.to_string(),
            })?;
            if r.code != 1 {
                return Err(ApiError::Status {
                    path: PATH,
                    code: r.code,
                    msg: r.msg,
                });
            }
            let data = r.data.unwrap_or(EditRecordPage {
                list: Vec::new(),
                total: 0,
            });
            let n = data.list.len() as u64;
            all.extend(data.list);
            raws.push(raw);
            if n < EDIT_PAGE || all.len() as u64 >= data.total {
                break;
            }
        }
        // Several pages are kept as one JSON array of the bodies as received.
        let raw = if raws.len() == 1 {
            raws.pop().unwrap_or_default()
        } else {
            let mut joined = b"[".to_vec();
            for (i, r) in raws.iter().enumerate() {
                if i > 0 {
                    joined.push(b',');
                }
                joined.extend_from_slice(r);
            }
            joined.push(b']');
            Bytes::from(joined)
        };
        Ok(Fetched { raw, value: all })
    }
}

fn wire_chat_type(t: u64) -> i32 {
    match t {
        1 => ChatType::User as i32,
        2 => ChatType::Group as i32,
        3 => ChatType::Bot as i32,
        _ => ChatType::Unknown1 as i32,
    }
}

fn decode_err(path: &'static str, e: prost::DecodeError) -> ApiError {
    ApiError::Decode {
        path,
        message: e.to_string(),
    }
}

fn check(path: &'static str, s: Option<&Status>) -> Result<(), ApiError> {
    match s {
        Some(s) if s.code == 1 => Ok(()),
        Some(s) => Err(ApiError::Status {
            path,
            code: s.code.into(),
            msg: s.msg.clone(),
        }),
        None => Err(ApiError::Decode {
            path,
            message: "no status".into(),
        }),
    }
}
