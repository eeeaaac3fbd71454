//! Groups end to end on the embedded example, as a user runs it: the quickstart plan shows the
//! cloud-first group created in AD, the hybrid group's membership changes on both sides, the
//! synced group converging through AD and the forecast; apply converges and a second apply
//! has nothing to do.

mod support;

use std::process::Command;

use serde_json::Value;
use support::fixtures::*;

struct Example {
    dir: tempfile::TempDir,
}

impl Example {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_example(dir.path());
        Example { dir }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_idsync"))
            .current_dir(self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    fn plan_json(&self) -> Value {
        let out = self.run(&["plan", "--format", "json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel)).unwrap()
    }

    fn cloud_group(&self, name: &str) -> Value {
        let groups: Value = serde_json::from_str(&self.read("examples/contoso/entra/groups.json"))
            .expect("groups.json");
        groups["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["displayName"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no cloud group {name}"))
    }
}

fn group_actions(plan: &Value) -> Vec<&Value> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "group")
        .collect()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

const ADAM: &str = "e1d20001-7a6b-4c5d-8e9f-000000000001";
const JDOE: &str = "e1d20002-7a6b-4c5d-8e9f-000000000002";
const KATE: &str = "e1d20005-7a6b-4c5d-8e9f-000000000005";

#[test]
fn the_quickstart_plan_shows_the_groups() {
    let ex = Example::new();
    let plan = ex.plan_json();
    let groups = group_actions(&plan);
    let find = |action: &str, directory: &str, identity: &str| {
        groups
            .iter()
            .find(|a| {
                a["action"] == action && a["directory"] == directory && a["identity"] == identity
            })
            .copied()
            .unwrap_or_else(|| panic!("no {action} {directory} group {identity}: {groups:#?}"))
    };
    // The cloud-first security group is created in AD, marked as idsync's.
    let create = find("create", "ad", "engineering");
    assert!(
        create["target"]
            .as_str()
            .unwrap()
            .starts_with("CN=Engineering,OU=Cloud,"),
        "{create}"
    );
    // Its members follow the cloud group, alva.wood among them once she is created.
    let members = find("update", "ad", "engineering");
    let added: Vec<&str> = members["changes"][0]["add"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        added.iter().any(|dn| dn.starts_with("CN=Alva Wood,")),
        "{added:?}"
    );
    assert!(
        members["depends_on"].as_array().unwrap().len() >= 2,
        "waits for the group and alva's create: {members}"
    );
    // The hybrid group: Sara leaves, Kate and the managers group join, on both sides.
    let ad = find("update", "ad", "sales");
    assert_eq!(ad["changes"][0]["attribute"], "member");
    assert!(
        ad["changes"][0]["remove"][0]
            .as_str()
            .unwrap()
            .starts_with("CN=Sara Smith,")
    );
    // Graph refuses member writes on the mail-enabled cloud group (Exchange Online's): it
    // follows AD once Entra Connect soft-matches the two.
    assert!(
        groups
            .iter()
            .all(|a| !(a["directory"] == "entra" && a["identity"] == "sales")),
        "{groups:#?}"
    );
    // The Microsoft 365 group is kept in Entra, per value.
    let cloud = find("update", "entra", "all-company");
    assert_eq!(cloud["changes"][0]["attribute"], "members");
    assert_eq!(cloud["changes"][0]["add"], serde_json::json!([KATE]));
    assert_eq!(cloud["changes"][0]["remove"], serde_json::json!([JDOE]));
    // The synced group is written in AD only, and its cloud side waits for Entra Connect.
    find("update", "ad", "managers");
    assert!(
        groups
            .iter()
            .all(|a| !(a["directory"] == "entra" && a["identity"] == "managers")),
        "{groups:#?}"
    );
    let notes = plan["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n["kind"] == "pending_sync" && n["identity"] == "managers"),
        "{notes:#?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n["kind"] == "pending_sync" && n["identity"] == "sales"),
        "{notes:#?}"
    );
    // Entra Connect cannot match the security group without mail: it will be duplicated
    // (how-to-connect-install-existing-tenant, "Other objects than users": a group that is not
    // mail-enabled can be neither soft- nor hard-matched).
    let forecast = plan["forecast"].as_array().unwrap();
    assert!(
        forecast
            .iter()
            .any(|f| f["kind"] == "group" && f["identity"] == "engineering"),
        "{forecast:#?}"
    );

    let text = ex.run(&["plan"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("+ create ad group \"engineering\""), "{text}");
    assert!(
        text.contains("~ update entra group \"all-company\""),
        "{text}"
    );
}

#[test]
fn applying_the_example_converges_its_groups() {
    let ex = Example::new();
    let out = ex.run(&["apply", "--auto-approve"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let again = ex.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    let ldif = ex.read("examples/contoso/ad.ldif");
    let entry = ldif
        .split("\n\n")
        .find(|e| e.contains("dn: CN=Engineering,OU=Cloud,"))
        .expect("the AD group was created");
    assert_eq!(
        ldif_value(entry, "adminDescription"),
        Some("idsync:e1d2a001-7a6b-4c5d-8e9f-00000000a001")
    );
    assert!(entry.contains("member: CN=Alva Wood,"), "{entry}");
    assert!(entry.contains("member: CN=Mike Miller,"), "{entry}");
    let sales = ldif
        .split("\n\n")
        .find(|e| e.contains("dn: CN=Sales,OU=Office365,"))
        .unwrap();
    assert!(!sales.contains("CN=Sara Smith"), "{sales}");
    assert!(sales.contains("member: CN=Kate Clark,"), "{sales}");
    assert!(sales.contains("member: CN=Managers,"), "{sales}");

    let mut members = ids(&ex.cloud_group("All Company")["members"]);
    members.sort();
    assert_eq!(members, [ADAM, KATE]);

    // Idempotent: a second apply changes nothing.
    let before = (ldif.clone(), ex.read("examples/contoso/entra/groups.json"));
    assert!(ex.run(&["apply", "--auto-approve"]).status.success());
    assert_eq!(
        before,
        (
            ex.read("examples/contoso/ad.ldif"),
            ex.read("examples/contoso/entra/groups.json")
        )
    );
}

/// The example's Entra side live in the Graph emulator (loaded from the same snapshot folder),
/// AD from the LDIF: the Microsoft 365 group's members are written through `$ref` requests in
/// `$batch`es, and a second plan has nothing left to do.
#[test]
fn the_example_converges_its_groups_against_the_graph_emulator() {
    let ex = Example::new();
    let emu = example_with_live_entra(ex.dir.path());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_idsync"))
            .current_dir(ex.dir.path())
            .env(ENTRA_SECRET_VAR, emu.client_secret())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["apply", "--auto-approve"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let all_company = emu
        .groups_snapshot()
        .into_iter()
        .find(|g| g["displayName"] == "All Company")
        .unwrap();
    let mut members = emu
        .group_members(all_company["id"].as_str().unwrap())
        .unwrap();
    members.sort();
    assert_eq!(members, [ADAM, KATE]);
    let again = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&again.stderr)
    );
}
