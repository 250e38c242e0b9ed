//! `msgaudit_notify` on a `[[wecom]]` callback wakes the 会话存档 connectors of that corp only.

use std::time::Duration;

use chatvault_ingest::wecom::codec;
use chatvault_ingest::wecom_archive::notify;

fn callback(event: &str) -> Vec<proto::ChatEvent> {
    let xml = format!(
        "<xml><ToUserName><![CDATA[wwnotify1]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>\
         <CreateTime>1772413260</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[{event}]]></Event><AgentID>2000004</AgentID></xml>"
    );
    codec::decode(xml.as_bytes()).unwrap().events
}

#[tokio::test]
async fn msgaudit_notify_wakes_its_corp_and_nothing_else_does() {
    let mine = notify::subscribe("wwnotify1");
    let other = notify::subscribe("wwnotify2");
    assert!(!notify::on_callback(Some("wwnotify1"), &callback("change_contact")));
    assert!(
        tokio::time::timeout(Duration::from_millis(50), mine.notified())
            .await
            .is_err(),
        "woken by another event"
    );
    assert!(notify::on_callback(Some("wwnotify1"), &callback("msgaudit_notify")));
    // A burst collapses into one pending wake-up (the debounce).
    assert!(notify::on_callback(Some("wwnotify1"), &callback("msgaudit_notify")));
    tokio::time::timeout(Duration::from_secs(1), mine.notified())
        .await
        .expect("woken");
    assert!(
        tokio::time::timeout(Duration::from_millis(50), mine.notified())
            .await
            .is_err()
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(50), other.notified())
            .await
            .is_err()
    );
}
