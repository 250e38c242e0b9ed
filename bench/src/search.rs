//! `chatvault bench search`: the search index on the perf-notes §4.0 corpus (seed 42) beside
//! SQLite FTS5 with the trigram tokenizer on the same rows and queries, in the same run.
//!
//! Reports indexing docs/s (the indexer's own configuration: one thread, 64 MiB), index size
//! against the raw text, top-20 ranked query latency p50/p99 for fixed 1-, 2-, 3-, 4-character
//! and Latin queries, and recall / false positives against `str::contains` ground truth.
//! FTS5 trigram cannot match fewer than three characters: those rows are reported as misses.

use std::path::Path;
use std::time::{Duration, Instant};

use proto::{MessageKey, MessageRecord, MessageState, Platform};
use search::{Indexer, IndexerOptions, SearchRequest, Searcher, Sort};
use sim::corpus::{Corpus, Row};

use super::util::{announced_scratch_dir, corpus_message, fmt_rate, peak_rss_mib, reset_peak_rss};
use crate::BenchError;

/// The fixed queries: (class, query).
const QUERIES: &[(&str, &str)] = &[
    ("1 char", "报"),
    ("1 char", "单"),
    ("2 chars", "农业"),
    ("2 chars", "处理"),
    ("2 chars", "发票"),
    ("2 chars (across words)", "理中"),
    ("3 chars", "处理中"),
    ("3 chars", "农业局"),
    ("3 chars", "会议室"),
    ("4 chars", "签字确认"),
    ("4 chars", "工程进度"),
    ("Latin word", "invoice"),
    ("Latin word", "iPhone15"),
    ("Latin prefix", "ship"),
    ("Latin", "v2.3.1"),
];

const REPS: usize = 40;
const FTS_RANKED_REPS: usize = 8;

/// Runs the benchmark.
pub fn run(args: &crate::BenchArgs) -> Result<(), BenchError> {
    let n = args.n;
    let dir = announced_scratch_dir(args, "search", format_args!("{n} messages (corpus seed 42)"))?;
    let rows: Vec<Row> = Corpus::new(42).take(n).collect();
    let text_bytes: u64 = rows.iter().map(|r| r.text.len() as u64).sum();

    reset_peak_rss();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data)?;
    let index_secs = build_index(&data, &rows)?;
    let index_rss = peak_rss_mib();
    let index_bytes = dir_size(&search::index_path(&data))?;
    let searcher = Searcher::open(&data)?;

    eprintln!("building FTS5 trigram table…");
    let fts_path = dir.path().join("fts.db");
    let (fts_secs, fts_bytes, conn) = build_fts(&fts_path, &rows)?;

    println!("| index | rows | build time | docs/s | size | size / text |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| chatvault (CJK bigrams + words, 1 thread, 64 MiB; peak RSS {index_rss:.0} MiB) | {n} | {index_secs:.1} s | {} | {:.1} MB | {:.2}x |",
        fmt_rate(n as f64 / index_secs),
        index_bytes as f64 / 1e6,
        index_bytes as f64 / text_bytes as f64
    );
    println!(
        "| SQLite FTS5 trigram (text stored inside), 10k rows/txn | {n} | {fts_secs:.1} s | {} | {:.1} MB | {:.2}x |",
        fmt_rate(n as f64 / fts_secs),
        fts_bytes as f64 / 1e6,
        fts_bytes as f64 / text_bytes as f64
    );
    println!("\nraw text: {:.1} MB\n", text_bytes as f64 / 1e6);

    println!(
        "| query | class | true hits | chatvault found / false + | top-20 ranked p50 / p99 | FTS5 found | FTS5 ranked p50 / p99 | chatvault / FTS5 ranked p99 | FTS5 unranked p50 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (class, q) in QUERIES {
        let needle = q.to_lowercase();
        let truth: Vec<i64> = rows
            .iter()
            .filter(|r| r.text.to_lowercase().contains(&needle))
            .map(|r| r.sent_at)
            .collect();
        let req = SearchRequest {
            query: search::parse(q)?,
            sort: Sort::Relevance,
            limit: 20,
            ..Default::default()
        };
        let mut found = searcher.matching_sent_at(&req)?;
        found.sort_unstable();
        let hits = truth.iter().filter(|t| found.binary_search(t).is_ok()).count();
        let false_pos = found.len() - hits;
        let lat = time_reps(REPS, || searcher.search(&req).map(|h| h.len()))?;
        let fts = fts_query(&conn, q, truth.len())?;
        println!(
            "| {q} | {class} | {} | {hits} ({:.1} %) / {false_pos} | {} / {} | {} | {} | {} | {} |",
            truth.len(),
            pct(hits, truth.len()),
            ms(lat.0),
            ms(lat.1),
            fts.found,
            fts.ranked.map_or("—".into(), |(a, b)| format!("{} / {}", ms(a), ms(b))),
            fts.ranked.map_or("—".into(), |(_, b)| format!(
                "{:.3}x",
                lat.1.as_secs_f64() / b.as_secs_f64()
            )),
            fts.unranked.map_or("—".into(), ms),
        );
    }
    Ok(())
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 { 100.0 } else { 100.0 * a as f64 / b as f64 }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// p50 and p99 of `reps` runs after one warm-up run.
fn time_reps<T, E: Into<BenchError>>(
    reps: usize,
    mut f: impl FnMut() -> Result<T, E>,
) -> Result<(Duration, Duration), BenchError> {
    f().map_err(Into::into)?;
    let mut v = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f().map_err(Into::into)?;
        v.push(t.elapsed());
    }
    v.sort();
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    Ok((at(0.5), at(0.99)))
}

/// The record the store would hold for the row's message (the one `bench store` appends),
/// never edited.
fn record(r: &Row) -> MessageRecord {
    let m = corpus_message(r);
    MessageRecord {
        key: MessageKey {
            platform: r.platform.parse().unwrap_or(Platform::Yunhu),
            account: "bench".into(),
            chat_id: r.chat_id.clone(),
            msg_id: r.msg_id.clone(),
        },
        chat_type: m.chat_type,
        chat_name: m.chat_name,
        external: m.external,
        sender_id: m.sender_id,
        sender_name: m.sender_name,
        sent_at: m.sent_at,
        received_at: m.sent_at,
        content_type: m.content_type,
        text: m.text,
        text_format: m.text_format,
        source_text: m.source_text,
        attachments: m.attachments,
        reply_to: m.reply_to,
        mentions: m.mentions,
        recipients: m.recipients,
        state: MessageState::Active,
        revision: 0,
        edited_at: None,
        withdrawn_at: None,
        withdrawn_by: None,
        deleted_at: None,
        deleted_by: None,
        deleted_for: vec![],
        last_seq: r.i + 1,
    }
}

/// Indexes the rows as the indexer would (documents built from message records), including the
/// final commit and merges.
fn build_index(data: &Path, rows: &[Row]) -> Result<f64, BenchError> {
    let start = Instant::now();
    let (mut ix, _) = Indexer::open(data, IndexerOptions::default())?;
    for (i, r) in rows.iter().enumerate() {
        ix.add_new(&record(r))?;
        if i % 200_000 == 199_999 {
            eprintln!("  indexed {}", i + 1);
        }
    }
    ix.set_seq(rows.len() as u64);
    ix.finish()?;
    Ok(start.elapsed().as_secs_f64())
}

fn dir_size(p: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(p)? {
        let e = e?;
        let m = e.metadata()?;
        total += if m.is_dir() { dir_size(&e.path())? } else { m.len() };
    }
    Ok(total)
}

fn build_fts(path: &Path, rows: &[Row]) -> Result<(f64, u64, rusqlite::Connection), BenchError> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE VIRTUAL TABLE fts USING fts5(text, tokenize='trigram');")?;
    let start = Instant::now();
    for chunk in rows.chunks(10_000) {
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare_cached("INSERT INTO fts(rowid, text) VALUES (?1, ?2)")?;
            for r in chunk {
                st.execute(rusqlite::params![r.sent_at, r.text])?;
            }
        }
        tx.commit()?;
    }
    conn.execute_batch("INSERT INTO fts(fts) VALUES('optimize'); PRAGMA wal_checkpoint(TRUNCATE);")?;
    let secs = start.elapsed().as_secs_f64();
    let size = std::fs::metadata(path)?.len();
    Ok((secs, size, conn))
}

struct FtsResult {
    found: String,
    ranked: Option<(Duration, Duration)>,
    unranked: Option<Duration>,
}

fn fts_query(conn: &rusqlite::Connection, q: &str, truth: usize) -> Result<FtsResult, BenchError> {
    let phrase = format!("\"{}\"", q.replace('"', "\"\""));
    let count: i64 = conn.query_row("SELECT count(*) FROM fts WHERE fts MATCH ?1", [&phrase], |r| r.get(0))?;
    let count = count as usize;
    if count == 0 && truth > 0 {
        return Ok(FtsResult {
            found: format!("0 — miss (trigram needs ≥ 3 chars; true {truth})"),
            ranked: None,
            unranked: None,
        });
    }
    let found = format!("{count} ({:.1} %)", pct(count.min(truth), truth));
    let mut ranked = conn.prepare("SELECT rowid FROM fts WHERE fts MATCH ?1 ORDER BY rank LIMIT 20")?;
    let r = time_reps(FTS_RANKED_REPS, || -> rusqlite::Result<usize> {
        Ok(ranked.query_map([&phrase], |r| r.get::<_, i64>(0))?.count())
    })?;
    let mut unranked = conn.prepare("SELECT rowid FROM fts WHERE fts MATCH ?1 LIMIT 20")?;
    let u = time_reps(REPS, || -> rusqlite::Result<usize> {
        Ok(unranked.query_map([&phrase], |r| r.get::<_, i64>(0))?.count())
    })?;
    Ok(FtsResult {
        found,
        ranked: Some(r),
        unranked: Some(u.0),
    })
}
