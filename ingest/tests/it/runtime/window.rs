//! The in-flight window: releases strictly in send order and only after the batch's commit
//! notice said `Ok`; a failed or lost notice releases nothing of that batch or any later one;
//! a batch carries only a position whose batches all committed; the bounds count batches and
//! bytes.

use chatvault_ingest::ConnectorError;
use chatvault_ingest::runtime::{Window, WindowLimits};
use futures_util::FutureExt;
use proptest::prelude::*;
use proto::{CommitError, CommitInfo, CommitNotice};

use super::{context, payload};

/// What the test (playing the store writer and the clock) does next.
#[derive(Debug, Clone)]
enum Op {
    /// The connector sends a batch of this many bytes (when the window has room), with the
    /// position after it or, as a connector whose position is costly gives it only now and
    /// then, without.
    Send(usize, bool),
    /// The store fires the notice of one outstanding batch (picked by index modulo the
    /// outstanding ones), `Ok` or failed; `None` drops it (the writer went away).
    Fire(usize, Option<bool>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1usize..300, any::<bool>()).prop_map(|(bytes, carries)| Op::Send(bytes, carries)),
        (
            any::<usize>(),
            prop_oneof![8 => Just(Some(true)), 1 => Just(Some(false)), 1 => Just(None)]
        )
            .prop_map(|(i, o)| Op::Fire(i, o)),
    ]
}

fn ok() -> CommitInfo {
    CommitInfo::default()
}

/// Plays `ops` and checks every release against what the store said.
async fn play(ops: Vec<Op>, limits: (usize, usize)) -> Result<(), TestCaseError> {
    let (cx, mut rx, _dir) = context(1024);
    let mut window: Window<usize> = Window::new(&cx, WindowLimits::new(limits.0, limits.1));
    // Per batch in send order: its notice (until fired) and what the store answered.
    let mut notices: Vec<Option<CommitNotice>> = Vec::new();
    let mut outcome: Vec<Option<Option<bool>>> = Vec::new();
    let mut released = 0usize;
    let mut failed = false;
    for op in ops {
        match op {
            Op::Send(bytes, carries) if !failed && window.has_room() => {
                let id = notices.len();
                // The position after batch `id` is `id`; the batch may carry only a position
                // whose batches all committed (a later commit must never store a position past
                // an earlier failed batch).
                window
                    .send(vec![payload(bytes)], carries.then(|| serde_json::json!(id)), id)
                    .await
                    .unwrap();
                let batch = rx.recv().await.unwrap();
                if let Some(c) = &batch.cursor {
                    let upto = c.as_u64().unwrap() as usize;
                    prop_assert!(upto < id, "batch {id} carries its own or a later position {upto}");
                    prop_assert!(
                        outcome[..=upto].iter().all(|o| *o == Some(Some(true))),
                        "batch {id} carries position {upto} past a batch not committed: {:?}",
                        &outcome[..=upto]
                    );
                }
                notices.push(Some(batch.committed));
                outcome.push(None);
                prop_assert!(window.len() <= limits.0.max(1), "window holds {} batches", window.len());
            }
            Op::Send(..) => {}
            Op::Fire(pick, answer) => {
                let open: Vec<usize> = (0..notices.len()).filter(|i| notices[*i].is_some()).collect();
                if open.is_empty() {
                    continue;
                }
                let i = open[pick % open.len()];
                let notice = notices[i].take().unwrap();
                match answer {
                    Some(true) => drop(notice.send(Ok(ok()))),
                    Some(false) => drop(notice.send(Err(CommitError {
                        message: "disk full".into(),
                    }))),
                    None => drop(notice),
                }
                outcome[i] = Some(answer);
            }
        }
        // Take every release that is ready now.
        while let Some(r) = window.next().now_or_never() {
            match r {
                Ok(id) => {
                    prop_assert!(!failed, "release {id} after the window failed");
                    prop_assert_eq!(id, released, "released out of send order");
                    prop_assert_eq!(
                        outcome[id],
                        Some(Some(true)),
                        "batch {} released before an Ok commit",
                        id
                    );
                    released += 1;
                }
                Err(e) => {
                    prop_assert!(!failed, "a second failure after the first");
                    let head = outcome[released];
                    prop_assert!(
                        matches!(
                            (&e, head),
                            (ConnectorError::Store(_), Some(Some(false))) | (ConnectorError::Closed, Some(None))
                        ),
                        "error {e} for batch {released} answered {head:?}"
                    );
                    failed = true;
                    prop_assert!(window.is_empty(), "a failure forgets every batch in flight");
                }
            }
        }
        // Everything before the first unreleased batch was released as soon as it could be.
        if !failed {
            prop_assert!(released == outcome.len() || outcome[released] != Some(Some(true)));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn releases_in_send_order_and_only_after_an_ok_commit(
        ops in prop::collection::vec(op(), 1..80),
        max_batches in 1usize..8,
        max_bytes in 1usize..2000,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(play(ops, (max_batches, max_bytes)))?;
    }
}

#[tokio::test]
async fn bounded_in_batches_and_in_bytes() {
    let (cx, mut rx, _dir) = context(16);
    let mut w: Window<u32> = Window::new(&cx, WindowLimits::new(2, 1000));
    assert!(w.has_room(), "an empty window always has room");
    w.send(vec![payload(10)], None, 1).await.unwrap();
    assert!(w.has_room());
    w.send(vec![payload(10)], None, 2).await.unwrap();
    assert!(!w.has_room(), "two batches is the limit");
    for _ in 0..2 {
        rx.recv().await.unwrap().committed.send(Ok(ok())).unwrap();
    }
    assert_eq!(w.next().await.unwrap(), 1);
    assert!(w.has_room());
    assert_eq!(w.next().await.unwrap(), 2);

    // One batch above the byte limit still goes (alone), then the window is full.
    w.send(vec![payload(1500)], None, 3).await.unwrap();
    assert!(!w.has_room(), "1500 bytes in flight of 1000");
    rx.recv().await.unwrap().committed.send(Ok(ok())).unwrap();
    assert_eq!(w.next().await.unwrap(), 3);
    assert!(w.has_room() && w.is_empty());
}

#[tokio::test]
async fn a_later_commit_waits_for_the_earlier_one() {
    let (cx, mut rx, _dir) = context(16);
    let mut w: Window<&str> = Window::new(&cx, WindowLimits::default());
    w.send(vec![payload(1)], None, "first").await.unwrap();
    w.send(vec![payload(1)], None, "second").await.unwrap();
    let first = rx.recv().await.unwrap().committed;
    rx.recv().await.unwrap().committed.send(Ok(ok())).unwrap();
    assert!(w.next().now_or_never().is_none(), "second committed, first not yet");
    first.send(Ok(ok())).unwrap();
    assert_eq!(w.next().await.unwrap(), "first");
    assert_eq!(w.next().await.unwrap(), "second");
    assert!(w.next().now_or_never().is_none(), "nothing in flight: pending");
}

#[tokio::test]
async fn the_newest_released_position_is_stored_once_idle() {
    let (cx, mut rx, _dir) = context(16);
    let mut w: Window<u32> = Window::new(&cx, WindowLimits::default());
    w.send(vec![payload(1)], Some(serde_json::json!(1)), 1).await.unwrap();
    let first = rx.recv().await.unwrap();
    assert_eq!(first.cursor, None, "nothing released yet");
    first.committed.send(Ok(ok())).unwrap();
    assert_eq!(w.next().await.unwrap(), 1);
    let settle = tokio::spawn(async move {
        w.settle_cursor().await.unwrap();
        w
    });
    let alone = rx.recv().await.unwrap();
    assert!(alone.items.is_empty());
    assert_eq!(alone.cursor, Some(serde_json::json!(1)));
    alone.committed.send(Ok(ok())).unwrap();
    let mut w = settle.await.unwrap();
    w.settle_cursor().await.unwrap();
    assert!(rx.try_recv().is_err(), "already stored: nothing more to send");
}
