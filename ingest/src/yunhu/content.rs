//! Yunhu message content → the canonical content type, searchable text and attachments.
//!
//! Live pushes (`push_message` Content, unsigned sizes) and history rows (`MsgContent`,
//! signed sizes, `image` where the push has `sticker_url`) carry the same fields under the
//! same numbers; both are read into [`Parts`] first so a message archived live and the same
//! message fetched from history normalize to identical events (and so deduplicate).

use proto::yunhu::{MsgContent, push_message::data::msg::Content};
use proto::{Attachment, ContentType, TextFormat};

use super::markup::{html_to_text, markdown_to_text};

/// The content fields the archive uses, from either wire shape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parts {
    pub text: String,
    pub image_url: String,
    pub file_name: String,
    pub file_url: String,
    pub file_size: u64,
    pub mentions: Vec<String>,
    pub form: String,
    pub sticker_url: String,
    pub post_title: String,
    pub post_content: String,
    pub post_content_type: String,
    pub video_url: String,
    pub audio_url: String,
    pub audio_time: u64,
    pub call_text: String,
    pub call_status_text: String,
    pub tip: String,
}

impl From<&Content> for Parts {
    fn from(c: &Content) -> Self {
        Parts {
            text: c.text.clone(),
            image_url: c.image_url.clone(),
            file_name: c.file_name.clone(),
            file_url: c.file_url.clone(),
            file_size: c.file_size,
            mentions: c.mentioned_id.clone(),
            form: c.form.clone(),
            sticker_url: c.sticker_url.clone(),
            post_title: c.post_title.clone(),
            post_content: c.post_content.clone(),
            post_content_type: c.post_content_type.clone(),
            video_url: c.video_url.clone(),
            audio_url: c.audio_url.clone(),
            audio_time: c.audio_time,
            call_text: c.call_text.clone(),
            call_status_text: c.call_status_text.clone(),
            tip: c.tip.clone(),
        }
    }
}

impl From<&MsgContent> for Parts {
    fn from(c: &MsgContent) -> Self {
        Parts {
            text: c.text.clone(),
            image_url: c.image_url.clone(),
            file_name: c.file_name.clone(),
            file_url: c.file_url.clone(),
            file_size: c.file_size.max(0) as u64,
            mentions: c.mentioned_id.clone(),
            form: c.form.clone(),
            sticker_url: c.image.clone(),
            post_title: c.post_title.clone(),
            post_content: c.post_content.clone(),
            post_content_type: c.post_content_type.clone(),
            video_url: c.video_url.clone(),
            audio_url: c.audio_url.clone(),
            audio_time: c.audio_time.max(0) as u64,
            call_text: c.room_name.clone(),
            call_status_text: c.call_status_text.clone(),
            tip: c.tip.clone(),
        }
    }
}

/// What the archive keeps of a message's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub content_type: ContentType,
    /// Plain text, for search.
    pub text: String,
    /// `markdown` for content type 3, `html` for 8, else plain.
    pub text_format: TextFormat,
    /// The markup exactly as sent (content types 3 and 8), `None` for plain text.
    pub source_text: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// Maps Yunhu's numeric content type (`unknown2=0, text=1, image=2, markdown=3, file=4,
/// form=5, sticker=7, html=8, audio=11, call=13, a2ui=14`; 6, 9, 10, 12 unnamed) and the
/// fields present to the canonical content type, plain text and attachments.
pub fn normalize(content_type: u64, p: &Parts) -> Normalized {
    let ct = match content_type {
        1 => ContentType::Text,
        2 => ContentType::Image,
        3 => ContentType::Markdown,
        4 => ContentType::File,
        5 => ContentType::Card,
        7 => ContentType::Sticker,
        8 => ContentType::Html,
        11 => ContentType::Voice,
        13 => ContentType::Other,
        14 => ContentType::Card,
        // Unnamed values: decide by what the message carries.
        _ if !p.video_url.is_empty() => ContentType::Video,
        _ if !p.post_title.is_empty() || !p.post_content.is_empty() => ContentType::Link,
        _ if !p.file_url.is_empty() => ContentType::File,
        _ if !p.image_url.is_empty() => ContentType::Image,
        _ if !p.tip.is_empty() && p.text.is_empty() => ContentType::System,
        _ if !p.text.is_empty() => ContentType::Text,
        _ => ContentType::Other,
    };
    let mut attachments = Vec::new();
    let mut attach = |name: &str, url: &str, size: u64| {
        if !url.is_empty() {
            attachments.push(Attachment {
                name: (!name.is_empty()).then(|| name.to_string()),
                mime: None,
                size: (size > 0).then_some(size),
                url: Some(url.to_string()),
                sha256: None,
            });
        }
    };
    attach(&p.file_name, &p.file_url, p.file_size);
    if p.file_url.is_empty() {
        attach(&p.file_name, &p.image_url, p.file_size);
    }
    attach("", &p.video_url, 0);
    attach("", &p.audio_url, 0);
    attach("", &p.sticker_url, 0);

    let body = match ct {
        ContentType::Markdown => markdown_to_text(&p.text),
        ContentType::Html => html_to_text(&p.text),
        _ => p.text.trim().to_string(),
    };
    let text = if !body.is_empty() {
        body
    } else {
        match ct {
            ContentType::File => or_label(&p.file_name, "[文件]"),
            ContentType::Image => or_label(&p.file_name, "[图片]"),
            ContentType::Sticker => "[表情]".to_string(),
            ContentType::Voice => format!("[语音 {}s]", p.audio_time),
            ContentType::Video => "[视频]".to_string(),
            ContentType::Card if !p.form.is_empty() => format!("[表单] {}", p.form),
            ContentType::Link => {
                let content = if p.post_content_type == "2" {
                    markdown_to_text(&p.post_content)
                } else {
                    p.post_content.trim().to_string()
                };
                [p.post_title.trim(), content.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            _ if !p.call_text.is_empty() || !p.call_status_text.is_empty() => {
                [p.call_text.trim(), p.call_status_text.trim()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            _ => p.tip.trim().to_string(),
        }
    };
    // Seed 004 lists `markdown=3` and `html=8` among the content types: the sender wrote
    // markup, which the plain `text` above loses (headings, lists, links, bold); it is kept
    // byte for byte beside it.
    let text_format = match ct {
        ContentType::Markdown => TextFormat::Markdown,
        ContentType::Html => TextFormat::Html,
        _ => TextFormat::Plain,
    };
    let source_text = (!text_format.is_plain() && !p.text.is_empty()).then(|| p.text.clone());
    Normalized {
        content_type: ct,
        text,
        text_format: if source_text.is_some() {
            text_format
        } else {
            TextFormat::Plain
        },
        source_text,
        attachments,
    }
}

/// Content of an edited message (edits carry text only): its type, plain text, format and
/// markup.
pub fn edited_text(content_type: u64, text: &str) -> Normalized {
    normalize(
        content_type,
        &Parts {
            text: text.to_string(),
            ..Parts::default()
        },
    )
}

fn or_label(name: &str, label: &str) -> String {
    if name.is_empty() {
        label.to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_html_keep_their_markup_beside_the_plain_text() {
        let md = "# 周报\n- **完成** [合同](https://x/1)\n";
        let html = "<p>请<b>今天</b>确认</p>";
        // Text alone: the same normalization an edit's text gets.
        for (content_type, markup, format) in [(3, md, TextFormat::Markdown), (8, html, TextFormat::Html)] {
            let n = edited_text(content_type, markup);
            assert_eq!((n.text_format, n.source_text.as_deref()), (format, Some(markup)));
        }
        let n = edited_text(3, md).text;
        assert!(n.contains("完成") && !n.contains("**"), "{n}");
        assert_eq!(edited_text(8, html).text, "请今天确认");
        let n = edited_text(3, "*改*");
        assert_eq!((n.text.as_str(), n.source_text.as_deref()), ("改", Some("*改*")));
    }

    #[test]
    fn maps_documented_content_types() {
        let text = Parts {
            text: "**好的**".into(),
            ..Parts::default()
        };
        assert_eq!(normalize(1, &text).content_type, ContentType::Text);
        assert_eq!(normalize(1, &text).source_text, None);
        assert_eq!(normalize(3, &text).text, "好的");
        assert_eq!(edited_text(8, "<b>好</b>的").text, "好的");
        let file = Parts {
            file_name: "合同.pdf".into(),
            file_url: "https://f/1".into(),
            file_size: 42,
            ..Parts::default()
        };
        let n = normalize(4, &file);
        assert_eq!((n.content_type, n.text.as_str()), (ContentType::File, "合同.pdf"));
        assert_eq!(n.attachments[0].size, Some(42));
        assert_eq!(
            normalize(
                11,
                &Parts {
                    audio_time: 7,
                    audio_url: "u".into(),
                    ..Parts::default()
                }
            )
            .text,
            "[语音 7s]"
        );
        assert_eq!(normalize(7, &Parts::default()).content_type, ContentType::Sticker);
        assert_eq!(
            normalize(
                10,
                &Parts {
                    video_url: "v".into(),
                    ..Parts::default()
                }
            )
            .content_type,
            ContentType::Video
        );
        assert_eq!(
            normalize(
                6,
                &Parts {
                    post_title: "周报".into(),
                    ..Parts::default()
                }
            )
            .text,
            "周报"
        );
    }
}
