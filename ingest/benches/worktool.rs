//! WorkTool receiver throughput: callbacks/s and answer latency (p50/p99) from a concurrent
//! poster, through the shared server, the receiver and a fake store that commits at once,
//! beside a baseline measured in the same run: the same poster against a route that answers
//! `{"code":0}` without doing anything (loopback HTTP cost alone).
//!
//! `cargo bench -p chatvault-ingest --bench worktool` (env `WT_BENCH_N`, `WT_BENCH_CONCURRENCY`).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use chatvault_ingest::blobs::BlobStore;
use chatvault_ingest::server::{Health, ServerOptions, serve};
use chatvault_ingest::state::StateRegistry;
use chatvault_ingest::worktool::WorktoolConnector;
use chatvault_ingest::{Connector, ConnectorContext};
use config::{Secret, WorktoolConfig};
use proto::Platform;
use sim::fake_store::FakeStore;
use sim::worktool::{Script, WorktoolPoster};
use tokio_util::sync::CancellationToken;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn report(label: &str, poster: &WorktoolPoster, acked: usize, elapsed: Duration) {
    let mut lat: Vec<Duration> = poster.log().iter().map(|a| a.latency()).collect();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "{label:<28} {acked:>6} acked  {:>9.0} callbacks/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        acked as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
}

fn main() {
    let n = env("WT_BENCH_N", 20_000);
    let concurrency = env("WT_BENCH_CONCURRENCY", 32);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let script = Script::Bulk(n).callbacks();
        let token = CancellationToken::new();
        let health = || {
            Health::new(
                StateRegistry::new(),
                Arc::new(AtomicBool::new(true)),
                Arc::new(String::new),
            )
        };
        let opts = ServerOptions::new("127.0.0.1:0".parse().expect("addr"), 10 << 20);

        // Baseline: HTTP only.
        let noop = Router::new().route(
            "/noop",
            post(|| async { axum::Json(serde_json::json!({"code":0,"message":"success"})) }),
        );
        let server = serve(opts.clone(), vec![noop], health(), token.clone())
            .await
            .expect("serve");
        let poster = WorktoolPoster::sim(&format!("http://{}/noop", server.local_addr()));
        let t = Instant::now();
        let acked = poster.burst(&script, concurrency).await;
        report("baseline (HTTP, no work)", &poster, acked, t.elapsed());

        // The receiver with a fake store.
        let dir = tempfile::tempdir().expect("tempdir");
        let (tx, store) = FakeStore::channel(64);
        let cx = ConnectorContext {
            shutdown: token.clone(),
            blobs: Arc::new(BlobStore::new(dir.path().join("blobs"), 1 << 20)),
            ..ConnectorContext::new(Platform::Worktool, "bench", tx, dir.path())
        };
        let cfg = WorktoolConfig {
            name: "bench".into(),
            robot_id: None,
            path: "/cb/wt".into(),
            key: Secret::new(sim::worktool::KEY),
            api_base: "http://127.0.0.1:9".into(),
            api_key: None,
            spool_max_bytes: 1024 * 1024 * 1024,
        };
        let conn = Arc::new(WorktoolConnector::new(cfg));
        let router = conn.router(&cx).expect("routes");
        let server = serve(opts, vec![router], health(), token.clone()).await.expect("serve");
        tokio::spawn(conn.run(cx));
        let poster = WorktoolPoster::sim(&format!("http://{}/cb/wt", server.local_addr()));
        let t = Instant::now();
        let acked = poster.burst(&script, concurrency).await;
        report("receiver + fake store", &poster, acked, t.elapsed());
        let archived = store.events().len();
        println!(
            "archived events: {archived} (incl. connector state), batches: {}",
            store.batches()
        );
        token.cancel();
    });
}
