//! Timestamps as microseconds since the Unix epoch, and the textual forms each source uses.

pub const SEC: i64 = 1_000_000;
pub const MIN: i64 = 60 * SEC;
pub const HOUR: i64 = 60 * MIN;
pub const DAY: i64 = 24 * HOUR;

/// Civil date-time parts of a timestamp (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
}

/// Splits `us` (µs since epoch) into civil UTC parts (Howard Hinnant's `civil_from_days`).
pub fn civil(us: i64) -> Civil {
    let days = us.div_euclid(DAY);
    let rem = us.rem_euclid(DAY);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (rem / HOUR) as u32,
        minute: ((rem % HOUR) / MIN) as u32,
        second: ((rem % MIN) / SEC) as u32,
        micros: (rem % SEC) as u32,
    }
}

/// Day of week, 0 = Monday.
pub fn weekday(us: i64) -> u32 {
    // 1970-01-01 was a Thursday (3).
    ((us.div_euclid(DAY) + 3).rem_euclid(7)) as u32
}

fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

fn push_date_time(out: &mut Vec<u8>, c: &Civil, date_sep: bool) {
    let y = c.year.clamp(0, 9999) as u32;
    push2(out, y / 100);
    push2(out, y % 100);
    if date_sep {
        out.push(b'-');
    }
    push2(out, c.month);
    if date_sep {
        out.push(b'-');
    }
    push2(out, c.day);
    out.push(b'T');
    push2(out, c.hour);
    if date_sep {
        out.push(b':');
    }
    push2(out, c.minute);
}

/// How many fractional-second digits a source writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frac {
    /// `2026-11-01T10:00:00Z`
    None,
    /// `2026-11-01T10:00:00.123Z`
    Millis,
    /// `2026-11-01T10:00:00.123456Z`
    Micros,
    /// `2026-11-01T10:00:00.1234560Z` (Azure's 7 digits; the last is always 0 here)
    Ticks,
}

/// Appends an RFC 3339 UTC timestamp ending in `Z`.
pub fn push_rfc3339(out: &mut Vec<u8>, us: i64, frac: Frac) {
    let c = civil(us);
    push_date_time(out, &c, true);
    out.push(b':');
    push2(out, c.second);
    let digits = match frac {
        Frac::None => 0,
        Frac::Millis => 3,
        Frac::Micros => 6,
        Frac::Ticks => 7,
    };
    if digits > 0 {
        out.push(b'.');
        let mut buf = [b'0'; 7];
        let mut m = c.micros;
        for i in (0..6).rev() {
            buf[i] = b'0' + (m % 10) as u8;
            m /= 10;
        }
        out.extend_from_slice(&buf[..digits]);
    }
    out.push(b'Z');
}

/// RFC 3339 text of `us`.
pub fn rfc3339(us: i64, frac: Frac) -> String {
    let mut v = Vec::with_capacity(28);
    push_rfc3339(&mut v, us, frac);
    String::from_utf8(v).unwrap_or_default()
}

/// `2026-11-01T10:00:00+00:00` (AWS CLI output of `LookupEvents`).
pub fn push_offset_form(out: &mut Vec<u8>, us: i64) {
    let c = civil(us);
    push_date_time(out, &c, true);
    out.push(b':');
    push2(out, c.second);
    out.extend_from_slice(b"+00:00");
}

/// `20261101T1005Z`, the timestamp in CloudTrail log file names.
pub fn compact_minute(us: i64) -> String {
    let c = civil(us);
    let mut v = Vec::with_capacity(14);
    push_date_time(&mut v, &c, false);
    v.push(b'Z');
    String::from_utf8(v).unwrap_or_default()
}

/// `Nov 1, 2026, 11:00:00 AM`, the credential expiration format inside CloudTrail records.
pub fn aws_expiration(us: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(us);
    let (h12, ampm) = match c.hour {
        0 => (12, "AM"),
        1..=11 => (c.hour, "AM"),
        12 => (12, "PM"),
        _ => (c.hour - 12, "PM"),
    };
    format!(
        "{} {}, {}, {}:{:02}:{:02} {}",
        MONTHS[(c.month - 1) as usize],
        c.day,
        c.year,
        h12,
        c.minute,
        c.second,
        ampm
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instant() {
        // 2026-11-01T00:00:00Z
        let t = 1_793_491_200 * SEC + 123_456;
        assert_eq!(rfc3339(t, Frac::None), "2026-11-01T00:00:00Z");
        assert_eq!(rfc3339(t, Frac::Millis), "2026-11-01T00:00:00.123Z");
        assert_eq!(rfc3339(t, Frac::Ticks), "2026-11-01T00:00:00.1234560Z");
        assert_eq!(compact_minute(t + 65 * MIN), "20261101T0105Z");
        assert_eq!(aws_expiration(t + 13 * HOUR), "Nov 1, 2026, 1:00:00 PM");
        assert_eq!(weekday(t), 6); // a Sunday
        let mut v = Vec::new();
        push_offset_form(&mut v, t);
        assert_eq!(v, b"2026-11-01T00:00:00+00:00");
    }

    #[test]
    fn leap_day() {
        let c = civil(951_782_400 * SEC); // 2000-02-29
        assert_eq!((c.year, c.month, c.day), (2000, 2, 29));
    }
}
