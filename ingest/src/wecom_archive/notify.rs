//! `msgaudit_notify` → an immediate pull. The `wecom` callback receiver pulses the corp id it
//! serves; every 会话存档 connector of that corp wakes up. A [`Notify`] keeps at most one
//! pending wake-up, so a burst of callbacks during a pull costs one more pull (the debounce).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Notify;

fn registry() -> &'static Mutex<HashMap<String, Arc<Notify>>> {
    static R: OnceLock<Mutex<HashMap<String, Arc<Notify>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// The wake-up of `corp_id`'s connectors.
pub fn subscribe(corp_id: &str) -> Arc<Notify> {
    let mut map = registry().lock().unwrap_or_else(|e| e.into_inner());
    map.entry(corp_id.to_string()).or_default().clone()
}

/// New 会话存档 data for `corp_id`: pull now.
pub fn pulse(corp_id: &str) {
    subscribe(corp_id).notify_one();
}

/// Wakes `corp_id`'s connectors when a decoded `[[wecom]]` callback is `msgaudit_notify`;
/// returns whether it was.
pub fn on_callback(corp_id: Option<&str>, events: &[proto::ChatEvent]) -> bool {
    let notify = events
        .iter()
        .any(|e| matches!(&e.body, proto::EventBody::Other { subtype, .. } if subtype == "msgaudit_notify"));
    if let (true, Some(corp)) = (notify, corp_id) {
        pulse(corp);
    }
    notify
}
