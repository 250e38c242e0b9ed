//! The `[export] schedule` with every kind of target — S3 Parquet and S3 Delta on a real S3
//! server (SeaweedFS), a Delta table in a local folder: a scheduled run writes to the target,
//! the next one sends only what changed, every run anchors the head it exported, and
//! `/metrics` counts bytes and failures per target with no credential in any label.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

extern crate chatvault_pipeline as pipeline;

use futures_util::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};
use pipeline::ExportJob;
use pipeline::scheduled_export::scheduled_exports;
use proto::Platform;
use testkit::seaweed::{ACCESS_KEY, BUCKET, SECRET_KEY, shared, unique_prefix};
use tokio_util::sync::CancellationToken;

/// 2026-03-01T00:00:00Z.
const DAY0: i64 = 1_772_323_200_000;
const DAY: i64 = 86_400_000;

type Listing = BTreeMap<String, SystemTime>;

/// Appends one message sent `day` days after DAY0.
fn append(data: &Path, day: i64, id: &str) {
    let mut s = store::Store::open(
        data,
        store::StoreOptions {
            synchronous_full: false,
            cache_mib: 8,
        },
    )
    .unwrap();
    let at = DAY0 + day * DAY;
    let ev = testkit::message("c1", id, testkit::text("周报已提交", at));
    s.append(&[&testkit::batch(Platform::Yunhu, "team", vec![testkit::payload(ev, at)])])
        .unwrap();
}

fn head(data: &Path) -> u64 {
    store::StoreReader::open(data).unwrap().head().unwrap().seq
}

/// A config whose `[export]` section is `export` (credentials through `${ENV}`), with an
/// export every second.
fn config(export: &str) -> config::Config {
    let text = format!("timezone = \"UTC\"\n[export]\nschedule = \"* * * * * *\"\n{export}");
    config::parse_with_env(&text, Path::new("chatvault.toml"), &|var| match var {
        "LAKE_KEY" => Some(ACCESS_KEY.into()),
        "LAKE_SECRET" => Some(SECRET_KEY.into()),
        _ => None,
    })
    .unwrap()
}

fn s3_export(prefix: &str, format: &str) -> String {
    format!(
        "target = \"s3://{BUCKET}/{prefix}\"\nformat = \"{format}\"\nendpoint = \"{}\"\npath_style = true\n\
         allow_http = true\naccess_key_id = \"${{LAKE_KEY}}\"\nsecret_access_key = \"${{LAKE_SECRET}}\"\n",
        shared().endpoint
    )
}

/// The schedule's loop, as `chatvault run` starts it.
struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(cfg: &config::Config, data: &Path) -> (Running, String) {
        let job = ExportJob::from_config(cfg, data, None, false).unwrap();
        let target = job.target().to_string();
        let schedule = export::Schedule::parse(cfg.export.schedule.as_deref().unwrap(), cfg.tz).unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(scheduled_exports(schedule, job, stop.clone()));
        (Running { stop, task }, target)
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

/// Waits until a scheduled run has anchored `seq` (a run anchors once the target holds it).
async fn anchored(data: &Path, seq: u64) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let anchors = store::anchors::read(data).unwrap();
        if anchors.iter().any(|(_, a)| a.as_ref().is_ok_and(|a| a.seq == seq)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled export anchored seq {seq}: {anchors:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every object under the prefix: relative path → last modified.
async fn objects(prefix: &str) -> Listing {
    let c = shared().client();
    let mut out = BTreeMap::new();
    let mut list = c.list(Some(&ObjPath::from(prefix)));
    while let Some(m) = list.next().await {
        let m = m.unwrap();
        let rel = m.location.to_string()[prefix.len() + 1..].to_string();
        out.insert(rel, m.last_modified.into());
    }
    out
}

/// Every file under `root`: relative path → modification time.
fn files(root: &Path) -> Listing {
    fn walk(root: &Path, dir: &Path, out: &mut Listing) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, e.metadata().unwrap().modified().unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

async fn remote_manifest(prefix: &str) -> export::Manifest {
    let bytes = shared()
        .client()
        .get(&ObjPath::from(format!("{prefix}/_manifest.json")))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The `/metrics` value of `name{target="…"}`.
fn metric(name: &str, target: &str) -> Option<f64> {
    let text = pipeline::metrics_renderer()();
    assert!(!text.contains(SECRET_KEY), "a secret in /metrics");
    let key = format!("{name}{{target=\"{target}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .map(|v| v.trim().parse().unwrap())
}

/// [`two_scheduled_runs`] of exports in `format` to a fresh prefix of the bucket (`name-…`),
/// listed by the tests' client; that prefix too.
async fn two_s3_runs(data: &Path, name: &str, format: &str) -> (String, (Listing, Listing, String)) {
    let prefix = unique_prefix(name);
    let cfg = config(&s3_export(&prefix, format));
    let runs = two_scheduled_runs(&cfg, data, || objects(&prefix)).await;
    (prefix, runs)
}

/// Starts the schedule on an archive of two days, waits for a run to export it, adds a
/// message on a third day and waits for the run that exports that; returns what `list` saw
/// after each, and the job's target.
async fn two_scheduled_runs<F: Future<Output = Listing>>(
    cfg: &config::Config,
    data: &Path,
    list: impl Fn() -> F,
) -> (Listing, Listing, String) {
    append(data, 0, "m1");
    append(data, 1, "m2");
    let (running, target) = Running::start(cfg, data);
    anchored(data, head(data)).await;
    let first = list().await;
    append(data, 2, "m3");
    anchored(data, head(data)).await;
    running.stop().await;
    (first, list().await, target)
}

/// What the second run wrote: paths that are new or changed since the first.
fn sent(first: &Listing, second: &Listing) -> Vec<String> {
    second
        .iter()
        .filter(|(k, t)| first.get(*k) != Some(*t))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Checks a Delta target after [`two_scheduled_runs`]: the first run created the messages
/// table; the second sent one new messages file and one new events file, nothing again, and
/// committed the messages table once. Returns what the second run sent.
fn one_delta_commit_per_run(first: &Listing, second: &Listing) -> Vec<String> {
    assert!(
        first.contains_key("messages/_delta_log/00000000000000000000.json"),
        "{first:?}"
    );
    let new = sent(first, second);
    assert_eq!(new.iter().filter(|k| k.ends_with(".parquet")).count(), 2, "{new:?}");
    assert!(
        new.contains(&"messages/_delta_log/00000000000000000001.json".to_string()),
        "{new:?}"
    );
    assert!(
        !second.contains_key("messages/_delta_log/00000000000000000002.json"),
        "{second:?}"
    );
    new
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_s3_parquet_exports_go_to_the_target_incrementally() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    pipeline::metrics_renderer();
    let (prefix, (first, second, target)) = two_s3_runs(&data, "scheduled-parquet", "parquet").await;
    assert_eq!(target, format!("s3://{BUCKET}/{prefix}"));

    assert!(
        first.contains_key("messages/platform=yunhu/date=2026-03-01/data.parquet"),
        "{first:?}"
    );
    assert!(
        first.contains_key("messages/platform=yunhu/date=2026-03-02/data.parquet"),
        "{first:?}"
    );
    // The next run sent the new day's partition and event file, and a new manifest; nothing
    // else was sent again.
    let new = sent(&first, &second);
    assert_eq!(new.len(), 3, "{new:?}");
    assert!(
        new.contains(&"messages/platform=yunhu/date=2026-03-03/data.parquet".to_string()),
        "{new:?}"
    );
    assert!(new.contains(&"_manifest.json".to_string()), "{new:?}");
    assert!(
        new.iter()
            .any(|k| k.starts_with("events/platform=yunhu/date=2026-03-03/")),
        "{new:?}"
    );
    let m = remote_manifest(&prefix).await;
    assert_eq!((m.seq, m.rows("messages")), (head(&data), 3));
    assert!(!data.join("export").exists(), "the schedule wrote to the local `dir`");

    let bytes = metric("chatvault_export_bytes_total", &target).expect("bytes per target in /metrics");
    let exported: u64 = m.files.iter().map(|f| f.bytes).sum();
    assert_eq!(bytes as u64, exported, "every file uploaded exactly once");
    assert_eq!(
        metric("chatvault_export_files_total", &target),
        Some(m.files.len() as f64)
    );
    assert!(metric("chatvault_export_runs_total", &target).unwrap() >= 2.0);
    assert_eq!(metric("chatvault_export_failures_total", &target), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_s3_delta_exports_commit_one_version_per_change() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_, (first, second, _)) = two_s3_runs(&data, "scheduled-delta", "delta").await;
    let new = one_delta_commit_per_run(&first, &second);
    assert!(
        !first.contains_key("messages/_delta_log/00000000000000000001.json"),
        "{first:?}"
    );
    assert!(
        new.contains(&"events/_delta_log/00000000000000000001.json".to_string()),
        "{new:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_local_delta_exports_commit_one_version_per_change() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let lake = dir.path().join("lake");
    let cfg = config(&format!("format = \"delta\"\ndir = \"{}\"\n", lake.display()));
    let (first, second, target) = two_scheduled_runs(&cfg, &data, || async { files(&lake) }).await;
    assert_eq!(target, lake.display().to_string());
    one_delta_commit_per_run(&first, &second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_scheduled_export_is_counted_per_target_and_the_schedule_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    append(&data, 0, "m1");
    let prefix = unique_prefix("scheduled-fail");
    let cfg = config(&s3_export(&prefix, "parquet").replace(&format!("s3://{BUCKET}/"), "s3://no-such-bucket/"));
    pipeline::metrics_renderer();
    let (running, target) = Running::start(&cfg, &data);
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric("chatvault_export_failures_total", &target).unwrap_or(0.0) < 2.0 {
        assert!(Instant::now() < deadline, "no failures counted for {target}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The loop went on after the first failure; a failed run anchors nothing.
    assert!(store::anchors::read(&data).unwrap().is_empty());
    running.stop().await;
    assert_eq!(metric("chatvault_export_bytes_total", &target), None);
}
