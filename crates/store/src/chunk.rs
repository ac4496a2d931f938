//! Chunks: the stored form of events, and the hashes that identify them.
//!
//! A chunk holds events of one source and one bucket, sorted by time, in two values under the
//! same key: the events without their original record in `chunks`, the original records in
//! `chunk_raws`. Both values are
//!
//! ```text
//! format (1) | count (u32 LE) | length (u32 LE) | block compressed from `length` bytes
//!
//! chunks, format 2:     LZ4 of postcard(Vec<Event>), every `raw` empty (the "head")
//! chunk_raws, format 2: zstd of postcard(Vec<String>), the `raw` of every event, in the
//!                       head's order
//! chunk_raws, format 1: the same in LZ4 (written by earlier builds, still read)
//! ```
//!
//! The original record (`raw`) is most of an event's bytes (about 80% of them uncompressed,
//! two thirds compressed, on a realistic corpus), and most readers — correlation above all —
//! never look at it. Split out, it is neither read from sled, decompressed nor decoded by
//! [`ReadMode::WithoutRaw`]. In the same value as the head it would still be read: sled
//! reads (and keeps in its cache) whole values, which made a scan read, and hold, three times
//! the bytes it needed. [`ReadMode::Full`] looks up the raws of each chunk it reads by key and
//! puts each `raw` back.
//!
//! Format 1 of a `chunks` value (written by the first builds of schema 3) is still decoded: the
//! same header over `postcard(Vec<Event>)` with the raws inline, and no `chunk_raws` value.
//! No schema-4 database holds one (schema 3 databases are refused), so only a damaged or
//! hand-made value would use that path.
//!
//! Heads are compressed with LZ4 through `lz4_flex` (pure Rust, maintained): every correlate
//! decompresses every head it reads, and LZ4 decompresses at GB/s. `checked-decode` keeps
//! decoding of a damaged value from reading out of bounds.
//!
//! The original records are compressed with zstd at level 1 through the `zstd` crate (the
//! maintained bindings to the reference library, built from its bundled C source; there is no
//! pure-Rust zstd compressor of the same ratio). They are written once and read only by
//! exports and investigations, so zstd's slower decompression costs little, and on chunks of a
//! few dozen records it is about 1.5× smaller than LZ4. That is what keeps chunks small
//! enough for sled's cache to weigh (see `MAX_CHUNK_EVENTS` in `write.rs`) without the disk
//! growing: small LZ4 blocks compressed too little.
//!
//! The `chunk_ids` value of a chunk is the concatenation of its events' [`event_hash`]es in
//! the chunk's order, 16 bytes each.

use std::cell::RefCell;
use std::sync::OnceLock;

use chrono::DateTime;
use skein_model::{Event, EventsInPlace, Source, WireShape};

use crate::error::{Result, StoreError};

/// How much of each event a read decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReadMode {
    /// Everything, including the original record (`raw`).
    #[default]
    Full,
    /// Everything but the original record: events come back with `raw` empty, and the raws
    /// of each chunk are not even read. For correlation and anything else that reads the
    /// canonical fields only.
    WithoutRaw,
}

/// The format of a `chunks` value written by this build: the head, raws elsewhere.
const FORMAT_HEAD: u8 = 2;
/// The format of a `chunks` value with the raws inline (still read).
const FORMAT_INLINE: u8 = 1;
/// The format of a `chunk_raws` value in LZ4 (written by earlier builds, still read).
const FORMAT_RAWS_LZ4: u8 = 1;
/// The format of a `chunk_raws` value written by this build: zstd.
const FORMAT_RAWS: u8 = 2;
/// The zstd level of the original records: the fastest standard level. Ingest is the
/// writer's serial stage, and higher levels gained little on these records.
const ZSTD_LEVEL: i32 = 1;
/// Length of the header before the compressed block.
const HEADER: usize = 9;
/// Refuse to decompress a block claiming more than this many bytes (a damaged header).
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

/// Whether `raw` is the last field postcard writes for an [`Event`], so that an event's
/// encoding with `raw` emptied is its full encoding with the trailing string replaced by an
/// empty one (one byte, 0). Checked once on a probe event; when it does not hold (a field was
/// added after `raw`), [`encode`] clones each event to empty its `raw` instead.
fn raw_is_last() -> bool {
    static LAST: OnceLock<bool> = OnceLock::new();
    *LAST.get_or_init(|| {
        let mut e = Event::new(
            String::new(),
            Source::Cloudtrail,
            WireShape::EventBridge,
            DateTime::UNIX_EPOCH,
        );
        let Ok(empty) = postcard::to_allocvec(&e) else {
            return false;
        };
        e.raw = "\u{7f}raw probe".into();
        let (Ok(full), Ok(raw)) = (postcard::to_allocvec(&e), postcard::to_allocvec(&e.raw)) else {
            return false;
        };
        match empty.split_last() {
            Some((0, prefix)) => {
                full.len() == prefix.len() + raw.len() && full == [prefix, &raw[..]].concat()
            }
            _ => false,
        }
    })
}

/// The postcard (varint) encoding of a string length.
fn varint(mut n: usize) -> ([u8; 10], usize) {
    let mut buf = [0u8; 10];
    let mut i = 0;
    while n >= 0x80 {
        buf[i] = (n as u8) | 0x80;
        n >>= 7;
        i += 1;
    }
    buf[i] = n as u8;
    (buf, i + 1)
}

/// Appends the postcard encoding of `ev` with its `raw` emptied to `out`.
fn encode_head_event(ev: &Event, out: Vec<u8>) -> postcard::Result<Vec<u8>> {
    if ev.raw.is_empty() {
        return postcard::to_extend(ev, out);
    }
    if raw_is_last() {
        let mut out = postcard::to_extend(ev, out)?;
        let (len, len_len) = varint(ev.raw.len());
        let cut = out.len().checked_sub(len_len + ev.raw.len());
        if let Some(cut) = cut {
            let (prefix, raw) = out[cut..].split_at(len_len);
            if prefix == &len[..len_len] && raw == ev.raw.as_bytes() {
                out.truncate(cut);
                out.push(0);
                return Ok(out);
            }
        }
        // Unreachable while `raw_is_last` holds; failing is safer than a wrong head.
        return Err(postcard::Error::SerializeBufferFull);
    }
    let mut copy = ev.clone();
    copy.raw = String::new();
    postcard::to_extend(&copy, out)
}

/// The two values of an encoded chunk.
#[derive(Debug)]
pub(crate) struct Encoded {
    /// The `chunks` value.
    pub head: Vec<u8>,
    /// The `chunk_raws` value.
    pub raws: Vec<u8>,
}

/// The compression of a value's block.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Codec {
    Lz4,
    Zstd,
}

thread_local! {
    /// zstd contexts, one of each per thread, reused: making one costs more than compressing
    /// a small chunk.
    static ZSTD_COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { RefCell::new(None) };
    static ZSTD_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// Runs `f` with this thread's zstd context of type `C`, made by `new` on first use.
fn with_zstd<C, T>(
    key: &'static std::thread::LocalKey<RefCell<Option<C>>>,
    new: impl FnOnce() -> std::io::Result<C>,
    f: impl FnOnce(&mut C) -> std::io::Result<T>,
) -> Result<T, String> {
    let run = |slot: &mut Option<C>| {
        let context = match slot {
            Some(c) => c,
            None => slot.insert(new()?),
        };
        f(context)
    };
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => run(&mut slot),
        // Not reached (compressing does not nest), but a fresh context is always correct.
        Err(_) => run(&mut None),
    })
    .map_err(|e| format!("zstd: {e}"))
}

/// `format | count | length | compressed block`.
pub(crate) fn frame(format: u8, codec: Codec, count: u32, block: &[u8]) -> Result<Vec<u8>, String> {
    let len = u32::try_from(block.len())
        .ok()
        .filter(|&n| n as usize <= MAX_RAW)
        .ok_or("over 1 GiB")?;
    let bound = match codec {
        Codec::Lz4 => lz4_flex::block::get_maximum_output_size(block.len()),
        Codec::Zstd => zstd::zstd_safe::compress_bound(block.len()),
    };
    let mut out = Vec::with_capacity(HEADER + bound);
    out.push(format);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.resize(HEADER + bound, 0);
    let n = match codec {
        Codec::Lz4 => {
            lz4_flex::block::compress_into(block, &mut out[HEADER..]).map_err(|e| e.to_string())?
        }
        Codec::Zstd => with_zstd(
            &ZSTD_COMPRESSOR,
            || zstd::bulk::Compressor::new(ZSTD_LEVEL),
            |c| c.compress_to_buffer(block, &mut out[HEADER..]),
        )?,
    };
    out.truncate(HEADER + n);
    Ok(out)
}

/// Encodes `events` (one source and bucket, already sorted) as a chunk.
pub(crate) fn encode(events: &[&Event]) -> Result<Encoded> {
    let encode_error = |what: String| {
        // Find the event that does not encode, to name it.
        let bad = events
            .iter()
            .find(|ev| postcard::to_allocvec(ev).is_err())
            .or(events.first());
        StoreError::Encode {
            event_source: bad.map_or(Source::Cloudtrail, |e| e.source),
            id: bad.map_or_else(String::new, |e| e.id.clone()),
            what,
        }
    };
    let too_big = |what: String| StoreError::Encode {
        event_source: events.first().map_or(Source::Cloudtrail, |e| e.source),
        id: events.first().map_or_else(String::new, |e| e.id.clone()),
        what: format!("chunk too large: {what}"),
    };
    let count = u32::try_from(events.len()).map_err(|_| too_big("too many events".into()))?;
    let mut head = postcard::to_allocvec(&events.len()).map_err(|e| encode_error(e.to_string()))?;
    for ev in events {
        head = encode_head_event(ev, head).map_err(|e| encode_error(e.to_string()))?;
    }
    let raws: Vec<&str> = events.iter().map(|e| e.raw.as_str()).collect();
    let raws = postcard::to_allocvec(&raws).map_err(|e| encode_error(e.to_string()))?;
    Ok(Encoded {
        head: frame(FORMAT_HEAD, Codec::Lz4, count, &head).map_err(too_big)?,
        raws: frame(FORMAT_RAWS, Codec::Zstd, count, &raws).map_err(too_big)?,
    })
}

/// Buffers kept for decompressing, one per thread, up to this size (a chunk is well under
/// it): allocating a fresh zeroed buffer per chunk costs page faults, which
/// were a third of the time of a first scan.
const KEEP_BUFFER: usize = 4 << 20;

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Decompresses a block that must expand to exactly `len` bytes and decodes it with `f`, in
/// this thread's reused buffer.
pub(crate) fn with_decompressed<T>(
    codec: Codec,
    block: &[u8],
    len: usize,
    f: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Result<T, String> {
    // A damaged length must not make the buffer huge: it is checked against what the block
    // can expand to (each LZ4 byte expands to at most 255 bytes, plus a constant per block;
    // a zstd frame states its size).
    let possible = match codec {
        Codec::Lz4 => block.len().saturating_mul(256).saturating_add(1024) >= len,
        Codec::Zstd => {
            zstd::zstd_safe::get_frame_content_size(block)
                .ok()
                .flatten()
                == Some(len as u64)
        }
    };
    if len > MAX_RAW || !possible {
        return Err(format!(
            "block of {} bytes claims to expand to {len}",
            block.len()
        ));
    }
    let run = |buf: &mut Vec<u8>| {
        // Grown (zeroed) only when too short: the decompressor writes every byte it reports,
        // and anything but exactly `len` of them is an error.
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let out = &mut buf[..len];
        let n = match codec {
            Codec::Lz4 => lz4_flex::block::decompress_into(block, out).map_err(|e| e.to_string()),
            Codec::Zstd => with_zstd(&ZSTD_DECOMPRESSOR, zstd::bulk::Decompressor::new, |d| {
                d.decompress_to_buffer(block, &mut *out)
            }),
        }
        .map_err(|e| format!("undecompressable block: {e}"))?;
        if n != len {
            return Err(format!("block expands to {n} bytes, its header says {len}"));
        }
        f(out)
    };
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            let out = run(&mut buf);
            if buf.capacity() > KEEP_BUFFER {
                *buf = Vec::new();
            }
            out
        }
        // Not reached (decoding does not nest), but a fresh buffer is always correct.
        Err(_) => run(&mut Vec::new()),
    })
}

/// Decodes a postcard value that must use every byte of `bytes`.
pub(crate) fn from_postcard<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
    what: &str,
) -> Result<T, String> {
    match postcard::take_from_bytes(bytes) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(format!("{what} has {} trailing bytes", rest.len())),
        Err(e) => Err(format!("undecodable {what}: {e}")),
    }
}

/// The little-endian `u32` at `at` in `bytes` (which the caller has checked is long enough).
fn word(bytes: &[u8], at: usize) -> usize {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(w) as usize
}

/// Splits `format | count | length | block` after checking the format is one of `formats`.
pub(crate) fn unframe<'a>(
    value: &'a [u8],
    formats: &[u8],
) -> Result<(u8, usize, usize, &'a [u8]), String> {
    let header = value.get(..HEADER).ok_or("value shorter than its header")?;
    if !formats.contains(&header[0]) {
        return Err(format!("unknown format {}", header[0]));
    }
    Ok((
        header[0],
        word(header, 1),
        word(header, 5),
        &value[HEADER..],
    ))
}

/// Decodes the `chunks` value stored under `key`: its events, and whether their raws are in
/// `chunk_raws` (then every `raw` is empty; see [`add_raws`]) rather than inline.
pub(crate) fn decode_head(key: &[u8], value: &[u8]) -> Result<(Vec<Event>, bool)> {
    let mut events = EventsInPlace::default();
    let split = decode_head_into(key, value, &mut events)?;
    Ok((events.into_events(), split))
}

/// [`decode_head`] over the events of `events` (which keep their strings' buffers, see
/// [`EventsInPlace`]): `events` ends holding the chunk's events. A reader that decodes
/// chunk after chunk into one [`EventsInPlace`] allocates almost nothing per event.
pub(crate) fn decode_head_into(
    key: &[u8],
    value: &[u8],
    events: &mut EventsInPlace,
) -> Result<bool> {
    let corrupt = |what: String| StoreError::corrupt("chunks", key, what);
    let (format, count, len, block) = unframe(value, &[FORMAT_HEAD, FORMAT_INLINE])
        .map_err(|e| corrupt(format!("chunk: {e}")))?;
    with_decompressed(Codec::Lz4, block, len, |b| {
        events
            .decode(b)
            .map_err(|e| format!("undecodable chunk: {e}"))
    })
    .map_err(corrupt)?;
    if events.events().len() != count {
        return Err(corrupt(format!(
            "chunk holds {} events, its header says {count}",
            events.events().len()
        )));
    }
    Ok(format == FORMAT_HEAD)
}

/// Puts back the raws of a chunk from its `chunk_raws` value, stored under `key`.
pub(crate) fn add_raws(key: &[u8], events: &mut [Event], value: &[u8]) -> Result<()> {
    let corrupt = |what: String| StoreError::corrupt("chunk_raws", key, what);
    let (format, count, len, block) = unframe(value, &[FORMAT_RAWS, FORMAT_RAWS_LZ4])
        .map_err(|e| corrupt(format!("raw records: {e}")))?;
    let codec = if format == FORMAT_RAWS {
        Codec::Zstd
    } else {
        Codec::Lz4
    };
    let raws: Vec<String> =
        with_decompressed(codec, block, len, |b| from_postcard(b, "raw records"))
            .map_err(corrupt)?;
    if raws.len() != count || count != events.len() {
        return Err(corrupt(format!(
            "{} raw records, the header says {count}, the chunk holds {} events",
            raws.len(),
            events.len()
        )));
    }
    for (e, raw) in events.iter_mut().zip(raws) {
        e.raw = raw;
    }
    Ok(())
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

    fn events() -> Vec<Event> {
        (0..3)
            .map(|i| {
                let mut e = Event::new(
                    format!("id{i}"),
                    Source::Cloudtrail,
                    WireShape::EventBridge,
                    DateTime::UNIX_EPOCH,
                );
                e.raw = "{\"x\":1}".repeat(50 * i);
                e.user_agent = Some(format!("agent {i}"));
                e
            })
            .collect()
    }

    fn without_raw(events: &[Event]) -> Vec<Event> {
        let mut out = events.to_vec();
        for e in &mut out {
            e.raw.clear();
        }
        out
    }

    /// Both modes of reading an encoded chunk.
    fn read(c: &Encoded) -> Result<(Vec<Event>, Vec<Event>)> {
        let (lean, split) = decode_head(b"k", &c.head)?;
        assert!(split);
        let mut full = lean.clone();
        add_raws(b"k", &mut full, &c.raws)?;
        Ok((lean, full))
    }

    #[test]
    fn chunks_round_trip_in_both_modes_and_damage_is_reported() {
        let events = events();
        let refs: Vec<&Event> = events.iter().collect();
        let c = encode(&refs).unwrap();
        assert_eq!((c.head[0], c.raws[0]), (FORMAT_HEAD, FORMAT_RAWS));
        assert!(c.raws.len() < events.iter().map(|e| e.raw.len()).sum::<usize>());
        let (lean, full) = read(&c).unwrap();
        assert_eq!(full, events);
        assert_eq!(lean, without_raw(&events));

        let damaged = |tree: &str, head: Vec<u8>, raws: Vec<u8>| {
            let err = read(&Encoded { head, raws }).unwrap_err().to_string();
            assert!(
                err.contains(&format!("tree '{tree}'")) && err.contains("6b"),
                "{err}"
            );
        };
        for (at, byte) in [(0, 9), (1, 7), (5, 1)] {
            let mut bad = c.head.clone();
            bad[at] = byte;
            damaged("chunks", bad, c.raws.clone());
            let mut bad = c.raws.clone();
            bad[at] = byte;
            damaged("chunk_raws", c.head.clone(), bad);
        }
        for cut in [0, 5, 12, c.head.len() - 3] {
            damaged("chunks", c.head[..cut].to_vec(), c.raws.clone());
        }
        damaged(
            "chunk_raws",
            c.head.clone(),
            c.raws[..c.raws.len() - 3].to_vec(),
        );
        // Raws of another chunk.
        let other = encode(&refs[..2]).unwrap();
        damaged("chunk_raws", c.head.clone(), other.raws);
        assert!(hashes(b"k", &[0; 17]).is_err());
        assert_eq!(hashes(b"k", &[0; 32]).unwrap().len(), 2);
    }

    #[test]
    fn empty_chunks_and_raws_round_trip() {
        let (lean, full) = read(&encode(&[]).unwrap()).unwrap();
        assert!(lean.is_empty() && full.is_empty());
        let events = without_raw(&events());
        let refs: Vec<&Event> = events.iter().collect();
        let (lean, full) = read(&encode(&refs).unwrap()).unwrap();
        assert_eq!((&lean, &full), (&events, &events));
    }

    #[test]
    fn the_head_is_encoded_without_copying_events() {
        // If a field is ever added after `raw`, encoding falls back to cloning (slower, still
        // correct); this test says so.
        assert!(raw_is_last());
        for n in [0, 1, 127, 128, 300, 16_384, 70_000] {
            let (buf, len) = varint(n);
            assert_eq!(postcard::to_allocvec(&n).unwrap(), &buf[..len], "{n}");
        }
        let events = events();
        let mut head = Vec::new();
        for e in &events {
            head = encode_head_event(e, head).unwrap();
        }
        let mut want = Vec::new();
        for e in without_raw(&events) {
            want = postcard::to_extend(&e, want).unwrap();
        }
        assert_eq!(head, want);
    }

    #[test]
    fn inline_chunks_of_format_1_are_still_read() {
        let events = events();
        let plain = postcard::to_allocvec(&events).unwrap();
        let v = frame(FORMAT_INLINE, Codec::Lz4, events.len() as u32, &plain).unwrap();
        assert_eq!(decode_head(b"k", &v).unwrap(), (events, false));
        let mut bad = v;
        bad[1] = 9;
        assert!(decode_head(b"k", &bad).is_err());
    }

    #[test]
    fn the_most_compressible_blocks_still_decode() {
        for n in [0, 1, 100, 70_000, 3 << 20] {
            let zeros = vec![0u8; n];
            for codec in [Codec::Lz4, Codec::Zstd] {
                let v = frame(FORMAT_RAWS, codec, 0, &zeros).unwrap();
                let (_, _, len, block) = unframe(&v, &[FORMAT_RAWS]).unwrap();
                let back = with_decompressed(codec, block, len, |b| Ok(b.to_vec()));
                assert_eq!(back.as_deref(), Ok(&zeros[..]), "{codec:?} {n}");
            }
        }
    }

    #[test]
    fn lz4_raws_of_format_1_are_still_read() {
        let events = events();
        let refs: Vec<&Event> = events.iter().collect();
        let c = encode(&refs).unwrap();
        let raws: Vec<&str> = events.iter().map(|e| e.raw.as_str()).collect();
        let plain = postcard::to_allocvec(&raws).unwrap();
        let lz4 = frame(FORMAT_RAWS_LZ4, Codec::Lz4, events.len() as u32, &plain).unwrap();
        let (mut lean, _) = decode_head(b"k", &c.head).unwrap();
        add_raws(b"k", &mut lean, &lz4).unwrap();
        assert_eq!(lean, events);
        // zstd bytes under the LZ4 format byte, and the other way round, are reported.
        for (format, codec) in [(FORMAT_RAWS_LZ4, Codec::Zstd), (FORMAT_RAWS, Codec::Lz4)] {
            let v = frame(format, codec, events.len() as u32, &plain).unwrap();
            let err = add_raws(b"k", &mut without_raw(&events), &v).unwrap_err();
            let err = err.to_string();
            assert!(
                err.contains("tree 'chunk_raws'")
                    && (err.contains("undecompressable") || err.contains("claims to expand")),
                "{err}"
            );
        }
    }

    #[test]
    fn hashes_depend_on_source_and_id() {
        let a = event_hash(Source::Cloudtrail, "x");
        assert_eq!(a, event_hash(Source::Cloudtrail, "x"));
        assert_ne!(a, event_hash(Source::EntraSignin, "x"));
        assert_ne!(a, event_hash(Source::Cloudtrail, "y"));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn event() -> impl Strategy<Value = Event> {
            (
                "[a-z0-9]{0,12}",
                -1_000_000_000_000i64..1_000_000_000_000,
                proptest::option::of(any::<String>()),
                proptest::option::of("[a-z@.]{0,20}"),
                any::<String>(),
                proptest::collection::vec(any::<String>(), 0..3),
            )
                .prop_map(|(id, micros, agent, upn, raw, risk)| {
                    let time =
                        DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::UNIX_EPOCH);
                    let mut e = Event::new(id, Source::EntraSignin, WireShape::GraphSignin, time);
                    e.user_agent = agent;
                    e.actor.upn = upn;
                    e.risk.event_types = risk;
                    e.raw = raw;
                    e
                })
        }

        proptest! {
            #[test]
            fn arbitrary_values_never_panic(
                format in prop_oneof![Just(FORMAT_HEAD), Just(FORMAT_RAWS), Just(FORMAT_RAWS_LZ4), any::<u8>()],
                count in 0u32..40,
                len in prop_oneof![0u32..4096, any::<u32>()],
                block in proptest::collection::vec(any::<u8>(), 0..512),
                zstd_magic in any::<bool>(),
            ) {
                let mut value = vec![format];
                value.extend_from_slice(&count.to_le_bytes());
                value.extend_from_slice(&len.to_le_bytes());
                if zstd_magic {
                    value.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd]);
                }
                value.extend_from_slice(&block);
                let _ = decode_head(b"k", &value);
                let mut events = vec![Event::new(
                    String::new(), Source::Cloudtrail, WireShape::EventBridge, DateTime::UNIX_EPOCH,
                ); count as usize];
                let _ = add_raws(b"k", &mut events, &value);
            }

            #[test]
            fn without_raw_is_full_with_raw_cleared(
                events in proptest::collection::vec(event(), 0..20),
            ) {
                let refs: Vec<&Event> = events.iter().collect();
                let (lean, full) = read(&encode(&refs).unwrap()).unwrap();
                prop_assert_eq!(&full, &events);
                prop_assert_eq!(lean, without_raw(&full));
            }
        }
    }
}
