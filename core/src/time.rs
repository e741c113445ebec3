//! Time as an input: seconds since the Unix epoch, UTC. The core never reads a clock.

use core::fmt;

/// Seconds since 1970-01-01T00:00:00Z. Every check that depends on time takes one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

/// An RFC 3339 timestamp could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeParseError;

impl fmt::Display for TimeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected an RFC 3339 UTC time such as 2025-01-31T12:00:00Z")
    }
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl UnixTime {
    /// Builds a time from calendar fields (UTC). Returns `None` for out-of-range fields.
    pub fn from_utc(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<Self> {
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        Some(UnixTime(
            days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64,
        ))
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` or a bare date `YYYY-MM-DD` (midnight UTC).
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimeParseError> {
        let b = s.trim().as_bytes();
        let num = |r: core::ops::Range<usize>| -> Result<u32, TimeParseError> {
            let part = b.get(r).ok_or(TimeParseError)?;
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                return Err(TimeParseError);
            }
            Ok(part.iter().fold(0u32, |a, c| a * 10 + (c - b'0') as u32))
        };
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(TimeParseError);
        }
        let (y, mo, d) = (num(0..4)? as i64, num(5..7)?, num(8..10)?);
        if b.len() == 10 {
            return Self::from_utc(y, mo, d, 0, 0, 0).ok_or(TimeParseError);
        }
        if !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
            || b.len() < 19
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(TimeParseError);
        }
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut i = 19;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return Err(TimeParseError);
            }
        }
        let offset = match b.get(i) {
            Some(b'Z') | Some(b'z') if i + 1 == b.len() => 0i64,
            Some(&c) if (c == b'+' || c == b'-') && i + 6 == b.len() && b[i + 3] == b':' => {
                let o = (num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60) as i64;
                if c == b'+' {
                    o
                } else {
                    -o
                }
            }
            _ => return Err(TimeParseError),
        };
        let t = Self::from_utc(y, mo, d, h, mi, sec).ok_or(TimeParseError)?;
        Ok(UnixTime(t.0 - offset))
    }
}

impl fmt::Display for UnixTime {
    /// RFC 3339, UTC, second precision.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        )
    }
}

impl serde::Serialize for UnixTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn round_trips() {
        let t = UnixTime::parse_rfc3339("2025-06-11T00:30:58Z").unwrap();
        assert_eq!(t.0, 1_749_601_858);
        assert_eq!(t.to_string(), "2025-06-11T00:30:58Z");
        assert_eq!(UnixTime::parse_rfc3339("1970-01-01").unwrap().0, 0);
        assert_eq!(
            UnixTime::parse_rfc3339("2025-06-11T02:30:58.123+02:00").unwrap(),
            t
        );
        assert_eq!(
            UnixTime(253_402_300_799).to_string(),
            "9999-12-31T23:59:59Z"
        );
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "2025",
            "2025-13-01",
            "2025-01-01T25:00:00Z",
            "2025-01-01T00:00:00",
            "x025-01-01",
        ] {
            assert!(UnixTime::parse_rfc3339(s).is_err(), "{s}");
        }
    }
}
