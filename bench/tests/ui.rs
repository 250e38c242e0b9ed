//! `bench ui` on a small archive: the report has a row per query and per page, the page and
//! the library search agree on every count, and a second run reuses the archive. Not timed:
//! the figures are only checked to exist.

use chatvault_bench::ui::{Report, UiBenchOptions, measure};

fn opts(data: &std::path::Path) -> UiBenchOptions {
    UiBenchOptions {
        n: 3_000,
        chat_size: 300,
        reps: 2,
        warmup: 1,
        data_dir: Some(data.to_path_buf()),
        dir: None,
        // The test binary is not `chatvault`: the CLI column stays empty.
        cli: None,
    }
}

#[test]
fn the_report_has_every_query_and_page_and_a_second_run_reuses_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let r = measure(&opts(&data)).unwrap();

    assert_eq!(r.archive.messages, 3_000);
    assert!(r.archive.built_secs.is_some() && r.archive.indexed_secs.is_some());
    assert_eq!(r.archive.big.messages, 300);
    assert!(r.archive.small.messages < 300);
    assert_eq!(r.searches.len(), 9);
    let agri = &r.searches[0];
    assert_eq!(agri.query, "农业");
    assert!(agri.hits > 20, "农业 hits {}", agri.hits);
    let by_sender = r
        .searches
        .iter()
        .find(|s| s.filters.iter().any(|(k, _)| k == "sender"))
        .unwrap();
    assert!(by_sender.hits < agri.hits);
    for s in &r.searches {
        assert_eq!(s.ui.runs, 2);
        assert!(s.ui.p50_ms > 0.0 && s.ui.p99_ms >= s.ui.p50_ms);
        assert!(s.cli.is_none());
    }
    let shown: Vec<usize> = r.pages.iter().map(|p| p.shown).collect();
    // First page: nothing before the first message, 50 from it; middle: 50 each side; last: 100.
    assert_eq!(shown[..3], [50, 100, 100]);
    assert_eq!(r.pages.len(), 4);

    let table = r.table();
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
    // Two header rows, 9 queries, 4 pages.
    assert_eq!(rows.len(), 2 + 9 + 4, "{table}");
    assert!(rows[0].contains("UI search page p50 / p99") && rows[0].contains("p99 UI / CLI"));
    assert!(table.contains("| 农业 | platform=wecom |"), "{table}");
    assert_eq!(r.fsync.runs, 9 * 2);
    assert!(table.contains("fdatasync"));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["searches"].as_array().unwrap().len(), 9);
    assert!(json["pages"][2]["ui"]["p99_ms"].as_f64().unwrap() > 0.0);

    let again = measure(&opts(&data)).unwrap();
    assert!(again.archive.built_secs.is_none() && again.archive.indexed_secs.is_none());
    let (schema, _) = again.archive.reused_from_schema.unwrap();
    assert!(schema >= 4);
    assert_eq!(again.archive.messages, 3_000);
    assert_eq!(again.searches[0].hits, agri.hits);
    assert!(Report::ratio(&again.searches[0]).is_none());
}
