//! A message's state and revisions as JSON, the way `chatvault show --json` prints them
//! (times as RFC 3339 UTC with milliseconds). The writer renders the archive's records with it
//! and the checker renders its own re-fold with it, so the two compare as JSON values.

use chrono::{DateTime, SecondsFormat, Utc};
use proto::MessageRecord;
use serde_json::{Value, json};
use store::Revision;

/// `ms` as RFC 3339 UTC with milliseconds.
pub fn utc(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

fn utc_opt(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(utc(ms)))
}

/// The record with its times as RFC 3339 UTC.
pub fn record(r: &MessageRecord) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        for (field, ms) in [
            ("sent_at", Some(r.sent_at)),
            ("received_at", Some(r.received_at)),
            ("edited_at", r.edited_at),
            ("withdrawn_at", r.withdrawn_at),
            ("deleted_at", r.deleted_at),
        ] {
            o.insert(field.into(), utc_opt(ms));
        }
    }
    v
}

/// Every revision with its time as RFC 3339 UTC.
pub fn revisions(revisions: &[Revision]) -> Value {
    Value::Array(
        revisions
            .iter()
            .map(|r| json!({ "revision": r.revision, "text": r.text, "at": utc(r.at), "seq": r.seq }))
            .collect(),
    )
}
