//! idsync doing its whole job against live directories at once: a real Samba AD DC and the
//! Graph emulator, through the built binary, as an admin or a pipeline runs it.

mod support;

use graph_emulator::{Config, Emulator, RunningEmulator};
use serde_json::{Value, json};
use support::live_fixture::*;
use support::samba::{SambaDc, shared_dc};

/// The emulator with these users, and the `directories.entra` YAML pointing at it.
fn tenant(users: Vec<Value>) -> RunningEmulator {
    let config = Config::default()
        .with_tenant_json(json!({ "value": users }))
        .unwrap();
    Emulator::start_blocking(config).unwrap()
}

fn entra_yaml(emu: &RunningEmulator) -> String {
    format!(
        "  entra:\n    tenant_id: {}\n    client_id: {}\n    client_secret: {{ env: {SECRET_VAR} }}\n    login_url: {}\n    graph_url: {}\n",
        emu.tenant_id(),
        emu.client_id(),
        emu.base_url(),
        emu.base_url()
    )
}

fn live<'d>(dc: &'d SambaDc, name: &str, emu: &RunningEmulator) -> LiveFixture<'d> {
    let mut f = LiveFixture::new(dc, name);
    f.env.push((SECRET_VAR.into(), emu.client_secret().into()));
    f
}

fn provisioning(f: &LiveFixture<'_>, extra: &str) -> String {
    format!(
        "provision:\n  ad:\n    enabled: true\n    ou: \"{}\"\n    sam_account_name: \"{{mailNickname}}\"\n{extra}",
        f.cloud_ou()
    )
}

fn cloud(emu: &RunningEmulator, upn: &str) -> Value {
    emu.user(upn)
        .unwrap_or_else(|| panic!("no cloud user {upn}"))
}

#[test]
fn cloud_first_tenant_gets_ad_accounts_and_anchors_on_both_sides() {
    let emu = tenant(vec![
        cloud_user(
            1,
            "e2e-alva.wood@example.com",
            json!({"mail": "e2e-alva.wood@example.com", "proxyAddresses": ["SMTP:e2e-alva.wood@example.com", "smtp:e2e-alva@example.com"], "displayName": "Alva Wood", "givenName": "Alva", "surname": "Wood", "userType": "Member"}),
        ),
        cloud_user(
            2,
            "e2e-nina@example.com",
            json!({"displayName": "Nina Patel", "userType": "Member"}),
        ),
    ]);
    let f = live(shared_dc(), "e2e-cloudfirst", &emu);
    f.desired(&entra_yaml(&emu), &provisioning(&f, ""));
    f.converges();
    for (sam, upn) in [
        ("e2e-alva.wood", "e2e-alva.wood@example.com"),
        ("e2e-nina", "e2e-nina@example.com"),
    ] {
        let u = f.user(sam).unwrap_or_else(|| panic!("{sam} created"));
        assert!(u.dn.contains(",OU=Cloud,"), "{}", u.dn);
        assert_eq!(u.get("userPrincipalName").as_deref(), Some(upn));
        assert!(u.get("mail").is_some());
        assert!(
            u.get_all("proxyAddresses")
                .iter()
                .any(|p| p.starts_with("SMTP:"))
        );
        assert_eq!(u.get("userAccountControl").as_deref(), Some("512"));
        assert_eq!(
            u.bytes("mS-DS-ConsistencyGuid"),
            u.bytes("objectGUID"),
            "{sam}: ConsistencyGuid = objectGUID"
        );
        assert_eq!(
            cloud(&emu, upn)["onPremisesImmutableId"],
            f.anchor(sam),
            "{upn}: immutableId = base64(objectGUID)"
        );
    }
    assert_eq!(emu.stats().early_requests, 0);
}

#[test]
fn soft_match_preparation_of_a_local_suffix() {
    let emu = tenant(vec![cloud_user(
        1,
        "e2e-jdoe@example.com",
        json!({"mail": "e2e-jdoe@example.com", "proxyAddresses": ["SMTP:e2e-jdoe@example.com"]}),
    )]);
    let f = live(shared_dc(), "e2e-soft", &emu);
    f.seed("dn: CN=John Doe,{OU}\nobjectClass: user\nsAMAccountName: e2e-jdoe\nuserPrincipalName: e2e-jdoe@corp.local\n");
    f.desired(&entra_yaml(&emu), "");
    f.converges();
    let u = f.user("e2e-jdoe").unwrap();
    assert_eq!(
        u.get("userPrincipalName").as_deref(),
        Some("e2e-jdoe@example.com")
    );
    assert_eq!(u.get("mail").as_deref(), Some("e2e-jdoe@example.com"));
    assert_eq!(u.get_all("proxyAddresses"), ["SMTP:e2e-jdoe@example.com"]);
    assert_eq!(
        cloud(&emu, "e2e-jdoe@example.com")["onPremisesImmutableId"],
        f.anchor("e2e-jdoe")
    );
}

#[test]
fn hard_match_of_existing_pairs() {
    let dc = shared_dc();
    let ou = dc.test_ou("e2e-hard-seed");
    ou.seed("dn: CN=Sara Smith,{OU}\nobjectClass: user\nsAMAccountName: e2e-sara\nuserPrincipalName: e2e-sara@example.com\ndisplayName: Sara Smith\n");
    let sara = base64(&ou.users()[0]);
    let emu = tenant(vec![cloud_user(
        1,
        "e2e-sara@example.com",
        json!({"onPremisesImmutableId": sara, "displayName": "Sara Smith"}),
    )]);
    let f = live(dc, "e2e-hard", &emu);
    // The user lives in the seed OU: put it in scope by moving it into the fixture's OU.
    dc.ldapmodify(&format!("dn: CN=Sara Smith,{}\nchangetype: modrdn\nnewrdn: CN=Sara Smith\ndeleteoldrdn: 1\nnewsuperior: {}\n", ou.dn(), f.ou_dn()));
    f.desired(
        &entra_yaml(&emu),
        "matching:\n  source_anchor: objectGUID\nattributes:\n  displayName: ad\n",
    );
    let (code, plan) = f.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        code, 0,
        "a hard-matched, converged pair needs nothing:\n{plan}"
    );
    assert_eq!(emu.stats().writes_applied, 0);
}

fn base64(e: &support::samba::Entry) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(e.bytes("objectGUID").unwrap())
}

#[test]
fn scope_with_exclusions_and_an_ou_rename_that_must_not_cascade() {
    let dc = shared_dc();
    let mut users: Vec<Value> = (1..=5)
        .map(|n| cloud_user(n, &format!("e2e-sales{n}@example.com"), json!({})))
        .collect();
    users.push(cloud_user(9, "e2e-stays@example.com", json!({})));
    let emu = tenant(users);
    let f = live(dc, "e2e-rename", &emu);
    f.seed("dn: OU=Sales,{OU}\nobjectClass: organizationalUnit\n");
    for n in 1..=5 {
        f.seed(&format!("dn: CN=Sales {n},OU=Sales,{{OU}}\nobjectClass: user\nsAMAccountName: e2e-sales{n}\nuserPrincipalName: e2e-sales{n}@example.com\n"));
    }
    f.seed("dn: CN=Service Acct,OU=Service,{OU}\nobjectClass: user\nsAMAccountName: e2e-svc\nuserPrincipalName: e2e-svc@example.com\n");
    f.seed("dn: CN=Stays,{OU}\nobjectClass: user\nsAMAccountName: e2e-stays\nuserPrincipalName: e2e-stays@example.com\n");
    // AD is the source of existence: cloud users whose anchor names no in-scope AD object go.
    f.desired(
        &entra_yaml(&emu),
        "provision:\n  entra:\n    enabled: true\ndeprovision:\n  action: delete\n  max_deletes: 2\n",
    );
    let yaml_path = f.path("desired/idsync.yaml");
    let yaml = std::fs::read_to_string(&yaml_path).unwrap().replace(
        &format!("  ous: [ \"{}\" ]\n", f.ou_dn()),
        &format!(
            "  ous: [ \"{0}\" ]\n  exclude_ous: [ \"OU=Service,{0}\" ]\n",
            f.ou_dn()
        ),
    );
    std::fs::write(&yaml_path, yaml).unwrap();
    f.converges();
    for n in 1..=5 {
        assert_eq!(
            cloud(&emu, &format!("e2e-sales{n}@example.com"))["onPremisesImmutableId"],
            f.anchor(&format!("e2e-sales{n}"))
        );
    }
    // The excluded service account got no cloud twin.
    assert!(emu.user("e2e-svc@example.com").is_none());

    // Someone moves the Sales OU out of scope ("renames" it under Archive).
    let archive = dc.test_ou("e2e-archive");
    dc.ldapmodify(&format!(
        "dn: OU=Sales,{}\nchangetype: modrdn\nnewrdn: OU=Sales\ndeleteoldrdn: 1\nnewsuperior: {}\n",
        f.ou_dn(),
        archive.dn()
    ));
    let ad_before = f.ad_state();
    let cloud_before = emu.users_snapshot();
    let (code, out) = f.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("deprovision.max_deletes (2)") && out.contains("renamed or moved OU"),
        "{out}"
    );
    assert_eq!(f.ad_state(), ad_before);
    assert_eq!(
        emu.users_snapshot(),
        cloud_before,
        "nothing deleted in the cloud"
    );
    let (code, out) = f.run(&["drift"]);
    assert_eq!(code, 1, "drift fails on the guard too:\n{out}");
}

#[test]
fn out_of_band_changes_in_ad_and_in_entra_are_drift() {
    let dc = shared_dc();
    let emu = tenant(vec![
        cloud_user(
            1,
            "e2e-mia@example.com",
            json!({"jobTitle": "Lead", "department": "Ops"}),
        ),
        cloud_user(
            2,
            "e2e-leo@example.com",
            json!({"jobTitle": "Dev", "department": "Eng"}),
        ),
    ]);
    let f = live(dc, "e2e-drift", &emu);
    f.seed("dn: CN=Mia,{OU}\nobjectClass: user\nsAMAccountName: e2e-mia\nuserPrincipalName: e2e-mia@example.com\ntitle: Lead\ndepartment: Ops\n\ndn: CN=Leo,{OU}\nobjectClass: user\nsAMAccountName: e2e-leo\nuserPrincipalName: e2e-leo@example.com\ntitle: Dev\ndepartment: Eng\n");
    f.desired(
        &entra_yaml(&emu),
        "attributes:\n  jobTitle: ad\n  department: entra\n",
    );
    f.converges();
    assert_eq!(f.run(&["drift"]).0, 0);

    // Out of band: AD is authoritative for jobTitle, someone edits it in Entra; Entra is
    // authoritative for department, someone edits it in AD.
    let id = cloud(&emu, "e2e-mia@example.com")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut mia = cloud(&emu, &id);
    mia["jobTitle"] = json!("Boss");
    emu.insert_user(mia).unwrap();
    let leo = f.user("e2e-leo").unwrap().dn;
    dc.ldapmodify(&format!(
        "dn: {leo}\nchangetype: modify\nreplace: department\ndepartment: Marketing\n"
    ));

    let (code, out) = f.run(&["drift", "--format", "json"]);
    assert_eq!(code, 2, "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let summaries: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["summary"].as_str().unwrap())
        .collect();
    assert!(
        summaries
            .iter()
            .any(|s| s.contains("entra e2e-mia@example.com")
                && s.contains("jobTitle")
                && s.contains("Boss")),
        "{summaries:?}"
    );
    assert!(
        summaries
            .iter()
            .any(|s| s.contains("CN=Leo,") && s.contains("department") && s.contains("Marketing")),
        "{summaries:?}"
    );
    let (_, junit) = f.run(&["drift", "--format", "junit"]);
    let doc = roxmltree::Document::parse(&junit).unwrap();
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count(),
        2
    );
    // Converging again ends the drift.
    f.converges();
    assert_eq!(f.run(&["drift"]).0, 0);
}

#[test]
fn saved_plans_go_stale_on_either_side_and_import_pins_the_pairs() {
    let dc = shared_dc();
    let emu = tenant(vec![
        cloud_user(
            1,
            "e2e-st1@example.com",
            json!({"mail": "e2e-st1@example.com"}),
        ),
        cloud_user(
            2,
            "e2e-st2@example.com",
            json!({"mail": "e2e-st2@example.com"}),
        ),
    ]);
    let f = live(dc, "e2e-stale", &emu);
    f.seed("dn: CN=St One,{OU}\nobjectClass: user\nsAMAccountName: e2e-st1\nuserPrincipalName: e2e-st1@corp.local\n\ndn: CN=St Two,{OU}\nobjectClass: user\nsAMAccountName: e2e-st2\nuserPrincipalName: e2e-st2@corp.local\n");
    f.desired(&entra_yaml(&emu), "");
    assert_eq!(f.run(&["plan", "--out", "plan.json"]).0, 0);
    // AD object one and cloud object two change between plan and apply.
    let one = f.user("e2e-st1").unwrap().dn;
    dc.ldapmodify(&format!(
        "dn: {one}\nchangetype: modify\nreplace: title\ntitle: Changed\n"
    ));
    let mut two = cloud(&emu, "e2e-st2@example.com");
    two["displayName"] = json!("Changed in the portal");
    emu.insert_user(two).unwrap();
    let (code, out) = f.run(&["apply", "plan.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("stale: CN=St One"), "{out}");
    assert!(
        out.contains("stale: e2e-st2@example.com changed since the plan"),
        "{out}"
    );
    f.converges();

    // Import today's pairs into the desired state: it validates and plans nothing new.
    let (code, out) = f.run(&["import", "--from", "ad", "--out", "desired/imported.yaml"]);
    assert_eq!(code, 0, "{out}");
    let imported = std::fs::read_to_string(f.path("desired/imported.yaml")).unwrap();
    assert!(
        imported.contains("sam_account_name: \"e2e-st1\""),
        "{imported}"
    );
    assert_eq!(f.run(&["validate"]).0, 0);
    assert_eq!(f.run(&["plan", "--detailed-exitcode"]).0, 0);
}

#[test]
fn partial_failures_then_a_rerun_completes_with_no_duplicates() {
    let users: Vec<Value> = (1..=12)
        .map(|n| {
            cloud_user(
                n,
                &format!("e2e-pf{n}@example.com"),
                json!({"displayName": format!("PF {n}")}),
            )
        })
        .collect();
    let emu = tenant(users);
    let f = live(shared_dc(), "e2e-partial", &emu);
    f.desired(&entra_yaml(&emu), &provisioning(&f, ""));

    // 1. Transient trouble: 503s and dropped connections on about a quarter of the requests.
    // The connector retries; everything lands exactly once. (Rates this high and not higher:
    // the draws are random, and six failures in a row make the connector give up — at
    // 0.3/0.2 that happened about once in a few dozen runs.)
    emu.update_knobs(|k| {
        k.fail_rate = 0.15;
        k.drop_rate = 0.1;
        k.retry_after_503 = 0;
    })
    .unwrap();
    f.converges();
    emu.update_knobs(|k| {
        k.fail_rate = 0.0;
        k.drop_rate = 0.0;
    })
    .unwrap();
    assert_eq!(
        f.ou.entries("(objectClass=user)", &["cn"]).len(),
        12,
        "each account created once"
    );

    // 2. A hard outage of Graph's batch endpoint after the plan: apply's fresh plan still
    // reads (paged GETs), AD writes land, Entra re-reads and writes fail; the rerun finishes
    // the job.
    let more: Vec<Value> = (13..=16)
        .map(|n| cloud_user(n, &format!("e2e-pf{n}@example.com"), json!({})))
        .collect();
    for u in more {
        emu.insert_user(u).unwrap();
    }
    assert_eq!(f.run(&["plan", "--out", "plan.json"]).0, 0);
    emu.update_knobs(|k| {
        k.item_fail_rate = 1.0;
        k.retry_after_503 = 0;
    })
    .unwrap();
    let (code, out) = f.run(&["apply", "plan.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Entra is unreachable"), "{out}");
    assert!(out.contains("applied       a1 create ad"), "{out}");
    emu.update_knobs(|k| k.item_fail_rate = 0.0).unwrap();
    f.converges();
    assert_eq!(
        f.ou.entries("(objectClass=user)", &["cn"]).len(),
        16,
        "nothing created twice"
    );
    for n in 1..=16 {
        let upn = format!("e2e-pf{n}@example.com");
        assert_eq!(
            cloud(&emu, &upn)["onPremisesImmutableId"],
            f.anchor(&format!("e2e-pf{n}")),
            "{upn}"
        );
    }
}

#[test]
fn the_dc_stopped_mid_apply_then_a_rerun_completes() {
    // A private DC: this test stops it.
    let dc = SambaDc::launch();
    let n = 150;
    let users: Vec<Value> = (1..=n)
        .map(|i| {
            cloud_user(
                i,
                &format!("e2e-dc{i}@example.com"),
                json!({"displayName": format!("DC {i}")}),
            )
        })
        .collect();
    let emu = tenant(users);
    let f = live(&dc, "e2e-dcstop", &emu);
    f.desired(&entra_yaml(&emu), &provisioning(&f, ""));
    let child = f
        .idsync(&["apply", "--auto-approve"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Creating 150 accounts with passwords takes seconds; stop the DC while it runs.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    dc.stop();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("AD is unreachable") || text.contains("not attempted"),
        "{text}"
    );
    dc.start();
    let created_before = f.ou.entries("(objectClass=user)", &["cn"]).len();
    assert!(
        created_before < n as usize,
        "the stop landed mid-apply ({created_before} created)"
    );
    f.converges();
    let all = f.ou.entries("(objectClass=user)", &["sAMAccountName"]);
    assert_eq!(all.len(), n as usize, "every account exactly once");
    for i in [1, n / 2, n] {
        let upn = format!("e2e-dc{i}@example.com");
        assert_eq!(
            cloud(&emu, &upn)["onPremisesImmutableId"],
            f.anchor(&format!("e2e-dc{i}")),
            "{upn}"
        );
    }
}
