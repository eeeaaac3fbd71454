//! `/v1.0/users`: list, query options, paging, single-user CRUD, write rules, delta.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::HashSet;

const ADAM: &str = "3ab39606-c642-489b-84b6-58c038d3ef39";
const SYNCED: &str = "11111111-0000-4000-8000-000000000002";

async fn setup() -> (graph_emulator::RunningEmulator, Graph) {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    (emu, g)
}

fn upns(a: &Answer) -> Vec<String> {
    let mut v: Vec<String> = a.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

// ------------------------------------------------------------------ list and query options

#[tokio::test]
async fn list_without_select_returns_the_default_property_set() {
    let (_emu, g) = setup().await;
    let a = g.get("/users").await;
    assert_eq!(a.status, 200);
    assert!(
        a.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#users")
    );
    let adam = a.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == ADAM)
        .unwrap();
    let keys: Vec<&str> = adam
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "businessPhones",
            "displayName",
            "givenName",
            "jobTitle",
            "mail",
            "mobilePhone",
            "officeLocation",
            "preferredLanguage",
            "surname",
            "userPrincipalName",
            "id"
        ]
    );
    assert_eq!(adam["businessPhones"], json!([]));
    assert_eq!(adam["mobilePhone"], Value::Null);
    assert!(a.header("request-id").is_some());
}

#[tokio::test]
async fn select_returns_exactly_the_selected_properties() {
    let (_emu, g) = setup().await;
    let a = g
        .get("/users?$select=displayName,proxyAddresses,onPremisesImmutableId")
        .await;
    assert_eq!(a.status, 200);
    assert!(
        a.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#users(displayName,proxyAddresses,onPremisesImmutableId)")
    );
    for u in a.body["value"].as_array().unwrap() {
        let keys: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
        // `id` comes back only when selected.
        assert_eq!(
            keys,
            ["displayName", "proxyAddresses", "onPremisesImmutableId"]
        );
    }
    // Graph matches property names without regard to case and answers in its own casing.
    let a = g
        .get("/users?$select=ID,userprincipalname,customThing")
        .await;
    assert_eq!(a.status, 400, "unknown properties are refused");
    assert_eq!(a.code(), "BadRequest");
    let a = g.get("/users?$select=ID,userprincipalname").await;
    assert!(a.body["value"][0].get("userPrincipalName").is_some());
    // Properties served only on a single user are a 501 on the collection.
    assert_eq!(g.get("/users?$select=aboutMe").await.status, 501);
}

#[tokio::test]
async fn top_must_be_between_1_and_999() {
    let (_emu, g) = setup().await;
    for bad in ["0", "1000", "-1", "abc"] {
        let a = g.get(&format!("/users?$top={bad}")).await;
        assert_eq!(a.status, 400, "$top={bad}");
        assert_eq!(a.code(), "Request_UnsupportedQuery");
        assert_eq!(
            a.message(),
            format!("Invalid page size specified: '{bad}'. Must be between 1 and 999 inclusive.")
        );
    }
    let a = g.get("/users?$top=1").await;
    assert_eq!(a.body["value"].as_array().unwrap().len(), 1);
    assert!(
        a.body["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("$top=1")
    );
    assert_eq!(g.get("/users?$top=999").await.status, 200);
}

#[tokio::test]
async fn default_page_size_is_100() {
    let emu = start(many_users(150)).await;
    let g = Graph::new(&emu).await;
    let a = g.get("/users").await;
    assert_eq!(a.body["value"].as_array().unwrap().len(), 100);
    let (all, pages) = g.all_pages("/users").await;
    assert_eq!((all.len(), pages), (150, 2));
}

#[tokio::test]
async fn filter_eq_on_identity_properties_ignores_case() {
    let (_emu, g) = setup().await;
    let cases = [
        "userPrincipalName eq 'ADAM.ANDERSON@example.com'",
        "mail eq 'adam.anderson@EXAMPLE.com'",
        &format!("id eq '{ADAM}'"),
        "mailNickname eq 'adam.anderson'",
        "employeeId eq 'E100'",
    ];
    for f in cases {
        let a = g.get(&format!("/users?$filter={f}")).await;
        assert_eq!(a.status, 200, "{f}: {}", a.text);
        assert_eq!(upns(&a), ["adam.anderson@example.com"], "{f}");
    }
    let a = g.get("/users?$filter=accountEnabled eq false").await;
    assert_eq!(upns(&a), ["alva.wood@example.com"]);
    let a = g
        .get("/users?$filter=userPrincipalName in ('alva.wood@example.com','x@example.com')")
        .await;
    assert_eq!(upns(&a), ["alva.wood@example.com"]);
}

#[tokio::test]
async fn filter_on_immutable_id_is_an_advanced_query() {
    let (_emu, g) = setup().await;
    let f = "/users?$filter=onPremisesImmutableId eq 'BpazOkLGm0iEtljAONPvOQ=='";
    let a = g.get(f).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.code(), "Request_UnsupportedQuery");
    let a = g.get_eventual(&format!("{f}&$count=true")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(upns(&a), ["adam.anderson@example.com"]);
    assert_eq!(a.body["@odata.count"], 1);
}

#[tokio::test]
async fn filter_startswith_and_or() {
    let (_emu, g) = setup().await;
    let a = g.get("/users?$filter=startswith(displayName,'a')").await;
    assert_eq!(
        upns(&a),
        ["adam.anderson@example.com", "alva.wood@example.com"]
    );
    let a = g
        .get("/users?$filter=startswith(userPrincipalName,'adam') and accountEnabled eq true")
        .await;
    assert_eq!(upns(&a), ["adam.anderson@example.com"]);
    let a = g.get("/users?$filter=mail eq 'synced.user@example.com' or userPrincipalName eq 'alva.wood@example.com'").await;
    assert_eq!(
        upns(&a),
        ["alva.wood@example.com", "synced.user@example.com"]
    );
    let a = g.get("/users?$filter=(startswith(displayName,'Adam') or startswith(displayName,'Syn')) and accountEnabled eq true").await;
    assert_eq!(
        upns(&a),
        ["adam.anderson@example.com", "synced.user@example.com"]
    );
}

#[tokio::test]
async fn filter_proxy_addresses_any_ignores_case() {
    let (_emu, g) = setup().await;
    for f in [
        "proxyAddresses/any(p:p eq 'smtp:aanderson@example.net')",
        "proxyAddresses/any(p:p eq 'SMTP:AANDERSON@EXAMPLE.NET')",
        "proxyAddresses/any(x:startswith(x,'smtp:adam.'))",
    ] {
        let a = g.get(&format!("/users?$filter={f}")).await;
        assert_eq!(a.status, 200, "{f}: {}", a.text);
        assert_eq!(upns(&a), ["adam.anderson@example.com"], "{f}");
    }
    let a = g
        .get("/users?$filter=proxyAddresses eq 'smtp:x@example.com'")
        .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn unsupported_filters_get_graphs_errors() {
    let (_emu, g) = setup().await;
    let a = g.get("/users?$filter=endswith(mail,'@example.com')").await;
    assert_eq!((a.status, a.code()), (400, "Request_UnsupportedQuery"));
    assert!(
        a.message()
            .starts_with("Operator 'endsWith' is not supported"),
        "{}",
        a.message()
    );
    let a = g
        .get_eventual("/users?$filter=endswith(mail,'@example.com')&$count=true")
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["@odata.count"], 2);
    let a = g.get("/users?$filter=mail ne 'x@example.com'").await;
    assert_eq!((a.status, a.code()), (400, "Request_UnsupportedQuery"));
    let a = g.get("/users?$filter=startswith(jobTitle,'Sales')").await;
    assert_eq!(
        a.message(),
        "Unsupported or invalid query filter clause specified for property 'jobTitle' of resource 'User'."
    );
    let a = g.get("/users?$filter=userPrincipalName eq").await;
    assert_eq!((a.status, a.code()), (400, "BadRequest"));
    assert_eq!(g.get("/users?$skip=1").await.status, 400);
    let a = g.get("/users?$search=\"displayName:adam\"").await;
    assert_eq!((a.status, a.code()), (400, "Request_UnsupportedQuery"));
}

#[tokio::test]
async fn deeply_nested_filters_get_a_400_also_inside_batch() {
    let (_emu, g) = setup().await;
    let deep = format!("{}mail eq 'x'{}", "(".repeat(2_000), ")".repeat(2_000));
    let a = g.get(&format!("/users?$filter={deep}")).await;
    assert_eq!((a.status, a.code()), (400, "BadRequest"));
    assert!(a.message().contains("Recursion depth"), "{}", a.message());
    assert!(a.body["error"]["innerError"]["request-id"].is_string());
    let chain = vec!["mail eq 'x'"; 10_000].join(" or ");
    let batch = json!({"requests": [
        {"id": "1", "method": "GET", "url": format!("/users?$filter={deep}")},
        {"id": "2", "method": "GET", "url": format!("/users?$filter={chain}")},
    ]});
    let a = g.post("/$batch", batch).await;
    assert_eq!(a.status, 200);
    let answers = a.body["responses"].as_array().unwrap();
    assert_eq!(answers.len(), 2);
    for r in answers {
        assert_eq!(r["status"], 400, "{r}");
        assert_eq!(r["body"]["error"]["code"], "BadRequest", "{r}");
    }
}

#[tokio::test]
async fn count_needs_consistency_level() {
    let (_emu, g) = setup().await;
    let a = g.get("/users/$count").await;
    assert_eq!(
        (a.status, a.message()),
        (400, "$count is not currently supported.")
    );
    let a = g.get_eventual("/users/$count").await;
    assert_eq!((a.status, a.text.as_str()), (200, "3"));
    // `$count=true` without the header is silently ignored.
    let a = g.get("/users?$count=true").await;
    assert_eq!(a.status, 200);
    assert!(a.body.get("@odata.count").is_none());
}

#[tokio::test]
async fn orderby_display_name() {
    let (_emu, g) = setup().await;
    let a = g
        .get("/users?$orderby=displayName desc&$select=displayName")
        .await;
    let names: Vec<&str> = a.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Synced User", "Alva Wood", "Adam Anderson"]);
    let a = g
        .get("/users?$orderby=displayName&$filter=accountEnabled eq true")
        .await;
    assert_eq!(
        a.status, 400,
        "$filter with $orderby needs advanced query parameters"
    );
}

#[tokio::test]
async fn paging_2500_users_at_999_has_no_duplicates_or_gaps() {
    let emu = start(many_users(2500)).await;
    let g = Graph::new(&emu).await;
    let (all, pages) = g
        .all_pages("/users?$select=id,userPrincipalName&$top=999")
        .await;
    assert_eq!(pages, 3);
    let ids: HashSet<&str> = all.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2500);
    assert_eq!(all.len(), 2500);
}

#[tokio::test]
async fn paging_is_stable_while_users_are_added_and_removed() {
    let emu = start(many_users(2500)).await;
    let g = Graph::new(&emu).await;
    let before: HashSet<String> = emu
        .users_snapshot()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    // Users removed during the read; the rest existed for the whole read.
    let doomed: Vec<String> = before.iter().step_by(7).take(100).cloned().collect();
    let survivors: HashSet<String> = before
        .iter()
        .filter(|id| !doomed.contains(id))
        .cloned()
        .collect();

    let mut seen: Vec<String> = Vec::new();
    let mut url = "/users?$select=id&$top=300".to_string();
    let mut page = 0;
    loop {
        let a = g.get(&url).await;
        assert_eq!(a.status, 200, "{}", a.text);
        seen.extend(
            a.body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_string()),
        );
        // Between pages: concurrent creates and deletes from another client.
        let writer = Graph {
            http: http(),
            base: g.base.clone(),
            token: g.token.clone(),
        };
        let mut writes = Vec::new();
        for i in 0..20 {
            let w = Graph {
                http: writer.http.clone(),
                base: writer.base.clone(),
                token: writer.token.clone(),
            };
            let upn = format!("late{page}-{i}@example.com");
            writes.push(tokio::spawn(async move {
                w.post("/users", new_user(&upn)).await.status
            }));
        }
        for id in doomed.iter().skip(page * 10).take(10) {
            let w = Graph {
                http: writer.http.clone(),
                base: writer.base.clone(),
                token: writer.token.clone(),
            };
            let id = id.clone();
            writes.push(tokio::spawn(async move {
                w.delete(&format!("/users/{id}")).await.status
            }));
        }
        for w in writes {
            assert!(matches!(w.await.unwrap(), 201 | 204));
        }
        page += 1;
        match a.body["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no user twice");
    for id in &survivors {
        assert!(
            unique.contains(id),
            "user {id} existed for the whole read but was skipped"
        );
    }
}

// ------------------------------------------------------------------ single user

#[tokio::test]
async fn get_by_id_and_by_upn() {
    let (_emu, g) = setup().await;
    let a = g.get(&format!("/users/{ADAM}")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["userPrincipalName"], "adam.anderson@example.com");
    assert!(
        a.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#users/$entity")
    );
    let a = g
        .get("/users/Adam.Anderson@example.com?$select=id,onPremisesImmutableId,proxyAddresses")
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["id"], ADAM);
    assert_eq!(a.body["onPremisesImmutableId"], "BpazOkLGm0iEtljAONPvOQ==");
    assert!(
        a.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#users(id,onPremisesImmutableId,proxyAddresses)/$entity")
    );
    let a = g.get("/users/00000000-0000-0000-0000-00000000dead").await;
    assert_eq!((a.status, a.code()), (404, "Request_ResourceNotFound"));
}

#[tokio::test]
async fn create_user_answers_201_with_the_object() {
    let (emu, g) = setup().await;
    let mut body = new_user("new.person@example.com");
    body["mail"] = json!("new.person@example.com");
    let a = g.post("/users", body).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.body["id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(a.body["userPrincipalName"], "new.person@example.com");
    assert!(a.body.get("passwordProfile").is_none());
    assert!(a.header("Location").unwrap().ends_with(id));
    let stored = emu.user("new.person@example.com").unwrap();
    assert_eq!(
        stored["proxyAddresses"],
        json!(["SMTP:new.person@example.com"])
    );
    assert!(
        stored.get("passwordProfile").is_none(),
        "the password is never returned"
    );
    assert_eq!(emu.stats().writes_applied, 1);
    let a = g
        .get("/users/new.person@example.com?$select=passwordProfile,accountEnabled")
        .await;
    assert_eq!(a.body["passwordProfile"], Value::Null);
    assert_eq!(a.body["accountEnabled"], true);
}

#[tokio::test]
async fn create_user_requires_the_documented_properties() {
    let (_emu, g) = setup().await;
    for missing in [
        "accountEnabled",
        "displayName",
        "mailNickname",
        "passwordProfile",
        "userPrincipalName",
    ] {
        let mut body = new_user("x@example.com");
        body.as_object_mut().unwrap().remove(missing);
        let a = g.post("/users", body).await;
        assert_eq!(
            (a.status, a.code()),
            (400, "Request_BadRequest"),
            "{missing}"
        );
        assert_eq!(
            a.message(),
            format!("Property {missing} value is required but is empty or missing.")
        );
    }
    let a = g.post("/users", json!(null)).await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn duplicate_upn_is_refused_with_object_conflict() {
    let (_emu, g) = setup().await;
    let a = g
        .post("/users", new_user("ADAM.anderson@example.com"))
        .await;
    assert_eq!((a.status, a.code()), (400, "Request_BadRequest"));
    assert_eq!(
        a.message(),
        "Another object with the same value for property userPrincipalName already exists."
    );
    assert_eq!(a.body["error"]["details"][0]["code"], "ObjectConflict");
    assert_eq!(a.body["error"]["details"][0]["target"], "userPrincipalName");
    let a = g
        .patch(
            "/users/alva.wood@example.com",
            json!({"userPrincipalName": "synced.user@example.com"}),
        )
        .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn upn_domain_must_be_verified_when_domains_are_configured() {
    let config = graph_emulator::Config {
        verified_domains: Some(vec!["example.com".into()]),
        ..Default::default()
    };
    let emu = start_with(config, sample_users()).await;
    let g = Graph::new(&emu).await;
    let a = g.post("/users", new_user("someone@corp.local")).await;
    assert_eq!(a.status, 400);
    assert!(
        a.message()
            .starts_with("The domain portion of the userPrincipalName property is invalid.")
    );
    assert_eq!(
        g.post("/users", new_user("someone@example.com"))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn patch_by_id_and_by_upn_answers_204() {
    let (emu, g) = setup().await;
    let a = g
        .patch(
            &format!("/users/{ADAM}"),
            json!({"jobTitle": "Head of Sales", "department": null}),
        )
        .await;
    assert_eq!((a.status, a.text.as_str()), (204, ""));
    let a = g
        .patch(
            "/users/alva.wood@example.com",
            json!({"usageLocation": "SE", "givenName": "Alva"}),
        )
        .await;
    assert_eq!(a.status, 204);
    assert_eq!(emu.user(ADAM).unwrap()["jobTitle"], "Head of Sales");
    assert_eq!(emu.user(ADAM).unwrap()["department"], Value::Null);
    assert_eq!(
        emu.user("alva.wood@example.com").unwrap()["usageLocation"],
        "SE"
    );
    assert_eq!(
        g.patch("/users/ghost@example.com", json!({"jobTitle": "x"}))
            .await
            .status,
        404
    );
    let a = g
        .patch(&format!("/users/{ADAM}"), json!({"displayName": ""}))
        .await;
    assert_eq!(
        a.message(),
        "Invalid value specified for property 'displayName' of resource 'User'."
    );
    let a = g
        .patch(
            &format!("/users/{ADAM}"),
            json!({"favouriteColour": "blue"}),
        )
        .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn proxy_addresses_are_read_only() {
    let (emu, g) = setup().await;
    let a = g
        .patch(
            &format!("/users/{ADAM}"),
            json!({"proxyAddresses": ["SMTP:x@example.com"]}),
        )
        .await;
    assert_eq!((a.status, a.code()), (400, "Request_BadRequest"));
    assert_eq!(
        a.message(),
        "Property 'proxyAddresses' is read-only and cannot be set."
    );
    let mut body = new_user("p@example.com");
    body["proxyAddresses"] = json!(["SMTP:p@example.com"]);
    assert_eq!(g.post("/users", body).await.status, 400);
    // Setting mail is how the primary SMTP address changes.
    assert_eq!(
        g.patch(
            &format!("/users/{ADAM}"),
            json!({"mail": "aanderson@example.net"})
        )
        .await
        .status,
        204
    );
    // The new primary comes first, as in Graph's example of proxyAddresses
    // (https://learn.microsoft.com/graph/api/resources/user); the old one stays as smtp:.
    assert_eq!(
        emu.user(ADAM).unwrap()["proxyAddresses"],
        json!([
            "SMTP:aanderson@example.net",
            "smtp:Adam.Anderson@example.com"
        ])
    );
    // An address held by another recipient is a conflict.
    let a = g
        .patch(
            "/users/alva.wood@example.com",
            json!({"mail": "synced.user@example.com"}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["error"]["details"][0]["target"], "proxyAddresses");
}

#[tokio::test]
async fn synced_users_refuse_writes_to_mastered_properties() {
    let (emu, g) = setup().await;
    for body in [
        json!({"jobTitle": "CTO"}),
        json!({"displayName": "Renamed"}),
        json!({"accountEnabled": false}),
        json!({"onPremisesImmutableId": "BBBBBBBBBBBBBBBBBBBBBB=="}),
        json!({"usageLocation": "NL", "mail": "x@example.com"}),
    ] {
        let a = g.patch(&format!("/users/{SYNCED}"), body.clone()).await;
        assert_eq!((a.status, a.code()), (400, "Request_BadRequest"), "{body}");
        assert_eq!(
            a.message(),
            "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration."
        );
    }
    assert_eq!(emu.user(SYNCED).unwrap()["jobTitle"], "Engineer");
    // usageLocation is cloud-mastered.
    assert_eq!(
        g.patch(&format!("/users/{SYNCED}"), json!({"usageLocation": "DE"}))
            .await
            .status,
        204
    );
}

/// Where the emulator and idsync's Entra snapshot used to differ, both now follow the
/// `graph-rules` table: employeeLeaveDateTime is cloud-writable on a synced user (Graph's
/// lifecycle-workflows tutorial sets it with a PATCH,
/// https://learn.microsoft.com/graph/tutorial-lifecycle-workflows-set-employeeleavedatetime),
/// and `id` is read-only ("Read-only", https://learn.microsoft.com/graph/api/resources/user).
#[tokio::test]
async fn shared_rules_decide_where_the_fakes_differed() {
    let (emu, g) = setup().await;
    let a = g
        .patch(
            &format!("/users/{SYNCED}"),
            json!({"employeeLeaveDateTime": "2027-09-30T23:59:59Z"}),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    assert_eq!(
        emu.user(SYNCED).unwrap()["employeeLeaveDateTime"],
        "2027-09-30T23:59:59Z"
    );
    let a = g
        .patch(&format!("/users/{ADAM}"), json!({"id": ADAM}))
        .await;
    assert_eq!(a.message(), "Property 'id' is read-only and cannot be set.");
}

#[tokio::test]
async fn immutable_id_can_be_set_on_cloud_users_within_its_rules() {
    let (emu, g) = setup().await;
    let alva = "/users/alva.wood@example.com";
    assert_eq!(
        g.patch(
            alva,
            json!({"onPremisesImmutableId": "CCCCCCCCCCCCCCCCCCCCCC=="})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        emu.user("alva.wood@example.com").unwrap()["onPremisesImmutableId"],
        "CCCCCCCCCCCCCCCCCCCCCC=="
    );
    let a = g
        .patch(
            alva,
            json!({"onPremisesImmutableId": "BpazOkLGm0iEtljAONPvOQ=="}),
        )
        .await;
    assert_eq!(a.status, 400, "held by Adam");
    assert_eq!(
        a.body["error"]["details"][0]["target"],
        "onPremisesImmutableId"
    );
    let a = g
        .patch(alva, json!({"onPremisesImmutableId": "has_underscore"}))
        .await;
    assert_eq!(
        a.message(),
        "Invalid value specified for property 'onPremisesImmutableId' of resource 'User'."
    );
}

#[tokio::test]
async fn delete_answers_204_then_404() {
    let (emu, g) = setup().await;
    assert_eq!(g.delete("/users/alva.wood@example.com").await.status, 204);
    assert!(emu.user("alva.wood@example.com").is_none());
    assert_eq!(g.get("/users/alva.wood@example.com").await.status, 404);
    let a = g.delete("/users/alva.wood@example.com").await;
    assert_eq!((a.status, a.code()), (404, "Request_ResourceNotFound"));
    assert_eq!(emu.stats().writes_applied, 1);
}

// ------------------------------------------------------------------ delta

async fn delta_round(g: &Graph, first: &str) -> (Vec<Value>, String, usize) {
    let mut items = Vec::new();
    let mut url = first.to_string();
    let mut pages = 0;
    loop {
        let a = g.get(&url).await;
        assert_eq!(a.status, 200, "{}", a.text);
        pages += 1;
        items.extend(a.body["value"].as_array().cloned().unwrap());
        if let Some(n) = a.body["@odata.nextLink"].as_str() {
            assert!(a.body.get("@odata.deltaLink").is_none());
            url = n.to_string();
            continue;
        }
        let d = a.body["@odata.deltaLink"]
            .as_str()
            .expect("deltaLink at the end")
            .to_string();
        return (items, d, pages);
    }
}

#[tokio::test]
async fn delta_initial_round_pages_then_gives_a_delta_link() {
    let emu = start(many_users(250)).await;
    let g = Graph::new(&emu).await;
    let (items, delta_link, pages) =
        delta_round(&g, "/users/delta?$select=displayName,userPrincipalName").await;
    assert_eq!(items.len(), 250);
    assert_eq!(pages, 3, "100 per page by default");
    assert!(delta_link.contains("/v1.0/users/delta?$deltatoken="));
    assert!(items[0].get("id").is_some(), "id is always returned");
    let (changes, _, _) = delta_round(&g, &delta_link).await;
    assert!(changes.is_empty(), "nothing changed");
}

#[tokio::test]
async fn delta_link_returns_only_changes() {
    let (_emu, g) = setup().await;
    let (items, delta_link, _) =
        delta_round(&g, "/users/delta?$select=displayName,jobTitle,mail").await;
    assert_eq!(items.len(), 3);
    // Null properties are left out of delta items.
    let alva = items
        .iter()
        .find(|u| u["displayName"] == "Alva Wood")
        .unwrap();
    assert!(alva.get("mail").is_none());

    assert_eq!(
        g.patch(&format!("/users/{ADAM}"), json!({"jobTitle": "Director"}))
            .await
            .status,
        204
    );
    assert_eq!(
        g.patch(
            "/users/alva.wood@example.com",
            json!({"usageLocation": "SE"})
        )
        .await
        .status,
        204,
        "not selected"
    );
    let created = g.post("/users", new_user("fresh@example.com")).await;
    let fresh_id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(g.delete(&format!("/users/{SYNCED}")).await.status, 204);

    let (changes, next_link, _) = delta_round(&g, &delta_link).await;
    let by_id = |id: &str| changes.iter().find(|u| u["id"] == id).cloned();
    assert_eq!(changes.len(), 3, "{changes:?}");
    let adam = by_id(ADAM).unwrap();
    assert_eq!(adam["jobTitle"], "Director");
    assert_eq!(
        adam["displayName"], "Adam Anderson",
        "default: unchanged selected properties too"
    );
    assert_eq!(by_id(&fresh_id).unwrap()["displayName"], "New Person");
    assert_eq!(
        by_id(SYNCED).unwrap()["@removed"],
        json!({"reason": "changed"})
    );

    // Prefer: return=minimal gives only the changed properties.
    assert_eq!(
        g.patch(&format!("/users/{ADAM}"), json!({"jobTitle": null}))
            .await
            .status,
        204
    );
    let a = g
        .get_with(&next_link, &[("Prefer", "return=minimal")])
        .await;
    assert_eq!(a.body["value"], json!([{"jobTitle": null, "id": ADAM}]));
    let (after, _, _) = delta_round(&g, a.body["@odata.deltaLink"].as_str().unwrap()).await;
    assert!(after.is_empty());
}

#[tokio::test]
async fn delta_latest_and_id_scoping() {
    let (_emu, g) = setup().await;
    let a = g.get("/users/delta?$deltatoken=latest").await;
    assert_eq!(a.body["value"], json!([]));
    let latest = a.body["@odata.deltaLink"].as_str().unwrap().to_string();
    assert_eq!(
        g.patch(
            "/users/alva.wood@example.com",
            json!({"displayName": "Alva W."})
        )
        .await
        .status,
        204
    );
    let (changes, _, _) = delta_round(&g, &latest).await;
    assert_eq!(changes.len(), 1);
    let (items, _, _) = delta_round(&g, &format!("/users/delta?$filter=id eq '{ADAM}'")).await;
    assert_eq!(items.len(), 1);
    let a = g.get("/users/delta?$filter=displayName eq 'x'").await;
    assert_eq!(a.status, 400);
}
