//! The pipeline started as `chatvault run` starts it, for the benchmarks that measure it end
//! to end: its config written beside the archive, and a reader of the archive once the
//! pipeline has created it.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::BenchError;
use ::pipeline::{Pipeline, PipelineOptions};

pub struct Running {
    pub pipeline: Pipeline,
    /// Cancelling it stops the pipeline (then `pipeline.wait()` drains it).
    pub shutdown: CancellationToken,
    /// Taken just before the start: the benchmark's clock includes the connectors' start-up.
    pub started: Instant,
    pub reader: store::StoreReader,
}

/// Starts the pipeline on an archive in `data` (created if missing) with the connector
/// `sections` of its config (written to `data/bench.toml`), with the search indexer when
/// `index`, and waits for its archive, looking every `poll`.
pub async fn start(data: &Path, sections: &str, index: bool, poll: Duration) -> Result<Running, BenchError> {
    std::fs::create_dir_all(data)?;
    let toml = format!(
        "[storage]\ndata_dir = \"{}\"\n[server]\nlisten = \"127.0.0.1:0\"\n\n{sections}\n",
        data.display()
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
            index,
        },
        shutdown.clone(),
    )
    .await?;
    let reader = loop {
        match store::StoreReader::open(data) {
            Ok(r) => break r,
            Err(_) => tokio::time::sleep(poll).await,
        }
    };
    Ok(Running {
        pipeline,
        shutdown,
        started,
        reader,
    })
}

/// Messages in the archive (0 while it cannot say). One index count: the full `stats`
/// reads every message row twice, seconds of this process's CPU at a million messages, and
/// [`Running::wait_archived`] asks while the clock runs.
pub fn messages(reader: &store::StoreReader) -> u64 {
    reader.message_count().unwrap_or(0)
}

impl Running {
    /// Waits until the archive holds `n` messages, looking every `poll` and calling `look`
    /// each time (the caller samples what it watches besides), with a progress line every
    /// 5 s; the seconds since the start. Gives up after an hour, saying that `who` did not
    /// archive `n` of its `unit`.
    pub async fn wait_archived(
        &self,
        n: usize,
        poll: Duration,
        mut look: impl FnMut(),
        (who, unit): (&str, &str),
    ) -> Result<f64, BenchError> {
        let mut last_report = Instant::now();
        loop {
            look();
            let head = self.reader.head()?.seq;
            if last_report.elapsed() > Duration::from_secs(5) {
                eprintln!(
                    "  {:>6.1} s: {head} events committed",
                    self.started.elapsed().as_secs_f64()
                );
                last_report = Instant::now();
            }
            // Cheap check first (the head), the exact one (message rows) only near the end.
            if head as usize >= n && messages(&self.reader) as usize >= n {
                return Ok(self.started.elapsed().as_secs_f64());
            }
            if self.started.elapsed() > Duration::from_secs(3600) {
                return Err(BenchError::Failed(format!(
                    "{who} did not archive {n} {unit} within an hour"
                )));
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Stops the pipeline and waits for it to drain; the reader of what it archived and the
    /// store writer's totals.
    pub async fn stop(self) -> Result<(store::StoreReader, store::WriterStats), BenchError> {
        self.shutdown.cancel();
        let stats = self.pipeline.wait().await?;
        Ok((self.reader, stats))
    }
}
