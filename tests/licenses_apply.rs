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

/// Runs `idsync plan --format json` in a copy of the example after `edit` changed it.
fn plan_edited(edit: impl FnOnce(&std::path::Path)) -> (Option<i32>, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    edit(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_idsync"))
        .current_dir(dir.path())
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    let plan = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        plan,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn edit_json(path: &std::path::Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// subscribedSku: free units are prepaidUnits.enabled less consumedUnits; a plan that needs
/// more gets `seats` and assigns none of that SKU.
#[test]
fn a_sku_without_free_units_is_a_seats_diagnostic_on_the_snapshot() {
    let (code, plan, stderr) = plan_edited(|root| {
        edit_json(
            &root.join("examples/contoso/entra/subscribedSkus.json"),
            |s| {
                s["value"][0]["consumedUnits"] = s["value"][0]["prepaidUnits"]["enabled"].clone();
            },
        );
    });
    assert_eq!(code, Some(0), "{stderr}");
    let seats = plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["rule"] == "seats")
        .unwrap_or_else(|| panic!("{:#}", plan["diagnostics"]));
    assert!(
        seats["message"].as_str().unwrap().contains("0 free unit"),
        "{seats}"
    );
    assert!(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["changes"][0]["attribute"] != "assignedLicenses"),
        "no license is planned"
    );
}

/// A license a user inherits from a group (licenseAssignmentStates[].assignedByGroup) is not
/// removed from the user, whatever the desired state says of direct licenses.
#[test]
fn an_inherited_license_is_never_removed_per_user_on_the_snapshot() {
    let (code, plan, stderr) = plan_edited(|root| {
        let yaml = root.join("desired-state/idsync.yaml");
        let text = std::fs::read_to_string(&yaml)
            .unwrap()
            .replace("default: [ ENTERPRISEPACK ]", "default: [ EMS ]");
        std::fs::write(&yaml, text).unwrap();
        // Enough EMS units for everyone, so the adds are planned.
        edit_json(
            &root.join("examples/contoso/entra/subscribedSkus.json"),
            |s| {
                s["value"][1]["prepaidUnits"]["enabled"] = 50.into();
            },
        );
        edit_json(&root.join("examples/contoso/entra/users.json"), |u| {
            for user in u["value"].as_array_mut().unwrap() {
                if user["userPrincipalName"] == "adam.anderson@example.com" {
                    user["licenseAssignmentStates"][0]["assignedByGroup"] =
                        "e1d2a002-7a6b-4c5d-8e9f-00000000a002".into();
                }
            }
        });
    });
    assert_eq!(code, Some(0), "{stderr}");
    let of = |upn: &str| -> Vec<Value> {
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["target"] == upn && a["changes"][0]["attribute"] == "assignedLicenses")
            .cloned()
            .collect()
    };
    // Adam's E3 comes from a group: only EMS is added, nothing removed.
    let adam = of("adam.anderson@example.com");
    assert_eq!(adam.len(), 1, "{adam:#?}");
    assert!(adam[0]["changes"][0].get("remove").is_none(), "{adam:#?}");
    // Mike's E3 is direct and not desired any more: it goes.
    let mike = of("mike.miller@example.com");
    assert_eq!(
        mike[0]["changes"][0]["remove"],
        serde_json::json!([format!("ENTERPRISEPACK ({E3})")])
    );
}

/// An unknown SKU fails the plan at the line that names it, with the closest names.
#[test]
fn an_unknown_sku_fails_the_plan_at_its_line() {
    let (code, _, stderr) = plan_edited(|root| {
        let yaml = root.join("desired-state/idsync.yaml");
        let text = std::fs::read_to_string(&yaml)
            .unwrap()
            .replace("default: [ ENTERPRISEPACK ]", "default: [ ENTERPRISEPAK ]");
        std::fs::write(&yaml, text).unwrap();
    });
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("idsync.yaml:"), "{stderr}");
    assert!(stderr.contains("did you mean ENTERPRISEPACK"), "{stderr}");
}

/// `idsync validate` checks licenses when a snapshot folder holds the tenant's subscriptions:
/// an unknown SKU or service plan is a located problem, with the closest names.
#[test]
fn validate_checks_licenses_against_the_snapshot_folders_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let validate = || {
        Command::new(env!("CARGO_BIN_EXE_idsync"))
            .current_dir(dir.path())
            .arg("validate")
            .output()
            .unwrap()
    };
    assert!(validate().status.success());
    let yaml = dir.path().join("desired-state/idsync.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap().replace(
        "default: [ ENTERPRISEPACK ]",
        "default: [ ENTERPRISEPAK, { sku: EMS, disabled_plans: [ INTUNE_B ] } ]",
    );
    std::fs::write(&yaml, text).unwrap();
    let out = validate();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("desired-state/idsync.yaml:")
            && stderr.contains("did you mean ENTERPRISEPACK"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean INTUNE_A"), "{stderr}");
    assert!(stderr.contains("2 problems"), "{stderr}");
}
