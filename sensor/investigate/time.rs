//! Points in time for the investigate tools, and the TIME argument parser: RFC 3339,
//! `YYYY-MM-DD HH:MM:SS[.frac]` (UTC unless an offset is given), Snort's
//! `MM/DD-HH:MM:SS[.frac]` (year from context) and epoch seconds (with a fraction).

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Utc};

use super::{Error, ErrorKind};

/// Seconds and nanoseconds since the Unix epoch, UTC. Orders chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time {
    pub sec: i64,
    /// Always below 1 000 000 000.
    pub nsec: u32,
}

impl Time {
    pub fn new(sec: i64, nsec: u32) -> Time {
        Time {
            sec: sec + i64::from(nsec / 1_000_000_000),
            nsec: nsec % 1_000_000_000,
        }
    }

    pub fn from_micros(us: i64) -> Time {
        Time {
            sec: us.div_euclid(1_000_000),
            nsec: (us.rem_euclid(1_000_000) * 1000) as u32,
        }
    }

    /// Microseconds since the epoch (truncated).
    pub fn as_micros(self) -> i64 {
        self.sec * 1_000_000 + i64::from(self.nsec / 1000)
    }

    /// Seconds as a float (for rates).
    pub fn as_secs_f64(self) -> f64 {
        self.sec as f64 + f64::from(self.nsec) / 1e9
    }

    /// Shifted by whole seconds (negative: earlier).
    pub fn add_secs(self, s: i64) -> Time {
        Time {
            sec: self.sec + s,
            nsec: self.nsec,
        }
    }

    /// `self - earlier` in seconds.
    pub fn secs_since(self, earlier: Time) -> f64 {
        (self.sec - earlier.sec) as f64 + (f64::from(self.nsec) - f64::from(earlier.nsec)) / 1e9
    }

    pub fn to_utc(self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.sec, self.nsec).unwrap_or_default()
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff` (6 digits) or 9 digits when `nanos`, UTC — capinfos' form.
    pub fn format_utc(self, nanos: bool) -> String {
        let t = self.to_utc();
        if nanos {
            t.format("%Y-%m-%d %H:%M:%S%.9f").to_string()
        } else {
            t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
        }
    }

    /// RFC 3339 with a `Z`, 6 or 9 fraction digits.
    pub fn rfc3339(self, nanos: bool) -> String {
        let t = self.to_utc();
        if nanos {
            t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
        } else {
            t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
        }
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339(self.nsec % 1000 != 0))
    }
}

impl From<DateTime<FixedOffset>> for Time {
    fn from(t: DateTime<FixedOffset>) -> Time {
        Time {
            sec: t.timestamp(),
            nsec: t.timestamp_subsec_nanos(),
        }
    }
}

/// Parses a TIME argument. Accepted forms:
///
/// | form | example |
/// |---|---|
/// | RFC 3339 (also `+0000` offsets, as in EVE) | `2007-02-21T10:17:54.366236+00:00` |
/// | date and time, UTC unless an offset follows | `2007-02-21 10:17:54.366236` |
/// | Snort's `MM/DD-HH:MM:SS[.frac]`, year `default_year` (else this year, UTC) | `02/21-10:17:54.366236` |
/// | epoch seconds with optional fraction | `1172053074.366236` |
///
/// # Errors
/// `ErrorKind::Usage` naming the input and the accepted forms.
///
/// # Examples
/// ```
/// use nsm_sensor::investigate::{parse_time, Time};
/// let t = parse_time("02/21-10:17:54.366236", Some(2007)).unwrap();
/// assert_eq!(t, Time::new(1_172_053_074, 366_236_000));
/// ```
pub fn parse_time(s: &str, default_year: Option<i32>) -> Result<Time, Error> {
    let s = s.trim();
    let bad = || {
        Error::new(
            ErrorKind::Usage,
            format!(
                "bad TIME {s:?}: expected RFC 3339, 'YYYY-MM-DD HH:MM:SS[.frac]', Snort's \
                 'MM/DD-HH:MM:SS[.frac]' or epoch seconds"
            ),
        )
    };
    if s.is_empty() {
        return Err(bad());
    }
    // Epoch seconds.
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|&b| b == b'.').count() <= 1
    {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let sec: i64 = int.parse().map_err(|_| bad())?;
        return Ok(Time::new(sec, frac_nanos(frac).ok_or_else(bad)?));
    }
    // Snort: MM/DD-HH:MM:SS[.frac]
    if let Some((md, hms)) = s.split_once('-').filter(|(md, _)| md.contains('/')) {
        let (m, d) = md.split_once('/').ok_or_else(bad)?;
        let year = default_year.unwrap_or_else(|| Utc::now().year());
        let date = NaiveDate::from_ymd_opt(
            year,
            m.parse().map_err(|_| bad())?,
            d.parse().map_err(|_| bad())?,
        )
        .ok_or_else(bad)?;
        let t = chrono::NaiveTime::parse_from_str(hms, "%H:%M:%S%.f").map_err(|_| bad())?;
        let dt = NaiveDateTime::new(date, t).and_utc();
        return Ok(Time {
            sec: dt.timestamp(),
            nsec: dt.timestamp_subsec_nanos(),
        });
    }
    let norm = s.replacen(' ', "T", 1);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(&norm, fmt) {
            return Ok(t.into());
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(&norm) {
        return Ok(t.into());
    }
    let naive = norm.strip_suffix('Z').unwrap_or(&norm);
    let t = NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|_| bad())?
        .and_utc();
    Ok(Time {
        sec: t.timestamp(),
        nsec: t.timestamp_subsec_nanos(),
    })
}

/// Decimal fraction digits → nanoseconds (at most 9 digits).
fn frac_nanos(frac: &str) -> Option<u32> {
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.is_empty() {
        return Some(0);
    }
    let v: u32 = frac.parse().ok()?;
    Some(v * 10u32.pow(9 - frac.len() as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Time = Time {
        sec: 1_172_053_074,
        nsec: 366_236_000,
    };

    #[test]
    fn forms() {
        for (input, want) in [
            ("2007-02-21T10:17:54.366236Z", T),                   // RFC 3339
            ("2007-02-21T10:17:54.366236+00:00", T),              // RFC 3339 offset
            ("2007-02-21T10:17:54.366236+0000", T),               // EVE
            ("2007-02-21T11:17:54.366236+01:00", T),              // other offset
            ("2007-02-21 10:17:54.366236", T),                    // space, UTC
            ("2007-02-21 10:17:54", Time::new(1_172_053_074, 0)), // no fraction
            ("02/21-10:17:54.366236", T),                         // Snort
            ("1172053074.366236", T),                             // epoch
            ("1172053074", Time::new(1_172_053_074, 0)),          // epoch, whole
        ] {
            assert_eq!(parse_time(input, Some(2007)).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "yesterday",
            "13/01-00:00:00",
            "2007-02-30 00:00:00",
            "1.2.3",
            "1.1234567890",
        ] {
            let e = parse_time(bad, Some(2007)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage, "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(T.format_utc(false), "2007-02-21 10:17:54.366236");
        assert_eq!(T.rfc3339(false), "2007-02-21T10:17:54.366236Z");
        assert_eq!(Time::from_micros(T.as_micros()), T);
    }
}
