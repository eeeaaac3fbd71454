//! Test support for idsync's live AD connector: LDAP `Settings` for a Samba test DC, and a
//! progress sink that records what it is told.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use idsync::directory::ldap::{LdapDirectory, Settings};
use idsync::directory::{Dn, ProgressEvent, ProgressSink};
use idsync::secret::SecretSource;

use super::samba::SambaDc;

/// A config for `dc` over LDAPS as Administrator (UPN), the password in a file inside `dir`.
pub fn config(dc: &SambaDc, dir: &Path) -> Settings {
    config_with_password(dc, dir, dc.password())
}

/// [`config`] with another password (written to `dir/password`).
pub fn config_with_password(dc: &SambaDc, dir: &Path, password: &str) -> Settings {
    let file = dir.join("password");
    std::fs::write(&file, password).expect("write the password file");
    Settings {
        url: dc.url().to_owned(),
        start_tls: false,
        base_dn: Dn::parse(dc.base_dn()).expect("base DN"),
        bind_dn: dc.admin_upn().to_owned(),
        password: SecretSource::File(file),
        ca_file: Some(dc.ca_file().to_path_buf()),
        timeout_seconds: 30,
    }
}

/// Connects to `dc` as Administrator over LDAPS; the temporary folder holds the password file.
pub async fn connect(dc: &SambaDc) -> (LdapDirectory, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let directory = LdapDirectory::connect(&config(dc, dir.path()))
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", dc.url()));
    (directory, dir)
}

pub fn dn(s: &str) -> Dn {
    Dn::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A CA certificate that did not issue any DC's certificate (`openssl req -x509`).
pub fn other_ca(dir: &Path) -> PathBuf {
    let pem = dir.join("other-ca.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-subj",
            "/CN=some other CA",
            "-days",
            "1",
            "-keyout",
        ])
        .arg(dir.join("other-ca.key"))
        .arg("-out")
        .arg(&pem)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl req failed");
    pem
}

/// Progress events as text: `start reading AD users`, `advance 1000`, `finish`.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<String>>);

impl ProgressSink for Recorder {
    fn event(&self, event: ProgressEvent<'_>) {
        let line = match event {
            ProgressEvent::Start { what, .. } => format!("start {what}"),
            ProgressEvent::Advance(n) => format!("advance {n}"),
            ProgressEvent::Finish => "finish".to_owned(),
        };
        self.0.lock().expect("recorder lock").push(line);
    }
}

impl Recorder {
    pub fn events(&self) -> Vec<String> {
        self.0.lock().expect("recorder lock").clone()
    }

    /// The sum of the `advance` events.
    pub fn advanced(&self) -> u64 {
        self.events()
            .iter()
            .filter_map(|e| e.strip_prefix("advance "))
            .filter_map(|n| n.parse::<u64>().ok())
            .sum()
    }
}
