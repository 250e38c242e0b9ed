//! Filters, time ranges, ordering, the lifecycle of messages (edits, withdrawals) and the
//! indexer's resume point and writer lock.

mod support;

use chatvault_search as search;
use proto::{ContentType, MessageState, Platform};
use search::{Filters, Indexer, IndexerOptions, SearchError, SearchRequest, Searcher, Sort, schema};
use support::{Archive, Msg, T0, ids, ids_with};

const HOUR: i64 = 3_600_000;

fn corpus() -> Vec<Msg> {
    vec![
        Msg::text("a1", "合同审批已完成")
            .in_chat(Platform::Wecom, "c-fin", "财务报销群")
            .from("zhangsan", "张三")
            .at(T0),
        Msg::text("a2", "合同已经发到群里")
            .in_chat(Platform::Yunhu, "c-sales", "销售部")
            .from("lisi", "李四")
            .at(T0 + 2 * HOUR),
        Msg {
            content_type: ContentType::File,
            ..Msg::text("a3", "合同扫描件.pdf")
                .in_chat(Platform::Yunhu, "c-fin2", "报销审批")
                .from("zhangsan2", "张三丰")
                .at(T0 + 4 * HOUR)
        },
    ]
}

fn filtered(s: &Searcher, q: &str, f: Filters) -> Vec<String> {
    ids_with(s, q, f, false)
}

#[test]
fn platform_type_chat_sender_and_time_filters() {
    let mut a = Archive::new();
    a.add(&corpus());
    let s = a.index();
    assert_eq!(ids(&s, "合同"), ["a1", "a2", "a3"]);
    let f = Filters {
        platforms: vec![schema::platform_ord(Platform::Yunhu)],
        ..Default::default()
    };
    assert_eq!(filtered(&s, "合同", f), ["a2", "a3"]);
    let f = Filters {
        content_types: vec![schema::content_type_ord(ContentType::File)],
        ..Default::default()
    };
    assert_eq!(filtered(&s, "合同", f), ["a3"]);
    let f = Filters {
        since: Some(T0 + HOUR),
        until: Some(T0 + 3 * HOUR),
        ..Default::default()
    };
    assert_eq!(filtered(&s, "合同", f), ["a2"]);
    let f = Filters {
        until: Some(T0 + 2 * HOUR),
        ..Default::default()
    };
    assert_eq!(filtered(&s, "合同", f), ["a1"], "until is exclusive");

    // --chat: an id exactly, else names containing the text (several → all).
    let chats = s.chats().unwrap();
    let by_name: Vec<&str> = search::resolve(&chats, "报销").iter().map(|n| n.id.as_str()).collect();
    assert_eq!(by_name, ["c-fin", "c-fin2"]);
    let f = Filters {
        chats: search::resolve(&chats, "报销").iter().map(|n| n.key.clone()).collect(),
        ..Default::default()
    };
    assert_eq!(filtered(&s, "合同", f), ["a1", "a3"]);
    let exact: Vec<&str> = search::resolve(&chats, "c-fin").iter().map(|n| n.id.as_str()).collect();
    assert_eq!(exact, ["c-fin"], "an exact id wins over name matches");

    // --sender by name substring: 张三 matches 张三 and 张三丰.
    let senders = s.senders().unwrap();
    let keys: Vec<String> = search::resolve(&senders, "张三")
        .iter()
        .map(|n| n.key.clone())
        .collect();
    assert_eq!(keys.len(), 2);
    let f = Filters {
        senders: keys,
        ..Default::default()
    };
    assert_eq!(filtered(&s, "合同", f), ["a1", "a3"]);
    assert!(search::resolve(&senders, "王五").is_empty());

    // Filters alone (empty query) list every message that passes them.
    let f = Filters {
        platforms: vec![schema::platform_ord(Platform::Wecom)],
        ..Default::default()
    };
    assert_eq!(filtered(&s, "", f), ["a1"]);
}

#[test]
fn relevance_ties_go_to_the_newest_and_time_sort_is_newest_first() {
    let mut a = Archive::new();
    let msgs: Vec<Msg> = (0..5)
        .map(|i| Msg::text(format!("t{i}"), "请尽快回复邮件").at(T0 + i * HOUR))
        .chain(std::iter::once(
            Msg::text("dense", "邮件邮件邮件，回复邮件").at(T0 - HOUR),
        ))
        .collect();
    a.add(&msgs);
    let s = a.index();
    let run = |sort| {
        let req = SearchRequest {
            query: search::parse("邮件").unwrap(),
            sort,
            limit: 10,
            ..Default::default()
        };
        s.search(&req)
            .unwrap()
            .into_iter()
            .map(|h| h.key.msg_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(Sort::Relevance), ["dense", "t4", "t3", "t2", "t1", "t0"]);
    assert_eq!(run(Sort::Time), ["t4", "t3", "t2", "t1", "t0", "dense"]);
}

#[test]
fn edits_reindex_and_withdrawn_messages_stay_findable() {
    let mut a = Archive::new();
    a.add(&[Msg::text("e1", "明天上午九点出发"), Msg::text("w1", "预算已经超支了")]);
    let s = a.index();
    assert_eq!(ids(&s, "九点"), ["e1"]);

    let edit = testkit::edit("g1", "e1", "明天下午三点出发", T0 + 1);
    let withdraw = testkit::withdraw("g1", "w1", "u1", T0 + 2);
    a.append(Platform::Yunhu, vec![edit, withdraw]);
    let s = a.index();
    assert_eq!(ids(&s, "三点"), ["e1"], "the current text is indexed");
    assert!(ids(&s, "九点").is_empty(), "the old text is not matched by default");
    assert_eq!(
        ids_with(&s, "九点", Filters::default(), true),
        ["e1"],
        "--all-revisions finds earlier texts"
    );
    assert_eq!(ids(&s, "超支"), ["w1"], "withdrawn messages stay searchable");
    let f = Filters {
        states: vec![schema::state_ord(MessageState::Withdrawn)],
        ..Default::default()
    };
    assert_eq!(ids_with(&s, "", f, false), ["w1"]);
    assert_eq!(s.num_docs(), 2, "one document per message");
}

#[test]
fn restart_resumes_from_the_committed_seq() {
    let mut a = Archive::new();
    a.add(&[Msg::text("r1", "系统升级通知")]);
    let s = a.index();
    assert_eq!(s.index().indexed_seq().unwrap(), 1);
    a.add(&[Msg::text("r2", "系统维护通知")]);
    let (ix, opened) = Indexer::open(a.path(), IndexerOptions::default()).unwrap();
    assert_eq!(opened, search::Opened::Existing);
    assert_eq!(ix.seq(), 1, "resumes after the last committed event");
    drop(ix);
    let s = a.index();
    assert_eq!(ids(&s, "通知"), ["r1", "r2"]);
    assert_eq!(s.index().indexed_seq().unwrap(), 2);
}

#[test]
fn a_second_writer_is_refused_naming_the_holder() {
    let a = Archive::new();
    let _held = Indexer::open(a.path(), IndexerOptions::default()).unwrap();
    match Indexer::open_for_rebuild(a.path(), IndexerOptions::default()) {
        Err(SearchError::Locked { pid }) => assert_eq!(pid, Some(std::process::id())),
        other => panic!("expected a lock error, got {other:?}"),
    }
    assert!(
        Indexer::try_open(a.path(), IndexerOptions::default())
            .unwrap()
            .is_none()
    );
}

#[test]
fn missing_or_corrupt_index_is_refused_with_a_reindex_hint() {
    let a = Archive::new();
    let e = Searcher::open(a.path()).unwrap_err();
    assert!(
        matches!(e, SearchError::Missing(_)) && e.to_string().contains("chatvault reindex"),
        "{e}"
    );
    a.index();
    std::fs::write(a.path().join("index").join("meta.json"), b"{not json").unwrap();
    let e = Searcher::open(a.path()).unwrap_err();
    assert!(
        matches!(e, SearchError::Corrupt { .. }) && e.to_string().contains("chatvault reindex"),
        "{e}"
    );
    // The writer side rebuilds an unusable index (it is derived from the archive).
    let (_ix, opened) = Indexer::open(a.path(), IndexerOptions::default()).unwrap();
    assert!(matches!(opened, search::Opened::Replaced(_)), "{opened:?}");
}

#[test]
fn bad_queries_are_usage_errors() {
    let mut a = Archive::new();
    a.add(&[Msg::text("q1", "好的收到")]);
    let s = a.index();
    for q in ["\"好的", "好的 OR", "，，"] {
        let e = search::parse(q).and_then(|query| {
            s.search(&SearchRequest {
                query,
                limit: 5,
                ..Default::default()
            })
        });
        let e = e.unwrap_err();
        assert!(e.is_usage(), "{q}: {e}");
    }
}

#[test]
fn chats_known_only_to_the_archive_are_resolved_with_the_indexed_ones() {
    let mut a = Archive::new();
    a.add(&corpus());
    let s = a.index();
    // Archived after the index was built: only the archive's chat list knows it yet.
    a.add(&[Msg::text("a4", "新群的第一条")
        .in_chat(Platform::Wecom, "c-late", "迟到的群")
        .from("wangwu", "王五")
        .at(T0 + 5 * HOUR)]);
    let reader = store::StoreReader::open(a.path()).unwrap();
    let chats = s.chats_with_archive(&reader).unwrap();
    let late: Vec<&str> = search::resolve(&chats, "迟到").iter().map(|n| n.id.as_str()).collect();
    assert_eq!(late, ["c-late"]);
    assert!(search::resolve(&s.chats().unwrap(), "迟到").is_empty());
    let fin = chats.iter().find(|n| n.id == "c-fin").unwrap();
    assert_eq!(fin.names, ["财务报销群"], "the archive's name is not repeated");
    assert_eq!(chats.len(), 4);
}
