//! Runs a [`FakeAzure`] on its own thread and runtime, for tests that are not async (the
//! binary's integration tests, which start `skein` as a child process).

use std::sync::mpsc;

use crate::azure::FakeAzure;

/// A fake running on a background thread until dropped.
pub struct Background {
    fake: Option<FakeAzure>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Background {
    /// Starts a [`FakeAzure`] on a background runtime.
    pub fn start() -> Background {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (tx, rx) = mpsc::channel();
        runtime.spawn(async move {
            let _ = tx.send(FakeAzure::start().await);
        });
        let fake = rx.recv().expect("the fake started");
        Background {
            fake: Some(fake),
            runtime: Some(runtime),
        }
    }
}

impl std::ops::Deref for Background {
    type Target = FakeAzure;
    fn deref(&self) -> &FakeAzure {
        self.fake.as_ref().expect("running")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // The server must be dropped inside its runtime.
        if let (Some(fake), Some(rt)) = (self.fake.take(), self.runtime.take()) {
            rt.block_on(async move { drop(fake) });
            rt.shutdown_background();
        }
    }
}
