//! `idsync apply` on snapshot files, as a pipeline runs it: each field situation converges
//! and a second plan is empty; saved plans, staleness, tampering, the delete guard and crashes.

mod support;

use std::process::{Command, Stdio};

use assert_cmd::assert::OutputAssertExt;
use predicates::prelude::*;
use serde_json::json;
use support::fixtures::*;
use support::situations::*;

/// Applies and checks that a second plan has nothing left to do.
fn converges(f: &Fixture) -> String {
    let out = f.apply();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "apply failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, plan) = f.plan_code();
    assert_eq!(code, 0, "second plan is not empty:\n{plan}");
    text
}

#[test]
fn cloud_first_tenant_gets_ad_accounts_with_anchors_written_back() {
    let f = s1_cloud_first();
    converges(&f);
    let entry = f
        .ad_entry("Alva Wood")
        .expect("created in the provisioning OU");
    assert!(
        entry.starts_with(&format!("dn: CN=Alva Wood,{CLOUD_OU}")),
        "{entry}"
    );
    assert_eq!(
        ldif_value(&entry, "userPrincipalName"),
        Some("alva.wood@example.com")
    );
    assert_eq!(ldif_value(&entry, "mail"), Some("alva.wood@example.com"));
    assert!(entry.contains("proxyAddresses: SMTP:alva.wood@example.com"));
    assert!(entry.contains("proxyAddresses: smtp:alva@example.com"));
    assert!(
        !entry.to_lowercase().contains("unicodepwd"),
        "a snapshot never holds a password"
    );
    let guid = ldif_value(&entry, "objectGUID").unwrap();
    assert_eq!(ldif_value(&entry, "mS-DS-ConsistencyGuid"), Some(guid));
    assert_eq!(
        f.cloud_user("alva.wood@example.com")["onPremisesImmutableId"],
        guid
    );
    assert!(f.ad_entry("bob").is_some());
}

#[test]
fn local_suffix_is_prepared_for_soft_match() {
    let f = s2_local_suffix();
    converges(&f);
    let e = f.ad_entry("John Doe").unwrap();
    assert_eq!(
        ldif_value(&e, "userPrincipalName"),
        Some("jdoe@example.com")
    );
    assert_eq!(ldif_value(&e, "mail"), Some("jdoe@example.com"));
    assert!(e.contains("proxyAddresses: SMTP:jdoe@example.com"));
}

#[test]
fn hard_match_sets_immutable_id_and_leaves_matched_pairs_alone() {
    let f = s3_hard_match();
    let before = f.ad_entry("Sara Smith").unwrap();
    let out = converges(&f);
    assert!(!out.contains("Sara Smith"), "{out}");
    assert_eq!(f.ad_entry("Sara Smith").unwrap(), before);
    assert_eq!(
        f.cloud_user("mike@example.com")["onPremisesImmutableId"],
        b64(&guid(2))
    );
}

#[test]
fn consistency_guid_is_written_back_and_equals_the_immutable_id() {
    let f = s4_consistency_guid();
    converges(&f);
    let e = f.ad_entry("Kim Lee").unwrap();
    let anchor = ldif_value(&e, "mS-DS-ConsistencyGuid").unwrap();
    assert_eq!(anchor, b64(&guid(1)));
    assert_eq!(
        f.cloud_user("kim@example.com")["onPremisesImmutableId"],
        anchor
    );
}

#[test]
fn conflicts_stay_untouched_while_the_rest_converges() {
    let f = s5_conflicts();
    let before: Vec<Option<String>> = [
        "Pat White",
        "Tom A",
        "Tom B",
        "Dup One",
        "Dup Two",
        "Chris A",
        "Chris B",
    ]
    .iter()
    .map(|c| f.ad_entry(c))
    .collect();
    let out = f.idsync(&["plan", "--format", "json"]).output().unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = plan["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    for k in [
        "invalid_soft_match",
        "duplicate_upn",
        "duplicate_smtp",
        "ambiguous_match",
        "missing_object",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    converges(&f);
    let after: Vec<Option<String>> = [
        "Pat White",
        "Tom A",
        "Tom B",
        "Dup One",
        "Dup Two",
        "Chris A",
        "Chris B",
    ]
    .iter()
    .map(|c| f.ad_entry(c))
    .collect();
    assert_eq!(before, after);
    assert!(f.cloud_user("pat@example.com")["onPremisesImmutableId"] == "b3RoZXI=");
    assert!(f.cloud_user("gone@example.com")["onPremisesImmutableId"].is_null());
    assert_eq!(
        f.cloud_user("fine@example.com")["onPremisesImmutableId"],
        b64(&guid(8))
    );
}

#[test]
fn only_in_scope_objects_change() {
    let f = s6_scope();
    let outside: Vec<Option<String>> = ["Other", "Excluded", "svc-backup"]
        .iter()
        .map(|c| f.ad_entry(c))
        .collect();
    converges(&f);
    assert_eq!(
        outside,
        ["Other", "Excluded", "svc-backup"]
            .iter()
            .map(|c| f.ad_entry(c))
            .collect::<Vec<_>>()
    );
    for upn in [
        "other@example.com",
        "excluded@example.com",
        "svc-backup@example.com",
    ] {
        assert!(
            f.cloud_user(upn)["onPremisesImmutableId"].is_null(),
            "{upn}"
        );
    }
    assert_eq!(
        ldif_value(&f.ad_entry("Inside").unwrap(), "userPrincipalName"),
        Some("inside@example.com")
    );
}

#[test]
fn synced_protected_and_ignored_objects_are_not_written() {
    let f = s7_synced_protected_ignored();
    let cloud_before = f.read("entra.json");
    let (_, plan) = f.plan_code();
    assert!(plan.contains("pending_sync kate@example.com"), "{plan}");
    assert!(plan.contains("protected breakglass@example.com"), "{plan}");
    assert!(!plan.contains("room@"), "{plan}");
    converges(&f);
    assert_eq!(f.read("entra.json"), cloud_before);
    assert!(f.ad_entry("breakglass").is_none() && f.ad_entry("room").is_none());
}

#[test]
fn max_deletes_stops_apply_before_any_write() {
    let f = s8_threshold();
    let (ad, entra) = (f.read("ad.ldif"), f.read("entra.json"));
    f.idsync(&["apply", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("max_deletes"));
    assert_eq!((f.read("ad.ldif"), f.read("entra.json")), (ad, entra));
    f.idsync(&["plan"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("deprovision.max_deletes (2)"));
}

#[test]
fn diagnostics_block_only_their_identity() {
    let f = s9_diagnostics();
    let (_, plan) = f.plan_code();
    assert!(
        plan.contains("topleveldomain") && plan.contains("character"),
        "{plan}"
    );
    let blocked = (f.ad_entry("Rob Brown"), f.ad_entry("Eve Adams"));
    converges(&f);
    assert_eq!(blocked, (f.ad_entry("Rob Brown"), f.ad_entry("Eve Adams")));
    assert_eq!(
        ldif_value(&f.ad_entry("Good").unwrap(), "userPrincipalName"),
        Some("good@example.com")
    );
}

#[test]
fn the_embedded_example_converges() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_idsync"))
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["apply", "--auto-approve"]).status.success());
    assert_eq!(run(&["plan", "--detailed-exitcode"]).status.code(), Some(0));
}

// ----- saved plans -----

#[test]
fn a_saved_plan_applies_and_leaves_nothing_to_do() {
    let f = s2_local_suffix();
    f.idsync(&["plan", "--out", "plan.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Saved the plan"));
    let saved = f.read("plan.json");
    assert!(saved.contains("\"desired_digest\""));
    f.idsync(&["apply", "plan.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Apply complete"));
    assert_eq!(f.plan_code().0, 0);
}

#[test]
fn an_object_changed_after_the_plan_makes_its_action_stale() {
    let f = s2_local_suffix();
    f.idsync(&["plan", "--out", "plan.json"]).assert().success();
    // Someone edits the AD object between plan and apply (AD bumps uSNChanged).
    let ldif = f
        .read("ad.ldif")
        .replace("uSNChanged: 1001", "uSNChanged: 1002\ntitle: Boss");
    std::fs::write(f.path("ad.ldif"), ldif).unwrap();
    f.idsync(&["apply", "plan.json"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("STALE"))
        .stdout(predicate::str::contains("stale: CN=John Doe"));
    // The cloud side of the same identity still applied.
    assert_eq!(
        f.cloud_user("jdoe@example.com")["onPremisesImmutableId"],
        b64(&guid(1))
    );
    assert!(
        f.ad_entry("John Doe")
            .unwrap()
            .contains("userPrincipalName: jdoe@corp.local")
    );

    // A cloud object changed after the plan: stale too.
    let f = s2_local_suffix();
    f.idsync(&["plan", "--out", "plan.json"]).assert().success();
    let json = f.read("entra.json").replace(
        "\"accountEnabled\": true",
        "\"accountEnabled\": true,\n      \"jobTitle\": \"Boss\"",
    );
    std::fs::write(f.path("entra.json"), json).unwrap();
    f.idsync(&["apply", "plan.json"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "stale: jdoe@example.com changed since the plan",
        ));
}

#[test]
fn a_changed_desired_state_refuses_the_whole_plan() {
    let f = s2_local_suffix();
    f.idsync(&["plan", "--out", "plan.json"]).assert().success();
    let ad = f.read("ad.ldif");
    let yaml = f.read("desired/idsync.yaml") + "attributes:\n  jobTitle: ad\n";
    std::fs::write(f.path("desired/idsync.yaml"), yaml).unwrap();
    f.idsync(&["apply", "plan.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "changed since plan.json was planned",
        ));
    assert_eq!(f.read("ad.ldif"), ad);
}

#[test]
fn truncated_tampered_or_foreign_plan_files_are_refused() {
    let f = s2_local_suffix();
    f.idsync(&["plan", "--out", "plan.json"]).assert().success();
    let good = f.read("plan.json");
    let ad = f.read("ad.ldif");
    let cases = [
        (good[..good.len() / 3].to_owned(), "truncated"),
        (
            good.replace("jdoe@example.com", "evil@example.com"),
            "modified since",
        ),
        (
            good.replace("\"version\": 2", "\"version\": 3"),
            "layout version 3",
        ),
        ("{\"hello\": 1}".to_owned(), "not a saved idsync plan"),
    ];
    for (text, expected) in cases {
        std::fs::write(f.path("plan.json"), text).unwrap();
        f.idsync(&["apply", "plan.json"])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(expected));
        assert_eq!(f.read("ad.ldif"), ad);
    }
}

#[test]
fn plan_files_hold_no_secrets_and_can_be_signed() {
    let f = s1_cloud_first();
    f.idsync(&["plan", "--out", "plan.json"])
        .env("IDSYNC_PLAN_KEY", "k3y")
        .assert()
        .success();
    let text = f.read("plan.json");
    assert!(text.contains("hmac-sha256:"));
    // No password member (`"password": …`, `unicodePwd`) anywhere; a forecast of kind
    // "password" (what password hash sync will do) is a value, not a secret.
    let lower = text.to_lowercase();
    assert!(!text.contains("k3y"));
    assert!(!lower.contains("password\":") && !lower.contains("unicodepwd"));
    f.idsync(&["apply", "plan.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("IDSYNC_PLAN_KEY"));
    f.idsync(&["apply", "plan.json"])
        .env("IDSYNC_PLAN_KEY", "other")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("signed with another key"));
    f.idsync(&["apply", "plan.json"])
        .env("IDSYNC_PLAN_KEY", "k3y")
        .assert()
        .success();
}

#[test]
fn apply_without_a_terminal_needs_auto_approve() {
    let f = s2_local_suffix();
    let ad = f.read("ad.ldif");
    f.idsync(&["apply"])
        .stdin(Stdio::null())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--auto-approve"));
    assert_eq!(f.read("ad.ldif"), ad);
}

#[test]
fn apply_reports_json_per_action() {
    let f = s2_local_suffix();
    let out = f
        .idsync(&["apply", "--auto-approve", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["applied"], 3);
    assert!(
        report["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] == "applied")
    );
}

#[test]
fn a_create_that_became_taken_is_stale() {
    let f = s1_cloud_first();
    f.idsync(&["plan", "--out", "plan.json"]).assert().success();
    // Someone creates an account with the planned names in another OU meanwhile.
    let mut ldif = f.read("ad.ldif");
    ldif.push_str(&format!("\ndn: CN=Squatter,OU=Legacy,{BASE}\nobjectClass: user\nobjectGUID:: {}\nsAMAccountName: bob\nuserPrincipalName: bob@example.com\n", b64(&guid(77))));
    std::fs::write(f.path("ad.ldif"), ldif).unwrap();
    let out = f.idsync(&["apply", "plan.json"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("stale: userPrincipalName bob@example.com is now taken by CN=Squatter"),
        "{text}"
    );
    // A fresh plan turns it into a conflict instead of a create.
    let (_, plan) = f.plan_code();
    assert!(plan.contains("provision_collision"), "{plan}");
}

#[test]
fn partial_failure_reports_each_action_and_a_rerun_finishes_without_duplicates() {
    let f = s1_cloud_first();
    f.idsync(&["plan", "--out", "plan.json"]).assert().success();
    // An object appears at the DN a create wants: AD refuses the add. (Not a user, so a fresh
    // plan still plans that create; a user there would make it plan another DN instead.)
    let mut ldif = f.read("ad.ldif");
    ldif.push_str(&format!(
        "\ndn: CN=bob,{CLOUD_OU}\nobjectClass: container\nobjectGUID:: {}\n",
        b64(&guid(77))
    ));
    std::fs::write(f.path("ad.ldif"), ldif).unwrap();
    let out = f.idsync(&["apply", "plan.json"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("applied       a1 create ad"), "{text}");
    assert!(text.contains("FAILED        a2 create ad"), "{text}");
    assert!(text.contains("already exists"), "{text}");
    assert!(
        text.contains("not attempted") && text.contains("depends on"),
        "{text}"
    );
    assert!(
        text.contains("Apply incomplete: 3 applied, 1 failed, 0 stale"),
        "{text}"
    );
    // A second run, once the DN is free, finishes the job: Alva is not created twice.
    let ldif = f.read("ad.ldif");
    let blocker = format!(
        "\ndn: CN=bob,{CLOUD_OU}\nobjectClass: container\nobjectGUID:: {}\n",
        b64(&guid(77))
    );
    std::fs::write(f.path("ad.ldif"), ldif.replace(&blocker, "")).unwrap();
    let out = f.apply();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(f.plan_code().0, 0);
    assert_eq!(f.read("ad.ldif").matches("dn: CN=Alva Wood").count(), 1);
    assert!(
        f.read("ad.ldif")
            .contains(&format!("dn: CN=bob,{CLOUD_OU}"))
    );
}

#[test]
fn a_crash_mid_apply_leaves_parseable_files_and_a_rerun_completes() {
    // Many cloud-only users make a long apply; kill it (SIGKILL) at several moments.
    let n = 1000u16;
    let users: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let mut u = cloud(
                0,
                &format!("u{i}@example.com"),
                json!({"displayName": format!("User {i}")}),
            );
            u["id"] = json!(format!("00000000-0000-4000-8000-00000000{i:04x}"));
            u
        })
        .collect();
    let mut interrupted = 0;
    for delay_ms in [30u64, 150, 300, 500, 800] {
        let f = Fixture::new(&provisioning(""), &[], &users);
        let mut child = f
            .idsync(&["apply", "--auto-approve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.code().is_none() {
            interrupted += 1;
        }
        // Both files are whole, old or new: plan reads them (exit 0 or 2, never 1).
        let (code, out) = f.plan_code();
        assert!(
            code == 0 || code == 2,
            "after a kill at {delay_ms} ms: {out}"
        );
        let out = f.apply();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(f.plan_code().0, 0);
        assert_eq!(
            f.read("ad.ldif").matches("dn: CN=User ").count(),
            usize::from(n),
            "each account exactly once"
        );
    }
    assert!(interrupted > 0, "no kill landed while apply was running");
}

// how-to-connect-install-existing-tenant, "Hard-match vs Soft-match": with
// BlockCloudObjectTakeoverThroughHardMatchEnabled on, Entra Connect refuses to take over a
// cloud-managed user by its anchor, so idsync must not set onPremisesImmutableId on one: the
// soft match it prepares pairs them. Read from the snapshot folder's
// onPremisesSynchronization.json, as `GET /directory/onPremisesSynchronization` answers.
#[test]
fn with_hard_match_takeover_blocked_apply_sets_no_anchor_on_cloud_users() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let sync = dir
        .path()
        .join("examples/contoso/entra/onPremisesSynchronization.json");
    let text = std::fs::read_to_string(&sync).unwrap().replace(
        "\"blockCloudObjectTakeoverThroughHardMatchEnabled\": false",
        "\"blockCloudObjectTakeoverThroughHardMatchEnabled\": true",
    );
    std::fs::write(&sync, text).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_idsync"))
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["plan", "--format", "json"]);
    assert!(out.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entra_links: Vec<&serde_json::Value> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "link" && a["directory"] == "entra")
        .collect();
    assert!(entra_links.is_empty(), "{entra_links:#?}");
    let blocked: Vec<&str> = plan["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "match_blocked")
        .map(|c| c["message"].as_str().unwrap())
        .collect();
    assert!(!blocked.is_empty());
    assert!(
        blocked
            .iter()
            .all(|m| m.contains("InvalidHardMatch") || m.contains("hard match"))
    );

    let users = dir.path().join("examples/contoso/entra/users.json");
    let before: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&users).unwrap()).unwrap();
    assert!(run(&["apply", "--auto-approve"]).status.success());
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&users).unwrap()).unwrap();
    let anchors = |v: &serde_json::Value| -> Vec<(String, serde_json::Value)> {
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["id"].as_str().unwrap().to_owned(),
                    u["onPremisesImmutableId"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(anchors(&before), anchors(&after), "apply set an anchor");
}
