//! The plan: what idsync would change, and what it found but will not touch.
//!
//! This is the JSON contract of `idsync plan --format json` (DESIGN.md); renderers and the
//! executor read it, the engine writes it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The value shown for something only known once an earlier action has run.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// Version of the JSON layout.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub summary: Summary,
    pub actions: Vec<Action>,
    pub conflicts: Vec<Conflict>,
    pub diagnostics: Vec<Diagnostic>,
    pub notes: Vec<Note>,
}

impl Plan {
    /// Builds a plan, numbering actions `a1…` in the given order and counting the summary.
    pub fn new(
        actions: Vec<Action>,
        conflicts: Vec<Conflict>,
        diagnostics: Vec<Diagnostic>,
        notes: Vec<Note>,
    ) -> Self {
        let mut plan = Plan {
            format_version: FORMAT_VERSION,
            summary: Summary::default(),
            actions,
            conflicts,
            diagnostics,
            notes,
        };
        plan.summary = Summary::count(&plan);
        plan
    }

    /// True when applying would change something (what `--detailed-exitcode` reports as 2).
    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty()
    }

    pub fn action(&self, id: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.id == id)
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub link: usize,
    #[serde(rename = "move")]
    pub move_: usize,
    pub disable: usize,
    pub delete: usize,
    pub conflict: usize,
}

impl Summary {
    pub fn count(plan: &Plan) -> Summary {
        let mut s = Summary {
            conflict: plan.conflicts.len(),
            ..Summary::default()
        };
        for a in &plan.actions {
            *match a.action {
                ActionKind::Create => &mut s.create,
                ActionKind::Update => &mut s.update,
                ActionKind::Link => &mut s.link,
                ActionKind::Move => &mut s.move_,
                ActionKind::Disable => &mut s.disable,
                ActionKind::Delete => &mut s.delete,
            } += 1;
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Create,
    Link,
    Update,
    Move,
    Disable,
    Delete,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Create => "create",
            ActionKind::Update => "update",
            ActionKind::Link => "link",
            ActionKind::Move => "move",
            ActionKind::Disable => "disable",
            ActionKind::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Ad,
    Entra,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Ad => "ad",
            Side::Entra => "entra",
        }
    }
}

/// One change to one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    pub action: ActionKind,
    pub directory: Side,
    pub identity: String,
    /// AD: the DN; Entra: the userPrincipalName.
    pub target: String,
    /// The object's key for re-reading: AD objectGUID, Entra object id. Absent for creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub changes: Vec<Change>,
    pub depends_on: Vec<String>,
    /// What must still hold when the action runs: `uSNChanged=N` (AD), `sha256:…` (a hash of
    /// the Graph properties read), or `absent` (nothing holds the new object's name yet).
    pub precondition: Option<String>,
}

/// One attribute's change. Names are the target directory's (LDAP names on AD, Graph names on
/// Entra). Multi-valued attributes list the values added and removed; they are edited per
/// value, never replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub attribute: String,
    pub before: Value,
    pub after: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

impl Change {
    pub fn set(attribute: impl Into<String>, before: Value, after: Value) -> Self {
        Change {
            attribute: attribute.into(),
            before,
            after,
            add: Vec::new(),
            remove: Vec::new(),
        }
    }
}

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// IdFix class: `character`, `format`, `topleveldomain`, `duplicate`, `length`, `blank`;
    /// and `initial_state` for the disabled-provisioning warning.
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub kind: NoteKind,
    pub identity: String,
    pub message: String,
}
