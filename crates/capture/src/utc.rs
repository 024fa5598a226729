//! UTC calendar time of a [`SystemTime`], without a date crate: what capture file names and reports
//! print (the addon's `addTimestamp` names and report times, the command line's default file names).

use std::time::{SystemTime, UNIX_EPOCH};

/// A moment in UTC as a calendar reads it, to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

impl UtcTime {
    /// `t` in UTC; a time before 1970 reads as 1970-01-01T00:00:00.000.
    pub fn of(t: SystemTime) -> UtcTime {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let (days, rem) = ((secs / 86_400) as i64, (secs % 86_400) as u32);
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        UtcTime {
            year: yoe + era * 400 + i64::from(month <= 2),
            month: month as u32,
            day: day as u32,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            millis: since.subsec_millis(),
        }
    }

    /// Date and time to the second in ISO 8601's basic format, `20261204T184512`.
    pub fn basic(&self) -> String {
        self.joined("", "")
    }

    /// Date and time to the second in ISO 8601's extended format, `2026-12-04T18:45:12`.
    pub fn extended(&self) -> String {
        self.joined("-", ":")
    }

    fn joined(&self, date: &str, time: &str) -> String {
        format!(
            "{:04}{date}{:02}{date}{:02}T{:02}{time}{:02}{time}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, millis: u64) -> UtcTime {
        UtcTime::of(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
    }

    fn civil(year: i64, month: u32, day: u32, hms: (u32, u32, u32), millis: u32) -> UtcTime {
        let (hour, minute, second) = hms;
        UtcTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            millis,
        }
    }

    #[test]
    fn calendar_dates_in_utc() {
        assert_eq!(at(0, 0), civil(1970, 1, 1, (0, 0, 0), 0));
        // 2000-02-29 01:02:03.456: a leap day of a year divisible by 400.
        assert_eq!(
            at(951_782_400 + 3_723, 456),
            civil(2000, 2, 29, (1, 2, 3), 456)
        );
        assert_eq!(at(1_796_409_912, 0), civil(2026, 12, 4, (18, 45, 12), 0));
        // The last second of a year, and 2100 (divisible by 100, not by 400) has no 29 February.
        assert_eq!(
            at(1_798_761_599, 999),
            civil(2026, 12, 31, (23, 59, 59), 999)
        );
        assert_eq!(at(4_107_542_400, 0), civil(2100, 3, 1, (0, 0, 0), 0));
    }

    #[test]
    fn basic_and_extended_formats() {
        let t = at(951_782_400 + 3_723, 456);
        assert_eq!(t.basic(), "20000229T010203");
        assert_eq!(t.extended(), "2000-02-29T01:02:03");
        assert_eq!(at(0, 0).basic(), "19700101T000000");
    }

    #[test]
    fn a_time_before_1970_reads_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(UtcTime::of(before), civil(1970, 1, 1, (0, 0, 0), 0));
    }
}
