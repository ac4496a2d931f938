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
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| text.parse::<DateTime<FixedOffset>>())
        .map(|t| t.with_timezone(&Utc))
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

        /// Any text reads as chrono's reader reads it (or is refused by both).
        #[test]
        fn any_text_reads_as_chrono_reads_it(text in "[0-9T:.+ Zz-]{0,32}") {
            prop_assert_eq!(parse(&text).ok(), chrono_reads(&text));
        }
    }
}
