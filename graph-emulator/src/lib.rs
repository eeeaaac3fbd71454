//! `graph-emulator`: a faithful test double of Microsoft Graph's Entra ID users API and of the
//! Microsoft identity platform's client-credentials token endpoint, served over plain HTTP on
//! loopback. See README.md for what is modelled and the Microsoft documentation behind it.
//!
//! ```no_run
//! # async fn demo() -> graph_emulator::Result<()> {
//! use graph_emulator::{Config, Emulator};
//! let config = Config::default().with_tenant_json(serde_json::json!({"value": [
//!     {"userPrincipalName": "adam@example.com", "displayName": "Adam"}
//! ]}))?;
//! let emu = Emulator::start(config).await?;
//! println!("{}", emu.base_url());
//! assert_eq!(emu.users_snapshot().len(), 1);
//! emu.shutdown().await?;
//! # Ok(()) }
//! ```

mod auth;
mod batch;
pub mod config;
pub mod directory;
pub mod error;
pub mod filter;
mod graph;
pub mod groups;
mod licenses;
mod server;
pub mod stats;
pub mod tenant;
mod tenant_wide;
mod throttle;
pub mod time;

pub use config::{
    Config, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, DEFAULT_TOKEN_LIFETIME,
    Knobs,
};
pub use error::{EmulatorError, Result};
pub use stats::Stats;

use serde_json::Value;
use server::Shared;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// Starts emulators.
pub struct Emulator;

impl Emulator {
    /// Binds and starts serving on the current tokio runtime.
    pub async fn start(config: Config) -> Result<RunningEmulator> {
        let (shared, listener, save) = server::bind(config).await?;
        let (shutdown, task) = server::spawn_server(shared.clone(), listener);
        Ok(RunningEmulator {
            shared,
            shutdown,
            task: Some(task),
            thread: None,
            save,
        })
    }

    /// Starts on a runtime of its own (a background thread), for tests that are not async,
    /// such as ones that spawn a CLI against the emulator.
    pub fn start_blocking(config: Config) -> Result<RunningEmulator> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("graph-emulator".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(EmulatorError::Runtime(e)));
                        return;
                    }
                };
                rt.block_on(async move {
                    match server::bind(config).await {
                        Ok((shared, listener, save)) => {
                            let (shutdown, task) = server::spawn_server(shared.clone(), listener);
                            let _ = tx.send(Ok((shared, shutdown, save)));
                            let _ = task.await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(EmulatorError::Runtime)?;
        let (shared, shutdown, save) = rx
            .recv()
            .map_err(|_| EmulatorError::Config("emulator thread ended before starting".into()))??;
        Ok(RunningEmulator {
            shared,
            shutdown,
            task: None,
            thread: Some(thread),
            save,
        })
    }
}

/// A serving emulator. Dropping it stops the server (and saves the tenant if configured).
pub struct RunningEmulator {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    save: Option<PathBuf>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`: both `login_url` and `graph_url` point here.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// `{base}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.shared.base_url, self.shared.app.tenant_id
        )
    }

    pub fn tenant_id(&self) -> &str {
        &self.shared.app.tenant_id
    }

    pub fn client_id(&self) -> &str {
        &self.shared.app.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.shared.app.client_secret
    }

    /// Every user as stored (never the password), in id order.
    pub fn users_snapshot(&self) -> Vec<Value> {
        self.shared
            .tenant
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshot()
    }

    /// One user as stored, by id or userPrincipalName.
    pub fn user(&self, id_or_upn: &str) -> Option<Value> {
        let t = self
            .shared
            .tenant
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let key = t.resolve(id_or_upn)?;
        t.get(&key).map(|r| Value::Object(r.obj.clone()))
    }

    /// Every group as stored, with its `members` as `$expand=members($select=id)` gives
    /// them, in id order (what a `groups.json` holds).
    pub fn groups_snapshot(&self) -> Vec<Value> {
        self.shared
            .tenant
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .groups()
            .groups_snapshot()
    }

    /// The member ids of one group, in the order `/members` pages them; `None`: no such group.
    pub fn group_members(&self, id: &str) -> Option<Vec<String>> {
        let t = self
            .shared
            .tenant
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        t.groups()
            .group(id)
            .map(|g| g.members.values().cloned().collect())
    }

    /// Every contact as stored, in id order.
    pub fn contacts_snapshot(&self) -> Vec<Value> {
        self.shared
            .tenant
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .groups()
            .contacts_snapshot()
    }

    /// Puts a group in as given (its `members` as `[{"id"}]`), bypassing Graph's write rules
    /// (e.g. a group Entra Connect just synced). Replaces a group with the same id.
    pub fn insert_group(&self, group: Value) -> Result<String> {
        let Value::Object(obj) = group else {
            return Err(EmulatorError::InvalidTenant(
                "a group must be a JSON object".into(),
            ));
        };
        self.shared
            .tenant
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .groups_mut()
            .insert_raw(obj)
    }

    /// Puts a user in as given, bypassing Graph's write rules (e.g. a user Entra Connect
    /// just synced). Replaces a user with the same id. Returns the id.
    pub fn insert_user(&self, user: Value) -> Result<String> {
        let Value::Object(obj) = user else {
            return Err(EmulatorError::InvalidTenant(
                "a user must be a JSON object".into(),
            ));
        };
        let mut t = self
            .shared
            .tenant
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let key = t.insert_raw(obj)?;
        Ok(t.get(&key).map(|r| r.id().to_string()).unwrap_or(key))
    }

    pub fn stats(&self) -> Stats {
        self.shared
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Zeroes the counters and forgets throttling state.
    pub fn reset_stats(&self) {
        *self
            .shared
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Stats::default();
        self.shared
            .throttle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .reset();
    }

    pub fn knobs(&self) -> Knobs {
        self.shared.knobs()
    }

    pub fn set_knobs(&self, knobs: Knobs) -> Result<()> {
        knobs.validate()?;
        *self
            .shared
            .knobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = knobs;
        Ok(())
    }

    /// Changes some knobs, e.g. `emu.update_knobs(|k| k.fail_rate = 1.0)`.
    pub fn update_knobs(&self, f: impl FnOnce(&mut Knobs)) -> Result<()> {
        let mut k = self.knobs();
        f(&mut k);
        self.set_knobs(k)
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *self
            .shared
            .token_lifetime
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = lifetime;
    }

    /// Writes the tenant as `{"value":[...]}` (atomically).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.shared
            .tenant
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .save(path.as_ref())
    }

    /// Stops serving and waits for the server to finish; saves if configured.
    pub async fn shutdown(mut self) -> Result<()> {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        match self.save.take() {
            Some(p) => self.save(p),
            None => Ok(()),
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(p) = self.save.take() {
            let _ = self.shared.tenant.read().map(|t| t.save(&p));
        }
    }
}
