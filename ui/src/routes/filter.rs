//! The filter fields the search and audit pages share (an optional value such as a platform,
//! a time range), parsed the same way and refused with the same message.

use std::str::FromStr;

use crate::i18n::Lang;

/// The message shown for a filter `what` whose value `v` does not parse.
fn invalid(lang: Lang, what: &str, v: &str) -> String {
    format!("{} `{what}`: `{v}`", lang.t("无效的筛选条件", "invalid filter"))
}

/// Filter `what` parsed from `v` (`None` when empty), or the message for a bad value.
pub(crate) fn optional<T: FromStr>(lang: Lang, what: &str, v: &str) -> Result<Option<T>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| invalid(lang, what, v))
}

/// A date (`YYYY-MM-DD`, local midnight) or RFC 3339 time → UTC ms.
fn parse_time(s: &str, tz: chrono_tz::Tz) -> Option<i64> {
    use chrono::TimeZone;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// The `since` and `until` fields as [since, until) in UTC ms (`None` when empty), or the
/// message for the first bad one.
pub(crate) fn time_range(
    lang: Lang,
    tz: chrono_tz::Tz,
    since: &str,
    until: &str,
) -> Result<(Option<i64>, Option<i64>), String> {
    let at = |what: &str, v: &str| match v {
        "" => Ok(None),
        v => parse_time(v, tz).map(Some).ok_or_else(|| invalid(lang, what, v)),
    };
    let since = at("since", since)?;
    // A date means "through that day".
    let until = at("until", until)?.map(|end| if until.len() == 10 { end + 86_400_000 } else { end });
    Ok((since, until))
}
