//! Shared human-output helpers: times in the configured zone, RFC 3339 UTC for JSON, raw bytes
//! as text or base64, and what each platform's connector can see.

use std::io::Write;

use base64::Engine as _;
use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use proto::Platform;

/// A UTC ms timestamp as local wall time with the zone's abbreviation, for people.
pub fn local(ms: i64, tz: Tz) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z").to_string(),
        None => format!("{ms} (not a valid time)"),
    }
}

/// An optional timestamp for people; `-` when absent.
pub fn local_opt(ms: Option<i64>, tz: Tz) -> String {
    ms.map_or_else(|| "-".to_string(), |ms| local(ms, tz))
}

/// A UTC ms timestamp as RFC 3339 UTC with milliseconds, for JSON. The JSON shapes of
/// records and revisions live in `bundle::json`, so that `show --json` and a case bundle
/// render a message the same way.
pub use bundle::json::utc;

/// [`utc`] of an optional timestamp; JSON `null` when absent.
pub fn utc_opt(ms: Option<i64>) -> serde_json::Value {
    ms.map_or(serde_json::Value::Null, |ms| serde_json::Value::String(utc(ms)))
}

/// A span in ms as `3d 4h`, `2h 5m`, `12m 3s` or `850ms`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    let (d, h, m, s) = (ms / 86_400_000, ms / 3_600_000 % 24, ms / 60_000 % 60, ms / 1000 % 60);
    match (d, h, m) {
        (0, 0, 0) if s == 0 => format!("{ms}ms"),
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// How raw bytes are shown: as text when they are printable UTF-8, else base64.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RawText {
    /// `utf8` or `base64`.
    pub encoding: &'static str,
    /// The text or the base64.
    pub data: String,
}

/// Raw payload bytes for display. Valid UTF-8 with control characters (other than line
/// breaks and tabs) is binary that happens to decode, e.g. a short protobuf frame; showing it
/// as text would garble the terminal, so it goes out as base64 too.
pub fn raw_text(bytes: &[u8]) -> RawText {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) => RawText {
            encoding: "utf8",
            data: s.to_string(),
        },
        _ => RawText {
            encoding: "base64",
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
        },
    }
}

/// What a platform's connector can see (design §2), said plainly so nobody believes the archive
/// is more complete than it is.
pub fn coverage(p: Platform) -> &'static str {
    match p {
        Platform::Eoffice => {
            "everything the configured user_id sees: its direct chats and groups (one connector per account)"
        }
        Platform::Wecom => {
            "messages sent to the app and contact / customer / customer-group / approval events \
             (approval details, also of self-built apps' approvals, customer names and media with a `secret`; \
             a media download that failed is retried for hours); NOT employees' chats with each other (that needs WeCom 会话存档); nothing sent while \
             the archive was down is resent"
        }
        Platform::Goofish => "every conversation of the logged-in account, incl. history with `run --backfill`",
        Platform::Worktool => {
            "every message in chats the robot is in when its replyAll = 1 and openCallback = 1 \
             (otherwise only @-mentions or nothing; checked hourly with `robot_id`, a gap until fixed); \
             no platform message ids or times; nothing sent while the archive was down is resent"
        }
        Platform::Yunhu => {
            "every chat of the logged-in account, incl. edits, streamed bot replies, recalls, history, \
             chat names and attachments (under the blob cap; a failed download is retried for hours, then \
             listed in `rejects`); live messages even while the history API is down"
        }
        Platform::WecomArchive => {
            "every chat of employees covered by the 会话存档 licence: internal and with customers, groups \
             and one to one, incl. recalls, media and names; Tencent keeps the data for a limited time only"
        }
    }
}

/// Parses `--platform`, or a usage error (exit 2) listing the valid values.
pub fn platform_arg(p: &str) -> anyhow::Result<Platform> {
    p.parse::<Platform>()
        .map_err(|_| crate::exit::usage(format!("unknown platform `{p}` (valid: {})", Platform::choices())))
}

/// Revisions as JSON with UTC times (`audit`, `show` and case bundles print the same shape).
pub fn revisions_json(revisions: &[store::Revision]) -> serde_json::Value {
    bundle::json::revisions(revisions)
}

/// A message record as JSON with its times as RFC 3339 UTC (JSON output is always UTC).
pub fn record_json(r: &proto::MessageRecord) -> serde_json::Value {
    bundle::json::record(r)
}

/// What happened to a message after it was sent: edits, withdrawal, deletion, with who and
/// when, one phrase each.
pub fn lifecycle(r: &proto::MessageRecord, tz: Tz) -> Vec<String> {
    let mut v = Vec::new();
    if r.revision > 0 {
        v.push(format!(
            "edited {} time(s), last at {}",
            r.revision,
            local_opt(r.edited_at, tz)
        ));
    }
    let who = |w: &Option<String>| w.clone().unwrap_or_else(|| "(not recorded)".into());
    if r.withdrawn_at.is_some() || r.withdrawn_by.is_some() || r.state == proto::MessageState::Withdrawn {
        v.push(format!(
            "withdrawn by {} at {}",
            who(&r.withdrawn_by),
            local_opt(r.withdrawn_at, tz)
        ));
    }
    if r.deleted_at.is_some() || r.deleted_by.is_some() || r.state == proto::MessageState::Deleted {
        v.push(format!(
            "deleted by {} at {}",
            who(&r.deleted_by),
            local_opt(r.deleted_at, tz)
        ));
    }
    for d in &r.deleted_for {
        v.push(format!(
            "deleted for {} only at {} (still visible to the others)",
            who(&d.user),
            local(d.at, tz)
        ));
    }
    v
}

/// The markup as sent, under a heading naming its format (`show` and `audit`), or nothing for
/// plain text.
pub fn source_text(r: &proto::MessageRecord, pad: &str) -> Option<String> {
    let src = r.source_text.as_deref()?;
    Some(format!(
        "{pad}source ({}, as sent):\n{}",
        r.text_format,
        indent(src, &format!("{pad}  "))
    ))
}

/// Writes one JSON value as a line.
pub fn json_line(out: &mut impl Write, v: &serde_json::Value) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    out.write_all(b"\n")
}

/// Indents every line of `text` by `pad` (multi-line message texts under a heading).
pub fn indent(text: &str, pad: &str) -> String {
    text.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_772_373_605_123; // 2026-03-01T14:00:05.123Z

    #[test]
    fn times_in_zone_and_utc() {
        assert_eq!(local(T, chrono_tz::Asia::Shanghai), "2026-03-01 22:00:05 CST");
        assert_eq!(local(T, chrono_tz::UTC), "2026-03-01 14:00:05 UTC");
        assert_eq!(utc(T), "2026-03-01T14:00:05.123Z");
        assert_eq!(utc_opt(None), serde_json::Value::Null);
        assert_eq!(local_opt(None, chrono_tz::UTC), "-");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(12_000), "12s");
        assert_eq!(duration(125_000), "2m 5s");
        assert_eq!(duration(7_500_000), "2h 5m");
        assert_eq!(duration(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
    }

    #[test]
    fn raw_bytes_as_text_or_base64() {
        assert_eq!(
            raw_text("{\"a\":\"中文\"}\n".as_bytes()),
            RawText {
                encoding: "utf8",
                data: "{\"a\":\"中文\"}\n".into()
            }
        );
        assert_eq!(
            raw_text(&[0xff, 0x00, 0x10]),
            RawText {
                encoding: "base64",
                data: "/wAQ".into()
            }
        );
        assert_eq!(raw_text(&[0x08, 0x01]).encoding, "base64");
    }

    #[test]
    fn unknown_platform_lists_choices() {
        let e = platform_arg("wechat").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown platform `wechat` (valid: eoffice, wecom, goofish, worktool, yunhu, wecom_archive)"
        );
        assert_eq!(e.downcast_ref::<crate::exit::Coded>().unwrap().code, crate::exit::USAGE);
    }
}
