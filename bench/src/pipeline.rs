//! `chatvault bench pipeline`: N messages from the WebSocket simulators (e-office Socket.IO,
//! Goofish LWP + msgpack, Yunhu protobuf; an even share each of those `--connectors` names)
//! through the real pipeline (connectors → bounded channel → store writer → search indexer),
//! beside baselines on the same texts in the same run: a raw batched SQLite insert and an
//! SQLite FTS5 trigram build.
//!
//! The Goofish simulator pushes like a catch-up by default: `--push-items` messages per
//! `/s/sync` push (200) with up to `--pushes-in-flight` pushes unacknowledged (8);
//! `--push-items 1` gives the one-message-per-frame load earlier figures were measured with.
//!
//! The simulators run in a child process ([`super::sims`]), so the peak RSS printed is
//! chatvault's alone; the child's own figures are printed beside it. The CPU of each stage
//! (threads by name, the simulators' process as one) follows the table, with the CPU per
//! message that half the raw insert's rate would leave ([`super::cpu`]).

use std::path::Path;
use std::time::{Duration, Instant};

use sim::corpus::Corpus;

use super::cpu::{self, StageCpu};
use super::sims::{self, SimsProcess};
use super::util::{announced_scratch_dir, fmt_rate, peak_rss_mib, reset_peak_rss, runtime};
use crate::BenchError;
use crate::running;

pub fn run(args: &crate::BenchArgs) -> Result<(), BenchError> {
    if sims::is_child() {
        return sims::serve(args);
    }
    let n = args.n;
    let dir = announced_scratch_dir(
        args,
        "pipeline",
        format_args!(
            "{n} messages from {} (Goofish: {} per push, {} pushes unacknowledged at most, numbered {}),",
            args.connectors.join(", "),
            args.push_items,
            args.pushes_in_flight,
            args.goofish_numbering,
        ),
    )?;
    let sims = SimsProcess::spawn(args)?;
    reset_peak_rss();
    let rt = runtime()?;
    let r = rt.block_on(pipeline(&dir.path().join("data"), &sims.sections, n, sims.pid()))?;
    let rss = peak_rss_mib();
    drop(rt);
    let sims_rss = (sims.rss_mib, sims.finish()?);

    reset_peak_rss();
    let (sql_secs, _) = super::store::baseline(&dir.path().join("baseline.db"), n)?;
    let fts_secs = fts5_trigram(&dir.path().join("fts.db"), n)?;

    println!("| path | messages | time | rate | notes |");
    println!("|---|---|---|---|---|");
    println!(
        "| chatvault pipeline: simulators ({}) → connectors → store (synchronous=FULL) | {} | {:.1} s | {} msgs/s | peak RSS {rss:.0} MiB (chatvault's process; the simulators run in another: {:.0} MiB once their messages were built, {:.0} MiB at their peak); Goofish {} per push, {} in flight, numbered {} |",
        args.connectors.join(", "),
        r.messages,
        r.store_secs,
        fmt_rate(r.messages as f64 / r.store_secs),
        sims_rss.0,
        sims_rss.1,
        args.push_items,
        args.pushes_in_flight,
        args.goofish_numbering
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
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!("Where the CPU went, from the pipeline's start until the index caught up:");
    println!();
    print!("{}", cpu::table(&r.cpu, r.messages, r.indexed_secs, cores));
    let half = 0.5 * n as f64 / sql_secs;
    println!();
    println!(
        "Half the raw insert's rate, {} msgs/s, leaves {:.1} µs of CPU per message on {cores} cores for all of the stages above.",
        fmt_rate(half),
        cores as f64 * 1e6 / half
    );
    println!();
    println!("{}", crate::util::writer_line(&r.writer, r.store_secs));
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
    /// CPU seconds per stage, simulators included.
    cpu: Vec<(String, f64)>,
    /// The store writer's totals, from the start to the drain at the end.
    writer: store::WriterStats,
}

/// The simulators a run feeds, kept alive until it ends (each stops when dropped).
#[derive(Default)]
pub(crate) struct Sims {
    eoffice: Option<sim::eoffice::EofficeSim>,
    goofish: Option<sim::goofish::GoofishSim>,
    yunhu: Option<sim::yunhu::YunhuSim>,
}

/// Starts the connectors' simulators, `n` messages split evenly between them, and returns
/// them with their config sections.
pub(crate) async fn start_sims(args: &crate::BenchArgs, n: usize) -> Result<(Sims, String), BenchError> {
    use sim::{eoffice, goofish, yunhu};
    let mut sims = Sims::default();
    let mut sections = String::new();
    for (name, share) in args.connectors.iter().zip(shares(n, args.connectors.len())) {
        match name.as_str() {
            "eoffice" => {
                let s = eoffice::EofficeSim::start(eoffice::SimOptions::new(eoffice::Script::Bulk(share)))
                    .await
                    .map_err(sim_error)?;
                sections.push_str(&s.config_section("oa"));
                sims.eoffice = Some(s);
            }
            "goofish" => {
                let mut opts = goofish::SimOptions::new(goofish::Script::Bulk(share));
                opts.items_per_push = args.push_items.max(1);
                opts.window = args.pushes_in_flight.max(1);
                if args.goofish_numbering == "per-chat" {
                    opts.numbering = goofish::Numbering::PerChat;
                }
                let s = goofish::GoofishSim::start(opts).await.map_err(sim_error)?;
                // The load under test is the push window. The simulator has every message
                // released before the connector starts, so a first start's backfill (200 deep)
                // would fetch them all through history, one conversation after another,
                // before the first push is read: the rate would be the backfill's.
                sections.push_str(&s.config_section_with_backfill("shop", 0));
                sims.goofish = Some(s);
            }
            "yunhu" => {
                let s = yunhu::YunhuSim::start(yunhu::Script::Bulk(share))
                    .await
                    .map_err(sim_error)?;
                sections.push_str(&s.config_toml("team"));
                sims.yunhu = Some(s);
            }
            other => {
                return Err(BenchError::Failed(format!(
                    "unknown connector {other:?} (eoffice, goofish or yunhu)"
                )));
            }
        }
        sections.push('\n');
    }
    Ok((sims, sections))
}

async fn pipeline(data: &Path, sections: &str, n: usize, sims_pid: u32) -> Result<Run, BenchError> {
    let mut cpu = StageCpu::start(Some(sims_pid));
    let run = running::start(data, sections, true, Duration::from_millis(50)).await?;
    let mut index: Option<search::SearchIndex> = None;
    // The index is opened once, not at every look: opening it costs more CPU than the look,
    // and that CPU would be taken from the pipeline being measured.
    let mut lag = || -> Option<u64> {
        if index.is_none() {
            index = search::SearchIndex::open(data).ok();
        }
        let indexed = index.as_ref()?.indexed_seq().ok()?;
        Some(run.reader.head().ok()?.seq.saturating_sub(indexed))
    };
    let mut max_lag = 0;
    let store_secs = run
        .wait_archived(
            n,
            Duration::from_millis(100),
            || {
                cpu.sample();
                if let Some(l) = lag() {
                    max_lag = max_lag.max(l);
                }
            },
            ("the pipeline", "messages"),
        )
        .await?;
    let lag_at_store_done = lag().unwrap_or(0);
    let indexed_secs = loop {
        if lag() == Some(0) {
            break run.started.elapsed().as_secs_f64();
        }
        cpu.sample();
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    cpu.sample();
    let (reader, writer) = run.stop().await?;
    // The database file and whatever the shutdown checkpoint left in its WAL.
    let size = |name: String| std::fs::metadata(data.join(name)).map(|m| m.len()).unwrap_or(0);
    let db_bytes = size(store::DB_FILE.to_string()) + size(format!("{}-wal", store::DB_FILE));
    Ok(Run {
        db_bytes,
        messages: running::messages(&reader),
        store_secs,
        indexed_secs,
        lag_at_store_done,
        max_lag,
        cpu: cpu.stages("simulators (their own process)"),
        writer,
    })
}

/// `n` split into `k` even shares, the last taking the remainder.
fn shares(n: usize, k: usize) -> Vec<usize> {
    let k = k.max(1);
    (0..k)
        .map(|i| if i + 1 == k { n - (k - 1) * (n / k) } else { n / k })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::shares;

    #[test]
    fn every_message_goes_to_exactly_one_connector() {
        assert_eq!(shares(200_000, 3), vec![66_666, 66_666, 66_668]);
        assert_eq!(shares(10, 1), vec![10]);
        assert_eq!(shares(2, 3), vec![0, 0, 2]);
        assert_eq!(shares(7, 0), vec![7]);
    }
}
