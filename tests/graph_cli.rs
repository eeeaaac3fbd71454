//! `idsync plan` with live Entra (the Graph emulator) and AD from an LDIF snapshot, as a user
//! runs it: the secret comes from the environment.

use std::path::Path;
use std::process::{Command, Output};

use graph_emulator::{Config, Emulator, RunningEmulator};
use serde_json::{Value, json};

const SECRET_VAR: &str = "IDSYNC_TEST_ENTRA_SECRET";

const AD_LDIF: &str = "\
dn: OU=Office365,DC=corp,DC=example,DC=com
objectClass: organizationalUnit
ou: Office365

dn: OU=Cloud,OU=Office365,DC=corp,DC=example,DC=com
objectClass: organizationalUnit
ou: Cloud

dn: CN=Adam Anderson,OU=Office365,DC=corp,DC=example,DC=com
objectClass: user
cn: Adam Anderson
sAMAccountName: aanderson
userAccountControl: 512
uSNChanged: 20001
objectGUID:: BpazOkLGm0iEtljAONPvOQ==
userPrincipalName: adam.anderson@example.com
proxyAddresses: SMTP:adam.anderson@example.com
mail: adam.anderson@example.com
displayName: Adam Anderson
title: Account Manager

dn: CN=Sam Synced,OU=Office365,DC=corp,DC=example,DC=com
objectClass: user
cn: Sam Synced
sAMAccountName: ssynced
userAccountControl: 512
uSNChanged: 20002
objectGUID:: AAECAwQFBgcICQoLDA0ODw==
userPrincipalName: sam.synced@example.com
proxyAddresses: SMTP:sam.synced@example.com
mail: sam.synced@example.com
displayName: Sam Synced
title: Engineer
";

fn tenant() -> Value {
    json!({"value": [
        {"id": "e1d20001-7a6b-4c5d-8e9f-000000000001", "userPrincipalName": "adam.anderson@example.com",
         "displayName": "Adam A.", "mail": "adam.anderson@example.com", "mailNickname": "adam.anderson",
         "proxyAddresses": ["SMTP:adam.anderson@example.com"], "jobTitle": "Sales",
         "accountEnabled": true, "userType": "Member", "givenName": null, "surname": null,
         "onPremisesSyncEnabled": null, "onPremisesImmutableId": null},
        {"id": "e1d20002-7a6b-4c5d-8e9f-000000000002", "userPrincipalName": "nina.patel@example.com",
         "displayName": "Nina Patel", "givenName": "Nina", "surname": "Patel",
         "mail": "nina.patel@example.com", "mailNickname": "nina.patel",
         "proxyAddresses": ["SMTP:nina.patel@example.com"], "jobTitle": "Analyst",
         "accountEnabled": true, "userType": "Member",
         "onPremisesSyncEnabled": null, "onPremisesImmutableId": null},
        {"id": "e1d20003-7a6b-4c5d-8e9f-000000000003", "userPrincipalName": "sam.synced@example.com",
         "displayName": "Sam (cloud name)", "mail": "sam.synced@example.com", "mailNickname": "sam.synced",
         "proxyAddresses": ["SMTP:sam.synced@example.com"], "jobTitle": "Engineer",
         "accountEnabled": true, "userType": "Member", "givenName": null, "surname": null,
         "onPremisesSyncEnabled": true, "onPremisesImmutableId": "AAECAwQFBgcICQoLDA0ODw=="}
    ]})
}

/// A desired-state folder: AD from the LDIF, Entra live at the emulator.
fn desired_state(dir: &Path, emu: &RunningEmulator) {
    std::fs::write(dir.join("ad.ldif"), AD_LDIF).unwrap();
    std::fs::write(dir.join("entra.json"), tenant().to_string()).unwrap();
    let yaml = format!(
        r#"version: 1
directories:
  ad:
    snapshot: ad.ldif
  entra:
    tenant_id: {tenant}
    client_id: {client}
    client_secret: {{ env: {SECRET_VAR} }}
    login_url: {base}
    graph_url: {base}
scope:
  ous: [ "OU=Office365,DC=corp,DC=example,DC=com" ]
matching:
  source_anchor: objectGUID
  soft_match: [ smtp, upn ]
attributes:
  displayName: ad
  jobTitle: ad
provision:
  ad:
    enabled: true
    ou: OU=Cloud,OU=Office365,DC=corp,DC=example,DC=com
    sam_account_name: "{{mailNickname}}"
    initial_state: enabled_random_password
"#,
        tenant = emu.tenant_id(),
        client = emu.client_id(),
        base = emu.base_url(),
    );
    std::fs::write(dir.join("idsync.yaml"), yaml).unwrap();
}

fn emulator() -> RunningEmulator {
    Emulator::start_blocking(Config::default().with_tenant_json(tenant()).unwrap()).unwrap()
}

fn idsync(dir: &Path, secret: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_idsync"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env(SECRET_VAR, secret)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn plan_against_live_entra_names_the_tenants_users() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    desired_state(dir.path(), &emu);
    let out = idsync(dir.path(), emu.client_secret(), &["plan"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for expected in [
        "+ create ad \"nina.patel@example.com\"",
        "> link entra \"adam.anderson@example.com\"",
        "~ update entra \"adam.anderson@example.com\"",
        "~ displayName = \"Adam A.\" -> \"Adam Anderson\"",
        "Plan: 1 to create, 1 to update, 2 to link",
    ] {
        assert!(stdout.contains(expected), "{expected}\n{stdout}");
    }
    assert!(
        !stdout.contains("update entra \"sam.synced"),
        "a synced user's mastered attributes are never written:\n{stdout}"
    );
    assert!(!stdout.contains(emu.client_secret()) && !stderr.contains(emu.client_secret()));
    assert!(
        stderr.is_empty(),
        "no progress bar off a terminal: {stderr}"
    );
}

#[test]
fn live_entra_plans_exactly_as_its_export_does() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    desired_state(dir.path(), &emu);
    let live = idsync(
        dir.path(),
        emu.client_secret(),
        &["plan", "--format", "json"],
    );
    assert_eq!(live.status.code(), Some(0), "{}", text(&live.stderr));
    // The export as `idsync snapshot` makes it: users and the tenant's data the plan used.
    let export = dir.path().join("export");
    let snap = idsync(
        dir.path(),
        emu.client_secret(),
        &[
            "snapshot",
            "--from",
            "entra",
            "--out",
            export.to_str().unwrap(),
        ],
    );
    assert_eq!(snap.status.code(), Some(0), "{}", text(&snap.stderr));
    let offline = idsync(
        dir.path(),
        "unused",
        &[
            "plan",
            "--format",
            "json",
            "--entra-snapshot",
            export.to_str().unwrap(),
        ],
    );
    assert_eq!(offline.status.code(), Some(0), "{}", text(&offline.stderr));
    // Preconditions hash what was read; the export holds more properties than were selected.
    let strip = |out: &Output| {
        let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
        for a in v["actions"].as_array_mut().unwrap() {
            a.as_object_mut().unwrap().remove("precondition");
        }
        v
    };
    let live = strip(&live);
    assert_eq!(live, strip(&offline));
    let notes = live["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n["kind"] == "pending_sync"),
        "the synced user's difference is a note: {notes:?}"
    );
}

#[test]
fn a_wrong_secret_exits_1_and_never_prints_it() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    desired_state(dir.path(), &emu);
    let wrong = "Wr0ng-Secret-Value~that-must-not-leak";
    for args in [&["plan"][..], &["plan", "--format", "json", "-v"][..]] {
        let out = idsync(dir.path(), wrong, args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
        assert!(stderr.contains("AADSTS7000215"), "{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(
            !stdout.contains(wrong) && !stderr.contains(wrong),
            "{stdout}\n{stderr}"
        );
    }
    // Not even a prefix of it.
    let out = idsync(dir.path(), wrong, &["plan"]);
    assert!(!text(&out.stderr).contains(&wrong[..12]));
}

#[test]
fn a_missing_secret_variable_is_named() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    desired_state(dir.path(), &emu);
    let out = Command::new(env!("CARGO_BIN_EXE_idsync"))
        .args(["plan", "--dir"])
        .arg(dir.path())
        .env_remove(SECRET_VAR)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("environment variable {SECRET_VAR} is not set")),
        "{stderr}"
    );
    assert_eq!(emu.stats().tokens_issued, 0);
}
