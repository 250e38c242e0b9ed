//! The robot settings check (`robotInfo/get`, seed 003 §3) against the simulator's API: a
//! robot that forwards only @-mentions (`replyAll` 0) or no callbacks (`openCallback` 0) is a
//! coverage gap; one that forwards everything is not; an unreachable API is no gap and
//! stops nothing.

use std::time::Duration;

use proto::ConnectorStatus;
use sim::worktool::{Callback, FakeApi, WorktoolPoster, room};

use super::receiver::{NAME, Opts, messages, rig, states};
use crate::support::eventually;

fn opts(api: &str) -> Opts {
    Opts {
        api_base: Some(api.to_string()),
        status_interval: Duration::from_secs(1),
        settings_interval: Duration::from_secs(1),
        ..Opts::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_robot_forwarding_only_mentions_is_a_gap_until_it_forwards_everything() {
    let api = FakeApi::start(0).await.unwrap();
    api.set_settings(1, 0);
    let rig = rig(opts(&api.base_url())).await;
    assert!(
        eventually(Duration::from_secs(5), || states(&rig.store)
            .contains(&ConnectorStatus::MentionsOnly))
        .await,
        "{:?}",
        states(&rig.store)
    );
    let snap = rig.registry.snapshot();
    assert_eq!(snap[NAME].status, Some(ConnectorStatus::MentionsOnly));
    assert!(
        snap[NAME].detail.as_deref().unwrap_or("").contains("replyAll = 0"),
        "{:?}",
        snap[NAME].detail
    );
    assert!(!ConnectorStatus::MentionsOnly.is_up(), "counted as a gap");
    // The @-mentions that do arrive are archived meanwhile.
    let poster = WorktoolPoster::sim(&rig.url);
    let cb = Callback::group_text("测试群", room::INTERNAL_GROUP, "张三", "@小助手 在吗");
    assert!(poster.deliver(&cb).await.acked());
    assert_eq!(messages(&rig.store).len(), 1);

    // Callbacks switched off altogether: a gap of its own kind.
    api.set_settings(0, 0);
    assert!(
        eventually(Duration::from_secs(5), || states(&rig.store)
            .contains(&ConnectorStatus::CallbackOff))
        .await
    );
    // Fixed: the gap closes.
    api.set_settings(1, 1);
    assert!(
        eventually(Duration::from_secs(5), || rig.registry.snapshot()[NAME].status
            == Some(ConnectorStatus::RobotOnline))
        .await,
        "{:?}",
        states(&rig.store)
    );
    // The registry changes before the state event is committed: wait for the archive too.
    let up_after_off = || {
        let st = states(&rig.store);
        let off = st.iter().rposition(|s| *s == ConnectorStatus::CallbackOff).unwrap();
        st[off + 1..].iter().any(|s| s.is_up())
    };
    assert!(
        eventually(Duration::from_secs(5), up_after_off).await,
        "{:?}",
        states(&rig.store)
    );
    assert!(api.info_requests() >= 3);
    rig.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_robot_forwarding_everything_is_no_gap() {
    let api = FakeApi::start(0).await.unwrap();
    let rig = rig(opts(&api.base_url())).await;
    assert!(eventually(Duration::from_secs(5), || api.info_requests() >= 2).await);
    assert!(
        eventually(Duration::from_secs(5), || states(&rig.store)
            .contains(&ConnectorStatus::RobotOnline))
        .await
    );
    let st = states(&rig.store);
    assert!(st.iter().all(|s| s.is_up()), "no gap recorded: {st:?}");
    rig.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_is_no_gap_and_callbacks_are_still_archived() {
    // Nothing listens on port 9 of loopback: every API request is refused.
    let rig = rig(opts("http://127.0.0.1:9")).await;
    let poster = WorktoolPoster::sim(&rig.url);
    let cb = Callback::group_text("测试群", room::INTERNAL_GROUP, "张三", "合同已盖章");
    assert!(poster.deliver(&cb).await.acked());
    // Several polls of both kinds fail meanwhile.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(poster.deliver(&cb).await.acked());
    assert_eq!(messages(&rig.store).len(), 2);
    let st = states(&rig.store);
    assert_eq!(st, [ConnectorStatus::Connected], "only the start is recorded");
    rig.shutdown.cancel();
}
