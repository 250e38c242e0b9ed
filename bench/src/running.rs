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

/// Starts the pipeline on the config `toml` (written to `data/bench.toml`), with the search
/// indexer when `index`, and waits for its archive, looking every `poll`.
pub async fn start(data: &Path, toml: String, index: bool, poll: Duration) -> Result<Running, BenchError> {
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
