//! Nothing a token or Graph endpoint answers (or fails to answer) crashes or hangs the Entra
//! connector: endpoints that accept and never answer fail within the deadline, and header
//! values like `Retry-After` and `expires_in` are capped rather than trusted.

mod graph_support;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use graph_emulator::Config;
use graph_support::*;
use idsync::directory::graph::{Credential, Settings};
use idsync::directory::graph::{GraphDirectory, GraphOptions};
use idsync::directory::{DirectoryError, EntraOp, EntraUserRead, EntraUserWrite};
use idsync::secret::SecretSource;

/// A listener on 127.0.0.1 that accepts connections and never answers (nor closes them).
fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    url
}

/// Short deadlines; more attempts than the deadline allows, so the deadline is what ends it.
fn impatient() -> GraphOptions {
    GraphOptions {
        request_timeout: Duration::from_millis(400),
        deadline: Duration::from_millis(1500),
        max_attempts: 1000,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..GraphOptions::default()
    }
}

fn secret_config(url: &str, secret: &SecretFile) -> Settings {
    Settings {
        tenant_id: "00000000-0000-4000-8000-00000000beef".to_owned(),
        client_id: "00000000-0000-4000-8000-00000000cafe".to_owned(),
        credential: Credential::ClientSecret(SecretSource::File(secret.path.clone())),
        login_url: url.to_owned(),
        graph_url: url.to_owned(),
    }
}

#[tokio::test]
async fn a_token_endpoint_that_never_answers_fails_within_the_deadline() {
    let hole = black_hole();
    let secret = secret_file("not-a-real-secret");
    let started = Instant::now();
    let err = GraphDirectory::connect_with(&secret_config(&hole, &secret), impatient())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let err = err.to_string();
    assert!(err.contains("no token from"), "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert!(!err.contains("not-a-real-secret"), "{err}");
}

#[tokio::test]
async fn a_graph_endpoint_that_never_answers_fails_within_the_deadline() {
    let emu = start(Config::default(), users(3)).await;
    let hole = black_hole();
    let secret = secret_file(emu.client_secret());
    let mut config = config(&emu, &secret.path);
    config.graph_url = hole;
    let options = GraphOptions {
        token_resource: Some(emu.base_url().to_owned()),
        ..impatient()
    };
    let mut graph = GraphDirectory::connect_with(&config, options)
        .await
        .expect("the token comes from the emulator");

    let started = Instant::now();
    let err = graph.read_users(&[]).await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "read took {took:?}");
    assert!(matches!(err, DirectoryError::Unavailable { .. }), "{err:?}");

    // Writes go through `$batch`, whose items are retried one by one: bounded the same way.
    let started = Instant::now();
    let results = graph
        .write_users(vec![
            EntraOp::Delete {
                id: "00000000-0000-4000-8000-000000000001".to_owned(),
            },
            EntraOp::Update {
                id: "00000000-0000-4000-8000-000000000002".to_owned(),
                patch: object(serde_json::json!({"jobTitle": "X"})),
            },
        ])
        .await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "write took {took:?}");
    for r in &results {
        let e = r.as_ref().unwrap_err();
        assert!(e.to_string().contains("no answer within"), "{e}");
    }
}

/// Answers every token request with `token`, and every other request with a 429 carrying
/// `retry_after`; one connection per request.
fn hostile_endpoint(token: &'static str, retry_after: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || answer(conn, token, retry_after));
        }
    });
    url
}

fn answer(mut conn: TcpStream, token: &str, retry_after: &str) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    // Headers, then as much body as Content-Length says.
    let head_end = loop {
        let Ok(n) = conn.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < head_end + length {
        let Ok(n) = conn.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let reply = if head.contains("/oauth2/v2.0/token") {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{token}",
            token.len()
        )
    } else {
        let body = r#"{"error":{"code":"TooManyRequests","message":"Please retry again later."}}"#;
        format!(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retry_after}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let _ = conn.write_all(reply.as_bytes());
}

#[tokio::test]
async fn huge_expires_in_and_retry_after_are_capped_not_a_panic() {
    // `expires_in` of u64::MAX seconds overflowed the refresh instant; a `Retry-After` of
    // 1e30 panicked converting to a Duration, and 1e19 overflowed the gate's instant.
    const TOKEN: &str =
        r#"{"access_token":"t0ken","token_type":"Bearer","expires_in":18446744073709551615}"#;
    for retry_after in ["1e30", "1e19", "18446744073709551615"] {
        let url = hostile_endpoint(TOKEN, retry_after);
        let secret = secret_file("not-a-real-secret");
        let options = GraphOptions {
            max_throttled: 1,
            ..impatient()
        };
        let mut graph = GraphDirectory::connect_with(&secret_config(&url, &secret), options)
            .await
            .expect("a token, however long its claimed lifetime");
        let err = graph.read_users(&[]).await.unwrap_err().to_string();
        assert!(
            err.contains("still throttled after 1 waits"),
            "{retry_after}: {err}"
        );
        assert!(!err.contains("t0ken"), "{err}");
    }
}
