//! WeCom callback throughput, each figure measured in the same run on the same messages:
//! 1. decode: callbacks/s through signature check → AES-256-CBC → XML → events (one core);
//! 2. `sim wecom` poster → loopback HTTP → receiver → fake store: callbacks/s end to end
//!    (verify + decrypt + parse + commit notice + 200) and answer latency p50/p99;
//! 3. the same into the real store writer (SQLite WAL, synchronous=FULL, group commit);
//! 4. store append of the same decoded callbacks, one batch each as the receiver sends them,
//!    with the same number in flight, without HTTP.
//!
//! The poster runs in the same process on the same cores, so stages 2–3 include its cost.
//! `cargo bench -p chatvault-ingest --bench wecom [-- <n> [<concurrency>]]` (default 20000, 16).

mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use chatvault_ingest::wecom::crypto::WecomCrypto;
use chatvault_ingest::wecom::{WecomConnector, codec};
use chatvault_ingest::{Connector, ConnectorContext};
use proto::{Ingested, Platform, RawPayload, batch::media};
use sim::fake_store::FakeStore;
use sim::wecom::{self, Script, WecomPoster};
use tokio::sync::mpsc;

const PATH: &str = "/callback/wecom/bench";

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = args.first().copied().unwrap_or(20_000);
    let conc = args.get(1).copied().unwrap_or(16);
    let callbacks = Script::Bulk(n).callbacks(wecom::CORP_ID);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let (decode_time, items) = decode_all(&callbacks);
    let (fake_time, fake_lat) = rt.block_on(through_http(&callbacks, conc, None));
    let dir = tempfile::tempdir().expect("scratch");
    let (real_time, real_lat) = rt.block_on(through_http(&callbacks, conc, Some(&dir.path().join("http"))));
    // One batch per callback, as the receiver sends them, with as many in flight as the poster.
    let store_time = rt.block_on(harness::store_only(
        Platform::Wecom,
        items,
        1,
        Some(conc),
        &dir.path().join("direct"),
    ));

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    // Latency columns stay empty for the stages without HTTP answers.
    let row = |stage: &str, time: Duration, answers: Option<&[Duration]>| {
        let answers = answers.map_or_else(
            || " | ".to_string(),
            |l| format!(" {:.2} ms | {:.2} ms ", ms(pct(l, 0.50)), ms(pct(l, 0.99))),
        );
        println!(
            "| {stage} | {:.2} s | {:.0} callbacks/s |{answers}|",
            time.as_secs_f64(),
            rate(time)
        );
    };
    println!("WeCom callbacks, n = {n}, {conc} in flight, loopback HTTP\n");
    println!("| stage | time | rate | answer p50 | answer p99 |");
    println!("| --- | --- | --- | --- | --- |");
    row("decode (verify + decrypt + XML → events), one core", decode_time, None);
    row(
        "poster → HTTP → receiver → fake store",
        fake_time,
        Some(fake_lat.as_slice()),
    );
    row(
        "poster → HTTP → receiver → store writer (synchronous=FULL)",
        real_time,
        Some(real_lat.as_slice()),
    );
    row(
        &format!("store append of the same decoded callbacks, one batch each, {conc} in flight"),
        store_time,
        None,
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Encrypts every callback like WeCom, then times the receiver's pure path over them.
fn decode_all(callbacks: &[wecom::Callback]) -> (Duration, Vec<Ingested>) {
    let crypto = WecomCrypto::new(wecom::TOKEN, wecom::ENCODING_AES_KEY, wecom::CORP_ID).expect("sim key");
    let poster = WecomPoster::sim("http://127.0.0.1:9");
    let signed: Vec<_> = callbacks.iter().map(|cb| poster.sign(&cb.xml, None)).collect();
    let started = Instant::now();
    let mut items = Vec::with_capacity(signed.len());
    for s in &signed {
        let q: Vec<(&str, &str)> = s.query.split('&').filter_map(|kv| kv.split_once('=')).collect();
        let get = |k: &str| q.iter().find(|(n, _)| *n == k).map(|(_, v)| *v).unwrap_or_default();
        let env = codec::parse_envelope(s.body.as_bytes()).expect("envelope");
        crypto
            .verify(get("msg_signature"), get("timestamp"), get("nonce"), &env.encrypt)
            .expect("signature");
        let plain = crypto.decrypt(&env.encrypt).expect("decrypt");
        let events = codec::decode(&plain).expect("decode").events;
        items.push(Ingested::Payload {
            raw: RawPayload::now(media::XML, plain),
            events,
        });
    }
    (started.elapsed(), items)
}

/// Serves the receiver, posts every callback with `conc` in flight; returns the time until
/// the last answer and the sorted answer latencies.
async fn through_http(
    callbacks: &[wecom::Callback],
    conc: usize,
    store_dir: Option<&Path>,
) -> (Duration, Vec<Duration>) {
    let cfg = harness::config(&wecom::config_toml("bench", PATH, None)).wecom[0].clone();
    let (tx, rx) = mpsc::channel(64);
    let scratch = tempfile::tempdir().expect("scratch");
    let cx = ConnectorContext::new(Platform::Wecom, "bench", tx, scratch.path());
    let shutdown = cx.shutdown.clone();
    let (fake, writer) = match store_dir {
        None => (Some(FakeStore::spawn(rx)), None),
        Some(dir) => {
            let store = store::Store::open(dir, store::StoreOptions::default()).expect("store opens");
            (
                None,
                Some(store::spawn_writer(store, rx, store::WriterOptions::default())),
            )
        }
    };
    let router = WecomConnector::new(cfg).router(&cx).expect("router");
    drop(cx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}{PATH}", listener.local_addr().expect("addr"));
    let stop = shutdown.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });
    let poster = WecomPoster::sim(&url);
    let started = Instant::now();
    let acked = poster.burst(callbacks, conc).await;
    let elapsed = started.elapsed();
    assert_eq!(acked, callbacks.len(), "every callback acknowledged");
    if let Some(fake) = &fake {
        assert_eq!(fake.events().len(), callbacks.len(), "every callback archived");
    }
    let mut lat: Vec<Duration> = poster.log().iter().map(|a| a.answered_at - a.sent_at).collect();
    lat.sort();
    shutdown.cancel();
    let _ = server.await;
    if let Some(w) = writer {
        w.join().await.expect("writer ends");
    }
    (elapsed, lat)
}
