//! A decoded sync item's tree, read the same way whether it is JSON or MessagePack borrowed
//! from the item's bytes.
//!
//! Every item used to be converted from MessagePack into a `serde_json::Value` (a string per
//! field, a map per object) before a handful of its fields were read; on a catch-up that
//! conversion was most of the connector's CPU. A plain chat message now reads its fields in
//! place ([`rmpv::ValueRef`]), converting only the leaves it uses. The meaning must stay that
//! of the converted tree ([`super::codec::to_json`]): where a MessagePack map could be read
//! differently (a key that is neither a string nor an integer), [`Node::at`] answers
//! [`Unsure`] and the caller takes the converted path.

use rmpv::{Integer, ValueRef};
use serde_json::Value;

use super::codec::to_json;

/// A borrowed MessagePack map cannot be read as its JSON conversion would be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsure;

/// A node of a decoded item.
pub trait Node: Sized {
    /// The value at `key` if this is a map (the last of repeated keys, as in a JSON object).
    fn at(&self, key: &str) -> Result<Option<&Self>, Unsure>;
    /// Whether this is a map (a JSON object).
    fn is_map(&self) -> bool;
    /// This node as the JSON conversion has it.
    fn json(&self) -> Value;
}

impl Node for Value {
    fn at(&self, key: &str) -> Result<Option<&Self>, Unsure> {
        Ok(self.get(key))
    }

    fn is_map(&self) -> bool {
        self.is_object()
    }

    fn json(&self) -> Value {
        self.clone()
    }
}

impl Node for ValueRef<'_> {
    fn at(&self, key: &str) -> Result<Option<&Self>, Unsure> {
        let ValueRef::Map(pairs) = self else {
            return Ok(None);
        };
        let mut found = None;
        for (k, v) in pairs {
            let hit = match k {
                // `to_json` spells a key that is not UTF-8 as "", which no lookup asks for.
                ValueRef::String(s) => s.as_str() == Some(key),
                ValueRef::Integer(i) => spells(key, i),
                // Floats print as integers (`1.0` → "1"): too close to call here.
                _ => return Err(Unsure),
            };
            if hit {
                found = Some(v);
            }
        }
        Ok(found)
    }

    fn is_map(&self) -> bool {
        matches!(self, ValueRef::Map(_))
    }

    fn json(&self) -> Value {
        to_json(self.to_owned())
    }
}

/// Whether `key` is how `to_json` spells integer key `i` (plain decimal).
fn spells(key: &str, i: &Integer) -> bool {
    let digits = key.strip_prefix('-').unwrap_or(key);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && key != "-0";
    canonical
        && match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => key.parse::<u64>() == Ok(u),
            (None, Some(n)) => key.parse::<i64>() == Ok(n),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: Vec<(ValueRef<'static>, ValueRef<'static>)>) -> ValueRef<'static> {
        ValueRef::Map(pairs)
    }

    #[test]
    fn integer_and_string_keys_read_as_their_json_spelling() {
        let m = map(vec![
            (ValueRef::from(1), ValueRef::from("a")),
            (ValueRef::from("2"), ValueRef::from("b")),
            (ValueRef::from(-3), ValueRef::from("c")),
        ]);
        assert_eq!(m.at("1").unwrap().map(Node::json), Some(Value::from("a")));
        assert_eq!(m.at("2").unwrap().map(Node::json), Some(Value::from("b")));
        assert_eq!(m.at("-3").unwrap().map(Node::json), Some(Value::from("c")));
        for absent in ["01", "+1", "3", "-03", "x"] {
            assert_eq!(m.at(absent), Ok(None), "{absent}");
        }
        // What the converted tree says for every key.
        let converted = m.json();
        for key in ["1", "2", "-3", "01", "+1"] {
            assert_eq!(m.at(key).unwrap().map(Node::json), converted.get(key).cloned(), "{key}");
        }
    }

    #[test]
    fn the_last_repeated_key_wins_as_in_the_converted_object() {
        let m = map(vec![
            (ValueRef::from(1), ValueRef::from("first")),
            (ValueRef::from("1"), ValueRef::from("second")),
        ]);
        assert_eq!(m.at("1").unwrap().map(Node::json), m.json().get("1").cloned());
        assert_eq!(m.at("1").unwrap().map(Node::json), Some(Value::from("second")));
    }

    #[test]
    fn a_float_key_is_left_to_the_converted_path() {
        let m = map(vec![(ValueRef::F64(1.0), ValueRef::from("x"))]);
        assert_eq!(m.at("1"), Err(Unsure));
        assert_eq!(ValueRef::from("not a map").at("1"), Ok(None));
    }
}
