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

mod archive;
mod client;
mod report;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proto::TimestampMs;
use search::{Filters, Named, SearchRequest, Searcher, Sort};
use tokio_util::sync::CancellationToken;

pub use archive::{ChatPages, Prepared};
pub use report::{Latency, PageRow, Report, SearchRow};

use super::util::scratch_dir;
use crate::BenchError;
use archive::{ACCOUNT, BIG_PLATFORM, PASSWORD, USER};
use client::Client;

/// Results on a page of the UI, and the CLI's `--limit` here.
const PAGE: usize = 20;
/// Messages the conversation page shows on each side of the message it is opened at.
const AROUND: usize = 50;

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
    let searcher = Searcher::open(data)?;
    let reader = store::StoreReader::open(data)?;
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
        searches.push(search_row(&mut client, data, opts, &searcher, &reader, &mut fsync, q, &filters).await?);
    }
    let mut pages = Vec::new();
    for p in page_specs(&prepared) {
        eprintln!("  {}", p.label);
        pages.push(page_row(&mut client, opts, &reader, &p).await?);
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

async fn search_row(
    client: &mut Client,
    data: &Path,
    opts: &UiBenchOptions,
    searcher: &Searcher,
    reader: &store::StoreReader,
    fsync: &mut Fsync,
    q: &str,
    filters: &[(&str, &str)],
) -> Result<SearchRow, BenchError> {
    let req = request(searcher, reader, q, filters)?;
    let hits = searcher.count(&req)?;
    let lines = hits.min(PAGE);
    let mut query = vec![("q", q)];
    query.extend_from_slice(filters);
    let (mut ui, mut cli, mut lib) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..opts.warmup + opts.reps {
        let measured = run >= opts.warmup;
        let page = client.get("/search", &query).await?;
        if page.status != 200 || !page.body.contains(&format!("<strong>{hits}</strong>")) {
            return Err(BenchError::Failed(format!(
                "the search page for `{q}` {filters:?} did not show {hits} results (HTTP {})",
                page.status
            )));
        }
        if let Some(exe) = &opts.cli {
            let (took, printed) = cli_search(exe, data, q, filters)?;
            if printed != lines {
                return Err(BenchError::Failed(format!(
                    "`chatvault search {q}` {filters:?} printed {printed} lines, not {lines}"
                )));
            }
            if measured {
                cli.push(took);
            }
        }
        let started = Instant::now();
        let printed = library_search(searcher, reader, q, filters)?;
        let took = started.elapsed();
        if printed != lines {
            return Err(BenchError::Failed(format!(
                "the library search for `{q}` gave {printed} lines, not {lines}"
            )));
        }
        if measured {
            ui.push(page.took);
            lib.push(took);
            fsync.sample()?;
        }
    }
    Ok(SearchRow {
        query: q.to_string(),
        filters: filters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        hits,
        ui: Latency::of(&ui),
        cli: (!cli.is_empty()).then(|| Latency::of(&cli)),
        library: Latency::of(&lib),
    })
}

/// `chatvault search` as a child process; returns its time and the lines it printed.
fn cli_search(exe: &Path, data: &Path, q: &str, filters: &[(&str, &str)]) -> Result<(Duration, usize), BenchError> {
    let mut cmd = Command::new(exe);
    cmd.arg("--data-dir")
        .arg(data)
        .args(["search", q, "--limit", &PAGE.to_string()]);
    for (k, v) in filters {
        cmd.arg(format!("--{k}")).arg(v);
    }
    // No `chatvault.toml` from wherever the benchmark was started.
    cmd.current_dir(data).stdin(Stdio::null());
    let started = Instant::now();
    let out = cmd.output()?;
    let took = started.elapsed();
    if !out.status.success() {
        return Err(BenchError::Failed(format!(
            "`chatvault search {q}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok((
        took,
        out.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(),
    ))
}

/// The request `chatvault search` builds for `q` and `filters`.
fn request(
    searcher: &Searcher,
    reader: &store::StoreReader,
    q: &str,
    filters: &[(&str, &str)],
) -> Result<SearchRequest, BenchError> {
    let mut f = Filters::default();
    for (k, v) in filters {
        match *k {
            "platform" => {
                let p: proto::Platform = v.parse().map_err(|_| BenchError::Failed(format!("platform `{v}`")))?;
                f.platforms.push(search::schema::platform_ord(p));
            }
            "chat" => {
                f.chats = resolve(&searcher.chats_with_archive(reader)?, k, v)?;
            }
            "sender" => f.senders = resolve(&searcher.senders()?, k, v)?,
            other => return Err(BenchError::Failed(format!("unknown filter `{other}`"))),
        }
    }
    Ok(SearchRequest {
        query: search::parse(q)?,
        filters: f,
        all_revisions: false,
        sort: Sort::Relevance,
        limit: PAGE,
    })
}

/// The keys `spec` names; none is an error, as in `chatvault search` (an empty list would
/// mean "no filter").
fn resolve(known: &[Named], what: &str, spec: &str) -> Result<Vec<String>, BenchError> {
    let keys: Vec<String> = search::resolve(known, spec)
        .into_iter()
        .map(|n| n.key.clone())
        .collect();
    if keys.is_empty() {
        return Err(BenchError::Failed(format!("no {what} `{spec}` in the archive")));
    }
    Ok(keys)
}

/// The CLI's work once started: resolve, search, read the records back, highlight each line.
fn library_search(
    searcher: &Searcher,
    reader: &store::StoreReader,
    q: &str,
    filters: &[(&str, &str)],
) -> Result<usize, BenchError> {
    searcher.reload()?;
    let req = request(searcher, reader, q, filters)?;
    let hits = searcher.search(&req)?;
    let keys: Vec<_> = hits.iter().map(|h| h.key.clone()).collect();
    let mut records: HashMap<_, _> = reader
        .messages_by_keys(&keys)?
        .into_iter()
        .map(|r| (r.key.clone(), r))
        .collect();
    let terms: Vec<&str> = req.query.positive_terms().collect();
    let mut out = String::new();
    let mut lines = 0;
    for k in &keys {
        let Some(r) = records.remove(k) else { continue };
        for seg in search::highlight::highlight(&r.text, terms.iter().copied(), 160) {
            out.push_str(&seg.text);
        }
        out.push('\n');
        lines += 1;
    }
    std::hint::black_box(out);
    Ok(lines)
}

/// A conversation page: its URL and the timeline read behind it.
struct PageSpec {
    label: String,
    chat: ChatPages,
    at: Option<(String, TimestampMs)>,
}

fn page_specs(p: &Prepared) -> Vec<PageSpec> {
    let spec = |label: &str, chat: &ChatPages, at: Option<&(String, TimestampMs)>| PageSpec {
        label: label.to_string(),
        chat: chat.clone(),
        at: at.cloned(),
    };
    vec![
        spec(
            "large chat, first page (at its first message)",
            &p.big,
            Some(&p.big.first),
        ),
        spec("large chat, middle (at a message mid-way)", &p.big, Some(&p.big.middle)),
        spec("large chat, last page (latest messages)", &p.big, None),
        spec("ordinary chat, last page (latest messages)", &p.small, None),
    ]
}

async fn page_row(
    client: &mut Client,
    opts: &UiBenchOptions,
    reader: &store::StoreReader,
    spec: &PageSpec,
) -> Result<PageRow, BenchError> {
    let path = format!("/chat/{}/{ACCOUNT}/{}", BIG_PLATFORM.as_str(), spec.chat.chat_id);
    let query: Vec<(&str, &str)> = spec.at.iter().map(|(id, _)| ("at", id.as_str())).collect();
    let (point, before, after) = match &spec.at {
        Some((_, t)) => (*t, AROUND, AROUND),
        None => (TimestampMs::MAX, 2 * AROUND, 0),
    };
    let (mut ui, mut read) = (Vec::new(), Vec::new());
    let mut shown = 0;
    for run in 0..opts.warmup + opts.reps {
        let page = client.get(&path, &query).await?;
        let started = Instant::now();
        let msgs = reader.chat_timeline(BIG_PLATFORM, ACCOUNT, &spec.chat.chat_id, point, before, after)?;
        let took = started.elapsed();
        let first = msgs.first().map(|m| format!("id=\"m-{}\"", m.key.msg_id));
        if page.status != 200 || !first.is_some_and(|f| page.body.contains(&f)) {
            return Err(BenchError::Failed(format!(
                "{} did not show the chat's timeline (HTTP {})",
                spec.label, page.status
            )));
        }
        shown = msgs.len();
        if run >= opts.warmup {
            ui.push(page.took);
            read.push(took);
        }
    }
    Ok(PageRow {
        page: spec.label.clone(),
        chat_messages: spec.chat.messages,
        shown,
        ui: Latency::of(&ui),
        store_read: Latency::of(&read),
    })
}

/// One small write and `fdatasync` in the data directory, sampled between the search rows'
/// runs: the disk's share of a page's time. Every page view commits its access-log entry
/// (WAL, `synchronous=FULL`: one sync per commit) before the page is sent; the CLI writes
/// nothing.
struct Fsync {
    path: PathBuf,
    file: std::fs::File,
    samples: Vec<Duration>,
}

impl Fsync {
    fn open(data: &Path) -> Result<Fsync, BenchError> {
        let path = data.join("bench-fsync-probe");
        let file = std::fs::File::create(&path)?;
        Ok(Fsync {
            path,
            file,
            samples: Vec::new(),
        })
    }

    fn sample(&mut self) -> Result<(), BenchError> {
        use std::io::{Seek, Write};
        let started = Instant::now();
        self.file.seek(std::io::SeekFrom::Start(0))?;
        self.file.write_all(&[0x5a; 128])?;
        self.file.sync_data()?;
        self.samples.push(started.elapsed());
        Ok(())
    }

    fn finish(self) -> Result<Latency, BenchError> {
        drop(self.file);
        std::fs::remove_file(&self.path)?;
        Ok(Latency::of(&self.samples))
    }
}
