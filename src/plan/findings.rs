//! What a plan reports besides its actions: conflicts, diagnostics, notes and the forecast
//! of Entra Connect's next sync.

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// A soft-match candidate already carries another object's anchor (Entra: InvalidSoftMatch).
    InvalidSoftMatch,
    /// Two in-scope objects of one directory share a UPN.
    DuplicateUpn,
    /// Two in-scope objects of one directory share an SMTP address.
    DuplicateSmtp,
    /// Two AD users claim one cloud user.
    AmbiguousMatch,
    /// An `identities[]` entry names an object that is not there (or not in scope).
    MissingObject,
    /// Two `identities[]` entries name the same object.
    DuplicateIdentity,
    /// A new account's UPN, sAMAccountName or SMTP address is already taken in the domain.
    ProvisionCollision,
    /// An anchor another cloud user (or another link of the plan) already holds.
    DuplicateAnchor,
    /// The cloud user holds an Entra directory role: Entra never matches it.
    AdminRole,
    /// The tenant blocks the only match that could pair them (InvalidHardMatch, or soft
    /// match blocked).
    MatchBlocked,
    /// A cloud user Entra created with a duplicate UPN or SMTP address quarantined (duplicate
    /// attribute resiliency): its placeholder values must not reach AD.
    QuarantinedDuplicate,
    /// A user whose soft-match key a cloud group or contact holds: Entra Connect fails with
    /// ObjectTypeMismatch.
    ObjectTypeMismatch,
}

impl ConflictKind {
    pub const ALL: [ConflictKind; 12] = [
        ConflictKind::InvalidSoftMatch,
        ConflictKind::DuplicateUpn,
        ConflictKind::DuplicateSmtp,
        ConflictKind::AmbiguousMatch,
        ConflictKind::MissingObject,
        ConflictKind::DuplicateIdentity,
        ConflictKind::ProvisionCollision,
        ConflictKind::DuplicateAnchor,
        ConflictKind::AdminRole,
        ConflictKind::MatchBlocked,
        ConflictKind::QuarantinedDuplicate,
        ConflictKind::ObjectTypeMismatch,
    ];

    /// The serde name (a test in `render` holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::InvalidSoftMatch => "invalid_soft_match",
            ConflictKind::DuplicateUpn => "duplicate_upn",
            ConflictKind::DuplicateSmtp => "duplicate_smtp",
            ConflictKind::AmbiguousMatch => "ambiguous_match",
            ConflictKind::MissingObject => "missing_object",
            ConflictKind::DuplicateIdentity => "duplicate_identity",
            ConflictKind::ProvisionCollision => "provision_collision",
            ConflictKind::DuplicateAnchor => "duplicate_anchor",
            ConflictKind::AdminRole => "admin_role",
            ConflictKind::MatchBlocked => "match_blocked",
            ConflictKind::QuarantinedDuplicate => "quarantined_duplicate",
            ConflictKind::ObjectTypeMismatch => "object_type_mismatch",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub kind: ConflictKind,
    pub identity: String,
    pub objects: Vec<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub const ALL: [Severity; 2] = [Severity::Error, Severity::Warning];

    /// The serde name (a test in `render` holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// IdFix class: `character`, `format`, `topleveldomain`, `duplicate`, `length`, `blank`;
    /// the tenant's `unverified_domain`; and `initial_state` for the disabled-provisioning
    /// warning.
    pub rule: String,
    pub object: String,
    pub attribute: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// A difference on a synced cloud user; it converges through AD and Entra Connect.
    PendingSync,
    /// Changes not planned because the object is protected.
    Protected,
    /// An object whose twin is gone, reported and left alone.
    Orphan,
    /// An object on one side only, with no provisioning configured for it.
    Unmatched,
    /// A deprovisioning that `deprovision.action: report` only reports.
    Deprovision,
    /// What the plan assumed because a read did not carry it (absent is not null).
    Assumption,
    /// A directory with no users in scope.
    EmptyScope,
    /// AD objects Entra Connect's default rules never synchronize, left alone.
    SyncExcluded,
    /// In-scope cloud users that hold no license at all.
    Unlicensed,
}

impl NoteKind {
    pub const ALL: [NoteKind; 9] = [
        NoteKind::PendingSync,
        NoteKind::Protected,
        NoteKind::Orphan,
        NoteKind::Unmatched,
        NoteKind::Deprovision,
        NoteKind::Assumption,
        NoteKind::EmptyScope,
        NoteKind::SyncExcluded,
        NoteKind::Unlicensed,
    ];

    /// The serde name (a test in `render` holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::PendingSync => "pending_sync",
            NoteKind::Protected => "protected",
            NoteKind::Orphan => "orphan",
            NoteKind::Unmatched => "unmatched",
            NoteKind::Deprovision => "deprovision",
            NoteKind::Assumption => "assumption",
            NoteKind::EmptyScope => "empty_scope",
            NoteKind::SyncExcluded => "sync_excluded",
            NoteKind::Unlicensed => "unlicensed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub kind: NoteKind,
    pub identity: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastKind {
    /// A cloud-managed user that becomes synced gets AD's value of a synced attribute.
    Overwrite,
    /// A disabled AD account disables its enabled cloud twin.
    Disable,
    /// Password hash sync replaces the cloud password with the AD one.
    Password,
    /// The UPN Entra Connect gives the cloud object differs from AD's (MOERA), or a UPN change
    /// it will not carry.
    Upn,
    /// A soft match Entra Connect makes that idsync does not.
    SoftMatch,
    /// An object synced with a duplicate UPN or SMTP address quarantined.
    Duplicate,
    /// A cloud group Entra Connect cannot match and so duplicates from its AD twin.
    Group,
}

impl ForecastKind {
    pub const ALL: [ForecastKind; 7] = [
        ForecastKind::Overwrite,
        ForecastKind::Disable,
        ForecastKind::Password,
        ForecastKind::Upn,
        ForecastKind::SoftMatch,
        ForecastKind::Duplicate,
        ForecastKind::Group,
    ];

    /// The serde name (a test in `render` holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            ForecastKind::Overwrite => "overwrite",
            ForecastKind::Disable => "disable",
            ForecastKind::Password => "password",
            ForecastKind::Upn => "upn",
            ForecastKind::SoftMatch => "soft_match",
            ForecastKind::Duplicate => "duplicate",
            ForecastKind::Group => "group",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastSeverity {
    /// Warnings first when sorted.
    Warning,
    Info,
}

impl ForecastSeverity {
    pub const ALL: [ForecastSeverity; 2] = [ForecastSeverity::Warning, ForecastSeverity::Info];

    /// The serde name (a test in `render` holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            ForecastSeverity::Warning => "warning",
            ForecastSeverity::Info => "info",
        }
    }
}

/// One thing Entra Connect's next sync will do (DESIGN.md, "What Entra Connect will do next").
/// `object`, `attribute`, `before` and `after` are present where they apply; a present
/// `before` or `after` may be `null` (no value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forecast {
    pub kind: ForecastKind,
    pub severity: ForecastSeverity,
    pub identity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_value"
    )]
    pub before: Option<Value>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_value"
    )]
    pub after: Option<Value>,
    pub message: String,
}

/// A member that is there is `Some`, `null` included, so a saved plan reads back as written.
fn present_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}
