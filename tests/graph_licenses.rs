//! Licenses end to end against the emulator: idsync's Graph connector sends `assignLicense`
//! for users and groups (batched), reads the result back with `read_users`, and sees the
//! units used in `GET /subscribedSkus`; Graph's refusals come back per op.
//!
//! Graph's behaviour these rely on is pinned in `graph-emulator/tests/licenses.rs`
//! (<https://learn.microsoft.com/graph/api/user-assignlicense>,
//! <https://learn.microsoft.com/graph/api/group-assignlicense>).

mod graph_support;

use graph_emulator::Config;
use graph_rules::license::USAGE_LOCATION_MESSAGE;
use graph_support::*;
use idsync::directory::model::Prop;
use idsync::directory::{
    DirectoryError, EntraGroupWrite, EntraOp, EntraUserRead, EntraUserWrite, TenantRead,
};
use serde_json::{Value, json};

const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
const GROUP: &str = "22222222-0000-4000-8000-000000000001";

fn uid(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

fn assign(id: &str, add: &[&str], remove: &[&str]) -> EntraOp {
    EntraOp::AssignLicense {
        id: id.to_owned(),
        add: add.iter().map(|s| (s.to_string(), Vec::new())).collect(),
        remove: remove.iter().map(|s| s.to_string()).collect(),
    }
}

async fn start_licensed() -> graph_emulator::RunningEmulator {
    let mut tenant = users(3);
    // Users 0 and 1 have a usage location; user 2 has none.
    for i in 0..2 {
        tenant["value"][i]["usageLocation"] = json!("SE");
    }
    let mut config = Config::default()
        .with_groups_json(json!({"value": [{"id": GROUP, "displayName": "Licensed",
            "mailEnabled": false, "mailNickname": "licensed", "securityEnabled": true,
            "groupTypes": [], "members": [{"id": uid(1)}]}]}))
        .unwrap();
    config.directory.subscribed_skus = vec![object(json!({
        "id": format!("t_{E3}"), "skuId": E3, "skuPartNumber": "ENTERPRISEPACK",
        "consumedUnits": 0, "capabilityStatus": "Enabled", "appliesTo": "User",
        "prepaidUnits": {"enabled": 10, "suspended": 0, "warning": 0, "lockedOut": 0},
        "servicePlans": []
    }))];
    start(config, tenant).await
}

async fn consumed(graph: &mut idsync::directory::graph::GraphDirectory) -> u64 {
    let tenant = graph.read_tenant().await.unwrap();
    tenant.skus.known().unwrap()[0].consumed_units
}

async fn skus_of(graph: &mut idsync::directory::graph::GraphDirectory, i: usize) -> Vec<String> {
    let read = graph
        .read_users(&strings(&["assignedLicenses", "licenseAssignmentStates"]))
        .await
        .unwrap();
    let user = read.iter().find(|u| u.id() == uid(i)).unwrap();
    match user
        .other_properties()
        .find(|(k, _)| *k == "assignedLicenses")
    {
        Some((_, Prop::Json(Value::Array(items)))) => items
            .iter()
            .map(|l| l["skuId"].as_str().unwrap().to_owned())
            .collect(),
        Some(_) | None => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licenses_assign_read_back_and_free_their_units() {
    let emu = start_licensed().await;
    let (mut graph, _s) = connect(&emu, fast()).await;
    let results = graph
        .write_users(vec![
            assign(&uid(0), &[E3], &[]),
            assign(&uid(2), &[E3], &[]),
        ])
        .await;
    assert!(results[0].is_ok(), "{results:?}");
    match &results[1] {
        Err(DirectoryError::Refused { message, .. }) => {
            assert!(message.contains(USAGE_LOCATION_MESSAGE), "{message}")
        }
        other => panic!("expected the usage-location refusal, got {other:?}"),
    }
    assert_eq!(skus_of(&mut graph, 0).await, [E3]);
    assert_eq!(consumed(&mut graph).await, 1);
    // Group-based: the member inherits.
    let r = graph.write_groups(vec![assign(GROUP, &[E3], &[])]).await;
    assert!(r[0].is_ok(), "{r:?}");
    assert_eq!(skus_of(&mut graph, 1).await, [E3]);
    assert_eq!(consumed(&mut graph).await, 2);
    // Removed again: the units are free.
    let r = graph.write_users(vec![assign(&uid(0), &[], &[E3])]).await;
    assert!(r[0].is_ok(), "{r:?}");
    let r = graph.write_groups(vec![assign(GROUP, &[], &[E3])]).await;
    assert!(r[0].is_ok(), "{r:?}");
    assert!(skus_of(&mut graph, 0).await.is_empty());
    assert!(skus_of(&mut graph, 1).await.is_empty());
    assert_eq!(consumed(&mut graph).await, 0);
}
