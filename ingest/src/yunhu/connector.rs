//! The Yunhu session on the shared runtime: login, catch-up through the history API, then
//! the live loop (read frames, batch them, hand them to the store without waiting for
//! commits, heartbeat, detect a silent server).
//!
//! Yunhu has no acknowledgement to send: what a committed batch releases is the position
//! after it, and a reconnect resumes from the last released position (anything after it is
//! fetched again from history).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use proto::{Ingested, RawPayload, batch::media, time::now_ms};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use super::YunhuConnector;
use super::api::Api;
use super::catchup::catch_up;
use super::codec::{Frame, Options, decode, frame_events_with};
use super::cursor::Position;
use super::transport::{self, NOT_LOGGED_IN};
use crate::runtime::{Batch, Exit, Link, Session, Window};
use crate::{ConnectorContext, ConnectorError};

/// Batches in flight and the last position the store confirmed.
pub(super) struct Feed {
    window: Window<Position>,
    committed: Position,
}

impl Feed {
    /// Sends a batch carrying `pos`, first waiting for room in the window.
    pub(super) async fn send(&mut self, items: Vec<Ingested>, pos: &Position) -> Result<(), ConnectorError> {
        while !self.window.has_room() {
            self.committed = self.window.next().await?;
        }
        self.window.send(items, Some(pos.to_cursor()), pos.clone()).await
    }

    /// Waits until everything in flight is committed.
    async fn drain(&mut self) -> Result<(), ConnectorError> {
        while !self.window.is_empty() {
            self.committed = self.window.next().await?;
        }
        Ok(())
    }
}

/// What lives across reconnects.
pub(super) struct YunhuSession {
    conn: Arc<YunhuConnector>,
    api: Api,
    /// Position of everything handed to the store.
    pos: Position,
    /// Chats without a position are not backfilled (first start without `--backfill`; their
    /// live messages start them).
    skip_unknown: bool,
}

impl YunhuSession {
    pub(super) fn new(conn: Arc<YunhuConnector>, cx: &ConnectorContext) -> Result<Self, ConnectorError> {
        let api =
            Api::new(&conn.cfg.api_base, conn.cfg.token.clone()).map_err(|e| ConnectorError::Config(e.to_string()))?;
        let (pos, warning) = Position::from_cursor(cx.resume_from.as_ref());
        if let Some(w) = warning {
            tracing::warn!(connector = %conn.cfg.name, "{w}");
        }
        Ok(YunhuSession {
            conn,
            api,
            pos,
            // First start without --backfill: archive from now on, not every chat's past.
            skip_unknown: cx.resume_from.is_none() && !cx.backfill,
        })
    }
}

impl Session for YunhuSession {
    async fn run(&mut self, cx: &ConnectorContext, link: &mut Link<'_>) -> Result<Exit, ConnectorError> {
        let mut feed = Feed {
            window: Window::new(cx, self.conn.tuning.window),
            committed: self.pos.clone(),
        };
        let ended = self.connection(cx, link, &mut feed).await;
        if ended.is_err() {
            // Resume from what the store confirmed; anything after it is fetched again from
            // history.
            self.pos = feed.committed;
        }
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
            r = tokio::time::timeout(t.connect_timeout, transport::connect(&conn.cfg.ws_url)) => {
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
        link.connected(None).await;

        // Catch-up first, so a position never passes messages not yet fetched; frames pushed
        // meanwhile wait in the socket, heartbeats keep going.
        let mut ticker = tokio::time::interval(t.heartbeat);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticker.tick().await;
        let stopped = {
            let fut = catch_up(&self.api, &mut self.pos, feed, self.skip_unknown);
            tokio::pin!(fut);
            loop {
                tokio::select! {
                    r = &mut fut => { r?; break false; }
                    _ = ticker.tick() => transport::send_heartbeat(&mut sink, &mut hb_seq).await?,
                    _ = cx.shutdown.cancelled() => break true,
                }
            }
        };
        if stopped {
            feed.drain().await?;
            return Ok(Exit::Shutdown);
        }
        self.skip_unknown = false;

        let mut last_seen = Instant::now();
        let mut batch = Batch::new(t.batch);
        for bytes in early {
            self.handle(Message::Binary(bytes), &mut batch, &mut last_seen)?;
        }
        if !batch.is_empty() {
            feed.send(batch.into_parts().0, &self.pos).await?;
        }
        last_seen = Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = cx.shutdown.cancelled() => {
                    feed.drain().await?;
                    return Ok(Exit::Shutdown);
                }
                committed = feed.window.next() => feed.committed = committed?,
                _ = ticker.tick() => {
                    if last_seen.elapsed() > t.heartbeat_timeout {
                        return Err(ConnectorError::Transport(format!(
                            "no frame or heartbeat ack for {} ms", last_seen.elapsed().as_millis()
                        )));
                    }
                    transport::send_heartbeat(&mut sink, &mut hb_seq).await?;
                }
                msg = stream.next(), if feed.window.has_room() => {
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
                        feed.send(batch.into_parts().0, &self.pos).await?;
                    }
                    if let Some(e) = ended {
                        // What was read before the drop is archived before reconnecting.
                        feed.drain().await?;
                        return Err(e);
                    }
                }
            }
        }
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
                        let events = frame_events_with(&frame, &mut self.pos, received_at, opts);
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
