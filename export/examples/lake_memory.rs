//! Peak memory of the lake export beside the local export of the same archive, in one run:
//! builds an archive of N messages (a few large partitions, so that files span many
//! multipart parts), then exports it to a folder, to `s3://BUCKET/…` as Parquet and as Delta,
//! printing time, bytes and peak RSS (VmHWM, reset before each stage) of each.
//!
//! ```text
//! AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
//!   cargo run --release -p chatvault-export --example lake_memory -- 300000 http://127.0.0.1:8333 lake
//! cargo run --release -p chatvault-export --example lake_memory -- 1000000   # starts its own SeaweedFS
//! ```
//!
//! Without an endpoint it starts SeaweedFS from `.venv/lake` on loopback (as the tests do).
//! After each S3 export it asks the store for every object's ETag: a multipart upload's ETag
//! ends in `-<number of parts>`, which shows the parts really went as a multipart upload.

// The crate under the name the rest of the workspace uses.
extern crate chatvault_export as export;

use std::time::Instant;

use export::{Credential, ExportOptions, LakeFormat, LakeOptions, LakeTarget, S3Settings, run_export, run_lake_export};
use proto::{EventBatch, Ingested, NewMessage, Platform, RawPayload};
use store::{Store, StoreOptions};

const DAY: i64 = 86_400_000;
const DAY0: i64 = 1_772_323_200_000;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).map_or(Ok(100_000), |s| s.parse())?;
    let own = match args.get(2) {
        Some(_) => None,
        None => Some(testkit::seaweed::Seaweed::start()),
    };
    // The own server's identity; otherwise AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    let keys = own
        .as_ref()
        .map(|_| (testkit::seaweed::ACCESS_KEY, testkit::seaweed::SECRET_KEY));
    let endpoint = args
        .get(2)
        .cloned()
        .or_else(|| own.as_ref().map(|s| s.endpoint.clone()))
        .unwrap_or_default();
    let bucket = args.get(3).cloned().unwrap_or_else(|| "lake".into());
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");

    let t = Instant::now();
    {
        let mut store = Store::open(
            &data,
            StoreOptions {
                synchronous_full: false,
                ..Default::default()
            },
        )?;
        let mut i = 0u64;
        while i < n {
            let mut events = Vec::new();
            for _ in 0..2_000.min(n - i) {
                let sent = DAY0 + (i % 3) as i64 * DAY + (i / 3) as i64 % DAY;
                let text = format!(
                    "第{i}条：季度报表已经发到群里，请各部门负责人在周五之前核对并回复确认，谢谢。{}",
                    i * 7919
                );
                let m = NewMessage {
                    chat_name: Some("报销群".into()),
                    sender_id: format!("user{}", i % 97),
                    ..testkit::text(&text, sent)
                };
                events.push(testkit::message(&format!("g{}", i % 13), &format!("m{i}"), m));
                i += 1;
            }
            let raw = RawPayload {
                received_at: DAY0 + 3 * DAY,
                media_type: proto::batch::media::JSON.into(),
                bytes: format!("{{\"batch\":{i}}}").into_bytes().into(),
            };
            let (batch, _rx) = EventBatch::new(Platform::Wecom, "corp", vec![Ingested::Payload { raw, events }], None);
            store.append(&[&batch])?;
        }
    }
    eprintln!("archive of {n} messages built in {:.1} s", t.elapsed().as_secs_f64());

    println!("| export of {n} messages | time | rows/s | bytes | files | peak RSS |");
    println!("|---|---|---|---|---|---|");
    reset_peak_rss();
    let t = Instant::now();
    let local = run_export(
        &ExportOptions {
            data_dir: data.clone(),
            out_dir: dir.path().join("export"),
            tz: chrono_tz::UTC,
            full: true,
            file_mode: export::DEFAULT_FILE_MODE,
        },
        &mut |_| {},
    )?;
    let secs = t.elapsed().as_secs_f64();
    let local_rate = n as f64 / secs;
    println!(
        "| local folder (baseline) | {secs:.2} s | {:.0} | {} | {} | {:.0} MiB |",
        n as f64 / secs,
        local.bytes_written,
        local.total_files,
        peak_rss_mib()
    );
    let mut etags = Vec::new();
    for (name, format) in [("parquet", LakeFormat::Parquet), ("delta", LakeFormat::Delta)] {
        reset_peak_rss();
        let t = Instant::now();
        let s = run_lake_export(
            &LakeOptions {
                data_dir: data.clone(),
                target: LakeTarget::parse(&format!("s3://{bucket}/memory-{}-{name}", std::process::id()))?,
                s3: S3Settings {
                    endpoint: Some(endpoint.clone()),
                    path_style: true,
                    allow_http: endpoint.starts_with("http://"),
                    access_key_id: keys.map(|k| Credential::new(k.0)),
                    secret_access_key: keys.map(|k| Credential::new(k.1)),
                    ..S3Settings::default()
                },
                format,
                tz: chrono_tz::UTC,
                full: false,
                fail_after_uploads: None,
            },
            &mut |_| {},
        )?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "| S3 {name} (stage + upload) | {secs:.2} s | {:.0} ({:.2}x local) | {} | {} | {:.0} MiB |",
            n as f64 / secs,
            n as f64 / secs / local_rate,
            s.bytes_uploaded,
            s.files_uploaded,
            peak_rss_mib()
        );
        etags.push((name, s.target.clone()));
    }
    println!();
    for (name, target) in etags {
        for (key, size, etag) in object_etags(&endpoint, &bucket, &target, keys)? {
            println!("{name}: {key} {size} bytes, ETag {etag}");
        }
    }
    Ok(())
}

/// An object's key, size and ETag.
type ObjectTag = (String, u64, String);

/// Every data object under `target` with its size and ETag (`…-N` = a multipart upload of N
/// parts).
fn object_etags(
    endpoint: &str,
    bucket: &str,
    target: &str,
    keys: Option<(&str, &str)>,
) -> Result<Vec<ObjectTag>, Box<dyn std::error::Error>> {
    use futures_util::StreamExt;
    use object_store::ObjectStore;
    let prefix = target.trim_start_matches(&format!("s3://{bucket}/")).to_string();
    let mut builder = object_store::aws::AmazonS3Builder::from_env();
    if let Some((id, secret)) = keys {
        builder = builder.with_access_key_id(id).with_secret_access_key(secret);
    }
    let store = builder
        .with_bucket_name(bucket)
        .with_endpoint(endpoint)
        .with_region("us-east-1")
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let mut out = Vec::new();
        let mut list = store.list(Some(&object_store::path::Path::from(prefix)));
        while let Some(m) = list.next().await {
            let m = m?;
            if m.location.as_ref().ends_with(".parquet") {
                out.push((m.location.to_string(), m.size, m.e_tag.unwrap_or_default()));
            }
        }
        Ok(out)
    })
}
