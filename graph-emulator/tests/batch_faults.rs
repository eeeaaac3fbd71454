//! `$batch`, throttling, fault knobs, admin endpoints, concurrency.

mod common;

use common::*;
use graph_emulator::Config;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const ADAM: &str = "3ab39606-c642-489b-84b6-58c038d3ef39";

fn responses(a: &Answer) -> Vec<Value> {
    a.body["responses"].as_array().cloned().unwrap_or_default()
}

fn by_id<'a>(rs: &'a [Value], id: &str) -> &'a Value {
    rs.iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no response {id} in {rs:?}"))
}

#[tokio::test]
async fn batch_runs_each_request_with_its_own_status() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    let a = g
        .post(
            "/$batch",
            json!({"requests": [
                {"id": "1", "method": "GET", "url": "/users/adam.anderson@example.com?$select=id,jobTitle"},
                {"id": "2", "method": "PATCH", "url": format!("/users/{ADAM}"),
                 "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": "Director"}},
                {"id": "3", "method": "POST", "url": "/users",
                 "headers": {"Content-Type": "application/json"}, "body": new_user("batch.made@example.com")},
                {"id": "4", "method": "GET", "url": "/users/nobody@example.com"},
                {"id": "5", "method": "GET", "url": "users?$select=displayName&$filter=accountEnabled eq false"},
                {"id": "6", "method": "DELETE", "url": "/users/alva.wood@example.com"}
            ]}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let rs = responses(&a);
    assert_eq!(rs.len(), 6);
    assert_eq!(by_id(&rs, "1")["status"], 200);
    assert_eq!(by_id(&rs, "1")["body"]["jobTitle"], "Sales Lead");
    assert_eq!(by_id(&rs, "2")["status"], 204);
    assert!(by_id(&rs, "2").get("body").is_none());
    assert_eq!(by_id(&rs, "3")["status"], 201);
    assert_eq!(
        by_id(&rs, "3")["body"]["userPrincipalName"],
        "batch.made@example.com"
    );
    assert_eq!(by_id(&rs, "4")["status"], 404);
    assert_eq!(
        by_id(&rs, "4")["body"]["error"]["code"],
        "Request_ResourceNotFound"
    );
    assert_eq!(
        by_id(&rs, "5")["body"]["value"],
        json!([{"displayName": "Alva Wood"}])
    );
    assert_eq!(by_id(&rs, "6")["status"], 204);
    assert_eq!(emu.user(ADAM).unwrap()["jobTitle"], "Director");
    let s = emu.stats();
    assert_eq!(s.writes_applied, 3);
    assert_eq!(s.batch_items_by_status[&204], 2);
}

#[tokio::test]
async fn batch_of_more_than_20_is_400() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    let reqs: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"}))
        .collect();
    let a = g.post("/$batch", json!({ "requests": reqs })).await;
    assert_eq!((a.status, a.code()), (400, "BadRequest"));
    let reqs: Vec<Value> = (0..20)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users?$top=1"}))
        .collect();
    assert_eq!(
        g.post("/$batch", json!({ "requests": reqs })).await.status,
        200
    );
    let dup = json!({"requests": [{"id": "a", "method": "GET", "url": "/users"}, {"id": "A", "method": "GET", "url": "/users"}]});
    assert_eq!(
        g.post("/$batch", dup).await.status,
        400,
        "ids are unique, not case-sensitive"
    );
    let no_type =
        json!({"requests": [{"id": "1", "method": "PATCH", "url": "/users/x", "body": {"a": 1}}]});
    assert_eq!(
        g.post("/$batch", no_type).await.status,
        400,
        "a body needs a Content-Type header"
    );
}

#[tokio::test]
async fn batch_depends_on_gives_424_after_a_failure() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    let a = g
        .post(
            "/$batch",
            json!({"requests": [
                {"id": "3", "dependsOn": ["2"], "method": "PATCH", "url": "/users/alva.wood@example.com",
                 "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": "never"}},
                {"id": "1", "method": "PATCH", "url": "/users/alva.wood@example.com",
                 "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": "first"}},
                {"id": "2", "dependsOn": ["1"], "method": "PATCH", "url": "/users/alva.wood@example.com",
                 "headers": {"Content-Type": "application/json"}, "body": {"proxyAddresses": []}},
            ]}),
        )
        .await;
    let rs = responses(&a);
    assert_eq!(by_id(&rs, "1")["status"], 204);
    assert_eq!(by_id(&rs, "2")["status"], 400);
    assert_eq!(by_id(&rs, "3")["status"], 424);
    let order: Vec<&str> = rs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(order, ["1", "2", "3"], "dependencies run first");
    assert_eq!(
        emu.user("alva.wood@example.com").unwrap()["jobTitle"],
        "first"
    );
}

#[tokio::test]
async fn batch_items_are_throttled_one_by_one() {
    let config = Config {
        knobs: graph_emulator::Knobs {
            rate_limit: Some(5),
            ..Default::default()
        },
        ..Default::default()
    };
    let emu = start_with(config, sample_users()).await;
    let g = Graph::new(&emu).await;
    let reqs: Vec<Value> = (0..8)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users?$top=1"}))
        .collect();
    let a = g.post("/$batch", json!({ "requests": reqs })).await;
    assert_eq!(a.status, 200);
    let rs = responses(&a);
    let ok = rs.iter().filter(|r| r["status"] == 200).count();
    let throttled: Vec<&Value> = rs.iter().filter(|r| r["status"] == 429).collect();
    assert_eq!((ok, throttled.len()), (5, 3));
    for r in throttled {
        let secs: u64 = r["headers"]["Retry-After"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=10).contains(&secs));
        assert_eq!(r["body"]["error"]["code"], "TooManyRequests");
    }
    let s = emu.stats();
    assert_eq!(s.throttled, 3);
    assert_eq!(
        s.early_requests, 0,
        "items after the first 429 arrived with it: the client could not have waited"
    );
    // The same connection right away: sent after reading the 429, so early.
    let a = g
        .post(
            "/$batch",
            json!({ "requests": [{"id": "1", "method": "GET", "url": "/users?$top=1"}] }),
        )
        .await;
    assert_eq!(responses(&a)[0]["status"], 429);
    assert_eq!(emu.stats().early_requests, 1);
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after_and_counts_early_requests() {
    let config = Config {
        knobs: graph_emulator::Knobs {
            rate_limit: Some(3),
            ..Default::default()
        },
        ..Default::default()
    };
    let emu = start_with(config, sample_users()).await;
    let g = Graph::new(&emu).await;
    for _ in 0..3 {
        assert_eq!(g.get("/users?$top=1").await.status, 200);
    }
    let a = g.get("/users?$top=1").await;
    assert_eq!(a.status, 429);
    assert_eq!(a.code(), "TooManyRequests");
    assert_eq!(a.body["error"]["innerError"]["status"], "429");
    let retry: u64 = a
        .header("Retry-After")
        .unwrap()
        .parse()
        .expect("integer seconds");
    assert!((1..=10).contains(&retry), "{retry}");
    assert_eq!(emu.stats().early_requests, 0, "the first 429 is not early");
    // Coming back right away is an early request.
    assert_eq!(g.get("/users?$top=1").await.status, 429);
    assert_eq!(emu.stats().early_requests, 1);
    // Waiting the full Retry-After always finds room again.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let a = g.get("/users?$top=1").await;
    assert_eq!(a.status, 200, "{}", a.text);
    let s = emu.stats();
    assert_eq!((s.throttled, s.early_requests), (2, 1));
    // Tokens are not Graph requests: the login endpoint is not throttled.
    assert_eq!(
        token_response(
            &emu,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", emu.client_id()),
                ("client_secret", emu.client_secret()),
                ("scope", "https://graph.microsoft.com/.default")
            ]
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn fail_rate_answers_503_and_can_be_switched_at_runtime() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    emu.update_knobs(|k| k.fail_rate = 1.0).unwrap();
    let a = g.get("/users").await;
    assert_eq!(a.status, 503);
    assert_eq!(a.code(), "serviceNotAvailable");
    assert_eq!(a.header("Retry-After"), Some("1"));
    assert!(a.body["error"]["innerError"]["request-id"].is_string());
    emu.update_knobs(|k| k.fail_rate = 0.0).unwrap();
    assert_eq!(g.get("/users").await.status, 200);
    // Same through the admin endpoint, which needs no token.
    let admin = format!("{}/_emulator/config", emu.base_url());
    let r = http()
        .post(&admin)
        .json(&json!({"fail_rate": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(g.get("/users").await.status, 503);
    http()
        .post(&admin)
        .json(&json!({"fail_rate": 0.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(g.get("/users").await.status, 200);
    assert_eq!(emu.stats().injected_failures, 2);
    assert_eq!(
        http()
            .post(&admin)
            .json(&json!({"fail_rate": 2}))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
}

#[tokio::test]
async fn fail_rate_is_a_share_drawn_from_a_seeded_rng() {
    let run = || async {
        let config = Config {
            seed: 42,
            knobs: graph_emulator::Knobs {
                fail_rate: 0.5,
                ..Default::default()
            },
            ..Default::default()
        };
        let emu = start_with(config, sample_users()).await;
        let g = Graph::new(&emu).await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(g.get("/users?$top=1").await.status);
        }
        statuses
    };
    let a = run().await;
    assert_eq!(a, run().await, "same seed, same sequence");
    let fails = a.iter().filter(|s| **s == 503).count();
    assert!((8..=32).contains(&fails), "{fails} of 40");
}

#[tokio::test]
async fn drop_rate_closes_the_connection_without_an_answer() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    emu.update_knobs(|k| k.drop_rate = 1.0).unwrap();
    let err = g
        .http
        .get(format!("{}/v1.0/users", emu.base_url()))
        .bearer_auth(&g.token)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect_err("no response");
    assert!(err.is_request(), "{err:?}");
    assert!(
        !err.is_timeout(),
        "the connection is closed, not left hanging: {err:?}"
    );
    assert!(err.status().is_none());
    assert_eq!(emu.stats().dropped, 1);
    emu.update_knobs(|k| k.drop_rate = 0.0).unwrap();
    assert_eq!(g.get("/users").await.status, 200);
}

#[tokio::test]
async fn item_fail_rate_answers_one_batch_request_503_and_runs_the_others() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    emu.update_knobs(|k| {
        k.item_fail_rate = 1.0;
        k.retry_after_503 = 3;
    })
    .unwrap();
    let a = g
        .post(
            "/$batch",
            json!({"requests": [
                {"id": "1", "method": "PATCH", "url": format!("/users/{ADAM}"),
                 "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": "Director"}}
            ]}),
        )
        .await;
    assert_eq!(a.status, 200, "the batch itself goes through: {}", a.text);
    let rs = responses(&a);
    assert_eq!(by_id(&rs, "1")["status"], 503);
    assert_eq!(by_id(&rs, "1")["headers"]["Retry-After"], "3");
    assert_eq!(
        by_id(&rs, "1")["body"]["error"]["code"],
        "serviceNotAvailable"
    );
    assert_ne!(
        emu.user(ADAM).unwrap()["jobTitle"],
        "Director",
        "not carried out"
    );
    // Outside $batch the knob does nothing.
    emu.update_knobs(|k| k.item_fail_rate = 0.0).unwrap();
    assert_eq!(g.get("/users?$top=1").await.status, 200);
    assert_eq!(emu.stats().injected_failures, 1);
}

#[tokio::test]
async fn lost_answer_rate_carries_out_the_request_then_closes_the_connection() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    emu.update_knobs(|k| k.lost_answer_rate = 1.0).unwrap();
    let err = g
        .http
        .patch(format!("{}/v1.0/users/{ADAM}", emu.base_url()))
        .bearer_auth(&g.token)
        .json(&json!({"jobTitle": "Director"}))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect_err("no response");
    assert!(err.is_request() && !err.is_timeout(), "{err:?}");
    emu.update_knobs(|k| k.lost_answer_rate = 0.0).unwrap();
    // The write happened although the client never heard so.
    assert_eq!(emu.user(ADAM).unwrap()["jobTitle"], "Director");
    let s = emu.stats();
    assert_eq!((s.lost_answers, s.writes_applied), (1, 1));
}

#[tokio::test]
async fn latency_is_added_to_every_request() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    emu.update_knobs(|k| k.latency_ms = 300).unwrap();
    let t = Instant::now();
    assert_eq!(g.get("/users?$top=1").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn admin_endpoints_need_no_token() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    g.get("/users").await;
    let stats: Value = http()
        .get(format!("{}/_emulator/stats", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests"], 2, "token + users: {stats}");
    assert_eq!(stats["by_status"]["200"], 2);
    let users: Value = http()
        .get(format!("{}/_emulator/users", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users["value"].as_array().unwrap().len(), 3);
    let r = http()
        .post(format!("{}/_emulator/users", emu.base_url()))
        .json(&json!({"userPrincipalName": "synced.late@example.com", "displayName": "Late", "onPremisesSyncEnabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        g.patch("/users/synced.late@example.com", json!({"surname": "x"}))
            .await
            .status,
        400
    );
    let config: Value = http()
        .get(format!("{}/_emulator/config", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["token_lifetime_secs"], 3599);
    http()
        .post(format!("{}/_emulator/stats/reset", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(emu.stats().requests, 0);
}

#[tokio::test]
async fn concurrent_writes_are_all_applied() {
    let emu = start(many_users(60)).await;
    let g = Graph::new(&emu).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let w = Graph {
            http: g.http.clone(),
            base: g.base.clone(),
            token: g.token.clone(),
        };
        tasks.push(tokio::spawn(async move {
            w.patch(
                &format!("/users/user{i:05}@example.com"),
                json!({"jobTitle": format!("T{i}")}),
            )
            .await
            .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 204);
    }
    assert_eq!(emu.stats().writes_applied, 60);
    assert!(
        emu.users_snapshot()
            .iter()
            .all(|u| u["jobTitle"].as_str().is_some_and(|t| t.starts_with('T')))
    );
}

#[tokio::test]
async fn unknown_segments_and_methods_get_graph_errors() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    let a = g.get("/devices").await;
    assert_eq!((a.status, a.code()), (400, "BadRequest"));
    assert_eq!(a.message(), "Resource not found for the segment 'devices'.");
    let a = g
        .send(reqwest::Method::PUT, "/users", Some(json!({})))
        .await;
    assert_eq!(a.status, 405);
}
