//! Bounded reads of regular files (secrets, snapshots, plans, desired state).
//!
//! Every path idsync reads may come from outside (a pull request names a secret file, a
//! pipeline passes a snapshot), so a read must neither hang nor exhaust memory: the file is
//! opened without blocking (a FIFO with no writer would block `open` for ever), refused unless
//! it is a regular file once open (`fstat` of the opened file, so no race with a rename), and
//! read up to a limit (`/dev/zero` never ends).

use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// The most idsync reads of each kind of file: bounds against endless input, not budgets
/// (snapshots of a million users export to about 0.5 GB each).
pub const SECRET_FILE_LIMIT: u64 = 64 * KIB;
pub const DESIRED_STATE_FILE_LIMIT: u64 = 256 * MIB;
/// Below 4 GiB, so no one object read from it can hold the 4 GiB of text that the packed
/// attribute offsets (`u32`) cannot address.
pub const SNAPSHOT_FILE_LIMIT: u64 = 4 * GIB - 1;
pub const SAVED_PLAN_FILE_LIMIT: u64 = 8 * GIB;

/// Why a file could not be read. Every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is {kind}, not a regular file", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{} is larger than the {} bytes idsync reads of it", path.display(), limit)]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not UTF-8 text (invalid byte at offset {offset})", path.display())]
    NotText { path: PathBuf, offset: usize },
}

impl ReadError {
    /// The reason alone, as an `io::Error`, for callers whose own errors name the path: the
    /// open or read error as it was, or one of kind `InvalidInput` (not a regular file),
    /// `FileTooLarge` or `InvalidData` (not UTF-8).
    pub fn into_io_error(self) -> io::Error {
        match self {
            ReadError::Open { source, .. } | ReadError::Read { source, .. } => source,
            ReadError::NotRegular { kind, .. } => io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("it is {kind}, not a regular file"),
            ),
            ReadError::TooLarge { limit, .. } => io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("it is larger than the {limit} bytes idsync reads of it"),
            ),
            ReadError::NotText { offset, .. } => io::Error::new(
                io::ErrorKind::InvalidData,
                format!("it is not UTF-8 text (invalid byte at offset {offset})"),
            ),
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Open { path, .. }
            | ReadError::NotRegular { path, .. }
            | ReadError::TooLarge { path, .. }
            | ReadError::Read { path, .. }
            | ReadError::NotText { path, .. } => path,
        }
    }
}

/// `path`, opened to read as [`read_regular_file`] does, for a reader that reads it a piece
/// at a time; it bounds what it reads by `limit` itself (the file may grow meanwhile).
pub fn open_regular_file(path: &Path, limit: u64) -> Result<std::fs::File, ReadError> {
    let (file, _) = open_checked(path, limit)?;
    Ok(file)
}

/// The bytes of `path`, a regular file (symlinks followed) of at most `limit` bytes.
pub fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let (file, len) = open_checked(path, limit)?;
    // The size may change while we read (or be 0, as for /proc files): `take` is the bound.
    let capacity = usize::try_from(len).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Read {
            path: path.to_owned(),
            source,
        })?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

/// `path` opened, checked to be a regular file of at most `limit` bytes, and its size.
fn open_checked(path: &Path, limit: u64) -> Result<(std::fs::File, u64), ReadError> {
    let file = open_nonblocking(path).map_err(|source| ReadError::Open {
        path: path.to_owned(),
        source,
    })?;
    let meta = file.metadata().map_err(|source| ReadError::Read {
        path: path.to_owned(),
        source,
    })?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            path: path.to_owned(),
            kind: kind(&meta.file_type()),
        });
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok((file, meta.len()))
}

/// [`read_regular_file`], as UTF-8 text.
pub fn read_regular_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read_regular_file(path, limit)?).map_err(|e| ReadError::NotText {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer;
    // it changes nothing for regular files, the only ones read after the check.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

fn kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_regular_file_up_to_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.txt");
        std::fs::write(&path, b"hunter2\n").unwrap();
        assert_eq!(read_regular_file(&path, 8).unwrap(), b"hunter2\n");
        assert_eq!(read_regular_text(&path, 100).unwrap(), "hunter2\n");
        let e = read_regular_file(&path, 7).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { limit: 7, .. }), "{e}");
        assert!(e.to_string().contains("secret.txt"), "{e}");
        std::fs::write(&path, b"ok\xff").unwrap();
        let e = read_regular_text(&path, 100).unwrap_err();
        assert!(matches!(e, ReadError::NotText { offset: 2, .. }), "{e}");
        let e = read_regular_file(&dir.path().join("missing"), 1).unwrap_err();
        assert!(matches!(e, ReadError::Open { .. }), "{e}");
        assert!(e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_regular_file(dir.path(), 1).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::NotRegular {
                    kind: "a directory",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.path(), dir.path());
        assert_eq!(
            e.into_io_error().to_string(),
            "it is a directory, not a regular file"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn devices_are_refused_at_once() {
        // Unbounded, /dev/zero grew to gigabytes before failing.
        let e = read_regular_file(Path::new("/dev/zero"), SNAPSHOT_FILE_LIMIT).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::NotRegular {
                    kind: "a character device",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "/dev/zero is a character device, not a regular file"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_without_a_writer_is_refused_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // A blocking open would wait for a writer for ever: run it where a hang shows.
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(read_regular_file(&path, SECRET_FILE_LIMIT));
        });
        let result = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("reading a FIFO returned");
        let e = result.unwrap_err();
        assert!(
            matches!(e, ReadError::NotRegular { kind: "a FIFO", .. }),
            "{e}"
        );
    }
}
