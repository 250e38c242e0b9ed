//! The supervisor: delays between failed sessions stay within the backoff's jitter band and
//! its cap, how a session ended becomes the connector's state, errors that reconnecting
//! cannot fix stop it, and a session that stayed up resets the delays. Paused clock: the
//! delays are measured on tokio's virtual time, nothing really waits.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatvault_ingest::backoff::Backoff;
use chatvault_ingest::runtime::{Exit, Link, Session, supervise};
use chatvault_ingest::{ConnectorContext, ConnectorError};
use proto::{ConnectorStatus, Platform};
use sim::fake_store::FakeStore;
use tokio::time::Instant;

use crate::support::rig::states;

/// How one scripted session ends.
enum End {
    Fail(fn() -> ConnectorError),
    /// Reports `connected`, stays up this long, then fails.
    UpThenFail(Duration),
    Exit(Exit),
}

/// Sessions that end as scripted; once the script is done, one waits for shutdown.
struct Scripted {
    ends: VecDeque<End>,
    started: Arc<Mutex<Vec<Instant>>>,
}

impl Session for Scripted {
    async fn run(&mut self, cx: &ConnectorContext, link: &mut Link<'_>) -> Result<Exit, ConnectorError> {
        self.started.lock().unwrap().push(Instant::now());
        match self.ends.pop_front() {
            Some(End::Fail(e)) => Err(e()),
            Some(End::UpThenFail(d)) => {
                link.connected(None).await;
                tokio::time::sleep(d).await;
                Err(ConnectorError::Transport("dropped".into()))
            }
            Some(End::Exit(x)) => Ok(x),
            None => {
                link.connected(None).await;
                cx.shutdown.cancelled().await;
                Ok(Exit::Shutdown)
            }
        }
    }
}

struct Run {
    store: FakeStore,
    started: Vec<Instant>,
    result: Result<(), ConnectorError>,
}

/// Supervises `ends` with `backoff`; shuts down once the script is done and the last session
/// is up.
async fn supervise_script(ends: Vec<End>, backoff: Backoff) -> Run {
    let (tx, store) = FakeStore::channel(8);
    let dir = tempfile::tempdir().unwrap();
    let cx = ConnectorContext::new(Platform::Yunhu, "team", tx, dir.path());
    let started = Arc::new(Mutex::new(Vec::new()));
    let scripted = ends.len();
    let mut session = Scripted {
        ends: ends.into(),
        started: started.clone(),
    };
    let task = {
        let cx = cx.clone();
        tokio::spawn(async move { supervise(&cx, backoff, &mut session).await })
    };
    // The run after the script is the one that waits for shutdown (or the supervisor stopped).
    while started.lock().unwrap().len() <= scripted && !task.is_finished() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    cx.shutdown.cancel();
    let result = task.await.unwrap();
    let started = started.lock().unwrap().clone();
    Run { store, started, result }
}

fn gaps(at: &[Instant]) -> Vec<Duration> {
    at.windows(2).map(|w| w[1] - w[0]).collect()
}

fn transport() -> ConnectorError {
    ConnectorError::Transport("connection refused".into())
}

#[tokio::test(start_paused = true)]
async fn delays_grow_within_the_jitter_band_up_to_the_cap() {
    let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8)).with_jitter(0.5);
    let run = supervise_script((0..7).map(|_| End::Fail(transport)).collect(), backoff).await;
    run.result.unwrap();
    let gaps = gaps(&run.started);
    assert_eq!(gaps.len(), 7);
    for (gap, full) in gaps.iter().zip([1u64, 2, 4, 8, 8, 8, 8]) {
        let full = Duration::from_secs(full);
        // State events are committed between attempts; the fake store takes no virtual time.
        assert!(
            *gap >= full / 2 && *gap <= full + Duration::from_millis(5),
            "{gap:?} for a {full:?} delay"
        );
    }
    let disconnected = states(&run.store)
        .iter()
        .filter(|(s, d)| *s == ConnectorStatus::Disconnected && d.contains("connection refused"))
        .count();
    assert_eq!(disconnected, 1, "a repeated state is recorded once");
}

#[tokio::test(start_paused = true)]
async fn fixed_attempts_come_first_without_jitter() {
    let backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(60))
        .with_fixed(Duration::from_secs(3), 2)
        .with_jitter(0.0);
    let run = supervise_script((0..4).map(|_| End::Fail(transport)).collect(), backoff).await;
    let secs: Vec<u64> = gaps(&run.started).iter().map(|g| g.as_secs()).collect();
    assert_eq!(secs, [3, 3, 2, 4]);
}

#[tokio::test(start_paused = true)]
async fn how_a_session_ended_becomes_the_state() {
    let ends = vec![
        End::Fail(|| ConnectorError::Auth("token refused".into())),
        End::Fail(|| ConnectorError::Kicked("logged in elsewhere".into())),
        End::Fail(transport),
    ];
    let run = supervise_script(ends, Backoff::new(Duration::from_secs(1), Duration::from_secs(1))).await;
    run.result.unwrap();
    let st: Vec<ConnectorStatus> = states(&run.store).into_iter().map(|s| s.0).collect();
    assert_eq!(
        st,
        [
            ConnectorStatus::AuthFailed,
            ConnectorStatus::Kicked,
            ConnectorStatus::Disconnected,
            ConnectorStatus::Connected,
            ConnectorStatus::Disconnected,
        ]
    );
    assert_eq!(states(&run.store).last().unwrap().1, "shutting down");
}

#[tokio::test(start_paused = true)]
async fn an_error_reconnecting_cannot_fix_stops_the_connector() {
    let ends = vec![End::Fail(|| ConnectorError::Config("bad url".into()))];
    let run = supervise_script(ends, Backoff::default()).await;
    assert!(matches!(run.result, Err(ConnectorError::Config(_))));
    assert_eq!(run.started.len(), 1, "no second attempt");
}

#[tokio::test(start_paused = true)]
async fn reconnect_at_once_skips_the_wait() {
    let ends = vec![End::Exit(Exit::Reconnect)];
    let run = supervise_script(ends, Backoff::new(Duration::from_secs(30), Duration::from_secs(60))).await;
    assert_eq!(gaps(&run.started), [Duration::ZERO]);
}

#[tokio::test(start_paused = true)]
async fn a_session_that_stayed_up_starts_the_delays_over() {
    let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
        .with_jitter(0.0)
        .with_reset_after(Duration::from_secs(10));
    let ends = vec![
        End::Fail(transport),
        End::Fail(transport),
        End::UpThenFail(Duration::from_secs(10)),
    ];
    let run = supervise_script(ends, backoff).await;
    let secs: Vec<u64> = gaps(&run.started).iter().map(|g| g.as_secs()).collect();
    // 1 s, 2 s, then 10 s up + 1 s (not 4 s): the healthy period reset the attempts.
    assert_eq!(secs, [1, 2, 11]);
}
