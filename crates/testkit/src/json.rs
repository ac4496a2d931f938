//! A minimal streaming JSON writer. Records are rendered straight into a reusable byte buffer with
//! the field order of the real wire shapes, which is far faster than building `serde_json::Value`s
//! and keeps output byte-stable.

use std::net::IpAddr;

use crate::rng::Guid;

/// JSON text under construction. Comma placement is tracked with one flag: it is set after a
/// value is completed and cleared after `{`, `[` or a key.
#[derive(Default)]
pub struct J {
    pub buf: Vec<u8>,
    need_comma: bool,
}

impl J {
    pub fn with_capacity(n: usize) -> Self {
        J {
            buf: Vec::with_capacity(n),
            need_comma: false,
        }
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.need_comma = false;
    }

    #[inline]
    fn sep(&mut self) {
        if self.need_comma {
            self.buf.push(b',');
        }
    }

    pub fn begin_obj(&mut self) {
        self.sep();
        self.buf.push(b'{');
        self.need_comma = false;
    }

    pub fn end_obj(&mut self) {
        self.buf.push(b'}');
        self.need_comma = true;
    }

    pub fn begin_arr(&mut self) {
        self.sep();
        self.buf.push(b'[');
        self.need_comma = false;
    }

    pub fn end_arr(&mut self) {
        self.buf.push(b']');
        self.need_comma = true;
    }

    /// Writes `"k":`; keys are static ASCII and never need escaping.
    #[inline]
    pub fn key(&mut self, k: &str) {
        self.sep();
        self.buf.push(b'"');
        self.buf.extend_from_slice(k.as_bytes());
        self.buf.extend_from_slice(b"\":");
        self.need_comma = false;
    }

    pub fn str(&mut self, s: &str) {
        self.sep();
        escape_into(&mut self.buf, s.as_bytes());
        self.need_comma = true;
    }

    pub fn null(&mut self) {
        self.sep();
        self.buf.extend_from_slice(b"null");
        self.need_comma = true;
    }

    pub fn bool(&mut self, b: bool) {
        self.sep();
        self.buf
            .extend_from_slice(if b { b"true" } else { b"false" });
        self.need_comma = true;
    }

    pub fn u64(&mut self, n: u64) {
        self.sep();
        push_u64(&mut self.buf, n);
        self.need_comma = true;
    }

    /// A number with a fixed count of decimals (coordinates, durations).
    pub fn f64(&mut self, x: f64, decimals: usize) {
        self.sep();
        use std::io::Write;
        let _ = write!(self.buf, "{x:.decimals$}");
        self.need_comma = true;
    }

    pub fn guid(&mut self, g: Guid) {
        self.sep();
        self.buf.push(b'"');
        g.write_to(&mut self.buf);
        self.buf.push(b'"');
        self.need_comma = true;
    }

    pub fn ip(&mut self, ip: &IpAddr) {
        self.sep();
        self.buf.push(b'"');
        push_ip(&mut self.buf, ip);
        self.buf.push(b'"');
        self.need_comma = true;
    }

    /// Already-rendered JSON value.
    pub fn raw(&mut self, json: &[u8]) {
        self.sep();
        self.buf.extend_from_slice(json);
        self.need_comma = true;
    }

    /// A JSON string whose content is the (already rendered) JSON text `json`.
    pub fn str_of_json(&mut self, json: &[u8]) {
        self.sep();
        escape_into(&mut self.buf, json);
        self.need_comma = true;
    }

    pub fn ks(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str(v);
    }

    pub fn kopt(&mut self, k: &str, v: Option<&str>) {
        self.key(k);
        match v {
            Some(v) => self.str(v),
            None => self.null(),
        }
    }

    pub fn ku(&mut self, k: &str, v: u64) {
        self.key(k);
        self.u64(v);
    }

    pub fn kb(&mut self, k: &str, v: bool) {
        self.key(k);
        self.bool(v);
    }

    pub fn kg(&mut self, k: &str, v: Guid) {
        self.key(k);
        self.guid(v);
    }

    pub fn knull(&mut self, k: &str) {
        self.key(k);
        self.null();
    }

    pub fn kraw(&mut self, k: &str, json: &[u8]) {
        self.key(k);
        self.raw(json);
    }

    /// A string array.
    pub fn str_arr(&mut self, items: &[&str]) {
        self.begin_arr();
        for s in items {
            self.str(s);
        }
        self.end_arr();
    }
}

pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

pub fn push_ip(out: &mut Vec<u8>, ip: &IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_u64(out, u64::from(*o));
            }
        }
        IpAddr::V6(v6) => {
            use std::io::Write;
            let _ = write!(out, "{v6}");
        }
    }
}

/// Bytes that need escaping inside a JSON string (0 = copy as is).
const ESC: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Appends `s` as a quoted, escaped JSON string.
pub fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let e = ESC[b as usize];
        if e == 0 {
            continue;
        }
        out.extend_from_slice(&s[start..i]);
        if e == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
        } else {
            out.push(b'\\');
            out.push(e);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

/// The textual form of an address.
pub fn ip_text(ip: &IpAddr) -> String {
    let mut v = Vec::with_capacity(40);
    crate::json::push_ip(&mut v, ip);
    String::from_utf8(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_structure_is_valid_json() {
        let mut j = J::default();
        j.begin_obj();
        j.ks("a", "x\"y\\z\n\u{1}");
        j.key("b");
        j.begin_arr();
        j.u64(1);
        j.u64(2);
        j.begin_obj();
        j.kb("c", true);
        j.end_obj();
        j.end_arr();
        j.knull("d");
        j.key("e");
        j.str_of_json(br#"{"k":"v"}"#);
        j.end_obj();
        let v: serde_json::Value = serde_json::from_slice(&j.buf).unwrap();
        assert_eq!(v["a"], "x\"y\\z\n\u{1}");
        assert_eq!(v["b"][1], 2);
        assert_eq!(v["b"][2]["c"], true);
        assert_eq!(v["e"], r#"{"k":"v"}"#);
    }
}
