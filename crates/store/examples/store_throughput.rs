//! Insert throughput of the store on synthetic events of about 1 KB of raw text each.
//!
//! ```text
//! cargo run --release -p skein-store --example store_throughput -- [EVENTS] [BATCH] [CACHE_MIB]
//! ```
//!
//! Defaults: 500000 events, batches of 4096, a 256 MiB cache. `STORE_BENCH_MODE=lowspace`
//! selects sled's `LowSpace` mode and `STORE_BENCH_FLUSH_MS=N` (or `none`) its background
//! flush interval. Writes into a temporary
//! directory (or `$STORE_BENCH_DIR`), then reports events/s for inserting (generation time
//! excluded), for re-inserting the same events (all duplicates) and for reading everything
//! back, the size on disk and the peak resident memory of the process.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use skein_model::{Event, Source, WireShape};
use skein_store::{OpenOptions, Store};

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

fn event(i: u64, rng: &mut Rng, base: DateTime<Utc>) -> Event {
    let source = Source::ALL[(i % 3) as usize];
    let time = base + chrono::Duration::milliseconds((i * 20 + rng.below(5000)) as i64);
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
    let mut raw = format!(
        "{{\"id\":\"{}\",\"time\":\"{}\",\"user\":\"user{user}\",\"ip\":\"{ip}\",\"pad\":\"",
        e.id,
        e.time.to_rfc3339()
    );
    while raw.len() < 1000 {
        raw.push_str(&format!("{:x}", rng.next()));
    }
    raw.push_str("\"}");
    e.raw = raw;
    e
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
    let cache_mib: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(256);
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
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut busy = Duration::ZERO;
        let mut raw_bytes = 0u64;
        let (mut inserted, mut duplicates) = (0u64, 0u64);
        let wall = Instant::now();
        let mut i = 0;
        while i < total {
            let n = batch.min(total - i);
            let events: Vec<Event> = (i..i + n).map(|j| event(j, &mut rng, base)).collect();
            raw_bytes += events.iter().map(|e| e.raw.len() as u64).sum::<u64>();
            let t = Instant::now();
            let out = store.insert_batch(&events)?;
            busy += t.elapsed();
            inserted += out.inserted;
            duplicates += out.duplicates;
            i += n;
        }
        let t = Instant::now();
        store.flush()?;
        busy += t.elapsed();
        println!(
            "{label}: {total} events ({:.0} MiB raw) in batches of {batch}: {inserted} inserted, \
             {duplicates} duplicates; store time {:.2}s = {:.0} events/s (wall incl. generation {:.2}s)",
            raw_bytes as f64 / 1048576.0,
            busy.as_secs_f64(),
            total as f64 / busy.as_secs_f64(),
            wall.elapsed().as_secs_f64()
        );
        Ok(())
    };
    run("insert")?;
    run("re-insert")?;

    let t = Instant::now();
    let mut n = 0u64;
    for e in store.events_in_range(None, None, None) {
        e?;
        n += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "read back {n} events in {secs:.2}s = {:.0} events/s",
        n as f64 / secs
    );

    let stats = store.stats()?;
    println!(
        "size on disk {:.0} MiB; entities {:?}; peak RSS {} MiB",
        stats.size_on_disk as f64 / 1048576.0,
        stats.entities,
        peak_rss_mib().map_or("?".to_string(), |m| m.to_string())
    );
    Ok(())
}
