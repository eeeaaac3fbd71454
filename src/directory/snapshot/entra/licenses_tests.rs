//! Licenses in a snapshot folder: `assignLicense` for users and groups answers as Graph does
//! (the rules are `graph_rules::license`'s, pinned against Graph's pages in the emulator's
//! `tests/licenses.rs`), and the flush writes users, groups and `subscribedSkus.json` together,
//! every other byte kept, or nothing at all.

use super::*;
use crate::directory::model::Prop;
use crate::directory::model::Sku;
use crate::directory::{
    EntraGroupWrite, EntraOp, EntraUserRead, EntraUserWrite, Flush, TenantRead,
};
use graph_rules::license::USAGE_LOCATION_MESSAGE;
use std::fs;
use std::path::Path;

const ADAM: &str = "4c2f9a52-3c43-4b6e-9a10-0d3b1a1e7c01";
const ALVA: &str = "9f1d2e3c-0000-4a5b-8c7d-112233445566";
const BO: &str = "0b8d7c6e-1111-4f2a-9e3d-aabbccddeeff";
const SALES: &str = "0f8e6a3c-5d1b-4c2e-9a7f-3b2c1d0e9f01";
const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
const EXO: &str = "efb87545-963c-4e0d-99df-69c6916d9eb0";

/// Adam carries his license states; Alva has no usage location; Bo's export lacks licenses.
const USERS: &str = r#"{
  "value": [
    {"id": "4c2f9a52-3c43-4b6e-9a10-0d3b1a1e7c01", "userPrincipalName": "adam@example.com", "usageLocation": "SE", "assignedLicenses": [], "licenseAssignmentStates": []},
    {"id": "9f1d2e3c-0000-4a5b-8c7d-112233445566", "userPrincipalName": "alva@example.com", "usageLocation": null, "assignedLicenses": []},
    {"id": "0b8d7c6e-1111-4f2a-9e3d-aabbccddeeff", "userPrincipalName": "bo@example.com", "usageLocation": "NO"}
  ]
}
"#;

const GROUPS: &str = r##"{
  "value": [
    {"id": "0f8e6a3c-5d1b-4c2e-9a7f-3b2c1d0e9f01", "displayName": "Sales", "mailEnabled": false, "mailNickname": "sales", "securityEnabled": true, "groupTypes": [], "assignedLicenses": [],
     "members": [{"@odata.type": "#microsoft.graph.user", "id": "4c2f9a52-3c43-4b6e-9a10-0d3b1a1e7c01"}]}
  ]
}
"##;

/// `GET /subscribedSkus` as Graph answers it, with a second SKU no write touches.
const SKUS: &str = r#"{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus",
  "value": [
    {
      "capabilityStatus": "Enabled",
      "consumedUnits": 0,
      "id": "t_6fd2c87f-b296-42f0-b197-1e91e994b900",
      "prepaidUnits": {"enabled": 1, "suspended": 0, "warning": 0, "lockedOut": 0},
      "servicePlans": [{"servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0", "servicePlanName": "EXCHANGE_S_ENTERPRISE", "provisioningStatus": "Success", "appliesTo": "User"}],
      "skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900",
      "skuPartNumber": "ENTERPRISEPACK",
      "appliesTo": "User"
    },
    {
      "capabilityStatus": "Enabled",
      "consumedUnits": 7,
      "id": "t_1f2f344a-700d-42c9-9427-5cea1d5d7ba6",
      "prepaidUnits": {"enabled": 10, "suspended": 0, "warning": 0, "lockedOut": 0},
      "servicePlans": [],
      "skuId": "1f2f344a-700d-42c9-9427-5cea1d5d7ba6",
      "skuPartNumber": "STREAM",
      "appliesTo": "User"
    }
  ]
}
"#;

fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("users.json", USERS),
        ("groups.json", GROUPS),
        ("subscribedSkus.json", SKUS),
    ] {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn assign(id: &str, add: &[(&str, &[&str])], remove: &[&str]) -> EntraOp {
    EntraOp::AssignLicense {
        id: id.into(),
        add: add
            .iter()
            .map(|(s, p)| (s.to_string(), p.iter().map(|p| p.to_string()).collect()))
            .collect(),
        remove: remove.iter().map(|s| s.to_string()).collect(),
    }
}

fn refusal<T: std::fmt::Debug>(r: Result<T, DirectoryError>) -> String {
    match r {
        Err(DirectoryError::Refused { message, code, .. }) => {
            assert_eq!(code.as_deref(), Some("Request_BadRequest"));
            message
        }
        other => panic!("expected Graph's refusal, got {other:?}"),
    }
}

async fn consumed(dir: &Path) -> u64 {
    let mut snap = EntraSnapshot::open(dir).unwrap();
    let tenant = snap.read_tenant().await.unwrap();
    let skus: &Vec<Sku> = tenant.skus.known().unwrap();
    skus.iter().find(|s| s.sku_id == E3).unwrap().consumed_units
}

/// A user's `assignedLicenses` as `read_users` gives it.
async fn licenses(dir: &Path, id: &str) -> Value {
    let mut snap = EntraSnapshot::open(dir).unwrap();
    let users = snap.read_users(&[]).await.unwrap();
    let user = users.iter().find(|u| u.id() == id).unwrap();
    match user
        .other_properties()
        .find(|(k, _)| *k == "assignedLicenses")
    {
        Some((_, Prop::Json(v))) => v.clone(),
        Some(_) => panic!("assignedLicenses is not JSON"),
        None => Value::Array(vec![]),
    }
}

#[tokio::test]
async fn assign_read_back_and_remove_moves_the_units() {
    let dir = folder();
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    let r = snap
        .write_users(vec![assign(ADAM, &[(E3, &[EXO])], &[])])
        .await;
    assert!(r[0].is_ok(), "{r:?}");
    snap.flush().await.unwrap();
    assert_eq!(
        licenses(dir.path(), ADAM).await,
        json!([{"disabledPlans": [EXO], "skuId": E3}])
    );
    assert_eq!(
        consumed(dir.path()).await,
        1,
        "a re-plan sees the unit used"
    );
    let doc: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("users.json")).unwrap()).unwrap();
    let state = &doc["value"][0]["licenseAssignmentStates"][0];
    assert_eq!(state["assignedByGroup"], Value::Null, "direct: {state}");
    assert_eq!(state["state"], "Active");
    let r = snap.write_users(vec![assign(ADAM, &[], &[E3])]).await;
    assert!(r[0].is_ok(), "{r:?}");
    snap.flush().await.unwrap();
    assert_eq!(licenses(dir.path(), ADAM).await, json!([]));
    assert_eq!(consumed(dir.path()).await, 0);
    // The SKU no write touched keeps its bytes.
    let skus = fs::read_to_string(dir.path().join("subscribedSkus.json")).unwrap();
    let stream = &SKUS[SKUS
        .find("    {\n      \"capabilityStatus\": \"Enabled\",\n      \"consumedUnits\": 7")
        .unwrap()..SKUS.rfind("\n  ]").unwrap()];
    assert!(skus.contains(stream), "{skus}");
}

#[tokio::test]
async fn refusals_are_graphs_and_write_nothing() {
    let dir = folder();
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    assert_eq!(
        refusal(snap.apply(assign(ALVA, &[(E3, &[])], &[]))),
        USAGE_LOCATION_MESSAGE
    );
    let unknown = "00000000-0000-4000-8000-00000000dead";
    assert_eq!(
        refusal(snap.apply(assign(ADAM, &[(unknown, &[])], &[]))),
        format!("License {unknown} does not correspond to a valid company License.")
    );
    refusal(snap.apply(assign(
        ADAM,
        &[(E3, &["ffffffff-0000-4000-8000-000000000000"])],
        &[],
    )));
    snap.apply(assign(ADAM, &[(E3, &[])], &[])).unwrap();
    // The one unit is Adam's now.
    let patch = json!({"usageLocation": "SE"}).as_object().unwrap().clone();
    snap.apply(EntraOp::Update {
        id: ALVA.into(),
        patch,
    })
    .unwrap();
    assert_eq!(
        refusal(snap.apply(assign(ALVA, &[(E3, &[])], &[]))),
        format!("Subscription with SKU {E3} does not have any available licenses.")
    );
    // Bo's export does not carry his licenses: nothing is made up.
    let err = snap.apply(assign(BO, &[(E3, &[])], &[])).unwrap_err();
    assert!(
        err.to_string().contains("does not carry assignedLicenses"),
        "{err}"
    );
}

#[tokio::test]
async fn group_licenses_reach_members_and_cannot_be_removed_per_user() {
    let dir = folder();
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    let r = snap
        .write_groups(vec![assign(SALES, &[(E3, &[])], &[])])
        .await;
    let group = r.into_iter().next().unwrap().unwrap().unwrap();
    assert_eq!(group.assigned_licenses.unwrap()[0].sku_id, E3);
    refusal(snap.apply(assign(ADAM, &[], &[E3])));
    snap.flush().await.unwrap();
    assert_eq!(consumed(dir.path()).await, 1);
    let text = fs::read_to_string(dir.path().join("users.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let adam = &doc["value"][0];
    assert_eq!(adam["assignedLicenses"][0]["skuId"], E3);
    assert_eq!(adam["licenseAssignmentStates"][0]["assignedByGroup"], SALES);
    // Alva's export carries no states: only her assignedLicenses would be written; she is no
    // member, so her line is untouched.
    assert!(text.contains(USERS.lines().nth(3).unwrap()), "{text}");
    // The group gives the license up: Adam loses it, the unit is freed.
    snap.write_groups(vec![assign(SALES, &[], &[E3])]).await;
    snap.flush().await.unwrap();
    assert_eq!(licenses(dir.path(), ADAM).await, json!([]));
    assert_eq!(consumed(dir.path()).await, 0);
}

#[tokio::test]
async fn a_changed_file_stops_the_whole_flush() {
    let dir = folder();
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    snap.apply(assign(ADAM, &[(E3, &[])], &[])).unwrap();
    let edited = SKUS.replace("\"enabled\": 1,", "\"enabled\": 5,");
    fs::write(dir.path().join("subscribedSkus.json"), &edited).unwrap();
    let err = snap.flush().await.unwrap_err().to_string();
    assert!(err.contains("subscribedSkus.json"), "{err}");
    assert_eq!(
        fs::read_to_string(dir.path().join("users.json")).unwrap(),
        USERS,
        "users.json is not written either"
    );
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["groups.json", "subscribedSkus.json", "users.json"],
        "no temporary file left behind"
    );
}

#[tokio::test]
async fn without_subscribed_skus_nothing_is_checked_or_counted() {
    let dir = folder();
    fs::remove_file(dir.path().join("subscribedSkus.json")).unwrap();
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    snap.apply(assign(ADAM, &[(E3, &[])], &[])).unwrap();
    snap.flush().await.unwrap();
    assert!(!dir.path().join("subscribedSkus.json").exists());
    assert_eq!(licenses(dir.path(), ADAM).await[0]["skuId"], E3);
}

#[tokio::test]
async fn a_deleted_user_frees_its_units() {
    let dir = folder();
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    snap.apply(assign(ADAM, &[(E3, &[])], &[])).unwrap();
    snap.flush().await.unwrap();
    assert_eq!(consumed(dir.path()).await, 1);
    snap.apply(EntraOp::Delete { id: ADAM.into() }).unwrap();
    snap.flush().await.unwrap();
    assert_eq!(consumed(dir.path()).await, 0);
}
