//! 会话存档 names against the world's names API (`sim::wecom_archive::NamesApi`): group,
//! customer and employee names each through the secret that may read them, an API outage
//! that costs one short wait and then none while archiving goes on, names that fill in once
//! the API answers again, and a rename seen after the refresh bound.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chatvault_ingest::wecom::api::WecomApi;
use chatvault_ingest::wecom_archive::codec;
use chatvault_ingest::wecom_archive::names::{NameApis, Names};
use config::Secret;
use proto::{EventBody, Ingested, NewMessage, RawPayload};
use sim::wecom_archive::{self as wa, NamesApi};

fn client(api: &NamesApi, secret: &str) -> Arc<WecomApi> {
    Arc::new(
        WecomApi::new(&api.base_url(), wa::CORP_ID, Secret::new(secret))
            .unwrap()
            .with_token_min_interval(Duration::ZERO),
    )
}

fn all_apis(api: &NamesApi) -> NameApis {
    NameApis {
        audit: Some(client(api, wa::ARCHIVE_SECRET)),
        contact: Some(client(api, wa::CONTACT_SECRET)),
        users: Some(client(api, wa::USER_SECRET)),
    }
}

/// The scripted day's messages, decoded as the connector decodes them.
fn day() -> Vec<Ingested> {
    let (items, _) = wa::script(proto::time::now_ms() - 3_600_000);
    items
        .iter()
        .filter(|i| i.is_message())
        .map(|i| {
            let bytes = i.message.to_string().into_bytes();
            Ingested::Payload {
                events: codec::decode(&bytes).unwrap(),
                raw: RawPayload::now("application/json", bytes),
            }
        })
        .collect()
}

fn messages(batch: &[Ingested]) -> Vec<(String, NewMessage)> {
    batch
        .iter()
        .flat_map(|i| match i {
            Ingested::Payload { events, .. } => events.clone(),
            Ingested::Rejected { .. } => vec![],
        })
        .filter_map(|e| match e.body {
            EventBody::Message(m) => Some((e.chat_id, m)),
            _ => None,
        })
        .collect()
}

fn in_chat<'a>(msgs: &'a [(String, NewMessage)], chat: &str) -> Vec<&'a NewMessage> {
    msgs.iter().filter(|(c, _)| c == chat).map(|(_, m)| m).collect()
}

fn employee(id: &str) -> &'static str {
    wa::EMPLOYEES.iter().find(|(u, _)| *u == id).unwrap().1
}

#[tokio::test]
async fn groups_customers_and_employees_are_named_through_their_secrets() {
    let api = NamesApi::start().await.unwrap();
    let names = Names::new(all_apis(&api), Duration::from_secs(3600));
    let mut batch = day();
    names.fill(&mut batch).await;
    let msgs = messages(&batch);

    let internal = in_chat(&msgs, wa::INTERNAL_GROUP);
    assert!(internal.len() > 10);
    for m in &internal {
        assert_eq!(m.chat_name.as_deref(), Some(wa::INTERNAL_GROUP_NAME));
        assert_eq!(m.sender_name.as_deref(), Some(employee(&m.sender_id)));
    }
    let customer_group = in_chat(&msgs, wa::CUSTOMER_GROUP);
    assert_eq!(customer_group.len(), 2);
    for m in &customer_group {
        assert_eq!(m.chat_name.as_deref(), Some(wa::CUSTOMER_GROUP_NAME));
    }
    assert!(
        customer_group
            .iter()
            .any(|m| m.sender_id == wa::CUSTOMER && m.sender_name.as_deref() == Some(wa::CUSTOMER_NAME))
    );
    // A direct chat is named after both people, in the order of its id.
    let direct = in_chat(&msgs, "lisi|zhangsan");
    assert!(!direct.is_empty());
    assert!(direct.iter().all(|m| m.chat_name.as_deref() == Some("李四、张三")));

    // Cached: a second page asks nothing.
    let calls = api.calls();
    let mut again = day();
    names.fill(&mut again).await;
    assert_eq!(api.calls(), calls, "cached names were asked again");
}

#[tokio::test]
async fn only_the_archive_secret_names_groups_and_nobody_else() {
    let api = NamesApi::start().await.unwrap();
    let apis = NameApis {
        audit: Some(client(&api, wa::ARCHIVE_SECRET)),
        contact: None,
        users: None,
    };
    let names = Names::new(apis, Duration::from_secs(3600));
    let mut batch = day();
    names.fill(&mut batch).await;
    let msgs = messages(&batch);
    assert!(
        in_chat(&msgs, wa::INTERNAL_GROUP)
            .iter()
            .all(|m| m.chat_name.as_deref() == Some(wa::INTERNAL_GROUP_NAME) && m.sender_name.is_none())
    );
    // Customer groups through the 会话存档 secret (protocols.md §2.5 [WENER]).
    assert!(
        in_chat(&msgs, wa::CUSTOMER_GROUP)
            .iter()
            .all(|m| m.chat_name.as_deref() == Some(wa::CUSTOMER_GROUP_NAME) && m.sender_name.is_none())
    );
}

/// Fills the names of `page`; how long that took.
async fn fill_timed(names: &Names, page: &mut [Ingested]) -> Duration {
    let started = Instant::now();
    names.fill(page).await;
    started.elapsed()
}

#[tokio::test]
async fn a_failing_api_costs_one_short_wait_and_names_fill_in_when_it_answers() {
    let api = NamesApi::start().await.unwrap();
    api.set_failing(true);
    let names = Names::new(all_apis(&api), Duration::from_secs(3600)).with_budget(Duration::from_millis(500));
    let mut first = day();
    let waited = fill_timed(&names, &mut first).await;
    assert!(waited < Duration::from_secs(2), "a page waited {waited:?}");
    let msgs = messages(&first);
    assert_eq!(msgs.len(), day().len(), "every message kept");
    assert!(
        msgs.iter()
            .all(|(_, m)| m.chat_name.is_none() && m.sender_name.is_none())
    );

    // While the APIs are paused, pages do not wait and ask nothing.
    let calls = api.calls();
    let mut second = day();
    let waited = fill_timed(&names, &mut second).await;
    assert!(waited < Duration::from_millis(100), "{waited:?}");
    assert_eq!(api.calls(), calls);

    // The API answers again: after the pause, names fill the next pages.
    api.set_failing(false);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut page = day();
        names.fill(&mut page).await;
        let msgs = messages(&page);
        if in_chat(&msgs, wa::INTERNAL_GROUP)
            .iter()
            .all(|m| m.chat_name.as_deref() == Some(wa::INTERNAL_GROUP_NAME) && m.sender_name.is_some())
        {
            break;
        }
        assert!(Instant::now() < deadline, "names never filled in");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_renamed_group_shows_its_new_name_after_the_refresh_bound() {
    let api = NamesApi::start().await.unwrap();
    let names = Names::new(all_apis(&api), Duration::from_millis(300));
    let group_names = |batch: &[Ingested]| -> Vec<Option<String>> {
        in_chat(&messages(batch), wa::INTERNAL_GROUP)
            .iter()
            .map(|m| m.chat_name.clone())
            .collect()
    };
    let mut before = day();
    names.fill(&mut before).await;
    assert!(
        group_names(&before)
            .iter()
            .all(|n| n.as_deref() == Some(wa::INTERNAL_GROUP_NAME))
    );
    api.rename(wa::INTERNAL_GROUP, "销售部（华北）");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut after = day();
    names.fill(&mut after).await;
    assert!(
        group_names(&after)
            .iter()
            .all(|n| n.as_deref() == Some("销售部（华北）")),
        "{:?}",
        group_names(&after)
    );
}
