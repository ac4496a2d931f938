//! The crate's only IO: turns command-line paths into [`InputSpec`]s (files, directories
//! walked recursively in sorted order, `-` for stdin) and opens them as buffered readers that
//! un-gzip transparently when the first two bytes are the gzip magic (`1f 8b`), whatever the
//! file is called. A [`CountingReader`] reports raw (compressed) bytes consumed, for progress.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

/// Size of the buffer between the decoder (or file) and the framer.
pub const READ_BUFFER_BYTES: usize = 1 << 20;

/// Size of the buffer between the file and the gzip decoder.
const RAW_BUFFER_BYTES: usize = 256 << 10;

/// The gzip magic number.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// One input: a file, or stdin when `path` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    /// The file, or `None` for stdin.
    pub path: Option<PathBuf>,
    /// How to name the input in messages and quarantine entries (`-` for stdin).
    pub display: String,
    /// The file's size on disk (compressed size for gzip), for a progress bar.
    pub size: Option<u64>,
}

impl InputSpec {
    /// Standard input.
    pub fn stdin() -> InputSpec {
        InputSpec {
            path: None,
            display: "-".to_string(),
            size: None,
        }
    }

    /// A file, with its size if it can be read from the file system.
    pub fn file(path: &Path) -> InputSpec {
        InputSpec {
            path: Some(path.to_path_buf()),
            display: path.display().to_string(),
            size: std::fs::metadata(path).ok().map(|m| m.len()),
        }
    }
}

/// An input that cannot be listed or opened.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The path does not exist.
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    /// The path exists but cannot be read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    /// A directory could not be walked.
    #[error("{path}: {source}")]
    Walk {
        path: String,
        #[source]
        source: walkdir::Error,
    },
}

/// Expands command-line paths into inputs: `-` is stdin, a file is itself, a directory is
/// every regular file below it (recursively, following symbolic links, sorted by name),
/// skipping hidden entries (names starting with `.`) below the given directory. Files are
/// not filtered by name: the content decides what they are.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<InputSpec>, InputError> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(InputSpec::stdin());
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => InputError::NotFound {
                path: path.display().to_string(),
            },
            _ => InputError::Io {
                path: path.display().to_string(),
                source,
            },
        })?;
        if !meta.is_dir() {
            out.push(InputSpec::file(path));
            continue;
        }
        let walk = walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
        for entry in walk {
            let entry = entry.map_err(|source| InputError::Walk {
                path: path.display().to_string(),
                source,
            })?;
            if entry.file_type().is_file() {
                let size = entry.metadata().ok().map(|m| m.len());
                out.push(InputSpec {
                    path: Some(entry.path().to_path_buf()),
                    display: entry.path().display().to_string(),
                    size,
                });
            }
        }
    }
    Ok(out)
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with('.'))
}

/// Opens an input as a buffered, decompressed reader. Every raw (on-disk, possibly
/// compressed) byte read is added to `consumed`, so that a progress bar can compare it with
/// [`InputSpec::size`]; pass a fresh counter when progress is not wanted.
pub fn open(
    spec: &InputSpec,
    consumed: Arc<AtomicU64>,
) -> Result<Box<dyn BufRead + Send>, InputError> {
    let io_err = |source| InputError::Io {
        path: spec.display.clone(),
        source,
    };
    let raw: Box<dyn Read + Send> = match &spec.path {
        None => Box::new(io::stdin()),
        Some(path) => Box::new(File::open(path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                InputError::NotFound {
                    path: spec.display.clone(),
                }
            } else {
                io_err(source)
            }
        })?),
    };
    decode(CountingReader::new(raw, consumed)).map_err(io_err)
}

/// Wraps any reader: sniffs the first two bytes and un-gzips (all members of a multi-member
/// stream) when they are the gzip magic; otherwise passes the bytes through. Buffered.
pub fn decode<R: Read + Send + 'static>(mut raw: R) -> io::Result<Box<dyn BufRead + Send>> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < magic.len() {
        let buf = magic.get_mut(got..).unwrap_or_default();
        match raw.read(buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let head = magic.get(..got).unwrap_or_default().to_vec();
    let gzip = head == GZIP_MAGIC;
    let stream = Cursor::new(head).chain(raw);
    Ok(if gzip {
        let compressed = BufReader::with_capacity(RAW_BUFFER_BYTES, stream);
        Box::new(BufReader::with_capacity(
            READ_BUFFER_BYTES,
            GzipErrorContext(MultiGzDecoder::new(compressed)),
        ))
    } else {
        Box::new(BufReader::with_capacity(READ_BUFFER_BYTES, stream))
    })
}

/// Says in a read error that it came from the gzip layer, so that a truncated or corrupt
/// `.gz` file is reported as such rather than as a bare "incomplete deflate stream".
struct GzipErrorContext<R>(R);

impl<R: Read> Read for GzipErrorContext<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                e
            } else {
                io::Error::new(e.kind(), format!("gzip stream truncated or corrupt: {e}"))
            }
        })
    }
}

/// A reader that adds the bytes it reads to a shared counter.
#[derive(Debug)]
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    /// Counts into `count` (which may be shared with a progress bar).
    pub fn new(inner: R, count: Arc<AtomicU64>) -> Self {
        CountingReader { inner, count }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn read_all(mut r: Box<dyn BufRead + Send>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn plain_and_gzip_are_detected_by_content() {
        let data = b"{\"a\":1}\n{\"b\":2}\n".to_vec();
        assert_eq!(
            read_all(decode(Cursor::new(data.clone())).unwrap()).unwrap(),
            data
        );
        assert_eq!(
            read_all(decode(Cursor::new(gzip(&data))).unwrap()).unwrap(),
            data
        );
        // Two gzip members concatenated (as `cat a.gz b.gz` makes).
        let mut two = gzip(b"{\"a\":1}\n");
        two.extend(gzip(b"{\"b\":2}\n"));
        assert_eq!(read_all(decode(Cursor::new(two)).unwrap()).unwrap(), data);
    }

    #[test]
    fn tiny_inputs_pass_through() {
        for data in [&b""[..], b"{", b"\x1f"] {
            assert_eq!(
                read_all(decode(Cursor::new(data.to_vec())).unwrap()).unwrap(),
                data
            );
        }
    }

    #[test]
    fn counting_reader_counts_compressed_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trail.json.gz");
        let body = "{\"eventTime\":\"2024-01-01T00:00:00Z\"}\n".repeat(1000);
        let gz = gzip(body.as_bytes());
        std::fs::write(&path, &gz).unwrap();
        let spec = InputSpec::file(&path);
        assert_eq!(spec.size, Some(gz.len() as u64));
        let count = Arc::new(AtomicU64::new(0));
        let out = read_all(open(&spec, count.clone()).unwrap()).unwrap();
        assert_eq!(out, body.as_bytes());
        assert_eq!(count.load(Ordering::Relaxed), gz.len() as u64);
    }

    #[test]
    fn directories_are_walked_sorted_skipping_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/nested")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        for f in [
            "b/nested/z.json",
            "b/a.json.gz",
            "a.md",
            ".hidden",
            ".git/config",
        ] {
            std::fs::write(root.join(f), b"{}").unwrap();
        }
        let specs = expand_paths(&[root.to_path_buf(), PathBuf::from("-")]).unwrap();
        let names: Vec<String> = specs
            .iter()
            .map(|s| match &s.path {
                Some(p) => p.strip_prefix(root).unwrap().display().to_string(),
                None => s.display.clone(),
            })
            .collect();
        assert_eq!(names, ["a.md", "b/a.json.gz", "b/nested/z.json", "-"]);
        assert!(specs.iter().take(3).all(|s| s.size == Some(2)));
        assert_eq!(specs.last().map(|s| s.path.is_none()), Some(true));
    }

    #[test]
    fn missing_paths_are_errors() {
        let err = expand_paths(&[PathBuf::from("/nonexistent/skein/input")]).unwrap_err();
        assert!(matches!(err, InputError::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("/nonexistent/skein/input"));
    }
}
