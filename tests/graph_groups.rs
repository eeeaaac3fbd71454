//! The Graph connector's groups, members and contacts against the emulator: reads follow
//! every page (groups and each group's `/members`), membership writes go through `$batch`,
//! converge, and are refused where Graph refuses them, op by op; throttling and 503s inside
//! batches are retried, and an add or removal whose answer was lost is not reported as failed.
//!
//! Graph's behaviour these rely on (modelled by the emulator, `graph-emulator/tests/groups.rs`):
//! <https://learn.microsoft.com/graph/api/group-list-members> (paging),
//! <https://learn.microsoft.com/graph/api/group-post-members> (a duplicate is a 400 "One or
//! more added object references already exist…"), <https://learn.microsoft.com/graph/api/group-delete-members>
//! (404 when not a member), and the synced-object refusal for on-premises mastered groups.

mod graph_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use graph_emulator::{Config, Emulator, RunningEmulator};
use graph_support::*;
use idsync::directory::graph::GraphOptions;
use idsync::directory::{DirectoryError, EntraGroupRead, EntraGroupWrite, EntraOp};
use serde_json::{Value, json};

fn user_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

fn group_id(i: usize) -> String {
    format!("22222222-0000-4000-8000-{i:012}")
}

/// `n` security groups; group 0 holds `big` users, group `g` (g ≥ 1) holds users g..g+3.
fn groups(n: usize, big: usize) -> Value {
    let groups: Vec<Value> = (0..n)
        .map(|g| {
            let members: Vec<Value> = if g == 0 {
                (0..big).map(|u| json!({"id": user_id(u)})).collect()
            } else {
                (g..g + 3).map(|u| json!({"id": user_id(u)})).collect()
            };
            json!({
                "id": group_id(g),
                "displayName": format!("Group {g}"),
                "mailEnabled": false,
                "mailNickname": format!("group{g}"),
                "securityEnabled": true,
                "groupTypes": [],
                "members": members
            })
        })
        .collect();
    json!({ "value": groups })
}

async fn start_groups(config: Config, users_n: usize, groups_doc: Value) -> RunningEmulator {
    let config = config
        .with_tenant_json(users(users_n))
        .unwrap()
        .with_groups_json(groups_doc)
        .unwrap();
    Emulator::start(config).await.expect("emulator starts")
}

fn set(ids: &[String]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_lowercase()).collect()
}

fn add(group: &str, member: &str) -> EntraOp {
    EntraOp::AddMember {
        id: group.to_owned(),
        member: member.to_owned(),
    }
}

fn remove(group: &str, member: &str) -> EntraOp {
    EntraOp::RemoveMember {
        id: group.to_owned(),
        member: member.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_250_groups_and_a_group_of_2500_follows_every_page() {
    let emu = start_groups(Config::default(), 2_500, groups(250, 2_500)).await;
    let (mut graph, _s) = connect(
        &emu,
        GraphOptions {
            page_size: 100,
            ..GraphOptions::default()
        },
    )
    .await;
    let progress = Arc::new(Recorder::default());
    graph.set_progress(progress.clone());
    let read = graph.read_groups().await.unwrap();
    assert_eq!(read.len(), 250);
    let ids: BTreeSet<&str> = read.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids.len(), 250, "each group once");
    for g in &read {
        let want = set(&emu.group_members(&g.id).unwrap());
        let got = g.members.as_deref().expect("members read");
        assert_eq!(got.len(), want.len(), "{}: no member twice", g.id);
        assert_eq!(set(got), want, "{}", g.id);
    }
    let big = read.iter().find(|g| g.id == group_id(0)).unwrap();
    assert_eq!(big.members.as_ref().unwrap().len(), 2_500);
    assert!(big.security_enabled && !big.mail_enabled);
    assert_eq!(big.display_name, "Group 0");
    // 3 pages of groups; 252 member pages (the big group's 999 + 999 + 502), each read once,
    // 20 to a batch: 13 full-ish batches, the big group's later pages riding along with other
    // groups' first pages, or (each known only once the page before it is answered) going
    // alone after the last of them: at most two batches more.
    let stats = emu.stats();
    let batches = stats.requests - stats.tokens_issued - 3;
    assert!((13..=15).contains(&batches), "{stats:?}");
    assert_eq!(
        stats.batch_items_by_status.get(&200),
        Some(&252),
        "{stats:?}"
    );
    let events = progress.events();
    assert_eq!(events.first().unwrap(), "start Reading Entra groups None");
    assert!(events.contains(&"start Reading Entra group members Some(250)".to_owned()));
    assert_eq!(
        progress.advanced(),
        250 + 250,
        "groups, then groups whose members were read"
    );
    assert_eq!(events.last().unwrap(), "finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_and_single_groups_read() {
    let config = Config::default()
        .with_contacts_json(json!({"value": [
            {"id": "33333333-0000-4000-8000-000000000001", "displayName": "Partner",
             "mail": "partner@fabrikam.example", "mailNickname": "partner",
             "proxyAddresses": ["SMTP:partner@fabrikam.example"], "onPremisesSyncEnabled": true}
        ]}))
        .unwrap();
    let emu = start_groups(config, 10, groups(3, 5)).await;
    let (mut graph, _s) = connect(&emu, GraphOptions::default()).await;
    let contacts = graph.read_contacts().await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        contacts[0].mail.as_deref(),
        Some("partner@fabrikam.example")
    );
    assert!(contacts[0].sync_enabled);
    let g = graph.read_group(&group_id(1)).await.unwrap().unwrap();
    assert_eq!(
        set(g.members.as_deref().unwrap()),
        set(&[user_id(1), user_id(2), user_id(3)])
    );
    assert_eq!(
        graph
            .read_group("99999999-0000-4000-8000-000000000000")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memberships_added_and_removed_converge_and_a_rerun_is_refused_per_op() {
    let emu = start_groups(Config::default(), 40, groups(5, 10)).await;
    let (mut graph, _s) = connect(&emu, GraphOptions::default()).await;
    // Group 0 holds users 0..10: add 10..40, remove 0..5.
    let mut ops: Vec<EntraOp> = (10..40).map(|u| add(&group_id(0), &user_id(u))).collect();
    ops.extend((0..5).map(|u| remove(&group_id(0), &user_id(u))));
    ops.push(add(&group_id(0), &group_id(4)));
    let results = graph.write_groups(ops.clone()).await;
    assert_eq!(results.len(), ops.len());
    for (op, r) in ops.iter().zip(&results) {
        assert!(matches!(r, Ok(None)), "{op:?}: {r:?}");
    }
    let mut want: BTreeSet<String> = (5..40).map(user_id).collect();
    want.insert(group_id(4));
    let read = graph.read_group(&group_id(0)).await.unwrap().unwrap();
    assert_eq!(set(read.members.as_deref().unwrap()), want, "converged");

    // The same writes again: Graph refuses each add (already there) and each removal (not a
    // member); the connector says so op by op, and nothing changes.
    let again = graph.write_groups(ops.clone()).await;
    for (op, r) in ops.iter().zip(&again) {
        match (op, r) {
            (EntraOp::AddMember { .. }, Err(DirectoryError::Refused { code, message, .. })) => {
                assert_eq!(code.as_deref(), Some("Request_BadRequest"));
                assert!(
                    message.contains(graph_rules::group::MEMBER_EXISTS_MESSAGE),
                    "{message}"
                );
            }
            (EntraOp::RemoveMember { .. }, Err(DirectoryError::NotFound { object })) => {
                assert!(object.contains(&group_id(0)), "{object}");
            }
            other => panic!("unexpected: {other:?}"),
        }
    }
    let read = graph.read_group(&group_id(0)).await.unwrap().unwrap();
    assert_eq!(set(read.members.as_deref().unwrap()), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_503s_inside_batches_are_retried() {
    let mut config = Config::default();
    config.knobs.rate_limit = Some(20);
    config.knobs.item_fail_rate = 0.2;
    config.knobs.retry_after_503 = 0;
    config.seed = 5;
    let emu = start_groups(config, 30, groups(2, 0)).await;
    let (mut graph, _s) = connect(&emu, fast()).await;
    let ops: Vec<EntraOp> = (0..30).map(|u| add(&group_id(0), &user_id(u))).collect();
    let results = graph.write_groups(ops).await;
    assert!(results.iter().all(|r| matches!(r, Ok(None))), "{results:?}");
    assert_eq!(emu.group_members(&group_id(0)).unwrap().len(), 30);
    let stats = emu.stats();
    assert!(
        stats.throttled > 0 && stats.injected_failures > 0,
        "{stats:?}"
    );
    assert_eq!(
        stats.early_requests, 0,
        "never before Retry-After: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adds_and_removals_whose_answers_were_lost_are_done() {
    let emu = start_groups(Config::default(), 30, groups(2, 10)).await;
    // The first two `$batch` answers are cut off after Graph did the work: the retries get
    // "already exist" (adds) and 404 (removals), which mean the first attempt landed.
    let proxy = LossyProxy::start(emu.base_url(), 2).await;
    let secret = secret_file(emu.client_secret());
    let mut settings = config(&emu, &secret.path);
    settings.graph_url = proxy.base_url.clone();
    let options = GraphOptions {
        token_resource: Some(emu.base_url().to_owned()),
        ..fast()
    };
    let mut graph = idsync::directory::graph::GraphDirectory::connect_with(&settings, options)
        .await
        .unwrap();
    let mut ops: Vec<EntraOp> = (10..30).map(|u| add(&group_id(0), &user_id(u))).collect();
    ops.extend((0..10).map(|u| remove(&group_id(0), &user_id(u))));
    let results = graph.write_groups(ops.clone()).await;
    for (op, r) in ops.iter().zip(&results) {
        assert!(matches!(r, Ok(None)), "{op:?}: {r:?}");
    }
    assert_eq!(proxy.lost(), 2);
    let want: BTreeSet<String> = (10..30).map(user_id).collect();
    assert_eq!(set(&emu.group_members(&group_id(0)).unwrap()), want);
    let stats = emu.stats();
    assert!(
        stats.batch_items_by_status.contains_key(&400)
            || stats.batch_items_by_status.contains_key(&404),
        "the retries met their own first attempts: {stats:?}"
    );
}

#[tokio::test]
async fn a_synced_groups_member_write_is_refused_with_graphs_error_and_the_others_land() {
    let emu = start_groups(Config::default(), 5, groups(2, 0)).await;
    emu.insert_group(
        json!({"id": group_id(9), "displayName": "Synced", "mailEnabled": false,
        "mailNickname": "synced", "securityEnabled": true, "onPremisesSyncEnabled": true,
        "members": [{"id": user_id(1)}]}),
    )
    .unwrap();
    let (mut graph, _s) = connect(&emu, GraphOptions::default()).await;
    let ops = vec![
        add(&group_id(9), &user_id(2)),
        add(&group_id(0), &user_id(2)),
        remove(&group_id(9), &user_id(1)),
        add(&group_id(0), "99999999-0000-4000-8000-000000000000"),
    ];
    let results = graph.write_groups(ops).await;
    for i in [0, 2] {
        match &results[i] {
            Err(DirectoryError::Refused { code, message, .. }) => {
                assert_eq!(code.as_deref(), Some("Request_BadRequest"));
                assert!(
                    message.contains(graph_rules::SYNCED_OBJECT_MESSAGE),
                    "{message}"
                );
            }
            other => panic!("op {i}: {other:?}"),
        }
    }
    assert!(matches!(results[1], Ok(None)), "{:?}", results[1]);
    assert!(
        matches!(&results[3], Err(DirectoryError::NotFound { .. })),
        "a member that does not exist: {:?}",
        results[3]
    );
    assert_eq!(emu.group_members(&group_id(9)), Some(vec![user_id(1)]));
    assert_eq!(emu.group_members(&group_id(0)), Some(vec![user_id(2)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_creates_answer_the_new_group_and_graphs_refusals_come_back() {
    let emu = start_groups(Config::default(), 2, groups(1, 0)).await;
    let (mut graph, _s) = connect(&emu, GraphOptions::default()).await;
    let ops = vec![
        EntraOp::Create(object(
            json!({"displayName": "Engineering", "mailEnabled": false,
            "mailNickname": "engineering", "securityEnabled": true}),
        )),
        EntraOp::Create(object(json!({"displayName": "Staff", "mailEnabled": true,
            "mailNickname": "staff", "securityEnabled": false}))),
        EntraOp::Update {
            id: group_id(0),
            patch: object(json!({"description": "Renamed"})),
        },
    ];
    let results = graph.write_groups(ops).await;
    let created = results[0].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(created.display_name, "Engineering");
    assert!(created.security_enabled);
    assert_eq!(
        created.members, None,
        "a create's answer carries no members"
    );
    assert!(emu.group_members(&created.id).is_some());
    match &results[1] {
        Err(DirectoryError::Refused { message, .. }) => {
            assert!(
                message.contains(graph_rules::group::MAIL_ENABLED_WRITE_MESSAGE),
                "{message}"
            )
        }
        other => panic!("a distribution list cannot be created: {other:?}"),
    }
    assert!(matches!(results[2], Ok(None)), "{:?}", results[2]);
    let g = graph.read_group(&group_id(0)).await.unwrap().unwrap();
    assert_eq!(g.description.as_deref(), Some("Renamed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_create_whose_answer_was_lost_lands_once() {
    let emu = start_groups(Config::default(), 2, groups(1, 0)).await;
    let proxy = LossyProxy::start(emu.base_url(), 1).await;
    let secret = secret_file(emu.client_secret());
    let mut settings = config(&emu, &secret.path);
    settings.graph_url = proxy.base_url.clone();
    let options = GraphOptions {
        token_resource: Some(emu.base_url().to_owned()),
        ..fast()
    };
    let mut graph = idsync::directory::graph::GraphDirectory::connect_with(&settings, options)
        .await
        .unwrap();
    let ops = vec![EntraOp::Create(object(
        json!({"displayName": "O'Neil Team",
        "mailEnabled": false, "mailNickname": "oneil", "securityEnabled": true}),
    ))];
    let results = graph.write_groups(ops).await;
    let created = results[0].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(created.display_name, "O'Neil Team");
    let named: Vec<Value> = emu
        .groups_snapshot()
        .into_iter()
        .filter(|g| g["mailNickname"] == "oneil")
        .collect();
    assert_eq!(named.len(), 1, "created once");
    assert_eq!(named[0]["id"], created.id.as_str());
    assert_eq!(proxy.lost(), 1);
}
