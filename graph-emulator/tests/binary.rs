//! The `graph-emulator` binary: first line of stdout is the base URL; SIGTERM ends it.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("graph-emulator-test-{}-{name}", std::process::id()))
}

#[tokio::test]
async fn binary_prints_its_url_first_and_serves_until_sigterm() {
    let tenant = temp_path("tenant.json");
    let saved = temp_path("saved.json");
    let _ = std::fs::remove_file(&saved);
    std::fs::write(
        &tenant,
        json!([{"userPrincipalName": "bin.user@example.com", "displayName": "Bin User"}])
            .to_string(),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_graph-emulator"))
        .args(["--listen", "127.0.0.1:0", "--tenant-file"])
        .arg(&tenant)
        .args([
            "--tenant-id",
            "contoso-tenant",
            "--client-id",
            "app-1",
            "--client-secret",
            "s3cret",
        ])
        .args([
            "--rate-limit",
            "100",
            "--latency-ms",
            "0",
            "--fail-rate",
            "0",
            "--drop-rate",
            "0",
        ])
        .args(["--token-lifetime", "600", "--save-on-exit"])
        .arg(&saved)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn graph-emulator");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first.trim().to_string();
    assert!(
        base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"),
        "{base}"
    );

    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/contoso-tenant/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app-1"),
            ("client_secret", "s3cret"),
            ("scope", &format!("{base}/.default")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["expires_in"], 600);
    let users: Value = http
        .get(format!("{base}/v1.0/users?$select=userPrincipalName"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        users["value"],
        json!([{"userPrincipalName": "bin.user@example.com"}])
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut waited = 0;
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(waited < 100, "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
    };
    assert!(exit.success(), "{exit:?}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(doc["value"][0]["userPrincipalName"], "bin.user@example.com");
    let _ = std::fs::remove_file(&tenant);
    let _ = std::fs::remove_file(&saved);
}

#[test]
fn binary_refuses_bad_arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_graph-emulator"))
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tenant-file is required"));
    let out = Command::new(env!("CARGO_BIN_EXE_graph-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tenant-file",
            "/nonexistent/tenant.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = Command::new(env!("CARGO_BIN_EXE_graph-emulator"))
        .args(["--fail-rate", "1.5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Unbounded, these stalled every request for ever / overflowed the token's expiry.
    for (flag, value, message) in [
        (
            "--latency-ms",
            "18446744073709551615",
            "--latency-ms must be at most 60000",
        ),
        (
            "--latency-ms",
            "60001",
            "--latency-ms must be at most 60000",
        ),
        (
            "--token-lifetime",
            "18446744073709551615",
            "--token-lifetime must be at most 86400",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_graph-emulator"))
            .args(["--listen", "127.0.0.1:0", "--tenant-file", "/nonexistent"])
            .args([flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{stderr}");
    }
}

#[test]
fn a_client_that_sends_nothing_is_disconnected() {
    use std::io::Read as _;
    let config = graph_emulator::Config {
        header_read_timeout: Duration::from_millis(300),
        ..graph_emulator::Config::default()
    };
    let emu = graph_emulator::Emulator::start_blocking(config).unwrap();
    let addr = emu.base_url().trim_start_matches("http://").to_owned();
    let mut silent = std::net::TcpStream::connect(&addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 512];
    // The server closes the connection (maybe after a 408): never a read that times out.
    loop {
        match silent.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            // A signal (another test's child exiting) interrupted the read: read again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("still open after {:?}: {e}", started.elapsed()),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // Setting the knob at run time is bounded the same way.
    let e = emu.update_knobs(|k| k.latency_ms = u64::MAX).unwrap_err();
    assert!(
        e.to_string().contains("latency_ms must be at most 60000"),
        "{e}"
    );
    assert_eq!(emu.knobs().latency_ms, 0);
}

#[test]
fn start_blocking_serves_from_its_own_runtime() {
    let config = graph_emulator::Config::default()
        .with_tenant_json(json!({"value": [{"userPrincipalName": "a@example.com"}]}))
        .unwrap();
    let emu = graph_emulator::Emulator::start_blocking(config).unwrap();
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        reqwest::get(format!("{}/_emulator/stats", emu.base_url()))
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 200);
    assert_eq!(emu.users_snapshot().len(), 1);
    drop(emu);
}
