//! Chunks: the stored form of events, and the hashes that identify them.
//!
//! A chunk holds events of one source and one bucket, sorted by time. Its value in the
//! `chunks` tree is
//!
//! ```text
//! format (1) = 1 | count (u32 LE) | raw length (u32 LE) | lz4 block of postcard(Vec<Event>)
//! ```
//!
//! Compression is LZ4 through `lz4_flex` (pure Rust, maintained): it compresses JSON-heavy
//! events 2–4× at several hundred MB/s per core and decompresses at GB/s, so it costs less
//! time than it saves in sled's log writes; zstd would compress better but is several times
//! slower to write and needs a C library. `checked-decode` keeps decoding of a damaged value
//! from reading out of bounds.
//!
//! The `chunk_ids` value of a chunk is the concatenation of its events' [`event_hash`]es in
//! the chunk's order, 16 bytes each.

use skein_model::{Event, Source};

use crate::error::{Result, StoreError};

/// The format byte of a chunk written by this build.
const FORMAT: u8 = 1;
/// Length of the header before the compressed block.
const HEADER: usize = 9;
/// Refuse to decompress a chunk claiming more than this many bytes (a damaged header).
const MAX_RAW: usize = 1 << 30;
/// Length of an [`event_hash`].
pub(crate) const HASH_LEN: usize = 16;

/// The de-duplication identity of an event: xxh3-128 of `source tag | id`.
pub(crate) fn event_hash(source: Source, id: &str) -> [u8; HASH_LEN] {
    let mut buf = Vec::with_capacity(1 + id.len());
    buf.push(source.tag());
    buf.extend_from_slice(id.as_bytes());
    xxhash_rust::xxh3::xxh3_128(&buf).to_le_bytes()
}

/// Encodes `events` (one source and bucket, already sorted) as a chunk value.
pub(crate) fn encode(events: &[&Event]) -> Result<Vec<u8>> {
    let raw = postcard::to_allocvec(events).map_err(|e| {
        // Find the event that does not encode, to name it.
        let bad = events
            .iter()
            .find(|ev| postcard::to_allocvec(ev).is_err())
            .or(events.first());
        StoreError::Encode {
            event_source: bad.map_or(Source::Cloudtrail, |e| e.source),
            id: bad.map_or_else(String::new, |e| e.id.clone()),
            what: e.to_string(),
        }
    })?;
    let too_big = |what: &str| StoreError::Encode {
        event_source: events.first().map_or(Source::Cloudtrail, |e| e.source),
        id: events.first().map_or_else(String::new, |e| e.id.clone()),
        what: format!("chunk too large: {what}"),
    };
    let count = u32::try_from(events.len()).map_err(|_| too_big("too many events"))?;
    let raw_len = u32::try_from(raw.len())
        .ok()
        .filter(|&n| n as usize <= MAX_RAW)
        .ok_or_else(|| too_big("over 1 GiB"))?;
    let mut out = Vec::with_capacity(HEADER + lz4_flex::block::get_maximum_output_size(raw.len()));
    out.push(FORMAT);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&raw_len.to_le_bytes());
    let start = out.len();
    out.resize(
        start + lz4_flex::block::get_maximum_output_size(raw.len()),
        0,
    );
    let n = lz4_flex::block::compress_into(&raw, &mut out[start..])
        .map_err(|e| too_big(&e.to_string()))?;
    out.truncate(start + n);
    Ok(out)
}

/// Decodes the chunk value stored under `key` in the `chunks` tree.
pub(crate) fn decode(key: &[u8], value: &[u8]) -> Result<Vec<Event>> {
    let corrupt = |what: String| StoreError::corrupt("chunks", key, what);
    let header = value
        .get(..HEADER)
        .ok_or_else(|| corrupt("chunk shorter than its header".into()))?;
    if header[0] != FORMAT {
        return Err(corrupt(format!("unknown chunk format {}", header[0])));
    }
    let word =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let (count, raw_len) = (word(1) as usize, word(5) as usize);
    if raw_len > MAX_RAW {
        return Err(corrupt(format!("chunk claims {raw_len} bytes")));
    }
    let raw = lz4_flex::block::decompress(&value[HEADER..], raw_len)
        .map_err(|e| corrupt(format!("undecompressable chunk: {e}")))?;
    let events: Vec<Event> =
        postcard::from_bytes(&raw).map_err(|e| corrupt(format!("undecodable chunk: {e}")))?;
    if events.len() != count {
        return Err(corrupt(format!(
            "chunk holds {} events, its header says {count}",
            events.len()
        )));
    }
    Ok(events)
}

/// Splits a `chunk_ids` value into its hashes.
pub(crate) fn hashes<'a>(key: &[u8], value: &'a [u8]) -> Result<&'a [[u8; HASH_LEN]]> {
    let (hashes, rest) = value.as_chunks::<HASH_LEN>();
    if !rest.is_empty() {
        return Err(StoreError::corrupt(
            "chunk_ids",
            key,
            "id list is not a multiple of 16 bytes",
        ));
    }
    Ok(hashes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn chunks_round_trip_and_damage_is_reported() {
        let events: Vec<Event> = (0..3)
            .map(|i| {
                let mut e = Event::new(
                    format!("id{i}"),
                    Source::Cloudtrail,
                    skein_model::WireShape::EventBridge,
                    DateTime::UNIX_EPOCH,
                );
                e.raw = "{\"x\":1}".repeat(50);
                e
            })
            .collect();
        let refs: Vec<&Event> = events.iter().collect();
        let v = encode(&refs).unwrap();
        assert!(v.len() < events.iter().map(|e| e.raw.len()).sum::<usize>());
        assert_eq!(decode(b"k", &v).unwrap(), events);
        assert!(decode(b"k", &v[..5]).is_err());
        let mut bad = v.clone();
        bad[0] = 9;
        assert!(decode(b"k", &bad).is_err());
        let mut bad = v.clone();
        bad[1] = 7;
        assert!(decode(b"k", &bad).is_err());
        let mut bad = v;
        let n = bad.len();
        bad.truncate(n - 3);
        assert!(decode(b"k", &bad).is_err());
        assert!(hashes(b"k", &[0; 17]).is_err());
        assert_eq!(hashes(b"k", &[0; 32]).unwrap().len(), 2);
    }

    #[test]
    fn hashes_depend_on_source_and_id() {
        let a = event_hash(Source::Cloudtrail, "x");
        assert_eq!(a, event_hash(Source::Cloudtrail, "x"));
        assert_ne!(a, event_hash(Source::EntraSignin, "x"));
        assert_ne!(a, event_hash(Source::Cloudtrail, "y"));
    }
}
