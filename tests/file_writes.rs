//! Every file idsync writes (`plan --out`, `drift --report`, snapshots on apply, `import --out`)
//! goes through one writer: a symlink is followed, a device is written through, a read-only
//! file is refused and left as it was.

#![cfg(unix)]

mod support;
use support::fixtures::copy_example;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_idsync"))
        .current_dir(dir)
        .args(args)
        .env_remove("IDSYNC_PLAN_KEY")
        .env_remove("IDSYNC_DIRECTORIES")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn plan_out_refuses_a_read_only_file_and_writes_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let plan = dir.path().join("plan.json");
    std::fs::write(&plan, "keep me").unwrap();
    std::fs::set_permissions(&plan, std::fs::Permissions::from_mode(0o444)).unwrap();
    let out = run(dir.path(), &["plan", "--out", "plan.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("read-only (mode 0444)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&plan).unwrap(), "keep me");

    // Through a symlink: the link stays, its target gets the plan.
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    std::os::unix::fs::symlink("plans/real.json", dir.path().join("link.json")).unwrap();
    let out = run(dir.path(), &["plan", "--out", "link.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(dir.path().join("link.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let saved = std::fs::read_to_string(dir.path().join("plans/real.json")).unwrap();
    assert!(saved.contains("\"format\": \"idsync-plan\""), "{saved}");
    assert_eq!(entries(&dir.path().join("plans")), ["real.json"]);
}

#[test]
fn plan_out_writes_through_devices_and_reports_a_full_device() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let out = run(dir.path(), &["plan", "--out", "/dev/null"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
    if Path::new("/dev/full").exists() {
        let out = run(dir.path(), &["plan", "--out", "/dev/full"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("No space left"), "{}", stderr(&out));
        assert!(!std::fs::metadata("/dev/full").unwrap().is_file());
    }
}

#[test]
fn drift_report_leaves_no_temporary_file_and_sweeps_a_stale_one() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = format!(".drift.xml.idsync-tmp-{dead}-Zz09Zz09");
    std::fs::write(dir.path().join(&stale), vec![b'x'; 1 << 20]).unwrap();
    let out = run(
        dir.path(),
        &["drift", "--format", "junit", "--report", "drift.xml"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(dir.path().join("drift.xml"))
            .unwrap()
            .contains("<testsuites")
    );
    let left = entries(dir.path());
    assert!(
        !left.iter().any(|n| n.contains("idsync-tmp")),
        "temporary files left: {left:?}"
    );
}

#[test]
fn apply_refuses_a_read_only_snapshot_and_leaves_it_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let ldif = dir.path().join("examples/contoso/ad.ldif");
    let before = std::fs::read(&ldif).unwrap();
    std::fs::set_permissions(&ldif, std::fs::Permissions::from_mode(0o444)).unwrap();
    let out = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(all.contains("read-only (mode 0444)"), "{all}");
    assert_eq!(std::fs::read(&ldif).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&ldif).unwrap().permissions().mode() & 0o777,
        0o444
    );
}

#[test]
fn import_out_never_overwrites_but_writes_to_a_device() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let out = run(
        dir.path(),
        &["import", "--from", "ad", "--out", "/dev/null"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(
        dir.path(),
        &[
            "import",
            "--from",
            "ad",
            "--out",
            "desired-state/identities.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("never overwrites"),
        "{}",
        stderr(&out)
    );
}
