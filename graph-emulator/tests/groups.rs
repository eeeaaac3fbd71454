//! `/v1.0/groups`, `/groups/{id}/members` with `$ref` add and remove, and `/contacts`: shapes,
//! paging, `$select`, `$filter`, `$expand`, Graph's refusals, the same inside `$batch`, and a
//! snapshot folder's `groups.json` / `contacts.json`.
//!
//! Pages of Graph behind the assertions:
//! - <https://learn.microsoft.com/graph/api/group-list> and `group-get`, `group-post-groups`
//!   (required properties; Graph creates Microsoft 365 and security groups only: the refusal
//!   text as reported in microsoftgraph/microsoft-graph-docs#372),
//! - <https://learn.microsoft.com/graph/api/group-list-members>,
//!   <https://learn.microsoft.com/graph/api/group-post-members> (the duplicate's 400 text),
//!   <https://learn.microsoft.com/graph/api/group-delete-members>,
//! - <https://learn.microsoft.com/graph/known-issues> (`$expand` on directory objects: at most 20,
//!   no next link),
//! - <https://learn.microsoft.com/graph/api/resources/orgcontact> (reads only).

mod common;

use common::*;
use graph_emulator::{Config, Emulator, RunningEmulator};
use serde_json::{Value, json};

const ADAM: &str = "3ab39606-c642-489b-84b6-58c038d3ef39";
const SYNCED_USER: &str = "11111111-0000-4000-8000-000000000002";
const ALVA: &str = "11111111-0000-4000-8000-000000000003";
const SALES: &str = "22222222-0000-4000-8000-000000000001";
const SYNCED: &str = "22222222-0000-4000-8000-000000000002";
const DYNAMIC: &str = "22222222-0000-4000-8000-000000000003";
const LIST: &str = "22222222-0000-4000-8000-000000000004";
const TEAM: &str = "22222222-0000-4000-8000-000000000005";
const CONTACT: &str = "33333333-0000-4000-8000-000000000001";

fn sample_groups() -> Value {
    json!({"value": [
        {"id": SALES, "displayName": "Sales", "mailEnabled": false, "mailNickname": "sales",
         "securityEnabled": true, "groupTypes": [], "description": "Sales team",
         "members": [{"@odata.type": "#microsoft.graph.user", "id": ADAM}]},
        {"id": SYNCED, "displayName": "Synced", "mailEnabled": false, "mailNickname": "synced",
         "securityEnabled": true, "groupTypes": [], "onPremisesSyncEnabled": true,
         "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-1104", "members": []},
        {"id": DYNAMIC, "displayName": "Dynamic", "mailEnabled": false, "mailNickname": "dyn",
         "securityEnabled": true, "groupTypes": ["DynamicMembership"],
         "membershipRule": "user.department -eq \"Sales\"", "membershipRuleProcessingState": "On"},
        {"id": LIST, "displayName": "All Staff", "mailEnabled": true, "mailNickname": "staff",
         "securityEnabled": false, "groupTypes": [], "mail": "staff@example.com",
         "proxyAddresses": ["SMTP:staff@example.com", "smtp:all@example.net"]},
        {"id": TEAM, "displayName": "Team", "mailEnabled": true, "mailNickname": "team",
         "securityEnabled": false, "groupTypes": ["Unified"], "mail": "team@example.com",
         "proxyAddresses": ["SMTP:team@example.com"]}
    ]})
}

fn sample_contacts() -> Value {
    json!({"value": [
        {"id": CONTACT, "displayName": "Partner", "mail": "partner@fabrikam.example",
         "mailNickname": "partner", "proxyAddresses": ["SMTP:partner@fabrikam.example"],
         "onPremisesSyncEnabled": true}
    ]})
}

async fn setup() -> (RunningEmulator, Graph) {
    let config = Config::default()
        .with_tenant_json(sample_users())
        .unwrap()
        .with_groups_json(sample_groups())
        .unwrap()
        .with_contacts_json(sample_contacts())
        .unwrap();
    let emu = Emulator::start(config).await.unwrap();
    let g = Graph::new(&emu).await;
    (emu, g)
}

fn ref_body(id: &str) -> Value {
    json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")})
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

// ------------------------------------------------------------------ reads

#[tokio::test]
async fn groups_list_with_select_and_the_default_set() {
    let (_emu, g) = setup().await;
    let a = g
        .get("/groups?$select=id,displayName,mailEnabled,proxyAddresses")
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        a.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#groups(id,displayName,mailEnabled,proxyAddresses)")
    );
    let sales = &a.body["value"][0];
    assert_eq!(
        sales,
        &json!({"id": SALES, "displayName": "Sales", "mailEnabled": false, "proxyAddresses": []})
    );
    // Without $select: Graph's default set, members not among them (a relationship).
    let a = g.get(&format!("/groups/{SALES}")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["description"], "Sales team");
    assert_eq!(a.body["onPremisesSyncEnabled"], Value::Null);
    assert!(a.body.get("members").is_none());
    assert!(
        a.body.get("assignedLicenses").is_none(),
        "returned only on $select"
    );
    let a = g.get("/groups?$select=nope").await;
    assert_eq!((a.status, a.code()), (400, "BadRequest"));
    assert_eq!(
        a.message(),
        "Could not find a property named 'nope' on type 'microsoft.graph.group'."
    );
    let a = g.get("/groups/00000000-0000-0000-0000-00000000dead").await;
    assert_eq!((a.status, a.code()), (404, "Request_ResourceNotFound"));
}

#[tokio::test]
async fn groups_page_by_next_link_and_top_is_bounded() {
    let (_emu, g) = setup().await;
    let (items, pages) = g.all_pages("/groups?$select=id&$top=2").await;
    assert_eq!(pages, 3);
    assert_eq!(ids(&items), [SALES, SYNCED, DYNAMIC, LIST, TEAM]);
    let a = g.get("/groups?$top=1000").await;
    assert_eq!((a.status, a.code()), (400, "Request_UnsupportedQuery"));
    let a = g.get("/groups?$skiptoken=garbage").await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn groups_filter_on_mail_display_name_and_proxy_addresses() {
    let (_emu, g) = setup().await;
    for (filter, want) in [
        ("mail eq 'STAFF@example.com'", vec![LIST]),
        ("displayName eq 'Sales'", vec![SALES]),
        (
            "proxyAddresses/any(p:p eq 'smtp:all@example.net')",
            vec![LIST],
        ),
        (
            "securityEnabled eq true and mailEnabled eq false",
            vec![SALES, SYNCED, DYNAMIC],
        ),
    ] {
        let a = g.get(&format!("/groups?$select=id&$filter={filter}")).await;
        assert_eq!(a.status, 200, "{filter}: {}", a.text);
        assert_eq!(ids(a.body["value"].as_array().unwrap()), want, "{filter}");
    }
    let a = g.get("/groups?$filter=userPrincipalName eq 'x'").await;
    assert_eq!((a.status, a.code()), (400, "Request_UnsupportedQuery"));
}

#[tokio::test]
async fn expanded_members_stop_at_twenty_without_a_next_link() {
    let emu = start(many_users(30)).await;
    let members: Vec<Value> = emu
        .users_snapshot()
        .iter()
        .map(|u| json!({"id": u["id"]}))
        .collect();
    emu.insert_group(
        json!({"id": SALES, "displayName": "Big", "mailEnabled": false,
        "mailNickname": "big", "securityEnabled": true, "members": members}),
    )
    .unwrap();
    let g = Graph::new(&emu).await;
    let a = g
        .get("/groups?$select=id&$expand=members($select=id)&$top=999")
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let expanded = a.body["value"][0]["members"].as_array().unwrap();
    assert_eq!(expanded.len(), 20);
    assert_eq!(
        expanded[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["@odata.type", "id"]
    );
    assert_eq!(expanded[0]["@odata.type"], "#microsoft.graph.user");
    assert!(a.body.get("members@odata.nextLink").is_none());
    let a = g.get("/groups?$expand=owners").await;
    assert_eq!(a.status, 501);
}

#[tokio::test]
async fn members_page_with_select() {
    let emu = start(many_users(250)).await;
    let members: Vec<Value> = emu
        .users_snapshot()
        .iter()
        .map(|u| json!({"id": u["id"]}))
        .collect();
    emu.insert_group(
        json!({"id": SALES, "displayName": "Big", "mailEnabled": false,
        "mailNickname": "big", "securityEnabled": true, "members": members}),
    )
    .unwrap();
    let g = Graph::new(&emu).await;
    let first = g.get(&format!("/groups/{SALES}/members")).await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.body["value"].as_array().unwrap().len(),
        100,
        "default page"
    );
    let m = &first.body["value"][0];
    assert_eq!(m["@odata.type"], "#microsoft.graph.user");
    assert!(
        m["userPrincipalName"]
            .as_str()
            .unwrap()
            .ends_with("@example.com")
    );
    let (items, pages) = g
        .all_pages(&format!("/groups/{SALES}/members?$select=id&$top=99"))
        .await;
    assert_eq!((items.len(), pages), (250, 3));
    let mut want = emu.group_members(SALES).unwrap();
    want.sort_by_key(|s| s.to_lowercase());
    assert_eq!(ids(&items), want);
    let a = g
        .get("/groups/00000000-0000-0000-0000-00000000dead/members")
        .await;
    assert_eq!(a.status, 404);
}

#[tokio::test]
async fn contacts_are_listed_and_read_only() {
    let (_emu, g) = setup().await;
    let a = g
        .get("/contacts?$select=id,mail,onPremisesSyncEnabled")
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.body["value"],
        json!([{"id": CONTACT, "mail": "partner@fabrikam.example", "onPremisesSyncEnabled": true}])
    );
    let a = g.get(&format!("/contacts/{CONTACT}")).await;
    assert_eq!(a.body["displayName"], "Partner");
    assert_eq!(a.body["phones"], json!([]));
    for a in [
        g.post("/contacts", json!({"displayName": "x"})).await,
        g.patch(&format!("/contacts/{CONTACT}"), json!({"displayName": "x"}))
            .await,
        g.delete(&format!("/contacts/{CONTACT}")).await,
    ] {
        assert_eq!(a.status, 405, "{}", a.text);
    }
}

// ------------------------------------------------------------------ group writes

#[tokio::test]
async fn creates_follow_graphs_rules() {
    let (emu, g) = setup().await;
    let a = g
        .post(
            "/groups",
            json!({"displayName": "New", "mailEnabled": false,
            "mailNickname": "new", "securityEnabled": true}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.body["id"].as_str().unwrap().to_owned();
    assert_eq!(a.body["groupTypes"], json!([]));
    assert!(
        a.header("Location")
            .unwrap()
            .ends_with(&format!("/v1.0/groups/{id}"))
    );
    assert_eq!(emu.group_members(&id), Some(vec![]));
    let a = g
        .post(
            "/groups",
            json!({"displayName": "Team 2", "mailEnabled": true,
            "mailNickname": "team2", "securityEnabled": false, "groupTypes": ["Unified"]}),
        )
        .await;
    assert_eq!(a.status, 201, "a Microsoft 365 group may be created");
    assert_eq!(
        a.body["mail"], "team2@emulator.onmicrosoft.com",
        "in the initial domain"
    );
    for body in [
        json!({"displayName": "Mail sec", "mailEnabled": true, "mailNickname": "ms",
            "securityEnabled": true}),
        json!({"displayName": "DL", "mailEnabled": true, "mailNickname": "dl",
            "securityEnabled": false}),
    ] {
        let a = g.post("/groups", body).await;
        assert_eq!((a.status, a.code()), (400, "Request_BadRequest"));
        assert_eq!(a.message(), graph_rules::group::MAIL_ENABLED_WRITE_MESSAGE);
    }
    let a = g
        .post(
            "/groups",
            json!({"displayName": "x", "mailEnabled": false, "securityEnabled": true}),
        )
        .await;
    assert_eq!(
        a.message(),
        "Property mailNickname value is required but is empty or missing."
    );
}

#[tokio::test]
async fn synced_groups_refuse_updates_deletes_and_member_writes() {
    let (_emu, g) = setup().await;
    let synced = graph_rules::SYNCED_OBJECT_MESSAGE;
    let a = g
        .patch(&format!("/groups/{SYNCED}"), json!({"description": "x"}))
        .await;
    assert_eq!((a.status, a.message()), (400, synced));
    let a = g.delete(&format!("/groups/{SYNCED}")).await;
    assert_eq!((a.status, a.message()), (400, synced));
    let a = g
        .post(&format!("/groups/{SYNCED}/members/$ref"), ref_body(ADAM))
        .await;
    assert_eq!(
        (a.status, a.code(), a.message()),
        (400, "Request_BadRequest", synced)
    );
    let a = g
        .patch(&format!("/groups/{SALES}"), json!({"description": "New"}))
        .await;
    assert_eq!(a.status, 204);
    let a = g
        .patch(
            &format!("/groups/{SALES}"),
            json!({"mail": "x@example.com"}),
        )
        .await;
    assert_eq!(
        a.message(),
        "Property 'mail' is read-only and cannot be set."
    );
}

// ------------------------------------------------------------------ members

#[tokio::test]
async fn member_ref_add_and_remove_with_graphs_errors() {
    let (emu, g) = setup().await;
    let path = format!("/groups/{SALES}/members/$ref");
    let a = g.post(&path, ref_body(ALVA)).await;
    assert_eq!(a.status, 204, "{}", a.text);
    let a = g.post(&path, ref_body(CONTACT)).await;
    assert_eq!(a.status, 204, "a contact may be a security group's member");
    let a = g.post(&path, ref_body(TEAM)).await;
    assert_eq!(a.status, 204, "nested group");
    let mut have = emu.group_members(SALES).unwrap();
    have.sort();
    let mut want = vec![
        ADAM.to_owned(),
        ALVA.to_owned(),
        CONTACT.to_owned(),
        TEAM.to_owned(),
    ];
    want.sort();
    assert_eq!(have, want);
    // Again: already there.
    let a = g.post(&path, ref_body(ALVA)).await;
    assert_eq!((a.status, a.code()), (400, "Request_BadRequest"));
    assert_eq!(
        a.message(),
        "One or more added object references already exist for the following modified properties: 'members'."
    );
    // No such object.
    let ghost = "99999999-0000-4000-8000-000000000009";
    let a = g.post(&path, ref_body(ghost)).await;
    assert_eq!((a.status, a.code()), (404, "Request_ResourceNotFound"));
    // Dynamic membership, a distribution list, a Microsoft 365 group's member kinds.
    let a = g
        .post(&format!("/groups/{DYNAMIC}/members/$ref"), ref_body(ADAM))
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.message(), graph_rules::group::DYNAMIC_MEMBERS_MESSAGE);
    let a = g
        .post(&format!("/groups/{LIST}/members/$ref"), ref_body(ADAM))
        .await;
    assert_eq!(
        a.message(),
        graph_rules::group::MAIL_ENABLED_MEMBERS_MESSAGE
    );
    let a = g
        .post(&format!("/groups/{TEAM}/members/$ref"), ref_body(SALES))
        .await;
    assert_eq!(a.status, 400);
    let a = g
        .post(&format!("/groups/{TEAM}/members/$ref"), ref_body(ADAM))
        .await;
    assert_eq!(a.status, 204);
    // A body that is no reference.
    let a = g.post(&path, json!({"id": ALVA})).await;
    assert_eq!(a.status, 400);

    // Remove, then remove again: 404.
    let del = format!("/groups/{SALES}/members/{ALVA}/$ref");
    assert_eq!(g.delete(&del).await.status, 204);
    let a = g.delete(&del).await;
    assert_eq!((a.status, a.code()), (404, "Request_ResourceNotFound"));
    assert!(!emu.group_members(SALES).unwrap().contains(&ALVA.to_owned()));
}

#[tokio::test]
async fn deleted_users_leave_their_groups() {
    let (emu, g) = setup().await;
    assert_eq!(g.delete(&format!("/users/{ADAM}")).await.status, 204);
    assert_eq!(emu.group_members(SALES), Some(vec![]));
}

#[tokio::test]
async fn member_writes_inside_batch() {
    let (emu, g) = setup().await;
    let reqs = json!({"requests": [
        {"id": "1", "method": "POST", "url": format!("/groups/{SALES}/members/$ref"),
         "headers": {"Content-Type": "application/json"}, "body": ref_body(ALVA)},
        {"id": "2", "method": "POST", "url": format!("/groups/{SALES}/members/$ref"),
         "headers": {"Content-Type": "application/json"}, "body": ref_body(ADAM)},
        {"id": "3", "method": "DELETE", "url": format!("/groups/{SALES}/members/{SYNCED_USER}/$ref")},
        {"id": "4", "method": "POST", "url": format!("/groups/{SYNCED}/members/$ref"),
         "headers": {"Content-Type": "application/json"}, "body": ref_body(ADAM)},
        {"id": "5", "method": "GET", "url": format!("/groups/{SALES}/members?$select=id")}
    ]});
    let a = g.post("/$batch", reqs).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let rs = a.body["responses"].as_array().unwrap();
    let status = |id: &str| {
        rs.iter()
            .find(|r| r["id"] == id)
            .map(|r| r["status"].as_u64().unwrap())
            .unwrap()
    };
    assert_eq!(
        [
            status("1"),
            status("2"),
            status("3"),
            status("4"),
            status("5")
        ],
        [204, 400, 404, 400, 200]
    );
    let listed = rs.iter().find(|r| r["id"] == "5").unwrap();
    let mut got = ids(listed["body"]["value"].as_array().unwrap());
    got.sort();
    let mut want = vec![ADAM.to_owned(), ALVA.to_owned()];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(emu.group_members(SALES).unwrap().len(), 2);
}

// ------------------------------------------------------------------ snapshot folder

#[tokio::test]
async fn a_snapshot_folder_loads_groups_and_contacts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.json"), sample_users().to_string()).unwrap();
    std::fs::write(dir.path().join("groups.json"), sample_groups().to_string()).unwrap();
    std::fs::write(
        dir.path().join("contacts.json"),
        sample_contacts().to_string(),
    )
    .unwrap();
    let config = Config::default().with_tenant_file(dir.path()).unwrap();
    let emu = Emulator::start(config).await.unwrap();
    assert_eq!(emu.groups_snapshot().len(), 5);
    assert_eq!(emu.group_members(SALES), Some(vec![ADAM.to_owned()]));
    assert_eq!(emu.contacts_snapshot().len(), 1);
    // What it serves back reads as the same file.
    let sales = emu
        .groups_snapshot()
        .into_iter()
        .find(|g| g["id"] == SALES)
        .unwrap();
    assert_eq!(sales["members"], json!([{"id": ADAM}]));

    std::fs::write(
        dir.path().join("groups.json"),
        r#"{"value": [{"id": "g", "members": [{}]}]}"#,
    )
    .unwrap();
    let groups = Config::default()
        .with_tenant_file(dir.path())
        .unwrap()
        .groups;
    let mut store = graph_emulator::groups::Groups::default();
    let err = store.load_groups(groups).unwrap_err();
    assert!(
        err.to_string()
            .contains("members must be objects with an id"),
        "{err}"
    );
}
