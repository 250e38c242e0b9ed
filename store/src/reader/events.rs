//! The event log in seq order (search follows it, export copies it), its head, and the gaps
//! connectors' `connector_state` events describe.

use std::collections::BTreeMap;

use proto::{EventBody, Platform, TimestampMs};
use rusqlite::{OptionalExtension, params};

use super::StoreReader;
use super::rows::{EVENT_COLS, EventRow, event_from_row, event_row, int, opt_int, parse, text};
use crate::types::{ChainHead, Envelope, Gap, MessageChanges, StoredEvent};
use crate::{Result, StoreError};

impl StoreReader {
    /// Events with `seq > after_seq`, in order, at most `limit`.
    pub fn events_since(&self, after_seq: u64, limit: usize) -> Result<Vec<StoredEvent>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))?;
        let mut rows = st.query(params![after_seq as i64, limit as i64])?;
        let mut unpacker = self.unpacker.borrow_mut();
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(event_from_row(r, &self.conn, &mut unpacker)?);
        }
        Ok(out)
    }

    /// The events with `seq > after_seq` (at most `limit`), read for the messages they change:
    /// kinds and row keys only. No payload is decompressed and nothing is allocated per event,
    /// which made up most of the search indexer's reading when it took whole events.
    pub fn message_changes_since(&self, after_seq: u64, limit: usize) -> Result<MessageChanges> {
        let mut st = self
            .conn
            .prepare_cached("SELECT seq, kind, mkey FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let mut rows = st.query(params![after_seq as i64, limit as i64])?;
        let mut out = MessageChanges {
            last_seq: after_seq,
            ..MessageChanges::default()
        };
        while let Some(r) = rows.next()? {
            out.read += 1;
            out.last_seq = int(r, 0)? as u64;
            if let Some(row_key) = opt_int(r, 2)? {
                out.targets.push((parse(text(r, 1)?, "kind")?, row_key));
            }
        }
        Ok(out)
    }

    /// Events with `after_seq < seq <= upto_seq`, in order, each borrowed for the duration of
    /// `f` (one query: no per-chunk re-seek, no per-row allocation). `f`'s error stops the scan
    /// and is returned as is.
    pub fn visit_events<E: From<StoreError>>(
        &self,
        after_seq: u64,
        upto_seq: u64,
        f: &mut dyn FnMut(&EventRow<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut unpacker = self.unpacker.borrow_mut();
        let mut buf = Vec::new();
        self.visit_rows(
            &format!("SELECT {EVENT_COLS} FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq"),
            params![after_seq as i64, upto_seq as i64],
            |r| f(&event_row(r, &self.conn, &mut unpacker, &mut buf)?),
        )
    }

    /// The end of the hash chain.
    pub fn head(&self) -> Result<ChainHead> {
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(match row {
            None => ChainHead {
                seq: 0,
                hash: hex::encode([0u8; 32]),
            },
            Some((seq, h)) => ChainHead {
                seq: seq as u64,
                hash: hex::encode(h),
            },
        })
    }

    /// The envelope of a `connector_state` (or any) event from its stored columns.
    pub(crate) fn envelope(&self, seq: i64, stored: Vec<u8>, zdict: Option<i64>) -> Result<Envelope> {
        let payload = self
            .unpacker
            .borrow_mut()
            .unpack(&self.conn, stored, zdict, &|| format!("event seq {seq}"))?;
        serde_json::from_slice(&payload)
            .map_err(|e| StoreError::Corrupt(format!("event seq {seq} does not decode: {e}")))
    }

    /// Periods connectors were not archiving, from `connector_state` events.
    pub fn gaps(
        &self,
        since: Option<TimestampMs>,
        until: Option<TimestampMs>,
        platform: Option<Platform>,
    ) -> Result<Vec<Gap>> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, platform, account, payload, zdict FROM events WHERE kind = 'connector_state'
             AND (?1 IS NULL OR platform = ?1) ORDER BY seq",
        )?;
        let mut rows = st.query(params![platform.map(|p| p.as_str())])?;
        let mut open: BTreeMap<(String, String), Gap> = BTreeMap::new();
        let mut gaps = Vec::new();
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let platform: Platform = parse(&r.get::<_, String>(1)?, "platform")?;
            let account: String = r.get(2)?;
            let env = self.envelope(seq, r.get(3)?, r.get(4)?)?;
            let EventBody::ConnectorState { status, detail, at } = env.event.body else {
                continue;
            };
            let k = (platform.to_string(), account.clone());
            if status.is_up() {
                if let Some(mut g) = open.remove(&k) {
                    g.to = Some(at);
                    gaps.push(g);
                }
            } else {
                open.entry(k).or_insert(Gap {
                    platform,
                    account,
                    status,
                    detail,
                    from: at,
                    to: None,
                });
            }
        }
        gaps.extend(open.into_values());
        gaps.retain(|g| since.is_none_or(|s| g.to.is_none_or(|t| t >= s)) && until.is_none_or(|u| g.from < u));
        gaps.sort_by_key(|g| g.from);
        Ok(gaps)
    }
}
