//! The S3 server killed (SIGKILL) while an export uploads, then started again: the target
//! still shows its previous export to readers (the same `_manifest.json`, every file it lists
//! whole; for Delta the same latest version, read back by Python `deltalake`), and the next run completes
//! the export without sending again the files that were finished before the kill (each object
//! carries its sha256; the run counts them as already on the target and their objects keep
//! their first upload time).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::common::*;
use crate::seaweed::*;
use export::{LakeFormat, LakeOptions, Manifest, Stage, run_lake_export};

/// Files finished before the kill.
const DONE_BEFORE_KILL: u64 = 2;

/// A target whose server was killed mid-upload and started again.
struct Killed {
    server: Seaweed,
    /// Kept for the next run, which exports it again.
    _archive: Archive,
    opts: LakeOptions,
    prefix: String,
    /// The manifest of the export before the killed one.
    before: Manifest,
    /// The objects once the server is back.
    after: Objects,
}

/// Exports, touches every partition, starts the next export and kills the server once
/// [`DONE_BEFORE_KILL`] files are up and the next one is being sent; restarts it, and checks
/// that readers still follow the previous manifest.
fn killed_mid_upload(format: LakeFormat) -> Killed {
    let mut server = Seaweed::start();
    let mut a = two_platform_archive();
    let prefix = unique_prefix("killed");
    let opts = lake_options(&a, &server, &prefix, format);
    run_lake_export(&opts, &mut |_| {}).unwrap();
    let before = remote_manifest(&server, &prefix);
    a.edit_every_message();
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
    assert_eq!(remote_manifest(&server, &prefix), before);
    let after = objects(&server, &prefix);
    Killed {
        server,
        _archive: a,
        opts,
        prefix,
        before,
        after,
    }
}

/// The next run sends the rest only.
fn resume(k: &Killed) -> Objects {
    let Killed {
        server,
        opts,
        prefix,
        after: after_kill,
        ..
    } = k;
    // Object times have one-second resolution: a second upload must show.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let resumed = run_lake_export(opts, &mut |_| {}).unwrap();
    let end = objects(server, prefix);
    // 5 rewritten partitions and 2 new event files to send, 2 of them sent before the kill.
    assert_eq!(resumed.files_uploaded, 7 - DONE_BEFORE_KILL as usize, "{resumed:?}");
    let m = remote_manifest(server, prefix);
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
    let k = killed_mid_upload(LakeFormat::Parquet);
    let (before, after) = (&k.before, &k.after);
    // Every file the previous manifest lists is there and whole (its recorded checksum is that
    // of a complete file); what was sent before the kill is exactly the files finished then —
    // the one being sent is nowhere.
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
    resume(&k);
}

#[test]
fn a_delta_target_killed_mid_upload_keeps_its_snapshot_and_the_next_run_finishes() {
    let k = killed_mid_upload(LakeFormat::Delta);
    let (before, after) = (&k.before, &k.after);
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
        &k.server.endpoint,
        &format!("s3://{BUCKET}/{}", k.prefix),
        "m = table('messages')\nprint('seen', m.version(), rows(m), rows(m, ('text', '第二版')))",
    );
    assert!(read.contains("seen 0 5 0"), "{read}");
    let end = resume(&k);
    assert!(
        end.contains_key("messages/_delta_log/00000000000000000001.json"),
        "{end:?}"
    );
    // The old snapshot's files stay for version 0.
    for f in &before.files {
        assert!(end.contains_key(&f.path), "{} deleted", f.path);
    }
}
