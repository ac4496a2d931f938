//! Checking that bytes are UTF-8 text, quickly for the ASCII nearly all stored text is.

/// `bytes` as text: [`std::str::from_utf8`], answered by an ASCII check first.
///
/// Why not only `from_utf8`: decoding events checks ~20 short strings per event (ids,
/// addresses, names of 10–60 bytes), and std's validator costs ~100 instructions on each
/// whatever the bytes (its word-at-a-time ASCII path needs aligned blocks of 16 bytes and
/// has a set-up of its own). `<[u8]>::is_ascii` answers such a string in a few words, and
/// text that is not ASCII goes to `from_utf8` as before. A profile of `skein correlate`
/// had the UTF-8 checks at ~6% of its instructions.
#[inline]
pub fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if bytes.is_ascii() {
        // SAFETY: every ASCII byte sequence is valid UTF-8 (each byte below 0x80 is a
        // one-byte code point), which is all `from_utf8_unchecked` requires.
        Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::utf8;
    use proptest::prelude::*;

    proptest! {
        /// Any bytes: the same answer as `from_utf8` (text, or an error at the same place).
        #[test]
        fn agrees_with_from_utf8(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            prop_assert_eq!(utf8(&bytes), std::str::from_utf8(&bytes));
        }

        /// Text, ASCII or not: read back unchanged.
        #[test]
        fn text_reads_back(text in any::<String>()) {
            prop_assert_eq!(utf8(text.as_bytes()), Ok(text.as_str()));
        }
    }

    #[test]
    fn edges() {
        assert_eq!(utf8(b""), Ok(""));
        assert_eq!(utf8(b"\x7f"), Ok("\x7f"));
        assert!(utf8(b"\x80").is_err());
        assert!(utf8(b"abc\xff").is_err());
        assert_eq!(utf8("Zürich".as_bytes()), Ok("Zürich"));
    }
}
