//! The live Entra connector's writes through `$batch`, against the Graph emulator: throttling
//! storms, 503 bursts, lost answers and refusals.

mod graph_support;

use std::sync::Arc;
use std::time::Duration;

use graph_emulator::Config;
use graph_support::*;
use idsync::directory::graph::GraphOptions;
use idsync::directory::{DirectoryError, EntraOp, EntraUserWrite};
use serde_json::json;

fn id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// `creates` new users, a jobTitle update of users 0.., deletes of the users after those.
fn ops(creates: usize, updates: usize, deletes: usize) -> Vec<EntraOp> {
    let mut ops = Vec::new();
    for i in 0..creates {
        ops.push(EntraOp::Create(new_user(&format!("new{i:04}@example.com"))));
    }
    for i in 0..updates {
        ops.push(EntraOp::Update {
            id: id(i),
            patch: object(json!({"jobTitle": format!("Updated {i}")})),
        });
    }
    for i in updates..updates + deletes {
        ops.push(EntraOp::Delete { id: id(i) });
    }
    // Interleave kinds so every batch mixes them.
    let n = ops.len();
    let mut mixed = Vec::with_capacity(n);
    let (mut a, mut b) = (0, n / 2);
    while mixed.len() < n {
        if a < n / 2 {
            mixed.push(ops[a].clone());
            a += 1;
        }
        if b < n {
            mixed.push(ops[b].clone());
            b += 1;
        }
    }
    mixed
}

/// [`fast`], with attempts enough that no write gives up under the fault rates below: these
/// tests are about landing exactly once, not about when to give up. Measured at 20 % lost
/// batches and 20 % failed items, one attempt in two fails for a write (a lost batch takes
/// every write in it, lookups can fail too), and with 12 attempts about one run in thirty
/// had a write give up; with 40 that is below one in a million.
fn patient() -> GraphOptions {
    GraphOptions {
        max_attempts: 40,
        ..fast()
    }
}

/// Every write landed exactly once: results in order, the tenant as expected.
fn assert_landed(
    emu: &graph_emulator::RunningEmulator,
    ops: &[EntraOp],
    results: &[Result<Option<idsync::directory::CloudUser>, DirectoryError>],
    initial: usize,
    exactly_once: bool,
) {
    assert_eq!(results.len(), ops.len());
    let mut creates = 0;
    let mut deletes = 0;
    for (op, r) in ops.iter().zip(results) {
        match (op, r) {
            (EntraOp::Create(body), Ok(Some(user))) => {
                creates += 1;
                assert_eq!(
                    user.upn(),
                    body["userPrincipalName"].as_str().unwrap(),
                    "results are in the writes' order"
                );
                assert!(emu.user(user.id()).is_some());
            }
            (EntraOp::Update { id, patch }, Ok(None)) => {
                assert_eq!(emu.user(id).unwrap()["jobTitle"], patch["jobTitle"]);
            }
            (EntraOp::Delete { id }, Ok(None)) => {
                deletes += 1;
                assert!(emu.user(id).is_none());
            }
            (op, r) => panic!("{op:?} -> {r:?}"),
        }
    }
    let counts = upn_counts(emu);
    assert!(counts.values().all(|&c| c == 1));
    assert_eq!(counts.len(), initial + creates - deletes);
    if exactly_once {
        let stats = emu.stats();
        assert_eq!(
            stats.writes_applied as usize,
            ops.len(),
            "each write applied once: {stats:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_lands_once_through_a_throttling_storm() {
    let mut config = Config::default();
    config.knobs.rate_limit = Some(25);
    let emu = start(config, users(40)).await;
    let (mut graph, _s) = connect(&emu, GraphOptions::default()).await;
    let progress = Arc::new(Recorder::default());
    graph.set_progress(progress.clone());
    let ops = ops(30, 20, 10);
    let results = graph.write_users(ops.clone()).await;
    assert_landed(&emu, &ops, &results, 40, true);
    let stats = emu.stats();
    assert!(stats.throttled > 0, "it was a storm: {stats:?}");
    assert_eq!(
        stats.early_requests, 0,
        "never before Retry-After: {stats:?}"
    );
    let events = progress.events();
    assert_eq!(events.first().unwrap(), "start Writing to Entra Some(60)");
    assert_eq!(progress.advanced(), 60);
    assert_eq!(events.last().unwrap(), "finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_503_bursts_and_dropped_connections() {
    let mut config = Config::default();
    config.knobs.fail_rate = 0.25;
    config.knobs.drop_rate = 0.25;
    config.knobs.retry_after_503 = 0;
    config.seed = 11;
    let emu = start(config, users(40)).await;
    let (mut graph, _s) = connect(&emu, patient()).await;
    let ops = ops(40, 20, 10);
    let results = graph.write_users(ops.clone()).await;
    assert_landed(&emu, &ops, &results, 40, true);
    let stats = emu.stats();
    assert!(
        stats.injected_failures > 0 && stats.dropped > 0,
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_503s_inside_batches_and_answers_lost_after_landing() {
    // One request of a batch answered 503 (the rest go through), and requests carried out
    // whose answer never arrives: creates must still land exactly once.
    let mut config = Config::default();
    config.knobs.item_fail_rate = 0.2;
    config.knobs.lost_answer_rate = 0.2;
    config.knobs.retry_after_503 = 0;
    config.seed = 23;
    let emu = start(config, users(40)).await;
    let (mut graph, _s) = connect(&emu, patient()).await;
    let ops = ops(40, 20, 10);
    let results = graph.write_users(ops.clone()).await;
    // No user twice, every result right; a PATCH whose answer was lost is sent again (it is
    // idempotent), so the emulator may count more applied writes than there were.
    assert_landed(&emu, &ops, &results, 40, false);
    let stats = emu.stats();
    assert!(
        stats.injected_failures > 0 && stats.lost_answers > 0,
        "{stats:?}"
    );
    assert_eq!(
        stats.count_status(201),
        40,
        "each create POSTed once: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_time_out_are_retried_and_land_once() {
    let emu = start(Config::default(), users(5)).await;
    let (mut graph, _s) = connect(
        &emu,
        GraphOptions {
            request_timeout: Duration::from_millis(300),
            ..fast()
        },
    )
    .await;
    // Graph takes longer than the client waits, then recovers. (The emulator drops a
    // request's work when its client hangs up, so these attempts never land; answers lost
    // after the work was done are the next test's.)
    emu.update_knobs(|k| k.latency_ms = 600).unwrap();
    let ops = vec![
        EntraOp::Create(new_user("lost.answer@example.com")),
        EntraOp::Delete { id: id(1) },
        EntraOp::Update {
            id: id(2),
            patch: object(json!({"jobTitle": "Patched"})),
        },
    ];
    let write = graph.write_users(ops.clone());
    let calm = async {
        tokio::time::sleep(Duration::from_millis(450)).await;
        emu.update_knobs(|k| k.latency_ms = 0).unwrap();
    };
    let (results, ()) = tokio::join!(write, calm);
    let created = results[0].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(created.upn(), "lost.answer@example.com");
    assert!(matches!(results[1], Ok(None)), "{:?}", results[1]);
    assert!(matches!(results[2], Ok(None)), "{:?}", results[2]);
    assert_eq!(upn_counts(&emu)["lost.answer@example.com"], 1);
    assert!(emu.user(&id(1)).is_none());
    let stats = emu.stats();
    assert_eq!(stats.writes_applied, 3, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_whose_answers_were_lost_after_landing_are_not_sent_twice() {
    let emu = start(Config::default(), users(30)).await;
    // The first two `$batch` answers are cut off after Graph did the work.
    let proxy = LossyProxy::start(emu.base_url(), 2).await;
    let secret = secret_file(emu.client_secret());
    let mut config = config(&emu, &secret.path);
    config.graph_url = proxy.base_url.clone();
    let options = GraphOptions {
        token_resource: Some(emu.base_url().to_owned()),
        ..fast()
    };
    let mut graph = idsync::directory::graph::GraphDirectory::connect_with(&config, options)
        .await
        .unwrap();
    let ops = ops(25, 10, 5);
    let results = graph.write_users(ops.clone()).await;
    // Creates and deletes once; a patch whose answer was lost is simply sent again.
    assert_landed(&emu, &ops, &results, 30, false);
    let stats = emu.stats();
    assert_eq!(
        stats.batch_items_by_status.get(&201),
        Some(&25),
        "each create POSTed once: {stats:?}"
    );
    assert_eq!(
        stats.batch_items_by_status.get(&400),
        None,
        "no create was sent again: {stats:?}"
    );
    assert_eq!(proxy.lost(), 2);
}

#[tokio::test]
async fn refusals_for_synced_users_are_that_writes_error_and_the_others_land() {
    let emu = start(Config::default(), mixed_users()).await;
    let (mut graph, _s) = connect(&emu, GraphOptions::default()).await;
    let results = graph
        .write_users(vec![
            EntraOp::Update {
                id: "11111111-0000-4000-8000-000000000002".into(),
                patch: object(json!({"displayName": "Renamed in the cloud"})),
            },
            EntraOp::Update {
                id: "11111111-0000-4000-8000-000000000002".into(),
                patch: object(json!({"usageLocation": "NO"})),
            },
            EntraOp::Update {
                id: "11111111-0000-4000-8000-000000000001".into(),
                patch: object(json!({"jobTitle": "Boss"})),
            },
            EntraOp::Create(new_user("cloud.user@example.com")),
            EntraOp::Create(new_user("fresh.user@example.com")),
            EntraOp::Delete {
                id: "11111111-0000-4000-8000-00000000dead".into(),
            },
        ])
        .await;
    let mut results = results.into_iter();
    let mut next = || results.next().unwrap();
    match next() {
        Err(DirectoryError::Refused {
            object,
            message,
            code,
        }) => {
            assert_eq!(object, "11111111-0000-4000-8000-000000000002");
            assert_eq!(code.as_deref(), Some("Request_BadRequest"));
            assert!(
                message.starts_with("Request_BadRequest: Unable to update the specified properties for on-premises mastered Directory Sync objects"),
                "{message}"
            );
            assert!(message.contains("(request-id "), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(next(), Ok(None)), "usageLocation stays writable");
    assert!(matches!(next(), Ok(None)));
    match next() {
        Err(DirectoryError::Refused {
            object, message, ..
        }) => {
            assert_eq!(object, "cloud.user@example.com");
            assert!(
                message.contains("same value for property userPrincipalName"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let fresh = next().unwrap().unwrap();
    assert_eq!(fresh.upn(), "fresh.user@example.com");
    assert!(matches!(next(), Err(DirectoryError::NotFound { .. })));
    let synced = emu.user("synced.user@example.com").unwrap();
    assert_eq!(synced["displayName"], "Synced User");
    assert_eq!(synced["usageLocation"], "NO");
    assert_eq!(
        emu.user("cloud.user@example.com").unwrap()["jobTitle"],
        "Boss"
    );
    assert_eq!(upn_counts(&emu).len(), 3);
}

#[tokio::test]
async fn an_empty_write_sends_nothing() {
    let emu = start(Config::default(), users(1)).await;
    let (mut graph, _s) = connect(&emu, GraphOptions::default()).await;
    let before = emu.stats().requests;
    assert!(graph.write_users(Vec::new()).await.is_empty());
    assert_eq!(emu.stats().requests, before);
}
