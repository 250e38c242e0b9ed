//! [`Schedule`]: when `chatvault run` starts an export, from the `[export] schedule` cron
//! expression, evaluated in the configured time zone.
//!
//! Two forms are accepted:
//! - the standard 5-field crontab form `minute hour day-of-month month day-of-week`
//!   (`0 3 * * *` = 03:00 every day), and
//! - the 6-field form with a leading seconds field (`0 0 3 * * *`).
//!
//! The `cron` crate underneath follows Quartz, where day-of-week 1 is Sunday; crontab counts
//! 0 (or 7) as Sunday and 1 as Monday. Reading `1-5` the Quartz way would run a "weekdays"
//! export from Sunday to Thursday, so the day-of-week field is translated to day names in both
//! forms: numbers always mean what crontab means, and names (`SUN`–`SAT`) work everywhere.
//! Like crontab, when both day-of-month and day-of-week are restricted a time matches if
//! either does (`0 0 13 * 5` = the 13th and every Friday); the crate alone would require both.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::error::{ExportError, Result};

/// Day names in crontab order (index 0 = Sunday), as the `cron` crate reads them.
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A parsed export schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    tz: Tz,
    /// One schedule, or two when day-of-month and day-of-week are both restricted (crontab
    /// fires when either matches; each half keeps one of them).
    specs: Vec<cron::Schedule>,
}

impl Schedule {
    /// Parses a 5-field crontab or 6-field (seconds first) expression, or a shorthand
    /// (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`), to be evaluated in `tz`.
    pub fn parse(expr: &str, tz: Tz) -> Result<Schedule> {
        let invalid = |reason: String| ExportError::Schedule {
            expr: expr.to_string(),
            reason,
        };
        let trimmed = expr.trim();
        let expanded = match trimmed {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            s if s.starts_with('@') => {
                return Err(invalid(
                    "unknown shorthand (valid: @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)"
                        .into(),
                ));
            }
            s => s,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (sec, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            0 => return Err(invalid("the expression is empty".into())),
            n => {
                return Err(invalid(format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), found {n}"
                )));
            }
        };
        let [min, hour, dom, month, dow] = [rest[0], rest[1], rest[2], rest[3], rest[4]];
        let dow_names = days_of_week(dow).map_err(invalid)?;
        let dom_restricted = !matches!(dom, "*" | "?");
        let texts = match (&dow_names, dom_restricted) {
            (Some(days), true) => vec![
                format!("{sec} {min} {hour} {dom} {month} *"),
                format!("{sec} {min} {hour} * {month} {days}"),
            ],
            (Some(days), false) => vec![format!("{sec} {min} {hour} * {month} {days}")],
            (None, _) => vec![format!("{sec} {min} {hour} {dom} {month} *")],
        };
        let specs = texts
            .iter()
            .map(|t| cron::Schedule::from_str(t).map_err(|e| invalid(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let schedule = Schedule {
            expr: expr.to_string(),
            tz,
            specs,
        };
        // `0 0 30 2 *` parses but never fires; better said at startup than discovered later.
        if schedule.next_after(Utc::now()).is_none() {
            return Err(invalid("it never fires (no matching date)".into()));
        }
        Ok(schedule)
    }

    /// The first time strictly after `t` at which the schedule fires, or `None` if it never
    /// fires again.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        self.specs
            .iter()
            .filter_map(|s| s.after(&local).next())
            .min()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The expression as configured (for logs).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The time zone it is evaluated in.
    pub fn tz(&self) -> Tz {
        self.tz
    }
}

/// Translates a crontab day-of-week field into a list of day names, or `None` for "any day".
fn days_of_week(field: &str) -> std::result::Result<Option<String>, String> {
    if matches!(field, "*" | "?") {
        return Ok(None);
    }
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: usize = s
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("day-of-week step `{s}` is not a positive number"))?;
                (r, step)
            }
            None => (item, 1),
        };
        let (first, last) = match range {
            "*" | "?" => (0, 6),
            r => match r.split_once('-') {
                Some((a, b)) => (day_number(a)?, day_number(b)?),
                // `5/2` means "from Friday every second day", as in cronie.
                None if step > 1 => (day_number(r)?, 6),
                None => {
                    let d = day_number(r)?;
                    (d, d)
                }
            },
        };
        if first > last {
            return Err(format!(
                "day-of-week range `{range}` runs backwards (write it as two ranges)"
            ));
        }
        for d in (first..=last).step_by(step) {
            days[d % 7] = true;
        }
    }
    let names: Vec<&str> = (0..7).filter(|&d| days[d]).map(|d| DAY_NAMES[d]).collect();
    Ok(Some(names.join(",")))
}

/// A crontab day: 0–7 (0 and 7 = Sunday) or an English name (`sun`, `Monday`…).
fn day_number(s: &str) -> std::result::Result<usize, String> {
    if let Ok(n) = s.parse::<usize>() {
        return if n <= 7 {
            Ok(n)
        } else {
            Err(format!(
                "day-of-week `{n}` is out of range (0-7, 0 and 7 = Sunday, or SUN-SAT)"
            ))
        };
    }
    let lower = s.to_ascii_lowercase();
    const FULL: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    FULL.iter()
        .position(|full| lower.len() >= 3 && full.starts_with(&lower))
        .ok_or_else(|| format!("`{s}` is not a day of the week (0-7, 0 and 7 = Sunday, or SUN-SAT)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike, Weekday};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(expr: &str, tz: Tz, from: &str) -> DateTime<Utc> {
        Schedule::parse(expr, tz).unwrap().next_after(utc(from)).unwrap()
    }

    /// Saturday 2026-03-07 12:00 UTC.
    const SATURDAY_NOON: &str = "2026-03-07T12:00:00Z";

    #[test]
    fn crontab_zero_and_seven_are_sunday() {
        for expr in ["0 3 * * 0", "0 3 * * 7", "0 3 * * SUN", "0 3 * * sunday"] {
            let t = next(expr, chrono_tz::UTC, SATURDAY_NOON);
            assert_eq!(t, utc("2026-03-08T03:00:00Z"), "{expr}");
            assert_eq!(t.weekday(), Weekday::Sun, "{expr}");
        }
    }

    #[test]
    fn crontab_one_is_monday_and_ranges_are_weekdays() {
        assert_eq!(next("0 3 * * 1", chrono_tz::UTC, SATURDAY_NOON).weekday(), Weekday::Mon);
        assert_eq!(
            next("0 3 * * 6", chrono_tz::UTC, SATURDAY_NOON),
            utc("2026-03-14T03:00:00Z")
        );
        // Mon-Fri, starting on a Saturday: the next run is Monday, then Tuesday … Friday, then Monday.
        let s = Schedule::parse("30 8 * * 1-5", chrono_tz::UTC).unwrap();
        let mut t = utc(SATURDAY_NOON);
        let mut seen = Vec::new();
        for _ in 0..6 {
            t = s.next_after(t).unwrap();
            seen.push(t.weekday());
        }
        use Weekday::*;
        assert_eq!(seen, vec![Mon, Tue, Wed, Thu, Fri, Mon]);
    }

    #[test]
    fn day_of_week_lists_ranges_to_seven_and_steps() {
        let days = |expr: &str| {
            let s = Schedule::parse(expr, chrono_tz::UTC).unwrap();
            let mut t = utc(SATURDAY_NOON);
            let mut out = Vec::new();
            for _ in 0..7 {
                t = s.next_after(t).unwrap();
                if t > utc("2026-03-14T12:00:00Z") {
                    break;
                }
                out.push(t.weekday());
            }
            out
        };
        use Weekday::*;
        assert_eq!(days("0 0 * * 5-7"), vec![Sun, Fri, Sat]);
        assert_eq!(days("0 0 * * 0,3"), vec![Sun, Wed]);
        assert_eq!(days("0 0 * * */2"), vec![Sun, Tue, Thu, Sat]);
        assert_eq!(days("0 0 * * MON-FRI/2"), vec![Mon, Wed, Fri]);
    }

    #[test]
    fn six_field_form_has_seconds_and_the_same_day_numbers() {
        assert_eq!(
            next("*/10 * * * * *", chrono_tz::UTC, "2026-03-07T12:00:03Z"),
            utc("2026-03-07T12:00:10Z")
        );
        assert_eq!(
            next("15 0 3 * * 0", chrono_tz::UTC, SATURDAY_NOON),
            utc("2026-03-08T03:00:15Z")
        );
    }

    #[test]
    fn evaluated_in_the_configured_time_zone() {
        // 03:00 in Shanghai (UTC+8) is 19:00 UTC the day before.
        let t = next("0 3 * * *", chrono_tz::Asia::Shanghai, "2026-03-01T00:00:00Z");
        assert_eq!(t, utc("2026-03-01T19:00:00Z"));
        let local = t.with_timezone(&chrono_tz::Asia::Shanghai);
        assert_eq!((local.hour(), local.day()), (3, 2));
        // Sunday in Shanghai starts on Saturday 16:00 UTC.
        let sun = next("0 0 * * 0", chrono_tz::Asia::Shanghai, SATURDAY_NOON);
        assert_eq!(sun, utc("2026-03-07T16:00:00Z"));
        // Across a DST change the wall-clock hour is kept.
        let ny = chrono_tz::America::New_York;
        let t = next("0 3 * * *", ny, "2026-03-08T12:00:00Z");
        assert_eq!(t, ny.with_ymd_and_hms(2026, 3, 9, 3, 0, 0).unwrap().with_timezone(&Utc));
    }

    #[test]
    fn day_of_month_or_day_of_week_like_crontab() {
        // The 13th (a Friday in March 2026) or any Monday.
        let s = Schedule::parse("0 0 13 * 1", chrono_tz::UTC).unwrap();
        let mut t = utc("2026-03-01T00:00:00Z");
        let mut days = Vec::new();
        for _ in 0..4 {
            t = s.next_after(t).unwrap();
            days.push(t.day());
        }
        // Mondays 2, 9, 13th (a Friday), 16.
        assert_eq!(days, vec![2, 9, 13, 16]);
    }

    #[test]
    fn shorthands() {
        assert_eq!(
            next("@daily", chrono_tz::UTC, SATURDAY_NOON),
            utc("2026-03-08T00:00:00Z")
        );
        assert_eq!(
            next("@hourly", chrono_tz::UTC, SATURDAY_NOON),
            utc("2026-03-07T13:00:00Z")
        );
        assert_eq!(next("@weekly", chrono_tz::UTC, SATURDAY_NOON).weekday(), Weekday::Sun);
    }

    #[test]
    fn invalid_expressions_are_refused_with_the_expression_named() {
        for (expr, needle) in [
            ("", "empty"),
            ("* * *", "found 3"),
            ("0 3 * * 8", "out of range"),
            ("0 3 * * funday", "not a day"),
            ("0 3 * * 5-1", "backwards"),
            ("0 3 * * 1/0", "step"),
            ("61 * * * *", ""),
            ("0 25 * * *", ""),
            ("@reboot", "shorthand"),
            ("0 0 30 2 *", "never fires"),
        ] {
            let err = Schedule::parse(expr, chrono_tz::UTC).unwrap_err().to_string();
            assert!(err.contains(&format!("`{expr}`")), "{err}");
            assert!(err.contains(needle), "{expr}: {err}");
        }
    }
}
