//! `follow`, as `chatvault run` uses it: new messages become searchable within about a
//! second, the index holds the writer lock while following, and stopping commits.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chatvault_search as search;
use search::{SearchError, Searcher};
use support::{Archive, Msg, ids};

#[test]
fn follow_indexes_new_messages_within_a_second_and_stops_cleanly() {
    let mut a = Archive::new();
    a.add(&[Msg::text("f1", "物流已经发货")]);
    let stop = Arc::new(AtomicBool::new(false));
    let dir = a.path().to_path_buf();
    let handle = {
        let stop = stop.clone();
        std::thread::spawn(move || search::follow(&dir, stop, Duration::from_millis(100), None))
    };
    let path = a.path().to_path_buf();
    let wait_for = |id: &str, q: &str| {
        let start = Instant::now();
        loop {
            if let Ok(s) = Searcher::open(&path)
                && ids(&s, q).contains(&id.to_string())
            {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{id} never became searchable"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("f1", "发货");

    // While following, the writer is held: a rebuild is refused, naming this process.
    match search::Indexer::open_for_rebuild(a.path(), search::IndexerOptions::default()) {
        Err(SearchError::Locked { pid }) => assert_eq!(pid, Some(std::process::id())),
        other => panic!("expected a lock error, got {other:?}"),
    }

    a.add(&[Msg::text("f2", "仓库库存不足，暂缓发货")]);
    let lag = wait_for("f2", "库存");
    assert!(lag < Duration::from_secs(1), "lag {lag:?}");

    stop.store(true, Ordering::Relaxed);
    handle.join().unwrap().unwrap();
    let s = Searcher::open(a.path()).unwrap();
    assert_eq!(s.index().indexed_seq().unwrap(), 2);
    assert_eq!(search::index_lag(a.path()).unwrap(), 0);
}
