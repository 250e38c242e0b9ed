//! The stored position under a burst: it lists every chat, so it is not serialized and stored
//! with every batch; the exact one is stored once nothing is in flight.

use std::time::Duration;

use sim::yunhu::{Script, Step, YunhuSim};

use super::connector::{start_tuned, tuning};

const CHATS: u64 = 20;
const PER_CHAT: u64 = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_small_batches_stores_the_position_a_few_times_and_exactly_at_the_end() {
    let who = ("u1", "王五");
    let steps: Vec<Step> = (1..=PER_CHAT)
        .flat_map(|i| {
            (0..CHATS).map(move |c| {
                let chat = format!("g-{c}");
                Step::text(&format!("m{c}-{i}"), (&chat, 2), who, &format!("第{i}条"), i)
            })
        })
        .collect();
    let sim = YunhuSim::start(Script::Steps(steps)).await.unwrap();
    // Four messages a batch: a burst of many batches.
    let run = start_tuned(&sim, None, tuning().batch(4, 1 << 20, Duration::from_millis(5)));
    let total = (CHATS * PER_CHAT) as usize;
    assert!(
        run.until(|r| r.message_ids().len() == total).await,
        "{} archived",
        run.message_ids().len()
    );
    for c in 0..CHATS {
        run.assert_seq_reaches(&format!("g-{c}"), PER_CHAT).await;
    }
    let (batches, cursors) = (run.store.batches(), run.store.cursors().len());
    assert!(batches >= (total / 4) as u64, "{batches} batches for {total} messages");
    // Carried on every batch sent after a release, it was stored in about one batch of
    // eight here; now once per half second of the burst, and once at its end.
    assert!(
        cursors as u64 * 15 <= batches,
        "the position was stored {cursors} times in {batches} batches"
    );
    run.stop().await;
}
