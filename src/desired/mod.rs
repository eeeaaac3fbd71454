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
// Secrets are named here and read by the connectors: the rules live in `crate::secret`.
pub use crate::secret::{FORBIDDEN_SECRET_ENV, SECRET_ENV_PREFIX, SecretSource, check_secret_env};

use crate::directory::{Dn, Filter, Guid, graph, ldap};
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
    /// `groups[]`, checked: member names resolve, no group is named twice, no cycles.
    pub groups: Vec<GroupSpec>,
    /// `licenses.default`; `None` when not given (licenses are then managed only for the
    /// identities that name their own).
    pub default_licenses: Option<Vec<LicenseSpec>>,
}

/// One license as written: a SKU part number and the service plans to turn off, resolved
/// against `GET /subscribedSkus` when planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseSpec {
    pub sku: String,
    pub disabled_plans: Vec<String>,
    /// `FILE:LINE:COL`, for the error when the tenant has no such SKU or plan.
    pub origin: String,
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
            groups: Vec::new(),
            default_licenses: None,
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

impl From<&LdapConfig> for ldap::Settings {
    fn from(c: &LdapConfig) -> Self {
        ldap::Settings {
            url: c.url.clone(),
            start_tls: c.start_tls,
            base_dn: c.base_dn.clone(),
            bind_dn: c.bind_dn.clone(),
            password: c.password.clone(),
            ca_file: c.ca_file.clone(),
            timeout_seconds: c.timeout_seconds,
        }
    }
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

impl From<&GraphConfig> for graph::Settings {
    fn from(c: &GraphConfig) -> Self {
        graph::Settings {
            tenant_id: c.tenant_id.clone(),
            client_id: c.client_id.clone(),
            credential: match &c.credential {
                GraphCredential::ClientSecret(s) => graph::Credential::ClientSecret(s.clone()),
                GraphCredential::FederatedTokenFile(p) => {
                    graph::Credential::FederatedTokenFile(p.clone())
                }
            },
            login_url: c.login_url.clone(),
            graph_url: c.graph_url.clone(),
        }
    }
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
    /// The licenses its cloud user holds directly (instead of `licenses.default`).
    pub licenses: Option<Vec<LicenseSpec>>,
    /// `FILE:LINE:COL` of the entry, for messages.
    pub origin: String,
}

/// Picks one AD group.
#[derive(Debug, Clone, PartialEq)]
pub enum AdGroupSelector {
    SamAccountName(SamAccountName),
    Dn(Dn),
    ObjectGuid(Guid),
}

/// Picks one cloud group.
#[derive(Debug, Clone, PartialEq)]
pub enum EntraGroupSelector {
    Id(String),
    Mail(crate::names::SmtpAddress),
    DisplayName(String),
}

/// `groups[].type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GroupType {
    #[default]
    Security,
    Distribution,
}

/// One entry of `groups[].members`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberRef {
    /// An `identities[]` name (checked at load).
    Identity(String),
    /// A UPN (AD or cloud), resolved against the directories when planning.
    Upn(Upn),
    /// `group:NAME`: another `groups[]` entry (checked at load; no cycles).
    Group(String),
}

/// Which members a group must have.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Membership {
    /// Neither `members` nor `members_from`: idsync leaves memberships alone.
    #[default]
    Unmanaged,
    /// `members`: exactly these, on both sides.
    Exact(Vec<MemberRef>),
    /// `members_from: ad|entra`: that side's current members, mapped onto the other through
    /// the identity join.
    From(crate::plan::Side),
}

/// One `groups[]` entry, checked.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub name: String,
    pub ad: Option<AdGroupSelector>,
    pub entra: Option<EntraGroupSelector>,
    pub group_type: GroupType,
    pub members: Membership,
    /// Never touched, never reported.
    pub ignore: bool,
    /// Group-based licensing: what the cloud group assigns to its members.
    pub licenses: Option<Vec<LicenseSpec>>,
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
