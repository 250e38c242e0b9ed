//! Connector state: an event whose commit failed is committed later, in order, with the time
//! the state changed; gaps opening and closing reach the alert sink.

use std::time::Duration;

use chatvault_ingest::EventSender;
use chatvault_ingest::state::{GapAlert, StateRegistry, StateReporter};
use proto::{ConnectorStatus, EventBody, Platform};
use sim::fake_store::FakeStore;

use crate::support::eventually;

fn recorded(store: &FakeStore) -> Vec<(ConnectorStatus, i64)> {
    store
        .events()
        .into_iter()
        .filter_map(|c| match c.event.body {
            EventBody::ConnectorState { status, at, .. } => Some((status, at)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_state_event_whose_commit_failed_is_retried_in_order() {
    let (tx, store) = FakeStore::channel(4);
    let out = EventSender::new(Platform::Yunhu, "team", tx);
    let reporter = StateReporter::new("team", Platform::Yunhu, StateRegistry::new(), out);
    reporter.set(ConnectorStatus::Connected, None).await;
    // Events of the same state in the same millisecond are one event to a store (the time is
    // part of what it deduplicates on): keep the three changes apart.
    tokio::time::sleep(Duration::from_millis(3)).await;
    // The store fails: the outage's own event is not committed at first.
    store.fail_next(3);
    let before = proto::time::now_ms();
    reporter
        .set(ConnectorStatus::Disconnected, Some("connection reset".into()))
        .await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    reporter.set(ConnectorStatus::Connected, None).await;
    assert!(
        eventually(Duration::from_secs(10), || recorded(&store).len() == 3).await,
        "{:?}",
        recorded(&store)
    );
    let got = recorded(&store);
    let statuses: Vec<_> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses,
        [
            ConnectorStatus::Connected,
            ConnectorStatus::Disconnected,
            ConnectorStatus::Connected
        ]
    );
    // Recorded late, but with the time the connection was lost.
    assert!(got[1].1 >= before && got[1].1 <= before + 1000, "{got:?}");
}

#[tokio::test]
async fn gaps_opening_and_closing_reach_the_alert_sink() {
    let (tx, _store) = FakeStore::channel(4);
    let (sink, mut alerts) = tokio::sync::mpsc::channel::<GapAlert>(8);
    let registry = StateRegistry::new().with_alerts(sink);
    let out = EventSender::new(Platform::Wecom, "corp", tx);
    let reporter = StateReporter::new("corp", Platform::Wecom, registry, out);
    reporter.set(ConnectorStatus::Connected, None).await;
    reporter
        .set(ConnectorStatus::AuthFailed, Some("token refused".into()))
        .await;
    reporter.set(ConnectorStatus::Disconnected, None).await;
    reporter.set(ConnectorStatus::Connected, None).await;
    let mut got = Vec::new();
    while let Ok(a) = alerts.try_recv() {
        got.push((a.opened, a.status));
    }
    // Down → down is the same gap: one opening, one closing.
    assert_eq!(
        got,
        [(true, ConnectorStatus::AuthFailed), (false, ConnectorStatus::Connected)]
    );
}
