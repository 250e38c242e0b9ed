//! The nesting bound on platform values kept in an event's `detail`, enforced where events
//! enter the store.
//!
//! An event is stored inside its envelope (envelope → event → body → detail) and read back
//! with serde_json, which refuses documents nested deeper than 128 levels. A detail close to
//! that limit would be archived and then fail every read of it (`verify`, `show`, export), so
//! containers deeper than [`MAX_DEPTH`] are kept as their JSON text (the raw payload holds the
//! original bytes in any case). Connectors used to apply this rule themselves; it lives here
//! so that no source can forget it, and a value they bounded before is unchanged by it, so the
//! envelopes and dedup hashes of archives written then stay what they were.

use std::borrow::Cow;

use proto::{ChatEvent, EventBody};
use serde_json::Value;

/// Deepest container level kept as structure (the same as the connectors').
pub const MAX_DEPTH: usize = 32;

/// `ev` with its detail bounded; borrowed as it is when nothing needs bounding (the common
/// case, checked without copying).
pub(crate) fn bounded_event(ev: &ChatEvent) -> Cow<'_, ChatEvent> {
    let detail = match &ev.body {
        EventBody::Other { detail, .. } | EventBody::ContactChanged { detail, .. } => detail,
        _ => return Cow::Borrowed(ev),
    };
    if within(detail, 1) {
        return Cow::Borrowed(ev);
    }
    let mut owned = ev.clone();
    if let EventBody::Other { detail, .. } | EventBody::ContactChanged { detail, .. } = &mut owned.body {
        *detail = bounded(std::mem::take(detail));
    }
    Cow::Owned(owned)
}

/// `true` if no container of `v` lies deeper than [`MAX_DEPTH`] (`v` itself at `depth`).
/// Stops descending at the first container past the bound.
fn within(v: &Value, depth: usize) -> bool {
    match v {
        Value::Array(_) | Value::Object(_) if depth > MAX_DEPTH => false,
        Value::Array(a) => a.iter().all(|x| within(x, depth + 1)),
        Value::Object(o) => o.values().all(|x| within(x, depth + 1)),
        _ => true,
    }
}

/// `v` with every array or object below [`MAX_DEPTH`] levels replaced by its JSON text.
pub fn bounded(v: Value) -> Value {
    bound(v, 1)
}

fn bound(v: Value, depth: usize) -> Value {
    match v {
        Value::Array(_) | Value::Object(_) if depth > MAX_DEPTH => {
            // Serializing a `Value` cannot fail (its keys are strings).
            Value::String(serde_json::to_string(&v).unwrap_or_default())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|x| bound(x, depth + 1)).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, x)| (k, bound(x, depth + 1))).collect()),
        scalar => scalar,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!({"k": 1}), |inner, n| {
            if n % 2 == 0 {
                json!([inner, 2])
            } else {
                json!({"a": inner})
            }
        })
    }

    fn other(detail: Value) -> ChatEvent {
        ChatEvent {
            chat_id: "c".into(),
            msg_id: None,
            occurred_at: None,
            body: EventBody::Other {
                subtype: "x".into(),
                detail,
            },
        }
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::from),
            ".{0,4}".prop_map(Value::from)
        ];
        leaf.prop_recursive(48, 256, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::vec(("[a-c]", inner), 0..3).prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn a_value_within_the_bound_is_borrowed_unchanged() {
        let ev = other(nested(MAX_DEPTH - 1));
        assert!(matches!(bounded_event(&ev), Cow::Borrowed(_)));
        let deep = other(nested(MAX_DEPTH + 5));
        let Cow::Owned(b) = bounded_event(&deep) else {
            panic!("an over-deep detail is bounded")
        };
        assert_ne!(b, deep);
    }

    /// The rule the connectors applied themselves before this check moved into the store,
    /// kept verbatim as the oracle: events archived then must keep their bytes and dedup hash.
    fn connectors_rule(v: Value, depth: usize) -> Value {
        match v {
            Value::Array(_) | Value::Object(_) if depth > MAX_DEPTH => {
                Value::String(serde_json::to_string(&v).unwrap_or_default())
            }
            Value::Array(a) => Value::Array(a.into_iter().map(|x| connectors_rule(x, depth + 1)).collect()),
            Value::Object(o) => Value::Object(o.into_iter().map(|(k, x)| (k, connectors_rule(x, depth + 1))).collect()),
            scalar => scalar,
        }
    }

    proptest! {
        /// The store's bound gives what the connectors' gave, and bounding twice changes
        /// nothing: events a connector already bounded keep their bytes and dedup hash.
        #[test]
        fn the_store_bounds_as_the_connectors_do(v in arb_value()) {
            let ours = bounded(v.clone());
            prop_assert_eq!(&ours, &connectors_rule(v.clone(), 1));
            prop_assert_eq!(within(&v, 1), ours == v);
            let ev = other(ours.clone());
            prop_assert!(matches!(bounded_event(&ev), Cow::Borrowed(_)));
        }
    }
}
