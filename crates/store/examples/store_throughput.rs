//! Insert throughput of the store on synthetic events of about 1.5 KB of raw text each (about
//! 2 KB stored), spread over seven days in file-like order: twelve time-ordered streams (four
//! per source) read in runs of 256 events in turn, like several export files.
//!
//! ```text
//! cargo run --release -p skein-store --example store_throughput -- [EVENTS] [BATCH] [CACHE_MIB]
//! ```
//!
//! Defaults: 500000 events, batches of 4096, a 64 MiB cache. `STORE_BENCH_MODE=lowspace`
//! selects sled's `LowSpace` mode and `STORE_BENCH_FLUSH_MS=N` (or `none`) its background
//! flush interval. Writes into a temporary
//! directory (or `$STORE_BENCH_DIR`), then reports events/s for inserting (generation time
//! excluded), for re-inserting the same events (all duplicates), for reading everything back
//! (per source and merged, with and without `raw`), for `scan_chunks` on 1 and 2 threads with
//! and without `raw`, entity lookups, the size on disk and the peak resident memory (VmHWM)
//! of the process. `STORE_BENCH_READ_ONLY=1` skips both inserts (to measure reads again on
//! an existing `$STORE_BENCH_DIR`).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use skein_model::{Event, Source, WireShape};
use skein_store::{OpenOptions, ReadMode, Store};

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Seven days, in milliseconds.
const SPAN_MS: u64 = 7 * 24 * 3600 * 1000;
/// Interleaved time-ordered streams (like several export files read in turn).
const STREAMS: u64 = 12;

/// Event `k` of stream `stream` (each stream is one source, time-ordered over seven days).
fn event(stream: u64, k: u64, per_stream: u64, rng: &mut Rng, base: DateTime<Utc>) -> Event {
    let i = k * STREAMS + stream;
    let source = Source::ALL[(stream % 3) as usize];
    let step = SPAN_MS / per_stream.max(1);
    let time = base + chrono::Duration::milliseconds((k * step + rng.below(step.max(1))) as i64);
    let user = rng.below(20_000);
    let ip = IpAddr::V4(Ipv4Addr::from(0xC633_6400u32 + rng.below(5_000) as u32));
    let (id, shape) = match source {
        Source::EntraSignin => (format!("{:032x}-{i}", rng.next()), WireShape::GraphSignin),
        Source::StorageBlob => (
            format!("blob-{:016x}-{i}", rng.next()),
            WireShape::Diagnostic,
        ),
        Source::Cloudtrail => (
            format!("ct-{:016x}-{i}", rng.next()),
            WireShape::CloudtrailRecord,
        ),
    };
    let mut e = Event::new(id, source, shape, time);
    e.src_ip = Some(ip);
    e.user_agent = Some(format!("Mozilla/5.0 (agent {})", rng.below(50)));
    e.outcome.success = rng.below(10) != 0;
    match source {
        Source::EntraSignin => {
            e.actor.user_id = Some(format!("00000000-0000-0000-0000-{user:012}"));
            e.actor.upn = Some(format!("user{user}@contoso.com"));
            e.actor.app_id = Some(format!("app-{}", rng.below(200)));
            e.tenants.home = Some("tenant-a".into());
            e.tenants.resource = Some(format!("tenant-{}", rng.below(3)));
            e.tokens.unique_token_id = Some(format!("utid{:x}", rng.next()));
            e.tokens.session_id = Some(format!("sess-{user}-{}", rng.below(4)));
            e.geo.country = Some("US".into());
            e.geo.latitude = Some(47.6);
            e.geo.longitude = Some(-122.3);
        }
        Source::StorageBlob => {
            e.actor.upn = Some(format!("user{user}@contoso.com"));
            e.actor.auth_type = Some("OAuth".into());
            e.target.storage_account = Some(format!("acct{}", rng.below(30)));
            e.target.object = Some(format!("/container/blob-{}.bin", rng.below(100_000)));
            e.target.action = Some("GetBlob".into());
        }
        Source::Cloudtrail => {
            e.actor.aws_arn = Some(format!(
                "arn:aws:sts::123456789012:assumed-role/role{}/user{user}",
                rng.below(20)
            ));
            e.actor.role_session_name = Some(format!("user{user}"));
            e.actor.access_key_id = Some(format!("ASIA{:016X}", rng.below(50_000)));
            e.target.service = Some("s3.amazonaws.com".into());
            e.target.action = Some("ListBuckets".into());
        }
    }
    // JSON-like text of about 1.5 KB: repeated field names, values from small vocabularies
    // and a few unique ids, roughly as compressible as real exports.
    let mut raw = format!(
        "{{\"id\":\"{}\",\"time\":\"{}\",\"user\":\"user{user}@contoso.com\",\"ip\":\"{ip}\"",
        e.id,
        e.time.to_rfc3339()
    );
    let mut f = 0;
    while raw.len() < 1400 {
        let value = match rng.below(4) {
            0 => format!("{:016x}", rng.next()),
            1 => format!("value-{}", rng.below(100)),
            2 => format!("{}", rng.below(1_000_000)),
            _ => ["true", "false", "null", "\"Success\"", "\"None\""][rng.below(5) as usize].into(),
        };
        raw.push_str(&format!(",\"field{f}Name\":\"{value}\""));
        f += 1;
    }
    raw.push('}');
    e.raw = raw;
    e
}

/// The `n`-th batch of events in file-like order: `STREAMS` time-ordered streams, each read
/// in runs of 256 events, taken in turn.
struct Feed {
    rng: Rng,
    next_k: Vec<u64>,
    per_stream: u64,
    total: u64,
    emitted: u64,
    stream: u64,
}

impl Feed {
    fn new(total: u64) -> Feed {
        Feed {
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            next_k: vec![0; STREAMS as usize],
            per_stream: total.div_ceil(STREAMS),
            total,
            emitted: 0,
            stream: 0,
        }
    }

    fn batch(&mut self, n: u64, base: DateTime<Utc>) -> Vec<Event> {
        let mut out = Vec::with_capacity(n as usize);
        while (out.len() as u64) < n && self.emitted < self.total {
            let s = self.stream as usize;
            let run = 256.min(self.per_stream - self.next_k[s]);
            for _ in 0..run {
                if (out.len() as u64) == n || self.emitted == self.total {
                    break;
                }
                let k = self.next_k[s];
                out.push(event(self.stream, k, self.per_stream, &mut self.rng, base));
                self.next_k[s] += 1;
                self.emitted += 1;
            }
            if self.next_k[s].is_multiple_of(256) || self.next_k[s] == self.per_stream {
                self.stream = (self.stream + 1) % STREAMS;
            }
        }
        out
    }
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let total: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(500_000);
    let batch: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4096);
    let cache_mib: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);
    let tmp;
    let dir = match std::env::var_os("STORE_BENCH_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().join("state")
        }
    };
    let mut opts = OpenOptions::default();
    opts.cache_capacity = cache_mib * 1024 * 1024;
    // Knobs for comparing sled settings.
    if std::env::var("STORE_BENCH_MODE").as_deref() == Ok("lowspace") {
        opts.high_throughput = false;
    }
    if let Ok(ms) = std::env::var("STORE_BENCH_FLUSH_MS") {
        opts.flush_every_ms = ms.parse().ok();
    }
    println!("{opts:?}");
    let store = Store::open(&dir, opts)?;
    let base = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .ok_or("time")?;

    let run = |label: &str| -> Result<(), Box<dyn std::error::Error>> {
        let mut feed = Feed::new(total);
        let mut busy = Duration::ZERO;
        let mut raw_bytes = 0u64;
        let (mut inserted, mut duplicates) = (0u64, 0u64);
        let wall = Instant::now();
        loop {
            let events = feed.batch(batch, base);
            if events.is_empty() {
                break;
            }
            raw_bytes += events.iter().map(|e| e.raw.len() as u64).sum::<u64>();
            let t = Instant::now();
            let out = store.insert_batch(&events)?;
            busy += t.elapsed();
            inserted += out.inserted;
            duplicates += out.duplicates;
        }
        let t = Instant::now();
        store.flush()?;
        busy += t.elapsed();
        println!(
            "{label}: {total} events ({:.0} MiB raw) in batches of {batch}: {inserted} inserted, \
             {duplicates} duplicates; store time {:.2}s = {:.0} events/s (wall incl. generation {:.2}s); \
             peak RSS so far {} MiB",
            raw_bytes as f64 / 1048576.0,
            busy.as_secs_f64(),
            total as f64 / busy.as_secs_f64(),
            wall.elapsed().as_secs_f64(),
            peak_rss_mib().map_or("?".to_string(), |m| m.to_string())
        );
        Ok(())
    };
    if std::env::var_os("STORE_BENCH_READ_ONLY").is_none() {
        run("insert")?;
        run("re-insert")?;
    }

    for mode in [ReadMode::Full, ReadMode::WithoutRaw] {
        let t = Instant::now();
        let mut n = 0u64;
        for e in store.events_in_range_with(None, None, None, mode) {
            e?;
            n += 1;
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "read back ({mode:?}) {n} events in {secs:.2}s = {:.0} events/s",
            n as f64 / secs
        );
        let t = Instant::now();
        let mut m = 0u64;
        for e in store.events_in_range_merged_with(None, None, mode) {
            e?;
            m += 1;
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "merged read back ({mode:?}) {m} events in {secs:.2}s = {:.0} events/s",
            m as f64 / secs
        );
    }
    for round in 0..2 {
        for mode in [ReadMode::WithoutRaw, ReadMode::Full] {
            for threads in [1, 2] {
                let t = Instant::now();
                let s = store.scan_chunks(None, None, mode, threads, |events| {
                    std::hint::black_box(events);
                })?;
                let secs = t.elapsed().as_secs_f64();
                println!(
                    "scan_chunks #{round} ({mode:?}, {threads} threads): {} events, {} chunks, \
                     {:.0} MiB in {secs:.2}s = {:.0} events/s",
                    s.events,
                    s.chunks,
                    s.bytes as f64 / 1048576.0,
                    s.events as f64 / secs
                );
            }
        }
    }

    for spec in [
        "user:user1234@contoso.com",
        "ip:198.51.100.77",
        "awskey:ASIA00000000000004D2",
    ] {
        let entity: skein_model::EntityRef = spec.parse()?;
        let t = Instant::now();
        let found = store.events_for_entity(&entity, None, None).count();
        let lookup = t.elapsed();
        let t = Instant::now();
        let summary = store.entity_summary(&entity)?;
        println!(
            "events_for_entity({spec}): {found} events in {:.1} ms; summary {:?} in {:.2} ms",
            lookup.as_secs_f64() * 1000.0,
            summary.map(|s| s.event_count),
            t.elapsed().as_secs_f64() * 1000.0
        );
    }

    let stats = store.stats()?;
    println!(
        "size on disk: sled estimate {:.0} MiB, files {:.0} MiB; entities {:?}; peak RSS {} MiB",
        stats.size_on_disk as f64 / 1048576.0,
        dir_bytes(&dir) as f64 / 1048576.0,
        stats.entities,
        peak_rss_mib().map_or("?".to_string(), |m| m.to_string())
    );
    Ok(())
}
