//! [`Store::scan_chunks`]: every stored event of a time range, decoded on several threads,
//! in no particular order. The fast path for readers that look at every event (correlation)
//! and need no global time order.
//!
//! The range is cut into pieces, one per source and 10-minute bucket (one per source when a
//! bound is open and the store cannot tell its first or last time). Each thread takes the
//! next piece (an atomic counter), walks its `chunks` keys with a sled iterator of its own
//! and decodes them; a thread that finishes early takes more pieces, so the load balances
//! to within a bucket. Reading a chunk from sled (pulling its leaf, copying the values) was
//! ~15% of a full correlate's scanning CPU; with one iterator shared behind a mutex, as
//! before, it ran under the lock and the threads waited for each other (~3% of the CPU in
//! futex calls). With [`ReadMode::Full`], each thread looks up the raws of its chunk
//! itself.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use skein_model::{Event, EventsInPlace, Source};

use crate::chunk::ReadMode;
use crate::error::{Result, StoreError};
use crate::keys;
use crate::read::{decode_chunk_into, in_range, range};
use crate::store::Store;

/// What one [`Store::scan_chunks`] read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanStats {
    /// Chunks decoded (including those whose events all fell outside the range).
    pub chunks: u64,
    /// Events handed to the callback.
    pub events: u64,
    /// Bytes read from the database (compressed, as stored): the `chunks` values, and with
    /// [`ReadMode::Full`] the `chunk_raws` values too.
    pub bytes: u64,
}

impl ScanStats {
    fn add(&mut self, other: &ScanStats) {
        self.chunks += other.chunks;
        self.events += other.events;
        self.bytes += other.bytes;
    }
}

/// Moves the events of `events` in `[from, to)` to its front, in their order, and returns
/// how many there are (the others stay behind them, to be decoded over).
fn in_range_first(
    events: &mut [Event],
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> usize {
    let mut n = 0;
    for i in 0..events.len() {
        if in_range(&events[i].time, from, to) {
            // Not swapped with itself: an event is large, and a swap copies it thrice.
            if n != i {
                events.swap(n, i);
            }
            n += 1;
        }
    }
    n
}

/// Most pieces a source's range is cut into: beyond it (a scan of more than ~28 days
/// between known bounds), one piece per source.
const MAX_PIECES_PER_SOURCE: i64 = 4096;

/// The scanned range's pieces (see the module doc), handed out one at a time.
struct Feed<'a> {
    store: &'a Store,
    /// `[lower, upper)` key bounds of each piece.
    pieces: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    next: AtomicUsize,
}

impl<'a> Feed<'a> {
    /// The pieces of `sources` over `[from, to)`; an open bound is the source's first (or
    /// last) stored time when the store knows it.
    fn new(
        store: &'a Store,
        sources: &[Source],
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Feed<'a>> {
        let stats = if from.is_none() || to.is_none() {
            Some(store.source_stats()?)
        } else {
            None
        };
        let mut pieces = Vec::new();
        for &source in sources {
            let known = stats.as_ref().and_then(|s| s.get(&source));
            let first = from.or_else(|| known.and_then(|s| s.first));
            let last = to.or_else(|| known.and_then(|s| s.last));
            // The whole range's bounds: the first and last piece reach as far as it does
            // (events stored outside the store's recorded span are still read).
            let (lower, upper) =
                keys::bucket_bounds(&keys::source_prefix(source), from.as_ref(), to.as_ref());
            let (Some(first), Some(last)) = (first, last) else {
                pieces.push((lower, upper));
                continue;
            };
            let b0 = keys::bucket_of(keys::micros(&first));
            let b1 = keys::bucket_of(keys::micros(&last));
            // (Times far apart would overflow a plain difference.)
            let n = b1.saturating_sub(b0) / keys::BUCKET_MICROS + 1;
            if !(1..=MAX_PIECES_PER_SOURCE).contains(&n) {
                pieces.push((lower, upper));
                continue;
            }
            let mut piece_lower = lower;
            let mut b = b0;
            while b < b1 {
                let next = b + keys::BUCKET_MICROS;
                let bound = keys::bucket_prefix(source, next).to_vec();
                pieces.push((piece_lower, Some(bound.clone())));
                piece_lower = bound;
                b = next;
            }
            pieces.push((piece_lower, upper));
        }
        Ok(Feed {
            store,
            pieces,
            next: AtomicUsize::new(0),
        })
    }

    /// An iterator over the next piece's chunks, `None` after the last.
    fn next_piece(&self) -> Option<crate::evict::Evicting> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let (lower, upper) = self.pieces.get(i)?;
        Some(range(&self.store.chunks, lower.clone(), upper.clone()))
    }
}

/// What [`Store::scan_chunks_with`] runs on each thread: `init` makes the thread's state,
/// `each_chunk` is called with it and every chunk's events the thread reads.
pub struct PerThread<I, F> {
    pub init: I,
    pub each_chunk: F,
}

/// Sets the flag when dropped during a panic, so that the other threads stop early.
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

impl Store {
    /// Decodes every chunk holding events with `from <= time < to` (either bound optional,
    /// the same bounds as [`Store::events_in_range`]) on `threads` threads (at least one: the
    /// calling thread is one of them) and calls `f` with each chunk's events in the range:
    /// never an empty slice, each stored event in exactly one call. Within a call the events
    /// are of one source and 10-minute bucket and in time order (to the microsecond); the
    /// order of the calls is unspecified, and calls run concurrently. Events of one bucket
    /// may come in several calls (a bucket is written as one or more chunks per insert, of at
    /// most 40 events, 24 or 128 in stores written by earlier builds). With
    /// [`ReadMode::WithoutRaw`] events come with `raw` empty, and the raws
    /// are not even read: about twice as fast on realistic events.
    ///
    /// Memory is one decoded chunk (at most 128 events) per thread plus whatever `f` keeps;
    /// each thread decodes chunk after chunk over the same events, reusing their strings'
    /// buffers, so reading allocates almost nothing per event.
    /// The first error (a sled failure, a chunk that does not decode) stops the scan and is
    /// returned; `f` may have seen part of the range by then. A panic in `f` stops the other
    /// threads and is propagated.
    pub fn scan_chunks<F>(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        mode: ReadMode,
        threads: usize,
        f: F,
    ) -> Result<ScanStats>
    where
        F: Fn(&[Event]) + Sync,
    {
        self.scan_chunks_of(&Source::ALL, from, to, mode, threads, f)
    }

    /// [`Store::scan_chunks`] restricted to the events of `sources` (the chunks of other
    /// sources are not read at all).
    pub fn scan_chunks_of<F>(
        &self,
        sources: &[Source],
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        mode: ReadMode,
        threads: usize,
        f: F,
    ) -> Result<ScanStats>
    where
        F: Fn(&[Event]) + Sync,
    {
        let per_thread = PerThread {
            init: || (),
            each_chunk: |_: &mut (), events: &[Event]| f(events),
        };
        self.scan_chunks_with(sources, from, to, mode, threads, per_thread)
            .map(|(stats, _)| stats)
    }

    /// [`Store::scan_chunks_of`] with a state per thread: each thread makes one with
    /// `per_thread.init` and passes it to `per_thread.each_chunk` with every chunk it reads;
    /// the states come back with the counts (in no particular order). What a caller gathers
    /// per chunk (buffers, counts, results) is then gathered per thread, without a lock or an
    /// allocation per chunk (a chunk holds at most 40 events).
    pub fn scan_chunks_with<S, I, F>(
        &self,
        sources: &[Source],
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        mode: ReadMode,
        threads: usize,
        per_thread: PerThread<I, F>,
    ) -> Result<(ScanStats, Vec<S>)>
    where
        S: Send,
        I: Fn() -> S + Sync,
        F: Fn(&mut S, &[Event]) + Sync,
    {
        let PerThread {
            init,
            each_chunk: f,
        } = per_thread;
        let feed = Feed::new(self, sources, from, to)?;
        let stop = AtomicBool::new(false);
        let first_error: Mutex<Option<StoreError>> = Mutex::new(None);
        let work = || {
            let _guard = StopOnPanic(&stop);
            let mut stats = ScanStats::default();
            let mut state = init();
            let mut decoded = EventsInPlace::default();
            'pieces: while let Some(chunks) = feed.next_piece() {
                for kv in chunks {
                    if stop.load(Ordering::Relaxed) {
                        break 'pieces;
                    }
                    let step = kv
                        .map_err(StoreError::sled("reading chunks"))
                        .and_then(|(k, v)| {
                            stats.chunks += 1;
                            stats.bytes += v.len() as u64;
                            let read = &mut stats.bytes;
                            decode_chunk_into(&self.chunk_raws, &k, &v, mode, read, &mut decoded)
                        });
                    match step {
                        Ok(()) => {
                            let events = decoded.events_mut();
                            let n = in_range_first(events, from, to);
                            if n > 0 {
                                stats.events += n as u64;
                                f(&mut state, &events[..n]);
                            }
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                            slot.get_or_insert(e);
                            break 'pieces;
                        }
                    }
                }
            }
            (stats, state)
        };
        let mut total = ScanStats::default();
        let mut states = Vec::with_capacity(threads.max(1));
        if threads <= 1 {
            let (stats, state) = work();
            total = stats;
            states.push(state);
        } else {
            std::thread::scope(|scope| {
                let work = &work;
                let handles: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
                let (stats, state) = work();
                total = stats;
                states.push(state);
                for h in handles {
                    match h.join() {
                        Ok((stats, state)) => {
                            total.add(&stats);
                            states.push(state);
                        }
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
            });
        }
        match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(e),
            None => Ok((total, states)),
        }
    }
}
