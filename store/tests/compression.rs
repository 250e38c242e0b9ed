//! Raw payloads and envelopes are stored compressed and read back byte for byte, before and
//! after a platform's dictionary is trained, and the chain verifies over them.

mod common;

use common::goofish::*;
use common::{T0, open, temp_store};
use proptest::prelude::*;

/// A frame of the shape a platform repeats: the same field names, a changing id and text.
fn frame(i: usize) -> Vec<u8> {
    format!(
        r#"{{"1":{{"1":"2300000000007@goofish","2":"50000000007@goofish","3":"{i}.PNM","5":{},"6":{{"1":1,"3":{{"2":"第{i}条：这个还在吗，能便宜点吗"}}}},"10":{{"reminderTitle":"买家7","senderUserId":"2300000000007","_platform":"web"}}}},"3":{{"needPush":"true"}}}}"#,
        T0 + i as i64
    )
    .into_bytes()
}

/// Bytes stored for raw payloads; average stored size without and with a dictionary;
/// dictionaries.
fn stored_sizes(dir: &std::path::Path) -> (i64, f64, f64, i64) {
    let conn = rusqlite::Connection::open(dir.join(chatvault_store::DB_FILE)).unwrap();
    conn.query_row(
        "SELECT (SELECT sum(length(bytes)) FROM raw), (SELECT coalesce(avg(length(bytes)), 0) FROM raw WHERE zdict = 0),
                (SELECT coalesce(avg(length(bytes)), 0) FROM raw WHERE zdict > 0), (SELECT count(*) FROM dicts)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .unwrap()
}

#[test]
fn repeated_frames_are_stored_smaller_and_read_back_as_received() {
    let (dir, mut s) = temp_store();
    let n = 600;
    let items = (0..n)
        .map(|i| {
            let ev = text_message("50000000007", &format!("{i}.PNM"), &format!("第{i}条"), T0 + i as i64);
            carried(frame(i), vec![ev], T0 + i as i64 + 1)
        })
        .collect();
    s.append(&[&goofish(items)]).unwrap();
    let (stored, plain_zstd, with_dict, dicts) = stored_sizes(dir.path());
    let received: usize = (0..n).map(|i| frame(i).len()).sum();
    assert_eq!(dicts, 2, "one dictionary for raw payloads, one for envelopes");
    assert!(
        with_dict > 0.0 && with_dict < plain_zstd / 2.0,
        "frames after the training ones use the dictionary: {with_dict:.0} B each, {plain_zstd:.0} B before"
    );
    assert!(
        (stored as usize) < received / 2,
        "{stored} bytes stored for {received} received"
    );
    let r = s.reader().unwrap();
    for i in [0, 255, 256, 599] {
        let h = r
            .message(&goofish_key("50000000007", &format!("{i}.PNM")))
            .unwrap()
            .expect("stored");
        assert_eq!(h.raws[0].bytes, frame(i), "raw payload {i}");
        let ev = h.events[0].event().unwrap();
        assert_eq!(ev.msg_id.as_deref(), Some(format!("{i}.PNM").as_str()));
    }
    let report = r.verify(&mut |_| {}).unwrap();
    assert!(report.ok, "{report:?}");

    // Reopened, the writer keeps using the stored dictionaries instead of training new ones.
    drop(s);
    let mut s = open(dir.path());
    let ev = text_message("50000000007", "late.PNM", "后来的", T0 + 10_000);
    s.append(&[&goofish(vec![carried(frame(10_000), vec![ev], T0 + 10_001)])])
        .unwrap();
    assert_eq!(stored_sizes(dir.path()).3, 2);
    let h = s
        .reader()
        .unwrap()
        .message(&goofish_key("50000000007", "late.PNM"))
        .unwrap()
        .expect("stored");
    assert_eq!(h.raws[0].bytes, frame(10_000));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Whatever the bytes (incompressible, empty, repetitive, alike or not), each raw payload
    /// reads back as received, with and without a trained dictionary.
    #[test]
    fn any_raw_payload_reads_back_byte_for_byte(
        payloads in prop::collection::vec(
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..1500),
                (any::<u8>(), 0usize..3000).prop_map(|(b, n)| vec![b; n]),
                (0usize..400).prop_map(frame),
            ],
            1..300,
        ),
    ) {
        let (_dir, mut s) = temp_store();
        let items = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let ev = text_message("c", &format!("m{i}"), "好", T0);
                carried(p.clone(), vec![ev], T0 + i as i64)
            })
            .collect();
        s.append(&[&goofish(items)]).unwrap();
        let r = s.reader().unwrap();
        for (i, p) in payloads.iter().enumerate() {
            let h = r.message(&goofish_key("c", &format!("m{i}"))).unwrap().expect("stored");
            prop_assert_eq!(&h.raws[0].bytes, p);
        }
        let report = r.verify(&mut |_| {}).unwrap();
        prop_assert!(report.ok, "{:?}", report);
    }
}
