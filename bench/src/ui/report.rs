//! What `bench ui` measured, as a markdown table or JSON.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::archive::Prepared;

/// p50 and p99 of a set of timed runs, in milliseconds (nearest rank: with 100 runs, p99 is
/// the second slowest).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Runs measured (warm-ups excluded).
    pub runs: usize,
}

impl Latency {
    /// From the measured durations (at least one).
    pub fn of(samples: &[Duration]) -> Latency {
        let mut v: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        v.sort_by(f64::total_cmp);
        let at = |p: f64| {
            v.get(((v.len().max(1) - 1) as f64 * p).round() as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        Latency {
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            runs: v.len(),
        }
    }

    fn cell(&self) -> String {
        format!("{:.1} / {:.1} ms", self.p50_ms, self.p99_ms)
    }
}

/// One query of the fixed list.
#[derive(Debug, Clone, Serialize)]
pub struct SearchRow {
    /// The query text.
    pub query: String,
    /// Filters, as `name=value` (the page's fields and the CLI's flags of the same name).
    pub filters: Vec<(String, String)>,
    /// Matching messages (the page's count).
    pub hits: usize,
    /// `GET /search?…`, request sent → whole page read.
    pub ui: Latency,
    /// `chatvault search … --limit 20` as a child process, spawned → exited with its output
    /// read (None: no binary to run).
    pub cli: Option<Latency>,
    /// The library calls `chatvault search` makes once started (search, records read back,
    /// highlighted lines), with the index and archive already open.
    pub library: Latency,
}

/// One conversation page.
#[derive(Debug, Clone, Serialize)]
pub struct PageRow {
    /// Which page.
    pub page: String,
    /// Messages in the chat.
    pub chat_messages: u64,
    /// Messages on the page.
    pub shown: usize,
    /// `GET /chat/…`, request sent → whole page read.
    pub ui: Latency,
    /// The archive read alone (`StoreReader::chat_timeline` with the page's arguments).
    pub store_read: Latency,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The archive.
    pub archive: Prepared,
    /// A 128-byte write and `fdatasync` in the data directory, sampled once per measured
    /// search run (a page view commits an access-log entry with one sync; the CLI writes
    /// nothing).
    pub fsync: Latency,
    /// Warm-up rounds per row (not measured).
    pub warmup: usize,
    /// The search page beside the CLI, per query.
    pub searches: Vec<SearchRow>,
    /// The conversation pages.
    pub pages: Vec<PageRow>,
}

impl Report {
    /// `p99(UI) / p99(CLI process)` of a row, if the CLI was measured.
    pub fn ratio(row: &SearchRow) -> Option<f64> {
        row.cli.map(|c| row.ui.p99_ms / c.p99_ms)
    }

    /// The markdown tables and the lines around them.
    pub fn table(&self) -> String {
        let a = &self.archive;
        let mut s = String::new();
        let runs = self.searches.first().map_or(0, |r| r.ui.runs);
        let _ = writeln!(
            s,
            "archive: {} messages; large chat `{}` {} messages; ordinary chat `{}` {} messages; {} runs per row after {} warm-up rounds, interleaved (UI, CLI, library)",
            a.messages, a.big.chat_id, a.big.messages, a.small.chat_id, a.small.messages, runs, self.warmup
        );
        if let Some(b) = a.built_secs {
            let _ = write!(s, "built in {b:.1} s");
        }
        if let Some(i) = a.indexed_secs {
            let _ = write!(s, "; indexed in {i:.1} s");
        }
        if let Some((v, secs)) = a.reused_from_schema {
            let _ = write!(
                s,
                "reused (schema {v}; opened for writing, with any migration, in {secs:.1} s)"
            );
        }
        let _ = writeln!(s, "\n");
        let _ = writeln!(
            s,
            "| query | filters | hits | UI search page p50 / p99 | CLI `chatvault search` process p50 / p99 | library calls p50 / p99 | p99 UI / CLI | p99 UI / library |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
        for r in &self.searches {
            let filters: Vec<String> = r.filters.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {:.2}x |",
                r.query,
                if filters.is_empty() {
                    "—".into()
                } else {
                    filters.join(" ")
                },
                r.hits,
                r.ui.cell(),
                r.cli.map_or("—".into(), |c| c.cell()),
                r.library.cell(),
                Self::ratio(r).map_or("—".into(), |x| format!("{x:.2}x")),
                r.ui.p99_ms / r.library.p99_ms
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "| conversation page | chat messages | shown | UI page p50 / p99 | archive read alone p50 / p99 |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|");
        for p in &self.pages {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                p.page,
                p.chat_messages,
                p.shown,
                p.ui.cell(),
                p.store_read.cell()
            );
        }
        let _ = writeln!(
            s,
            "\none 128-byte write + fdatasync in the data directory, sampled between the search runs (each page view commits its access-log entry with one; the CLI writes nothing): {}",
            self.fsync.cell()
        );
        let worst = self
            .searches
            .iter()
            .filter_map(Self::ratio)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        if let Some(w) = worst {
            let _ = writeln!(s, "\nworst p99 UI / CLI = {w:.2}x (goal ≤ 1.5x)");
        }
        s
    }
}
