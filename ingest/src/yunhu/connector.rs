//! The Yunhu session on the shared runtime: login, then the live loop (read frames, batch
//! them, hand them to the store without waiting for commits, heartbeat, detect a silent
//! server) with the history catch-up running beside it.
//!
//! Live first: pushes are archived from the moment the login is proven, whatever the history
//! API does. The catch-up ([`super::catchup`]) runs as its own task; when it fails (refused,
//! 5xx, timed out, undecodable) the connector records `history_behind` (a gap in `audit
//! --gaps`, with the reason) and retries with backoff, and records `connected` only once a
//! catch-up succeeded. A chat's stored position never passes history that was not fetched
//! (the watermark in [`super::cursor`]).
//!
//! Yunhu has no acknowledgement to send: what a committed batch releases is the position
//! after it, and a reconnect resumes from the last released position (anything after it is
//! fetched again from history).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};
use proto::{ConnectorStatus, Ingested, RawPayload, batch::media, time::now_ms};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, sleep_until};
use tokio_tungstenite::tungstenite::Message;

use super::YunhuConnector;
use super::api::Api;
use super::catchup::{self, Found};
use super::codec::{Frame, Options, decode, frame_events_with};
use super::cursor::Position;
use super::media::Media;
use super::names::Names;
use super::transport::{self, NOT_LOGGED_IN};
use crate::backoff::Backoff;
use crate::runtime::{Batch, Exit, Link, Session, Window};
use crate::{ConnectorContext, ConnectorError};

/// What the catch-up task may have found but the session not taken yet.
const FOUND_QUEUE: usize = 4;
/// Live batches whose attachments may be downloading at once; past it, no frame is read.
const MAX_PREPARING: usize = 8;
/// A batch carries the position after it at most this often. The position lists every chat
/// (thousands in a company), and carrying it on every batch serialized, held and stored all
/// of it per batch (docs/performance.md, "Memory"). In between, the stored position trails
/// the archive by at most this much more, and the exact one is stored once nothing is in
/// flight (idle, reconnect, shutdown); a restart fetches what it trails again from history.
const CURSOR_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// A live batch once its attachments are in the blob store, with the position after it.
type Prepared = BoxFuture<'static, (Vec<Ingested>, Position)>;

/// Live batches in read order, each waiting for its downloads ([`Media::fill`]); they go to
/// the store in that order, so a position never passes a batch not yet sent.
fn prepare(media: &Arc<Media>, mut items: Vec<Ingested>, pos: Position) -> Prepared {
    let media = media.clone();
    async move {
        for it in &mut items {
            if let Ingested::Payload { events, .. } = it {
                media.fill(events).await;
            }
        }
        (items, pos)
    }
    .boxed()
}

/// Sends every prepared batch, waiting for their downloads.
async fn flush(preparing: &mut FuturesOrdered<Prepared>, feed: &mut Feed) -> Result<(), ConnectorError> {
    while let Some((items, pos)) = preparing.next().await {
        feed.send(items, pos).await?;
    }
    Ok(())
}

/// Batches in flight and the last position the store confirmed.
pub(super) struct Feed {
    window: Window<Position>,
    committed: Position,
    /// When a batch last carried its position ([`CURSOR_EVERY`]).
    carried_at: Option<Instant>,
}

impl Feed {
    fn new(window: Window<Position>, committed: Position) -> Self {
        Feed {
            window,
            committed,
            carried_at: None,
        }
    }

    /// Sends a batch, first waiting for room in the window; `pos` is the position after it,
    /// carried at most every [`CURSOR_EVERY`] and released with the batch (taken by value: a
    /// live batch's own copy, made when it was read, is the one released).
    pub(super) async fn send(&mut self, items: Vec<Ingested>, pos: Position) -> Result<(), ConnectorError> {
        while !self.window.has_room() {
            self.committed = self.window.next().await?;
        }
        let carry = self.carried_at.is_none_or(|t| t.elapsed() >= CURSOR_EVERY);
        if carry {
            self.carried_at = Some(Instant::now());
        }
        self.window.send(items, carry.then(|| pos.to_cursor()), pos).await
    }

    /// Stores the position after the last committed batch if nothing is in flight.
    async fn settle(&mut self) -> Result<(), ConnectorError> {
        if !self.window.is_empty() {
            return Ok(());
        }
        self.window.settle_at(self.committed.to_cursor()).await
    }

    /// Waits until everything in flight is committed, then stores the position.
    async fn drain(&mut self) -> Result<(), ConnectorError> {
        while !self.window.is_empty() {
            self.committed = self.window.next().await?;
        }
        self.settle().await
    }
}

/// The catch-up of one connection: running, waiting for a retry, or done.
struct CatchUp {
    found: Option<mpsc::Receiver<Found>>,
    task: Option<tokio::task::JoinHandle<()>>,
    retry_at: Option<Instant>,
    backoff: Backoff,
}

impl CatchUp {
    fn new(backoff: Backoff) -> Self {
        CatchUp {
            found: None,
            task: None,
            retry_at: None,
            backoff,
        }
    }

    /// Starts a catch-up from `pos`.
    fn start(&mut self, api: &Api, pos: &Position, names: &Arc<Names>, media: &Arc<Media>) {
        let (tx, rx) = mpsc::channel(FOUND_QUEUE);
        self.found = Some(rx);
        self.retry_at = None;
        self.task = Some(tokio::spawn(catchup::run(
            api.clone(),
            pos.clone(),
            tx,
            names.clone(),
            media.clone(),
        )));
    }

    /// The next thing found; pending while no catch-up runs. `None`: the task ended without
    /// a word (it panicked).
    async fn next(&mut self) -> Option<Found> {
        match &mut self.found {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }

    /// When to retry, or never.
    fn retry_at(&self) -> Instant {
        self.retry_at
            .unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(86_400 * 365))
    }
}

impl Drop for CatchUp {
    fn drop(&mut self) {
        // The connection ended: a catch-up still running has nobody to report to.
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// What lives across reconnects.
pub(super) struct YunhuSession {
    conn: Arc<YunhuConnector>,
    api: Api,
    /// Position of everything handed to the store.
    pos: Position,
    /// A conversation list was read by this process: chats that existed then are known (or
    /// marked as starting at their first live message), so chats that appear after the
    /// connection that read it were created later and want their history.
    listed: bool,
    /// Chat names from the conversation list.
    names: Arc<Names>,
    /// Attachment downloads.
    media: Arc<Media>,
}

impl YunhuSession {
    /// The attachment downloads (shared with the retry task).
    pub(super) fn media(&self) -> Arc<Media> {
        self.media.clone()
    }

    pub(super) fn new(conn: Arc<YunhuConnector>, cx: &ConnectorContext) -> Result<Self, ConnectorError> {
        let api = Api::new(&conn.cfg.api_base, conn.cfg.token.clone(), conn.tuning.request_timeout)
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        let (mut pos, warning) = Position::from_cursor(cx.resume_from.as_ref());
        if let Some(w) = warning {
            tracing::warn!(connector = %conn.cfg.name, "{w}");
        }
        // First start without --backfill: archive from now on, not every chat's past (until a
        // catch-up succeeded, chats never seen start at their first live message).
        pos.want_history = cx.resume_from.is_some() || cx.backfill;
        let names = Arc::new(Names::new(conn.names_refresh));
        let media = Arc::new(
            Media::new(cx.blobs.clone(), &cx.data_dir, &conn.cfg.name, conn.retry.clone())
                .map_err(ConnectorError::Config)?,
        );
        Ok(YunhuSession {
            conn,
            api,
            pos,
            listed: false,
            names,
            media,
        })
    }
}

impl Session for YunhuSession {
    async fn run(&mut self, cx: &ConnectorContext, link: &mut Link<'_>) -> Result<Exit, ConnectorError> {
        let mut feed = Feed::new(Window::new(cx, self.conn.tuning.window), self.pos.clone());
        let ended = self.connection(cx, link, &mut feed).await;
        let want_history = self.pos.want_history || self.listed;
        if ended.is_err() {
            // Resume from what the store confirmed; anything after it is fetched again from
            // history.
            self.pos = feed.committed;
        }
        self.pos.want_history = want_history;
        ended
    }
}

impl YunhuSession {
    async fn connection(
        &mut self,
        cx: &ConnectorContext,
        link: &mut Link<'_>,
        feed: &mut Feed,
    ) -> Result<Exit, ConnectorError> {
        let conn = self.conn.clone();
        let t = &conn.tuning;
        let (mut sink, mut stream) = tokio::select! {
            r = tokio::time::timeout(t.connect_timeout, transport::connect(&conn.cfg.ws_url, t.frame_limit(cx.max_body_bytes))) => {
                r.map_err(|_| ConnectorError::Transport("connect timed out".into()))??
            }
            _ = cx.shutdown.cancelled() => return Err(ConnectorError::Shutdown),
        };
        let mut hb_seq = 0u64;
        transport::send_text(
            &mut sink,
            transport::login_frame(&conn.cfg, &format!("login-{}", now_ms())),
        )
        .await?;
        transport::send_heartbeat(&mut sink, &mut hb_seq).await?;
        let early = transport::await_login(&mut stream, t.login_timeout).await?;
        // `connected` is recorded once a catch-up succeeded: until then the history missed
        // while away is not in the archive, and the gap stays open.
        link.alive();

        let mut ticker = tokio::time::interval(t.heartbeat);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticker.tick().await;
        let mut catch_up = CatchUp::new(t.backoff.clone());
        catch_up.start(&self.api, &self.pos, &self.names, &self.media);

        let mut last_seen = Instant::now();
        let mut preparing: FuturesOrdered<Prepared> = FuturesOrdered::new();
        let mut batch = Batch::new(t.batch);
        for bytes in early {
            self.handle(Message::Binary(bytes), &mut batch, &mut last_seen)?;
        }
        if !batch.is_empty() {
            preparing.push_back(prepare(&self.media, batch.into_parts().0, self.pos.clone()));
        }
        last_seen = Instant::now();
        loop {
            let (retrying, retry_at) = (catch_up.retry_at.is_some(), catch_up.retry_at());
            tokio::select! {
                biased;
                _ = cx.shutdown.cancelled() => {
                    flush(&mut preparing, feed).await?;
                    feed.drain().await?;
                    return Ok(Exit::Shutdown);
                }
                committed = feed.window.next() => feed.committed = committed?,
                Some((items, pos)) = preparing.next(), if feed.window.has_room() && !preparing.is_empty() => {
                    feed.send(items, pos).await?;
                }
                _ = ticker.tick() => {
                    // With every preparing slot taken no frame is read: the silence is ours.
                    let dead = if last_seen.elapsed() > t.heartbeat_timeout && preparing.len() < MAX_PREPARING {
                        Some(ConnectorError::Transport(format!(
                            "no frame or heartbeat ack for {} ms", last_seen.elapsed().as_millis()
                        )))
                    } else {
                        transport::send_heartbeat(&mut sink, &mut hb_seq).await.err()
                    };
                    if let Some(e) = dead {
                        // Live batches read before the end are archived before reconnecting.
                        flush(&mut preparing, feed).await?;
                        feed.drain().await?;
                        return Err(e);
                    }
                    // Idle: store the newest confirmed position, so a crash re-reads little.
                    feed.settle().await?;
                }
                // Catch-up pages carry the current position, which counts live batches still
                // preparing: they wait until those are sent.
                found = catch_up.next(), if feed.window.has_room() && preparing.is_empty() => {
                    self.found(cx, link, feed, &mut catch_up, found).await?;
                }
                _ = sleep_until(retry_at), if retrying => {
                    catch_up.start(&self.api, &self.pos, &self.names, &self.media);
                }
                msg = stream.next(), if feed.window.has_room() && preparing.len() < MAX_PREPARING => {
                    let mut batch = Batch::new(t.batch);
                    let mut ended = match msg {
                        Some(Ok(m)) => self.handle(m, &mut batch, &mut last_seen).err(),
                        Some(Err(e)) => Some(ConnectorError::Transport(format!("read: {e}"))),
                        None => Some(ConnectorError::Transport("server closed the connection".into())),
                    };
                    // Take whatever else is already readable into the same batch.
                    while ended.is_none() && !batch.is_full() {
                        match stream.next().now_or_never() {
                            Some(Some(Ok(m))) => ended = self.handle(m, &mut batch, &mut last_seen).err(),
                            Some(Some(Err(e))) => ended = Some(ConnectorError::Transport(format!("read: {e}"))),
                            Some(None) => ended = Some(ConnectorError::Transport("server closed the connection".into())),
                            None => break,
                        }
                    }
                    if !batch.is_empty() {
                        preparing.push_back(prepare(&self.media, batch.into_parts().0, self.pos.clone()));
                    }
                    if let Some(e) = ended {
                        // What was read before the drop is archived before reconnecting.
                        flush(&mut preparing, feed).await?;
                        feed.drain().await?;
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Takes what the catch-up found: pages advance their chat's watermark as they go to the
    /// store; the end records `connected`, or `history_behind` and schedules a retry.
    async fn found(
        &mut self,
        cx: &ConnectorContext,
        link: &mut Link<'_>,
        feed: &mut Feed,
        catch_up: &mut CatchUp,
        found: Option<Found>,
    ) -> Result<(), ConnectorError> {
        let name = &self.conn.cfg.name;
        let failure = match found {
            Some(Found::Listed(skipped)) => {
                for (id, t) in skipped {
                    self.pos.skip_history(&id, t);
                }
                self.listed = true;
                return Ok(());
            }
            Some(Found::Page {
                chat_id,
                chat_type,
                top,
                mut items,
                seqs,
            }) => {
                self.names.sync(&mut self.pos, &chat_id);
                for it in &mut items {
                    if let Ingested::Payload { events, .. } = it {
                        Names::apply(&self.pos, events, |id| seqs.get(id).copied());
                    }
                }
                self.pos.fetched(&chat_id, chat_type, top);
                return feed.send(items, self.pos.clone()).await;
            }
            Some(Found::Tail {
                msg_id,
                chat_id,
                have,
                len,
                items,
            }) => {
                // Live chunks arrived meanwhile: they continue the stream; this tail would
                // repeat them.
                if self.pos.stream_len(&msg_id) == Some(have) {
                    self.pos.append_stream(&msg_id, &chat_id, len);
                    feed.send(items, self.pos.clone()).await?;
                }
                return Ok(());
            }
            Some(Found::Done(Ok(stats))) => {
                catch_up.found = None;
                catch_up.task = None;
                self.pos.want_history = true;
                tracing::info!(connector = %name, chats = stats.chats, rows = stats.rows, events = stats.events, "yunhu catch-up finished");
                link.connected(None).await;
                return Ok(());
            }
            Some(Found::Done(Err(e))) => e.to_string(),
            None => "catch-up stopped unexpectedly".to_string(),
        };
        catch_up.found = None;
        catch_up.task = None;
        let wait = catch_up.backoff.next_delay();
        catch_up.retry_at = Some(Instant::now() + wait);
        crate::metrics::noticed(name, "yunhu_catch_up_failed");
        tracing::warn!(connector = %name, error = %failure, retry_in_ms = wait.as_millis() as u64, "yunhu history catch-up failed; live messages are still archived");
        cx.state
            .set(
                ConnectorStatus::HistoryBehind,
                Some(format!(
                    "history catch-up failed ({failure}); live messages are archived, history missed while away is not fetched yet"
                )),
            )
            .await;
        Ok(())
    }

    /// One frame → an item of the batch (or nothing for acks and pings).
    fn handle(&mut self, msg: Message, batch: &mut Batch<()>, last_seen: &mut Instant) -> Result<(), ConnectorError> {
        let name = &self.conn.cfg.name;
        *last_seen = Instant::now();
        let received_at = now_ms();
        match msg {
            Message::Binary(bytes) => {
                let raw = RawPayload {
                    received_at,
                    media_type: media::PROTOBUF.into(),
                    bytes,
                };
                match decode(&raw.bytes) {
                    Ok(Frame::HeartbeatAck { .. }) => {}
                    Ok(frame) => {
                        let opts = Options {
                            archive_drafts: self.conn.cfg.archive_drafts,
                        };
                        // The name is noted before the push moves the position (see `names.rs`).
                        let seq = match &frame {
                            Frame::Push(m) => {
                                if self.names.sync(&mut self.pos, &m.chat_id) {
                                    self.names.refresh_soon(&self.api, name);
                                }
                                Some(m.msg_seq)
                            }
                            _ => None,
                        };
                        let mut events = frame_events_with(&frame, &mut self.pos, received_at, opts);
                        Names::apply(&self.pos, &mut events, |_| seq);
                        batch.push(Ingested::Payload { raw, events });
                    }
                    Err(e) => {
                        if raw.bytes.as_ref() == NOT_LOGGED_IN.as_bytes() {
                            return Err(ConnectorError::Auth(format!("session refused: {NOT_LOGGED_IN}")));
                        }
                        crate::metrics::noticed(name, "yunhu_bad_frame");
                        tracing::warn!(connector = %name, error = %e, "rejected frame");
                        batch.push(Ingested::Rejected {
                            raw,
                            reason: e.to_string(),
                        });
                    }
                }
            }
            Message::Text(t) => {
                if t.as_str() == NOT_LOGGED_IN {
                    return Err(ConnectorError::Auth(format!("session refused: {NOT_LOGGED_IN}")));
                }
                let raw = RawPayload {
                    received_at,
                    media_type: media::TEXT.into(),
                    bytes: Bytes::from(t),
                };
                batch.push(Ingested::Rejected {
                    raw,
                    reason: "unexpected text frame from yunhu server".into(),
                });
            }
            Message::Close(_) => {
                return Err(ConnectorError::Transport("server closed the connection".into()));
            }
            _ => {}
        }
        Ok(())
    }
}
