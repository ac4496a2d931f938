//! How many bytes of record text `ingest` reads ahead of its parsers. The frames queue is
//! bounded by messages, and a message holds at most ~2 MiB of small records, but one record
//! can be far larger: a Log Analytics query-API response is a single JSON document (12 MB
//! each in the bench). Four of them queued, one being read and two being parsed held ~117 MB
//! of text (heaptrack), most of an ingest's peak above its steady state. The reader
//! reserves each message's bytes here before sending it, and the reservation is given back
//! when the message is dropped, once parsed.

use std::sync::{Arc, Condvar, Mutex};

/// The budget shared by the reader and the parsers.
#[derive(Debug)]
pub(crate) struct ReadAhead {
    limit: usize,
    state: Mutex<Budget>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct Budget {
    /// Bytes of messages sent and not yet parsed.
    in_flight: usize,
    /// Nothing will be given back any more (the parsers are gone): never wait.
    closed: bool,
}

/// Bytes of one message, given back on drop.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: Arc<ReadAhead>,
    bytes: usize,
}

impl ReadAhead {
    /// A budget of `limit` bytes. A message larger than the whole budget still goes when
    /// nothing else is in flight.
    pub(crate) fn new(limit: usize) -> Arc<ReadAhead> {
        Arc::new(ReadAhead {
            limit,
            state: Mutex::new(Budget::default()),
            freed: Condvar::new(),
        })
    }

    /// Waits until `bytes` more fit (or nothing is in flight, or the budget is closed), then
    /// takes them.
    pub(crate) fn reserve(self: &Arc<Self>, bytes: usize) -> Reservation {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while !state.closed
            && state.in_flight > 0
            && state.in_flight.saturating_add(bytes) > self.limit
        {
            state = self.freed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.in_flight = state.in_flight.saturating_add(bytes);
        Reservation {
            budget: Arc::clone(self),
            bytes,
        }
    }

    /// Stops every wait, now and later: called when the parsers stop (a message left in the
    /// queue then keeps its reservation until the queue goes, and the reader must not wait
    /// for it).
    pub(crate) fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.closed = true;
        self.freed.notify_all();
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .in_flight
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut state = self.budget.state.lock().unwrap_or_else(|p| p.into_inner());
        state.in_flight = state.in_flight.saturating_sub(self.bytes);
        self.budget.freed.notify_all();
    }
}

/// Closes the budget when the last of the threads holding one is gone, however it ends.
#[derive(Debug)]
pub(crate) struct ClosesWhenLast {
    budget: Arc<ReadAhead>,
    alive: Arc<std::sync::atomic::AtomicUsize>,
}

impl ClosesWhenLast {
    /// One guard per parser thread; `n` of them.
    pub(crate) fn for_threads(budget: &Arc<ReadAhead>, n: usize) -> Vec<ClosesWhenLast> {
        let alive = Arc::new(std::sync::atomic::AtomicUsize::new(n));
        (0..n)
            .map(|_| ClosesWhenLast {
                budget: Arc::clone(budget),
                alive: Arc::clone(&alive),
            })
            .collect()
    }
}

impl Drop for ClosesWhenLast {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering;
        if self.alive.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.budget.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_reservation_over_the_budget_waits_until_bytes_are_given_back() {
        let budget = ReadAhead::new(10);
        let first = budget.reserve(8);
        let waiting = {
            let budget = Arc::clone(&budget);
            std::thread::spawn(move || budget.reserve(5))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiting.is_finished(), "8 + 5 bytes do not fit in 10");
        assert_eq!(budget.in_flight(), 8);
        drop(first);
        let second = waiting.join().expect("the reserving thread");
        assert_eq!(budget.in_flight(), 5);
        drop(second);
        assert_eq!(budget.in_flight(), 0);
    }

    #[test]
    fn a_message_larger_than_the_budget_goes_when_nothing_else_is_in_flight() {
        let budget = ReadAhead::new(10);
        let big = budget.reserve(100);
        assert_eq!(budget.in_flight(), 100);
        drop(big);
        let small = budget.reserve(3);
        let more = budget.reserve(7);
        assert_eq!(budget.in_flight(), 10);
        drop((small, more));
    }

    #[test]
    fn the_last_parser_gone_releases_a_waiting_reader() {
        let budget = ReadAhead::new(10);
        // A message left in the queue keeps its reservation.
        let _queued = budget.reserve(10);
        let guards = ClosesWhenLast::for_threads(&budget, 2);
        let waiting = {
            let budget = Arc::clone(&budget);
            std::thread::spawn(move || budget.reserve(5))
        };
        let mut guards = guards.into_iter();
        drop(guards.next());
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiting.is_finished(), "one parser is still there");
        drop(guards.next());
        waiting.join().expect("the reader is released");
    }
}
