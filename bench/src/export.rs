//! `chatvault bench export`: a full Parquet export of an archive of N corpus messages (seed
//! 42, built through `Store::append`), beside Python baselines on the same rows in the same
//! run (`.venv/bin/python` with pyarrow and duckdb; reported as absent otherwise):
//! - the Python `sqlite3` → pyarrow → Parquet (zstd) pipeline reading the same `messages`
//!   table (end to end, the figure the export's end-to-end rate is compared with);
//! - pyarrow `write_table` (zstd, 128Ki-row groups) of the rows chatvault exported, already in
//!   memory (the encode stage);
//! - DuckDB `COPY … (FORMAT parquet, COMPRESSION zstd)` of the same rows (file size).
//!
//! The archive is built by a child process (this command again, told so by
//! [`BUILD_INTO_ENV`]): building leaves hundreds of MB of freed writer cache in the builder's
//! heap, which would otherwise count in the export's peak RSS.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use proto::EventBatch;
use sim::corpus::Corpus;

use super::util::{fmt_rate, peak_rss_mib, reset_peak_rss, scratch_dir};
use crate::BenchError;

/// Payloads per appended batch (one transaction per 5 batches).
const BATCH: usize = 2_000;

/// Set (to a data directory) in the child that builds the archive.
const BUILD_INTO_ENV: &str = "CHATVAULT_BENCH_EXPORT_BUILD_INTO";

pub fn run(args: &crate::BenchArgs) -> Result<(), BenchError> {
    let n = args.n;
    if let Some(data) = std::env::var_os(BUILD_INTO_ENV) {
        let secs = build_archive(Path::new(&data), n)?;
        eprintln!("archive built in {secs:.1} s");
        return Ok(());
    }
    let dir = scratch_dir(args.dir.as_deref(), "export")?;
    let data = dir.path().join("data");
    eprintln!(
        "bench export: building an archive of {n} messages in {}",
        data.display()
    );
    let status = Command::new(std::env::current_exe()?)
        .args(["bench", "export", "--n", &n.to_string()])
        .env(BUILD_INTO_ENV, &data)
        .status()?;
    if !status.success() {
        return Err(BenchError::Failed(format!("building the archive failed ({status})")));
    }
    eprintln!("exporting");

    let out = dir.path().join("export");
    let opts = export::ExportOptions {
        data_dir: data.clone(),
        out_dir: out.clone(),
        tz: chrono_tz::UTC,
        full: true,
        file_mode: export::DEFAULT_FILE_MODE,
    };
    reset_peak_rss();
    let s = export::run_export(&opts, &mut |_| {})?;
    let rss = peak_rss_mib();
    let m = export::Manifest::load(&out)?.ok_or_else(|| BenchError::Failed("no manifest after the export".into()))?;
    let msg_bytes: u64 = m.files.iter().filter(|f| f.table == "messages").map(|f| f.bytes).sum();
    let ev_bytes: u64 = m.files.iter().filter(|f| f.table == "events").map(|f| f.bytes).sum();
    let rows = s.message_rows_written as f64;
    let msg_secs = s.messages_time.as_secs_f64();
    let enc_secs = s.messages_encode_time.as_secs_f64();

    println!("| path | rows | time | rows/s | file size | peak RSS |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| chatvault export, messages: SQLite → finished Parquet (zstd) | {} | {msg_secs:.2} s | {} | {} | |",
        s.message_rows_written,
        fmt_rate(rows / msg_secs),
        mb(msg_bytes)
    );
    println!(
        "| of which Parquet encode of the Arrow batches (encoder thread, overlaps the read) | {} | {enc_secs:.2} s | {} | | |",
        s.message_rows_written,
        fmt_rate(rows / enc_secs)
    );
    println!(
        "| chatvault export, events (log with JSON payloads) | {} | {:.2} s | {} | {} | |",
        s.event_rows_written,
        s.events_time.as_secs_f64(),
        fmt_rate(s.event_rows_written as f64 / s.events_time.as_secs_f64()),
        mb(ev_bytes)
    );
    println!(
        "| chatvault export, whole run (messages + events + manifest) | {} | {:.2} s | | {} | {rss:.0} MiB |",
        s.message_rows_written + s.event_rows_written,
        s.elapsed.as_secs_f64(),
        mb(s.bytes_written)
    );

    let py = Path::new(".venv/bin/python");
    if !py.exists() {
        println!();
        println!(
            "Python baselines not run: `.venv/bin/python` is absent in the current directory (create it with `python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt`)."
        );
        return Ok(());
    }
    let o = Command::new(py)
        .arg("-c")
        .arg(BASELINE_PY)
        .arg(data.join(store::DB_FILE))
        .arg(out.join("messages"))
        .arg(dir.path())
        .output()?;
    if !o.status.success() {
        return Err(BenchError::Failed(format!(
            "Python baseline failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )));
    }
    // The result is the last line; anything a library printed before it is not ours to parse.
    let stdout = String::from_utf8_lossy(&o.stdout);
    let last = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
    let b: serde_json::Value = serde_json::from_str(last)
        .map_err(|e| BenchError::Failed(format!("Python baseline printed no result ({e}): {stdout}")))?;
    let f = |k: &str| b[k].as_f64().unwrap_or(f64::NAN);
    let pr = f("rows");
    println!(
        "| baseline: Python sqlite3 → pyarrow → Parquet (zstd), same table | {pr} | {:.2} s | {} | {} | {:.0} MiB |",
        f("py_e2e_secs"),
        fmt_rate(pr / f("py_e2e_secs")),
        mb(f("py_e2e_bytes") as u64),
        f("py_e2e_rss_mib")
    );
    println!(
        "| baseline: pyarrow write_table zstd of the exported rows (in memory) | {pr} | {:.2} s | {} | {} | |",
        f("pyarrow_write_secs"),
        fmt_rate(pr / f("pyarrow_write_secs")),
        mb(f("pyarrow_bytes") as u64)
    );
    println!(
        "| baseline: DuckDB COPY (FORMAT parquet, COMPRESSION zstd) of the same rows | {pr} | {:.2} s | {} | {} | |",
        f("duckdb_copy_secs"),
        fmt_rate(pr / f("duckdb_copy_secs")),
        mb(f("duckdb_bytes") as u64)
    );
    println!();
    println!(
        "end to end / Python pipeline = {:.2}x (goal ≥ 2x); encode / pyarrow write = {:.2}x (goal ≥ 1x); size / DuckDB = {:.2}x (goal ≤ 1.2x); peak RSS {rss:.0} MiB (goal < 300)",
        (rows / msg_secs) / (pr / f("py_e2e_secs")),
        (rows / enc_secs) / (pr / f("pyarrow_write_secs")),
        msg_bytes as f64 / f("duckdb_bytes"),
    );
    Ok(())
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// Appends the corpus, one batch per platform of up to [`BATCH`] payloads. Durability is
/// `NORMAL`: this measures the export, not ingest.
fn build_archive(data: &Path, n: usize) -> Result<f64, BenchError> {
    build_archive_from(data, Corpus::new(42).take(n))
}

/// [`build_archive`] from any corpus rows (`bench ui` regroups some into one large chat).
pub(super) fn build_archive_from(data: &Path, rows: impl Iterator<Item = sim::corpus::Row>) -> Result<f64, BenchError> {
    let started = Instant::now();
    let mut st = store::Store::open(
        data,
        store::StoreOptions {
            synchronous_full: false,
            ..Default::default()
        },
    )?;
    let mut rows = rows.peekable();
    // Received a second after sending, so event partitions follow the message dates.
    while let Some(batches) = super::util::next_platform_batches(&mut rows, BATCH, |r| r.sent_at + 1_000) {
        let refs: Vec<&EventBatch> = batches.iter().collect();
        st.append(&refs)?;
    }
    Ok(started.elapsed().as_secs_f64())
}

const BASELINE_PY: &str = r#"
import sys, time, json, os, resource, sqlite3
import pyarrow as pa, pyarrow.parquet as pq, duckdb
db, exported, work = sys.argv[1], sys.argv[2], sys.argv[3]
res = {}

# 1. Python sqlite3 -> Arrow record batches -> Parquet zstd, same messages table.
cols = ["account", "chat_id", "msg_id", "chat_type", "chat_name", "external", "sender_id", "sender_name",
        "sent_at", "received_at", "content_type", "text", "attachments", "reply_to", "mentions", "recipients",
        "state", "revision", "edited_at", "withdrawn_at", "withdrawn_by", "deleted_at", "deleted_by", "last_seq"]
types = {"external": pa.bool_(), "sent_at": pa.timestamp("ms", tz="UTC"), "received_at": pa.timestamp("ms", tz="UTC"),
         "edited_at": pa.timestamp("ms", tz="UTC"), "withdrawn_at": pa.timestamp("ms", tz="UTC"),
         "deleted_at": pa.timestamp("ms", tz="UTC"), "revision": pa.int64(), "last_seq": pa.int64()}
schema = pa.schema([(c, types.get(c, pa.string())) for c in cols])
out = os.path.join(work, "py_e2e.parquet")
t0 = time.perf_counter()
con = sqlite3.connect(db)
cur = con.execute("SELECT " + ", ".join(cols) + " FROM messages WHERE has_message = 1 ORDER BY platform, sent_at")
writer = pq.ParquetWriter(out, schema, compression="zstd")
rows = 0
while True:
    chunk = cur.fetchmany(100_000)
    if not chunk:
        break
    rows += len(chunk)
    arrays = [pa.array(col, type=pa.int8()).cast(pa.bool_()) if schema.field(i).type == pa.bool_()
              else pa.array(col, type=schema.field(i).type) for i, col in enumerate(zip(*chunk))]
    writer.write_batch(pa.record_batch(arrays, schema=schema), row_group_size=128 * 1024)
writer.close()
res["py_e2e_secs"] = time.perf_counter() - t0
res["py_e2e_bytes"] = os.path.getsize(out)
res["py_e2e_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
res["rows"] = rows

# 2. pyarrow write_table of the rows chatvault exported (already in memory).
t = pq.ParquetDataset(exported).read()
t = t.select([f.name for f in t.schema if f.name not in ("platform", "date")])
out = os.path.join(work, "pyarrow.parquet")
t0 = time.perf_counter()
pq.write_table(t, out, compression="zstd", row_group_size=128 * 1024)
res["pyarrow_write_secs"] = time.perf_counter() - t0
res["pyarrow_bytes"] = os.path.getsize(out)

# 3. DuckDB COPY of the same rows from an in-memory table.
d = duckdb.connect()
d.execute("SET threads=2")
d.execute("SET enable_progress_bar=false")
d.execute("CREATE TABLE m AS SELECT * FROM t")
out = os.path.join(work, "duckdb.parquet")
t0 = time.perf_counter()
d.execute(f"COPY m TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
res["duckdb_copy_secs"] = time.perf_counter() - t0
res["duckdb_bytes"] = os.path.getsize(out)
print(json.dumps(res))
"#;
