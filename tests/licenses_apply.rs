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
