//! The single-writer lock on `skein.lock` in the state directory.
//!
//! The lock is an advisory whole-file lock ([`File::try_lock`], `flock(2)` on Unix) held for
//! the life of the [`Store`](crate::Store). Its holder writes its pid, command line and start
//! time into the file as one JSON object, so that a second process can say who is in the way.
//! The file is emptied again when the lock is released; it is never deleted (deleting a lock
//! file that another process is about to lock would let two processes in).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// Name of the lock file inside the state directory.
pub const LOCK_FILE: &str = "skein.lock";

/// Longest command line recorded in the lock file.
const MAX_COMMAND: usize = 1024;

/// The process that holds a state directory's lock, as it described itself in `skein.lock`.
/// Fields are `None` when the file did not say (an older or a crashed-while-starting holder).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// Process id.
    pub pid: Option<u32>,
    /// Command line, program name first.
    pub command: Option<String>,
    /// When it took the lock (RFC 3339, UTC).
    pub since: Option<String>,
}

impl LockHolder {
    /// Describes the current process.
    fn current() -> LockHolder {
        let mut args = std::env::args_os();
        let program = args
            .next()
            .map(|p| {
                let p = PathBuf::from(p);
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| p.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "?".to_string());
        let mut command = program;
        for a in args {
            let a = a.to_string_lossy();
            command.push(' ');
            if a.is_empty() || a.contains(char::is_whitespace) {
                command.push('\'');
                command.push_str(&a.replace('\'', "'\\''"));
                command.push('\'');
            } else {
                command.push_str(&a);
            }
        }
        LockHolder {
            pid: Some(std::process::id()),
            command: Some(truncate(command, MAX_COMMAND)),
            since: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        }
    }

    /// Parses what a holder wrote; anything unreadable gives an unknown holder.
    fn parse(text: &str) -> LockHolder {
        serde_json::from_str(text.trim()).unwrap_or_default()
    }
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "pid {pid}")?,
            None => write!(
                f,
                "another process (it has not recorded its pid in {LOCK_FILE})"
            )?,
        }
        if let Some(cmd) = &self.command {
            write!(f, " ({cmd})")?;
        }
        if let Some(since) = &self.since {
            write!(f, " since {since}")?;
        }
        Ok(())
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// A held lock; released (and the file emptied) on drop.
#[derive(Debug)]
pub(crate) struct StateLock {
    file: File,
}

impl StateLock {
    /// Takes the lock on `dir/skein.lock` or says who holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<StateLock> {
        let path = dir.join(LOCK_FILE);
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts
            .open(&path)
            .map_err(StoreError::io("opening lock file", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    dir: dir.to_path_buf(),
                    holder: read_holder(&path),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::io("locking", &path)(e));
            }
        }
        let mut text = serde_json::to_string(&LockHolder::current()).unwrap_or_default();
        text.push('\n');
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(StoreError::io("writing lock file", &path))?;
        Ok(StateLock { file })
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Empty the file before the lock goes (when the file is closed), so that the next
        // holder's description is never confused with ours.
        let _ = self.file.set_len(0);
    }
}

/// Reads the holder's description. A holder writes it just after locking, so an empty file is
/// re-read a few times before giving up.
fn read_holder(path: &Path) -> LockHolder {
    for attempt in 0..5 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut text = String::new();
        let read = File::open(path).and_then(|f| f.take(8192).read_to_string(&mut text));
        if read.is_ok() && !text.trim().is_empty() {
            return LockHolder::parse(&text);
        }
    }
    LockHolder::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_message_names_pid_command_and_time() {
        let h = LockHolder {
            pid: Some(4242),
            command: Some("skein ingest big/".into()),
            since: Some("2026-11-22T02:10:00Z".into()),
        };
        assert_eq!(
            h.to_string(),
            "pid 4242 (skein ingest big/) since 2026-11-22T02:10:00Z"
        );
        let parsed = LockHolder::parse(&serde_json::to_string(&h).unwrap());
        assert_eq!(parsed, h);
        assert_eq!(LockHolder::parse("garbage"), LockHolder::default());
        assert!(LockHolder::default()
            .to_string()
            .contains("another process"));
    }

    #[test]
    fn current_holder_is_this_process() {
        let h = LockHolder::current();
        assert_eq!(h.pid, Some(std::process::id()));
        assert!(h.command.is_some() && h.since.is_some());
    }

    #[test]
    fn truncates_at_char_boundary() {
        let s = truncate("ééé".to_string(), 3);
        assert_eq!(s, "é...");
    }

    #[test]
    fn second_lock_in_the_same_process_names_this_process() {
        let dir = tempfile::tempdir().unwrap();
        let held = StateLock::acquire(dir.path()).unwrap();
        match StateLock::acquire(dir.path()) {
            Err(StoreError::Locked { holder, .. }) => {
                assert_eq!(holder.pid, Some(std::process::id()))
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(held);
        let again = StateLock::acquire(dir.path());
        assert!(again.is_ok());
    }
}
