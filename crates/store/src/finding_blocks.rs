//! The stored form of findings: blocks of findings, one `finding_blocks` value each.
//!
//! ```text
//! format (1) = 1 | head length (u32 LE) | head | body
//! head: postcard(Vec<(id, rule, xxh3-128 of the JSON, JSON length)>), one per finding
//! body: format (1) = 1 | count (u32 LE) | length (u32 LE) | zstd of the findings' JSON,
//!       concatenated in the head's order (the chunks' frame, see the `chunk` module)
//! ```
//!
//! Why blocks and not one value per finding: sled 0.34 costs about 4 µs per insert whatever
//! the value's size (measured: 116k inserts of 20-byte values into two trees took 1–1.9 s),
//! and a first `correlate` stores over a hundred thousand findings. One value per finding
//! (and one index entry per finding and rule) made storing them take ~4 s of a ~11.5 s run.
//! The head is not compressed, so that the writer's index of ids (see the `findings`
//! module) is built from the heads alone, and a reader of one rule skips the blocks that
//! hold none of its findings without decompressing them. Findings of one JSON shape compress
//! well together (a single finding compressed alone shrank only ~1.8×).
//!
//! Encoding and decoding only: no IO here.

use serde::{Deserialize, Serialize};

use crate::chunk::{frame, from_postcard, unframe, with_decompressed, Codec};

/// The format byte of a block value and of its body's frame.
const FORMAT_BLOCK: u8 = 1;
/// Findings per block at most.
pub(crate) const MAX_BLOCK_ENTRIES: usize = 64;
/// JSON bytes per block at most (a single larger finding makes a block of its own): with
/// zstd, blocks stay well under the 128 KiB above which sled writes a page as a blob file,
/// which its cache cannot weigh (see `MAX_CHUNK_EVENTS` in the `write` module).
pub(crate) const MAX_BLOCK_BYTES: usize = 96 << 10;

/// A finding to encode, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryRef<'a> {
    pub id: &'a str,
    pub rule: &'a str,
    /// [`crate::finding_digest`] of `json`.
    pub digest: u128,
    pub json: &'a [u8],
}

/// What the head says of one finding.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct EntryHead {
    pub id: String,
    pub rule: String,
    pub digest: u128,
    pub len: u32,
}

/// The head's encoding of one finding (the same fields as [`EntryHead`], borrowed).
#[derive(Serialize)]
struct EntryHeadOut<'a> {
    id: &'a str,
    rule: &'a str,
    digest: u128,
    len: u32,
}

/// A decoded finding of a block: its head and its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub head: EntryHead,
    pub json: Vec<u8>,
}

impl Entry {
    /// This entry, borrowed for [`encode`].
    pub fn as_ref(&self) -> EntryRef<'_> {
        EntryRef {
            id: &self.head.id,
            rule: &self.head.rule,
            digest: self.head.digest,
            json: &self.json,
        }
    }
}

/// Cuts `entries` into blocks of at most [`MAX_BLOCK_ENTRIES`] findings and
/// [`MAX_BLOCK_BYTES`] of JSON (a larger finding alone in its block), in order.
pub(crate) fn blocks<'e, 'a>(entries: &'e [EntryRef<'a>]) -> Vec<&'e [EntryRef<'a>]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, e) in entries.iter().enumerate() {
        let full = i - start == MAX_BLOCK_ENTRIES || bytes + e.json.len() > MAX_BLOCK_BYTES;
        if i > start && full {
            out.push(&entries[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += e.json.len();
    }
    if start < entries.len() {
        out.push(&entries[start..]);
    }
    out
}

/// Encodes `entries` as one block value.
pub(crate) fn encode(entries: &[EntryRef<'_>]) -> Result<Vec<u8>, String> {
    let too_big = || "a block over 1 GiB".to_string();
    let mut heads = Vec::with_capacity(entries.len());
    let mut body = Vec::with_capacity(entries.iter().map(|e| e.json.len()).sum());
    for e in entries {
        heads.push(EntryHeadOut {
            id: e.id,
            rule: e.rule,
            digest: e.digest,
            len: u32::try_from(e.json.len()).map_err(|_| too_big())?,
        });
        body.extend_from_slice(e.json);
    }
    let head = postcard::to_allocvec(&heads).map_err(|e| e.to_string())?;
    let count = u32::try_from(entries.len()).map_err(|_| too_big())?;
    let body = frame(FORMAT_BLOCK, Codec::Zstd, count, &body)?;
    let mut out = Vec::with_capacity(5 + head.len() + body.len());
    out.push(FORMAT_BLOCK);
    out.extend_from_slice(
        &u32::try_from(head.len())
            .map_err(|_| too_big())?
            .to_le_bytes(),
    );
    out.extend_from_slice(&head);
    out.extend_from_slice(&body);
    Ok(out)
}

/// The heads of a block value and its (still compressed) body.
fn split(value: &[u8]) -> Result<(Vec<EntryHead>, &[u8]), String> {
    let head = head_bytes(value)?;
    let heads: Vec<EntryHead> = from_postcard(head, "block head")?;
    // The head is followed by the body (`head_bytes` checked both lie in `value`).
    Ok((heads, &value[5 + head.len()..]))
}

/// The encoded heads of a block value (what the `finding_heads` tree keeps of the block).
pub(crate) fn head_bytes(value: &[u8]) -> Result<&[u8], String> {
    let (&format, rest) = value.split_first().ok_or("empty block")?;
    if format != FORMAT_BLOCK {
        return Err(format!("unknown block format {format}"));
    }
    let len = rest.get(..4).ok_or("block shorter than its header")?;
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    rest.get(4..4usize.saturating_add(len))
        .ok_or_else(|| "block shorter than its head".to_string())
}

/// A head as [`decode_heads`] gives it: its strings borrowed from the encoded heads.
#[derive(Debug, PartialEq, Eq, Deserialize)]
pub(crate) struct EntryHeadRef<'a> {
    pub id: &'a str,
    pub rule: &'a str,
    pub digest: u128,
    /// Decoded because the encoding is positional; the index has no use for it.
    #[allow(dead_code)]
    pub len: u32,
}

/// A block's heads, as [`head_bytes`] gives them (or as the `finding_heads` tree keeps
/// them), borrowed from those bytes (the index of stored findings reads every block's heads
/// and keeps no strings).
///
/// Read by [`heads_in_place`], a reader of exactly this postcard layout, and by postcard
/// itself when that one gives up (on anything but the layout written here, which also
/// gives postcard's error): a sweep loads the index of every stored finding, and serde's
/// visitors were ~600 instructions a head (116k heads).
pub(crate) fn decode_heads(head: &[u8]) -> Result<Vec<EntryHeadRef<'_>>, String> {
    match heads_in_place(head) {
        Some(heads) => Ok(heads),
        None => from_postcard(head, "block head"),
    }
}

/// The postcard of `Vec<EntryHeadRef>` read by hand: a varint count, then per head two
/// strings (varint length, UTF-8 bytes) and two varints (the `u128` digest, the `u32`
/// length). `None` at the first byte it does not expect, including varints longer than it
/// reads (postcard accepts a few more) and anything after the last head.
fn heads_in_place(bytes: &[u8]) -> Option<Vec<EntryHeadRef<'_>>> {
    /// A varint of at most `max_bytes` bytes whose last byte is at most `last_max`.
    fn varint(bytes: &[u8], at: &mut usize, max_bytes: usize, last_max: u8) -> Option<u128> {
        let mut out = 0u128;
        for i in 0..max_bytes {
            let b = *bytes.get(*at)?;
            *at += 1;
            out |= u128::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return (i + 1 < max_bytes || b <= last_max).then_some(out);
            }
        }
        None
    }
    fn text<'a>(bytes: &'a [u8], at: &mut usize) -> Option<&'a str> {
        // Lengths below 2^28 (a head is far shorter).
        let len = varint(bytes, at, 4, 0x7f)? as usize;
        let end = at.checked_add(len)?;
        let text = skein_model::text::utf8(bytes.get(*at..end)?).ok()?;
        *at = end;
        Some(text)
    }
    let mut at = 0;
    let count = varint(bytes, &mut at, 4, 0x7f)? as usize;
    // Not reserved from `count` beyond what the bytes can hold (a head takes 4 bytes at
    // least): a damaged count must not allocate.
    let mut heads = Vec::with_capacity(count.min(bytes.len() / 4));
    for _ in 0..count {
        let id = text(bytes, &mut at)?;
        let rule = text(bytes, &mut at)?;
        // postcard's widest: 19 bytes for a u128 (the last holds 2 bits), 5 for a u32.
        let digest = varint(bytes, &mut at, 19, 0x03)?;
        let len = u32::try_from(varint(bytes, &mut at, 5, 0x0f)?).ok()?;
        heads.push(EntryHeadRef {
            id,
            rule,
            digest,
            len,
        });
    }
    (at == bytes.len()).then_some(heads)
}

/// Every finding of a block value.
pub(crate) fn decode(value: &[u8]) -> Result<Vec<Entry>, String> {
    let (heads, body) = split(value)?;
    let (_, count, len, block) = unframe(body, &[FORMAT_BLOCK])?;
    if count != heads.len() {
        return Err(format!(
            "block body holds {count} findings, its head {}",
            heads.len()
        ));
    }
    let declared: usize = heads.iter().map(|h| h.len as usize).sum();
    if declared != len {
        return Err(format!(
            "block head gives {declared} bytes of findings, its body {len}"
        ));
    }
    with_decompressed(Codec::Zstd, block, len, |bytes| {
        let mut at = 0;
        Ok(heads
            .into_iter()
            .map(|head| {
                let json = bytes[at..at + head.len as usize].to_vec();
                at += head.len as usize;
                Entry { head, json }
            })
            .collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The heads of a block value, owned.
    fn owned_heads(value: &[u8]) -> Result<Vec<EntryHead>, String> {
        let heads = decode_heads(head_bytes(value)?)?;
        Ok(heads
            .into_iter()
            .map(|h| EntryHead {
                id: h.id.to_string(),
                rule: h.rule.to_string(),
                digest: h.digest,
                len: h.len,
            })
            .collect())
    }

    fn owned(id: &str, rule: &str, json: &str) -> Entry {
        Entry {
            head: EntryHead {
                id: id.into(),
                rule: rule.into(),
                digest: crate::finding_digest(json.as_bytes()),
                len: json.len() as u32,
            },
            json: json.as_bytes().to_vec(),
        }
    }

    #[test]
    fn blocks_are_cut_by_count_and_by_bytes() {
        let small = vec![b'x'; 10];
        let refs: Vec<EntryRef> = (0..MAX_BLOCK_ENTRIES * 2 + 1)
            .map(|_| EntryRef {
                id: "a",
                rule: "r",
                digest: 0,
                json: &small,
            })
            .collect();
        let sizes: Vec<usize> = blocks(&refs).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [MAX_BLOCK_ENTRIES, MAX_BLOCK_ENTRIES, 1]);

        let big = vec![b'x'; MAX_BLOCK_BYTES];
        let half = vec![b'x'; MAX_BLOCK_BYTES / 2];
        let mixed: Vec<EntryRef> = [&half[..], &half[..], &big[..], &small[..]]
            .into_iter()
            .map(|json| EntryRef {
                id: "a",
                rule: "r",
                digest: 0,
                json,
            })
            .collect();
        let sizes: Vec<usize> = blocks(&mixed).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 1, 1]);
        assert!(blocks(&[]).is_empty());
    }

    #[test]
    fn damage_is_reported_not_decoded() {
        let e = owned("F-1", "spray", r#"{"id":"F-1"}"#);
        let value = encode(&[e.as_ref()]).unwrap();
        assert_eq!(decode(&value).unwrap(), vec![e.clone()]);
        assert_eq!(owned_heads(&value).unwrap(), vec![e.head.clone()]);
        // Wrong format, cut anywhere, a head that lies about the length.
        let mut other = value.clone();
        other[0] = 9;
        assert!(decode(&other).unwrap_err().contains("format 9"));
        for cut in 0..value.len() {
            assert!(decode(&value[..cut]).is_err(), "cut at {cut}");
        }
        let mut lying = owned("F-1", "spray", r#"{"id":"F-1"}"#);
        lying.head.len += 1;
        let mut bad = encode(&[e.as_ref()]).unwrap();
        let head = postcard::to_allocvec(&vec![EntryHeadOut {
            id: &lying.head.id,
            rule: &lying.head.rule,
            digest: lying.head.digest,
            len: lying.head.len,
        }])
        .unwrap();
        let body_at = 5 + u32::from_le_bytes([bad[1], bad[2], bad[3], bad[4]]) as usize;
        let body = bad.split_off(body_at);
        let mut rebuilt = vec![FORMAT_BLOCK];
        rebuilt.extend_from_slice(&(head.len() as u32).to_le_bytes());
        rebuilt.extend_from_slice(&head);
        rebuilt.extend_from_slice(&body);
        assert!(decode(&rebuilt).unwrap_err().contains("bytes of findings"));
    }

    #[test]
    fn varints_past_their_width_are_left_to_postcard() {
        // One head: id "a", rule "r", then a 19-byte digest whose last byte has a bit past
        // 128, and a 6-byte length: postcard refuses both.
        let mut bytes = vec![1, 1, b'a', 1, b'r'];
        bytes.extend([0xff; 18]);
        bytes.push(0x04);
        bytes.push(0);
        assert!(heads_in_place(&bytes).is_none());
        assert!(from_postcard::<Vec<EntryHeadRef>>(&bytes, "block head").is_err());
        let mut bytes = vec![1, 1, b'a', 1, b'r', 0];
        bytes.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
        assert!(heads_in_place(&bytes).is_none());
        assert!(from_postcard::<Vec<EntryHeadRef>>(&bytes, "block head").is_err());
        // The widest of both, as written.
        let mut bytes = vec![1, 1, b'a', 1, b'r'];
        bytes.extend([0xff; 18]);
        bytes.push(0x03);
        bytes.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
        let ours = heads_in_place(&bytes).expect("read");
        assert_eq!(ours[0].digest, u128::MAX);
        assert_eq!(ours[0].len, u32::MAX);
        assert_eq!(Some(ours), from_postcard(&bytes, "block head").ok());
    }

    proptest! {
        #[test]
        fn arbitrary_values_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
            let _ = owned_heads(&bytes);
            let mut framed = vec![FORMAT_BLOCK];
            framed.extend_from_slice(&bytes);
            let _ = decode(&framed);
        }

        #[test]
        fn blocks_round_trip(
            findings in proptest::collection::vec(
                ("[A-Za-z0-9-]{0,20}", "\\PC{0,12}", "\\PC{0,200}"), 0..40)
        ) {
            let entries: Vec<Entry> =
                findings.iter().map(|(id, rule, json)| owned(id, rule, json)).collect();
            let refs: Vec<EntryRef> = entries.iter().map(Entry::as_ref).collect();
            let value = encode(&refs).unwrap();
            prop_assert_eq!(decode(&value).unwrap(), entries.clone());
            let heads: Vec<EntryHead> = entries.iter().map(|e| e.head.clone()).collect();
            prop_assert_eq!(owned_heads(&value).unwrap(), heads);
        }

        /// The hand-written reader gives what postcard gives, on any heads (digests and
        /// lengths over their whole range), and on their encodings damaged (bytes changed,
        /// cut or added); where it gives up, postcard is asked.
        #[test]
        fn heads_read_as_postcard_reads_them(
            heads in proptest::collection::vec(
                ("\\PC{0,20}", "\\PC{0,12}", any::<u128>(), any::<u32>()), 0..20),
            damage in proptest::option::of((any::<prop::sample::Index>(), any::<u8>(), 0u8..3)),
        ) {
            let out: Vec<EntryHeadOut> = heads
                .iter()
                .map(|(id, rule, digest, len)| EntryHeadOut { id, rule, digest: *digest, len: *len })
                .collect();
            let mut bytes = postcard::to_allocvec(&out).unwrap();
            if let Some((at, byte, how)) = damage {
                let i = at.index(bytes.len());
                match how {
                    0 => bytes[i] = byte,
                    1 => bytes.truncate(i),
                    _ => bytes.insert(i, byte),
                }
            }
            let by_postcard: Option<Vec<EntryHeadRef>> = from_postcard(&bytes, "block head").ok();
            if let Some(ours) = heads_in_place(&bytes) {
                prop_assert_eq!(Some(ours), by_postcard);
            }
            if damage.is_none() {
                prop_assert!(heads_in_place(&bytes).is_some(), "the layout written is read");
            }
        }
    }
}
