//! History backfill (protocols §3.10): list every conversation with
//! `/r/Conversation/listNewestPagination`, then page each one's history with
//! `/r/MessageManager/listUserMessages` down to `backfill_messages_per_chat` messages. The
//! same two calls serve the recovery after a reconnect (`recover.rs`).
//!
//! History pages carry the same messages the live stream does; they normalize to identical
//! events (see `content.rs`), so the store records each once whichever way it came first.
//! IM flow control (`400600001`) is answered with pauses of 2 s, 4 s and 6 s, as the published
//! clients do; a conversation still throttled after that is skipped and logged, and backfill
//! is retried on the next start with `--backfill`.

use std::time::Duration;

use bytes::Bytes;
use proto::{Ingested, RawPayload, batch::media};
use serde_json::{Value, json};

use super::cursor::SyncCursor;
use super::frame::Frame;
use super::message;
use super::transport::Socket;
use crate::{ConnectorContext, ConnectorError};

/// First page marker of both list calls (JavaScript's MAX_SAFE_INTEGER).
const FIRST_PAGE: i64 = 9_007_199_254_740_991;
/// Conversations per list page.
const CONVERSATIONS_PER_PAGE: i64 = 50;
/// Messages per history page.
const MESSAGES_PER_PAGE: u32 = 50;
/// Safety stop for a server whose `hasMore` never ends.
const MAX_PAGES: usize = 10_000;

/// What a pass over the history (backfill or recovery) pages with: how deep it goes per
/// conversation, the pauses that answer flow control, and the cursor each page is
/// committed with.
pub struct Paging<'a> {
    /// Messages per conversation at most (`backfill_messages_per_chat`).
    pub depth: u32,
    /// Pauses after flow control before a request is given up.
    pub flow_delays: &'a [Duration],
    /// The session's cursor.
    pub cursor: &'a mut SyncCursor,
}

impl Paging<'_> {
    /// Lists every conversation and notes the groups among them in the cursor: the first
    /// step of either pass.
    pub async fn conversations(&mut self, socket: &mut Socket) -> Result<Vec<Conv>, ConnectorError> {
        let convs = conversations(socket, self.flow_delays).await?;
        self.cursor.learn_groups(&convs);
        Ok(convs)
    }
}

/// Outcome of a backfill.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Conversations found.
    pub conversations: usize,
    /// History messages handed to the store.
    pub messages: usize,
    /// Conversations skipped (flow control persisted).
    pub skipped: usize,
}

/// Runs the backfill; every page is committed with `cursor` before the next is asked for,
/// and each conversation's high-water mark is noted in `cursor` once it is done.
pub async fn run(
    session: &mut Socket,
    cx: &ConnectorContext,
    mut paging: Paging<'_>,
) -> Result<Progress, ConnectorError> {
    let mut progress = Progress::default();
    let convs = paging.conversations(session).await?;
    progress.conversations = convs.len();
    let depth = paging.depth;
    tracing::info!(connector = %cx.name, conversations = convs.len(), depth, "goofish backfill started");
    for (i, conv) in convs.iter().enumerate() {
        match history(
            session,
            cx,
            &conv.cid,
            Stop::Depth(depth),
            paging.flow_delays,
            paging.cursor,
        )
        .await?
        {
            Ok(paged) => {
                progress.messages += paged.messages;
                if let Some(at) = paged.newest {
                    paging.cursor.saw(&conv.cid, at);
                }
            }
            Err(Throttled) => {
                progress.skipped += 1;
                tracing::warn!(connector = %cx.name, conversation = %conv.cid, "backfill skipped a conversation: flow control persisted");
            }
        }
        tracing::info!(
            connector = %cx.name,
            done = i + 1,
            of = convs.len(),
            messages = progress.messages,
            "goofish backfill progress"
        );
    }
    Ok(progress)
}

/// One conversation of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv {
    /// Conversation id without `@goofish`.
    pub cid: String,
    /// Create time (ms) of its newest message, when the list says.
    pub last_at: Option<i64>,
    /// A group (`conversationType` 2 on its newest message).
    pub group: bool,
}

/// Where paging a conversation's history stops.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this many messages (backfill).
    Depth(u32),
    /// At the first message created before this time (ms): the high-water mark is reached.
    Before(i64),
}

/// What paging a conversation did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Paged {
    /// Messages handed to the store.
    pub messages: usize,
    /// Create time (ms) of the newest message seen.
    pub newest: Option<i64>,
    /// The stop was reached (or the history ended), not a page limit.
    pub complete: bool,
}

/// A request answered with flow control after every pause.
pub struct Throttled;

/// Every conversation, newest first. The request body is positional, `[startTimeStamp,
/// limitNum]`: protocols.md §3.10 [GC] (the object form `{startTimeStamp, limitNum}` in
/// [GC-DOC] is the client library's parameter, not the wire body).
pub async fn conversations(session: &mut Socket, flow_delays: &[Duration]) -> Result<Vec<Conv>, ConnectorError> {
    let mut convs: Vec<Conv> = Vec::new();
    let mut page = FIRST_PAGE;
    for _ in 0..MAX_PAGES {
        let resp = match request(
            session,
            "/r/Conversation/listNewestPagination",
            json!([page, CONVERSATIONS_PER_PAGE]),
            flow_delays,
        )
        .await?
        {
            Ok(r) => r,
            Err(Throttled) => {
                return Err(ConnectorError::Protocol(
                    "conversation list: flow control persisted".into(),
                ));
            }
        };
        for conv in resp
            .body
            .get("userConvs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let single = conv.get("singleChatUserConversation");
            let cid = single
                .and_then(|s| s.get("singleChatConversation"))
                .and_then(|c| c.get("cid"))
                .or_else(|| single.and_then(|s| s.pointer("/lastMessage/message/cid")))
                .and_then(Value::as_str);
            let last_at = single
                .and_then(|s| s.pointer("/lastMessage/message/createAt"))
                .and_then(super::content::as_i64);
            let group = message::chat_type(single.and_then(|s| s.pointer("/lastMessage/message/conversationType")))
                == proto::ChatType::Group;
            if let Some(cid) = cid {
                let bare = cid.strip_suffix("@goofish").unwrap_or(cid).to_string();
                if !convs.iter().any(|c| c.cid == bare) {
                    convs.push(Conv {
                        cid: bare,
                        last_at,
                        group,
                    });
                }
            }
        }
        let next = resp.body.get("nextCursor").and_then(super::content::as_i64);
        match (has_more(&resp.body), next) {
            (true, Some(n)) if n != page => page = n,
            _ => break,
        }
    }
    Ok(convs)
}

/// Pages one conversation from its newest message down to `stop`, committing each page with
/// `cursor`; `Ok(Err(Throttled))` when flow control persisted.
pub async fn history(
    session: &mut Socket,
    cx: &ConnectorContext,
    cid: &str,
    stop: Stop,
    flow_delays: &[Duration],
    cursor: &SyncCursor,
) -> Result<Result<Paged, Throttled>, ConnectorError> {
    let mut paged = Paged::default();
    let mut page = FIRST_PAGE;
    for _ in 0..MAX_PAGES {
        let remaining = match stop {
            Stop::Depth(depth) => depth as usize - paged.messages.min(depth as usize),
            Stop::Before(_) => usize::MAX,
        };
        if remaining == 0 {
            paged.complete = true;
            break;
        }
        let limit = MESSAGES_PER_PAGE.min(remaining.min(u32::MAX as usize) as u32);
        let body = json!([format!("{cid}@goofish"), false, page, limit, false]);
        let resp = match request(session, "/r/MessageManager/listUserMessages", body, flow_delays).await? {
            Ok(r) => r,
            Err(t) => return Ok(Err(t)),
        };
        let models = resp
            .body
            .get("userMessageModels")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut reached = false;
        let mut items = Vec::new();
        for model in models.iter().take(remaining) {
            let at = model.pointer("/message/createAt").and_then(super::content::as_i64);
            if let (Stop::Before(mark), Some(at)) = (stop, at)
                && at < mark
            {
                reached = true;
                break;
            }
            if let Some(at) = at {
                paged.newest = Some(paged.newest.map_or(at, |n| n.max(at)));
            }
            items.push(history_item(model));
        }
        paged.messages += items.len();
        if !items.is_empty() {
            cx.out.commit(items, Some(cursor.to_json())).await?;
            cx.state.touch();
        }
        if reached {
            paged.complete = true;
            break;
        }
        let next = resp.body.get("nextCursor").and_then(super::content::as_i64);
        match (has_more(&resp.body), next) {
            (true, Some(n)) if n != page && !models.is_empty() => page = n,
            _ => {
                paged.complete = true;
                break;
            }
        }
    }
    Ok(Ok(paged))
}

fn history_item(model: &Value) -> Ingested {
    let raw = RawPayload::now(media::JSON, Bytes::from(serde_json::to_vec(model).unwrap_or_default()));
    match message::from_history(model) {
        Ok(e) => Ingested::Payload { raw, events: vec![e] },
        Err(reason) => Ingested::Rejected { raw, reason },
    }
}

/// A request with the flow-control pauses; transport errors end the session.
async fn request(
    session: &mut Socket,
    path: &str,
    body: Value,
    flow_delays: &[Duration],
) -> Result<Result<Frame, Throttled>, ConnectorError> {
    let mut delays = flow_delays.iter();
    loop {
        let resp = session.request(Frame::request(path, body.clone())).await?;
        if resp.is_flow_control() {
            match delays.next() {
                Some(d) => {
                    tracing::info!(path, pause = ?d, "goofish flow control: pausing");
                    session.idle(*d).await?;
                    continue;
                }
                None => return Ok(Err(Throttled)),
            }
        }
        if resp.code != Some(200) {
            return Err(ConnectorError::Protocol(format!("{path}: {}", resp.failure())));
        }
        return Ok(Ok(resp));
    }
}

fn has_more(body: &Value) -> bool {
    match body.get("hasMore") {
        Some(Value::Bool(b)) => *b,
        Some(v) => super::content::as_i64(v).unwrap_or(0) != 0,
        None => false,
    }
}
