//! Connecting and binding, TLS, timeouts, and retrying what the DC could not do just now.
//!
//! TLS is always verified: against `ca_file` alone when it is set (a private AD CS root),
//! otherwise against the operating system's trust store (`rustls-native-certs`), which is
//! where an enterprise CA is installed; a bundle of public web CAs would never hold it.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, StdStream};
use reqwest::Url;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use super::{Settings, error};
use crate::directory::{DirectoryError, Secret};

/// Attempts per operation (the first included) before a busy, unavailable or unreachable
/// DC is reported.
const MAX_ATTEMPTS: u32 = 5;
/// Backoff before attempt n+1: BASE * 2^(n-1), capped, jittered ([`crate::directory::backoff`]).
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(4);
/// The longest `timeout_seconds` idsync honours (connect, and each operation or page): the
/// value comes from the desired state, and a DC that does not answer must still fail in
/// bounded time (DESIGN.md: every network wait has a deadline).
pub(super) const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// The most of a `ca_file` read: a PEM bundle of a few CAs is kilobytes.
const CA_FILE_LIMIT: u64 = 1024 * 1024;

/// `timeout_seconds` as a wait: at least a second, at most [`MAX_TIMEOUT`].
pub(super) fn op_timeout(seconds: u64) -> Duration {
    Duration::from_secs(seconds.clamp(1, MAX_TIMEOUT.as_secs()))
}

/// [`Settings`] resolved (password read, TLS built): how to reach and sign in to the DC,
/// kept to reconnect.
pub(super) struct Resolved {
    pub url: String,
    pub start_tls: bool,
    pub bind_dn: String,
    pub password: Secret,
    /// `None` for plain `ldap://` (loopback only; the loader refuses it elsewhere).
    pub tls: Option<Arc<ClientConfig>>,
    /// For messages: where the trusted CA came from.
    pub ca_file: Option<std::path::PathBuf>,
    pub timeout: Duration,
}

impl Resolved {
    pub fn encrypted(&self) -> bool {
        self.tls.is_some()
    }
}

/// A bound connection that reconnects when it was lost.
pub(super) struct Session {
    settings: Resolved,
    ldap: Ldap,
    /// Set when an operation saw the connection drop: reconnect before the next one.
    broken: bool,
}

/// Why an operation through [`Session::call`] failed.
pub(super) enum Failure {
    /// (Re)connecting or binding failed.
    Connect(LdapError),
    /// The operation itself failed (an LDAP result code, a timeout, a lost connection).
    Op(LdapError),
}

/// What an error means for another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trouble {
    /// busy (51) or unavailable (52): the DC did nothing; try again later.
    Busy,
    /// The request never left (the connection was already gone).
    NotSent,
    /// The connection dropped while waiting: the DC may or may not have done it.
    Lost,
    /// Anything else: the answer stands.
    Final,
}

pub(super) fn classify(e: &LdapError) -> Trouble {
    match e {
        LdapError::LdapResult { result } if matches!(result.rc, 51 | 52) => Trouble::Busy,
        LdapError::OpSend { .. } => Trouble::NotSent,
        LdapError::Io { source } if error::tls_error(source).is_none() => Trouble::Lost,
        LdapError::ResultRecv { .. }
        | LdapError::IdScrubSend { .. }
        | LdapError::MiscSend { .. }
        | LdapError::EndOfStream => Trouble::Lost,
        _ => Trouble::Final,
    }
}

pub(super) fn backoff(attempt: u32) -> Duration {
    crate::directory::backoff::backoff(BACKOFF_BASE, BACKOFF_CAP, attempt)
}

impl Session {
    /// Reads the password, builds the TLS configuration, connects and binds.
    pub async fn open(config: &Settings) -> Result<Session, DirectoryError> {
        let password = config
            .password
            .read()
            .map_err(|e| DirectoryError::Other(format!("directories.ad.password: {e}")))?;
        if password.expose().is_empty() {
            // An empty simple-bind password is an anonymous bind in LDAP: refuse it outright.
            return Err(DirectoryError::Other(
                "directories.ad.password is empty (LDAP would treat that as an anonymous bind)"
                    .into(),
            ));
        }
        let lower = config.url.to_ascii_lowercase();
        let tls = if lower.starts_with("ldaps://") || config.start_tls {
            Some(tls_config(config.ca_file.as_deref())?)
        } else {
            None
        };
        let settings = Resolved {
            url: config.url.clone(),
            start_tls: config.start_tls && lower.starts_with("ldap://"),
            bind_dn: config.bind_dn.clone(),
            password,
            tls,
            ca_file: config.ca_file.clone(),
            timeout: op_timeout(config.timeout_seconds),
        };
        let mut attempt = 0;
        let ldap = loop {
            attempt += 1;
            match connect(&settings).await {
                Ok(ldap) => break ldap,
                Err(e) if attempt < MAX_ATTEMPTS && retry_connect(&e) => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => return Err(error::connect_error(&settings, e)),
            }
        };
        Ok(Session {
            settings,
            ldap,
            broken: false,
        })
    }

    pub fn url(&self) -> &str {
        &self.settings.url
    }

    pub fn bind_dn(&self) -> &str {
        &self.settings.bind_dn
    }

    pub fn settings(&self) -> &Resolved {
        &self.settings
    }

    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// A handle for one operation (with the operation timeout set), reconnecting first when
    /// the connection was lost.
    pub async fn handle(&mut self) -> Result<Ldap, LdapError> {
        if self.broken || self.ldap.is_closed() {
            self.ldap = connect(&self.settings).await?;
            self.broken = false;
        }
        let mut ldap = self.ldap.clone();
        ldap.with_timeout(self.settings.timeout);
        Ok(ldap)
    }

    /// After attempt `attempt` failed with `e`: whether to try again (having waited).
    /// `repeatable` says whether doing the operation twice is harmless (reads): only then is
    /// a connection lost mid-operation retried. A lost connection is reopened either way
    /// before the next operation.
    pub async fn again(&mut self, e: &LdapError, attempt: u32, repeatable: bool) -> bool {
        let trouble = classify(e);
        if matches!(trouble, Trouble::NotSent | Trouble::Lost) {
            self.broken = true;
        }
        let retry = match trouble {
            Trouble::Busy | Trouble::NotSent => true,
            Trouble::Lost => repeatable,
            Trouble::Final => false,
        };
        if retry && attempt < MAX_ATTEMPTS {
            tokio::time::sleep(backoff(attempt)).await;
            true
        } else {
            false
        }
    }

    /// Runs one operation with the retry policy of [`Session::again`].
    pub async fn call<T, F, Fut>(&mut self, repeatable: bool, mut op: F) -> Result<T, Failure>
    where
        F: FnMut(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ldap = match self.handle().await {
                Ok(ldap) => ldap,
                Err(e) => {
                    if retry_connect(&e) && self.again(&e, attempt, true).await {
                        continue;
                    }
                    return Err(Failure::Connect(e));
                }
            };
            match op(ldap).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if !self.again(&e, attempt, repeatable).await {
                        return Err(Failure::Op(e));
                    }
                }
            }
        }
    }

    /// The error for a failed (re)connect, as [`LdapDirectory::connect`] would say it.
    pub fn connect_error(&self, e: LdapError) -> DirectoryError {
        error::connect_error(&self.settings, e)
    }
}

/// Whether a failed connect may succeed on another try: not a TLS or bind refusal.
fn retry_connect(e: &LdapError) -> bool {
    matches!(
        classify(e),
        Trouble::Busy | Trouble::NotSent | Trouble::Lost
    )
}

/// One connection: TCP (+ TLS or StartTLS) within the timeout, then a simple bind.
async fn connect(s: &Resolved) -> Result<Ldap, LdapError> {
    // One deadline for TCP and TLS together, as when ldap3 connected on its own.
    let deadline = tokio::time::Instant::now() + s.timeout;
    let tcp = tokio::time::timeout_at(deadline, tcp_connect(&s.url)).await??;
    let mut conn = LdapConnSettings::new()
        .set_conn_timeout(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .set_starttls(s.start_tls)
        .set_std_stream(StdStream::Tcp(tcp));
    if let Some(tls) = &s.tls {
        conn = conn.set_config(tls.clone());
    }
    let (driver, mut ldap) = LdapConnAsync::with_settings(conn, &s.url).await?;
    // The driver owns the socket; it ends when the last handle is dropped.
    tokio::spawn(async move {
        let _ = driver.drive().await;
    });
    ldap.with_timeout(s.timeout)
        .simple_bind(&s.bind_dn, s.password.expose())
        .await?
        .success()?;
    Ok(ldap)
}

/// The TCP connection ldap3 would open for `url`, with Nagle's algorithm off: ldap3 leaves
/// it on, and a small request written after an unacknowledged one (the bind after StartTLS,
/// a search after the bind) then waits out the DC's delayed ACK, about 40 ms on Linux.
async fn tcp_connect(url: &str) -> Result<std::net::TcpStream, LdapError> {
    let parsed = Url::parse(url)?;
    let port = parsed
        .port()
        .unwrap_or(if parsed.scheme() == "ldaps" { 636 } else { 389 });
    let host = match parsed.host_str() {
        None | Some("") => "localhost",
        Some(h) => h,
    };
    let stream = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream.into_std()?)
}

/// The rustls configuration: only `ca_file`'s certificates when it is set, else the system
/// trust store. ring is the only crypto provider built in.
pub(super) fn tls_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, DirectoryError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = crate::files::read::read_regular_file(path, CA_FILE_LIMIT).map_err(|e| {
                DirectoryError::io(
                    format!("directories.ad.ca_file: cannot read {}", path.display()),
                    e.into_io_error(),
                )
            })?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| {
                    DirectoryError::Other(format!(
                        "directories.ad.ca_file {}: not a PEM certificate file: {e}",
                        path.display()
                    ))
                })?;
                roots.add(cert).map_err(|e| {
                    DirectoryError::Other(format!(
                        "directories.ad.ca_file {}: unusable CA certificate: {e}",
                        path.display()
                    ))
                })?;
            }
            if roots.is_empty() {
                return Err(DirectoryError::Other(format!(
                    "directories.ad.ca_file {} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)",
                    path.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(DirectoryError::Other(
                    "no trusted CA certificates in the system store: set directories.ad.ca_file to the PEM file of the CA that issued the DC's certificate".into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DirectoryError::Other(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_from_the_desired_state_are_bounded() {
        assert_eq!(op_timeout(0), Duration::from_secs(1));
        assert_eq!(op_timeout(30), Duration::from_secs(30));
        assert_eq!(op_timeout(u64::MAX), MAX_TIMEOUT);
    }

    /// A listener on 127.0.0.1 that accepts connections and never answers.
    fn black_hole() -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming().flatten() {
                held.push(conn);
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_dc_that_never_answers_fails_within_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("password");
        std::fs::write(&secret, "not-a-real-password").unwrap();
        let config = Settings {
            url: format!("ldap://{}", black_hole()),
            start_tls: false,
            base_dn: crate::directory::Dn::parse("DC=corp,DC=example,DC=com").unwrap(),
            bind_dn: "CN=idsync,DC=corp,DC=example,DC=com".into(),
            password: crate::secret::SecretSource::File(secret),
            ca_file: None,
            timeout_seconds: 1,
        };
        let started = std::time::Instant::now();
        let e = match Session::open(&config).await {
            Ok(_) => panic!("a black hole bound"),
            Err(e) => e.to_string(),
        };
        let took = started.elapsed();
        assert!(took < Duration::from_secs(10), "took {took:?}: {e}");
        assert!(!e.contains("not-a-real-password"), "{e}");
    }

    #[test]
    fn retries_of_a_busy_dc_wait_under_five_seconds_in_all() {
        // The rule itself is tested in `directory::backoff`; this is LDAP's tuning of it.
        let step = |n| crate::directory::backoff::step(BACKOFF_BASE, BACKOFF_CAP, n);
        let longest: Duration = (1..MAX_ATTEMPTS).map(step).sum();
        assert_eq!(longest, Duration::from_millis(250 + 500 + 1000 + 2000));
        assert!(backoff(u32::MAX) <= BACKOFF_CAP);
    }

    #[test]
    fn busy_and_unavailable_are_retried_others_are_final() {
        let result = |rc| LdapError::LdapResult {
            result: ldap3::LdapResult {
                rc,
                matched: String::new(),
                text: String::new(),
                refs: vec![],
                ctrls: vec![],
            },
        };
        assert_eq!(classify(&result(51)), Trouble::Busy);
        assert_eq!(classify(&result(52)), Trouble::Busy);
        assert_eq!(classify(&result(49)), Trouble::Final);
        assert_eq!(classify(&result(19)), Trouble::Final);
        assert_eq!(classify(&LdapError::EndOfStream), Trouble::Lost);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(classify(&LdapError::from(reset)), Trouble::Lost);
        let tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(classify(&LdapError::from(tls)), Trouble::Final);
    }

    #[test]
    fn ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let e = tls_config(Some(&path)).unwrap_err().to_string();
        assert!(e.contains("holds no certificate"), "{e}");
        let e = tls_config(Some(&dir.path().join("missing.pem")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read"), "{e}");
    }
}
