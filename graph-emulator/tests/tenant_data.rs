//! The tenant data reads: sync features, domains, role definitions and assignments, with the
//! application permissions Graph checks.

mod common;

use common::*;
use graph_emulator::Config;
use graph_emulator::directory::{DirectorySeed, GLOBAL_ADMINISTRATOR};
use serde_json::{Map, Value, json};

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("an object").clone()
}

fn context_ends(a: &Answer, suffix: &str) {
    let c = a.body["@odata.context"].as_str().unwrap_or_default();
    assert!(c.ends_with(suffix), "{c}");
}

// The answer is a collection even though a tenant has one object:
// https://learn.microsoft.com/graph/api/onpremisesdirectorysynchronization-get
// A new tenant's features: https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-syncservice-features
#[tokio::test]
async fn sync_features_are_a_collection_with_a_new_tenants_defaults() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    let a = g.get("/directory/onPremisesSynchronization").await;
    assert_eq!(a.status, 200, "{}", a.text);
    context_ends(&a, "/v1.0/$metadata#directory/onPremisesSynchronization");
    let value = a.body["value"].as_array().unwrap();
    assert_eq!(value.len(), 1);
    assert_eq!(value[0]["id"], graph_emulator::DEFAULT_TENANT_ID);
    let f = &value[0]["features"];
    assert_eq!(f["softMatchOnUpnEnabled"], true);
    assert_eq!(f["synchronizeUpnForManagedUsersEnabled"], true);
    for off in [
        "blockSoftMatchEnabled",
        "blockCloudObjectTakeoverThroughHardMatchEnabled",
        "passwordSyncEnabled",
    ] {
        assert_eq!(f[off], false, "{off}");
    }
    assert!(value[0]["configuration"].is_object());

    // $select: exactly the selected properties (and the key).
    let a = g
        .get("/directory/onPremisesSynchronization?$select=features")
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let keys: Vec<&String> = a.body["value"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "features"]);
    let a = g.get("/domains?$select=nope").await;
    assert_eq!(a.status, 400, "{}", a.text);
}

#[tokio::test]
async fn seeded_features_and_a_tenant_that_never_synced() {
    let mut config = Config::default();
    config.directory.on_premises_sync = Some(vec![obj(json!({"features": {
        "blockSoftMatchEnabled": true, "passwordSyncEnabled": true}}))]);
    let emu = start_with(config, sample_users()).await;
    let g = Graph::new(&emu).await;
    let f =
        g.get("/directory/onPremisesSynchronization").await.body["value"][0]["features"].clone();
    assert_eq!(f["blockSoftMatchEnabled"], true);
    assert_eq!(f["passwordSyncEnabled"], true);
    assert_eq!(
        f["softMatchOnUpnEnabled"], true,
        "defaults stay under the seed"
    );

    let mut config = Config::default();
    config.directory.on_premises_sync = Some(Vec::new());
    let emu = start_with(config, sample_users()).await;
    let g = Graph::new(&emu).await;
    let a = g.get("/directory/onPremisesSynchronization").await;
    assert_eq!(a.body["value"], json!([]));
}

// https://learn.microsoft.com/graph/api/domain-list (id, isVerified, isInitial, isDefault, ...)
#[tokio::test]
async fn domains_default_to_the_initial_domain_and_the_users_suffixes() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    let a = g.get("/domains").await;
    assert_eq!(a.status, 200, "{}", a.text);
    context_ends(&a, "/v1.0/$metadata#domains");
    let value = a.body["value"].as_array().unwrap();
    let initial: Vec<&Value> = value.iter().filter(|d| d["isInitial"] == true).collect();
    assert_eq!(initial.len(), 1);
    assert!(
        initial[0]["id"]
            .as_str()
            .unwrap()
            .ends_with(".onmicrosoft.com")
    );
    assert!(value.iter().all(|d| d["isVerified"] == true));
    for key in [
        "authenticationType",
        "isDefault",
        "isRoot",
        "supportedServices",
    ] {
        assert!(value[0].get(key).is_some(), "{key}");
    }
    // Every UPN suffix of the seed is a domain of the tenant.
    let names: Vec<&str> = value.iter().map(|d| d["id"].as_str().unwrap()).collect();
    for u in sample_users()["value"].as_array().unwrap() {
        let suffix = u["userPrincipalName"]
            .as_str()
            .unwrap()
            .rsplit('@')
            .next()
            .unwrap();
        assert!(
            names.contains(&suffix.to_ascii_lowercase().as_str()),
            "{suffix}: {names:?}"
        );
    }

    let mut config = Config::default();
    config.directory.domains = Some(vec![
        obj(json!({"id": "contoso.onmicrosoft.com", "isInitial": true})),
        obj(json!({"id": "corp.contoso.com", "isVerified": false})),
    ]);
    let emu = start_with(config, json!([])).await;
    let g = Graph::new(&emu).await;
    let value = g.get("/domains").await.body["value"].clone();
    assert_eq!(value[0]["isInitial"], true);
    assert_eq!(value[1]["isVerified"], false);
    assert_eq!(value[1]["isInitial"], false);
}

// https://learn.microsoft.com/graph/api/rbacapplication-list-roledefinitions and
// https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments
#[tokio::test]
async fn role_definitions_and_paged_role_assignments() {
    let config = Config {
        directory: DirectorySeed {
            role_assignments: (0..250)
                .map(|i| {
                    obj(
                        json!({"principalId": format!("00000000-0000-4000-8000-{i:012}"),
                    "roleDefinitionId": GLOBAL_ADMINISTRATOR}),
                    )
                })
                .collect(),
            ..Default::default()
        },
        ..Default::default()
    };
    let emu = start_with(config, sample_users()).await;
    let g = Graph::new(&emu).await;
    let a = g.get("/roleManagement/directory/roleDefinitions").await;
    assert_eq!(a.status, 200, "{}", a.text);
    context_ends(
        &a,
        "/v1.0/$metadata#roleManagement/directory/roleDefinitions",
    );
    let ga = a.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == GLOBAL_ADMINISTRATOR)
        .cloned()
        .unwrap();
    assert_eq!(ga["displayName"], "Global Administrator");
    assert_eq!(ga["isBuiltIn"], true);
    assert_eq!(ga["templateId"], GLOBAL_ADMINISTRATOR);

    let a = g.get("/roleManagement/directory/roleAssignments").await;
    assert_eq!(a.status, 200, "{}", a.text);
    context_ends(
        &a,
        "/v1.0/$metadata#roleManagement/directory/roleAssignments",
    );
    assert_eq!(
        a.body["value"].as_array().unwrap().len(),
        100,
        "default page size"
    );
    let first = &a.body["value"][0];
    for key in ["id", "principalId", "roleDefinitionId", "directoryScopeId"] {
        assert!(first[key].is_string(), "{key}: {first}");
    }
    let (all, pages) = g
        .all_pages("/roleManagement/directory/roleAssignments")
        .await;
    assert_eq!((all.len(), pages), (250, 3));
    let mut ids: Vec<&str> = all
        .iter()
        .map(|a| a["principalId"].as_str().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 250, "no duplicates or gaps");
    let (_, pages) = g
        .all_pages("/roleManagement/directory/roleAssignments?$top=999")
        .await;
    assert_eq!(pages, 1);
    let a = g
        .get("/roleManagement/directory/roleAssignments?$top=0")
        .await;
    assert_eq!(a.status, 400);
    let a = g.post("/domains", json!({"id": "x.com"})).await;
    assert_eq!(a.status, 501);
}

// 403 body as Graph sends it: {"error":{"code":"Authorization_RequestDenied","message":
// "Insufficient privileges to complete the operation.","innerError":{...}}}
// (https://learn.microsoft.com/graph/errors); the permissions each page lists, e.g.
// https://learn.microsoft.com/graph/api/domain-list (Domain.Read.All or Directory.Read.All).
#[tokio::test]
async fn reads_without_the_permission_are_403_authorization_request_denied() {
    let config = Config {
        app_roles: Some(vec!["User.ReadWrite.All".into(), "Domain.Read.All".into()]),
        ..Default::default()
    };
    let emu = start_with(config, sample_users()).await;
    let g = Graph::new(&emu).await;
    assert_eq!(g.get("/domains").await.status, 200);
    assert_eq!(g.get("/users").await.status, 200);
    for path in [
        "/directory/onPremisesSynchronization",
        "/roleManagement/directory/roleAssignments",
        "/roleManagement/directory/roleDefinitions",
    ] {
        let a = g.get(path).await;
        assert_eq!(a.status, 403, "{path}");
        assert_eq!(a.code(), "Authorization_RequestDenied");
        assert_eq!(
            a.message(),
            "Insufficient privileges to complete the operation."
        );
        let inner = &a.body["error"]["innerError"];
        assert!(
            inner["request-id"].is_string() && inner["date"].is_string(),
            "{inner}"
        );
    }

    // A higher privileged permission the page lists is enough.
    let config = Config {
        app_roles: Some(vec!["Directory.Read.All".into()]),
        ..Default::default()
    };
    let emu = start_with(config, sample_users()).await;
    let g = Graph::new(&emu).await;
    assert_eq!(g.get("/domains").await.status, 200);
    assert_eq!(
        g.get("/roleManagement/directory/roleAssignments")
            .await
            .status,
        200
    );
    assert_eq!(
        g.get("/directory/onPremisesSynchronization").await.status,
        403
    );
}

#[tokio::test]
async fn a_snapshot_folder_seeds_the_tenant() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.json"), sample_users().to_string()).unwrap();
    std::fs::write(
        dir.path().join("roleAssignments.json"),
        json!({"value": [{"principalId": "p1", "roleDefinitionId": GLOBAL_ADMINISTRATOR}]})
            .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("domains.json"),
        json!([{"id": "contoso.com", "isVerified": true, "isInitial": false}]).to_string(),
    )
    .unwrap();
    let config = Config::default().with_tenant_file(dir.path()).unwrap();
    let emu = graph_emulator::Emulator::start(config).await.unwrap();
    let g = Graph::new(&emu).await;
    assert_eq!(emu.users_snapshot().len(), 3);
    let a = g.get("/roleManagement/directory/roleAssignments").await;
    assert_eq!(a.body["value"][0]["principalId"], "p1");
    let a = g.get("/domains").await;
    assert_eq!(a.body["value"].as_array().unwrap().len(), 1);
}
