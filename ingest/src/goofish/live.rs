//! The live part of a session: read pushes, hand each to the store without waiting for the
//! previous one to commit, and acknowledge the platform in push order as commit notices
//! come back Ok (invariant 1: nothing is acked before it is committed).
//!
//! An ordered queue holds `(commit notice, ack frames, cursor)` per batch (one push, or the
//! burst of pushes that were already waiting when it was read); its head is awaited
//! beside the socket, so reading continues while the store works. The queue is bounded
//! (`max_in_flight`); when full the loop stops reading, TCP pushes back, and the platform
//! holds further pushes until acks arrive.

use std::future::Future;
use std::pin::Pin;

use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};
use proto::{CommitInfo, Ingested, RawPayload, batch::media};
use tokio::time::{Instant, sleep_until};

use super::codec;
use super::cursor::SyncCursor;
use super::frame::{Frame, SYNC_PUSH};
use super::session::{Incoming, Session};
use crate::{ConnectorContext, ConnectorError};

/// Why a live session ended without an error.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// Shutdown requested; in-flight pushes were committed and acked (or left unacked).
    Shutdown,
    /// The access token is due for refresh: re-register now.
    Refresh,
}

type Pending = Pin<Box<dyn Future<Output = (Result<CommitInfo, ConnectorError>, Vec<Frame>, SyncCursor)> + Send>>;

/// Items gathered into one batch at most, from frames that are already waiting (a burst of
/// pushes costs the store one batch, not one each; a lone push is sent at once).
const MAX_ITEMS_PER_BATCH: usize = 256;

/// Runs until shutdown, token refresh or an error. `cursor` is the in-flight position;
/// `committed` follows the commit notices (the position a reconnect resumes from).
pub async fn run(
    session: &mut Session,
    cx: &ConnectorContext,
    cursor: &mut SyncCursor,
    committed: &mut SyncCursor,
    max_in_flight: usize,
    refresh_at: Option<Instant>,
) -> Result<Exit, ConnectorError> {
    let mut pending: FuturesOrdered<Pending> = FuturesOrdered::new();
    let far = Instant::now() + std::time::Duration::from_secs(86_400 * 365);
    loop {
        tokio::select! {
            biased;
            _ = cx.shutdown.cancelled() => {
                drain(session, cx, &mut pending, committed).await;
                return Ok(Exit::Shutdown);
            }
            Some((res, acks, cur)) = pending.next(), if !pending.is_empty() => {
                settle(session, cx, res, acks, cur, committed).await?;
            }
            _ = sleep_until(session.heartbeat_due()) => session.heartbeat_tick().await?,
            _ = sleep_until(refresh_at.unwrap_or(far)), if refresh_at.is_some() => {
                drain(session, cx, &mut pending, committed).await;
                return Ok(Exit::Refresh);
            }
            got = session.next(), if pending.len() < max_in_flight => {
                let mut items = Vec::new();
                let mut acks = Vec::new();
                let mut next = Some(got);
                while let Some(got) = next.take() {
                    if let Some((mut more, ack)) = classify(got?, cursor) {
                        items.append(&mut more);
                        acks.extend(ack);
                    }
                    if items.len() < MAX_ITEMS_PER_BATCH {
                        // Only what is already here: `next` is cancel-safe, so giving up on
                        // a pending read loses nothing.
                        next = session.next().now_or_never();
                    }
                }
                if items.is_empty() && acks.is_empty() {
                    continue;
                }
                let snapshot = *cursor;
                let rx = cx.out.send(items, Some(snapshot.to_json())).await?;
                pending.push_back(Box::pin(async move {
                    let res = match rx.await {
                        Ok(Ok(info)) => Ok(info),
                        Ok(Err(e)) => Err(ConnectorError::Store(e)),
                        Err(_) => Err(ConnectorError::Closed),
                    };
                    (res, acks, snapshot)
                }));
            }
        }
    }
}

/// One notice came back: on Ok, remember the position and ack; on error, stop (nothing of
/// this push or later ones is acked, so the platform redelivers them).
async fn settle(
    session: &mut Session,
    cx: &ConnectorContext,
    res: Result<CommitInfo, ConnectorError>,
    acks: Vec<Frame>,
    cur: SyncCursor,
    committed: &mut SyncCursor,
) -> Result<(), ConnectorError> {
    let info = res?;
    crate::metrics::committed(&cx.name, &info);
    cx.state.touch();
    *committed = cur;
    session.send_all(&acks).await?;
    crate::metrics::acked(&cx.name, acks.len() as u64);
    Ok(())
}

/// On shutdown, settles what is already with the store (bounded wait), so committed pushes
/// are acked and not redelivered next time.
async fn drain(
    session: &mut Session,
    cx: &ConnectorContext,
    pending: &mut FuturesOrdered<Pending>,
    committed: &mut SyncCursor,
) {
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    while !pending.is_empty() {
        match tokio::time::timeout_at(deadline, pending.next()).await {
            Ok(Some((res, acks, cur))) => {
                if settle(session, cx, res, acks, cur, committed).await.is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

/// Turns what arrived into the batch items and the ack to send once they are committed.
/// `None`: nothing to record (a stray response).
fn classify(got: Incoming, cursor: &mut SyncCursor) -> Option<(Vec<Ingested>, Option<Frame>)> {
    match got {
        Incoming::Push { frame, raw } => {
            let ack = frame.ack();
            if frame.lwp.as_deref() == Some(SYNC_PUSH) {
                match codec::decode_sync_push(&frame.body, proto::time::now_ms()) {
                    Ok(decoded) => {
                        cursor.advance(decoded.position);
                        Some((decoded.items, Some(ack)))
                    }
                    Err(e) => {
                        let raw = RawPayload::now(media::JSON, raw);
                        Some((
                            vec![Ingested::Rejected {
                                raw,
                                reason: e.to_string(),
                            }],
                            Some(ack),
                        ))
                    }
                }
            } else {
                // Other pushes (`/s/vulcan`, …) carry no messages and no events.
                let raw = RawPayload::now(media::JSON, raw);
                Some((
                    vec![Ingested::Payload {
                        raw,
                        events: Vec::new(),
                    }],
                    Some(ack),
                ))
            }
        }
        Incoming::Garbage { bytes, reason } => Some((
            vec![Ingested::Rejected {
                raw: RawPayload::now(media::TEXT, bytes),
                reason,
            }],
            None,
        )),
        Incoming::Response(_) => None,
    }
}
