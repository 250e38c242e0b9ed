//! Small helpers shared by the benchmarks.

use crate::BenchError;

/// Peak resident set size of this process in MiB (Linux `VmHWM`; 0 elsewhere).
pub fn peak_rss_mib() -> f64 {
    proc_status_mib("VmHWM:")
}

/// Resident set size of this process now, in MiB (Linux `VmRSS`; 0 elsewhere).
pub fn rss_mib() -> f64 {
    proc_status_mib("VmRSS:")
}

fn proc_status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// CPU time (user + system, all threads) this process has used, in seconds (Linux
/// `/proc/self/stat`, 10 ms resolution; 0 elsewhere). Beside wall time it shows the cost of a
/// stage even when other work shares the cores.
pub fn cpu_secs() -> f64 {
    crate::cpu::process_secs(std::process::id())
}

/// Resets the peak RSS counter (Linux: writing 5 to `clear_refs`), so each measured stage
/// reports its own peak.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A working directory: `DIR/<name>` if given (kept), else a temporary one (removed).
pub fn scratch_dir(dir: Option<&std::path::Path>, name: &str) -> Result<tempfile::TempDir, BenchError> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            Ok(tempfile::Builder::new().prefix(&format!("{name}-")).tempdir_in(d)?)
        }
        None => Ok(tempfile::Builder::new()
            .prefix(&format!("chatvault-bench-{name}-"))
            .tempdir()?),
    }
}

/// The working directory of benchmark `name` (see [`scratch_dir`]), announced on stderr as
/// `bench NAME: WHAT in DIR` before anything is measured.
pub fn announced_scratch_dir(
    args: &crate::BenchArgs,
    name: &str,
    what: std::fmt::Arguments<'_>,
) -> Result<tempfile::TempDir, BenchError> {
    let dir = scratch_dir(args.dir.as_deref(), name)?;
    eprintln!("bench {name}: {what} in {}", dir.path().display());
    Ok(dir)
}

/// The runtime the measured async parts run on: two workers, as many as the machines the
/// figures are quoted for have cores.
pub fn runtime() -> Result<tokio::runtime::Runtime, BenchError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// `123456.7` → `123,457`.
pub fn fmt_rate(x: f64) -> String {
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A corpus row as the message a connector would decode from it.
pub fn corpus_message(r: &sim::corpus::Row) -> proto::NewMessage {
    proto::NewMessage::plain(r.sender.as_str(), r.sent_at, r.text.as_str())
}

/// A corpus row as a platform would deliver it: a `message` event and its raw JSON payload.
pub fn corpus_payload(r: &sim::corpus::Row, received_at: i64) -> proto::Ingested {
    let ev = proto::ChatEvent::message(
        r.chat_id.clone(),
        r.msg_id.clone(),
        proto::EventBody::Message(corpus_message(r)),
    );
    // Serialised from a borrowing struct, not a `json!` tree: the harness should not cost more
    // than the store it feeds.
    #[derive(serde::Serialize)]
    struct RawRow<'a> {
        platform: &'a str,
        chat_id: &'a str,
        msg_id: &'a str,
        sender: &'a str,
        sent_at: i64,
        text: &'a str,
    }
    let raw = serde_json::to_vec(&RawRow {
        platform: r.platform,
        chat_id: &r.chat_id,
        msg_id: &r.msg_id,
        sender: &r.sender,
        sent_at: r.sent_at,
        text: &r.text,
    })
    .unwrap_or_default();
    proto::Ingested::Payload {
        raw: proto::RawPayload {
            received_at,
            media_type: proto::batch::media::JSON.into(),
            bytes: raw.into(),
        },
        events: vec![ev],
    }
}

/// Up to `per_platform` rows per platform from `rows` as one batch per platform, like five
/// connectors would send them; `None` when `rows` is exhausted.
pub fn next_platform_batches(
    rows: &mut std::iter::Peekable<impl Iterator<Item = sim::corpus::Row>>,
    per_platform: usize,
    received_at: impl Fn(&sim::corpus::Row) -> i64,
) -> Option<Vec<proto::EventBatch>> {
    rows.peek()?;
    let mut per: Vec<Vec<proto::Ingested>> = vec![Vec::new(); 5];
    for r in rows.by_ref().take(per_platform * 5) {
        per[(r.i % 5) as usize].push(corpus_payload(&r, received_at(&r)));
    }
    Some(
        per.into_iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .map(|(i, items)| {
                let p: proto::Platform = sim::corpus::PLATFORMS[i].parse().expect("known platform");
                proto::EventBatch::new(p, "bench", items, None).0
            })
            .collect(),
    )
}

/// How the commit stage spent the `archive_secs` until every message was archived: busy
/// committing, held for the index, or waiting for prepared batches or its group-commit window
/// (the rest), with the transactions' sizes, the batches they were made of, and the WAL's
/// checkpoints and restarts beside them.
pub fn writer_line(w: &store::WriterStats, archive_secs: f64) -> String {
    let pct = |d: std::time::Duration| 100.0 * d.as_secs_f64() / archive_secs.max(f64::MIN_POSITIVE);
    format!(
        "Store writer: {} transactions, {:.0} events each on average, {} at the most, from {} batches ({:.0} events a batch on average); a transaction in flight {:.1} s ({:.0} % of the time to archive), commits held for the search index {:.1} s ({:.0} %) in {} holds; in the rest, it waited for prepared batches or for its group-commit window. {} WAL checkpoints beside them; WAL restarts run by the writer itself: {}, taking {:.1} s of the time in flight.",
        w.commits,
        (w.appended + w.duplicates) as f64 / w.commits.max(1) as f64,
        w.largest_group,
        w.batches,
        (w.appended + w.duplicates) as f64 / w.batches.max(1) as f64,
        w.committing.as_secs_f64(),
        pct(w.committing),
        w.index_held.as_secs_f64(),
        pct(w.index_held),
        w.index_holds,
        w.checkpoints,
        w.wal_restarts,
        w.wal_restarting.as_secs_f64()
    )
}
