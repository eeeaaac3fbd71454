//! `POST /users/{id}/assignLicense`, `POST /groups/{id}/assignLicense` (also in `$batch`), and
//! what they do to users, groups and `GET /subscribedSkus`.
//!
//! Pages of Graph and Entra behind the assertions:
//! - <https://learn.microsoft.com/graph/api/user-assignlicense> (200 and the user),
//!   <https://learn.microsoft.com/graph/api/group-assignlicense> (`202 Accepted` and the group),
//! - <https://learn.microsoft.com/graph/api/resources/licenseassignmentstate> (`assignedByGroup`
//!   null when direct; `state`, `error` `CountViolation`),
//! - <https://learn.microsoft.com/entra/identity/users/licensing-admin-center> (group
//!   assignment: "users without a usage location specified inherit the location of the
//!   directory"),
//! - the refusal texts as admins meet them: "License assignment cannot be done for user with
//!   invalid usage location." (KelvinTegelaar/CIPP#783), "License {skuId} does not correspond
//!   to a valid company License." (Graph's answer as client projects' tests and admins'
//!   provisioning scripts quote it), "Subscription with SKU {skuId} does not have any
//!   available licenses." (matched with `Request_BadRequest` by admins' scripts). The text for a disabled plan not in the SKU is
//!   not documented; only its status and code are pinned.

mod common;

use common::*;
use graph_emulator::{Config, Emulator, RunningEmulator};
use graph_rules::license::USAGE_LOCATION_MESSAGE;
use serde_json::{Value, json};

const ADAM: &str = "3ab39606-c642-489b-84b6-58c038d3ef39";
const ALVA: &str = "11111111-0000-4000-8000-000000000003";
const SYNCED_USER: &str = "11111111-0000-4000-8000-000000000002";
const SALES: &str = "22222222-0000-4000-8000-000000000001";
const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
const EXO: &str = "efb87545-963c-4e0d-99df-69c6916d9eb0";
const UNKNOWN: &str = "00000000-0000-4000-8000-00000000dead";

async fn setup(units: u64) -> (RunningEmulator, Graph) {
    let mut config = Config::default()
        .with_tenant_json(sample_users())
        .unwrap()
        .with_groups_json(json!({"value": [
            {"id": SALES, "displayName": "Sales", "mailEnabled": false, "mailNickname": "sales",
             "securityEnabled": true, "groupTypes": [],
             "members": [{"@odata.type": "#microsoft.graph.user", "id": ADAM}]}
        ]}))
        .unwrap();
    config.directory.subscribed_skus = vec![
        json!({"id": format!("t_{E3}"), "skuId": E3, "skuPartNumber": "ENTERPRISEPACK",
            "capabilityStatus": "Enabled", "appliesTo": "User", "consumedUnits": 0,
            "prepaidUnits": {"enabled": units, "suspended": 0, "warning": 0, "lockedOut": 0},
            "servicePlans": [{"servicePlanId": EXO, "servicePlanName": "EXCHANGE_S_ENTERPRISE",
                "provisioningStatus": "Success", "appliesTo": "User"}]})
        .as_object()
        .unwrap()
        .clone(),
    ];
    let emu = Emulator::start(config).await.unwrap();
    let g = Graph::new(&emu).await;
    (emu, g)
}

fn add(sku: &str, disabled: &[&str]) -> Value {
    json!({"addLicenses": [{"skuId": sku, "disabledPlans": disabled}], "removeLicenses": []})
}

fn remove(sku: &str) -> Value {
    json!({"addLicenses": [], "removeLicenses": [sku]})
}

async fn consumed(g: &Graph) -> u64 {
    let a = g.get("/subscribedSkus").await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.body["value"][0]["consumedUnits"].as_u64().unwrap()
}

async fn licenses_of(g: &Graph, id: &str) -> Value {
    let a = g
        .get(&format!(
            "/users/{id}?$select=assignedLicenses,licenseAssignmentStates,usageLocation"
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.body
}

#[tokio::test]
async fn a_direct_assignment_answers_with_the_user_and_takes_a_unit() {
    let (_emu, g) = setup(5).await;
    let a = g
        .post(&format!("/users/{ADAM}/assignLicense"), add(E3, &[EXO]))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["id"], ADAM);
    assert_eq!(a.body["userPrincipalName"], "adam.anderson@example.com");
    assert_eq!(consumed(&g).await, 1);
    let u = licenses_of(&g, ADAM).await;
    assert_eq!(
        u["assignedLicenses"],
        json!([{"disabledPlans": [EXO], "skuId": E3}])
    );
    let state = &u["licenseAssignmentStates"][0];
    assert_eq!(state["assignedByGroup"], Value::Null);
    assert_eq!(state["state"], "Active");
    // The collection serves them too, with the usage location.
    let list = g
        .get("/users?$select=id,assignedLicenses,licenseAssignmentStates,usageLocation")
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    let adam = list.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == ADAM)
        .unwrap();
    assert_eq!(adam["assignedLicenses"][0]["skuId"], E3);
    assert_eq!(adam["usageLocation"], "NL");
    // Assigning it again (all plans on) takes no second unit; removing frees it.
    let again = g
        .post(&format!("/users/{ADAM}/assignLicense"), add(E3, &[]))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(consumed(&g).await, 1);
    let gone = g
        .post(&format!("/users/{ADAM}/assignLicense"), remove(E3))
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    assert_eq!(consumed(&g).await, 0);
    assert_eq!(licenses_of(&g, ADAM).await["assignedLicenses"], json!([]));
}

#[tokio::test]
async fn direct_assignments_are_refused_with_graphs_errors() {
    let (_emu, g) = setup(1).await;
    let no_location = g
        .post(&format!("/users/{ALVA}/assignLicense"), add(E3, &[]))
        .await;
    assert_eq!(no_location.status, 400);
    assert_eq!(no_location.code(), "Request_BadRequest");
    assert_eq!(no_location.message(), USAGE_LOCATION_MESSAGE);
    let unknown = g
        .post(&format!("/users/{ADAM}/assignLicense"), add(UNKNOWN, &[]))
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.message(),
        format!("License {UNKNOWN} does not correspond to a valid company License.")
    );
    let plan = g
        .post(
            &format!("/users/{ADAM}/assignLicense"),
            add(E3, &["ffffffff-0000-4000-8000-000000000000"]),
        )
        .await;
    assert_eq!((plan.status, plan.code()), (400, "Request_BadRequest"));
    let missing = g
        .post(
            &format!("/users/{ADAM}/assignLicense"),
            json!({"addLicenses": []}),
        )
        .await;
    assert_eq!(missing.status, 400);
    // The one unit goes to Adam; the synced user (usage location set below) finds none.
    assert_eq!(
        g.post(&format!("/users/{ADAM}/assignLicense"), add(E3, &[]))
            .await
            .status,
        200
    );
    assert_eq!(
        g.patch(
            &format!("/users/{SYNCED_USER}"),
            json!({"usageLocation": "SE"})
        )
        .await
        .status,
        204
    );
    let full = g
        .post(&format!("/users/{SYNCED_USER}/assignLicense"), add(E3, &[]))
        .await;
    assert_eq!(full.status, 400);
    assert_eq!(
        full.message(),
        format!("Subscription with SKU {E3} does not have any available licenses.")
    );
    assert_eq!(consumed(&g).await, 1, "refusals take no unit");
    assert_eq!(
        licenses_of(&g, SYNCED_USER).await["assignedLicenses"],
        json!([])
    );
}

#[tokio::test]
async fn a_groups_licenses_follow_its_members() {
    let (_emu, g) = setup(2).await;
    let a = g
        .post(&format!("/groups/{SALES}/assignLicense"), add(E3, &[]))
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(a.body["id"], SALES);
    assert_eq!(
        a.body["assignedLicenses"],
        json!([{"disabledPlans": [], "skuId": E3}])
    );
    let adam = licenses_of(&g, ADAM).await;
    assert_eq!(adam["assignedLicenses"][0]["skuId"], E3);
    assert_eq!(adam["licenseAssignmentStates"][0]["assignedByGroup"], SALES);
    assert_eq!(consumed(&g).await, 1);
    // Inherited: not removable per user.
    let refused = g
        .post(&format!("/users/{ADAM}/assignLicense"), remove(E3))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.code(), "Request_BadRequest");
    // A member added later gains it, even without a usage location (the tenant's applies).
    let body =
        json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{ALVA}")});
    assert_eq!(
        g.post(&format!("/groups/{SALES}/members/$ref"), body.clone())
            .await
            .status,
        204
    );
    assert_eq!(
        licenses_of(&g, ALVA).await["licenseAssignmentStates"][0]["state"],
        "Active"
    );
    assert_eq!(consumed(&g).await, 2);
    // Direct and inherited: one unit for the user, however many ways.
    assert_eq!(
        g.post(&format!("/users/{ADAM}/assignLicense"), add(E3, &[EXO]))
            .await
            .status,
        200
    );
    assert_eq!(consumed(&g).await, 2);
    assert_eq!(
        licenses_of(&g, ADAM).await["licenseAssignmentStates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A member removed loses what it had only from the group.
    assert_eq!(
        g.delete(&format!("/groups/{SALES}/members/{ALVA}/$ref"))
            .await
            .status,
        204
    );
    assert_eq!(licenses_of(&g, ALVA).await["assignedLicenses"], json!([]));
    assert_eq!(consumed(&g).await, 1);
    // The group loses the license: Adam keeps his direct one.
    assert_eq!(
        g.post(&format!("/groups/{SALES}/assignLicense"), remove(E3))
            .await
            .status,
        202
    );
    let adam = licenses_of(&g, ADAM).await;
    assert_eq!(
        adam["assignedLicenses"],
        json!([{"disabledPlans": [EXO], "skuId": E3}])
    );
    assert_eq!(consumed(&g).await, 1);
}

#[tokio::test]
async fn a_member_without_a_free_unit_is_in_count_violation() {
    let (_emu, g) = setup(1).await;
    assert_eq!(
        g.post(&format!("/users/{SYNCED_USER}/assignLicense"), add(E3, &[]))
            .await
            .status,
        400,
        "no usage location: refused directly"
    );
    assert_eq!(
        g.patch(&format!("/users/{ALVA}"), json!({"usageLocation": "SE"}))
            .await
            .status,
        204
    );
    assert_eq!(
        g.post(&format!("/users/{ALVA}/assignLicense"), add(E3, &[]))
            .await
            .status,
        200
    );
    let unknown = g
        .post(&format!("/groups/{SALES}/assignLicense"), add(UNKNOWN, &[]))
        .await;
    assert_eq!(unknown.status, 400);
    let a = g
        .post(&format!("/groups/{SALES}/assignLicense"), add(E3, &[]))
        .await;
    assert_eq!(a.status, 202, "the group assignment itself succeeds");
    let adam = licenses_of(&g, ADAM).await;
    assert_eq!(adam["assignedLicenses"], json!([]));
    let state = &adam["licenseAssignmentStates"][0];
    assert_eq!(
        (&state["state"], &state["error"]),
        (&json!("Error"), &json!("CountViolation"))
    );
    assert_eq!(consumed(&g).await, 1);
    // Alva's unit is freed: Entra gives it to the waiting member at the next change.
    assert_eq!(
        g.post(&format!("/users/{ALVA}/assignLicense"), remove(E3))
            .await
            .status,
        200
    );
    assert_eq!(consumed(&g).await, 1);
    assert_eq!(
        licenses_of(&g, ADAM).await["assignedLicenses"][0]["skuId"],
        E3
    );
}

#[tokio::test]
async fn assignments_inside_batch() {
    let (_emu, g) = setup(5).await;
    let reqs = json!({"requests": [
        {"id": "1", "method": "POST", "url": format!("/users/{ADAM}/assignLicense"),
         "headers": {"Content-Type": "application/json"}, "body": add(E3, &[])},
        {"id": "2", "method": "POST", "url": format!("/users/{ALVA}/assignLicense"),
         "headers": {"Content-Type": "application/json"}, "body": add(E3, &[])},
        {"id": "3", "method": "POST", "url": format!("/groups/{SALES}/assignLicense"),
         "headers": {"Content-Type": "application/json"}, "body": add(E3, &[])}
    ]});
    let a = g.post("/$batch", reqs).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let rs = a.body["responses"].as_array().unwrap();
    let of = |id: &str| rs.iter().find(|r| r["id"] == id).unwrap();
    assert_eq!(of("1")["status"], 200);
    assert_eq!(of("2")["status"], 400);
    assert_eq!(of("2")["body"]["error"]["message"], USAGE_LOCATION_MESSAGE);
    assert_eq!(of("3")["status"], 202);
    assert_eq!(consumed(&g).await, 1);
}

#[tokio::test]
async fn deleted_users_free_their_units() {
    let (_emu, g) = setup(5).await;
    g.post(&format!("/users/{ADAM}/assignLicense"), add(E3, &[]))
        .await;
    assert_eq!(consumed(&g).await, 1);
    assert_eq!(g.delete(&format!("/users/{ADAM}")).await.status, 204);
    assert_eq!(consumed(&g).await, 0);
}
