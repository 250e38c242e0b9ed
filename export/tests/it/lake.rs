//! The lake export against a real S3 server (SeaweedFS): the local layout on object storage,
//! read back by DuckDB over httpfs; incremental and resumable runs; clear errors for bad
//! credentials and a missing bucket; Delta tables read by DuckDB's delta extension.

use std::collections::BTreeMap;

use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::common::*;
use crate::seaweed::*;
use export::{Credential, LakeFormat, LakeOptions, LakeSummary, LakeTarget, run_lake_export};

fn archive() -> Archive {
    two_platform_archive()
}

fn options(a: &Archive, prefix: &str, format: LakeFormat) -> LakeOptions {
    lake_options(a, seaweed(), prefix, format)
}

/// A fresh archive, a prefix of its own on the shared server (named after `name`), and the
/// options that export the one to the other in `format`.
fn fresh(name: &str, format: LakeFormat) -> (Archive, String, LakeOptions) {
    let a = archive();
    let prefix = unique_prefix(name);
    let opts = options(&a, &prefix, format);
    (a, prefix, opts)
}

fn export(opts: &LakeOptions) -> LakeSummary {
    run_lake_export(opts, &mut |_| {}).unwrap()
}

/// Runs a DuckDB script with httpfs and delta loaded from their PyPI packages (no download)
/// and an S3 secret for the test server; `con` is the connection.
fn duckdb(script: &str) -> String {
    let s = seaweed();
    let prelude = format!(
        r#"
import glob, duckdb
con = duckdb.connect(config={{"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}})
for ext in ["httpfs", "delta"]:
    con.execute("LOAD '" + glob.glob("{venv}/duckdb_extension_" + ext + "/extensions/*/" + ext + ".duckdb_extension")[0] + "'")
con.execute("CREATE SECRET (TYPE s3, KEY_ID '{ACCESS_KEY}', SECRET '{SECRET_KEY}', ENDPOINT '{hp}', URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')")
"#,
        venv = lake_venv().display(),
        hp = s.host_port()
    );
    lake_python("duckdb", &format!("{prelude}\n{script}"))
}

#[test]
fn s3_export_has_the_local_layout_and_duckdb_reads_it_over_httpfs() {
    let (a, prefix, opts) = fresh("layout", LakeFormat::Parquet);
    let s = export(&opts);
    assert_eq!(s.target, format!("s3://{BUCKET}/{prefix}"));
    assert_eq!(s.export.total_messages, 5);
    assert_eq!(s.files_skipped, 0);

    // Exactly the manifest's files plus the manifest, each with its sha256 recorded.
    let m = remote_manifest(seaweed(), &prefix);
    let objs = objects(seaweed(), &prefix);
    let mut expected: Vec<String> = m.files.iter().map(|f| f.path.clone()).collect();
    expected.push("_manifest.json".into());
    expected.sort();
    assert_eq!(objs.keys().cloned().collect::<Vec<_>>(), expected);
    assert_eq!(s.files_uploaded, m.files.len());
    for f in &m.files {
        assert_eq!(objs[&f.path].1.as_deref(), Some(f.sha256.as_str()), "{}", f.path);
    }
    assert!(
        m.files
            .iter()
            .any(|f| f.path == "messages/platform=wecom/date=2026-03-01/data.parquet")
    );
    // The staged copies are gone once the target holds them.
    let staged: Vec<_> = walk(&a.data_dir().join("lake"))
        .into_iter()
        .filter(|p| p.ends_with(".parquet"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");

    let out = duckdb(&format!("root = \"s3://{BUCKET}/{prefix}\"\n{DUCKDB_READS}"));
    assert_has_lines(&out, DUCKDB_SEES);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[test]
fn incremental_runs_send_only_touched_partitions_and_new_events() {
    let (mut a, prefix, opts) = fresh("incremental", LakeFormat::Parquet);
    let first = export(&opts);
    let before = objects(seaweed(), &prefix);

    // An edit of one wecom message of 2026-03-02 (Shanghai) touches one partition and adds
    // one event file.
    a.edit_the_report();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = export(&opts);
    assert_eq!(second.export.partitions_written, 1);
    assert_eq!(second.export.event_files_written, 1);
    assert_eq!(second.files_uploaded, 2, "{second:?}");
    assert_eq!(second.files_skipped, first.files_uploaded - 1);
    let after = objects(seaweed(), &prefix);
    let changed: Vec<&String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(changed.len(), 3, "{changed:?}"); // the partition, the event file, the manifest
    assert!(
        changed
            .iter()
            .any(|k| k.as_str() == "messages/platform=wecom/date=2026-03-02/data.parquet")
    );
    assert_eq!(remote_manifest(seaweed(), &prefix).seq, second.export.to_seq);

    // Up to date: nothing is sent.
    let third = export(&opts);
    assert_eq!(third.files_uploaded, 0);
    assert!(third.export.up_to_date);

    // Another time zone moves every partition (00:00 UTC is the day before in Los Angeles):
    // the old ones are deleted after the manifest.
    let utc = LakeOptions {
        tz: chrono_tz::America::Los_Angeles,
        ..opts.clone()
    };
    let moved = export(&utc);
    assert!(moved.objects_removed > 0, "{moved:?}");
    let m = remote_manifest(seaweed(), &prefix);
    let listed: std::collections::BTreeSet<String> = m.files.iter().map(|f| f.path.clone()).collect();
    for k in objects(seaweed(), &prefix).keys() {
        assert!(k == "_manifest.json" || listed.contains(k), "stale object {k}");
    }
}

#[test]
fn an_interrupted_upload_keeps_the_old_manifest_and_the_next_run_sends_only_the_rest() {
    let (mut a, prefix, opts) = fresh("resume", LakeFormat::Parquet);
    export(&opts);
    let old = remote_manifest(seaweed(), &prefix);

    // Touch every partition so that the next export has several files to send.
    a.edit_every_message();
    let failing = LakeOptions {
        fail_after_uploads: Some(2),
        ..opts.clone()
    };
    let err = run_lake_export(&failing, &mut |_| {}).unwrap_err().to_string();
    assert!(
        err.contains(&format!("s3://{BUCKET}/{prefix}")) && err.contains("injected"),
        "{err}"
    );

    // The target still shows the previous export, complete.
    assert_eq!(remote_manifest(seaweed(), &prefix), old);
    let mid = objects(seaweed(), &prefix);
    for f in &old.files {
        assert!(mid.contains_key(&f.path), "{} vanished", f.path);
    }
    let old_shas: BTreeMap<&str, &str> = old.files.iter().map(|f| (f.path.as_str(), f.sha256.as_str())).collect();
    let sent_before: Vec<String> = mid
        .iter()
        .filter(|(k, v)| k.as_str() != "_manifest.json" && old_shas.get(k.as_str()).copied() != v.1.as_deref())
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(sent_before.len(), 2, "{sent_before:?}");

    // The next run finishes the job without sending those two again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let resumed = export(&opts);
    let end = objects(seaweed(), &prefix);
    for k in &sent_before {
        assert_eq!(end[k].0, mid[k].0, "{k} was uploaded again");
    }
    assert!(resumed.files_skipped >= 2, "{resumed:?}");
    let m = remote_manifest(seaweed(), &prefix);
    assert!(m.seq > old.seq);
    assert_eq!(m.rows("messages"), 5);
    for f in &m.files {
        assert_eq!(end[&f.path].1.as_deref(), Some(f.sha256.as_str()), "{}", f.path);
    }
    // 5 partitions rewritten + 2 event files (one per platform) to send, 2 sent before.
    assert_eq!(resumed.files_uploaded, 7 - 2, "{resumed:?}");
}

#[test]
fn bad_credentials_name_the_target_and_never_the_secret() {
    let (_a, prefix, mut opts) = fresh("creds", LakeFormat::Parquet);
    opts.s3.secret_access_key = Some(Credential::new("wrong-SECRET-value"));
    let err = run_lake_export(&opts, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains(&format!("s3://{BUCKET}/{prefix}")), "{err}");
    assert!(err.contains("credentials"), "{err}");
    assert!(
        !err.contains("wrong-SECRET-value") && !err.contains(SECRET_KEY),
        "{err}"
    );
}

#[test]
fn a_missing_bucket_is_a_clear_error() {
    let a = archive();
    let opts = LakeOptions {
        target: LakeTarget::parse("s3://no-such-bucket/x").unwrap(),
        ..options(&a, "x", LakeFormat::Parquet)
    };
    let err = run_lake_export(&opts, &mut |_| {}).unwrap_err().to_string();
    assert!(
        err.contains("s3://no-such-bucket/x") && err.contains("bucket does not exist"),
        "{err}"
    );
}

#[test]
fn delta_tables_on_s3_show_the_latest_snapshot_and_earlier_versions() {
    let (mut a, prefix, opts) = fresh("delta", LakeFormat::Delta);
    let first = export(&opts);
    assert_eq!(
        first.delta_commits,
        vec![("messages".to_string(), 0), ("events".to_string(), 0)]
    );
    a.edit_the_report();
    let second = export(&opts);
    assert_eq!(
        second.delta_commits,
        vec![("messages".to_string(), 1), ("events".to_string(), 1)]
    );
    // Nothing new: no empty commit.
    assert!(export(&opts).delta_commits.is_empty());

    // The rewritten partition is one commit: the old file removed, the new one added, and the
    // old file kept for version 0.
    let objs = objects(seaweed(), &prefix);
    let v1 = String::from_utf8(
        rt().block_on(async {
            seaweed()
                .client()
                .get(&ObjPath::from(format!(
                    "{prefix}/messages/_delta_log/00000000000000000001.json"
                )))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        })
        .to_vec(),
    )
    .unwrap();
    let removed: Vec<&str> = v1.lines().filter(|l| l.starts_with("{\"remove\"")).collect();
    let added: Vec<&str> = v1.lines().filter(|l| l.starts_with("{\"add\"")).collect();
    assert_eq!((removed.len(), added.len()), (1, 1), "{v1}");
    assert!(removed[0].contains("platform=wecom/date=2026-03-02/part-"), "{v1}");
    let old_file: serde_json::Value = serde_json::from_str(removed[0]).unwrap();
    let old_path = format!("messages/{}", old_file["remove"]["path"].as_str().unwrap());
    assert!(objs.contains_key(&old_path), "{old_path} was deleted");
    assert!(!objs.keys().any(|k| k.ends_with("data.parquet")), "{objs:?}");

    let t = format!("s3://{BUCKET}/{prefix}");
    let out = duckdb(&format!(
        r#"
print("latest", con.execute("SELECT count(*), count(*) FILTER (WHERE text = '改过的报告') FROM delta_scan('{t}/messages')").fetchone())
print("v0", con.execute("SELECT count(*), count(*) FILTER (WHERE text = '改过的报告') FROM delta_scan('{t}/messages', version => 0)").fetchone())
print("events", con.execute("SELECT count(*) FROM delta_scan('{t}/events')").fetchone()[0])
print("platforms", con.execute("SELECT string_agg(DISTINCT platform, ',' ORDER BY platform) FROM delta_scan('{t}/messages')").fetchone()[0])
types = dict((r[0], r[1]) for r in con.execute("DESCRIBE SELECT * FROM delta_scan('{t}/messages')").fetchall())
print("date", types["date"])
print("sent_at", types["sent_at"])
"#
    ));
    assert_has_lines(
        &out,
        &[
            "latest (5, 1)",
            "v0 (5, 0)",
            "events 7",
            "platforms goofish,wecom",
            "date DATE",
        ],
    );
    assert!(out.contains("sent_at TIMESTAMP"), "{out}");
}

#[test]
fn a_delta_table_in_a_local_folder() {
    let a = archive();
    let dir = tempfile::tempdir().unwrap();
    let opts = LakeOptions {
        target: LakeTarget::Dir(dir.path().join("lake")),
        ..options(&a, "unused", LakeFormat::Delta)
    };
    let s = export(&opts);
    assert_eq!(s.delta_commits.len(), 2);
    let table = dir.path().join("lake/messages");
    assert!(table.join("_delta_log/00000000000000000000.json").exists());
    let out = duckdb(&format!(
        "print('rows', con.execute(\"SELECT count(*) FROM delta_scan('file://{}')\").fetchone()[0])",
        table.display()
    ));
    assert!(out.contains("rows 5"), "{out}");
}

#[test]
fn the_store_refuses_a_second_create_of_the_same_commit() {
    // The mechanism that keeps two writers from overwriting each other's Delta commit:
    // a conditional create (`If-None-Match: *`), which SeaweedFS honours.
    let c = seaweed().client();
    let path = ObjPath::from(format!(
        "{}/_delta_log/00000000000000000000.json",
        unique_prefix("race")
    ));
    let create = object_store::PutOptions {
        mode: object_store::PutMode::Create,
        ..Default::default()
    };
    rt().block_on(async {
        c.put_opts(&path, "first".into(), create.clone()).await.unwrap();
        let second = c.put_opts(&path, "second".into(), create).await;
        assert!(
            matches!(
                second,
                Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. })
            ),
            "{second:?}"
        );
        let kept = c.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(&kept[..], b"first");
    });
}
