//! The inner content object of a Goofish message (protocols §3.9) → content type, searchable
//! text and attachments.
//!
//! The same inner JSON reaches us two ways: as a JSON string in `"1"."6"."3"."5"` of a live
//! push, and Base64-encoded in `content.custom.data` of a history page. Both go through
//! [`interpret`], so a message seen live and again in history normalizes to the same event
//! (the store's dedup key is the event body).

use base64::Engine as _;
use proto::{Attachment, ContentType};
use serde_json::Value;

/// What a message contains, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// Content kind.
    pub content_type: ContentType,
    /// Plain text for search (a short description for non-text).
    pub text: String,
    /// Attachments (image URLs…).
    pub attachments: Vec<Attachment>,
}

/// Interprets an inner content object. `summary` is what the platform shows in notifications
/// (`reminderContent` / `custom.summary`), used when the content itself has no text.
pub fn interpret(inner: &Value, summary: Option<&str>) -> Content {
    let summary = summary.filter(|s| !s.is_empty());
    let ty = inner.get("contentType").and_then(as_i64);
    match ty {
        Some(1) => Content {
            content_type: ContentType::Text,
            text: str_at(inner, &["text", "text"])
                .or(summary)
                .unwrap_or_default()
                .to_string(),
            attachments: Vec::new(),
        },
        Some(2) => image(inner, summary),
        Some(3) => Content {
            content_type: ContentType::Voice,
            text: summary.unwrap_or("[语音]").to_string(),
            attachments: inner
                .get("audio")
                .and_then(|a| a.get("url"))
                .and_then(Value::as_str)
                .map(|url| {
                    vec![Attachment {
                        url: Some(url.into()),
                        mime: None,
                        ..Default::default()
                    }]
                })
                .unwrap_or_default(),
        },
        Some(101) => custom(inner, summary),
        _ if inner.get("picUrl").is_some() => image(inner, summary),
        _ => other(inner, summary),
    }
}

/// `contentType` 101: `custom {type, data: Base64(inner JSON), summary, title}`; the wrapped
/// JSON is interpreted again, `custom.type` standing in for a missing `contentType`.
fn custom(inner: &Value, summary: Option<&str>) -> Content {
    let Some(c) = inner.get("custom") else {
        return other(inner, summary);
    };
    let summary = c
        .get("summary")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or(summary);
    let decoded = c.get("data").and_then(Value::as_str).and_then(decode_b64_json);
    match decoded {
        Some(mut v) => {
            if v.get("contentType").is_none()
                && let (Some(t), Some(obj)) = (c.get("type").cloned(), v.as_object_mut())
            {
                obj.insert("contentType".into(), t);
            }
            // A custom payload wrapping another custom payload would recurse forever.
            if v.get("contentType").and_then(as_i64) == Some(101) {
                return other(c, summary);
            }
            interpret(&v, summary)
        }
        None => other(c, summary),
    }
}

fn image(inner: &Value, summary: Option<&str>) -> Content {
    let mut attachments: Vec<Attachment> = inner
        .get("image")
        .and_then(|i| i.get("pics"))
        .and_then(Value::as_array)
        .map(|pics| {
            pics.iter()
                .filter_map(|p| p.get("url").and_then(Value::as_str))
                .map(|url| Attachment {
                    url: Some(url.into()),
                    mime: Some("image/*".into()),
                    ..Default::default()
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(url) = inner.get("picUrl").and_then(Value::as_str) {
        attachments.push(Attachment {
            url: Some(url.into()),
            mime: Some("image/*".into()),
            ..Default::default()
        });
    }
    Content {
        content_type: ContentType::Image,
        text: summary.unwrap_or("[图片]").to_string(),
        attachments,
    }
}

/// Cards (items, orders) carry a title; everything else keeps the platform's summary.
fn other(inner: &Value, summary: Option<&str>) -> Content {
    let title = str_at(inner, &["title"]).or_else(|| str_at(inner, &["card", "title"]));
    match title {
        Some(t) => Content {
            content_type: ContentType::Card,
            text: t.to_string(),
            attachments: Vec::new(),
        },
        None => Content {
            content_type: ContentType::Other,
            text: summary.unwrap_or_default().to_string(),
            attachments: Vec::new(),
        },
    }
}

/// Decodes Base64 (standard or URL-safe, padding optional) holding a JSON document.
pub fn decode_b64_json(s: &str) -> Option<Value> {
    let bytes = decode_b64(s).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Base64 as Goofish sends it: standard or URL-safe alphabet, padding optional (the \[GC\]
/// decoder maps `-`/`_` and re-pads; \[XAA\] strips stray characters, which we do not: a
/// corrupted item is rejected, not guessed at).
pub fn decode_b64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
    let s = s.trim();
    if s.bytes().any(|b| b == b'-' || b == b'_') {
        URL_SAFE_PAD_INDIFFERENT.decode(s)
    } else {
        STANDARD_PAD_INDIFFERENT.decode(s)
    }
}

/// A number given as a JSON number or a decimal string.
pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_image_voice_and_custom() {
        let t = interpret(&json!({"contentType":1,"text":{"text":"可以小刀吗"}}), Some("x"));
        assert_eq!((t.content_type, t.text.as_str()), (ContentType::Text, "可以小刀吗"));

        let i = interpret(
            &json!({"contentType":2,"image":{"pics":[{"type":0,"url":"https://img/a.jpg","width":800,"height":600}]}}),
            Some("[图片]"),
        );
        assert_eq!(i.content_type, ContentType::Image);
        assert_eq!(i.attachments[0].url.as_deref(), Some("https://img/a.jpg"));

        let v = interpret(&json!({"contentType":3,"audio":{"url":"https://a/1.amr"}}), None);
        assert_eq!((v.content_type, v.text.as_str()), (ContentType::Voice, "[语音]"));

        let data = base64::engine::general_purpose::STANDARD.encode(r#"{"text":{"text":"包邮吗"}}"#);
        let c = interpret(&json!({"contentType":101,"custom":{"type":1,"data":data}}), None);
        assert_eq!((c.content_type, c.text.as_str()), (ContentType::Text, "包邮吗"));
    }

    #[test]
    fn unknown_content_keeps_the_summary_and_cards_their_title() {
        let o = interpret(&json!({"contentType":77}), Some("[订单消息]"));
        assert_eq!((o.content_type, o.text.as_str()), (ContentType::Other, "[订单消息]"));
        let c = interpret(&json!({"contentType":6,"title":"ThinkPad X1 商品卡片"}), None);
        assert_eq!(
            (c.content_type, c.text.as_str()),
            (ContentType::Card, "ThinkPad X1 商品卡片")
        );
    }

    #[test]
    fn url_safe_base64_without_padding_decodes() {
        let v = decode_b64_json("eyJhIjoiPz8_In0").unwrap();
        assert_eq!(v, json!({"a":"???"}));
        assert!(decode_b64("%%%").is_err());
    }
}
