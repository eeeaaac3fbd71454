//! `idsync snapshot` against the live Samba DC and the Graph emulator: the exports plan exactly
//! as the live directories do, a re-run replaces them whole, and a failing export leaves the
//! previous snapshot untouched.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use graph_emulator::{Config, Emulator, RunningEmulator};
use serde_json::{Value, json};
use support::samba::{SambaDc, TestOu, shared_dc};

const AD_PASSWORD: &str = "IDSYNC_TEST_AD_PASSWORD";
const ENTRA_SECRET: &str = "IDSYNC_TEST_ENTRA_SECRET";

/// Users of every shape the export must carry: UTF-8 values (base64 in LDIF), a value long
/// enough to fold, a disabled account, a consistency GUID, several proxy addresses. `{P}` is
/// the test's prefix: names unique in the domain differ per test (tests share the DC). Eve is
/// outside the scope filter, which tests an attribute the plan does not otherwise read.
const USERS: &str = "\
dn: CN=Ann Snap,{OU}
objectClass: user
sAMAccountName: {P}-ann
userPrincipalName: ann.{P}@example.com
mail: ann.{P}@example.com
proxyAddresses: SMTP:ann.{P}@example.com
proxyAddresses: smtp:ann@example.com
displayName: Ann Snap
employeeType: staff
title: Head of a department whose name is long enough to fold an LDIF line twice over

dn: CN=Zoë Ærø,{OU}
objectClass: user
sAMAccountName: {P}-zoe
userPrincipalName: zoe.{P}@example.com
mail: zoe.{P}@example.com
proxyAddresses: SMTP:zoe.{P}@example.com
displayName: Zoë Ærø
employeeType: staff
givenName: Zoë
department: Façades
mS-DS-ConsistencyGuid:: AAECAwQFBgcICQoLDA0ODw==

dn: CN=Dan Disabled,{OU}
objectClass: user
sAMAccountName: {P}-dan
userPrincipalName: dan.{P}@example.com
userAccountControl: 514
displayName: Dan Disabled
employeeType: staff

dn: CN=Eve Contractor,{OU}
objectClass: user
sAMAccountName: {P}-eve
userPrincipalName: eve.{P}@example.com
employeeType: contractor
";

/// The tenant: Ann (soft match, a name to update), Zoë (hard match on her consistency GUID,
/// synced), Nina (cloud only: created in AD), a guest.
fn tenant(p: &str) -> Value {
    let v = json!({"value": [
        {"id": "5a000000-0000-0000-0000-000000000001", "userPrincipalName": "ann.{P}@example.com",
         "displayName": "Ann (old name)", "mail": "ann.{P}@example.com", "mailNickname": "ann.snap",
         "proxyAddresses": ["SMTP:ann.{P}@example.com"], "jobTitle": "Chef",
         "accountEnabled": true, "userType": "Member"},
        {"id": "5a000000-0000-0000-0000-000000000002", "userPrincipalName": "zoe.{P}@example.com",
         "displayName": "Zoë (cloud)", "mail": "zoe.{P}@example.com", "mailNickname": "zoe.snap",
         "proxyAddresses": ["SMTP:zoe.{P}@example.com"], "accountEnabled": true,
         "userType": "Member", "onPremisesSyncEnabled": true,
         "onPremisesImmutableId": "AAECAwQFBgcICQoLDA0ODw=="},
        {"id": "5a000000-0000-0000-0000-000000000003", "userPrincipalName": "nina.{P}@example.com",
         "displayName": "Nina Snap", "givenName": "Nina", "surname": "Snap",
         "mail": "nina.{P}@example.com", "mailNickname": "nina.snap",
         "proxyAddresses": ["SMTP:nina.{P}@example.com"], "accountEnabled": true,
         "userType": "Member", "usageLocation": "DE"},
        {"id": "5a000000-0000-0000-0000-000000000004",
         "userPrincipalName": "guest_other.org#EXT#@example.onmicrosoft.com",
         "displayName": "A Guest", "accountEnabled": true, "userType": "Guest"}
    ]});
    serde_json::from_str(&v.to_string().replace("{P}", p)).unwrap()
}

struct Setup {
    dir: tempfile::TempDir,
    emu: RunningEmulator,
}

impl Setup {
    fn new(dc: &SambaDc, ou: &TestOu<'_>, prefix: &str) -> Setup {
        ou.seed(&USERS.replace("{P}", prefix));
        let emu =
            Emulator::start_blocking(Config::default().with_tenant_json(tenant(prefix)).unwrap())
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let desired = dir.path().join("desired");
        std::fs::create_dir(&desired).unwrap();
        std::fs::copy(dc.ca_file(), desired.join("ca.pem")).unwrap();
        let yaml = format!(
            r#"version: 1
directories:
  ad:
    url: {url}
    base_dn: "{base}"
    bind_dn: {upn}
    password: {{ env: {AD_PASSWORD} }}
    ca_file: ca.pem
  entra:
    tenant_id: {tenant}
    client_id: {client}
    client_secret: {{ env: {ENTRA_SECRET} }}
    login_url: {graph}
    graph_url: {graph}
scope:
  ous: [ "{ou}" ]
  ldap_filter: "(employeeType=staff)"
matching:
  source_anchor: ms-DS-ConsistencyGuid
  soft_match: [ smtp, upn ]
attributes:
  displayName: ad
  jobTitle: ad
  department: ad
  usageLocation: entra
provision:
  ad:
    enabled: true
    ou: "{ou}"
    sam_account_name: "{prefix}-{{mailNickname}}"
    initial_state: enabled_random_password
"#,
            url = dc.url(),
            base = dc.base_dn(),
            upn = dc.admin_upn(),
            tenant = emu.tenant_id(),
            client = emu.client_id(),
            graph = emu.base_url(),
            ou = ou.dn(),
        );
        std::fs::write(desired.join("idsync.yaml"), yaml).unwrap();
        Setup { dir, emu }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs idsync on the desired state with the given credentials.
    fn run_with(&self, password: &str, secret: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_idsync"))
            .args(args)
            .arg("--dir")
            .arg(self.path("desired"))
            .env(AD_PASSWORD, password)
            .env(ENTRA_SECRET, secret)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn run(&self, dc: &SambaDc, args: &[&str]) -> Output {
        self.run_with(dc.password(), self.emu.client_secret(), args)
    }
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file below `dir` with its bytes, relative names sorted: what a failed export must
/// leave exactly as it was.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            for (sub, bytes) in tree(&e.path()) {
                out.push((format!("{name}/{sub}"), bytes));
            }
        } else {
            out.push((name, std::fs::read(e.path()).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn the_exports_plan_exactly_as_the_live_directories() {
    let dc = shared_dc();
    let ou = dc.test_ou("snap-plan");
    let s = Setup::new(dc, &ou, "sp");
    let live = ok(&s.run(dc, &["plan", "--format", "json"]));

    let (ad, entra) = (s.path("snap/ad.ldif"), s.path("snap/entra"));
    std::fs::create_dir(s.path("snap")).unwrap();
    let out = s.run(dc, &["snapshot", "--from", "ad", "--out", arg(&ad)]);
    ok(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("Wrote 3 AD users to {}.\n", ad.display())
    );
    ok(&s.run(dc, &["snapshot", "--from", "entra", "--out", arg(&entra)]));

    let ldif = std::fs::read_to_string(&ad).unwrap();
    assert!(
        ldif.starts_with("# idsync snapshot of AD ldaps://"),
        "{ldif}"
    );
    let requesting = ldif
        .lines()
        .find_map(|l| l.strip_prefix("# requesting: "))
        .expect("a # requesting: line");
    for attribute in ["objectGUID", "uSNChanged", "title", "department", "c"] {
        assert!(
            requesting.split(' ').any(|a| a == attribute),
            "{attribute}: {requesting}"
        );
    }
    assert!(ldif.contains("\nmS-DS-ConsistencyGuid:: AAECAwQFBgcICQoLDA0ODw==\n"));
    assert!(ldif.contains("\nuserAccountControl: 514\n"));
    assert!(ldif.lines().all(|l| l.starts_with('#') || l.len() <= 76));
    let users: Value =
        serde_json::from_slice(&std::fs::read(entra.join("users.json")).unwrap()).unwrap();
    let users = users["value"].as_array().unwrap();
    assert_eq!(users.len(), 4);
    // Every selected property present; null where the tenant has none.
    assert_eq!(users[3]["mail"], Value::Null);
    assert!(users.iter().all(|u| u.get("usageLocation").is_some()));
    // The tenant data a plan reads, each file as Graph answers its request.
    for file in [
        "domains.json",
        "onPremisesSynchronization.json",
        "roleAssignments.json",
        "roleDefinitions.json",
    ] {
        let doc: Value = serde_json::from_slice(&std::fs::read(entra.join(file)).unwrap()).unwrap();
        assert!(doc["value"].is_array(), "{file}: {doc}");
    }

    let offline = ok(&s.run_with(
        "not-used",
        "not-used",
        &[
            "plan",
            "--format",
            "json",
            "--ad-snapshot",
            arg(&ad),
            "--entra-snapshot",
            arg(&entra),
        ],
    ));
    let live: Value = serde_json::from_str(&live).unwrap();
    assert_eq!(live["summary"]["create"], 1, "{live:#}");
    assert!(live["summary"]["update"].as_u64().unwrap() >= 1, "{live:#}");
    // The same plan, preconditions (uSNChanged, hashes of the Graph properties read) included.
    assert_eq!(serde_json::from_str::<Value>(&offline).unwrap(), live);
}

#[test]
fn a_rerun_replaces_the_snapshot_whole_and_a_failed_one_leaves_it_untouched() {
    let dc = shared_dc();
    let ou = dc.test_ou("snap-rerun");
    let s = Setup::new(dc, &ou, "sr");
    let snap = s.path("snap");
    std::fs::create_dir(&snap).unwrap();
    let (ad, entra) = (snap.join("ad.ldif"), snap.join("entra"));
    ok(&s.run(dc, &["snapshot", "--from", "ad", "--out", arg(&ad)]));
    ok(&s.run(dc, &["snapshot", "--from", "entra", "--out", arg(&entra)]));

    // A file that is not part of the export any more goes with the re-run.
    std::fs::write(entra.join("groups.json"), "stale").unwrap();
    std::fs::write(&ad, "stale").unwrap();
    ok(&s.run(dc, &["snapshot", "--from", "entra", "--out", arg(&entra)]));
    ok(&s.run(dc, &["snapshot", "--from", "ad", "--out", arg(&ad)]));
    let files: Vec<String> = tree(&snap).into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        files,
        [
            "ad.ldif",
            "entra/contacts.json",
            "entra/domains.json",
            "entra/groups.json",
            "entra/onPremisesSynchronization.json",
            "entra/roleAssignments.json",
            "entra/roleDefinitions.json",
            "entra/subscribedSkus.json",
            "entra/users.json"
        ]
    );
    assert!(
        std::fs::read_to_string(&ad)
            .unwrap()
            .contains("CN=Ann Snap,")
    );

    let before = tree(&snap);
    let wrong = "Wrong-Pa55-for-the-snapshot";
    for (from, out, password, secret) in [
        ("ad", &ad, wrong, s.emu.client_secret()),
        ("entra", &entra, dc.password(), wrong),
    ] {
        let run = s.run_with(
            password,
            secret,
            &["snapshot", "--from", from, "--out", arg(out)],
        );
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{from}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(!stderr.contains(wrong), "{stderr}");
    }
    assert_eq!(tree(&snap), before, "a failed export changed the snapshot");
}

/// Offline, on every situation the synthetic mix holds (pairs, drift, soft matches, cloud-only,
/// AD-only, out-of-scope users, conflicts, diagnostics): exporting from snapshot files gives
/// snapshots that plan the same.
#[test]
fn a_re_export_of_snapshot_files_plans_the_same() {
    use idsync::synthetic::{self, Mix, identity};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("desired")).unwrap();
    std::fs::write(
        root.join("desired/idsync.yaml"),
        synthetic::desired_yaml(10_000),
    )
    .unwrap();
    let mut ldif = Vec::new();
    let mut cloud = Vec::new();
    for i in 0..2_000 {
        let (ad, c) = identity(i, Mix::FirstRun);
        for u in &ad {
            synthetic::write_ldif_entry(&mut ldif, u, true).unwrap();
        }
        cloud.extend(c);
    }
    std::fs::write(root.join("ad.ldif"), ldif).unwrap();
    let mut json = Vec::new();
    synthetic::write_cloud_json(&mut json, cloud).unwrap();
    std::fs::write(root.join("entra.json"), json).unwrap();

    let idsync = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_idsync"))
            .current_dir(root)
            .args(args)
            .args(["--dir", "desired"])
            .output()
            .unwrap()
    };
    let before = ok(&idsync(&["plan", "--format", "json"]));
    ok(&idsync(&["snapshot", "--from", "ad", "--out", "out.ldif"]));
    ok(&idsync(&["snapshot", "--from", "entra", "--out", "out"]));
    let after = ok(&idsync(&[
        "plan",
        "--format",
        "json",
        "--ad-snapshot",
        "out.ldif",
        "--entra-snapshot",
        "out",
    ]));
    // The source file holds properties outside the `$select` (usageLocation), which the export
    // leaves out as Graph would: only the hashes of the cloud objects read may differ.
    let parse = |text: &str| {
        let mut plan: Value = serde_json::from_str(text).unwrap();
        for a in plan["actions"].as_array_mut().unwrap() {
            if a["directory"] == "entra" {
                a.as_object_mut().unwrap().remove("precondition");
            }
        }
        // The source is a users file, the export a folder without tenant files (a users file
        // has none to export): both leave the tenant's data unknown, in words naming each.
        let notes = plan["notes"].as_array_mut().unwrap();
        let before = notes.len();
        notes.retain(|n| {
            !(n["kind"] == "assumption"
                && n["message"].as_str().unwrap().starts_with("the tenant's"))
        });
        assert_eq!(before - notes.len(), 3, "one note per unknown tenant part");
        plan
    };
    let (before, after) = (parse(&before), parse(&after));
    assert!(
        before["summary"]["conflict"].as_u64().unwrap() > 0,
        "{before:#}"
    );
    assert!(before["actions"].as_array().unwrap().len() > 1_000);
    for (key, value) in before.as_object().unwrap() {
        assert!(after[key] == *value, "`{key}` differs");
    }
    assert_eq!(after, before);
}

/// A snapshot folder re-exported: its groups (members included) and contacts are written as
/// read; a kind the source folder lacks is left out with a warning, never written as "none".
#[test]
fn an_entra_re_export_carries_groups_and_contacts_it_knows() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("desired")).unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("desired/idsync.yaml"),
        "version: 1\nscope:\n  ous: [\"OU=Staff,DC=example,DC=com\"]\ndirectories:\n  entra: { snapshot: ../src }\n",
    )
    .unwrap();
    std::fs::write(
        root.join("src/users.json"),
        r#"{"value": [{"id": "u1", "userPrincipalName": "ann@example.com"}]}"#,
    )
    .unwrap();
    std::fs::write(
        root.join("src/groups.json"),
        r#"{"value": [{"id": "g1", "displayName": "Sales", "mailEnabled": false, "securityEnabled": true, "members": [{"id": "u1"}]}]}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_idsync"))
        .current_dir(root)
        .args([
            "snapshot", "--from", "entra", "--dir", "desired", "--out", "out",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: contacts.json not written: the snapshot folder")
            && stderr.contains("has no contacts.json"),
        "{stderr}"
    );
    let files: Vec<String> = tree(&root.join("out"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(files, ["groups.json", "users.json"]);
    let doc: Value =
        serde_json::from_slice(&std::fs::read(root.join("out/groups.json")).unwrap()).unwrap();
    assert_eq!(doc["value"][0]["id"], "g1");
    assert_eq!(doc["value"][0]["members"], json!([{"id": "u1"}]));
}

/// The tenant data of an Entra export (no AD needed): each part the app may read is written as
/// Graph answers it; a part Graph refuses (403: the app lacks the permission) is left out, with
/// a warning naming the permission, and the export still succeeds. Shapes:
/// https://learn.microsoft.com/graph/api/domain-list,
/// https://learn.microsoft.com/graph/api/onpremisesdirectorysynchronization-get,
/// https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments.
#[test]
fn an_entra_export_writes_the_tenant_data_it_may_read() {
    use graph_emulator::directory::GLOBAL_ADMINISTRATOR;
    let obj = |v: Value| v.as_object().unwrap().clone();
    let build = |app_roles: Option<Vec<String>>| {
        let mut config = Config::default().with_tenant_json(tenant("te")).unwrap();
        config.directory.domains = Some(vec![
            obj(json!({"id": "example.onmicrosoft.com", "isInitial": true})),
            obj(json!({"id": "example.com"})),
        ]);
        config.directory.role_assignments = vec![obj(json!({
            "principalId": "5a000000-0000-0000-0000-000000000003",
            "roleDefinitionId": GLOBAL_ADMINISTRATOR
        }))];
        config.app_roles = app_roles;
        Emulator::start_blocking(config).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |emu: &RunningEmulator, out: &Path| {
        let desired = dir.path().join("desired");
        std::fs::create_dir_all(&desired).unwrap();
        let yaml = format!(
            "version: 1\ndirectories:\n  entra:\n    tenant_id: {}\n    client_id: {}\n    client_secret: {{ env: {ENTRA_SECRET} }}\n    login_url: {url}\n    graph_url: {url}\nscope:\n  ous: [ \"OU=Staff,DC=example,DC=com\" ]\n",
            emu.tenant_id(),
            emu.client_id(),
            url = emu.base_url()
        );
        std::fs::write(desired.join("idsync.yaml"), yaml).unwrap();
        Command::new(env!("CARGO_BIN_EXE_idsync"))
            .args(["snapshot", "--from", "entra", "--out", arg(out), "--dir"])
            .arg(&desired)
            .env(ENTRA_SECRET, emu.client_secret())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };

    let out = dir.path().join("entra");
    let emu = build(None);
    let done = run(&emu, &out);
    ok(&done);
    assert!(!String::from_utf8_lossy(&done.stderr).contains("warning"));
    let read = |file: &str| -> Value {
        serde_json::from_slice(&std::fs::read(out.join(file)).unwrap()).unwrap()
    };
    let domains = read("domains.json");
    assert!(
        domains["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#domains"),
        "{domains}"
    );
    // Only what a plan reads of each object.
    assert_eq!(
        domains["value"][1],
        json!({"id": "example.com", "isVerified": true, "isInitial": false, "isDefault": false})
    );
    let sync = read("onPremisesSynchronization.json");
    assert_eq!(sync["value"][0]["features"]["softMatchOnUpnEnabled"], true);
    let assignments = read("roleAssignments.json");
    assert_eq!(
        assignments["value"][0]["roleDefinitionId"],
        GLOBAL_ADMINISTRATOR
    );
    let definitions = read("roleDefinitions.json");
    assert!(
        definitions["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["displayName"] == "Global Administrator")
    );
    // The export reads back as the tenant it came from.
    let snap = idsync::directory::snapshot::EntraSnapshot::open(&out).unwrap();
    let docs = snap.read_tenant_docs().unwrap();
    let tenant = docs.tenant().unwrap();
    assert_eq!(
        tenant.roles_of("5a000000-0000-0000-0000-000000000003"),
        ["Global Administrator"]
    );
    assert_eq!(tenant.initial_domain(), Some("example.onmicrosoft.com"));
    drop(emu);

    // Without RoleManagement.Read.Directory: the role files are not written, the rest is,
    // and the whole folder is replaced (the old role files do not linger).
    let emu = build(Some(vec![
        "User.Read.All".into(),
        "Domain.Read.All".into(),
        "OnPremDirectorySynchronization.Read.All".into(),
    ]));
    let done = run(&emu, &out);
    ok(&done);
    let stderr = String::from_utf8_lossy(&done.stderr);
    for file in ["roleAssignments.json", "roleDefinitions.json"] {
        assert!(
            stderr.contains(&format!("warning: {file} not written: Graph answered 403")),
            "{stderr}"
        );
    }
    assert!(stderr.contains("RoleManagement.Read.Directory"), "{stderr}");
    let files: Vec<String> = tree(&out).into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        files,
        [
            "contacts.json",
            "domains.json",
            "groups.json",
            "onPremisesSynchronization.json",
            "users.json"
        ]
    );
    // Nothing is left beside the target (the folder was swapped in whole).
    let beside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(beside.iter().all(|n| !n.starts_with('.')), "{beside:?}");
}
