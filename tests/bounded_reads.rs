//! Files from outside are read only when they are regular files, and only up to a bound:
//! a snapshot, saved plan or desired-state file at `/dev/zero`, a FIFO or an endless file
//! fails at once with an error naming it, instead of hanging or eating memory.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use idsync::apply::SavedPlan;
use idsync::directory::snapshot::{AdSnapshot, EntraSnapshot};

/// Runs `f` on its own thread and fails the test if it does not return within 10 s (a
/// blocking open of a FIFO would wait for a writer for ever).
fn promptly<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("returned instead of hanging")
}

fn fifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    path
}

#[test]
fn snapshots_that_are_devices_or_fifos_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = promptly(|| AdSnapshot::open("/dev/zero").unwrap_err().to_string());
    assert_eq!(
        e,
        "/dev/zero: cannot read: it is a character device, not a regular file"
    );
    let pipe = fifo(dir.path(), "entra.json");
    let shown = pipe.display().to_string();
    let e = promptly(move || EntraSnapshot::open(&pipe).unwrap_err().to_string());
    assert_eq!(
        e,
        format!("{shown}: cannot read: it is a FIFO, not a regular file")
    );
}

#[test]
fn saved_plans_that_are_devices_or_fifos_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pipe = fifo(dir.path(), "plan.json");
    let e = promptly(move || SavedPlan::load(&pipe).unwrap_err().to_string());
    assert!(
        e.ends_with("plan.json: it is a FIFO, not a regular file"),
        "{e}"
    );
    let e = promptly(|| {
        SavedPlan::load(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string()
    });
    assert_eq!(
        e,
        "cannot read the saved plan /dev/zero: it is a character device, not a regular file"
    );
}

#[test]
fn desired_state_files_beyond_the_bound_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("identities.yaml");
    // Sparse: the size says 257 MiB, nothing is written (or read).
    std::fs::File::create(&big)
        .unwrap()
        .set_len(idsync::files::read::DESIRED_STATE_FILE_LIMIT + 1)
        .unwrap();
    let e = idsync::desired::load(dir.path()).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "cannot read {}: it is larger than the 268435456 bytes idsync reads of it",
            big.display()
        )
    );
}
