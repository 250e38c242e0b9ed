//! One search row of `bench ui`: the page, the spawned CLI and the library calls for the same
//! query and filters, interleaved run by run, each checked to return the same results.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use search::{Filters, Named, SearchRequest, Searcher, Sort};

use super::client::Client;
use super::fsync::Fsync;
use super::{Latency, SearchRow, UiBenchOptions};
use crate::BenchError;

/// Results on a page of the UI, and the CLI's `--limit` here.
const PAGE: usize = 20;

pub(super) async fn search_row(
    client: &mut Client,
    data: &Path,
    opts: &UiBenchOptions,
    library: &Library<'_>,
    fsync: &mut Fsync,
    q: &str,
    filters: &[(&str, &str)],
) -> Result<SearchRow, BenchError> {
    let req = library.request(q, filters)?;
    let hits = library.searcher.count(&req)?;
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
        let printed = library.search(q, filters)?;
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

/// What `chatvault search` works on: the index, and the archive its hits are read back from.
pub(super) struct Library<'a> {
    pub(super) searcher: &'a Searcher,
    pub(super) reader: &'a store::StoreReader,
}

impl Library<'_> {
    /// The request `chatvault search` builds for `q` and `filters`.
    fn request(&self, q: &str, filters: &[(&str, &str)]) -> Result<SearchRequest, BenchError> {
        let mut f = Filters::default();
        for (k, v) in filters {
            match *k {
                "platform" => {
                    let p: proto::Platform = v.parse().map_err(|_| BenchError::Failed(format!("platform `{v}`")))?;
                    f.platforms.push(search::schema::platform_ord(p));
                }
                "chat" => {
                    f.chats = resolve(&self.searcher.chats_with_archive(self.reader)?, k, v)?;
                }
                "sender" => f.senders = resolve(&self.searcher.senders()?, k, v)?,
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

    /// The CLI's work once started: resolve, search, read the records back, highlight each
    /// line.
    fn search(&self, q: &str, filters: &[(&str, &str)]) -> Result<usize, BenchError> {
        self.searcher.reload()?;
        let req = self.request(q, filters)?;
        let hits = self.searcher.search(&req)?;
        let found = search::with_records(self.reader, hits)?;
        let terms: Vec<&str> = req.query.positive_terms().collect();
        let mut out = String::new();
        let mut lines = 0;
        for (_, r) in found {
            for seg in search::highlight::highlight(&r.text, terms.iter().copied(), 160) {
                out.push_str(&seg.text);
            }
            out.push('\n');
            lines += 1;
        }
        std::hint::black_box(out);
        Ok(lines)
    }
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
