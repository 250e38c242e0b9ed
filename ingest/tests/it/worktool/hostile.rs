//! The WorkTool route under hostile or unlucky traffic: slow unauthenticated clients never
//! take the permits of real callbacks, a wrong key is never spooled, and a full spool answers
//! 503 and records a gap instead of "success" without durable storage.

use std::time::{Duration, Instant};

use proto::{ConnectorStatus, EventBody};
use sim::worktool::{Callback, Fault, WorktoolPoster, room};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::receiver::{NAME, Opts, PATH, rig};
use crate::support::eventually;

/// Opens a connection that sends a POST's headers and then one body byte per second.
async fn trickle(addr: &str, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_unauthenticated_clients_do_not_block_a_keyed_callback() {
    let rig = rig(Opts::default()).await;
    let addr = rig
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut slow = Vec::new();
    for _ in 0..64 {
        slow.push(trickle(&addr, PATH).await);
    }
    let keep_sending = tokio::spawn(async move {
        for _ in 0..30 {
            for s in &mut slow {
                let _ = s.write_all(b" ").await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    // Give every slow request time to reach its handler.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let poster = WorktoolPoster::sim(&rig.url);
    let cb = Callback::group_text("测试群", room::INTERNAL_GROUP, "张三", "合同已盖章");
    let started = Instant::now();
    let a = poster.deliver(&cb).await;
    assert!(a.acked(), "answered {} {}", a.status, a.body);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        rig.store
            .events()
            .iter()
            .any(|c| matches!(&c.event.body, EventBody::Message(m) if m.text == "合同已盖章"))
    );
    keep_sending.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_never_spooled() {
    let rig = rig(Opts::stalling()).await;
    assert!(eventually(Duration::from_secs(5), || !rig.store.events().is_empty()).await);
    // The store stalls: a keyed callback would be spooled now, an unkeyed one must not be.
    rig.store.set_delay(Duration::from_secs(2));
    let poster = WorktoolPoster::sim(&rig.url);
    let cb = Callback::group_text("测试群", room::INTERNAL_GROUP, "张三", "合同已盖章");
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(poster.deliver_with(&cb, Some(Fault::WrongKey)).await.status);
    }
    assert_eq!(answers, [401; 5]);
    let spooled = std::fs::metadata(rig.dir.path().join(format!("spool/{NAME}.log")))
        .map(|m| m.len())
        .unwrap_or(0);
    assert_eq!(spooled, 0, "requests with a wrong key were spooled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_answers_503_and_records_a_gap() {
    let rig = rig(Opts {
        spool_max_bytes: 8 * 1024,
        ..Opts::stalling()
    })
    .await;
    assert!(eventually(Duration::from_secs(5), || !rig.store.events().is_empty()).await);
    rig.store.set_delay(Duration::from_secs(3));
    let poster = WorktoolPoster::sim(&rig.url);
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..40 {
        let text = format!("第{i}条消息，{}", "内容".repeat(100));
        let a = poster
            .deliver(&Callback::group_text("测试群", room::INTERNAL_GROUP, "张三", &text))
            .await;
        if a.acked() {
            acked.push(text);
        } else {
            refused = Some(a);
            break;
        }
    }
    let refused = refused.expect("the spool never filled");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(!acked.is_empty(), "nothing was spooled before the cap");
    let spool = std::fs::metadata(rig.dir.path().join(format!("spool/{NAME}.log"))).unwrap();
    assert!(spool.len() <= 8 * 1024, "spool grew to {} bytes", spool.len());
    // The gap is visible at once in the state, and recorded as an event once the store is back.
    assert!(
        eventually(Duration::from_secs(2), || {
            let st = rig.registry.snapshot()[NAME].clone();
            st.status == Some(ConnectorStatus::Disconnected) && st.detail.unwrap_or_default().contains("spool")
        })
        .await,
        "{:?}",
        rig.registry.snapshot()
    );
    rig.store.set_delay(Duration::ZERO);
    let archived = |text: &str| {
        rig.store
            .events()
            .iter()
            .any(|c| matches!(&c.event.body, EventBody::Message(m) if m.text == text))
    };
    assert!(
        eventually(Duration::from_secs(30), || acked.iter().all(|t| archived(t))).await,
        "an acknowledged (spooled) callback was lost"
    );
    // Once there is room again, callbacks are taken and the gap closes.
    assert!(
        poster
            .deliver(&Callback::group_text("测试群", room::INTERNAL_GROUP, "张三", "恢复了"))
            .await
            .acked()
    );
    let gap_events = || {
        rig.store
            .events()
            .iter()
            .filter_map(|c| match &c.event.body {
                EventBody::ConnectorState { status, detail, .. } => Some((*status, detail.clone().unwrap_or_default())),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(Duration::from_secs(10), || {
            let ev = gap_events();
            ev.iter()
                .any(|(s, d)| *s == ConnectorStatus::Disconnected && d.contains("spool"))
                && ev.last().is_some_and(|(s, _)| *s == ConnectorStatus::Connected)
        })
        .await,
        "{:?}",
        gap_events()
    );
}
