//! Reading the times events and findings store (RFC 3339 text, as chrono writes them).
//!
//! chrono's own `Deserialize` parses with its lenient RFC 3339 parser, which goes through its
//! general `Parsed` machinery; its strict parser is several times faster, and every time skein
//! writes is strict RFC 3339. A text the strict parser refuses is given to the lenient one, so
//! what is accepted, and the instant it reads as, are chrono's.

use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};
use serde::de::{self, Deserializer, Visitor};

/// A time as chrono's `Deserialize` reads it, with its strict RFC 3339 parser tried first.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    d.deserialize_str(TimeVisitor)
}

/// [`deserialize`] on a text.
pub fn parse(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    if let Some(t) = written(text.as_bytes()) {
        return Ok(t);
    }
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| text.parse::<DateTime<FixedOffset>>())
        .map(|t| t.with_timezone(&Utc))
}

/// A time in the one form chrono writes a `DateTime<Utc>` in (`2026-11-01T00:01:27Z`, with
/// up to nine digits of fraction), read directly: every stored event and finding has one,
/// and chrono's strict parser still cost ~370 instructions each (~8% of decoding an event).
/// `None` for anything else (other offsets, leap seconds, lower-case letters, years past
/// four digits), which [`parse`] gives to chrono: the property tests below check that both
/// read every text the same.
fn written(text: &[u8]) -> Option<DateTime<Utc>> {
    fn number(digits: &[u8]) -> Option<u32> {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    }
    let (head, rest) = text.split_at_checked(19)?;
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, b'T', h0, h1, b':', i0, i1, b':', s0, s1] =
        *head
    else {
        return None;
    };
    let year = number(&[y0, y1, y2, y3])?;
    let (month, day) = (number(&[m0, m1])?, number(&[d0, d1])?);
    let (hour, minute, second) = (number(&[h0, h1])?, number(&[i0, i1])?, number(&[s0, s1])?);
    let nanos = match rest {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) => {
            number(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    // (A second of 60, chrono's leap second, is refused by `and_hms_nano_opt`: chrono reads
    // it.)
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(
        date.and_hms_nano_opt(hour, minute, second, nanos)?
            .and_utc(),
    )
}

struct TimeVisitor;

impl Visitor<'_> for TimeVisitor {
    type Value = DateTime<Utc>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 date and time")
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<DateTime<Utc>, E> {
        parse(text).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    /// What chrono's own `Deserialize` gives for `text` (through JSON).
    fn chrono_reads(text: &str) -> Option<DateTime<Utc>> {
        serde_json::from_value::<DateTime<Utc>>(serde_json::Value::String(text.into())).ok()
    }

    #[test]
    fn texts_chrono_accepts_leniently_read_the_same() {
        for text in [
            "2026-11-01T00:01:27Z",
            "2026-11-01T00:01:27.1234567Z",
            "2026-11-01t00:01:27z",
            "2026-11-01 00:01:27+01:00",
            "2026-11-01T00:01:27.5-05:30",
            "2016-12-31T23:59:60Z",
            "2026-11-01T00:01:27",
            "not a time",
            "",
        ] {
            assert_eq!(parse(text).ok(), chrono_reads(text), "{text:?}");
        }
    }

    proptest! {
        /// Every time chrono writes reads back as itself, and as chrono's reader reads it.
        #[test]
        fn written_times_read_back(secs in -62_000_000_000i64..250_000_000_000, nanos in 0u32..1_000_000_000) {
            let t = Utc.timestamp_opt(secs, nanos).single().unwrap();
            let text = serde_json::to_value(t).unwrap();
            let text = text.as_str().unwrap();
            prop_assert_eq!(parse(text).ok(), Some(t));
            prop_assert_eq!(parse(text).ok(), chrono_reads(text));
        }

        /// Texts shaped as chrono writes times, with any digits in every place (months past
        /// twelve, the 31st of February, second 60, ten digits of fraction...), read as
        /// chrono's reader reads them (or are refused by both).
        #[test]
        fn written_shapes_read_as_chrono_reads_them(
            parts in (0u32..10_000, 0u32..20, 0u32..40, 0u32..30, 0u32..70, 0u32..70),
            fraction in "(\\.[0-9]{0,11})?",
            end in prop_oneof![Just("Z"), Just("z"), Just("+00:00"), Just("")],
        ) {
            let (y, mo, d, h, mi, s) = parts;
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{fraction}{end}");
            prop_assert_eq!(parse(&text).ok(), chrono_reads(&text));
        }

        /// Any text reads as chrono's reader reads it (or is refused by both).
        #[test]
        fn any_text_reads_as_chrono_reads_it(text in "[0-9T:.+ Zz-]{0,32}") {
            prop_assert_eq!(parse(&text).ok(), chrono_reads(&text));
        }
    }
}
