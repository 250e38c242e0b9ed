//! `chatvault bench ui`: the reviewer UI's search page beside `chatvault search` for the same
//! queries in the same run, and the conversation page of a large chat.
//!
//! The archive (`ui/archive.rs`) is the perf-notes corpus with one large WeCom chat, indexed
//! like `chatvault reindex` does; `--data-dir` reuses (or builds into) a directory. The UI is
//! `ui::serve` in this process on a loopback port, with a reviewer signed in through the login
//! form (`ui/client.rs`); every page counts from the request sent to the last byte of the
//! body read, access-log entry and all.
//!
//! Each query row is measured three ways, interleaved run by run so load on the machine falls
//! on all three alike:
//! - the search page, `GET /search?q=…&platform=…&chat=…&sender=…`;
//! - the CLI as a user meets it: the `chatvault` binary spawned as `chatvault search QUERY
//!   --limit 20 [--platform|--chat|--sender]`, until it exits with its output read (process
//!   start, index and archive opened, the tail catch-up check, the search, the lines printed);
//! - the library calls that command makes once started (resolve filters, search, read the
//!   records back, highlight), with the index and archive kept open: the floor both sit on.
//!
//! The goal (issue: p99 of the page ≤ 1.5× the CLI's) is judged against the spawned CLI; the
//! library column shows what the page adds to the search itself. Conversation pages are
//! measured beside the archive read alone (`StoreReader::chat_timeline`, the same arguments).
//!
//! Files: `ui/archive.rs` (the archive and the reviewer), `ui/client.rs` (the signed-in
//! client), `ui/search.rs` (a search row), `ui/pages.rs` (a conversation-page row),
//! `ui/fsync.rs` (the disk's sync time), `ui/report.rs` (the table and JSON).

mod archive;
mod client;
mod fsync;
mod pages;
mod report;
mod search;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use archive::{ChatPages, Prepared};
pub use report::{Latency, PageRow, Report, SearchRow};

use super::util::scratch_dir;
use crate::BenchError;
use archive::{PASSWORD, USER};
use client::Client;
use fsync::Fsync;

/// The fixed queries: text and filters (`platform`, `chat`, `sender`: the page's fields and
/// the CLI's flags alike).
const QUERIES: &[(&str, &[(&str, &str)])] = &[
    ("农业", &[]),
    ("报告", &[]),
    ("农业局", &[]),
    ("签字确认", &[]),
    ("invoice", &[]),
    ("合同 审批", &[]),
    ("农业", &[("platform", "wecom")]),
    ("报告", &[("sender", FIRST_SENDER)]),
    ("合同", &[("chat", archive::BIG_CHAT)]),
];

/// Stands for the sender of the large chat's first message (a corpus sender with about
/// `n / 5,000` messages; which one depends on the seed, so it is read from the archive).
const FIRST_SENDER: &str = "<first sender>";

/// How to run [`measure`].
#[derive(Debug, Clone)]
pub struct UiBenchOptions {
    /// Messages in a newly built archive.
    pub n: usize,
    /// Messages of the large chat in a newly built archive.
    pub chat_size: usize,
    /// Measured runs per row.
    pub reps: usize,
    /// Unmeasured runs per row before them.
    pub warmup: usize,
    /// Data directory to reuse, or to build into when it holds no archive.
    pub data_dir: Option<PathBuf>,
    /// Parent of the scratch directory used without `data_dir`.
    pub dir: Option<PathBuf>,
    /// The `chatvault` binary for the CLI column (None: the column is left empty).
    pub cli: Option<PathBuf>,
}

/// `chatvault bench ui`.
pub fn run(args: &crate::BenchArgs) -> Result<(), BenchError> {
    let opts = UiBenchOptions {
        n: args.n,
        chat_size: args.chat_size,
        reps: args.reps,
        warmup: 2,
        data_dir: args.data_dir.clone(),
        dir: args.dir.clone(),
        cli: Some(std::env::current_exe()?),
    };
    let report = measure(&opts)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| BenchError::Failed(e.to_string()))?
        );
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

/// Prepares the archive, serves the UI and measures every row.
pub fn measure(opts: &UiBenchOptions) -> Result<Report, BenchError> {
    let scratch;
    let data = match &opts.data_dir {
        Some(d) => d.clone(),
        None => {
            scratch = scratch_dir(opts.dir.as_deref(), "ui")?;
            scratch.path().join("data")
        }
    };
    eprintln!("bench ui: archive in {}", data.display());
    let prepared = archive::prepare(&data, opts.n, opts.chat_size)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(serve_and_measure(&data, opts, prepared))
}

async fn serve_and_measure(data: &Path, opts: &UiBenchOptions, prepared: Prepared) -> Result<Report, BenchError> {
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(::ui::serve(
        ::ui::UiOptions {
            data_dir: data.to_path_buf(),
            secure_cookies: false,
            idle_timeout: Duration::from_secs(24 * 3600),
            tz: chrono_tz::Asia::Shanghai,
        },
        "127.0.0.1:0".parse().expect("literal address"),
        false,
        shutdown.clone(),
        Some(tx),
    ));
    let addr = rx
        .await
        .map_err(|_| BenchError::Failed("the UI did not start".into()))?;
    let mut client = Client::login(format!("http://{addr}"), USER, PASSWORD).await?;
    let searcher = ::search::Searcher::open(data)?;
    let reader = store::StoreReader::open(data)?;
    let library = search::Library {
        searcher: &searcher,
        reader: &reader,
    };
    let mut fsync = Fsync::open(data)?;
    let mut searches = Vec::new();
    for (q, filters) in QUERIES {
        let filters: Vec<(&str, &str)> = filters
            .iter()
            .map(|&(k, v)| {
                (
                    k,
                    if v == FIRST_SENDER {
                        prepared.big.first_sender.as_str()
                    } else {
                        v
                    },
                )
            })
            .collect();
        eprintln!("  search {q} {filters:?}");
        searches.push(search::search_row(&mut client, data, opts, &library, &mut fsync, q, &filters).await?);
    }
    let mut pages = Vec::new();
    for p in pages::page_specs(&prepared) {
        eprintln!("  {}", p.label);
        pages.push(pages::page_row(&mut client, opts, &reader, &p).await?);
    }
    shutdown.cancel();
    server.await??;
    Ok(Report {
        archive: prepared,
        fsync: fsync.finish()?,
        warmup: opts.warmup,
        searches,
        pages,
    })
}
