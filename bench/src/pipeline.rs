//! `chatvault bench pipeline`: N messages from the WebSocket simulators (e-office Socket.IO,
//! Goofish LWP + msgpack, Yunhu protobuf; a third each) through the real pipeline (connectors →
//! bounded channel → store writer → search indexer), beside baselines on the same texts in the
//! same run: a raw batched SQLite insert and an SQLite FTS5 trigram build.

use std::path::Path;
use std::time::{Duration, Instant};

use sim::corpus::Corpus;
use tokio_util::sync::CancellationToken;

use super::util::{fmt_rate, peak_rss_mib, reset_peak_rss, scratch_dir};
use crate::BenchError;
use ::pipeline::{Pipeline, PipelineOptions};

pub fn run(args: &crate::BenchArgs) -> Result<(), BenchError> {
    let n = args.n;
    let dir = scratch_dir(args.dir.as_deref(), "pipeline")?;
    eprintln!(
        "bench pipeline: {n} messages from three simulators, in {}",
        dir.path().display()
    );
    reset_peak_rss();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let r = rt.block_on(pipeline(&dir.path().join("data"), n))?;
    let rss = peak_rss_mib();
    drop(rt);

    reset_peak_rss();
    let (sql_secs, _) = super::store::baseline(&dir.path().join("baseline.db"), n)?;
    let fts_secs = fts5_trigram(&dir.path().join("fts.db"), n)?;

    println!("| path | messages | time | rate | notes |");
    println!("|---|---|---|---|---|");
    println!(
        "| chatvault pipeline: simulators → connectors → store (synchronous=FULL) | {} | {:.1} s | {} msgs/s | peak RSS {rss:.0} MiB (whole process, incl. simulators) |",
        r.messages,
        r.store_secs,
        fmt_rate(r.messages as f64 / r.store_secs)
    );
    println!(
        "| … and searchable (index caught up) | {} | {:.1} s | {} msgs/s | index lag at store completion: {} events, caught up {:.1} s later; max lag seen {} events |",
        r.messages,
        r.indexed_secs,
        fmt_rate(r.messages as f64 / r.indexed_secs),
        r.lag_at_store_done,
        r.indexed_secs - r.store_secs,
        r.max_lag
    );
    println!(
        "| archive on disk (`{}`, raw payloads, event log, projections) | {} | | {} bytes/msg | {:.1} MiB in all |",
        store::DB_FILE,
        r.messages,
        r.db_bytes / r.messages.max(1),
        r.db_bytes as f64 / (1024.0 * 1024.0)
    );
    println!(
        "| baseline: rusqlite batched INSERT, UNIQUE text key, 10k rows/txn | {n} | {sql_secs:.1} s | {} rows/s | no log, no dedup of events, no projections, no index |",
        fmt_rate(n as f64 / sql_secs)
    );
    println!(
        "| baseline: SQLite FTS5 trigram build (10k rows/txn) | {n} | {fts_secs:.1} s | {} rows/s | cannot answer 2-character queries |",
        fmt_rate(n as f64 / fts_secs)
    );
    println!();
    println!("Python Parquet baselines: `chatvault bench export` runs them (pyarrow and DuckDB, via .venv).");
    Ok(())
}

struct Run {
    db_bytes: u64,
    messages: u64,
    store_secs: f64,
    indexed_secs: f64,
    lag_at_store_done: u64,
    max_lag: u64,
}

async fn pipeline(data: &Path, n: usize) -> Result<Run, BenchError> {
    use sim::{eoffice, goofish, yunhu};
    let third = n / 3;
    let eo = eoffice::EofficeSim::start(eoffice::SimOptions::new(eoffice::Script::Bulk(third)))
        .await
        .map_err(sim_error)?;
    let gf = goofish::GoofishSim::start(goofish::SimOptions::new(goofish::Script::Bulk(third)))
        .await
        .map_err(sim_error)?;
    let yh = yunhu::YunhuSim::start(yunhu::Script::Bulk(n - 2 * third))
        .await
        .map_err(sim_error)?;
    std::fs::create_dir_all(data)?;
    let toml = format!(
        "[storage]\ndata_dir = \"{}\"\n[server]\nlisten = \"127.0.0.1:0\"\n\n{}\n{}\n{}\n",
        data.display(),
        eo.config_section("oa"),
        gf.config_section("shop"),
        yh.config_toml("team")
    );
    let cfg_path = data.join("bench.toml");
    std::fs::write(&cfg_path, toml)?;
    let cfg = config::load(&cfg_path)?;
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let pipeline = Pipeline::start(
        PipelineOptions {
            config: cfg,
            data_dir: data.to_path_buf(),
            backfill: false,
            drain_timeout: Duration::from_secs(30),
            index: true,
        },
        shutdown.clone(),
    )
    .await?;
    let reader = loop {
        match store::StoreReader::open(data) {
            Ok(r) => break r,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let messages = |r: &store::StoreReader| r.stats().map(|s| s.messages).unwrap_or(0);
    let mut max_lag = 0;
    let mut last_report = Instant::now();
    let store_secs = loop {
        let head = reader.head()?.seq;
        if let Ok(lag) = search::index_lag(data) {
            max_lag = max_lag.max(lag);
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            eprintln!("  {:>6.1} s: {head} events committed", started.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        // Cheap check first (the head), the exact one (message rows) only near the end.
        if head as usize >= n && messages(&reader) as usize >= n {
            break started.elapsed().as_secs_f64();
        }
        if started.elapsed() > Duration::from_secs(3600) {
            return Err(BenchError::Failed(format!(
                "the pipeline did not archive {n} messages within an hour"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let lag_at_store_done = search::index_lag(data).unwrap_or(0);
    let indexed_secs = loop {
        if search::index_lag(data).map(|l| l == 0).unwrap_or(false) {
            break started.elapsed().as_secs_f64();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    shutdown.cancel();
    pipeline.wait().await?;
    // The database file and whatever the shutdown checkpoint left in its WAL.
    let size = |name: String| std::fs::metadata(data.join(name)).map(|m| m.len()).unwrap_or(0);
    let db_bytes = size(store::DB_FILE.to_string()) + size(format!("{}-wal", store::DB_FILE));
    Ok(Run {
        db_bytes,
        messages: messages(&reader),
        store_secs,
        indexed_secs,
        lag_at_store_done,
        max_lag,
    })
}

fn sim_error(e: impl std::error::Error + Send + Sync + 'static) -> BenchError {
    BenchError::Simulator(Box::new(e))
}

/// The same texts into an FTS5 trigram table, 10k rows per transaction.
fn fts5_trigram(path: &Path, n: usize) -> Result<f64, BenchError> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE VIRTUAL TABLE fts USING fts5(text, tokenize='trigram')")?;
    let started = Instant::now();
    let mut rows = Corpus::new(42).take(n).peekable();
    while rows.peek().is_some() {
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare_cached("INSERT INTO fts(text) VALUES (?1)")?;
            for r in rows.by_ref().take(10_000) {
                st.execute([r.text])?;
            }
        }
        tx.commit()?;
    }
    Ok(started.elapsed().as_secs_f64())
}
