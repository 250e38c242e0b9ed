//! Hive partitions: `(platform, local date)` and the paths and time ranges they stand for.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;
use proto::{Platform, TimestampMs};

/// One partition of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    /// Platform (`platform=` in the path).
    pub platform: Platform,
    /// Local date in the export's time zone (`date=` in the path).
    pub date: NaiveDate,
}

impl PartitionKey {
    /// `platform=<p>/date=<YYYY-MM-DD>`, relative.
    pub fn rel_dir(&self) -> PathBuf {
        PathBuf::from(format!("platform={}", self.platform)).join(format!("date={}", self.date.format("%Y-%m-%d")))
    }
}

/// Maps timestamps to local dates, remembering the last day seen: rows arrive mostly in time
/// order, so most lookups skip the time-zone arithmetic.
#[derive(Debug, Clone)]
pub struct DayMapper {
    tz: Tz,
    cached: Option<(TimestampMs, TimestampMs, NaiveDate)>,
}

impl DayMapper {
    /// A mapper for `tz`.
    pub fn new(tz: Tz) -> Self {
        DayMapper { tz, cached: None }
    }

    /// The local date of `ms`.
    pub fn date(&mut self, ms: TimestampMs) -> NaiveDate {
        if let Some((from, to, d)) = self.cached
            && (from..to).contains(&ms)
        {
            return d;
        }
        let d = date_of(ms, self.tz);
        let (from, to) = day_range(d, self.tz);
        self.cached = Some((from, to, d));
        d
    }
}

/// Local date of `ms` in `tz`.
pub fn date_of(ms: TimestampMs, tz: Tz) -> NaiveDate {
    let utc = DateTime::from_timestamp_millis(ms).unwrap_or_default();
    utc.with_timezone(&tz).date_naive()
}

/// `[start, end)` of a local date in UTC ms. Days are 23 or 25 hours long across DST changes.
pub fn day_range(date: NaiveDate, tz: Tz) -> (TimestampMs, TimestampMs) {
    let next = date.succ_opt().unwrap_or(date);
    (start_of_day(date, tz), start_of_day(next, tz))
}

/// First instant of a local date. Where midnight does not exist (a DST jump at 00:00, as in
/// some American zones), the day starts at the first local time that does.
fn start_of_day(date: NaiveDate, tz: Tz) -> TimestampMs {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for minutes in (0..=180).step_by(15) {
        if let Some(t) = tz
            .from_local_datetime(&(midnight + Duration::minutes(minutes)))
            .earliest()
        {
            return t.timestamp_millis();
        }
    }
    midnight.and_utc().timestamp_millis()
}

/// `<out>/<table>/platform=<p>/date=<d>`.
pub fn partition_dir(out: &Path, table: &str, key: &PartitionKey) -> PathBuf {
    out.join(table).join(key.rel_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_the_time_zone() {
        // 2026-03-01 20:00 UTC is 2026-03-02 04:00 in Shanghai.
        let ms = 1_772_395_200_000;
        assert_eq!(
            date_of(ms, chrono_tz::UTC),
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
        );
        assert_eq!(
            date_of(ms, chrono_tz::Asia::Shanghai),
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
        );
        let (from, to) = day_range(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(), chrono_tz::Asia::Shanghai);
        assert!((from..to).contains(&ms));
        assert_eq!(to - from, 86_400_000);
    }

    #[test]
    fn dst_days_are_short_or_long() {
        let ny = chrono_tz::America::New_York;
        let (from, to) = day_range(NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(), ny);
        assert_eq!(to - from, 23 * 3_600_000);
        let (from, to) = day_range(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), ny);
        assert_eq!(to - from, 25 * 3_600_000);
    }

    #[test]
    fn mapper_agrees_with_date_of_across_boundaries() {
        let tz = chrono_tz::Asia::Shanghai;
        let mut m = DayMapper::new(tz);
        let start = 1_772_395_200_000 - 3_600_000;
        for i in 0..200 {
            let ms = start + i * 1_799_999;
            assert_eq!(m.date(ms), date_of(ms, tz), "{ms}");
        }
    }

    #[test]
    fn hive_directory_names() {
        let key = PartitionKey {
            platform: Platform::Wecom,
            date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        };
        assert_eq!(
            partition_dir(Path::new("x"), "messages", &key),
            Path::new("x/messages/platform=wecom/date=2026-03-02")
        );
    }
}
