//! Token endpoint (client credentials) and Graph's bearer checks.

mod common;

use base64::Engine;
use common::*;
use serde_json::json;
use std::time::Duration;

fn creds<'a>(emu: &'a graph_emulator::RunningEmulator, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", emu.client_id()),
        ("client_secret", emu.client_secret()),
        ("scope", scope),
    ]
}

fn assert_entra_error(body: &serde_json::Value, error: &str, code: u64) {
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    assert!(
        desc.contains("\r\nTrace ID: ") && desc.contains("\r\nCorrelation ID: "),
        "{desc}"
    );
    for k in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(body[k].is_string(), "{k} missing in {body}");
    }
}

#[tokio::test]
async fn token_success_has_entra_shape() {
    let emu = start(sample_users()).await;
    let (status, body) =
        token_response(&emu, &creds(&emu, "https://graph.microsoft.com/.default")).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body["access_token"].as_str().unwrap().len() >= 32);
    // `{graph_url}/.default` names the same resource when graph_url points at the emulator.
    let scope = format!("{}/.default", emu.base_url());
    let (status, _) = token_response(&emu, &creds(&emu, &scope)).await;
    assert_eq!(status, 200);
    assert_eq!(emu.stats().tokens_issued, 2);
}

#[tokio::test]
async fn token_accepts_http_basic_client_authentication() {
    let emu = start(sample_users()).await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        emu.client_id(),
        emu.client_secret()
    ));
    let r = http()
        .post(emu.token_url())
        .header("Authorization", format!("Basic {basic}"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn token_wrong_secret_is_401_aadsts7000215() {
    let emu = start(sample_users()).await;
    let mut form = creds(&emu, "https://graph.microsoft.com/.default");
    form[2] = ("client_secret", "not-the-secret");
    let (status, body) = token_response(&emu, &form).await;
    assert_eq!(status, 401);
    assert_entra_error(&body, "invalid_client", 7000215);
}

#[tokio::test]
async fn token_unknown_app_is_400_aadsts700016() {
    let emu = start(sample_users()).await;
    let mut form = creds(&emu, "https://graph.microsoft.com/.default");
    form[1] = ("client_id", "99999999-9999-4999-8999-999999999999");
    let (status, body) = token_response(&emu, &form).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "unauthorized_client", 700016);
}

#[tokio::test]
async fn token_unknown_tenant_is_400_aadsts90002() {
    let emu = start(sample_users()).await;
    let url = format!("{}/not-a-tenant/oauth2/v2.0/token", emu.base_url());
    let r = http()
        .post(url)
        .form(&creds(&emu, "https://graph.microsoft.com/.default"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_entra_error(&r.json().await.unwrap(), "invalid_request", 90002);
}

#[tokio::test]
async fn token_missing_credential_and_parameters() {
    let emu = start(sample_users()).await;
    let scope = "https://graph.microsoft.com/.default";
    let (status, body) = token_response(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", emu.client_id()),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_entra_error(&body, "invalid_client", 7000218);
    let (status, body) = token_response(
        &emu,
        &[
            ("client_id", emu.client_id()),
            ("client_secret", emu.client_secret()),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_request", 900144);
    let (status, body) = token_response(
        &emu,
        &creds(&emu, "https://graph.microsoft.com/User.Read.All"),
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_scope", 1002012);
    let (status, body) = token_response(&emu, &creds(&emu, "https://example.com/.default")).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_resource", 500011);
}

#[tokio::test]
async fn token_by_federated_assertion() {
    let config = graph_emulator::Config {
        federated_assertion: Some("the-workload-jwt".into()),
        ..Default::default()
    };
    let emu = start_with(config, sample_users()).await;
    let form = |assertion: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", graph_emulator::DEFAULT_CLIENT_ID),
            ("scope", "https://graph.microsoft.com/.default"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ]
    };
    let (status, body) = token_response(&emu, &form("the-workload-jwt")).await;
    assert_eq!(status, 200, "{body}");
    // A JWT from an issuer with no federated credential.
    let (status, body) = token_response(
        &emu,
        &form("eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIn0.c2ln"),
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_client", 700211);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("https://issuer.example")
    );
    let (status, body) = token_response(&emu, &form("garbage")).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_request", 50027);
}

#[tokio::test]
async fn graph_without_token_is_401_invalid_authentication_token() {
    let emu = start(sample_users()).await;
    let a = answer(
        http()
            .get(format!("{}/v1.0/users", emu.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.code(), "InvalidAuthenticationToken");
    assert_eq!(a.message(), "Access token is empty.");
    assert!(a.header("WWW-Authenticate").unwrap().starts_with("Bearer"));
}

#[tokio::test]
async fn graph_with_unknown_token_is_401() {
    let emu = start(sample_users()).await;
    let g = Graph {
        http: http(),
        base: emu.base_url().into(),
        token: "forged".into(),
    };
    let a = g.get("/users").await;
    assert_eq!(a.status, 401);
    assert_eq!(a.code(), "InvalidAuthenticationToken");
}

#[tokio::test]
async fn graph_with_expired_token_is_401() {
    let emu = start(sample_users()).await;
    emu.set_token_lifetime(Duration::from_secs(1));
    let (_, body) =
        token_response(&emu, &creds(&emu, "https://graph.microsoft.com/.default")).await;
    assert_eq!(body["expires_in"], 1);
    let g = Graph {
        http: http(),
        base: emu.base_url().into(),
        token: body["access_token"].as_str().unwrap().into(),
    };
    assert_eq!(g.get("/users").await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let a = g.get("/users").await;
    assert_eq!(a.status, 401);
    assert_eq!(a.code(), "InvalidAuthenticationToken");
    assert!(a.message().contains("expired"), "{}", a.message());
}

#[tokio::test]
async fn errors_carry_inner_error_and_request_ids() {
    let emu = start(sample_users()).await;
    let g = Graph::new(&emu).await;
    let a = g.get("/users/nobody@example.com").await;
    assert_eq!(a.status, 404);
    let inner = &a.body["error"]["innerError"];
    assert_eq!(inner["request-id"], a.header("request-id").unwrap());
    assert_eq!(
        inner["client-request-id"],
        a.header("client-request-id").unwrap()
    );
    // Without a client-request-id, Graph echoes its own request id.
    assert_eq!(a.header("request-id"), a.header("client-request-id"));
    let date = inner["date"].as_str().unwrap();
    assert_eq!(date.len(), 19, "{date}");
    let a = g
        .get_with("/users", &[("client-request-id", "my-correlation")])
        .await;
    assert_eq!(a.header("client-request-id"), Some("my-correlation"));
    assert_ne!(a.header("request-id"), Some("my-correlation"));
}
