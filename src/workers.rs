//! Work spread over the machine's cores with scoped threads: each worker takes the next item
//! in turn. Nothing here knows what the work is.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;

/// How many workers for `items` items: one per core, at most one per item.
fn workers_for(items: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items)
}

/// `f` over `items` on one worker per core (at most one per item), each taking the next
/// item in turn: the results in no particular order, or the first error. `who` names the
/// workers if one panics.
pub(crate) fn on_every_core<T: Sync, R: Send>(
    items: &[T],
    who: &str,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let parts: Vec<Result<Vec<R>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..workers_for(items.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return Ok(out);
                        };
                        out.push(f(item)?);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("{who} panicked")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

/// `make` over `items` on one worker per core (items taken in their order), each result
/// handed to `take` on the calling thread as soon as it is made, in no particular order. At
/// most a result per worker waits to be taken, so memory holds a few results, never all
/// of them. Stops at the first error (of `make` or `take`) and returns it; `who` names the
/// workers if one panics.
pub(crate) fn streamed_on_every_core<T: Sync, R: Send>(
    items: &[T],
    who: &str,
    make: impl Fn(&T) -> Result<R> + Sync,
    mut take: impl FnMut(R) -> Result<()>,
) -> Result<()> {
    let workers = workers_for(items.len());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (sender, received) = std::sync::mpsc::sync_channel::<Result<R>>(workers);
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let sender = sender.clone();
                let (next, make) = (&next, &make);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    let made = make(item);
                    let failed = made.is_err();
                    // The receiver is gone when `take` failed: nothing more is wanted.
                    if sender.send(made).is_err() || failed {
                        return;
                    }
                })
            })
            .collect();
        drop(sender);
        let mut outcome = Ok(());
        for made in &received {
            if let Err(e) = made.and_then(&mut take) {
                outcome = Err(e);
                break;
            }
        }
        // Workers still making an item find the receiver gone when they hand it over.
        drop(received);
        for h in handles {
            if h.join().is_err() && outcome.is_ok() {
                outcome = Err(anyhow::anyhow!("{who} panicked"));
            }
        }
        outcome
    })
}

/// Drops `value` on a thread of its own: freeing a large structure (thousands of findings,
/// several allocations each) takes milliseconds its owner need not wait for. A process that
/// ends first frees it anyway; if no thread can be started, it is dropped here.
pub(crate) fn drop_in_background<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("skein-drop".into())
        .spawn(move || drop(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_made_and_taken_once() {
        let items: Vec<u32> = (0..1000).collect();
        let mut taken = Vec::new();
        streamed_on_every_core(
            &items,
            "test",
            |&i| Ok(i * 2),
            |r| {
                taken.push(r);
                Ok(())
            },
        )
        .unwrap();
        taken.sort_unstable();
        assert_eq!(taken, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_error_stops_the_work() {
        let items: Vec<u32> = (0..1000).collect();
        // Items started after the bad one was made (a worker can be held up before the bad
        // item while the others go on, so only work after the error is bounded).
        let (failed, after) = (
            std::sync::atomic::AtomicBool::new(false),
            AtomicUsize::new(0),
        );
        let e = streamed_on_every_core(
            &items,
            "test",
            |&i| {
                if failed.load(Ordering::SeqCst) {
                    after.fetch_add(1, Ordering::SeqCst);
                }
                if i == 10 {
                    // Made first: making an error can take a while (a backtrace).
                    let e = anyhow::anyhow!("item {i} is bad");
                    failed.store(true, Ordering::SeqCst);
                    return Err(e);
                }
                Ok(i)
            },
            |_| Ok(()),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "item 10 is bad");
        // At most the channel's slots and one item per worker.
        let after = after.load(Ordering::SeqCst);
        assert!(after < 10, "{after} items made after the error");

        let mut taken = 0;
        let e = streamed_on_every_core(
            &items,
            "test",
            |&i| Ok(i),
            |_| {
                taken += 1;
                anyhow::ensure!(taken < 3, "taking the third failed");
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "taking the third failed");
        assert_eq!(taken, 3);
    }

    #[test]
    fn a_panicking_worker_is_an_error_naming_it() {
        let items = [1u32, 2, 3];
        let e = streamed_on_every_core(
            &items,
            "a test worker",
            |&i| {
                if i == 2 {
                    panic!("boom")
                }
                Ok(i)
            },
            |_| Ok(()),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "a test worker panicked");
    }

    #[test]
    fn results_come_back_from_the_other_helper_too() {
        let items: Vec<u32> = (0..100).collect();
        let mut out = on_every_core(&items, "test", |&i| Ok(i + 1)).unwrap();
        out.sort_unstable();
        assert_eq!(out, (1..=100).collect::<Vec<_>>());
    }
}
