//! Every field situation applied to live Entra (the Graph emulator), AD from an LDIF
//! snapshot: apply converges and a second plan is empty; synced users' refusals stay notes.

mod support;

use serde_json::json;
use support::fixtures::*;
use support::situations::*;

/// `idsync ARGS` with the emulator's secret in the environment.
fn run(f: &Fixture, emu: &graph_emulator::RunningEmulator, args: &[&str]) -> (i32, String) {
    let out = f
        .idsync(args)
        .env(ENTRA_SECRET_VAR, emu.client_secret())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn converges(f: &Fixture, emu: &graph_emulator::RunningEmulator) -> String {
    let (code, out) = run(f, emu, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{out}");
    let (code, plan) = run(f, emu, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "second plan is not empty:\n{plan}");
    assert_eq!(
        emu.stats().early_requests,
        0,
        "a request was sent before Retry-After"
    );
    out
}

#[test]
fn cloud_first() {
    let f = s1_cloud_first();
    let emu = f.with_live_entra();
    converges(&f, &emu);
    let entry = f.ad_entry("Alva Wood").unwrap();
    let guid = ldif_value(&entry, "objectGUID").unwrap();
    assert_eq!(ldif_value(&entry, "mS-DS-ConsistencyGuid"), Some(guid));
    assert_eq!(
        live_user(&emu, "alva.wood@example.com")["onPremisesImmutableId"],
        guid
    );
}

#[test]
fn local_suffix() {
    let f = s2_local_suffix();
    let emu = f.with_live_entra();
    converges(&f, &emu);
    assert_eq!(
        ldif_value(&f.ad_entry("John Doe").unwrap(), "userPrincipalName"),
        Some("jdoe@example.com")
    );
    assert_eq!(
        live_user(&emu, "jdoe@example.com")["onPremisesImmutableId"],
        b64(&guid(1))
    );
}

#[test]
fn hard_match() {
    let f = s3_hard_match();
    let emu = f.with_live_entra();
    let before = live_user(&emu, "sara@example.com");
    converges(&f, &emu);
    assert_eq!(live_user(&emu, "sara@example.com"), before);
    assert_eq!(
        live_user(&emu, "mike@example.com")["onPremisesImmutableId"],
        b64(&guid(2))
    );
}

#[test]
fn consistency_guid() {
    let f = s4_consistency_guid();
    let emu = f.with_live_entra();
    converges(&f, &emu);
    assert_eq!(
        live_user(&emu, "kim@example.com")["onPremisesImmutableId"],
        b64(&guid(1))
    );
}

#[test]
fn conflicts() {
    let f = s5_conflicts();
    let emu = f.with_live_entra();
    let pat = live_user(&emu, "pat@example.com");
    converges(&f, &emu);
    assert_eq!(live_user(&emu, "pat@example.com"), pat);
    assert!(live_user(&emu, "gone@example.com")["onPremisesImmutableId"].is_null());
    assert_eq!(
        live_user(&emu, "fine@example.com")["onPremisesImmutableId"],
        b64(&guid(8))
    );
}

#[test]
fn scope() {
    let f = s6_scope();
    let emu = f.with_live_entra();
    converges(&f, &emu);
    for upn in [
        "other@example.com",
        "excluded@example.com",
        "svc-backup@example.com",
    ] {
        assert!(
            live_user(&emu, upn)["onPremisesImmutableId"].is_null(),
            "{upn}"
        );
    }
}

#[test]
fn synced_protected_ignored() {
    let f = s7_synced_protected_ignored();
    let emu = f.with_live_entra();
    let before = emu.users_snapshot();
    let (_, plan) = run(&f, &emu, &["plan"]);
    assert!(plan.contains("pending_sync kate@example.com"), "{plan}");
    converges(&f, &emu);
    assert_eq!(emu.users_snapshot(), before, "nothing written to Entra");
    assert_eq!(emu.stats().writes_applied, 0);
}

#[test]
fn threshold() {
    let f = s8_threshold();
    let emu = f.with_live_entra();
    let ad = f.read("ad.ldif");
    let (code, out) = run(&f, &emu, &["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("max_deletes"), "{out}");
    assert_eq!(f.read("ad.ldif"), ad);
    assert_eq!(emu.stats().writes_applied, 0);
}

#[test]
fn diagnostics() {
    let f = s9_diagnostics();
    let emu = f.with_live_entra();
    converges(&f, &emu);
    assert!(live_user(&emu, "rbrown@corp.lan")["onPremisesImmutableId"].is_null());
    assert_eq!(
        live_user(&emu, "good@example.com")["onPremisesImmutableId"],
        b64(&guid(3))
    );
}

#[test]
fn attribute_updates_and_a_cloud_object_changed_after_the_plan() {
    let a = AdUser::new(1, "Mia Wong", "mwong")
        .upn("mia@example.com")
        .with("title", "Lead")
        .consistency_guid();
    let f = Fixture::new(
        &format!("{DESIRED}attributes:\n  jobTitle: ad\n"),
        std::slice::from_ref(&a),
        &[cloud(
            1,
            "mia@example.com",
            json!({"onPremisesImmutableId": a.immutable_id(), "jobTitle": "Intern"}),
        )],
    );
    let emu = f.with_live_entra();
    let (code, out) = run(&f, &emu, &["plan", "--out", "plan.json"]);
    assert_eq!(code, 0, "{out}");
    // Someone edits the cloud user between plan and apply.
    let id = live_user(&emu, "mia@example.com")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut changed = live_user(&emu, "mia@example.com");
    changed["displayName"] = json!("Mia W. (renamed in the portal)");
    emu.insert_user(changed).unwrap();
    let (code, out) = run(&f, &emu, &["apply", "plan.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stale: mia@example.com changed since the plan"),
        "{out}"
    );
    assert_eq!(live_user(&emu, &id)["jobTitle"], "Intern");
    converges(&f, &emu);
    assert_eq!(live_user(&emu, "mia@example.com")["jobTitle"], "Lead");
}
