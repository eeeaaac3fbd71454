//! `idsync explain WHO` on the embedded example, as a user runs it: one identity through scope,
//! Entra's match rules and the plan; exit 1 with suggestions for an unknown name.

use std::process::Command;

use assert_cmd::assert::OutputAssertExt;
use predicates::prelude::*;

fn idsync() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idsync"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env("NO_COLOR", "1");
    cmd
}

fn explain(who: &str) -> String {
    let out = idsync().args(["explain", who]).assert().success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

fn json(who: &str) -> serde_json::Value {
    let out = idsync()
        .args(["explain", who, "--format", "json"])
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn an_in_scope_pair_shows_every_rule_in_entras_order_and_its_pair() {
    let text = explain("sara.smith@example.com");
    let order: Vec<usize> = ["explicit", "marker", "hard", "soft_smtp", "soft_upn"]
        .iter()
        .map(|r| {
            text.find(&format!("    {r} "))
                .unwrap_or_else(|| panic!("{r} in {text}"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(
        text.contains("hard       yes      onPremisesImmutableId AwAMax4/ikydLgAAAAAAAw=="),
        "{text}"
    );
    assert!(
        text.contains("paired with sara.smith@example.com (hard)"),
        "{text}"
    );

    let v = json("ssmith");
    let ad = &v["objects"][0];
    assert_eq!(ad["directory"], "ad");
    assert_eq!(ad["in_scope"], true);
    assert_eq!(ad["match"], "hard");
    let upn = ad["matching"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["rule"] == "soft_upn")
        .unwrap();
    assert_eq!(upn["outcome"], "yes");
}

#[test]
fn a_role_holder_says_why_entra_will_not_match_it() {
    // examples/contoso/entra/roleAssignments.json: jdoe holds Global Administrator.
    let text = explain("jdoe");
    assert!(text.contains("admin_role  blocks"), "{text}");
    assert!(text.contains("Conflict admin_role"), "{text}");
    assert!(text.contains("soft_upn   yes"), "{text}");
}

#[test]
fn an_object_in_an_excluded_ou_says_which_rule_leaves_it_out() {
    let v = json("printsvc");
    let scope = v["objects"][0]["scope"].as_array().unwrap();
    let last = scope.last().unwrap();
    assert_eq!(last["rule"], "exclude_ous");
    assert_eq!(last["outcome"], "out");
    assert_eq!(v["objects"][0]["in_scope"], false);
    assert!(v["actions"].as_array().unwrap().is_empty());
}

#[test]
fn a_filtered_object_names_the_filter() {
    let text = explain("svc-backup");
    assert!(
        text.contains("ldap_filter  out      does not match (!(sAMAccountName=svc-*))"),
        "{text}"
    );
}

#[test]
fn an_object_entra_connect_never_syncs_says_so() {
    let text = explain("MSOL_6f1c0e2b9a4d");
    assert!(text.contains("default_exclusion  out"), "{text}");
    assert!(text.contains("AAD_/MSOL_"), "{text}");
}

#[test]
fn a_conflict_brings_both_sides_and_its_message() {
    let v = json("pat.white@example.com");
    let dirs: Vec<&str> = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["directory"].as_str().unwrap())
        .collect();
    assert_eq!(dirs, ["ad", "entra"]);
    assert_eq!(v["conflicts"][0]["kind"], "invalid_soft_match");
}

#[test]
fn a_provisioned_identity_shows_the_create_that_pairs_it() {
    let text = explain("alva.wood@example.com");
    assert!(text.contains("create ad CN=Alva Wood"), "{text}");
    assert!(text.contains("link entra alva.wood@example.com"), "{text}");
}

#[test]
fn an_unknown_name_exits_1_with_the_closest_names() {
    idsync()
        .args(["explain", "jdoe@exampel.com"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("did you mean jdoe@example.com?"));
    idsync()
        .args(["explain", "zzzzzzzzzzzz"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no identity, AD object or cloud user is named",
        ));
}
