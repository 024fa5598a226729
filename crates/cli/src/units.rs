//! Values of flags with units: durations (`30s`, `1ms`, `250us`, `2m`) and sizes (`512KiB`, `1MiB`,
//! `4096`), parsed for clap with messages that quote the value.

use std::time::Duration;

/// A duration: a number and one of `us`, `ms`, `s`, `m`, `h`.
pub fn duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split(text);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (a number and us, ms, s, m or h)"))?;
    let secs = match unit {
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "" => return Err(format!("{text:?} needs a unit (us, ms, s, m or h)")),
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?} (us, ms, s, m or h)"
            ))
        }
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("{text:?} must be more than zero"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} is too long"))
}

/// A size in bytes: a whole number, optionally with B, KiB, MiB or GiB.
pub fn size(text: &str) -> Result<u64, String> {
    let (number, unit) = split(text);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (a whole number and B, KiB, MiB or GiB)"))?;
    let scale: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?} (B, KiB, MiB or GiB)"
            ))
        }
    };
    match n.checked_mul(scale) {
        Some(0) => Err(format!("{text:?} must be more than zero")),
        Some(bytes) => Ok(bytes),
        None => Err(format!("{text:?} is too large")),
    }
}

/// A whole number above zero (`--top`).
pub fn positive(text: &str) -> Result<usize, String> {
    text.parse()
        .ok()
        .filter(|&n: &usize| n > 0)
        .ok_or_else(|| format!("needs a positive whole number, not {text:?}"))
}

fn split(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text.split_at(end)
}

/// `1.5 s`, `250 ms`, `2 m`: a duration as people read it.
pub fn show_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 && s % 60.0 == 0.0 {
        format!("{} m", s / 60.0)
    } else if s >= 1.0 {
        format!("{s} s")
    } else {
        format!("{} ms", s * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert!(duration("30").unwrap_err().contains("needs a unit"));
        assert!(duration("0s").unwrap_err().contains("more than zero"));
        assert!(duration("3 s").unwrap_err().contains("unknown unit"));
        assert!(duration("fast").unwrap_err().contains("not a duration"));
        assert_eq!(show_duration(Duration::from_secs(120)), "2 m");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn sizes() {
        assert_eq!(size("512KiB"), Ok(512 << 10));
        assert_eq!(size("4096"), Ok(4096));
        assert_eq!(size("2MiB"), Ok(2 << 20));
        assert!(size("0").unwrap_err().contains("more than zero"));
        assert!(size("1KB").unwrap_err().contains("unknown unit"));
        assert!(size("99999999999GiB").unwrap_err().contains("too large"));
        assert!(size("1.5MiB").is_err());
    }
}
