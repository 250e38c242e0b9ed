//! The Goofish session on the shared runtime: obtain a token, connect, register (§3.3),
//! backfill history when asked, recover what was missed while away (`recover.rs`: every
//! conversation past its high-water mark is paged back to it, so nothing depends on the
//! server replaying), then the live loop.
//!
//! Live pushes go to the store without waiting for earlier commits: each batch (one push, or
//! the burst of pushes already waiting when it was read) enters the [`Window`] with its ack
//! frames and the sync position after it, and the acks go out in push order as the window
//! releases them (invariant 1). While the window is full the loop stops reading, TCP pushes
//! back and the platform holds further pushes until acks arrive.

use std::sync::Arc;

use futures_util::FutureExt;
use proto::{Ingested, RawPayload, batch::media};
use serde_json::json;
use tokio::time::{Instant, sleep_until};

use super::auth::Auth;
use super::cursor::SyncCursor;
use super::frame::{self, Frame, SYNC_PUSH};
use super::transport::{Incoming, Socket};
use super::{GoofishConnector, backfill, codec, recover};
use crate::runtime::{Batch, Exit, Link, Session, Window};
use crate::{ConnectorContext, ConnectorError};

/// How long shutdown (or a token refresh) waits for pushes in flight, to ack the committed ones.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// What a committed batch releases: its ack frames and the position after it.
type Release = (Vec<Frame>, SyncCursor);

/// Mutable state carried across reconnects.
pub(super) struct GoofishSession {
    conn: Arc<GoofishConnector>,
    auth: Auth,
    /// Position of everything handed to the store (may be ahead of `committed`).
    cursor: SyncCursor,
    /// Position of everything committed: where a reconnect resumes.
    committed: SyncCursor,
    want_backfill: bool,
}

impl GoofishSession {
    fn paging(&mut self) -> backfill::Paging<'_> {
        backfill::Paging {
            depth: self.conn.cfg.backfill_messages_per_chat,
            flow_delays: &self.conn.tuning.flow_control_pauses,
            cursor: &mut self.cursor,
        }
    }

    /// Commits the cursor alone, so that a restart resumes after what a history pass saw.
    async fn commit_cursor(&mut self, cx: &ConnectorContext) -> Result<(), ConnectorError> {
        cx.out.commit(Vec::new(), Some(self.cursor.to_json())).await?;
        self.committed = self.cursor.clone();
        Ok(())
    }

    pub(super) fn new(conn: Arc<GoofishConnector>, cx: &ConnectorContext) -> Result<Self, ConnectorError> {
        let stored = cx.resume_from.as_ref();
        let cursor = SyncCursor::from_stored(stored).unwrap_or_else(|| {
            if stored.is_some() {
                tracing::warn!(connector = %cx.name, "unreadable goofish cursor; starting without a sync position");
            }
            SyncCursor::default()
        });
        Ok(GoofishSession {
            auth: Auth::new(&conn.cfg)?,
            conn,
            want_backfill: cx.backfill || !cursor.backfilled,
            committed: cursor.clone(),
            cursor,
        })
    }
}

impl Session for GoofishSession {
    async fn run(&mut self, cx: &ConnectorContext, link: &mut Link<'_>) -> Result<Exit, ConnectorError> {
        self.cursor = self.committed.clone();
        // A cursor that was backfilled once: this is a reconnect, or a restart resuming from
        // it; what arrived meanwhile is recovered from history.
        let resumed = self.committed.backfilled;
        let conn = self.conn.clone();
        let mut token = self.auth.token().await?;
        let mut socket = tokio::select! {
            s = Socket::connect(&conn.cfg.ws_url, self.auth.cookies(), &conn.tuning, conn.tuning.frame_limit(cx.max_body_bytes)) => s?,
            _ = cx.shutdown.cancelled() => return Err(ConnectorError::Shutdown),
        };
        let mut reg = socket
            .request(frame::register(token.expose(), &conn.cfg.device_id))
            .await?;
        // A refused token may only be stale: with cookies, fetch a new one once.
        if reg.code != Some(200) && self.auth.refused() {
            token = self.auth.token().await?;
            reg = socket
                .request(frame::register(token.expose(), &conn.cfg.device_id))
                .await?;
            if reg.code != Some(200) {
                self.auth.refused();
            }
        }
        if reg.code != Some(200) {
            return Err(ConnectorError::Auth(format!("registration refused: {}", reg.failure())));
        }
        // `connected` is recorded once the history missed while away is recovered: until then
        // the gap stays open.
        link.alive();

        let state = checked(
            socket
                .request(Frame::request("/r/SyncStatus/getState", json!([{"topic": "sync"}])))
                .await?,
        )?;
        if !self.cursor.has_position() {
            self.cursor.adopt_state(&state.body);
        }
        let arg = self.cursor.ack_diff_arg(proto::time::now_ms());
        checked(
            socket
                .request(Frame::request("/r/SyncStatus/ackDiff", json!([arg])))
                .await?,
        )?;
        if self.cursor != self.committed {
            self.commit_cursor(cx).await?;
        }
        if !resumed {
            // A first start: nothing was missed; the backfill is history the archive chose to
            // add.
            link.connected(None).await;
        }
        if self.want_backfill {
            self.backfill(&mut socket, cx).await?;
        }
        if resumed {
            self.recover(&mut socket, cx, link).await?;
        }

        let exit = self.live(&mut socket, cx).await;
        if exit.is_ok() {
            socket.close().await;
        }
        exit
    }
}

impl GoofishSession {
    async fn backfill(&mut self, socket: &mut Socket, cx: &ConnectorContext) -> Result<(), ConnectorError> {
        let started = std::time::Instant::now();
        let p = backfill::run(socket, cx, self.paging()).await?;
        self.cursor.backfilled = true;
        self.commit_cursor(cx).await?;
        self.want_backfill = false;
        tracing::info!(
            connector = %cx.name,
            conversations = p.conversations,
            messages = p.messages,
            skipped = p.skipped,
            secs = started.elapsed().as_secs_f64(),
            "goofish backfill finished"
        );
        Ok(())
    }

    /// Pages back every conversation past its high-water mark; records `connected` when
    /// nothing is missing, `history_behind` naming what could not be recovered otherwise.
    async fn recover(
        &mut self,
        socket: &mut Socket,
        cx: &ConnectorContext,
        link: &mut Link<'_>,
    ) -> Result<(), ConnectorError> {
        let done = recover::run(socket, cx, self.paging()).await?;
        self.commit_cursor(cx).await?;
        tracing::info!(
            connector = %cx.name,
            conversations = done.conversations,
            paged = done.paged,
            messages = done.messages,
            missed = done.missed.len(),
            "goofish recovery finished"
        );
        if done.missed.is_empty() {
            link.connected(None).await;
        } else {
            let shown: Vec<&str> = done.missed.iter().take(5).map(String::as_str).collect();
            cx.state
                .set(
                    proto::ConnectorStatus::HistoryBehind,
                    Some(format!(
                        "{} conversation(s) not recovered (flow control or too long a gap), e.g. {}; live messages are archived, the next reconnect tries again",
                        done.missed.len(),
                        shown.join(", ")
                    )),
                )
                .await;
        }
        Ok(())
    }

    /// Runs until shutdown, token refresh or an error.
    async fn live(&mut self, socket: &mut Socket, cx: &ConnectorContext) -> Result<Exit, ConnectorError> {
        let conn = self.conn.clone();
        let tuning = &conn.tuning;
        let refresh_at = self.auth.refresh_at();
        let far = Instant::now() + std::time::Duration::from_secs(86_400 * 365);
        let mut window: Window<Release> = Window::new(cx, tuning.window);
        loop {
            tokio::select! {
                biased;
                _ = cx.shutdown.cancelled() => {
                    self.drain(socket, cx, &mut window).await;
                    return Ok(Exit::Shutdown);
                }
                released = window.next() => self.release(socket, cx, released?).await?,
                _ = sleep_until(socket.heartbeat_due()) => {
                    socket.heartbeat_tick().await?;
                    // Idle: store the newest committed position, so a crash re-reads little.
                    window.settle_cursor().await?;
                }
                _ = sleep_until(refresh_at.unwrap_or(far)), if refresh_at.is_some() => {
                    self.drain(socket, cx, &mut window).await;
                    tracing::info!(connector = %cx.name, "re-registering with a refreshed access token");
                    return Ok(Exit::Reconnect);
                }
                got = socket.next(), if window.has_room() => {
                    let mut batch = Batch::new(tuning.batch);
                    let mut next = Some(got);
                    while let Some(got) = next.take() {
                        classify(got?, &mut self.cursor, &mut batch);
                        if !batch.is_full() {
                            // Only what is already here: `next` is cancel-safe, so giving up on
                            // a pending read loses nothing.
                            next = socket.next().now_or_never();
                        }
                    }
                    if batch.is_empty() {
                        continue;
                    }
                    let (items, acks) = batch.into_parts();
                    let position = self.cursor.clone();
                    window.send(items, Some(position.to_json()), (acks, position)).await?;
                }
            }
        }
    }

    /// A batch committed: remember its position and ack its pushes.
    async fn release(
        &mut self,
        socket: &mut Socket,
        cx: &ConnectorContext,
        (acks, position): Release,
    ) -> Result<(), ConnectorError> {
        self.committed = position;
        socket.send_all(&acks).await?;
        crate::metrics::acked(&cx.name, acks.len() as u64);
        Ok(())
    }

    /// Releases what is already with the store (bounded wait), so committed pushes are acked
    /// and not redelivered next time.
    async fn drain(&mut self, socket: &mut Socket, cx: &ConnectorContext, window: &mut Window<Release>) {
        let deadline = Instant::now() + DRAIN;
        while let Some(Ok(released)) = window.next_before(deadline).await {
            if self.release(socket, cx, released).await.is_err() {
                return;
            }
        }
        if let Err(e) = window.settle_cursor().await {
            tracing::warn!(connector = %cx.name, error = %e, "could not store the resume position");
        }
    }
}

/// Puts what arrived into the batch, with the ack to send once it is committed. A stray
/// response adds nothing.
fn classify(got: Incoming, cursor: &mut SyncCursor, batch: &mut Batch<Frame>) {
    match got {
        Incoming::Push { frame, raw } => {
            batch.ack(frame.ack());
            if frame.lwp.as_deref() != Some(SYNC_PUSH) {
                // Other pushes (`/s/vulcan`, …) carry no messages and no events.
                batch.push(Ingested::Payload {
                    raw: RawPayload::now(media::JSON, raw),
                    events: Vec::new(),
                });
                return;
            }
            match codec::decode_sync_push(&frame.body, proto::time::now_ms()) {
                Ok(decoded) => {
                    cursor.advance(decoded.position);
                    for mut item in decoded.items {
                        if let Ingested::Payload { events, .. } = &mut item {
                            for e in events.iter_mut() {
                                let group = cursor.groups.contains(&e.chat_id);
                                if let proto::EventBody::Message(m) = &mut e.body {
                                    cursor.saw(&e.chat_id, e.occurred_at.unwrap_or(0));
                                    if group {
                                        m.chat_type = proto::ChatType::Group;
                                    }
                                }
                            }
                        }
                        batch.push(item);
                    }
                }
                Err(e) => batch.push(Ingested::Rejected {
                    raw: RawPayload::now(media::JSON, raw),
                    reason: e.to_string(),
                }),
            }
        }
        Incoming::Garbage { bytes, reason } => batch.push(Ingested::Rejected {
            raw: RawPayload::now(media::TEXT, bytes),
            reason,
        }),
        Incoming::Response(_) => {}
    }
}

/// A response must say `code 200`.
fn checked(resp: Frame) -> Result<Frame, ConnectorError> {
    if resp.code == Some(200) {
        Ok(resp)
    } else {
        Err(ConnectorError::Protocol(resp.failure()))
    }
}
