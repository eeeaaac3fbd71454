//! Snapshot directories: an LDIF export standing in for Active Directory and a Graph `/users`
//! JSON export standing in for Entra ID. Both read and write like the real directories do
//! (same refusals, same minted identifiers), so `plan` works offline from exports and `apply`
//! against snapshots converges for real.
//!
//! Writes change memory only; `flush` rewrites the file atomically (temporary file in the same
//! directory, fsync, rename over the original, fsync of the directory), and only when something
//! changed. A file that changed on disk since it was read is never overwritten.

mod ad;
mod entra;
pub mod export;

pub use ad::{AdPlanRead, AdSnapshot};
pub use entra::{EntraPlanRead, EntraSnapshot, ExportShape, SYNCED_OBJECT_MESSAGE, TextEncoding};

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ldif::LdifError;
use crate::files::write::Stage;

/// What can go wrong reading or writing a snapshot file. Displays as `FILE:LINE:COL: message`
/// where a location is known.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The AD snapshot is not valid LDIF.
    #[error("{}:{}:{}: {}", path.display(), error.line, error.column, error.message)]
    Ldif { path: PathBuf, error: LdifError },
    /// The Entra snapshot is not valid JSON, or not shaped like a Graph `/users` answer.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// An LDIF entry that cannot be a directory object: no valid 16-byte objectGUID on a user,
    /// an invalid or duplicate DN, an attribute of the wrong syntax.
    #[error("{}:{line}:{column}: {dn}: {message}", path.display())]
    Entry {
        path: PathBuf,
        line: usize,
        column: usize,
        dn: String,
        message: String,
    },
    /// A Graph user object that cannot be read: no `id` or `userPrincipalName`, a typed
    /// property of the wrong JSON type, a duplicate `id`.
    #[error("{}:{line}:{column}: {message}", path.display())]
    User {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    /// A flush that would lose someone else's changes.
    #[error("{}: refusing to write: {message}", path.display())]
    WriteRefused { path: PathBuf, message: String },
}

impl SnapshotError {
    fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        SnapshotError::Io {
            path: path.to_owned(),
            action,
            source,
        }
    }
}

/// The file behind a snapshot, with the digest of its content as last read or written.
#[derive(Debug)]
struct SnapshotFile {
    path: PathBuf,
    /// `None` for a file read to plan from, which is never written.
    digest: Option<[u8; 32]>,
    /// The file did not exist when read (a snapshot folder without `groups.json`): the first
    /// write creates it, unless someone else did meanwhile.
    absent: bool,
}

impl SnapshotFile {
    fn read(path: &Path) -> Result<(Self, Vec<u8>), SnapshotError> {
        Self::read_with(path, true)
    }

    /// As [`SnapshotFile::read`]; `for_writes: false` skips the digest (a plan of a 500 MB
    /// export spends half a second on it) and refuses every later write.
    fn read_with(path: &Path, for_writes: bool) -> Result<(Self, Vec<u8>), SnapshotError> {
        let bytes =
            crate::files::read::read_regular_file(path, crate::files::read::SNAPSHOT_FILE_LIMIT)
                .map_err(|e| SnapshotError::io(path, "read", e.into_io_error()))?;
        let file = SnapshotFile {
            path: path.to_owned(),
            digest: for_writes.then(|| digest(&bytes)),
            absent: false,
        };
        Ok((file, bytes))
    }

    /// A file of a snapshot folder that does not exist yet.
    fn absent(path: &Path) -> Self {
        SnapshotFile {
            path: path.to_owned(),
            digest: Some(digest(b"")),
            absent: true,
        }
    }

    /// Refuses when the file changed on disk since it was read (or, for an absent one, when
    /// it has appeared): checked before any file of a folder is written, and again per file.
    fn unchanged(&self) -> Result<(), SnapshotError> {
        let current = crate::files::read::read_regular_file(
            &self.path,
            crate::files::read::SNAPSHOT_FILE_LIMIT,
        )
        .map_err(crate::files::read::ReadError::into_io_error);
        let refused = |message: &str| SnapshotError::WriteRefused {
            path: self.path.clone(),
            message: message.into(),
        };
        let Some(read) = self.digest else {
            return Err(refused("the file was read to plan from, not to be written"));
        };
        match current {
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.absent => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(refused("the file was removed since it was read"))
            }
            Err(e) => Err(SnapshotError::io(&self.path, "re-read before writing", e)),
            Ok(_) if self.absent => Err(refused(
                "the file was created by someone else since the folder was read; run again to work from the current file",
            )),
            Ok(current) if digest(&current) != read => Err(refused(
                "the file changed on disk since it was read; run again to work from the current file",
            )),
            Ok(_) => Ok(()),
        }
    }

    /// Atomically replaces the file with `bytes`, unless it changed on disk since it was read.
    fn replace(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        self.replace_with(bytes, &mut |_| Ok(()))
    }

    fn replace_with(
        &mut self,
        bytes: &[u8],
        fault: &mut dyn FnMut(Stage) -> io::Result<()>,
    ) -> Result<(), SnapshotError> {
        self.unchanged()?;
        write_atomically(&self.path, bytes, fault)?;
        self.digest = Some(digest(bytes));
        self.absent = false;
        Ok(())
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Writes with [`crate::files::write`] (atomic beside the real target, never over a read-only
/// file); the hook lets tests fail it at each stage, as a crash would.
fn write_atomically(
    path: &Path,
    bytes: &[u8],
    fault: &mut dyn FnMut(Stage) -> io::Result<()>,
) -> Result<(), SnapshotError> {
    use crate::files::write::{Existing, WriteError, write_with};
    write_with(path, bytes, Existing::Replace, fault).map_err(|e| match e {
        WriteError::Io { action, source, .. } => SnapshotError::io(path, action, source),
        WriteError::Refused { reason, .. } => SnapshotError::WriteRefused {
            path: path.to_owned(),
            message: reason,
        },
    })
}

/// 1-based line and byte column of a byte offset.
fn line_col(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn setup(content: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.ldif");
        fs::write(&path, content).unwrap();
        (dir, path)
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "snap.ldif")
            .collect()
    }

    #[test]
    fn replace_writes_and_tracks_the_new_digest() {
        let (dir, path) = setup(b"old");
        let (mut file, _) = SnapshotFile::read(&path).unwrap();
        file.replace(b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        file.replace(b"newer").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"newer");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_failure_at_any_stage_before_the_rename_keeps_the_old_file() {
        for stage in [Stage::Written, Stage::Synced] {
            let (dir, path) = setup(b"old content");
            let (mut file, _) = SnapshotFile::read(&path).unwrap();
            let err = file
                .replace_with(b"new content", &mut |s| {
                    // The temporary file sits beside the target (same filesystem: the rename
                    // is atomic).
                    let temps = leftovers(dir.path());
                    assert!(
                        temps.len() == 1 && temps[0].starts_with(".snap.ldif.idsync-tmp-"),
                        "{temps:?}"
                    );
                    if s == stage {
                        Err(io::Error::other("simulated crash"))
                    } else {
                        Ok(())
                    }
                })
                .unwrap_err();
            assert!(err.to_string().contains("simulated crash"), "{err}");
            assert_eq!(fs::read(&path).unwrap(), b"old content", "{stage:?}");
            assert!(
                leftovers(dir.path()).is_empty(),
                "{stage:?}: temp file left behind"
            );
        }
        // After the rename the new file is complete.
        let (_dir, path) = setup(b"old content");
        let (mut file, _) = SnapshotFile::read(&path).unwrap();
        let _ = file.replace_with(b"new content", &mut |s| {
            if s == Stage::Renamed {
                Err(io::Error::other("simulated crash"))
            } else {
                Ok(())
            }
        });
        assert_eq!(fs::read(&path).unwrap(), b"new content");
    }

    #[test]
    fn refuses_to_overwrite_a_file_changed_on_disk() {
        let (_dir, path) = setup(b"old");
        let (mut file, _) = SnapshotFile::read(&path).unwrap();
        fs::write(&path, b"someone else's edit").unwrap();
        let err = file.replace(b"ours").unwrap_err();
        assert!(matches!(err, SnapshotError::WriteRefused { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"someone else's edit");
        fs::remove_file(&path).unwrap();
        assert!(matches!(
            file.replace(b"ours"),
            Err(SnapshotError::WriteRefused { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn keeps_permissions_and_writes_through_symlinks() {
        use std::os::unix::fs::PermissionsExt as _;
        let (dir, path) = setup(b"old");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.ldif");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let (mut file, _) = SnapshotFile::read(&link).unwrap();
        file.replace(b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_snapshot_is_refused_and_kept_even_for_root() {
        // Mode bits, not the kernel's permission check (root passes that): the same result
        // for every user, so this test runs its assertions in CI too, which runs as root.
        use std::os::unix::fs::PermissionsExt as _;
        let (_dir, path) = setup(b"old");
        let (mut file, _) = SnapshotFile::read(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
        let err = file.replace(b"new").unwrap_err();
        assert!(err.to_string().contains("refusing to write"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o444
        );
    }

    #[test]
    fn line_and_column_of_offsets() {
        let text = b"ab\ncd\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 1), (1, 2));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 99), (3, 1));
    }
}
