//! Bad conditions: unwritable output, a failure mid-export, a concurrent export, leftovers of
//! a crashed run, a damaged manifest. The previous export must stay intact and readable.

use std::fs;

use export::ExportError;
use proto::Platform;

use crate::common::*;

fn two_partitions() -> Archive {
    let mut a = Archive::new();
    a.append_text(Platform::Wecom, "corp", "g", "a", DAY0, "一");
    a.append_text(Platform::Yunhu, "team", "g", "b", DAY0, "二");
    a
}

/// The previous export is exactly as its manifest describes.
fn assert_intact(out: &std::path::Path, manifest_bytes: &[u8]) {
    assert_eq!(
        fs::read(out.join("_manifest.json")).unwrap(),
        manifest_bytes,
        "manifest changed"
    );
    let m = manifest(out);
    for f in &m.files {
        assert_eq!(sha256_file(&out.join(&f.path)), f.sha256, "{} changed", f.path);
    }
    assert_eq!(
        parquet_files(out),
        m.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>()
    );
    assert!(
        all_files(out).iter().all(|f| !f.ends_with(".tmp")),
        "temporaries left: {:?}",
        all_files(out)
    );
}

#[test]
fn unwritable_export_dir_is_a_clear_error() {
    let a = two_partitions();
    let blocker = a.dir.path().join("not-a-dir");
    fs::write(&blocker, b"x").unwrap();
    let opts = export::ExportOptions {
        out_dir: blocker.join("export"),
        ..a.export_options(chrono_tz::UTC, false)
    };
    let err = export::run_export(&opts, &mut |_| {}).unwrap_err();
    assert!(matches!(err, ExportError::Io { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("cannot write") && msg.contains("not-a-dir"), "{msg}");
}

#[test]
fn a_failure_while_writing_leaves_the_previous_export_intact() {
    let mut a = two_partitions();
    a.export(chrono_tz::UTC, false);
    let out = a.out_dir();
    let before = fs::read(out.join("_manifest.json")).unwrap();

    // Both partitions change; the second one (yunhu) cannot be written: its temporary name is
    // taken by a directory. The wecom partition is written first and must not be published.
    a.append(
        Platform::Wecom,
        "corp",
        DAY0 + HOUR,
        vec![edit("g", "a", "一（改）", DAY0 + HOUR)],
    );
    a.append(
        Platform::Yunhu,
        "team",
        DAY0 + HOUR,
        vec![edit("g", "b", "二（改）", DAY0 + HOUR)],
    );
    let blocked = out.join(format!(
        "messages/platform=yunhu/date=2026-03-01/.data.parquet.{}.tmp",
        std::process::id()
    ));
    fs::create_dir(&blocked).unwrap();
    let err = a.try_export(chrono_tz::UTC, false).unwrap_err();
    assert!(err.to_string().contains(".data.parquet."), "{err}");
    fs::remove_dir(&blocked).unwrap();
    assert_intact(&out, &before);

    // The next run finishes the job from the old watermark.
    let s = a.export(chrono_tz::UTC, false);
    assert_eq!((s.from_seq, s.to_seq, s.partitions_written), (2, 4, 2));
    let got = decode_messages(
        Platform::Wecom,
        &read_parquet(&out.join("messages/platform=wecom/date=2026-03-01/data.parquet")),
    );
    assert_eq!(got[0].text, "一（改）");
}

#[test]
fn a_second_concurrent_export_is_refused() {
    let a = two_partitions();
    let lock = export::ExportLock::acquire(&a.out_dir()).unwrap();
    let err = a.try_export(chrono_tz::UTC, false).unwrap_err();
    assert!(matches!(err, ExportError::Locked(_)), "{err:?}");
    assert!(!a.out_dir().join("_manifest.json").exists());
    drop(lock);
    a.export(chrono_tz::UTC, false);
}

#[test]
fn leftovers_of_a_crashed_run_are_cleaned_before_they_double_count() {
    let mut a = two_partitions();
    a.export(chrono_tz::UTC, false);
    let out = a.out_dir();
    // A crashed run had renamed an event file into place but never wrote the manifest, and
    // left a temporary behind.
    let dir = out.join("events/platform=wecom/date=2026-03-01");
    fs::copy(dir.join("part-1-1.parquet"), dir.join("part-3-3.parquet")).unwrap();
    fs::write(dir.join(".part-3.parquet.999.tmp"), b"half").unwrap();
    a.append_text(Platform::Wecom, "corp", "g", "c", DAY0 + HOUR, "三");
    let s = a.export(chrono_tz::UTC, false);
    assert_eq!(s.files_removed, 1);
    let m = manifest(&out);
    assert_eq!(m.rows("events"), 3);
    assert_eq!(
        parquet_files(&out),
        m.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>()
    );
    assert!(!dir.join(".part-3.parquet.999.tmp").exists());
}

#[test]
fn damaged_manifest_asks_for_full_and_full_repairs() {
    let a = two_partitions();
    a.export(chrono_tz::UTC, false);
    fs::write(a.out_dir().join("_manifest.json"), b"{ not json").unwrap();
    let err = a.try_export(chrono_tz::UTC, false).unwrap_err();
    assert!(err.to_string().contains("--full"), "{err}");
    let s = a.export(chrono_tz::UTC, true);
    assert_eq!((s.total_messages, s.total_events), (2, 2));
}

#[test]
fn missing_archive_is_reported_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let opts = export::ExportOptions {
        data_dir: dir.path().join("nothing"),
        out_dir: dir.path().join("out"),
        tz: chrono_tz::UTC,
        full: false,
        file_mode: export::DEFAULT_FILE_MODE,
    };
    let err = export::run_export(&opts, &mut |_| {}).unwrap_err();
    assert!(matches!(err, ExportError::Store(_)), "{err:?}");
    assert!(!dir.path().join("nothing/chatvault.db").exists());
}
