//! The postcard primitives [`super::EventsInPlace`] reads events with: bytes, varints,
//! lengths, strings (into the buffers already there, or spare ones), options, flags,
//! numbers, addresses, times and the two enums, each as postcard writes it through serde.
//! A value that postcard would refuse is an error here too (the property tests in the
//! parent module compare both on damaged encodings).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};

use super::EventsDecodeError;
use crate::{Source, WireShape};

/// Strings set aside when an optional field turns `None`, for the next one that turns
/// `Some` (at most this many; the rest are freed).
const SPARE_MAX: usize = 256;

/// A position in the bytes being decoded.
pub(super) struct Reader<'a, 's> {
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
    pub(super) spare: &'s mut Vec<String>,
}

pub(super) type Read<T = ()> = Result<T, EventsDecodeError>;

impl<'a> Reader<'a, '_> {
    #[inline(always)]
    pub(super) fn byte(&mut self, what: &'static str) -> Read<u8> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or(EventsDecodeError::End(what))?;
        self.at += 1;
        Ok(b)
    }

    #[inline(always)]
    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Read<&'a [u8]> {
        let end = self.at.checked_add(n).ok_or(EventsDecodeError::End(what))?;
        let b = self
            .bytes
            .get(self.at..end)
            .ok_or(EventsDecodeError::End(what))?;
        self.at = end;
        Ok(b)
    }

    /// A varint of at most `bytes` bytes whose last byte is at most `last` (postcard's rule
    /// for a type of that width).
    pub(super) fn varint(&mut self, what: &'static str, bytes: usize, last: u8) -> Read<u64> {
        let mut out = 0u64;
        for i in 0..bytes {
            let b = self.byte(what)?;
            out |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i == bytes - 1 && b > last {
                    return Err(EventsDecodeError::Varint(what));
                }
                return Ok(out);
            }
        }
        Err(EventsDecodeError::Varint(what))
    }

    /// A length (a `usize` varint).
    #[inline(always)]
    pub(super) fn len(&mut self, what: &'static str) -> Read<usize> {
        let n = self.varint(what, 10, 0x01)?;
        usize::try_from(n).map_err(|_| EventsDecodeError::Varint(what))
    }

    /// An enum's variant index (a `u32` varint).
    pub(super) fn variant(&mut self, what: &'static str) -> Read<u32> {
        Ok(self.varint(what, 5, 0x0f)? as u32)
    }

    #[inline(always)]
    pub(super) fn str(&mut self, what: &'static str) -> Read<&'a str> {
        let n = self.len(what)?;
        crate::text::utf8(self.take(n, what)?).map_err(|_| EventsDecodeError::Utf8(what))
    }

    /// An option's tag: whether a value follows.
    #[inline(always)]
    pub(super) fn some(&mut self, what: &'static str) -> Read<bool> {
        match self.byte(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(EventsDecodeError::Tag(what)),
        }
    }

    /// A string, from a spare buffer when there is one.
    pub(super) fn fresh(&mut self, text: &str) -> String {
        let mut s = self.spare.pop().unwrap_or_default();
        s.clear();
        s.push_str(text);
        s
    }

    pub(super) fn text(&mut self, what: &'static str, v: &mut String) -> Read {
        let s = self.str(what)?;
        v.clear();
        v.push_str(s);
        Ok(())
    }

    #[inline(always)]
    pub(super) fn opt_text(&mut self, what: &'static str, v: &mut Option<String>) -> Read {
        if !self.some(what)? {
            if let Some(s) = v.take() {
                if self.spare.len() < SPARE_MAX {
                    self.spare.push(s);
                }
            }
            return Ok(());
        }
        let s = self.str(what)?;
        match v {
            Some(v) => {
                v.clear();
                v.push_str(s);
            }
            None => *v = Some(self.fresh(s)),
        }
        Ok(())
    }

    pub(super) fn texts(&mut self, what: &'static str, v: &mut Vec<String>) -> Read {
        let n = self.len(what)?;
        // Not reserved from `n`: a damaged length must not allocate; each string takes at
        // least a byte, so a wrong one ends at the end of the bytes.
        for i in 0..n {
            let s = self.str(what)?;
            match v.get_mut(i) {
                Some(v) => {
                    v.clear();
                    v.push_str(s);
                }
                None => {
                    let s = self.fresh(s);
                    v.push(s);
                }
            }
        }
        v.truncate(n);
        Ok(())
    }

    pub(super) fn pairs(&mut self, what: &'static str, v: &mut Vec<(String, String)>) -> Read {
        let n = self.len(what)?;
        for i in 0..n {
            let (a, b) = (self.str(what)?, self.str(what)?);
            match v.get_mut(i) {
                Some((x, y)) => {
                    x.clear();
                    x.push_str(a);
                    y.clear();
                    y.push_str(b);
                }
                None => {
                    let pair = (self.fresh(a), self.fresh(b));
                    v.push(pair);
                }
            }
        }
        v.truncate(n);
        Ok(())
    }

    pub(super) fn flag(&mut self, what: &'static str, v: &mut bool) -> Read {
        *v = self.some(what)?;
        Ok(())
    }

    pub(super) fn opt_flag(&mut self, what: &'static str, v: &mut Option<bool>) -> Read {
        *v = match self.some(what)? {
            true => Some(self.some(what)?),
            false => None,
        };
        Ok(())
    }

    pub(super) fn opt_number(&mut self, what: &'static str, v: &mut Option<f64>) -> Read {
        *v = match self.some(what)? {
            true => {
                let mut le = [0u8; 8];
                le.copy_from_slice(self.take(8, what)?);
                Some(f64::from_le_bytes(le))
            }
            false => None,
        };
        Ok(())
    }

    pub(super) fn opt_ip(&mut self, what: &'static str, v: &mut Option<IpAddr>) -> Read {
        if !self.some(what)? {
            *v = None;
            return Ok(());
        }
        *v = Some(match self.variant(what)? {
            0 => {
                let mut o = [0u8; 4];
                o.copy_from_slice(self.take(4, what)?);
                IpAddr::V4(Ipv4Addr::from(o))
            }
            1 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(self.take(16, what)?);
                IpAddr::V6(Ipv6Addr::from(o))
            }
            _ => return Err(EventsDecodeError::Variant(what)),
        });
        Ok(())
    }

    pub(super) fn time(&mut self, what: &'static str, v: &mut DateTime<Utc>) -> Read {
        *v = crate::time::parse(self.str(what)?).map_err(|_| EventsDecodeError::Time(what))?;
        Ok(())
    }

    pub(super) fn source(&mut self, what: &'static str, v: &mut Source) -> Read {
        let i = self.variant(what)? as usize;
        *v = *Source::ALL.get(i).ok_or(EventsDecodeError::Variant(what))?;
        Ok(())
    }

    pub(super) fn shape(&mut self, what: &'static str, v: &mut WireShape) -> Read {
        let i = self.variant(what)? as usize;
        *v = *WireShape::ALL
            .get(i)
            .ok_or(EventsDecodeError::Variant(what))?;
        Ok(())
    }
}
