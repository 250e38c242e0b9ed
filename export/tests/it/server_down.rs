//! The S3 server killed (SIGKILL) while an export uploads, then started again: the target
//! still shows its previous export to readers (the same `_manifest.json`, every file it lists
//! whole; for Delta the same latest version, read back by Python `deltalake`), and the next run completes
//! the export without sending again the files that were finished before the kill (each object
//! carries its sha256; the run counts them as already on the target and their objects keep
//! their first upload time).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use proto::Platform;

use crate::common::*;
use crate::seaweed::*;
use export::{LakeFormat, LakeOptions, LakeTarget, Manifest, Stage, run_lake_export};

/// Files finished before the kill.
const DONE_BEFORE_KILL: u64 = 2;

/// Exports, touches every partition, starts the next export and kills the server once
/// [`DONE_BEFORE_KILL`] files are up and the next one is being sent; restarts it; returns the
/// server, the archive, the options, the manifest before, and the objects after the kill.
fn killed_mid_upload(format: LakeFormat) -> (Seaweed, Archive, LakeOptions, Manifest, Objects) {
    let mut server = Seaweed::start();
    let mut a = two_platform_archive();
    let prefix = unique_prefix("killed");
    let opts = LakeOptions {
        data_dir: a.data_dir(),
        target: LakeTarget::parse(&format!("s3://{BUCKET}/{prefix}")).unwrap(),
        s3: server.settings(),
        format,
        tz: chrono_tz::Asia::Shanghai,
        full: false,
        fail_after_uploads: None,
    };
    run_lake_export(&opts, &mut |_| {}).unwrap();
    let before = remote_manifest(&server, &prefix);
    for (p, acct, n) in [(Platform::Wecom, "corp", 3), (Platform::Goofish, "shop", 2)] {
        let edits = (0..n)
            .map(|i| edit("c1", &format!("{p}{i}"), "第二版", DAY0 + 4 * DAY))
            .collect();
        a.append(p, acct, DAY0 + 4 * DAY, edits);
    }
    let killed = AtomicBool::new(false);
    let err = run_lake_export(&opts, &mut |p| {
        // Bytes of the next file are being sent: pull the plug.
        if p.stage == Stage::Uploading && p.rows == DONE_BEFORE_KILL && !killed.swap(true, Ordering::SeqCst) {
            server.kill();
        }
    })
    .unwrap_err()
    .to_string();
    assert!(killed.load(Ordering::SeqCst), "the export ended before the kill");
    assert!(err.contains(&format!("s3://{BUCKET}/{prefix}")), "{err}");
    assert!(!err.contains(SECRET_KEY), "{err}");
    server.restart();
    let after = objects(&server, &prefix);
    (server, a, opts, before, after)
}

/// The next run sends the rest only.
fn resume(server: &Seaweed, opts: &LakeOptions, after_kill: &Objects) -> Objects {
    let prefix = match &opts.target {
        LakeTarget::S3 { prefix, .. } => prefix.clone(),
        LakeTarget::Dir(_) => unreachable!(),
    };
    // Object times have one-second resolution: a second upload must show.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let resumed = run_lake_export(opts, &mut |_| {}).unwrap();
    let end = objects(server, &prefix);
    // 5 rewritten partitions and 2 new event files to send, 2 of them sent before the kill.
    assert_eq!(resumed.files_uploaded, 7 - DONE_BEFORE_KILL as usize, "{resumed:?}");
    let m = remote_manifest(server, &prefix);
    assert_eq!(m.seq, resumed.export.to_seq);
    let mut kept = 0;
    for f in &m.files {
        assert_eq!(end[&f.path].1.as_deref(), Some(f.sha256.as_str()), "{}", f.path);
        if after_kill.get(&f.path).and_then(|o| o.1.as_deref()) == Some(f.sha256.as_str()) {
            assert_eq!(end[&f.path].0, after_kill[&f.path].0, "{} was sent again", f.path);
            kept += 1;
        }
    }
    // The two finished before the kill, and the event files of the first export.
    assert_eq!(kept, DONE_BEFORE_KILL as usize + 2, "{m:?}");
    end
}

#[test]
fn a_parquet_target_killed_mid_upload_keeps_its_manifest_and_the_next_run_finishes() {
    let (server, _a, opts, before, after) = killed_mid_upload(LakeFormat::Parquet);
    let LakeTarget::S3 { prefix, .. } = &opts.target else {
        unreachable!()
    };
    // Readers still follow the previous manifest, and every file it lists is there and whole
    // (its recorded checksum is that of a complete file); what was sent before the kill is
    // exactly the files finished then — the one being sent is nowhere.
    assert_eq!(remote_manifest(&server, prefix), before);
    let listed: BTreeMap<&str, &str> = before
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    for f in &before.files {
        assert!(after[&f.path].1.is_some(), "{} lost", f.path);
    }
    let sent: Vec<&String> = after
        .iter()
        .filter(|(k, v)| k.as_str() != "_manifest.json" && listed.get(k.as_str()).copied() != v.1.as_deref())
        .map(|(k, _)| k)
        .collect();
    assert_eq!(sent.len() as u64, DONE_BEFORE_KILL, "{sent:?}");
    resume(&server, &opts, &after);
}

#[test]
fn a_delta_target_killed_mid_upload_keeps_its_snapshot_and_the_next_run_finishes() {
    let (server, _a, opts, before, after) = killed_mid_upload(LakeFormat::Delta);
    let LakeTarget::S3 { prefix, .. } = &opts.target else {
        unreachable!()
    };
    assert_eq!(remote_manifest(&server, prefix), before);
    // Only version 0 is committed, and every file it adds is there unchanged.
    assert!(after.contains_key("messages/_delta_log/00000000000000000000.json"));
    assert!(
        !after.keys().any(|k| k.ends_with("00000000000000000001.json")),
        "{after:?}"
    );
    for f in &before.files {
        assert_eq!(after[&f.path].1.as_deref(), Some(f.sha256.as_str()), "{}", f.path);
    }
    let read = crate::deltalake::deltalake_at(
        &server.endpoint,
        &format!("s3://{BUCKET}/{prefix}"),
        "m = table('messages')\nprint('seen', m.version(), rows(m), rows(m, ('text', '第二版')))",
    );
    assert!(read.contains("seen 0 5 0"), "{read}");
    let end = resume(&server, &opts, &after);
    assert!(
        end.contains_key("messages/_delta_log/00000000000000000001.json"),
        "{end:?}"
    );
    // The old snapshot's files stay for version 0.
    for f in &before.files {
        assert!(end.contains_key(&f.path), "{} deleted", f.path);
    }
}
