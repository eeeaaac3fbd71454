//! The live Entra connector's reads and sign-in, against the Graph emulator.

mod graph_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use graph_emulator::Config;
use graph_support::*;
use idsync::directory::graph::Credential;
use idsync::directory::graph::{GraphDirectory, GraphOptions};
use idsync::directory::{DirectoryError, EntraUserRead};

#[tokio::test]
async fn paging_5000_users_returns_each_once_with_the_selected_properties() {
    let emu = start(Config::default(), users(5000)).await;
    let (mut graph, _s) = connect(&emu, GraphOptions::default()).await;
    let progress = Arc::new(Recorder::default());
    graph.set_progress(progress.clone());
    let read = graph
        .read_users(&strings(&["displayName", "jobTitle"]))
        .await
        .unwrap();
    assert_eq!(read.len(), 5000);
    let ids: HashSet<&str> = read.iter().map(|u| u.id()).collect();
    assert_eq!(ids.len(), 5000, "every user once");
    let u = read
        .iter()
        .find(|u| u.upn() == "user04321@example.com")
        .unwrap();
    assert_eq!(u.text("displayName"), Some("User 4321"));
    assert_eq!(u.text("jobTitle"), Some("Job 2"));
    // Exactly what was selected: no department, no mail.
    assert_eq!(
        u.other_properties().map(|(k, _)| k).collect::<Vec<_>>(),
        ["displayName", "jobTitle"]
    );
    assert!(u.mail().is_none());
    // 999 a page: 6 pages; one request each, one token.
    let stats = emu.stats();
    assert_eq!(stats.by_status.get(&200), Some(&7), "{stats:?}"); // 6 pages + the token
    assert_eq!(stats.tokens_issued, 1);
    let events = progress.events();
    assert_eq!(events.first().unwrap(), "start Reading Entra users None");
    assert_eq!(events.last().unwrap(), "finish");
    assert_eq!(progress.advanced(), 5000);
    assert_eq!(events.len(), 6 + 2, "one advance per page");
}

#[tokio::test]
async fn read_user_and_users_by_id_in_batches() {
    let emu = start(Config::default(), users(45)).await;
    let (mut graph, _s) = connect(&emu, GraphOptions::default()).await;
    graph.set_select(&strings(&["jobTitle"])).unwrap();
    let one = graph
        .read_user("00000000-0000-4000-8000-000000000007")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.upn(), "user00007@example.com");
    assert_eq!(one.text("jobTitle"), Some("Job 0"));
    assert!(
        !one.properties.contains_key("@odata.context"),
        "annotations are not properties"
    );
    let by_upn = graph.read_user("USER00008@example.com").await.unwrap();
    assert_eq!(by_upn.unwrap().id(), "00000000-0000-4000-8000-000000000008");
    assert_eq!(graph.read_user("nobody@example.com").await.unwrap(), None);

    let before = emu.stats().requests;
    let mut ids: Vec<String> = (0..45)
        .rev()
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    ids.insert(3, "00000000-0000-4000-8000-999999999999".into());
    let found = graph.read_users_by_id(&ids).await.unwrap();
    assert_eq!(found.len(), 46);
    for (i, (id, user)) in ids.iter().zip(&found).enumerate() {
        match user {
            None => assert_eq!(i, 3, "only the missing id is None, not {id}"),
            Some(u) => {
                assert_ne!(i, 3, "a missing id is None");
                assert_eq!(&u.id(), id, "in order");
                assert!(u.text("jobTitle").is_some());
            }
        }
    }
    assert_eq!(emu.stats().requests - before, 3, "46 GETs in 3 batches");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_503_bursts_and_dropped_connections() {
    let mut config = Config::default();
    config.knobs.fail_rate = 0.3;
    config.knobs.drop_rate = 0.2;
    config.knobs.retry_after_503 = 0;
    config.seed = 7;
    let emu = start(config, users(3000)).await;
    let (mut graph, _s) = connect(
        &emu,
        GraphOptions {
            page_size: 250,
            ..fast()
        },
    )
    .await;
    let read = graph.read_users(&strings(&["displayName"])).await.unwrap();
    let ids: HashSet<&str> = read.iter().map(|u| u.id()).collect();
    assert_eq!((read.len(), ids.len()), (3000, 3000));
    let ids: Vec<String> = (0..60)
        .map(|i| format!("00000000-0000-4000-8000-{:012}", i * 7))
        .collect();
    let found = graph.read_users_by_id(&ids).await.unwrap();
    assert!(found.iter().all(Option::is_some));
    let stats = emu.stats();
    assert!(
        stats.injected_failures > 0 && stats.dropped > 0,
        "{stats:?}"
    );
}

#[tokio::test]
async fn retries_are_bounded_and_then_say_why() {
    let mut config = Config::default();
    config.knobs.retry_after_503 = 0;
    let emu = start(config, users(3)).await;
    let (mut graph, _s) = connect(
        &emu,
        GraphOptions {
            max_attempts: 3,
            ..fast()
        },
    )
    .await;
    emu.update_knobs(|k| k.fail_rate = 1.0).unwrap();
    let err = graph.read_users(&[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            idsync::directory::DirectoryError::Unavailable {
                directory: "Entra",
                ..
            }
        ),
        "{err:?}"
    );
    let err = err.to_string();
    assert!(
        err.starts_with(
            "Entra is unreachable: GET /v1.0/users: gave up after 3 attempts: 503 serviceNotAvailable:"
        ),
        "{err}"
    );
    assert!(err.contains("(request-id "), "{err}");
    assert_eq!(emu.stats().injected_failures, 3);
}

#[tokio::test]
async fn graph_errors_come_back_with_code_message_and_request_id() {
    let emu = start(Config::default(), users(3)).await;
    let (mut graph, _s) = connect(&emu, GraphOptions::default()).await;
    // A property Graph does not know: 400, not retried.
    let err = graph
        .read_users(&strings(&["noSuchThing"]))
        .await
        .unwrap_err();
    let DirectoryError::Refused {
        object,
        message,
        code,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(object, "GET /users");
    assert_eq!(code.as_deref(), Some("BadRequest"));
    assert!(
        message.starts_with("BadRequest: ") && message.contains("(request-id "),
        "{message}"
    );
    assert_eq!(emu.stats().by_status.get(&400), Some(&1), "no retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refreshed_before_they_expire() {
    let config = Config {
        token_lifetime: Duration::from_secs(1),
        ..Config::default()
    };
    let emu = start(config, users(1200)).await;
    emu.update_knobs(|k| k.latency_ms = 120).unwrap();
    let (mut graph, _s) = connect(
        &emu,
        GraphOptions {
            page_size: 60,
            ..fast()
        },
    )
    .await;
    // 20 pages at 120 ms: the run outlives two token lifetimes.
    let read = graph.read_users(&[]).await.unwrap();
    assert_eq!(read.len(), 1200);
    let stats = emu.stats();
    assert!(stats.tokens_issued >= 3, "{stats:?}");
    assert_eq!(
        stats.by_status.get(&401),
        None,
        "never sent an expired token"
    );
}

#[tokio::test]
async fn a_token_graph_no_longer_accepts_is_replaced_once() {
    let emu = start(Config::default(), users(10)).await;
    let addr: std::net::SocketAddr = emu
        .base_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let (mut graph, _s) = connect(&emu, fast()).await;
    emu.shutdown().await.unwrap();
    // The same endpoint, restarted: it has forgotten every token it issued.
    let config = Config {
        listen: addr,
        ..Config::default()
    };
    let emu = start(config, users(10)).await;
    assert_eq!(graph.read_users(&[]).await.unwrap().len(), 10);
    let stats = emu.stats();
    assert_eq!(stats.by_status.get(&401), Some(&1), "{stats:?}");
    assert_eq!(stats.tokens_issued, 1);
}

#[tokio::test]
async fn a_wrong_secret_fails_connect_with_the_aadsts_error_and_never_shows_it() {
    let emu = start(Config::default(), users(1)).await;
    let wrong = "definitely-Not-The-Secret-42";
    let secret = secret_file(wrong);
    let err = GraphDirectory::connect(&config(&emu, &secret.path))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "Entra tenant {}: sign-in refused (401): AADSTS7000215: Invalid client secret provided.",
            emu.tenant_id()
        )),
        "{text}"
    );
    assert!(matches!(&err, DirectoryError::Refused { code: Some(c), .. } if c == "AADSTS7000215"));
    assert!(!text.contains(wrong) && !format!("{err:?}").contains(wrong));
    assert_eq!(
        emu.stats().requests,
        1,
        "a 4xx from the token endpoint is final"
    );

    // The right one, and nothing of it in Debug output either.
    let (graph, secret) = connect(&emu, GraphOptions::default()).await;
    let debug = format!("{graph:?}");
    assert!(!debug.contains(emu.client_secret()), "{debug}");
    assert!(debug.contains("credential: ClientSecret(File("), "{debug}");
    drop(secret);
}

#[tokio::test]
async fn plain_http_is_refused_off_loopback() {
    let emu = start(Config::default(), users(1)).await;
    let secret = secret_file(emu.client_secret());
    let mut config = config(&emu, &secret.path);
    config.graph_url = "http://graph.example.com".into();
    let err = GraphDirectory::connect(&config).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "directories.entra.graph_url must be https:// (http:// only on loopback addresses), got `http://graph.example.com`"
    );
    assert_eq!(emu.stats().requests, 0);
}

/// A JWT-shaped assertion from `issuer` (the emulator reads only its issuer).
fn assertion(issuer: &str) -> String {
    use base64::Engine as _;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
        b64(serde_json::json!({"iss": issuer, "sub": "repo:contoso/identity:ref:refs/heads/main"}))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federated_token_file_is_read_again_on_every_refresh() {
    let good = assertion("https://token.actions.githubusercontent.com");
    let config = Config {
        federated_assertion: Some(good.clone()),
        token_lifetime: Duration::from_secs(1),
        ..Config::default()
    };
    let emu = start(config, users(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, format!("{good}\n")).unwrap();
    let credential = Credential::FederatedTokenFile(file.clone());
    let mut graph = GraphDirectory::connect_with(&config_with(&emu, credential), fast())
        .await
        .unwrap();
    assert_eq!(graph.read_users(&[]).await.unwrap().len(), 5);

    // The runner swaps the file; after expiry the new content is what is sent.
    std::fs::write(&file, assertion("https://evil.example.com")).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = graph.read_users(&[]).await.unwrap_err().to_string();
    assert!(err.contains("AADSTS700211"), "{err}");
    assert!(
        !err.contains("c2lnbmF0dXJl"),
        "the assertion is never shown: {err}"
    );

    std::fs::write(&file, &good).unwrap();
    assert_eq!(graph.read_users(&[]).await.unwrap().len(), 5);
    assert_eq!(
        emu.stats().tokens_issued,
        2,
        "at connect, and with the good file again"
    );

    std::fs::remove_file(&file).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = graph.read_users(&[]).await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "cannot read federated token file {}",
            file.display()
        )),
        "{err}"
    );
}

/// Tenant data reads go through the same retries and bounds as user reads: a 503 that does not
/// go away is an error (never an unknown part, which only a 403 makes), and a tenant with 250
/// role assignments is read across its pages.
/// https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments
#[tokio::test]
async fn tenant_reads_retry_and_fail_like_user_reads() {
    use idsync::directory::TenantRead;
    let mut config = Config::default();
    config.knobs.retry_after_503 = 0;
    config.directory.role_assignments = (0..250)
        .map(|i| {
            object(serde_json::json!({"principalId": format!("p{i:03}"),
                "roleDefinitionId": graph_emulator::directory::GLOBAL_ADMINISTRATOR}))
        })
        .collect();
    let emu = start(config, users(3)).await;
    let (mut graph, _s) = connect(
        &emu,
        GraphOptions {
            max_attempts: 3,
            ..fast()
        },
    )
    .await;
    let tenant = graph.read_tenant().await.unwrap();
    let holders = tenant.role_holders.known().unwrap();
    assert_eq!(holders.len(), 250);
    assert_eq!(tenant.roles_of("p249"), ["Global Administrator"]);
    assert!(tenant.sync.known().is_some() && tenant.domains.known().is_some());

    emu.update_knobs(|k| k.fail_rate = 1.0).unwrap();
    let err = graph.read_tenant().await.unwrap_err();
    assert!(matches!(err, DirectoryError::Unavailable { .. }), "{err:?}");
    assert!(
        err.to_string().contains("gave up after 3 attempts"),
        "{err}"
    );
}
