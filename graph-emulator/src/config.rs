//! Configuration: the app registration, the tenant to load, and the fault knobs.

use crate::error::{EmulatorError, Result};
use crate::tenant::users_from_json;
use serde::Serialize;
use serde_json::{Map, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Test values used when none are given. They are fake and documented, so a desired-state
/// file for tests can name them.
pub const DEFAULT_TENANT_ID: &str = "11111111-1111-4111-8111-111111111111";
pub const DEFAULT_CLIENT_ID: &str = "22222222-2222-4222-8222-222222222222";
pub const DEFAULT_CLIENT_SECRET: &str = "graph-emulator-secret";
/// Entra issues app tokens for 3599 seconds.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

/// Behaviour that tests may change while the emulator runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Knobs {
    /// Requests per 10 seconds per app (client id); `None` is unlimited.
    pub rate_limit: Option<u32>,
    /// Added before answering every request.
    pub latency_ms: u64,
    /// Share (0.0–1.0) of Graph requests answered 503.
    pub fail_rate: f64,
    /// Share (0.0–1.0) of Graph requests whose connection is closed without an answer.
    pub drop_rate: f64,
    /// Share (0.0–1.0) of `$batch` sub-requests answered 503 inside a 200 batch response, as
    /// Graph does for one request of a batch.
    pub item_fail_rate: f64,
    /// Share (0.0–1.0) of Graph requests that are carried out and then lose their answer (the
    /// connection closes): the client cannot tell whether the write happened.
    pub lost_answer_rate: f64,
    /// `Retry-After` seconds sent with injected 503s.
    pub retry_after_503: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            rate_limit: None,
            latency_ms: 0,
            fail_rate: 0.0,
            drop_rate: 0.0,
            item_fail_rate: 0.0,
            lost_answer_rate: 0.0,
            retry_after_503: 1,
        }
    }
}

/// The most latency a knob may add to every request: a minute is already far beyond any
/// test's patience; more (up to `u64::MAX` ms) stalled every request for ever.
pub const MAX_LATENCY_MS: u64 = 60_000;

/// The longest token lifetime the emulator issues (Entra's own maximum is a day).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a client may take to send a request's head before its connection is closed; it
/// also closes keep-alive connections idle that long. Longer than any pause in the tests, so
/// a client never reuses a connection just as it is being closed.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

impl Knobs {
    pub fn validate(&self) -> Result<()> {
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(EmulatorError::Config(format!(
                "latency_ms must be at most {MAX_LATENCY_MS}, got {}",
                self.latency_ms
            )));
        }
        for (name, v) in [
            ("fail_rate", self.fail_rate),
            ("drop_rate", self.drop_rate),
            ("item_fail_rate", self.item_fail_rate),
            ("lost_answer_rate", self.lost_answer_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(EmulatorError::Config(format!(
                    "{name} must be between 0.0 and 1.0, got {v}"
                )));
            }
        }
        if self.rate_limit == Some(0) {
            return Err(EmulatorError::Config(
                "rate_limit must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Applies `{"latency_ms": 5, "rate_limit": null, ...}`: present keys only.
    pub fn patch(&mut self, v: &Value) -> Result<()> {
        let obj = v
            .as_object()
            .ok_or_else(|| EmulatorError::Config("expected a JSON object".into()))?;
        let mut next = self.clone();
        for (k, val) in obj {
            let bad = || EmulatorError::Config(format!("invalid value for {k}: {val}"));
            match k.as_str() {
                "rate_limit" => {
                    next.rate_limit = match val {
                        Value::Null => None,
                        v => Some(
                            v.as_u64()
                                .and_then(|n| u32::try_from(n).ok())
                                .ok_or_else(bad)?,
                        ),
                    }
                }
                "latency_ms" => next.latency_ms = val.as_u64().ok_or_else(bad)?,
                "fail_rate" => next.fail_rate = val.as_f64().ok_or_else(bad)?,
                "drop_rate" => next.drop_rate = val.as_f64().ok_or_else(bad)?,
                "item_fail_rate" => next.item_fail_rate = val.as_f64().ok_or_else(bad)?,
                "lost_answer_rate" => next.lost_answer_rate = val.as_f64().ok_or_else(bad)?,
                "retry_after_503" => next.retry_after_503 = val.as_u64().ok_or_else(bad)?,
                _ => return Err(EmulatorError::Config(format!("unknown knob {k}"))),
            }
        }
        next.validate()?;
        *self = next;
        Ok(())
    }
}

/// Everything needed to start an emulator.
#[derive(Debug, Clone)]
pub struct Config {
    /// `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// A `client_assertion` accepted instead of the secret (workload identity federation).
    pub federated_assertion: Option<String>,
    pub token_lifetime: Duration,
    /// Verified domains: when set, a userPrincipalName must use one of them; they are also
    /// accepted as the tenant name in the token URL.
    pub verified_domains: Option<Vec<String>>,
    /// The users the tenant starts with.
    pub users: Vec<Map<String, Value>>,
    /// Its groups, each with `members` as `$expand=members($select=id)` gives them.
    pub groups: Vec<Map<String, Value>>,
    /// Its organizational contacts.
    pub contacts: Vec<Map<String, Value>>,
    /// Sync features, domains and directory roles (Graph's defaults for what it leaves out).
    pub directory: crate::directory::DirectorySeed,
    /// The application permissions (app roles) the app was granted; `None` grants every one.
    /// Checked by the tenant-wide reads (403 `Authorization_RequestDenied` without).
    pub app_roles: Option<Vec<String>>,
    pub knobs: Knobs,
    /// Seed of the random draws behind `fail_rate` and `drop_rate`.
    pub seed: u64,
    /// Users per page of a delta round (Graph decides this itself; `$top` overrides it).
    pub delta_page_size: usize,
    /// Written as `{"value":[...]}` when the emulator shuts down.
    pub save_on_shutdown: Option<PathBuf>,
    /// A connection that has not sent a whole request head within this is closed (idle
    /// keep-alive connections included), so silent clients cannot hold connections.
    pub header_read_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tenant_id: DEFAULT_TENANT_ID.into(),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            federated_assertion: None,
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            verified_domains: None,
            users: Vec::new(),
            groups: Vec::new(),
            contacts: Vec::new(),
            directory: Default::default(),
            app_roles: None,
            knobs: Knobs::default(),
            seed: 0,
            delta_page_size: 100,
            save_on_shutdown: None,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }
}

impl Config {
    /// Uses the users of a Graph JSON document (`{"value":[...]}` or a bare array).
    pub fn with_tenant_json(mut self, doc: Value) -> Result<Self> {
        self.users = users_from_json(doc)?;
        Ok(self)
    }

    /// Uses the groups of a Graph JSON document (`GET /groups` with
    /// `$expand=members($select=id)`: `{"value":[...]}` or a bare array).
    pub fn with_groups_json(mut self, doc: Value) -> Result<Self> {
        self.groups = crate::directory::collection(doc)
            .map_err(|m| EmulatorError::InvalidTenant(format!("groups: {m}")))?;
        Ok(self)
    }

    /// Uses the contacts of a Graph JSON document (`GET /contacts`).
    pub fn with_contacts_json(mut self, doc: Value) -> Result<Self> {
        self.contacts = crate::directory::collection(doc)
            .map_err(|m| EmulatorError::InvalidTenant(format!("contacts: {m}")))?;
        Ok(self)
    }

    /// Uses the users of a Graph JSON file, or a snapshot folder: its `users.json`, its
    /// `groups.json` and `contacts.json`, and the tenant files it holds
    /// (`onPremisesSynchronization.json`, `domains.json`, `roleAssignments.json`,
    /// `roleDefinitions.json`).
    pub fn with_tenant_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if path.is_dir() {
            let (seed, groups, contacts) = crate::directory::seed_from_folder(path)?;
            self.directory = seed;
            self.groups = groups;
            self.contacts = contacts;
            return self.with_tenant_file(path.join("users.json"));
        }
        let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::ReadTenant {
            path: path.display().to_string(),
            source,
        })?;
        let doc: Value =
            serde_json::from_str(&text).map_err(|source| EmulatorError::ParseTenant {
                path: path.display().to_string(),
                source,
            })?;
        self.with_tenant_json(doc)
    }
}
