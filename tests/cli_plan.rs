//! `idsync plan`, `validate` and `schema` as a user runs them, with exit codes.

use std::path::Path;
use std::process::Command;

use assert_cmd::assert::OutputAssertExt;
use predicates::prelude::*;

fn idsync() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idsync"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env_remove("NO_COLOR");
    cmd
}

#[test]
fn plan_in_the_repository_root_shows_the_embedded_example() {
    let out = idsync().arg("plan").assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.starts_with("idsync will perform the following actions:"),
        "{text}"
    );
    for expected in [
        "+ create ad \"alva.wood\"",
        "> link entra \"alva.wood\"",
        "~ update ad \"adam.anderson\"",
        "> move ad",
        "- disable ad",
        "- delete ad",
        "! invalid_soft_match",
        "error   topleveldomain",
        // The tenant's data (examples/contoso/entra/): jdoe holds Global Administrator, and
        // Entra never matches a role holder (how-to-connect-install-existing-tenant).
        "! admin_role jdoe@example.com",
        // Entra Connect's default rules never sync its own service account
        // (concept-azure-ad-connect-sync-default-configuration).
        "sync_excluded (ad)",
        "MSOL_",
        "(paired by explicit)",
        "Plan: 3 to create, 10 to update, 6 to link, 1 to move, 1 to disable, 1 to delete.",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // Out of scope: another OU, an excluded sub-OU, the ldap_filter, a computer.
    for absent in [
        "Legacy User",
        "Print Service",
        "svc-backup",
        "WS-042",
        "room-101",
    ] {
        assert!(
            !text.contains(absent),
            "{absent} should not appear in\n{text}"
        );
    }
    // Not a terminal: no colour.
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn detailed_exitcode_is_2_with_changes_and_0_without() {
    idsync()
        .args(["plan", "--detailed-exitcode"])
        .assert()
        .code(2);
    idsync()
        .args([
            "plan",
            "--detailed-exitcode",
            "--dir",
            "tests/fixtures/converged/desired",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes."));
}

#[test]
fn json_follows_the_contract() {
    let out = idsync()
        .args(["plan", "--format", "json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    for key in [
        "create", "update", "link", "move", "disable", "delete", "conflict",
    ] {
        assert!(v["summary"][key].is_u64(), "summary.{key}");
    }
    let create = &v["actions"][0];
    for key in [
        "id",
        "action",
        "directory",
        "identity",
        "target",
        "changes",
        "depends_on",
        "precondition",
    ] {
        assert!(create.get(key).is_some(), "actions[0].{key}");
    }
    assert_eq!(create["action"], "create");
    assert_eq!(create["directory"], "ad");
    let link = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["action"] == "link" && a["identity"] == "alva.wood" && a["directory"] == "entra"
        })
        .unwrap();
    assert_eq!(link["depends_on"][0], create["id"]);
    assert_eq!(link["changes"][0]["after"], "(known after apply)");
    let proxies = create["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["attribute"] == "proxyAddresses")
        .unwrap();
    assert!(proxies["after"].is_array());
    for key in ["kind", "identity", "objects", "message"] {
        assert!(v["conflicts"][0].get(key).is_some(), "conflicts[0].{key}");
    }
    for key in ["severity", "rule", "object", "attribute", "message"] {
        assert!(
            v["diagnostics"][0].get(key).is_some(),
            "diagnostics[0].{key}"
        );
    }
    for key in ["kind", "identity", "message"] {
        assert!(v["notes"][0].get(key).is_some(), "notes[0].{key}");
    }
}

#[test]
fn markdown_is_a_pull_request_comment() {
    idsync()
        .args(["plan", "--format", "markdown"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("### idsync plan"))
        .stdout(predicate::str::contains(
            "| create | update | link | move | disable | delete | conflict |",
        ))
        .stdout(predicate::str::contains("<details>"));
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    idsync()
        .args(["plan", "--color", "always"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\u{1b}["));
    idsync()
        .args(["plan", "--color", "never"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\u{1b}[").not());
    // NO_COLOR wins over a terminal (auto); here stdout is a pipe, so auto is already off.
    idsync()
        .args(["plan"])
        .env("NO_COLOR", "1")
        .assert()
        .success()
        .stdout(predicate::str::contains("\u{1b}[").not());
}

#[test]
fn snapshot_flags_override_the_configured_directories() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ad.ldif"), "").unwrap();
    std::fs::write(dir.path().join("entra.json"), "[]").unwrap();
    // Both empty: nothing to do, nothing deprovisioned.
    idsync()
        .args(["plan", "--detailed-exitcode", "--ad-snapshot"])
        .arg(dir.path().join("ad.ldif"))
        .arg("--entra-snapshot")
        .arg(dir.path().join("entra.json"))
        .assert()
        .code(0);
}

#[test]
fn a_broken_snapshot_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let ldif = dir.path().join("ad.ldif");
    std::fs::write(&ldif, "dn: CN=a,DC=x\nobjectGUID:: not base64!\n").unwrap();
    idsync()
        .args(["plan", "--ad-snapshot"])
        .arg(&ldif)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("{}:2:", ldif.display())));
}

#[test]
fn too_many_deletes_fail_the_plan_naming_max_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let desired = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state/idsync.yaml"),
    )
    .unwrap();
    let desired = desired
        .replace(
            "../examples/contoso/",
            &format!("{}/examples/contoso/", env!("CARGO_MANIFEST_DIR")),
        )
        .replace("max_deletes: 10", "max_deletes: 1");
    std::fs::write(dir.path().join("idsync.yaml"), desired).unwrap();
    idsync()
        .args(["plan", "--dir"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("deprovision.max_deletes (1)"))
        .stdout(predicate::str::is_empty());
}

#[test]
fn validate_accepts_the_embedded_example() {
    idsync()
        .arg("validate")
        .assert()
        .success()
        .stdout(predicate::str::contains("valid"));
}

#[test]
fn schema_prints_the_committed_schema() {
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/idsync.schema.json"),
    )
    .unwrap();
    idsync().arg("schema").assert().success().stdout(committed);
}

#[test]
fn missing_directory_is_a_clear_error() {
    idsync()
        .args(["plan", "--dir", "no/such/folder"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no/such/folder"));
}

/// The example pipelines parse as YAML and call idsync only with commands and flags it has.
#[test]
fn example_pipelines_use_real_commands_and_flags() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipelines");
    let mut checked = 0;
    for side in ["github", "azure"] {
        for entry in std::fs::read_dir(root.join(side)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let _: serde_json::Value =
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for line in text.lines() {
                let Some(at) = line.find("idsync ") else {
                    continue;
                };
                let words: Vec<&str> = line[at..].split_whitespace().collect();
                let Some(&command) = words.get(1) else {
                    continue;
                };
                if !["validate", "plan", "apply", "drift", "import", "schema"].contains(&command) {
                    continue;
                }
                let help = idsync().args([command, "--help"]).output().unwrap();
                let help = String::from_utf8_lossy(&help.stdout).into_owned();
                for flag in words.iter().filter(|w| w.starts_with("--")) {
                    let flag = flag.split('=').next().unwrap();
                    assert!(
                        help.contains(flag),
                        "{}: `idsync {command}` has no {flag}",
                        path.display()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 10, "only {checked} flags checked");
}
