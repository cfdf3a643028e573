//! Timestamps and dates in the registry's formats.
//!
//! Stored and served timestamps are always `YYYY-MM-DDTHH:MM:SS.sssZ` (3 fraction
//! digits, UTC). Legacy data and client input may carry 0–3 fraction digits; those
//! parse and print back with 3. Nothing here reads the clock: callers pass `now`.

use std::fmt;

use crate::json::{self, Codec, DecodeError, Value};

/// A UTC instant with millisecond precision, as milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A calendar date (`YYYY-MM-DD`), as days since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i64);

const MS_PER_DAY: i64 = 86_400_000;

impl Timestamp {
    pub const fn from_unix_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub fn unix_millis(self) -> i64 {
        self.0
    }

    /// Strict ISO 8601 as stored: exactly 3 fraction digits and `Z`.
    pub fn parse_iso(input: &str) -> Result<Self, String> {
        parse_datetime(input, 3..=3).ok_or_else(|| {
            format!("Expected a timestamp of the form YYYY-MM-DDTHH:MM:SS.sssZ, got '{input}'")
        })
    }

    /// RFC 3339 in UTC with 0–3 fraction digits (legacy data, client input).
    pub fn parse_lenient(input: &str) -> Result<Self, String> {
        parse_datetime(input, 0..=3).ok_or_else(|| {
            format!("Expected a UTC timestamp of the form YYYY-MM-DDTHH:MM:SS[.sss]Z, got '{input}'")
        })
    }

    pub fn date(self) -> Date {
        Date(self.0.div_euclid(MS_PER_DAY))
    }

    pub fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0 + ms)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (secs, ms) = (ms_of_day / 1000, ms_of_day % 1000);
        write!(f, "{}T{:02}:{:02}:{:02}.{:03}Z", self.date(), secs / 3600, secs / 60 % 60, secs % 60, ms)
    }
}

impl Codec for Timestamp {
    fn encode(&self) -> Value {
        Value::String(self.to_string())
    }
    fn decode(value: &Value) -> Result<Self, DecodeError> {
        json::parsed(value, Self::parse_lenient)
    }
}

impl Date {
    pub fn parse(input: &str) -> Result<Self, String> {
        let b = input.as_bytes();
        let bad = || format!("Expected a date of the form YYYY-MM-DD, got '{input}'");
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let (y, m, d) = (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10]));
        match (y, m, d) {
            (Some(y), Some(m @ 1..=12), Some(d @ 1..=31)) => Ok(Date(days_from_civil(y, m, d))),
            _ => Err(bad()),
        }
    }

    pub fn from_days(days: i64) -> Self {
        Date(days)
    }

    pub fn days(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.0);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Codec for Date {
    fn encode(&self) -> Value {
        Value::String(self.to_string())
    }
    fn decode(value: &Value) -> Result<Self, DecodeError> {
        json::parsed(value, Self::parse)
    }
}

fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0, |acc, b| acc * 10 + i64::from(b - b'0')))
}

fn parse_datetime(input: &str, fraction_digits: std::ops::RangeInclusive<usize>) -> Option<Timestamp> {
    let b = input.as_bytes();
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let date = Date::parse(input.get(0..10)?).ok()?;
    let (h, mi, s) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let rest = &b[19..b.len() - 1];
    let ms = match rest {
        [] if fraction_digits.contains(&0) => 0,
        [b'.', frac @ ..] if fraction_digits.contains(&frac.len()) && !frac.is_empty() => {
            let value = digits(frac)?;
            value * 10i64.pow(3 - frac.len() as u32)
        }
        _ => return None,
    };
    Some(Timestamp(date.0 * MS_PER_DAY + ((h * 60 + mi) * 60 + s) * 1000 + ms))
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips_across_eras() {
        for days in [-800_000, -1, 0, 1, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
    }

    #[test]
    fn impossible_days_wrap_into_the_next_month() {
        assert_eq!(Date::parse("2022-02-29").unwrap().to_string(), "2022-03-01");
    }
}
