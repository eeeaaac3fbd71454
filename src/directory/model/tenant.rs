//! The Entra tenant data that decides how Entra Connect matches (DESIGN.md, "Entra tenant data
//! that decides matching"): the directory's sync features, its domains and its directory role
//! holders. Quarantined duplicates are a user property (`onPremisesProvisioningErrors`).
//!
//! Each part is read on its own and may be unknown (a users-only snapshot folder, or Graph
//! answering 403 because the app lacks the permission); the planner then proceeds on the
//! assumptions DESIGN.md states and says so in one `assumption` note per part.

use std::collections::BTreeMap;

/// One part of the tenant data: read, or unknown and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<T> {
    Read(T),
    /// Not read; the text names the file or the permission that would settle it
    /// (`"the snapshot folder has no domains.json"`, `"Graph answered 403: the app lacks
    /// Domain.Read.All"`).
    Unknown(String),
}

impl<T> Part<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Part::Read(t) => Some(t),
            Part::Unknown(_) => None,
        }
    }

    /// Why the part is unknown; `None` when it was read.
    pub fn why_unknown(&self) -> Option<&str> {
        match self {
            Part::Read(_) => None,
            Part::Unknown(why) => Some(why),
        }
    }
}

impl<T> Default for Part<T> {
    fn default() -> Self {
        Part::Unknown("not read".into())
    }
}

/// What the tenant says about matching. `Tenant::default()` knows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tenant {
    /// `GET /directory/onPremisesSynchronization` → `features`.
    pub sync: Part<SyncFeatures>,
    /// `GET /domains`.
    pub domains: Part<Vec<Domain>>,
    /// `GET /roleManagement/directory/roleAssignments` with names from `roleDefinitions`:
    /// principal object id → the display names of the roles it holds (sorted, deduplicated).
    pub role_holders: Part<BTreeMap<String, Vec<String>>>,
    /// `GET /subscribedSkus`: the licenses the desired state can name.
    pub skus: Part<Vec<super::Sku>>,
}

/// The `onPremisesDirectorySynchronizationFeature` flags that decide matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncFeatures {
    pub block_soft_match: bool,
    pub block_cloud_object_takeover_through_hard_match: bool,
    pub soft_match_on_upn: bool,
    pub synchronize_upn_for_managed_users: bool,
    pub password_sync: bool,
}

impl SyncFeatures {
    /// DESIGN.md's stated assumptions for a tenant whose features are unknown: blocks off, UPN
    /// soft match on, password hash sync on. (Not Graph's defaults for a new tenant; the ones
    /// under which the plan can still say what it would do.)
    pub const ASSUMED: SyncFeatures = SyncFeatures {
        block_soft_match: false,
        block_cloud_object_takeover_through_hard_match: false,
        soft_match_on_upn: true,
        synchronize_upn_for_managed_users: false,
        password_sync: true,
    };
}

/// A domain of the tenant (`GET /domains`: `id` is its name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub is_verified: bool,
    /// The `<initial>.onmicrosoft.com` domain.
    pub is_initial: bool,
}

impl Tenant {
    /// Sync features as read, or the stated assumptions.
    pub fn features(&self) -> SyncFeatures {
        self.sync.known().copied().unwrap_or(SyncFeatures::ASSUMED)
    }

    /// Whether `suffix` (the part after `@`) is a verified domain of the tenant; unknown
    /// domains assume every suffix verified. Compared without case.
    pub fn is_verified(&self, suffix: &str) -> bool {
        match self.domains.known() {
            None => true,
            Some(ds) => ds
                .iter()
                .any(|d| d.is_verified && crate::names::eq_ci(&d.name, suffix)),
        }
    }

    /// The initial `<tenant>.onmicrosoft.com` domain, when the domains were read.
    pub fn initial_domain(&self) -> Option<&str> {
        self.domains
            .known()?
            .iter()
            .find(|d| d.is_initial)
            .map(|d| d.name.as_str())
    }

    /// The directory roles the object `id` holds; empty when none or unknown.
    pub fn roles_of(&self, id: &str) -> &[String] {
        self.role_holders
            .known()
            .and_then(|m| m.get(id))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// One entry of a user's `onPremisesProvisioningErrors`: a value Entra Connect quarantined
/// (duplicate attribute resiliency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningError {
    /// `PropertyConflict` for a duplicate.
    pub category: String,
    /// `UserPrincipalName` or `ProxyAddresses`.
    pub property_causing_error: String,
    /// The duplicate value that was quarantined.
    pub value: String,
}
