//! Schema version 2 → 3: raw payloads and event envelopes compressed in place (`compress.rs`).
//!
//! The first transaction adds the `zdict` columns and the `dicts` table, trains one dictionary
//! per blob kind and platform from the archive's first rows, and sets the version; from then on
//! every reader handles both plain and compressed rows, so the rows are then compressed in
//! chunks of [`CHUNK`] rows per transaction, oldest first, with the position reached kept in
//! `meta` in the same transaction. An interrupted migration goes on from there at the next
//! open ([`finish`]); no row is ever half-written. The bytes the chain hashes do not change,
//! so neither do the chain hashes. Once every row is compressed the file is vacuumed, which
//! is what gives the space back.

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;
use crate::compress::{Blob, Codebook, Unpacker, insert_dict};

/// Rows per transaction while compressing.
const CHUNK: i64 = 20_000;

/// A compressed column and where its progress is kept.
#[derive(Clone, Copy)]
struct Column {
    table: &'static str,
    id: &'static str,
    column: &'static str,
    blob: Blob,
    /// `meta` key: the last row id compressed, while the migration runs.
    done_key: &'static str,
}

const RAW: Column = Column {
    table: "raw",
    id: "id",
    column: "bytes",
    blob: Blob::Raw,
    done_key: "v3_raw_compressed_upto",
};
const EVENTS: Column = Column {
    table: "events",
    id: "seq",
    column: "payload",
    blob: Blob::Event,
    done_key: "v3_events_compressed_upto",
};

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "ALTER TABLE raw ADD COLUMN zdict INTEGER;
         ALTER TABLE events ADD COLUMN zdict INTEGER;",
    )?;
    tx.execute_batch(super::DICTS)?;
    let book = Codebook::load(&tx)?;
    for (blob, table, column) in [(Blob::Raw, "raw", "bytes"), (Blob::Event, "events", "payload")] {
        let platforms: Vec<String> = tx
            .prepare(&format!("SELECT DISTINCT platform FROM {table}"))?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for platform in platforms {
            let samples: Vec<Vec<u8>> = tx
                .prepare(&format!(
                    "SELECT {column} FROM {table} WHERE platform = ?1 ORDER BY rowid LIMIT {}",
                    crate::compress::SAMPLES
                ))?
                .query_map([&platform], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if samples.len() >= crate::compress::SAMPLES {
                insert_dict(&tx, &book.learn(blob, &platform, &samples))?;
            }
        }
    }
    tx.execute(
        "INSERT INTO meta(key, value) VALUES (?1, '0'), (?2, '0')",
        [RAW.done_key, EVENTS.done_key],
    )?;
    tx.pragma_update(None, "user_version", 3)?;
    tx.commit()?;
    Ok(())
}

/// Compresses what an unfinished migration left, then vacuums. Returns at once when no
/// migration is under way.
pub(super) fn finish(conn: &mut Connection) -> Result<()> {
    let pending: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [RAW.done_key], |r| r.get(0))
        .optional()?;
    if pending.is_none() {
        return Ok(());
    }
    let book = Codebook::load(conn)?;
    let mut unpacker = Unpacker::default();
    while compress_chunk(conn, &book, &mut unpacker, &RAW, CHUNK)? {}
    while compress_chunk(conn, &book, &mut unpacker, &EVENTS, CHUNK)? {}
    conn.execute(
        "DELETE FROM meta WHERE key IN (?1, ?2)",
        [RAW.done_key, EVENTS.done_key],
    )?;
    conn.execute_batch("VACUUM")?;
    Ok(())
}

/// Compresses the next `chunk` rows of `c` after the position kept in `meta`; `false` once
/// there are none.
fn compress_chunk(
    conn: &mut Connection,
    book: &Codebook,
    unpacker: &mut Unpacker,
    c: &Column,
    chunk: i64,
) -> Result<bool> {
    let Column {
        table,
        id,
        column,
        blob,
        done_key,
    } = *c;
    let tx = conn.transaction()?;
    let after: i64 = tx.query_row(
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1",
        [done_key],
        |r| r.get(0),
    )?;
    let rows: Vec<(i64, String, Vec<u8>, Option<i64>)> = tx
        .prepare(&format!(
            "SELECT {id}, platform, {column}, zdict FROM {table} WHERE {id} > ?1 ORDER BY {id} LIMIT {chunk}"
        ))?
        .query_map([after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let Some(last) = rows.last().map(|r| r.0) else {
        return Ok(false);
    };
    {
        let mut update = tx.prepare(&format!("UPDATE {table} SET {column} = ?2, zdict = ?3 WHERE {id} = ?1"))?;
        for (rowid, platform, stored, zdict) in rows {
            // Rows after the position are plain (`zdict` NULL) in a version 2 archive; reading
            // them through the unpacker keeps this right whatever a row holds.
            let plain = unpacker.unpack(&tx, stored, zdict, &|| format!("{table} row {rowid}"))?;
            let packed = book.pack_known(blob, &platform, &plain)?;
            update.execute(params![rowid, packed.bytes, packed.zdict])?;
        }
    }
    tx.execute(
        "UPDATE meta SET value = ?2 WHERE key = ?1",
        params![done_key, last.to_string()],
    )?;
    tx.commit()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compressed(conn: &Connection) -> (i64, i64) {
        conn.query_row(
            "SELECT (SELECT count(*) FROM raw WHERE zdict IS NOT NULL), (SELECT count(*) FROM events WHERE zdict IS NOT NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }

    #[test]
    fn an_interrupted_migration_goes_on_where_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::DB_FILE);
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/archive-v2.db"),
            &path,
        )
        .unwrap();
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn).unwrap();
        // The readers read the current `messages`, so the (instant) next step runs too.
        super::super::v3_to_v4::migrate(&mut conn).unwrap();
        let reader = crate::StoreReader::open(dir.path()).unwrap();
        let head = reader.head().unwrap();
        assert!(
            reader.verify(&mut |_| {}).unwrap().ok,
            "version 3 (then 4), nothing compressed yet"
        );

        // Four raw payloads compressed, then the process stops.
        let book = Codebook::load(&conn).unwrap();
        assert!(compress_chunk(&mut conn, &book, &mut Unpacker::default(), &RAW, 4).unwrap());
        let (raw, events) = compressed(&conn);
        assert!((1..=4).contains(&raw) && events == 0, "{raw} {events}");
        assert!(reader.verify(&mut |_| {}).unwrap().ok, "half compressed");
        drop(conn);

        let store = crate::Store::open(dir.path(), crate::StoreOptions::default()).unwrap();
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let (raw, events) = compressed(&conn);
        assert!(raw > 4 && events > 4, "{raw} {events}");
        let left: i64 = conn
            .query_row("SELECT count(*) FROM meta WHERE key LIKE 'v3_%'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
        let report = crate::StoreReader::open(dir.path())
            .unwrap()
            .verify(&mut |_| {})
            .unwrap();
        assert!(report.ok && report.head == head, "{report:?}");
    }
}
