//! Shared by the `graph_*` tests: emulator tenants, connector configuration and a progress
//! recorder. Each test uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use graph_emulator::{Config, Emulator, RunningEmulator};
use idsync::directory::graph::{Credential, GraphDirectory, GraphOptions, Settings};
use idsync::directory::{ProgressEvent, ProgressSink};
use idsync::secret::SecretSource;
use serde_json::{Map, Value, json};

/// `n` cloud users `user00000@example.com`…, with a few properties to select.
pub fn users(n: usize) -> Value {
    let users: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": format!("00000000-0000-4000-8000-{i:012}"),
                "userPrincipalName": format!("user{i:05}@example.com"),
                "displayName": format!("User {i}"),
                "mailNickname": format!("user{i:05}"),
                "mail": format!("user{i:05}@example.com"),
                "jobTitle": format!("Job {}", i % 7),
                "department": "Sales",
                "accountEnabled": true,
            })
        })
        .collect();
    json!({ "value": users })
}

/// A cloud user and a user Entra Connect syncs, for refusals.
pub fn mixed_users() -> Value {
    json!({"value": [
        {
            "id": "11111111-0000-4000-8000-000000000001",
            "userPrincipalName": "cloud.user@example.com",
            "displayName": "Cloud User",
            "mailNickname": "cloud.user",
            "accountEnabled": true
        },
        {
            "id": "11111111-0000-4000-8000-000000000002",
            "userPrincipalName": "synced.user@example.com",
            "displayName": "Synced User",
            "mailNickname": "synced.user",
            "accountEnabled": true,
            "onPremisesSyncEnabled": true,
            "onPremisesImmutableId": "AAAAAAAAAAAAAAAAAAAAAA==",
            "jobTitle": "Engineer"
        }
    ]})
}

pub async fn start(config: Config, tenant: Value) -> RunningEmulator {
    Emulator::start(config.with_tenant_json(tenant).expect("tenant"))
        .await
        .expect("emulator starts")
}

/// A secret in a file (tests must not change the process environment).
pub struct SecretFile {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn secret_file(secret: &str) -> SecretFile {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secret");
    std::fs::write(&path, secret).expect("write secret");
    SecretFile { _dir: dir, path }
}

/// Configuration pointing both endpoints at the emulator, with a client secret from `path`.
pub fn config(emu: &RunningEmulator, secret: &Path) -> Settings {
    config_with(
        emu,
        Credential::ClientSecret(SecretSource::File(secret.to_owned())),
    )
}

pub fn config_with(emu: &RunningEmulator, credential: Credential) -> Settings {
    Settings {
        tenant_id: emu.tenant_id().to_owned(),
        client_id: emu.client_id().to_owned(),
        credential,
        login_url: emu.base_url().to_owned(),
        graph_url: emu.base_url().to_owned(),
    }
}

/// Short waits so fault tests finish quickly.
pub fn fast() -> GraphOptions {
    GraphOptions {
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(200),
        max_attempts: 12,
        request_timeout: Duration::from_secs(10),
        ..GraphOptions::default()
    }
}

/// Connects with the emulator's own secret.
pub async fn connect(emu: &RunningEmulator, options: GraphOptions) -> (GraphDirectory, SecretFile) {
    let secret = secret_file(emu.client_secret());
    let dir = GraphDirectory::connect_with(&config(emu, &secret.path), options)
        .await
        .expect("connects");
    (dir, secret)
}

pub fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

pub fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// A `POST /users` body.
pub fn new_user(upn: &str) -> Map<String, Value> {
    let nick = upn.split('@').next().unwrap_or(upn);
    object(json!({
        "accountEnabled": true,
        "displayName": format!("New {nick}"),
        "mailNickname": nick,
        "userPrincipalName": upn,
        "passwordProfile": {"password": "xWwvJ]6NMw+bWH-d", "forceChangePasswordNextSignIn": true}
    }))
}

/// Emulator users by userPrincipalName (lowercase) → how many hold it.
pub fn upn_counts(emu: &RunningEmulator) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for u in emu.users_snapshot() {
        let upn = u["userPrincipalName"].as_str().unwrap_or("").to_lowercase();
        *counts.entry(upn).or_insert(0) += 1;
    }
    counts
}

/// Records progress events.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<String>>);

impl ProgressSink for Recorder {
    fn event(&self, event: ProgressEvent<'_>) {
        let line = match event {
            ProgressEvent::Start { what, total } => format!("start {what} {total:?}"),
            ProgressEvent::Advance(n) => format!("advance {n}"),
            ProgressEvent::Finish => "finish".to_owned(),
        };
        self.0.lock().unwrap().push(line);
    }
}

impl Recorder {
    pub fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Sum of the `Advance` events.
    pub fn advanced(&self) -> u64 {
        self.events()
            .iter()
            .filter_map(|e| e.strip_prefix("advance "))
            .map(|n| n.parse::<u64>().unwrap())
            .sum()
    }
}

/// A TCP proxy in front of the emulator that cuts off the answers of the first `lose`
/// `$batch` requests: the request reaches Graph and is carried out, the answer never arrives
/// (as when a connection breaks at the wrong moment).
pub struct LossyProxy {
    pub base_url: String,
    lost: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl LossyProxy {
    pub async fn start(target_base_url: &str, lose: usize) -> LossyProxy {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let target: std::net::SocketAddr = target_base_url
            .trim_start_matches("http://")
            .parse()
            .expect("emulator address");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let budget = Arc::new(AtomicUsize::new(lose));
        let lost = Arc::new(AtomicUsize::new(0));
        let counter = lost.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let budget = budget.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let batch_sent = Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let seen = batch_sent.clone();
                    let up = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if String::from_utf8_lossy(&buf[..n]).contains("POST /v1.0/$batch") {
                                seen.store(true, Ordering::SeqCst);
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let down = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match sr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if batch_sent.swap(false, Ordering::SeqCst)
                                && budget
                                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
                                        b.checked_sub(1)
                                    })
                                    .is_ok()
                            {
                                counter.fetch_add(1, Ordering::SeqCst);
                                return; // closes both halves: the answer is lost
                            }
                            if cw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                    }
                });
            }
        });
        LossyProxy {
            base_url,
            lost,
            task,
        }
    }

    /// Answers cut off so far.
    pub fn lost(&self) -> usize {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
