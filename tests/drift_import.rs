//! `idsync drift` (exit codes, attribution, report formats) and `idsync import`.

mod support;

use std::path::Path;
use std::process::Command;

use assert_cmd::assert::OutputAssertExt;
use predicates::prelude::*;
use serde_json::{Value, json};
use support::fixtures::*;

fn converged() -> Fixture {
    let a = AdUser::new(1, "Sara Smith", "ssmith")
        .upn("sara@example.com")
        .smtp("sara@example.com")
        .with("mail", "sara@example.com")
        .with("title", "CFO")
        .consistency_guid();
    Fixture::new(
        &format!("{DESIRED}attributes:\n  jobTitle: ad\n"),
        std::slice::from_ref(&a),
        &[cloud(
            1,
            "sara@example.com",
            json!({"mail": "sara@example.com", "proxyAddresses": ["SMTP:sara@example.com"], "jobTitle": "CFO", "onPremisesImmutableId": a.immutable_id()}),
        )],
    )
}

fn drift(f: &Fixture, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["drift"];
    args.extend_from_slice(extra);
    let out = f.idsync(&args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn no_drift_exits_0() {
    let f = converged();
    let (code, out) = drift(&f, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No drift"), "{out}");
}

#[test]
fn an_out_of_band_change_is_drift() {
    let f = converged();
    let json = f.read("entra.json").replace(
        "\"jobTitle\": \"CFO\"",
        "\"jobTitle\": \"Chief Financial Officer\"",
    );
    std::fs::write(f.path("entra.json"), json).unwrap();
    let (code, out) = drift(&f, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("jobTitle") && out.contains("sara@example.com"),
        "{out}"
    );
}

#[test]
fn standing_conflicts_and_error_diagnostics_are_drift_but_notes_are_not() {
    let f = Fixture::new(
        DESIRED,
        &[
            AdUser::new(1, "Tom A", "toma")
                .smtp("tom@example.com")
                .upn("toma@example.com"),
            AdUser::new(2, "Tom B", "tomb")
                .smtp("tom@example.com")
                .upn("tomb@example.com"),
        ],
        &[],
    );
    let (code, out) = drift(&f, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("[conflict]") && out.contains("[diagnostic]"),
        "{out}"
    );

    // A synced user whose cloud copy lags (pending_sync) is Entra Connect's business.
    let k = AdUser::new(1, "Kate", "kate")
        .upn("kate@example.com")
        .consistency_guid();
    let f = Fixture::new(
        &format!("{DESIRED}attributes:\n  displayName: ad\n"),
        std::slice::from_ref(&k),
        &[cloud(
            1,
            "kate@example.com",
            json!({"onPremisesImmutableId": k.immutable_id(), "onPremisesSyncEnabled": true, "displayName": "Old"}),
        )],
    );
    assert_eq!(drift(&f, &[]).0, 0);
}

#[test]
fn each_field_situation_drifts_until_applied() {
    // Before apply every situation differs from git; after apply only standing conflicts
    // and error diagnostics remain.
    let situations: Vec<(&str, Fixture, i32)> = vec![
        ("cloud first", fixture_cloud_first(), 0),
        (
            "local suffix",
            Fixture::new(
                DESIRED,
                &[AdUser::new(1, "J", "j").upn("j@corp.local")],
                &[cloud(1, "j@example.com", json!({}))],
            ),
            0,
        ),
        (
            "diagnostics",
            Fixture::new(DESIRED, &[AdUser::new(1, "R", "r").upn("r@corp.lan")], &[]),
            2,
        ),
    ];
    for (name, f, after) in situations {
        assert_eq!(drift(&f, &[]).0, 2, "{name} before apply");
        assert!(f.apply().status.success(), "{name}");
        assert_eq!(drift(&f, &[]).0, after, "{name} after apply");
    }
}

fn fixture_cloud_first() -> Fixture {
    Fixture::new(
        &format!(
            "{DESIRED}provision:\n  ad:\n    enabled: true\n    ou: {CLOUD_OU}\n    sam_account_name: \"{{mailNickname}}\"\n"
        ),
        &[],
        &[cloud(1, "alva@example.com", json!({}))],
    )
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.email=ci@example.com",
            "-c",
            "user.name=ci",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn with_a_baseline_drift_says_which_side_moved() {
    let f = converged();
    git(f.dir.path(), &["init", "-q"]);
    git(f.dir.path(), &["add", "desired"]);
    git(f.dir.path(), &["commit", "-qm", "applied"]);
    git(f.dir.path(), &["tag", "idsync-applied"]);
    assert_eq!(drift(&f, &["--baseline", "idsync-applied"]).0, 0);

    // Someone edits Entra outside idsync.
    let json = f
        .read("entra.json")
        .replace("\"jobTitle\": \"CFO\"", "\"jobTitle\": \"Boss\"");
    std::fs::write(f.path("entra.json"), json).unwrap();
    // And git gains a change nobody applied yet.
    let yaml = f.read("desired/idsync.yaml")
        + "identities:\n  - ad: { sam_account_name: ssmith }\n    attributes: { department: Finance }\n";
    std::fs::write(f.path("desired/idsync.yaml"), yaml).unwrap();

    let (code, out) = drift(&f, &["--baseline", "idsync-applied", "--format", "json"]);
    assert_eq!(code, 2, "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let causes: Vec<(String, String)> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["summary"].as_str().unwrap().to_owned(),
                i["cause"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        causes
            .iter()
            .any(|(s, c)| s.contains("jobTitle") && c == "directory_changed"),
        "{causes:?}"
    );
    assert!(
        causes
            .iter()
            .any(|(s, c)| s.contains("department") && c == "desired_state_changed"),
        "{causes:?}"
    );
    assert_eq!(report["baseline"], "idsync-applied");

    let (code, text) = drift(&f, &["--baseline", "idsync-applied"]);
    assert_eq!(code, 2);
    assert!(
        text.contains("The directory drifted away from git")
            && text.contains("Git changed and is not applied yet"),
        "{text}"
    );

    f.idsync(&["drift", "--baseline", "no-such-ref"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no-such-ref"));
}

#[test]
fn report_formats() {
    let f = converged();
    let json = f
        .read("entra.json")
        .replace("\"jobTitle\": \"CFO\"", "\"jobTitle\": \"A <b>&\\\"x\\\"\"");
    std::fs::write(f.path("entra.json"), json).unwrap();

    let (code, out) = drift(&f, &["--format", "json"]);
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["drifted"], true);
    assert!(v["plan"]["actions"].is_array() && v["summary"]["unknown"] == 1);

    let (_, md) = drift(&f, &["--format", "markdown"]);
    assert!(md.starts_with("### idsync drift"), "{md}");

    let (_, xml) = drift(&f, &["--format", "junit"]);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("failures"), Some("1"));
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(failure.text().unwrap().contains("A <b>&"), "{xml}");

    // --report writes the chosen format to the file, the text report to stdout.
    f.idsync(&["drift", "--format", "junit", "--report", "drift.xml"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("Drift: 1 difference"));
    roxmltree::Document::parse(&f.read("drift.xml")).unwrap();

    // No drift: one passing test case.
    let f = converged();
    let (code, xml) = drift(&f, &["--format", "junit"]);
    assert_eq!(code, 0);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count(),
        1
    );
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count(),
        0
    );
}

// ----- import -----

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_idsync"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn import_round_trips_validates_and_changes_nothing() {
    for from in ["ad", "entra"] {
        let dir = tempfile::tempdir().unwrap();
        copy_example(dir.path());
        let before: Value =
            serde_json::from_slice(&run(dir.path(), &["plan", "--format", "json"]).stdout).unwrap();
        let out = run(
            dir.path(),
            &[
                "import",
                "--from",
                from,
                "--out",
                "desired-state/imported.yaml",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let yaml = std::fs::read_to_string(dir.path().join("desired-state/imported.yaml")).unwrap();
        assert!(yaml.starts_with("# yaml-language-server: $schema="));
        assert!(yaml.contains("sam_account_name: \"ssmith\""), "{yaml}");
        assert!(yaml.contains("# Cloud users with no AD twin"), "{yaml}");
        assert!(
            !yaml.contains("aanderson"),
            "identities already in the desired state are not repeated:\n{yaml}"
        );
        assert!(run(dir.path(), &["validate"]).status.success());
        let after: Value =
            serde_json::from_slice(&run(dir.path(), &["plan", "--format", "json"]).stdout).unwrap();
        assert_eq!(before["actions"], after["actions"], "--from {from}");
        assert_eq!(before["conflicts"], after["conflicts"], "--from {from}");

        // Converge, and import again: the file now pins every pair, still planning nothing new.
        assert!(
            run(dir.path(), &["apply", "--auto-approve"])
                .status
                .success()
        );
        assert_eq!(
            run(dir.path(), &["plan", "--detailed-exitcode"])
                .status
                .code(),
            Some(0)
        );
    }
}

#[test]
fn import_never_overwrites_a_file() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let out = run(
        dir.path(),
        &[
            "import",
            "--from",
            "ad",
            "--out",
            "desired-state/idsync.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("never overwrites"));
}

#[test]
fn import_writes_the_groups_read_and_the_file_validates() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    // A cloud-first group of the example's users, as Graph answers
    // `GET /v1.0/groups?$expand=members($select=id)`.
    std::fs::write(
        dir.path().join("examples/contoso/entra/groups.json"),
        r#"{"value": [
  {"id": "9a0b0001-1c2d-4e3f-8a9b-000000000001", "displayName": "Sales team", "mailEnabled": false,
   "securityEnabled": true, "groupTypes": [],
   "members": [{"id": "e1d20001-7a6b-4c5d-8e9f-000000000001"}, {"id": "e1d2000b-7a6b-4c5d-8e9f-00000000000b"}]}
]}"#,
    )
    .unwrap();
    let out = run(
        dir.path(),
        &[
            "import",
            "--from",
            "entra",
            "--out",
            "desired-state/imported.yaml",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(dir.path().join("desired-state/imported.yaml")).unwrap();
    // Members named as the desired state names them: its identity names.
    assert!(
        yaml.contains("  - name: \"Sales team\"\n    entra: { id: \"9a0b0001-1c2d-4e3f-8a9b-000000000001\" }    # Sales team\n    type: security\n    members:\n      - \"adam.anderson\"\n      - \"alva.wood\"\n"),
        "{yaml}"
    );
    let validate = run(dir.path(), &["validate"]);
    assert!(
        validate.status.success(),
        "{}\n{yaml}",
        String::from_utf8_lossy(&validate.stderr)
    );
}
