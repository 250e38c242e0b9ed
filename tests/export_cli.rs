//! `chatvault export` end to end: the compiled binary on an archive built with the store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proto::{NewMessage, Platform};

use crate::support::append_batch;

/// 2026-03-01T00:00:00Z.
const DAY0: i64 = 1_772_323_200_000;

fn archive(dir: &Path, n: usize) -> PathBuf {
    let data = dir.join("data");
    let mut st = store::Store::open(&data, store::StoreOptions::default()).unwrap();
    append(&mut st, 0, n, 997_000);
    data
}

fn append(st: &mut store::Store, from: usize, n: usize, step_ms: i64) {
    let items = (from..from + n)
        .map(|i| {
            let sent_at = DAY0 + i as i64 * step_ms;
            let ev = testkit::message(
                &format!("chat{}", i % 7),
                &format!("m{i}"),
                NewMessage {
                    chat_name: Some("项目群".into()),
                    sender_id: format!("user{}", i % 13),
                    sender_name: None,
                    ..testkit::text(&format!("第{i}条：合同审批流程已完成"), sent_at)
                },
            );
            testkit::payload(ev, sent_at)
        })
        .collect();
    append_batch(st, Platform::Eoffice, "oa", items);
}

fn chatvault(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chatvault"))
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn export_then_up_to_date_then_full() {
    let dir = tempfile::tempdir().unwrap();
    let data = archive(dir.path(), 300);
    let d = data.to_str().unwrap();
    let o = chatvault(dir.path(), &["--data-dir", d, "export"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("exported seq 0..300"), "{out}");
    assert!(out.contains("300 messages, 300 events"), "{out}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("export/_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["seq"], 300);
    // 300 messages ≈ 83 hours from 1 March: four daily partitions.
    assert!(
        data.join("export/messages/platform=eoffice/date=2026-03-04/data.parquet")
            .exists()
    );

    let o = chatvault(dir.path(), &["--data-dir", d, "export"]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("up to date (seq 300)"), "{}", text(&o.stdout));

    let custom = dir.path().join("elsewhere");
    let o = chatvault(
        dir.path(),
        &["--data-dir", d, "export", "--full", "--out", custom.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("(full)"), "{}", text(&o.stdout));
    assert!(custom.join("_manifest.json").exists());
}

#[test]
fn unwritable_out_dir_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = archive(dir.path(), 10);
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let bad = dir.path().join("file/export");
    let o = chatvault(
        dir.path(),
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "export",
            "--out",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("error: cannot write") && err.contains("file/export"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn concurrent_export_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = archive(dir.path(), 10);
    let _held = export::ExportLock::acquire(&data.join("export")).unwrap();
    let o = chatvault(dir.path(), &["--data-dir", data.to_str().unwrap(), "export"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("another export is running"),
        "{}",
        text(&o.stderr)
    );
}

/// A file-size limit (`ulimit -f`, with SIGXFSZ ignored so writes fail with EFBIG instead of
/// killing the process) stands in for a full disk: the export fails, says why, and the
/// previous export stays exactly as its manifest describes.
#[test]
fn a_full_disk_leaves_the_previous_export_intact() {
    let dir = tempfile::tempdir().unwrap();
    let data = archive(dir.path(), 50);
    let d = data.to_str().unwrap();
    assert!(chatvault(dir.path(), &["--data-dir", d, "export"]).status.success());
    let manifest = std::fs::read(data.join("export/_manifest.json")).unwrap();
    let listing = |p: &Path| {
        let mut v: Vec<String> = walk(p).into_iter().filter(|f| !f.ends_with(".export.lock")).collect();
        v.sort();
        v
    };
    let before = listing(&data.join("export"));

    // Enough new rows on one day that its files exceed the limit (64 blocks of 512 bytes).
    let mut st = store::Store::open(&data, store::StoreOptions::default()).unwrap();
    append(&mut st, 50, 4000, 10);
    drop(st);
    let script = format!(
        "trap '' XFSZ; ulimit -f 64; exec '{}' --data-dir '{d}' export",
        env!("CARGO_BIN_EXE_chatvault")
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("cannot write") && err.contains("File too large"), "{err}");
    assert_eq!(std::fs::read(data.join("export/_manifest.json")).unwrap(), manifest);
    assert_eq!(
        listing(&data.join("export")),
        before,
        "no file replaced, no temporary left"
    );

    // With room again, the next export completes the job.
    let o = chatvault(dir.path(), &["--data-dir", d, "export"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("exported seq 50..4050"), "{}", text(&o.stdout));
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(format!("{} {}", p.display(), std::fs::metadata(&p).unwrap().len()));
        }
    }
    out
}

/// `chatvault export --out s3://…` against a real S3 server (SeaweedFS): upload progress
/// lines without a terminal, a summary naming the target and what was sent, an anchor of
/// the exported head like any export, and the next run sends only what changed.
#[test]
fn export_to_s3_reports_the_upload_and_anchors_the_head() {
    use testkit::seaweed::{ACCESS_KEY, BUCKET, SECRET_KEY, shared, unique_prefix};
    let s3 = shared();
    let dir = tempfile::tempdir().unwrap();
    let data = archive(dir.path(), 300);
    let config = dir.path().join("chatvault.toml");
    std::fs::write(
        &config,
        format!(
            "[export]\nendpoint = \"{}\"\npath_style = true\nallow_http = true\n",
            s3.endpoint
        ),
    )
    .unwrap();
    let target = format!("s3://{BUCKET}/{}", unique_prefix("cli"));
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_chatvault"))
            .current_dir(dir.path())
            .args([
                "--config",
                config.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
            ])
            .args(["export", "--out", &target])
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .output()
            .unwrap()
    };
    let o = run();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(!out.contains(SECRET_KEY) && !err.contains(SECRET_KEY), "{out}{err}");
    assert!(out.contains(&format!("to {target} in")), "{out}");
    assert!(out.contains("300 messages, 300 events"), "{out}");
    let uploaded = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("uploaded: "))
        .unwrap_or_else(|| panic!("no upload summary in {out}"));
    assert!(uploaded.ends_with("(0 already on the target)"), "{out}");
    let files: usize = uploaded.split(' ').next().unwrap().parse().unwrap();
    assert!(files >= 2, "{out}");
    let last_progress = err
        .lines()
        .rfind(|l| l.starts_with("uploading: "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(last_progress.ends_with(&format!(", {files} files sent")), "{err}");
    let anchors = store::anchors::read(&data).unwrap();
    let head = store::StoreReader::open(&data).unwrap().head().unwrap();
    let (_, last) = anchors.last().expect("the S3 export anchored the head it exported");
    assert_eq!(last.as_ref().unwrap().seq, head.seq);

    // A later day: one new partition and one new event file, nothing sent again.
    let mut st = store::Store::open(&data, store::StoreOptions::default()).unwrap();
    append(&mut st, 3000, 1, 997_000);
    drop(st);
    let o = run();
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(out.contains("uploaded: 2 files"), "{out}");
    assert!(out.contains(&format!("({files} already on the target)")), "{out}");
}
