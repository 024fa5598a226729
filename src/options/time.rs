//! Timestamps: `addTimestamp`'s `YYYYMMDDTHHMMSS.mmmZ` in file names and ISO 8601 in reports, in UTC
//! (the calendar is the capture crate's [`UtcTime`], which the command line's file names use too).

use std::time::SystemTime;

use oom_heapdump_capture::UtcTime;

/// `YYYYMMDDTHHMMSS.mmmZ` in UTC: sortable, and unique per millisecond.
pub fn utc_stamp(t: SystemTime) -> String {
    let t = UtcTime::of(t);
    format!("{}.{:03}Z", t.basic(), t.millis)
}

/// ISO 8601 in UTC, as JS's `Date.prototype.toISOString` writes it.
pub fn iso_time(t: SystemTime) -> String {
    let t = UtcTime::of(t);
    format!("{}.{:03}Z", t.extended(), t.millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn stamp_is_utc_civil_time() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000.000Z");
        // 2000-02-29 01:02:03.045
        let leap = UNIX_EPOCH + Duration::from_millis((951_782_400 + 3_723) * 1000 + 45);
        assert_eq!(utc_stamp(leap), "20000229T010203.045Z");
        assert_eq!(iso_time(leap), "2000-02-29T01:02:03.045Z");
    }
}
