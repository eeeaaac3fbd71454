//! Licenses on the embedded example, as a user runs it: `licenses.default` planned for the
//! unlicensed user idsync also creates in AD, refused up front for the user without a usage
//! location (user-assignlicense: "License assignment cannot be done for user with invalid
//! usage location"), the unlicensed listed; apply assigns it and counts the unit.

mod support;

use std::process::Command;

use serde_json::Value;
use support::fixtures::*;

const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

#[test]
fn the_example_assigns_its_default_license_and_counts_the_unit() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_idsync"))
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let read = |rel: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(rel)).unwrap()).unwrap()
    };
    let plan: Value = serde_json::from_slice(&run(&["plan", "--format", "json"]).stdout).unwrap();
    let licenses: Vec<&Value> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["changes"][0]["attribute"] == "assignedLicenses")
        .collect();
    assert_eq!(licenses.len(), 1, "{licenses:#?}");
    assert_eq!(licenses[0]["target"], "alva.wood@example.com");
    assert_eq!(
        licenses[0]["changes"][0]["add"],
        serde_json::json!([format!("ENTERPRISEPACK ({E3})")])
    );
    let diagnostics = plan["diagnostics"].as_array().unwrap();
    assert!(
        diagnostics
            .iter()
            .any(|d| d["rule"] == "usage_location" && d["object"] == "liam.baker@example.com"),
        "{diagnostics:#?}"
    );
    let notes = plan["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n["kind"] == "unlicensed"
            && n["message"]
                .as_str()
                .unwrap()
                .contains("alva.wood@example.com")),
        "{notes:#?}"
    );

    let consumed = |skus: &Value| skus["value"][0]["consumedUnits"].as_u64().unwrap();
    let before = consumed(&read("examples/contoso/entra/subscribedSkus.json"));
    assert!(run(&["apply", "--auto-approve"]).status.success());
    let users = read("examples/contoso/entra/users.json");
    let alva = users["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userPrincipalName"] == "alva.wood@example.com")
        .unwrap();
    assert_eq!(alva["assignedLicenses"][0]["skuId"], E3);
    assert_eq!(
        consumed(&read("examples/contoso/entra/subscribedSkus.json")),
        before + 1
    );
    assert_eq!(run(&["plan", "--detailed-exitcode"]).status.code(), Some(0));
}

/// A license removed out of band (in the tenant, after apply) is drift.
#[test]
fn drift_reports_a_license_removed_out_of_band() {
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
    // The example keeps standing conflicts (drift too); a license item is what must appear.
    let license_items = |out: &std::process::Output| -> usize {
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["summary"].as_str().unwrap().contains("assignedLicenses"))
            .count()
    };
    assert_eq!(license_items(&run(&["drift", "--format", "json"])), 0);
    let path = dir.path().join("examples/contoso/entra/users.json");
    let mut users: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for u in users["value"].as_array_mut().unwrap() {
        if u["userPrincipalName"] == "adam.anderson@example.com" {
            u["assignedLicenses"] = serde_json::json!([]);
            u["licenseAssignmentStates"] = serde_json::json!([]);
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&users).unwrap()).unwrap();
    let out = run(&["drift", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        license_items(&out),
        1,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The example's Entra side live in the Graph emulator: the license is assigned through
/// `assignLicense` and a second plan has nothing left to do.
#[test]
fn the_example_converges_its_licenses_against_the_graph_emulator() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let emu = example_with_live_entra(dir.path());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_idsync"))
            .current_dir(dir.path())
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
    let alva = emu.user("alva.wood@example.com").unwrap();
    assert_eq!(alva["assignedLicenses"][0]["skuId"], E3, "{alva:#}");
    let again = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}
