//! Atomic writes beside the real target (plans, reports, snapshots, imports).
//!
//! [`write`] is the one way idsync writes a file:
//! - a regular file (or a path that does not exist yet) is replaced atomically: a temporary
//!   file beside it, fsync, rename over it, fsync of the directory — a crash leaves the old file
//!   or the new one, whole;
//! - a symlink is followed and the real target is replaced, the link stays;
//! - a character device or FIFO (`/dev/stdout`, `/dev/null`, a pipe) is written through, never
//!   replaced by a regular file; a FIFO nobody reads is refused rather than waited on;
//! - a file without write permission in its mode bits is refused (even for root);
//! - temporary files are named `.<name>.idsync-tmp-<pid>-<random>`, and those a killed process
//!   left beside the target are removed on the next write.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What to do when the target already exists as a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it (plans, reports, snapshots).
    Replace,
    /// Refuse: the file is never overwritten (import). Devices and FIFOs are still written.
    Keep,
}

/// Why a file was not written. Never holds the content.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{}: refusing to write: {reason}", path.display())]
    Refused { path: PathBuf, reason: String },
}

/// The points of an atomic write where a test can make it fail, as a crash would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The temporary file holds the new content (not yet synced).
    Written,
    /// The temporary file is synced, not yet renamed.
    Synced,
    /// The rename is done; the directory is not yet synced.
    Renamed,
}

/// Writes `bytes` to `path` (see the module documentation for what each kind of path gets).
pub fn write(path: &Path, bytes: &[u8], existing: Existing) -> Result<(), WriteError> {
    write_with(path, bytes, existing, &mut |_| Ok(()))
}

/// [`write`], with a hook called at each [`Stage`] of an atomic replace (tests fail it there).
pub(crate) fn write_with(
    path: &Path,
    bytes: &[u8],
    existing: Existing,
    fault: &mut dyn FnMut(Stage) -> io::Result<()>,
) -> Result<(), WriteError> {
    let refused = |reason: String| WriteError::Refused {
        path: path.to_owned(),
        reason,
    };
    // `metadata` follows every link, including /dev/stdout -> /proc/self/fd/1 -> pipe:[…].
    match fs::metadata(path) {
        Ok(meta) => {
            let kind = meta.file_type();
            if meta.is_file() {
                if existing == Existing::Keep {
                    return Err(refused("the file exists and is never overwritten".into()));
                }
                if !writable(&meta) {
                    return Err(refused(format!(
                        "the file is read-only{}; make it writable to let idsync replace it",
                        mode_text(&meta)
                    )));
                }
                let target = fs::canonicalize(path).map_err(io_err(path, "resolve the path"))?;
                replace(path, &target, bytes, Some(&meta), existing, fault)
            } else if is_stream(&kind) {
                write_through(path, bytes)
            } else if meta.is_dir() {
                Err(refused("it is a directory".into()))
            } else {
                Err(refused(
                    "it is not a regular file, a character device or a FIFO".into(),
                ))
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let target = follow_dangling(path).map_err(io_err(path, "follow the symlink"))?;
            replace(path, &target, bytes, None, existing, fault)
        }
        Err(e) => Err(io_err(path, "inspect the path")(e)),
    }
}

fn io_err<'a>(path: &'a Path, action: &'static str) -> impl Fn(io::Error) -> WriteError + 'a {
    move |source| WriteError::Io {
        path: path.to_owned(),
        action,
        source,
    }
}

/// Where a path that does not exist would be created: through a dangling symlink to its target.
fn follow_dangling(path: &Path) -> io::Result<PathBuf> {
    let mut at = path.to_owned();
    for _ in 0..40 {
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&at)?;
                at = match at.parent() {
                    Some(dir) => dir.join(link),
                    None => link,
                };
            }
            _ => return Ok(at),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// Temporary files this process is writing now (so a sweep never removes one of them).
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn replace(
    shown: &Path,
    target: &Path,
    bytes: &[u8],
    meta: Option<&fs::Metadata>,
    existing: Existing,
    fault: &mut dyn FnMut(Stage) -> io::Result<()>,
) -> Result<(), WriteError> {
    let err = |action| io_err(shown, action);
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Err(WriteError::Refused {
            path: shown.to_owned(),
            reason: "the path names no file".into(),
        });
    };
    remove_stale(&dir, &name);

    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{}{}-", temp_prefix(&name), std::process::id()))
        .rand_bytes(8)
        .tempfile_in(&dir)
        .map_err(err("create a temporary file beside it"))?;
    let tmp_path = tmp.path().to_owned();
    in_flight(&tmp_path, true);
    let result = (|| {
        tmp.write_all(bytes)
            .map_err(err("write the temporary file"))?;
        fault(Stage::Written).map_err(err("write the temporary file"))?;
        // Keep the original's permissions (the temporary file is created 0600).
        if let Some(meta) = meta {
            fs::set_permissions(tmp.path(), meta.permissions())
                .map_err(err("set permissions on the temporary file"))?;
        }
        tmp.as_file()
            .sync_all()
            .map_err(err("sync the temporary file"))?;
        fault(Stage::Synced).map_err(err("sync the temporary file"))?;
        Ok(())
    })();
    let result = result.and_then(|()| {
        let persisted = match existing {
            Existing::Replace => tmp.persist(target),
            Existing::Keep => tmp.persist_noclobber(target),
        };
        persisted
            .map(drop)
            .map_err(|e| err("rename the temporary file over it")(e.error))
    });
    in_flight(&tmp_path, false);
    result?;
    fault(Stage::Renamed).map_err(err("sync the directory"))?;
    sync_dir(&dir).map_err(err("sync the directory"))?;
    Ok(())
}

fn in_flight(path: &Path, add: bool) {
    let mut list = IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner());
    if add {
        list.push(path.to_owned());
    } else {
        list.retain(|p| p != path);
    }
}

fn temp_prefix(name: &str) -> String {
    format!(".{name}.idsync-tmp-")
}

/// Removes `.<name>.idsync-tmp-<pid>-*` files beside the target whose process is gone (a kill
/// or a crash in the write window). Best effort: a sweep that fails does not fail the write.
fn remove_stale(dir: &Path, name: &str) {
    let prefix = temp_prefix(name);
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some(pid) = rest
            .split_once('-')
            .and_then(|(p, _)| p.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let ours = pid == std::process::id();
        let busy = IN_FLIGHT
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&path);
        let stale = if ours { !busy } else { !running(pid) };
        if stale && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(&path);
        }
    }
}

#[cfg(unix)]
fn running(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    // EPERM: the process exists but belongs to someone else.
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

#[cfg(not(unix))]
fn running(_pid: u32) -> bool {
    // No cheap liveness check: keep the file rather than remove another process's work.
    true
}

#[cfg(unix)]
fn is_stream(kind: &fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    kind.is_char_device() || kind.is_fifo()
}

#[cfg(not(unix))]
fn is_stream(_kind: &fs::FileType) -> bool {
    false
}

/// Whether the mode bits let this process write the file. Root can write anything, but a
/// file someone made read-only is a decision idsync respects, so root needs a write bit too.
#[cfg(unix)]
fn writable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let mode = meta.mode();
    let euid = rustix::process::geteuid().as_raw();
    if euid == 0 {
        return mode & 0o222 != 0;
    }
    if meta.uid() == euid {
        return mode & 0o200 != 0;
    }
    let gid = meta.gid();
    let in_group = rustix::process::getegid().as_raw() == gid
        || rustix::process::getgroups()
            .is_ok_and(|groups| groups.iter().any(|g| g.as_raw() == gid));
    if in_group {
        mode & 0o020 != 0
    } else {
        mode & 0o002 != 0
    }
}

#[cfg(not(unix))]
fn writable(meta: &fs::Metadata) -> bool {
    !meta.permissions().readonly()
}

#[cfg(unix)]
fn mode_text(meta: &fs::Metadata) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    format!(" (mode {:04o})", meta.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode_text(_meta: &fs::Metadata) -> String {
    String::new()
}

/// Writes into a character device or FIFO as it is; never creates or truncates anything.
#[cfg(unix)]
fn write_through(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
    let err = |action| io_err(path, action);
    // Non-blocking open: a FIFO without a reader fails at once (ENXIO) instead of hanging.
    let nonblock = rustix::fs::OFlags::NONBLOCK;
    let mut file = match fs::OpenOptions::new()
        .write(true)
        .custom_flags(nonblock.bits() as i32)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) => {
            return Err(WriteError::Refused {
                path: path.to_owned(),
                reason: "it is a FIFO that nobody reads".into(),
            });
        }
        Err(e) => return Err(err("open it for writing")(e)),
    };
    // The path may have changed between the check and the open: write only what was checked.
    let kind = file.metadata().map_err(err("inspect it"))?.file_type();
    if !(kind.is_char_device() || kind.is_fifo()) {
        return Err(WriteError::Refused {
            path: path.to_owned(),
            reason: "it changed while being opened".into(),
        });
    }
    let flags = rustix::fs::fcntl_getfl(&file).map_err(|e| err("open it for writing")(e.into()))?;
    rustix::fs::fcntl_setfl(&file, flags - nonblock)
        .map_err(|e| err("open it for writing")(e.into()))?;
    file.write_all(bytes).map_err(err("write"))?;
    file.flush().map_err(err("write"))?;
    Ok(())
}

#[cfg(not(unix))]
fn write_through(path: &Path, _bytes: &[u8]) -> Result<(), WriteError> {
    Err(WriteError::Refused {
        path: path.to_owned(),
        reason: "it is not a regular file".into(),
    })
}

#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory for syncing; its rename is durable once it returns.
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn creates_and_replaces_a_regular_file_leaving_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        write(&path, b"one", Existing::Replace).unwrap();
        write(&path, b"two", Existing::Replace).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(names(dir.path()), ["plan.json"]);
    }

    #[test]
    fn a_symlink_is_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        fs::write(&real, b"old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write(&link, b"new", Existing::Replace).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
        // A dangling link: the file is created where it points.
        let dangling = dir.path().join("dangling.json");
        std::os::unix::fs::symlink("made.json", &dangling).unwrap();
        write(&dangling, b"made", Existing::Replace).unwrap();
        assert!(
            fs::symlink_metadata(&dangling)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(dir.path().join("made.json")).unwrap(), b"made");
    }

    #[test]
    fn dev_null_is_written_through_and_dev_full_fails_with_enospc() {
        write(Path::new("/dev/null"), b"plan", Existing::Replace).unwrap();
        write(Path::new("/dev/null"), b"plan", Existing::Keep).unwrap();
        assert!(
            fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        if Path::new("/dev/full").exists() {
            let err = write(Path::new("/dev/full"), b"plan", Existing::Replace).unwrap_err();
            match &err {
                WriteError::Io { source, .. } => {
                    assert_eq!(
                        source.raw_os_error(),
                        Some(rustix::io::Errno::NOSPC.raw_os_error()),
                        "{err}"
                    )
                }
                other => panic!("{other}"),
            }
            assert!(!fs::metadata("/dev/full").unwrap().is_file());
        }
    }

    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo");
    }

    #[test]
    fn a_fifo_is_written_through_to_its_reader_and_refused_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("report.fifo");
        mkfifo(&fifo);
        // Nobody reads: refused at once, not a hang, and the FIFO stays a FIFO.
        let err = write(&fifo, b"report", Existing::Replace).unwrap_err();
        assert!(matches!(err, WriteError::Refused { .. }), "{err}");
        assert!(err.to_string().contains("FIFO"), "{err}");

        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(&fifo).unwrap())
        };
        // The reader's open may come after our first attempt; retry until it is there.
        let payload = vec![b'x'; 300_000];
        let mut tries = 0;
        loop {
            match write(&fifo, &payload, Existing::Replace) {
                Ok(()) => break,
                Err(WriteError::Refused { .. }) if tries < 500 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(reader.join().unwrap(), payload);
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(names(dir.path()), ["report.fifo"]);
    }

    #[test]
    fn a_read_only_file_is_refused_even_for_root() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ad.ldif");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
        let err = write(&path, b"new", Existing::Replace).unwrap_err();
        assert!(err.to_string().contains("read-only (mode 0444)"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["ad.ldif"]);
    }

    #[test]
    fn keep_refuses_an_existing_file_and_a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.yaml");
        fs::write(&path, b"mine").unwrap();
        let err = write(&path, b"theirs", Existing::Keep).unwrap_err();
        assert!(err.to_string().contains("never overwritten"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"mine");
        write(&dir.path().join("new.yaml"), b"new", Existing::Keep).unwrap();
        let err = write(dir.path(), b"x", Existing::Replace).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
    }

    #[test]
    fn stale_temporary_files_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drift.xml");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir
            .path()
            .join(format!(".drift.xml.idsync-tmp-{dead}-abcdefgh"));
        fs::write(&stale, vec![0u8; 4096]).unwrap();
        // One of a live process (our parent's, say) and another target's are left alone.
        let parent = std::os::unix::process::parent_id();
        let live = dir
            .path()
            .join(format!(".drift.xml.idsync-tmp-{parent}-abcdefgh"));
        fs::write(&live, b"busy").unwrap();
        let other = dir
            .path()
            .join(format!(".other.xml.idsync-tmp-{dead}-abcdefgh"));
        fs::write(&other, b"x").unwrap();
        write(&path, b"<testsuites/>", Existing::Replace).unwrap();
        assert!(!stale.exists());
        assert!(live.exists());
        assert!(other.exists());
        // The temporary file's name is recognisable while it exists.
        let mut seen = Vec::new();
        write_with(&path, b"again", Existing::Replace, &mut |s| {
            if s == Stage::Written {
                seen = names(dir.path());
            }
            Ok(())
        })
        .unwrap();
        let pid = std::process::id();
        assert!(
            seen.iter()
                .any(|n| n.starts_with(&format!(".drift.xml.idsync-tmp-{pid}-"))),
            "{seen:?}"
        );
    }
}
