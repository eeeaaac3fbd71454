//! The engine: scope, anchors, the join and the planner. Pure: it takes data and returns a
//! plan, and never talks to a directory.

pub mod anchor;
pub mod diagnostics;
pub mod explain;
mod forecast;
mod index;
pub mod join;
mod planner;
mod reads;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_connect;
#[cfg(test)]
mod tests_entra_connect;
#[cfg(test)]
mod tests_licenses;

use crate::desired::DesiredState;
use crate::directory::{
    AdContact, AdGroup, AdUser, CloudContact, CloudGroup, CloudUser, Taken, Tenant,
};
use crate::plan::Plan;

pub use planner::{
    AD_BASE_ATTRIBUTES, AD_REQUIRED_ATTRIBUTES, attribute_names_needed, check_licenses,
    licenses_managed, parse_license_value,
};
pub use reads::{AD as AD_NOTE, ENTRA as ENTRA_NOTE};

/// Everything the planner looks at.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    pub desired: &'a DesiredState,
    /// AD users as read (the engine re-checks the OU scope).
    pub ad: &'a [AdUser],
    pub cloud: &'a [CloudUser],
    /// Domain-wide holders of the names planned creates want (see `AdRead::find_taken`).
    pub taken: &'a [Taken],
    /// Where the objects came from and what the reads did not carry.
    pub reads: Reads<'a>,
    /// The tenant data that decides how Entra Connect matches; parts not read are assumed
    /// as DESIGN.md states, and said so.
    pub tenant: &'a Tenant,
    /// Groups and contacts as read (DESIGN.md, "Groups, memberships and contacts").
    pub groups: Groups<'a>,
}

/// Groups and contacts as the directories returned them. None read (a users-only snapshot)
/// means none known: the groups `groups[]` names are then missing, nothing is guessed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Groups<'a> {
    /// AD groups under the scope OUs (the engine re-checks the scope).
    pub ad: &'a [AdGroup],
    pub ad_contacts: &'a [AdContact],
    pub cloud: &'a [CloudGroup],
    pub cloud_contacts: &'a [CloudContact],
    /// Why the cloud groups are not known to be all the tenant's (a snapshot folder without
    /// `groups.json`): none known, not none. Nothing is created or deleted on the strength of
    /// an unread side.
    pub cloud_unread: Option<&'a str>,
}

/// What the planner knows about the reads themselves. Absent is not null: an attribute a
/// read did not carry is unknown, and nothing is planned from it (DESIGN.md).
#[derive(Debug, Clone, Copy, Default)]
pub struct Reads<'a> {
    /// AD attributes the read did not return at all (an export made without them). Cloud
    /// users record what their source carried themselves ([`CloudUser::carries`]).
    pub ad_unread: &'a [crate::names::AttrName],
    /// Why `ad_unread` is unread, for the note that names them (`"no entry carries them"`).
    pub ad_unread_why: &'a str,
    /// The directories as the CLI describes them (`AD snapshot examples/contoso/ad.ldif`),
    /// for notes; empty when unknown.
    pub ad_source: &'a str,
    pub entra_source: &'a str,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the plan would disable or delete {count} objects, more than deprovision.max_deletes ({max}); nothing will be applied. Check scope changes (a renamed or moved OU drops its users out of scope), or raise max_deletes if this is intended"
    )]
    TooManyDeletes { count: usize, max: usize },
    #[error(
        "{directory} returned no users in scope, and the plan would deprovision {count} objects in the other directory because of it; refusing (an empty read is never a reason to delete)"
    )]
    EmptyRead {
        directory: &'static str,
        count: usize,
    },
    /// The desired state names licenses the tenant does not have (each message at its
    /// `FILE:LINE:COL`, with the closest names).
    #[error("{}", .0.join("\n"))]
    Licenses(Vec<String>),
}

/// Joins the directories and plans what would converge them on the desired state.
pub fn plan(input: PlanInput<'_>) -> Result<Plan, PlanError> {
    planner::plan(input)
}
