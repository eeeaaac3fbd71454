//! Exports that do not carry everything, and scopes that catch nothing, as a user meets them
//! through the CLI: absent is not null (no action is ever planned from a property an export
//! did not carry), and "the directories match" is never said when nothing was compared.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A copy of the embedded example (desired state and Contoso snapshots) in a temp folder, with
/// the Entra export's users passed through `edit`.
fn example(edit: impl Fn(&mut serde_json::Map<String, Value>)) -> (tempfile::TempDir, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("desired-state");
    let data = dir.path().join("examples/contoso");
    std::fs::create_dir_all(&ds).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    for f in ["idsync.yaml", "identities.yaml"] {
        std::fs::copy(root.join("desired-state").join(f), ds.join(f)).unwrap();
    }
    std::fs::copy(root.join("examples/contoso/ad.ldif"), data.join("ad.ldif")).unwrap();
    // The Entra snapshot folder: its tenant files as they are, its users edited.
    std::fs::create_dir_all(data.join("entra")).unwrap();
    for e in std::fs::read_dir(root.join("examples/contoso/entra")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), data.join("entra").join(e.file_name())).unwrap();
    }
    let mut entra: Value = serde_json::from_slice(
        &std::fs::read(root.join("examples/contoso/entra/users.json")).unwrap(),
    )
    .unwrap();
    for u in entra["value"].as_array_mut().unwrap() {
        edit(u.as_object_mut().unwrap());
    }
    std::fs::write(data.join("entra/users.json"), entra.to_string()).unwrap();
    (dir, ds)
}

fn idsync(ds: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_idsync"))
        .arg("--dir")
        .arg(ds)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn json_plan(ds: &Path) -> Value {
    let out = idsync(ds, &["plan", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn changes_of<'p>(plan: &'p Value, attribute: &str) -> Vec<&'p Value> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["attribute"] == attribute)
        })
        .collect()
}

#[test]
fn an_export_without_account_enabled_or_usage_location_plans_nothing_from_them() {
    // The field's case: Graph's default `GET /users` carries neither. Read as null, the plan
    // re-enabled a disabled AD account, cleared AD's `c`, and planned no-op updates forever.
    let (_dir, ds) = example(|u| {
        u.remove("accountEnabled");
        u.remove("usageLocation");
    });
    let plan = json_plan(&ds);
    for a in changes_of(&plan, "userAccountControl") {
        assert_eq!(
            a["action"], "create",
            "only creates set it, from initial_state: {a}"
        );
    }
    assert!(
        changes_of(&plan, "c").is_empty(),
        "no clear of AD's country"
    );
    assert_eq!(
        plan["summary"]["disable"], 0,
        "olivia's disable is unknown now"
    );
    let notes = plan["notes"].as_array().unwrap();
    let note = notes
        .iter()
        .find(|n| n["kind"] == "assumption" && n["identity"] == "(entra)")
        .expect("an assumption note");
    let message = note["message"].as_str().unwrap();
    for expected in [
        "accountEnabled",
        "usageLocation",
        "$select=",
        "idsync snapshot",
    ] {
        assert!(message.contains(expected), "{expected} in {message}");
    }

    // Applied, it converges: nothing planned from the unknown properties comes back.
    let out = idsync(&ds, &["apply", "--auto-approve"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let again = idsync(&ds, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

#[test]
fn graph_default_get_users_pairs_and_provisions_nothing_it_cannot_see() {
    // Graph's default property set: no onPremises*, no proxyAddresses, no mailNickname.
    let default = [
        "businessPhones",
        "displayName",
        "givenName",
        "id",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
    ];
    let (_dir, ds) = example(|u| u.retain(|k, _| default.contains(&k.as_str())));
    let plan = json_plan(&ds);
    let kinds: Vec<String> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {} {}", a["action"], a["directory"], a["identity"]))
        .collect();
    // Only the delete of an account idsync made for a cloud user whose id is gone (ids are
    // always carried): no link, update or create rests on what the export left out.
    assert_eq!(
        kinds,
        [r#""delete" "ad" "old.contractor@example.com""#],
        "{kinds:?}"
    );
}

#[test]
fn a_scope_that_catches_nothing_is_said_in_every_format_and_is_drift() {
    let (_dir, ds) = example(|_| {});
    let config = ds.join("idsync.yaml");
    let yaml = std::fs::read_to_string(&config).unwrap();
    // A typo in the domain part of every DN: the OU exists nowhere.
    std::fs::write(
        &config,
        yaml.replace("DC=example,DC=com", "DC=exmple,DC=com"),
    )
    .unwrap();
    let ids = ds.join("identities.yaml");
    let text = std::fs::read_to_string(&ids).unwrap();
    std::fs::write(&ids, text.replace("DC=example,DC=com", "DC=exmple,DC=com")).unwrap();

    for format in ["text", "json", "markdown"] {
        let out = idsync(&ds, &["plan", "--format", format]);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("warning: no AD users in scope")
                && stderr.contains("OU=Office365,DC=corp,DC=exmple,DC=com"),
            "{format}: {stderr}"
        );
        assert!(stdout.contains("empty_scope"), "{format}: {stdout}");
        assert!(!stdout.contains("directories match"), "{format}: {stdout}");
    }
    let plan = json_plan(&ds);
    assert_eq!(plan["inventory"]["ad"]["in_scope"], 0);
    assert_eq!(plan["inventory"]["entra"]["in_scope"], 14);
    let drift = idsync(&ds, &["drift"]);
    assert_eq!(
        drift.status.code(),
        Some(2),
        "an empty scope is never 'no drift'"
    );
    assert!(!String::from_utf8_lossy(&drift.stdout).contains("No drift"));
}

#[test]
fn no_changes_with_conflicts_standing_never_says_the_directories_match() {
    // Everything but the conflicted identities converged: apply, then plan again.
    let (_dir, ds) = example(|_| {});
    let out = idsync(&ds, &["apply", "--auto-approve"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = idsync(&ds, &["plan"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("No changes to apply, but the directories do not match"),
        "{stdout}"
    );
    assert!(!stdout.contains("The directories match"), "{stdout}");
}

/// The example with the AD export passed through `edit`.
fn example_ad(edit: impl Fn(&str) -> String) -> (tempfile::TempDir, PathBuf) {
    let (dir, ds) = example(|_| {});
    let ldif = dir.path().join("examples/contoso/ad.ldif");
    let text = std::fs::read_to_string(&ldif).unwrap();
    std::fs::write(&ldif, edit(&text)).unwrap();
    (dir, ds)
}

#[test]
fn an_ad_export_without_an_attribute_never_clears_it_in_the_cloud() {
    // `department: ad`, and an export made without department: no cloud department is
    // cleared on the strength of it, and the note says which attribute and why.
    let (_dir, ds) = example_ad(|t| {
        t.lines()
            .filter(|l| !l.starts_with("department:"))
            .map(|l| format!("{l}\n"))
            .collect()
    });
    let plan = json_plan(&ds);
    for a in changes_of(&plan, "department") {
        for c in a["changes"].as_array().unwrap() {
            if c["attribute"] == "department" {
                assert_ne!(
                    c["after"],
                    Value::Null,
                    "no clear from an unread attribute: {a}"
                );
            }
        }
    }
    let note = plan["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "assumption" && n["identity"] == "(ad)")
        .expect("an AD assumption note");
    assert!(
        note["message"].as_str().unwrap().contains("department"),
        "{note}"
    );
}

#[test]
fn an_ldapsearch_that_did_not_request_the_anchor_is_refused() {
    let (_dir, ds) = example_ad(|t| {
        // As the ldapsearch it names would have written it: no mS-DS-ConsistencyGuid values.
        let t: String = t
            .lines()
            .filter(|l| !l.starts_with("mS-DS-ConsistencyGuid"))
            .map(|l| format!("{l}\n"))
            .collect();
        format!(
            "# extended LDIF\n#\n# LDAPv3\n# base <DC=corp,DC=example,DC=com> with scope subtree\n# filter: (objectClass=user)\n# requesting: objectClass objectGUID sAMAccountName userPrincipalName mail proxyAddresses\n#\n\n{t}"
        )
    });
    let out = idsync(&ds, &["plan"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mS-DS-ConsistencyGuid") && stderr.contains("idsync snapshot"),
        "{stderr}"
    );
}
