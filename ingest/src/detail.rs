//! Platform values kept in an event's `detail`, bounded in nesting depth.
//!
//! The store writes every event inside an envelope (envelope → event → body → detail) and
//! reads it back with serde_json, which refuses documents nested deeper than 128 levels. A
//! platform value close to that limit (e-office and WorkTool JSON are bounded only by the same
//! limit on the way in, Goofish MessagePack allows 1024 levels) would be archived and then
//! fail every read of it (`verify`, `show`, export). Containers deeper than [`MAX_DEPTH`] are
//! therefore kept as their JSON text; the raw payload holds the original bytes in any case.

use serde_json::Value;

/// Deepest container level kept as structure; real platform fields nest a handful of levels.
pub const MAX_DEPTH: usize = 32;

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
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!(1), |inner, _| json!([inner]))
    }

    fn depth(v: &Value) -> usize {
        match v {
            Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    #[test]
    fn shallow_values_are_kept_as_they_are() {
        let v = json!({"a": [1, {"b": "c"}], "d": null});
        assert_eq!(bounded(v.clone()), v);
        assert_eq!(bounded(nested(MAX_DEPTH)), nested(MAX_DEPTH));
    }

    #[test]
    fn deeper_containers_become_their_json_text() {
        let v = nested(127);
        let b = bounded(v.clone());
        assert_eq!(depth(&b), MAX_DEPTH);
        let mut cur = &b;
        while let Value::Array(a) = cur {
            cur = &a[0];
        }
        let Value::String(text) = cur else {
            panic!("innermost kept value is not text: {cur}");
        };
        // Nothing is lost: the text is the remaining structure.
        let rest: Value = serde_json::from_str(text).unwrap();
        assert_eq!(depth(&rest), 127 - MAX_DEPTH);
    }
}
