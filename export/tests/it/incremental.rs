//! Incremental exports: only touched partitions are rewritten, events only appended.

use std::collections::BTreeMap;

use proto::Platform;

use crate::common::*;

/// Three days of wecom messages plus one eoffice day.
fn three_days() -> Archive {
    let mut a = Archive::new();
    for d in 0..3 {
        let events = (0..5)
            .map(|i| {
                msg(
                    "g1",
                    &format!("d{d}m{i}"),
                    new_message(DAY0 + d * DAY + i * HOUR, &format!("第{d}天第{i}条")),
                )
            })
            .collect();
        a.append(Platform::Wecom, "corp", DAY0 + d * DAY + 6 * HOUR, events);
    }
    a.append_text(
        Platform::Eoffice,
        "oa",
        "g2",
        "e1",
        DAY0 + 7 * HOUR,
        "下午三点在会议室开会",
    );
    a
}

fn shas(out: &std::path::Path) -> BTreeMap<String, String> {
    manifest(out).files.into_iter().map(|f| (f.path, f.sha256)).collect()
}

#[test]
fn edits_rewrite_only_their_partitions_and_append_events() {
    let mut a = three_days();
    let first = a.export(chrono_tz::UTC, false);
    assert_eq!(
        (first.partitions_written, first.event_rows_written, first.to_seq),
        (4, 16, 16)
    );
    let out = a.out_dir();
    let before = shas(&out);
    let day1 = out.join("messages/platform=wecom/date=2026-03-02/data.parquet");
    let day1_mtime = std::fs::metadata(&day1).unwrap().modified().unwrap();

    // Edit a message of day 0 and withdraw one of day 2, received on day 3.
    let now = DAY0 + 3 * DAY;
    a.append(
        Platform::Wecom,
        "corp",
        now,
        vec![edit("g1", "d0m1", "第0天第1条（已修改）", now)],
    );
    a.append(
        Platform::Wecom,
        "corp",
        now + 1,
        vec![withdraw("g1", "d2m4", "zhangsan", now + 1)],
    );
    let second = a.export(chrono_tz::UTC, false);
    assert_eq!((second.from_seq, second.to_seq), (16, 18));
    assert_eq!(second.partitions_written, 2);
    assert_eq!(second.message_rows_written, 10);
    assert_eq!((second.event_files_written, second.event_rows_written), (1, 2));
    assert_eq!((second.total_messages, second.total_events), (16, 18));

    let after = shas(&out);
    let changed: Vec<&String> = after.keys().filter(|k| before.get(*k) != after.get(*k)).collect();
    assert_eq!(
        changed,
        vec![
            "events/platform=wecom/date=2026-03-04/part-17-18.parquet",
            "messages/platform=wecom/date=2026-03-01/data.parquet",
            "messages/platform=wecom/date=2026-03-03/data.parquet",
        ]
    );
    // Untouched partitions were not even rewritten.
    assert_eq!(std::fs::metadata(&day1).unwrap().modified().unwrap(), day1_mtime);
    assert!(
        before.keys().all(|k| after.contains_key(k)),
        "earlier event files are kept"
    );

    // The new values are in the files.
    let d0 = decode_messages(
        Platform::Wecom,
        &read_parquet(&out.join("messages/platform=wecom/date=2026-03-01/data.parquet")),
    );
    let m = d0.iter().find(|r| r.key.msg_id == "d0m1").unwrap();
    assert_eq!((m.text.as_str(), m.revision), ("第0天第1条（已修改）", 1));
    let d2 = decode_messages(
        Platform::Wecom,
        &read_parquet(&out.join("messages/platform=wecom/date=2026-03-03/data.parquet")),
    );
    let m = d2.iter().find(|r| r.key.msg_id == "d2m4").unwrap();
    assert_eq!(m.state, proto::MessageState::Withdrawn);
    assert_eq!(d2.len(), 5);
}

#[test]
fn nothing_new_means_nothing_rewritten() {
    let a = three_days();
    a.export(chrono_tz::UTC, false);
    let before = std::fs::read(a.out_dir().join("_manifest.json")).unwrap();
    let again = a.export(chrono_tz::UTC, false);
    assert!(again.up_to_date);
    assert_eq!(
        (
            again.partitions_written,
            again.event_files_written,
            again.total_messages
        ),
        (0, 0, 16)
    );
    assert_eq!(std::fs::read(a.out_dir().join("_manifest.json")).unwrap(), before);
}

#[test]
fn full_rewrites_everything_with_the_same_content() {
    let mut a = three_days();
    a.export(chrono_tz::UTC, false);
    // A late message of day 0 gets an event file of its own in the incremental export.
    a.append_text(Platform::Wecom, "corp", "g1", "late", DAY0 + 8 * HOUR, "迟到");
    a.export(chrono_tz::UTC, false);
    let incremental = manifest(&a.out_dir());
    let day0_events = |m: &export::Manifest| {
        m.files
            .iter()
            .filter(|f| f.path.starts_with("events/platform=wecom/date=2026-03-01/"))
            .map(|f| f.path.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        day0_events(&incremental),
        vec![
            "events/platform=wecom/date=2026-03-01/part-1-5.parquet",
            "events/platform=wecom/date=2026-03-01/part-17-17.parquet"
        ]
    );

    let full = a.export(chrono_tz::UTC, true);
    assert!(full.full);
    assert_eq!(
        (
            full.partitions_written,
            full.event_rows_written,
            full.message_rows_written
        ),
        (4, 17, 17)
    );
    let m = manifest(&a.out_dir());
    assert_eq!((m.rows("messages"), m.rows("events"), m.seq), (17, 17, 17));
    // Event files are regrouped (one per partition); the replaced ones are gone from disk.
    assert_eq!(
        day0_events(&m),
        vec!["events/platform=wecom/date=2026-03-01/part-1-17.parquet"]
    );
    assert_eq!(full.files_removed, 2);
    assert_eq!(
        parquet_files(&a.out_dir()),
        m.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>()
    );
}

#[test]
fn a_new_time_zone_repartitions_everything() {
    let a = three_days();
    a.export(chrono_tz::UTC, false);
    let s = a.export(chrono_tz::America::Los_Angeles, false);
    assert!(s.full, "a time-zone change cannot be incremental");
    let m = manifest(&a.out_dir());
    assert_eq!(m.timezone, "America/Los_Angeles");
    assert_eq!(m.rows("messages"), 16);
    // 00:00 UTC on 1 March is the evening of 28 February in Los Angeles.
    assert!(
        m.files
            .iter()
            .any(|f| f.path == "messages/platform=wecom/date=2026-02-28/data.parquet")
    );
    assert_eq!(
        parquet_files(&a.out_dir()),
        m.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>()
    );
}
