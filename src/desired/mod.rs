//! The desired state: the YAML an admin keeps in git, loaded, merged and validated.
//!
//! [`load`] turns a folder of YAML into a [`DesiredState`], the checked form the engine reads.
//! Every problem is reported as an [`Issue`] naming the file, line and column.

mod load;
pub mod model;
pub mod template;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

pub use load::{LoadError, Loaded, load, load_with, schema_json};
pub use model::{
    Authority, DeprovisionAction, InitialState, SecretRef, SoftMatchKey, SourceAnchor,
};
pub use template::Template;

use crate::directory::{Dn, Filter, Guid};
use crate::names::{SamAccountName, Upn};

/// A validated, merged desired state.
#[derive(Debug, Clone)]
pub struct DesiredState {
    /// The files it came from, in load order.
    pub files: Vec<PathBuf>,
    /// SHA-256 over the file names and contents; saved plans record it.
    pub digest: String,
    pub ad: Option<AdConfig>,
    pub entra: Option<EntraConfig>,
    pub scope: ScopeConfig,
    pub source_anchor: SourceAnchor,
    pub soft_match: Vec<SoftMatchKey>,
    /// Lower-cased on-premises suffix -> routable suffix.
    pub upn_suffixes: BTreeMap<String, String>,
    /// Graph property name -> authoritative side.
    pub attributes: BTreeMap<String, Authority>,
    pub provision_ad: Option<ProvisionAdConfig>,
    pub provision_entra: bool,
    pub deprovision_action: DeprovisionAction,
    pub max_deletes: usize,
    pub protect: Vec<Selector>,
    pub identities: Vec<IdentitySpec>,
}

impl DesiredState {
    /// A minimal state for tests: one scope OU, defaults everywhere else.
    pub fn with_scope(ous: &[&str]) -> Self {
        DesiredState {
            files: Vec::new(),
            digest: String::new(),
            ad: None,
            entra: None,
            scope: ScopeConfig {
                // Cannot fail in tests, its only users: they pass constant DNs.
                ous: ous.iter().map(|s| Dn::parse(s).expect("test DN")).collect(),
                exclude_ous: Vec::new(),
                ldap_filter: None,
            },
            source_anchor: SourceAnchor::default(),
            soft_match: vec![SoftMatchKey::Smtp, SoftMatchKey::Upn],
            upn_suffixes: BTreeMap::new(),
            attributes: BTreeMap::new(),
            provision_ad: None,
            provision_entra: false,
            deprovision_action: DeprovisionAction::Report,
            max_deletes: 500,
            protect: Vec::new(),
            identities: Vec::new(),
        }
    }

    /// The cloud UPN an AD UPN becomes after `upn_suffixes` (borrowed when no entry applies).
    pub fn routable_upn<'u>(&self, upn: &'u str) -> std::borrow::Cow<'u, str> {
        let target = crate::names::upn_suffix(upn).and_then(|s| {
            self.upn_suffixes
                .iter()
                .find(|(from, _)| crate::names::eq_ci(from, s))
                .map(|(_, to)| to)
        });
        match target {
            Some(target) => format!("{}@{target}", crate::names::upn_local_part(upn)).into(),
            None => std::borrow::Cow::Borrowed(upn),
        }
    }
}

/// Where AD is read from.
#[derive(Debug, Clone)]
pub enum AdConfig {
    Snapshot(PathBuf),
    Ldap(LdapConfig),
}

#[derive(Debug, Clone)]
pub struct LdapConfig {
    pub url: String,
    pub start_tls: bool,
    pub base_dn: Dn,
    pub bind_dn: String,
    pub password: SecretSource,
    pub ca_file: Option<PathBuf>,
    pub timeout_seconds: u64,
}

/// Where Entra is read from.
#[derive(Debug, Clone)]
pub enum EntraConfig {
    Snapshot(PathBuf),
    Graph(GraphConfig),
}

#[derive(Debug, Clone)]
pub struct GraphConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub credential: GraphCredential,
    pub login_url: String,
    pub graph_url: String,
}

#[derive(Debug, Clone)]
pub enum GraphCredential {
    ClientSecret(SecretSource),
    FederatedTokenFile(PathBuf),
}

/// A secret's source, with relative paths already resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

/// The prefix of every variable a desired state may name as a secret.
pub const SECRET_ENV_PREFIX: &str = "IDSYNC_";

/// Variables no desired state may name, whatever their prefix: the plan-signing key must
/// never be sent to a directory a pull request points at.
pub const FORBIDDEN_SECRET_ENV: &[&str] = &["IDSYNC_PLAN_KEY"];

impl SecretSource {
    /// Reads the secret now. Errors name the variable or file, never the value.
    ///
    /// The desired state is untrusted (DESIGN.md), so it must not choose which secret goes
    /// where: a variable must start with [`SECRET_ENV_PREFIX`] and not be one of
    /// [`FORBIDDEN_SECRET_ENV`]; a file must be a regular file of at most
    /// [`SECRET_FILE_LIMIT`](crate::files::read::SECRET_FILE_LIMIT) bytes.
    pub fn read(&self) -> Result<crate::directory::Secret, String> {
        match self {
            SecretSource::Env(name) => {
                check_secret_env(name)?;
                std::env::var(name)
                    .map(crate::directory::Secret::new)
                    .map_err(|_| format!("environment variable {name} is not set"))
            }
            SecretSource::File(path) => {
                crate::files::read::read_regular_text(path, crate::files::read::SECRET_FILE_LIMIT)
                    .map(|s| crate::directory::Secret::new(s.trim()))
                    .map_err(|e| format!("cannot read secret file: {e}"))
            }
        }
    }
}

/// Whether a desired state may name `name` as a secret's variable; the error names it.
pub fn check_secret_env(name: &str) -> Result<(), String> {
    // Compared without case: on Windows `idsync_plan_key` is the same variable.
    if FORBIDDEN_SECRET_ENV
        .iter()
        .any(|f| f.eq_ignore_ascii_case(name))
    {
        return Err(format!(
            "environment variable {name} cannot hold a directory secret: it is idsync's own key"
        ));
    }
    let prefixed = name
        .get(..SECRET_ENV_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(SECRET_ENV_PREFIX));
    if !prefixed {
        return Err(format!(
            "environment variable {name} cannot hold a directory secret: its name must start with {SECRET_ENV_PREFIX}"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct ScopeConfig {
    pub ous: Vec<Dn>,
    pub exclude_ous: Vec<Dn>,
    pub ldap_filter: Option<Filter>,
}

impl ScopeConfig {
    /// In one of `ous` and in none of `exclude_ous`.
    pub fn contains(&self, dn: &Dn) -> bool {
        self.ous.iter().any(|ou| dn.is_within(ou))
            && !self.exclude_ous.iter().any(|ou| dn.is_within(ou))
    }
}

#[derive(Debug, Clone)]
pub struct ProvisionAdConfig {
    pub ou: Dn,
    pub sam_account_name: Template,
    pub initial_state: InitialState,
}

/// Picks one AD object.
#[derive(Debug, Clone, PartialEq)]
pub enum AdSelector {
    SamAccountName(SamAccountName),
    Dn(Dn),
    ObjectGuid(Guid),
    Upn(Upn),
}

/// Picks one cloud object.
#[derive(Debug, Clone, PartialEq)]
pub enum EntraSelector {
    Upn(Upn),
    Id(String),
}

/// A `protect` entry: matches AD objects, cloud objects, or both (`upn`).
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    Ad(AdSelector),
    Entra(EntraSelector),
    /// A UPN protects the AD and the cloud object that carry it.
    Upn(Upn),
}

/// One `identities[]` entry, checked.
#[derive(Debug, Clone)]
pub struct IdentitySpec {
    pub name: Option<String>,
    pub ad: Option<AdSelector>,
    pub entra: Option<EntraSelector>,
    pub ignore: bool,
    /// Graph property name -> desired value on both sides.
    pub attributes: BTreeMap<String, String>,
    /// `FILE:LINE:COL` of the entry, for messages.
    pub origin: String,
}

/// One problem in the desired state, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line.max(1),
            self.column.max(1),
            self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_variables_must_be_idsyncs_and_never_the_plan_key() {
        // DESIGN.md "The desired state is untrusted input": `{ env: NAME }` names a variable
        // starting with IDSYNC_, never IDSYNC_PLAN_KEY. Checked before the variable is read,
        // so these fail whether or not the variable is set (PATH and HOME always are).
        for (name, why) in [
            ("IDSYNC_PLAN_KEY", "idsync's own key"),
            ("idsync_plan_key", "idsync's own key"),
            ("PATH", "must start with IDSYNC_"),
            ("HOME", "must start with IDSYNC_"),
            ("IDSYNC", "must start with IDSYNC_"),
            ("", "must start with IDSYNC_"),
            ("AWS_SECRET_ACCESS_KEY", "must start with IDSYNC_"),
        ] {
            let e = SecretSource::Env(name.to_owned()).read().unwrap_err();
            assert!(e.contains(why), "{name}: {e}");
            assert!(e.contains(&format!("variable {name} ")), "{name}: {e}");
        }
        let path = std::env::var("PATH").unwrap_or_default();
        let e = SecretSource::Env("PATH".to_owned()).read().unwrap_err();
        assert!(
            path.is_empty() || !e.contains(&path),
            "never the value: {e}"
        );
        let e = SecretSource::Env("IDSYNC_TEST_SURELY_UNSET_7F3A".to_owned())
            .read()
            .unwrap_err();
        assert_eq!(
            e,
            "environment variable IDSYNC_TEST_SURELY_UNSET_7F3A is not set"
        );
    }

    #[test]
    fn secret_files_are_small_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "s3cret\n").unwrap();
        let secret = SecretSource::File(file.clone()).read().unwrap();
        assert_eq!(secret.expose(), "s3cret");
        std::fs::write(&file, vec![b'x'; 64 * 1024 + 1]).unwrap();
        let e = SecretSource::File(file).read().unwrap_err();
        assert!(e.contains("larger than the 65536 bytes"), "{e}");
        // /dev/zero grew to gigabytes before failing; a directory is no secret either.
        #[cfg(target_os = "linux")]
        {
            let e = SecretSource::File("/dev/zero".into()).read().unwrap_err();
            assert_eq!(
                e,
                "cannot read secret file: /dev/zero is a character device, not a regular file"
            );
        }
        let e = SecretSource::File(dir.path().to_owned())
            .read()
            .unwrap_err();
        assert!(e.contains("is a directory"), "{e}");
    }
}
