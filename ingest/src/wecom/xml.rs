//! WeCom's flat XML (`<xml><Field>value</Field>…</xml>`) read into a JSON tree with quick-xml.
//!
//! Why a tree and not only a serde struct: every field WeCom sends is kept in the event's
//! `detail`, including ones this version does not know (new event fields, `ApprovalInfo`
//! sub-elements), so the typed view ([`super::codec`]) is read from the tree with serde and
//! nothing is lost. An element holding only text becomes a string, one with children an
//! object, repeated children an array. Attributes do not occur in WeCom callbacks and are
//! ignored.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Value};

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// quick-xml refused it (bad syntax, mismatched tags).
    #[error("malformed XML: {0}")]
    Syntax(String),
    /// The document ended inside an element.
    #[error("truncated XML: `<{0}>` is not closed")]
    Truncated(String),
    /// No root element, or text outside it.
    #[error("XML has no root element")]
    NoRoot,
    /// Nested deeper than any WeCom payload.
    #[error("XML nested deeper than {0} levels")]
    TooDeep(usize),
}

/// WeCom payloads are at most three or four levels deep; this bounds recursion-free memory.
const MAX_DEPTH: usize = 16;

struct Frame {
    name: String,
    text: String,
    children: Map<String, Value>,
}

impl Frame {
    fn new(name: String) -> Self {
        Frame {
            name,
            text: String::new(),
            children: Map::new(),
        }
    }

    fn into_value(self) -> Value {
        if self.children.is_empty() {
            Value::String(self.text)
        } else {
            Value::Object(self.children)
        }
    }
}

fn insert(map: &mut Map<String, Value>, name: String, value: Value) {
    match map.get_mut(&name) {
        None => {
            map.insert(name, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

/// Parses a document into `(root element name, tree)`.
pub fn parse(xml: &str) -> Result<(String, Value), XmlError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<(String, Value)> = None;
    loop {
        let event = reader.read_event().map_err(|e| XmlError::Syntax(e.to_string()))?;
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return Err(XmlError::Syntax("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep(MAX_DEPTH));
                }
                stack.push(Frame::new(e.name().as_ref().to_string()));
            }
            Event::Empty(e) => {
                let name = e.name().as_ref().to_string();
                match stack.last_mut() {
                    Some(parent) => insert(&mut parent.children, name, Value::String(String::new())),
                    None if root.is_none() => root = Some((name, Value::Object(Map::new()))),
                    None => return Err(XmlError::Syntax("content after the root element".into())),
                }
            }
            Event::End(_) => {
                let frame = stack
                    .pop()
                    .ok_or_else(|| XmlError::Syntax("unbalanced end tag".into()))?;
                let name = frame.name.clone();
                let value = frame.into_value();
                match stack.last_mut() {
                    Some(parent) => insert(&mut parent.children, name, value),
                    None => root = Some((name, value)),
                }
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref().map_err(|e| XmlError::Syntax(e.to_string()))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.xml10_content().into_owned();
                        quick_xml::escape::unescape(&format!("&{name};"))
                            .map_err(|e| XmlError::Syntax(e.to_string()))?
                            .into_owned()
                    }
                };
                push_text(&mut stack, &ch)?;
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError::Truncated(open.name.clone()));
    }
    root.ok_or(XmlError::NoRoot)
}

/// The text of the first `<field>` directly under the root, read as a stream of events
/// without building a tree: the receiver needs only the envelope's `Encrypt` to check the
/// signature, and nothing in proportion to an unauthenticated body's size may be built before
/// that check. Returns the root's name and the text (`None` when the field is absent).
pub fn child_text(xml: &str, field: &str) -> Result<(String, Option<String>), XmlError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut root: Option<String> = None;
    let mut inside = false;
    let mut found: Option<String> = None;
    let mut text = String::new();
    loop {
        let event = reader.read_event().map_err(|e| XmlError::Syntax(e.to_string()))?;
        match event {
            Event::Start(e) => {
                if depth == 0 && root.is_some() {
                    return Err(XmlError::Syntax("content after the root element".into()));
                }
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(XmlError::TooDeep(MAX_DEPTH));
                }
                let name = e.name();
                if depth == 1 {
                    root = Some(name.as_ref().to_string());
                } else if depth == 2 && found.is_none() && name.as_ref() == field {
                    inside = true;
                }
            }
            Event::Empty(e) => {
                if depth == 0 {
                    if root.is_some() {
                        return Err(XmlError::Syntax("content after the root element".into()));
                    }
                    root = Some(e.name().as_ref().to_string());
                } else if depth == 1 && found.is_none() && e.name().as_ref() == field {
                    found = Some(String::new());
                }
            }
            Event::End(_) => {
                if inside && depth == 2 {
                    inside = false;
                    found = Some(std::mem::take(&mut text));
                }
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| XmlError::Syntax("unbalanced end tag".into()))?;
            }
            Event::Text(t) if inside => text.push_str(&t.xml10_content()),
            Event::CData(t) if inside => text.push_str(&t.xml10_content()),
            Event::Text(t) if depth == 0 && !t.xml10_content().trim().is_empty() => return Err(XmlError::NoRoot),
            Event::Eof => break,
            _ => {}
        }
    }
    if depth > 0 {
        return Err(XmlError::Truncated(root.unwrap_or_default()));
    }
    Ok((root.ok_or(XmlError::NoRoot)?, found))
}

fn push_text(stack: &mut [Frame], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(frame) => {
            frame.text.push_str(text);
            Ok(())
        }
        // Whitespace between the declaration and the root is fine; anything else is not XML.
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError::NoRoot),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_cdata_text_entities_and_nesting() {
        let (root, v) =
            parse("<xml><A><![CDATA[你好 <b>]]></A><B>1 &lt; 2 &#x41;</B>\n<C><D>x</D><D>y</D></C><E/></xml>").unwrap();
        assert_eq!(root, "xml");
        assert_eq!(
            v,
            json!({"A": "你好 <b>", "B": "1 < 2 A", "C": {"D": ["x", "y"]}, "E": ""})
        );
    }

    #[test]
    fn truncated_and_broken_documents_are_errors() {
        assert_eq!(parse("<xml><A>1</A><B>2").unwrap_err(), XmlError::Truncated("B".into()));
        assert!(matches!(parse("<xml><A>1</B></xml>"), Err(XmlError::Syntax(_))));
        assert_eq!(parse("").unwrap_err(), XmlError::NoRoot);
        assert!(parse("hello").is_err());
        let deep = "<a>".repeat(40);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn child_text_reads_one_field_like_the_tree_does() {
        let doc = "<xml><ToUserName><![CDATA[c]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt><AgentID>1</AgentID></xml>";
        assert_eq!(
            child_text(doc, "Encrypt").unwrap(),
            ("xml".into(), Some("abc+/=".into()))
        );
        assert_eq!(child_text(doc, "Nope").unwrap().1, None);
        assert_eq!(child_text("<x><Encrypt>a</Encrypt></x>", "Encrypt").unwrap().0, "x");
        assert!(child_text("<xml><Encrypt>a</Encrypt>", "Encrypt").is_err());
        assert!(
            child_text("<xml><A><Encrypt>a</Encrypt></A></xml>", "Encrypt")
                .unwrap()
                .1
                .is_none()
        );
        assert!(child_text(&"<a>".repeat(40), "Encrypt").is_err());
        assert!(child_text("hello", "Encrypt").is_err());
    }
}
