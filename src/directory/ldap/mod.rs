//! Live Active Directory over LDAP (ldap3 on tokio, TLS by rustls).
//!
//! - `conn`: TLS settings, connect and simple bind, timeouts, and the retry policy (busy,
//!   unavailable and lost connections are retried with bounded backoff, reconnecting first).
//! - `entry`: search result entries parsed from BER by attribute name (never guessed from
//!   UTF-8 validity), and turned into [`AdUser`]s.
//! - `read`: paged scope reads, reads by objectGUID, and the domain-wide `find_taken` check.
//! - `write`: create (an enabled account: its password in the same add), per-value modify,
//!   move, delete.
//! - `groups`: groups and contacts, read and written as users are; `ranges`: the bookkeeping
//!   of AD's ranged `member` answers.
//! - `error`: LDAP result codes and AD's diagnostic text as [`DirectoryError`]s.
//!
//! Semantics follow the snapshot directory (`snapshot::ad`): the same LDAP result names in
//! [`DirectoryError::Refused`], [`DirectoryError::NotFound`] for a write to a missing object,
//! one atomic LDAP modify per `modify_user`.

mod conn;
mod entry;
mod error;
mod groups;
mod ranges;
mod read;
mod write;

pub use read::attribute_list;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::directory::{
    AdCreate, AdMod, AdQuery, AdTakenRead, AdUser, AdUserRead, AdUserWrite, DirectoryError, Dn,
    Flush, Guid, NoProgress, ProgressSink, Taken, TakenQuery,
};
use crate::secret::SecretSource;

/// How to reach and bind to a domain controller. The CLI builds it from the desired state
/// (`directories.ad`); the connector owns the shape, so `directory` never reads `desired`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ldaps://host[:port]` or `ldap://host[:port]`.
    pub url: String,
    /// StartTLS on an `ldap://` URL.
    pub start_tls: bool,
    /// Where domain-wide searches start.
    pub base_dn: Dn,
    pub bind_dn: String,
    pub password: SecretSource,
    /// The PEM file of the CA to trust instead of the system store.
    pub ca_file: Option<PathBuf>,
    /// Connect, and each operation or page (clamped to 1–300 s).
    pub timeout_seconds: u64,
}

/// A connection to a domain controller, bound as the configured account.
pub struct LdapDirectory {
    session: conn::Session,
    /// Where domain-wide searches start (`directories.ad.base_dn`).
    base_dn: Dn,
    progress: Arc<dyn ProgressSink>,
}

impl LdapDirectory {
    /// Connects (TLS verified: `ca_file`, else the system trust store) and binds. Errors never
    /// contain the password.
    pub async fn connect(config: &Settings) -> Result<Self, DirectoryError> {
        let session = conn::Session::open(config).await?;
        Ok(LdapDirectory {
            session,
            base_dn: config.base_dn.clone(),
            progress: Arc::new(NoProgress),
        })
    }

    pub fn url(&self) -> &str {
        self.session.url()
    }

    /// Where read progress goes (pages of users read); nowhere by default.
    pub fn set_progress(&mut self, sink: Arc<dyn ProgressSink>) {
        self.progress = sink;
    }
}

impl fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapDirectory")
            .field("url", &self.url())
            .field("bind_dn", &self.session.bind_dn())
            .field("base_dn", &self.base_dn)
            .finish_non_exhaustive()
    }
}

impl AdUserRead for LdapDirectory {
    async fn read_users(&mut self, query: &AdQuery) -> Result<Vec<AdUser>, DirectoryError> {
        read::users(
            &mut self.session,
            &self.base_dn,
            query,
            self.progress.as_ref(),
        )
        .await
    }

    async fn read_user(&mut self, guid: &Guid) -> Result<Option<AdUser>, DirectoryError> {
        read::user_by_guid(&mut self.session, &self.base_dn, guid).await
    }
}

impl AdTakenRead for LdapDirectory {
    async fn find_taken(&mut self, values: &TakenQuery) -> Result<Vec<Taken>, DirectoryError> {
        read::taken(&mut self.session, &self.base_dn, values).await
    }
}

impl AdUserWrite for LdapDirectory {
    async fn create_user(&mut self, create: &AdCreate) -> Result<AdUser, DirectoryError> {
        write::create(&mut self.session, create).await
    }

    async fn modify_user(&mut self, dn: &Dn, mods: &[AdMod]) -> Result<(), DirectoryError> {
        write::modify(&mut self.session, dn, mods).await
    }

    async fn move_user(&mut self, dn: &Dn, new_dn: &Dn) -> Result<(), DirectoryError> {
        write::rename(&mut self.session, dn, new_dn).await
    }

    async fn delete_user(&mut self, dn: &Dn) -> Result<(), DirectoryError> {
        write::delete(&mut self.session, dn).await
    }
}

impl Flush for LdapDirectory {
    /// Every LDAP write is durable when the DC answers it.
    async fn flush(&mut self) -> Result<(), DirectoryError> {
        Ok(())
    }
}
