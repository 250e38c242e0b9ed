//! Time arguments of `search`, `audit` and `access-log` (`--since`, `--until`).
//!
//! Accepted forms, all turned into UTC milliseconds:
//! - a date, `2026-03-01`: midnight of that day in the configured zone;
//! - a local date and time, `2026-03-01 14:00` or `2026-03-01T14:00:30`, in the configured zone;
//! - RFC 3339 with an offset, `2026-03-01T14:00:00+08:00` or `…Z`;
//! - a relative span before now: `30m`, `12h`, `7d`, `2w` (also `45s`).

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The accepted forms, for error messages.
const FORMS: &str = "use a date (2026-03-01), a local time (2026-03-01 14:00), RFC 3339 \
                     (2026-03-01T14:00:00+08:00) or a span before now (30m, 12h, 7d, 2w)";

/// Parses a time argument into UTC milliseconds; local forms are read in `tz`, relative forms
/// count back from `now`. The error says which forms are accepted.
pub fn parse_time(s: &str, tz: Tz, now: DateTime<Utc>) -> Result<i64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(format!("empty time; {FORMS}"));
    }
    if let Some(ms) = parse_relative(s, now)? {
        return Ok(ms);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return local_to_ms(s, d.and_time(NaiveTime::MIN), tz);
    }
    for fmt in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return local_to_ms(s, t, tz);
        }
    }
    Err(format!("cannot read `{s}` as a time; {FORMS}"))
}

/// The time flag `--{flag}` given as `value`, if given; a value that does not parse is a usage
/// error (exit 2) naming the flag.
pub fn flag(flag: &str, value: Option<&str>, tz: Tz, now: DateTime<Utc>) -> anyhow::Result<Option<i64>> {
    value
        .map(|s| parse_time(s, tz, now).map_err(|e| crate::exit::usage(format!("--{flag}: {e}"))))
        .transpose()
}

/// `Ok(None)` when `s` is not of the relative form at all, so the other forms are tried.
fn parse_relative(s: &str, now: DateTime<Utc>) -> Result<Option<i64>, String> {
    let Some(unit) = s.chars().last() else {
        return Ok(None);
    };
    let digits = &s[..s.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let n: i64 = digits.parse().map_err(|_| format!("`{s}`: number too large"))?;
    let span = match unit {
        's' => Duration::try_seconds(n),
        'm' => Duration::try_minutes(n),
        'h' => Duration::try_hours(n),
        'd' => Duration::try_days(n),
        'w' => Duration::try_weeks(n),
        _ => {
            return Err(format!("`{s}`: unknown unit `{unit}` (use s, m, h, d or w)"));
        }
    };
    let at = span
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| format!("`{s}` reaches too far back"))?;
    Ok(Some(at.timestamp_millis()))
}

fn local_to_ms(s: &str, t: NaiveDateTime, tz: Tz) -> Result<i64, String> {
    match tz.from_local_datetime(&t) {
        LocalResult::Single(t) => Ok(t.timestamp_millis()),
        // A wall time seen twice (clocks set back): the first one is the one a reader means
        // by "since".
        LocalResult::Ambiguous(first, _) => Ok(first.timestamp_millis()),
        LocalResult::None => Err(format!("`{s}` does not exist in {tz} (skipped by a clock change)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
    }

    fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().timestamp_millis()
    }

    #[test]
    fn date_is_local_midnight() {
        assert_eq!(
            parse_time("2026-03-01", chrono_tz::Asia::Shanghai, now()),
            Ok(ms(2026, 2, 28, 16, 0))
        );
        assert_eq!(
            parse_time("2026-03-01", chrono_tz::UTC, now()),
            Ok(ms(2026, 3, 1, 0, 0))
        );
    }

    #[test]
    fn local_date_time_forms() {
        let sh = chrono_tz::Asia::Shanghai;
        assert_eq!(parse_time("2026-03-01 14:00", sh, now()), Ok(ms(2026, 3, 1, 6, 0)));
        assert_eq!(parse_time("2026-03-01T14:00", sh, now()), Ok(ms(2026, 3, 1, 6, 0)));
        assert_eq!(
            parse_time("2026-03-01 14:00:30", sh, now()),
            Ok(ms(2026, 3, 1, 6, 0) + 30_000)
        );
    }

    #[test]
    fn rfc3339_ignores_configured_zone() {
        let want = ms(2026, 3, 1, 6, 0);
        assert_eq!(parse_time("2026-03-01T14:00:00+08:00", chrono_tz::UTC, now()), Ok(want));
        assert_eq!(
            parse_time("2026-03-01T06:00:00Z", chrono_tz::Asia::Shanghai, now()),
            Ok(want)
        );
        assert_eq!(
            parse_time("2026-03-01T06:00:00.250Z", chrono_tz::UTC, now()),
            Ok(want + 250)
        );
    }

    #[test]
    fn relative_counts_back_from_now() {
        let n = now().timestamp_millis();
        let tz = chrono_tz::UTC;
        assert_eq!(parse_time("30m", tz, now()), Ok(n - 30 * 60_000));
        assert_eq!(parse_time("12h", tz, now()), Ok(n - 12 * 3_600_000));
        assert_eq!(parse_time("7d", tz, now()), Ok(n - 7 * 86_400_000));
        assert_eq!(parse_time("2w", tz, now()), Ok(n - 14 * 86_400_000));
        assert_eq!(parse_time(" 7d ", tz, now()), Ok(n - 7 * 86_400_000));
    }

    #[test]
    fn bad_input_says_what_is_accepted() {
        let tz = chrono_tz::UTC;
        let e = parse_time("yesterday", tz, now()).unwrap_err();
        assert!(
            e.contains("`yesterday`") && e.contains("7d") && e.contains("RFC 3339"),
            "{e}"
        );
        let e = parse_time("7y", tz, now()).unwrap_err();
        assert!(e.contains("unknown unit `y`"), "{e}");
        assert!(parse_time("", tz, now()).is_err());
        assert!(parse_time("2026-02-30", tz, now()).is_err());
        assert!(parse_time("99999999999999999999d", tz, now()).is_err());
        assert!(parse_time("9999999999999d", tz, now()).is_err());
    }

    #[test]
    fn clock_changes() {
        let ny = chrono_tz::America::New_York;
        // 2026-03-08 02:30 does not exist in New York.
        let e = parse_time("2026-03-08 02:30", ny, now()).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        // 2026-11-01 01:30 happens twice; the earlier one (EDT, UTC-4) is taken.
        assert_eq!(parse_time("2026-11-01 01:30", ny, now()), Ok(ms(2026, 11, 1, 5, 30)));
    }
}
