//! What the plan can say about the reads themselves: how many objects each directory returned
//! and how many are in scope, a scope that caught nothing, and what a read did not carry
//! (absent is not null: the planner planned nothing from it, and these notes say so).

use std::fmt::Write as _;

use super::Reads;
use crate::desired::DesiredState;
use crate::directory::{AdUser, CloudUser, Tenant};
use crate::names::AttrName;
use crate::plan::{Count, Inventory, Note, NoteKind};

/// The `identity` of notes about a whole directory rather than one identity.
pub const AD: &str = "(ad)";
pub const ENTRA: &str = "(entra)";

pub(super) fn inventory(
    ad_read: usize,
    ad_in_scope: usize,
    cloud_read: usize,
    cloud_in_scope: usize,
) -> Inventory {
    Inventory {
        ad: Count {
            read: ad_read,
            in_scope: ad_in_scope,
        },
        entra: Count {
            read: cloud_read,
            in_scope: cloud_in_scope,
        },
    }
}

/// An `empty_scope` note per directory with no users in scope.
pub(super) fn empty_scope(d: &DesiredState, inventory: &Inventory, reads: &Reads<'_>) -> Vec<Note> {
    let mut notes = Vec::new();
    if inventory.ad.in_scope == 0 {
        let ous: Vec<String> = d.scope.ous.iter().map(|o| o.to_string()).collect();
        let (source, ous) = (source(reads.ad_source, "the AD read"), ous.join("; "));
        let message = match inventory.ad.read {
            0 => format!(
                "no AD users in scope: {source} has no user objects under scope.ous [{ous}]; check the OUs for a typo or a rename (and that an export carries objectClass)"
            ),
            n => format!(
                "no AD users in scope: {source} returned {n} user objects under scope.ous [{ous}], and exclude_ous, scope.ldap_filter and ignore leave none of them"
            ),
        };
        notes.push(Note {
            kind: NoteKind::EmptyScope,
            identity: AD.into(),
            message,
        });
    }
    if inventory.entra.in_scope == 0 {
        notes.push(Note {
            kind: NoteKind::EmptyScope,
            identity: ENTRA.into(),
            message: format!(
                "no cloud users in scope: {} read {} users (guests and ignored users are never in scope)",
                source(reads.entra_source, "the Entra read"),
                inventory.entra.read
            ),
        });
    }
    notes
}

/// One `assumption` note per directory whose read lacked properties the plan needs.
pub(super) fn assumptions(
    reads: &Reads<'_>,
    cloud: &[CloudUser],
    graph_select: &[String],
) -> Vec<Note> {
    let mut notes = Vec::new();
    if !reads.ad_unread.is_empty() {
        let names: Vec<&str> = reads.ad_unread.iter().map(AttrName::as_str).collect();
        let mut message = format!(
            "{} does not carry {}",
            source(reads.ad_source, "the AD read"),
            names.join(", ")
        );
        if !reads.ad_unread_why.is_empty() {
            let _ = write!(message, " ({})", reads.ad_unread_why);
        }
        message.push_str(
            ": they are unknown, so idsync plans nothing from them (no update, clear, enable, disable or deprovisioning that depends on them; a value the desired state sets is still written); export them too (`idsync snapshot --from ad` exports every attribute a plan needs)",
        );
        notes.push(Note {
            kind: NoteKind::Assumption,
            identity: AD.into(),
            message,
        });
    }

    let wanted: Vec<AttrName> = graph_select
        .iter()
        .map(|p| AttrName::from(p.as_str()))
        .collect();
    let mut missing = vec![0usize; wanted.len()];
    for user in cloud {
        for name in user.unread(&wanted) {
            if let Some(i) = wanted.iter().position(|&w| w == name) {
                missing[i] += 1;
            }
        }
    }
    let lacking: Vec<String> = wanted
        .iter()
        .zip(&missing)
        .filter(|&(_, &n)| n > 0)
        .map(|(name, &n)| {
            if n == cloud.len() {
                name.as_str().to_owned()
            } else {
                format!("{name} ({n} of {} users)", cloud.len())
            }
        })
        .collect();
    if !lacking.is_empty() {
        notes.push(Note {
            kind: NoteKind::Assumption,
            identity: ENTRA.into(),
            message: format!(
                "{} does not carry {}: unknown, not null, so idsync plans nothing from them (no update, clear, enable, disable, provisioning or deprovisioning that depends on them; a value the desired state sets is still written; a pair whose cloud user's onPremisesSyncEnabled or onPremisesImmutableId is unknown gets no actions, and a cloud user whose sync state, anchor or proxyAddresses are unknown is neither provisioned nor deprovisioned); export with GET /v1.0/users?$select={} (or `idsync snapshot --from entra`)",
                source(reads.entra_source, "the Entra read"),
                lacking.join(", "),
                graph_select.join(",")
            ),
        });
    }
    notes
}

fn source<'s>(described: &'s str, fallback: &'s str) -> &'s str {
    if described.is_empty() {
        fallback
    } else {
        described
    }
}

/// The `sync_excluded` note: in-scope AD objects Entra Connect's default rules never
/// synchronize, listed once (the first few by name, then a count).
pub(super) fn sync_excluded(ad: &[AdUser], excluded: &[(u32, &'static str)]) -> Option<Note> {
    const LISTED: usize = 20;
    if excluded.is_empty() {
        return None;
    }
    let mut message = format!(
        "Entra Connect's default rules never synchronize {} in-scope AD object{}, so idsync does not pair, provision, or deprovision {}: ",
        excluded.len(),
        if excluded.len() == 1 { "" } else { "s" },
        if excluded.len() == 1 { "it" } else { "them" },
    );
    for (n, &(i, why)) in excluded.iter().take(LISTED).enumerate() {
        if n > 0 {
            message.push_str("; ");
        }
        let _ = write!(message, "{} ({why})", ad[i as usize].dn);
    }
    if excluded.len() > LISTED {
        let _ = write!(message, "; and {} more", excluded.len() - LISTED);
    }
    Some(Note {
        kind: NoteKind::SyncExcluded,
        identity: AD.into(),
        message,
    })
}

/// One `assumption` note per part of the tenant data that was not read, naming what would
/// settle it and what the plan assumed instead (DESIGN.md, "Entra tenant data that decides
/// matching").
pub(super) fn tenant_assumptions(tenant: &Tenant) -> Vec<Note> {
    let parts = [
        (
            tenant.sync.why_unknown(),
            "the tenant's sync features",
            "assumed the defaults under which Entra Connect matches: hard- and soft-match blocks off, UPN soft match on, password hash sync on, UPN changes of managed users not synchronized",
        ),
        (
            tenant.domains.why_unknown(),
            "the tenant's domains",
            "assumed every UPN suffix is a verified domain",
        ),
        (
            tenant.role_holders.why_unknown(),
            "the tenant's directory role holders",
            "assumed no cloud user holds a directory role (Entra Connect never matches one that does)",
        ),
    ];
    parts
        .into_iter()
        .filter_map(|(why, what, assumed)| {
            Some(Note {
                kind: NoteKind::Assumption,
                identity: ENTRA.into(),
                message: format!("{what} are unknown ({}): {assumed}", why?),
            })
        })
        .collect()
}
