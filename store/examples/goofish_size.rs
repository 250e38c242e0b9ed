//! Bytes per message, table by table, of an archive of Goofish messages:
//! `cargo run --release -p chatvault-store --example goofish_size -- <n> [dir]`.
//!
//! The messages are the simulator's bulk script (`sim::goofish::script::Script::Bulk`: corpus
//! texts over 200 conversations), put on the wire as the simulator does (MessagePack chat
//! items inside `/s/sync` push entries) and decoded by the Goofish connector's own codec, so
//! the raw payloads and events are those a live Goofish connector hands the store. They are
//! appended in batches of 500 (a push window), ten batches per transaction.
//!
//! With `n` = 0 and an existing archive in `dir`, it only opens it (migrating it to the current
//! schema version, timed) and prints the same table.

use chatvault_store as store;
use proto::{EventBatch, Platform};
use rusqlite::Connection;

const BATCH: usize = 500;
const BATCHES_PER_COMMIT: usize = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().ok_or("usage: goofish_size <n> [dir]")?.parse()?;
    let keep = args.next();
    let tmp = tempfile::tempdir()?;
    let dir = keep.as_deref().map_or(tmp.path(), std::path::Path::new);

    if n == 0 {
        let started = std::time::Instant::now();
        drop(store::Store::open(dir, store::StoreOptions::default())?);
        println!("opened (and migrated) in {:.1} s", started.elapsed().as_secs_f64());
        return report(dir);
    }
    let (_, msgs) = sim::goofish::script::Script::Bulk(n).build();
    let received = 1_795_395_600_000i64;
    let mut raw_bytes = 0usize;
    let mut text_bytes = 0usize;
    let mut s = store::Store::open(
        dir,
        store::StoreOptions {
            synchronous_full: false,
            cache_mib: 256,
        },
    )?;
    let started = std::time::Instant::now();
    let mut pending: Vec<EventBatch> = Vec::new();
    for (c, chunk) in msgs.chunks(BATCH).enumerate() {
        let items = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| {
                text_bytes += m.text().len();
                let bytes = sim::goofish::wire::chat_item(m);
                raw_bytes += bytes.len();
                let item = sim::goofish::wire::push_item(&bytes);
                ingest::goofish::codec::decode_item(&item, received + (c * BATCH + i) as i64)
            })
            .collect();
        pending.push(EventBatch::new(Platform::Goofish, "shop", items, None).0);
        if pending.len() == BATCHES_PER_COMMIT {
            s.append(&pending.iter().collect::<Vec<_>>())?;
            pending.clear();
        }
    }
    if !pending.is_empty() {
        s.append(&pending.iter().collect::<Vec<_>>())?;
    }
    let secs = started.elapsed().as_secs_f64();
    drop(s);
    println!(
        "{n} messages appended in {secs:.1} s; per message: text {:.0} B, raw payload as received {:.0} B",
        text_bytes as f64 / n as f64,
        raw_bytes as f64 / n as f64
    );
    report(dir)
}

/// Prints the bytes per message of every table of the archive in `dir`.
fn report(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let conn = Connection::open(dir.join(store::DB_FILE))?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    let messages: i64 = conn.query_row("SELECT count(*) FROM messages WHERE has_message = 1", [], |r| r.get(0))?;
    let per = |b: i64| b as f64 / messages as f64;
    println!("{messages} messages in the archive");
    println!("| table (with its indexes) | bytes/message |");
    println!("|---|---|");
    let mut st = conn.prepare(
        "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d LEFT JOIN sqlite_master m ON m.name = d.name
         GROUP BY 1 ORDER BY 2 DESC",
    )?;
    let mut rows = st.query([])?;
    let mut total = 0;
    while let Some(r) = rows.next()? {
        let (name, bytes): (String, i64) = (r.get(0)?, r.get(1)?);
        total += bytes;
        println!("| {name} | {:.0} |", per(bytes));
    }
    let file = std::fs::metadata(dir.join(store::DB_FILE))?.len() as i64;
    println!("| all pages | {:.0} |", per(total));
    println!("| file (chatvault.db) | {:.0} |", per(file));
    Ok(())
}
