//! Documents are replaced, never doubled, however the indexer's reads fall against the log:
//! a message is read whole and current, possibly before the indexer reaches its own event.

mod support;

use chatvault_search as search;
use proto::Platform;
use search::{Indexer, IndexerOptions, Searcher};
use support::{Archive, Msg, T0, ids};

/// Events the indexer reads per step (`indexer.rs`).
const EVENTS_PER_STEP: usize = 5_000;

#[test]
fn a_message_read_ahead_of_its_own_event_is_indexed_once() {
    let mut a = Archive::new();
    let first = Msg::text("early-edit", "原稿");
    // The edit arrives first (a placeholder); the message lands just past the first step's
    // events, so that step already reads the whole message through the edit's key.
    a.append(
        first.platform,
        vec![testkit::edit(
            first.chat_id,
            &first.id,
            "审批单已改为加急处理",
            T0 + 60_000,
        )],
    );
    let fillers: Vec<_> = (1..EVENTS_PER_STEP)
        .map(|i| Msg::text(format!("filler-{i}"), "普通消息").event())
        .collect();
    a.append(Platform::Yunhu, fillers);
    a.add(&[first]);

    let s = a.index();
    assert_eq!(ids(&s, "加急"), vec!["early-edit".to_string()]);

    // A later edit replaces that one document.
    a.append(
        Platform::Yunhu,
        vec![testkit::edit("g1", "early-edit", "审批单已撤回", T0 + 120_000)],
    );
    let s = a.index();
    assert_eq!(ids(&s, "撤回"), vec!["early-edit".to_string()]);
    assert!(ids(&s, "加急").is_empty());
}

#[test]
fn new_messages_indexed_across_restarts_are_not_doubled_by_their_edits() {
    let mut a = Archive::new();
    a.add(&[Msg::text("m1", "合同草稿请查收")]);
    let _ = a.index();
    a.add(&[Msg::text("m2", "会议纪要已上传")]);
    a.append(
        Platform::Yunhu,
        vec![testkit::edit("g1", "m1", "合同终稿请查收", T0 + 60_000)],
    );
    {
        let (mut ix, _) = Indexer::open(a.path(), IndexerOptions::default()).unwrap();
        let reader = store::StoreReader::open(a.path()).unwrap();
        ix.catch_up(&reader, 10_000, &mut |_, _| {}).unwrap();
    }
    let s = Searcher::open(a.path()).unwrap();
    assert_eq!(ids(&s, "合同"), vec!["m1".to_string()]);
    assert_eq!(ids(&s, "纪要"), vec!["m2".to_string()]);
}

/// One indexer taking in new messages and then changes to them, as `run`'s does: the newest
/// message it took in, an older one and one it has not seen yet are changed in later steps.
#[test]
fn one_indexer_replaces_the_messages_it_just_took_in_when_they_change() {
    let mut a = Archive::new();
    let reader = store::StoreReader::open(a.path()).unwrap();
    let (mut ix, _) = Indexer::open(a.path(), IndexerOptions::default()).unwrap();
    let catch_up = |ix: &mut Indexer| ix.catch_up(&reader, 10_000, &mut |_, _| {}).unwrap();

    a.add(&[Msg::text("m0", "早先的通知"), Msg::text("m1", "合同草稿请查收")]);
    catch_up(&mut ix);
    a.append(
        Platform::Yunhu,
        vec![
            testkit::edit("g1", "m1", "合同终稿请查收", T0 + 60_000),
            testkit::edit("g1", "m0", "早先的通知已作废", T0 + 60_000),
        ],
    );
    catch_up(&mut ix);
    // A new message and its edit in one step; then an edit of it in the next.
    a.add(&[Msg::text("m2", "会议纪要已上传")]);
    a.append(
        Platform::Yunhu,
        vec![testkit::edit("g1", "m2", "会议纪要第二版", T0 + 60_000)],
    );
    catch_up(&mut ix);
    a.append(
        Platform::Yunhu,
        vec![testkit::edit("g1", "m2", "会议纪要终版", T0 + 120_000)],
    );
    catch_up(&mut ix);
    drop(ix);

    let s = Searcher::open(a.path()).unwrap();
    assert_eq!(ids(&s, "合同"), vec!["m1".to_string()]);
    assert!(ids(&s, "草稿").is_empty());
    assert_eq!(ids(&s, "作废"), vec!["m0".to_string()]);
    assert_eq!(ids(&s, "纪要"), vec!["m2".to_string()]);
    assert_eq!(ids(&s, "终版"), vec!["m2".to_string()]);
    assert_eq!(s.num_docs(), 3, "one document per message");
}
