//! The planner: for each joined identity, the actions that converge it. By stage: `pair`
//! (linked pairs, with `identifiers`), `provision` and `deprovision` (one side only); `batch`
//! collects an identity's actions, `changes` builds attribute values.

mod attributes;
mod batch;
mod changes;
mod deprovision;
mod groups;
mod identifiers;
mod licenses;
mod pair;
mod provision;

pub use attributes::{AD_BASE_ATTRIBUTES, AD_REQUIRED_ATTRIBUTES, attribute_names_needed};
use attributes::{Converged, IDENTIFIERS, MATCH_KEYS, PAIR_KEYS, converged_attributes};
use batch::{Batch, cloud_label};
use changes::{ad_change, ad_value, cloud_value, entra_values, opt_bool};
use identifiers::{primary_smtp_of, proxy_change, unverified_domain};
pub use licenses::{check_licenses, licenses_managed, parse_license_value};

use std::sync::Arc;
use std::sync::OnceLock;

use foldhash::{HashMap, HashSet};

use super::anchor::{immutable_id, needs_consistency_guid};
use super::diagnostics::{self, Projected, ProxyValues};
use super::forecast;
use super::index::{HashIndex, ci_hash};
use super::join::{self, AdIndex, CloudIndex, Joint};
use super::{PlanError, PlanInput, Reads, reads};
use crate::desired::{
    Authority, DeprovisionAction, DesiredState, IdentitySpec, InitialState, Selector, SoftMatchKey,
};
use crate::directory::attributes::{self as mapping, ValueKind};
use crate::directory::model::{OWNER_MARKER_PREFIX, UAC_ACCOUNTDISABLE, UAC_NORMAL_ACCOUNT};
use crate::directory::{AdUser, CloudUser, Dn, Tenant};
use crate::names::{
    AttrName, ProxyAddress, SmtpAddress, Upn, eq_ci, fold, smtp_addresses, upn_local_part,
};
use crate::plan::{
    Action, ActionId, ActionKind, Change, Conflict, ConflictKind, Diagnostic, KNOWN_AFTER_APPLY,
    Match, Note, NoteKind, ObjectKind, Plan, Precondition, Severity, Side, Text, Value,
};

struct Planner<'a> {
    d: &'a DesiredState,
    /// The tenant data that decides matching (parts not read are assumed, see `reads`).
    tenant: &'a Tenant,
    ad: &'a [AdUser],
    cloud: &'a [CloudUser],
    ad_index: &'a AdIndex<'a>,
    cloud_index: &'a CloudIndex<'a>,
    /// The indexes over the reads a plan may need, built on first use or ahead.
    lookups: &'a Lookups<'a>,
    /// DNs of objects this plan creates or moves to.
    planned_dns: HashSet<Dn>,
    /// `converged_attributes` for identities without overrides, computed once.
    converged: Vec<Converged>,
    /// sAMAccountNames this plan's creates take (folded).
    planned_sams: HashSet<String>,
    /// Folded values taken domain-wide -> (attribute, DN).
    taken: HashMap<String, (&'static str, String)>,
    /// Numbered by position until `finish` sorts them.
    actions: Vec<Action>,
    notes: Vec<Note>,
    diagnostics: Vec<Diagnostic>,
    conflicts: Vec<Conflict>,
    deprovision_entra: usize,
    deprovision_ad: usize,
    reads: Reads<'a>,
    /// Presence bits of `reads.ad_unread`, so the check per pair is a mask test.
    ad_unread_mask: u64,
    /// Some cloud user's read lacks a [`MATCH_KEYS`] property.
    cloud_keys_unread: bool,
    /// Anchors this plan's links set (folded) -> the identity that sets it.
    planned_anchors: HashMap<String, Arc<str>>,
}

pub fn plan(input: PlanInput<'_>) -> Result<Plan, PlanError> {
    let d = input.desired;
    let joined = join::join(
        d,
        input.ad,
        input.cloud,
        join::JoinContext {
            tenant: input.tenant,
            ad_unread: input.reads.ad_unread,
        },
    );

    let lookups = Lookups {
        ad: input.ad,
        cloud: input.cloud,
        ad_in_scope: joined.ad_in_scope,
        ad_values: OnceLock::new(),
        immutable_ids: joined.immutable_ids,
    };
    let ad_index = joined.ad_index;
    let cloud_index = joined.cloud_index;
    let mut taken = HashMap::default();
    for t in input.taken {
        taken.insert(fold(&t.value), (t.attribute, t.dn.to_string()));
    }

    let mut p = Planner {
        d,
        tenant: input.tenant,
        ad: input.ad,
        cloud: input.cloud,
        ad_index: &ad_index,
        cloud_index: &cloud_index,
        lookups: &lookups,
        planned_dns: HashSet::default(),
        converged: converged_attributes(d, None),
        planned_sams: HashSet::default(),
        taken,
        actions: Vec::new(),
        notes: Vec::new(),
        diagnostics: Vec::new(),
        conflicts: joined.conflicts,
        deprovision_entra: 0,
        deprovision_ad: 0,
        reads: input.reads,
        ad_unread_mask: input
            .reads
            .ad_unread
            .iter()
            .fold(0, |m, n| m | n.presence_bit()),
        planned_anchors: HashMap::default(),
        cloud_keys_unread: input
            .cloud
            .iter()
            .any(|c| MATCH_KEYS.iter().any(|&k| !c.carries(k))),
    };

    // IdFix `duplicate` over the in-scope AD objects as they are now.
    diagnostics::duplicates(input.ad, &lookups.ad_in_scope, &mut p.diagnostics);
    let duplicate_holders: HashSet<String> = p
        .diagnostics
        .iter()
        .filter(|d| d.rule == "duplicate")
        .map(|d| d.object.clone())
        .collect();

    let group_index = groups::GroupIndex::build(d, input.groups);
    let mismatch_possible = group_index.holds_addresses();
    // Memberships name users: the group stage needs the join's pairs and this plan's creates.
    let mut twins = if d
        .groups
        .iter()
        .any(|g| g.members != crate::desired::Membership::Unmanaged)
        || licenses::licenses_managed(d)
    {
        groups::Twins::new(input.ad.len(), input.cloud.len(), d.identities.len())
    } else {
        groups::Twins::default()
    };
    let track = !d.groups.is_empty() || licenses::licenses_managed(d);
    // The lookups the identities will ask for, and what the forecast needs of the join (the
    // few pairs a rule can apply to, and its own lookups), depend on the reads and the join
    // alone: the other core builds them meanwhile, in the order they are asked for.
    let (seen, planned) = crate::parallel::both(
        || {
            lookups.build_ahead(d, &ad_index, &joined.joints);
            forecast::Seen::collect(
                &joined.joints,
                d,
                input.ad,
                &cloud_index,
                &joined.ad_blocked,
            )
        },
        || -> Result<_, PlanError> {
            for joint in &joined.joints {
                let first = p.actions.len();
                let mut batch = Batch::default();
                if let Some(a) = joint.ad()
                    && duplicate_holders.contains(input.ad[a].dn.as_str())
                {
                    // Already diagnosed; the identity is blocked without repeating it.
                } else if let (Some(a), None, true) = (joint.ad(), joint.cloud(), mismatch_possible)
                    && let Some(c) =
                        p.object_type_mismatch(&group_index, p.identity_name(joint), &input.ad[a])
                {
                    p.conflicts.push(c);
                } else {
                    p.identity(joint, &mut batch);
                    p.take(batch);
                }
                if track {
                    twins.record(joint, &p.actions, first);
                }
            }
            let groups_planned = if d.groups.is_empty() {
                groups::Planned::default()
            } else {
                p.groups(&group_index, &twins)
            };
            p.licenses(&twins, &groups_planned.cloud_sides)?;
            p.unlicensed_note(&joined.joints);
            Ok(groups_planned.forecast)
        },
    );
    let mut group_forecast = planned?;
    drop(twins);
    // The joints are done with; the numbering in `finish` is the last big allocation.
    drop(joined.joints);

    let in_scope_ad = lookups.ad_in_scope.len();
    if in_scope_ad == 0 && p.deprovision_entra > 0 {
        return Err(PlanError::EmptyRead {
            directory: "AD",
            count: p.deprovision_entra,
        });
    }
    if input.cloud.is_empty() && p.deprovision_ad > 0 {
        return Err(PlanError::EmptyRead {
            directory: "Entra",
            count: p.deprovision_ad,
        });
    }
    let inventory = reads::inventory(
        input.ad.len(),
        in_scope_ad,
        input.cloud.len(),
        joined.cloud_in_scope,
    );
    p.notes
        .extend(reads::empty_scope(d, &inventory, &input.reads));
    p.notes.extend(reads::assumptions(
        &input.reads,
        input.cloud,
        &attribute_names_needed(d).1,
    ));
    p.notes.extend(reads::tenant_assumptions(input.tenant));
    p.notes
        .extend(reads::sync_excluded(input.ad, &joined.excluded));
    let ad_ignored = forecast::ignored_ad(d, input.ad, p.ad_index, &joined.excluded);
    let mut plan = p.finish()?;
    plan.inventory = inventory;
    let context = forecast::Context {
        desired: d,
        ad: input.ad,
        cloud: input.cloud,
        tenant: input.tenant,
        ad_unread: input.reads.ad_unread,
        ad_ignored: &ad_ignored,
        cloud_index: &cloud_index,
    };
    plan.forecast = forecast::forecast(&context, &seen, &plan);
    // `group` sorts last among the kinds, so the group stage's entries follow in order.
    group_forecast.sort_by(|x, y| (&x.identity, &x.message).cmp(&(&y.identity, &y.message)));
    plan.forecast.append(&mut group_forecast);
    Ok(plan)
}

/// Indexes over the reads that only some plans need, each built the first time it is
/// asked for. `OnceLock`s: while one core plans the identities, the other builds ahead
/// the ones this plan will ask for ([`Lookups::build_ahead`]).
struct Lookups<'a> {
    ad: &'a [AdUser],
    cloud: &'a [CloudUser],
    /// In-scope AD users (ignored ones excluded), by index, as the join found them.
    ad_in_scope: Vec<usize>,
    /// UPN, mail and SMTP values of in-scope AD objects, by hash, for a create's names.
    ad_values: OnceLock<HashIndex>,
    /// Cloud users by onPremisesImmutableId without case (the join's, if it needed one).
    immutable_ids: OnceLock<HashIndex>,
}

impl Lookups<'_> {
    fn ad_values(&self) -> &HashIndex {
        self.ad_values.get_or_init(|| {
            let mut ix = HashIndex::with_capacity(self.ad_in_scope.len() * 3);
            for &i in &self.ad_in_scope {
                for (_, v) in diagnostics::unique_values(&self.ad[i]) {
                    ix.insert(ci_hash(&[v]), i);
                }
            }
            ix
        })
    }

    fn immutable_ids(&self) -> &HashIndex {
        self.immutable_ids
            .get_or_init(|| join::immutable_ids_ci(self.cloud))
    }

    /// Builds what the identities of `joints` will ask for: the anchors' holders for links
    /// (any pair or cloud-only identity), free DNs and names for creates in AD
    /// (`provision.ad`; the DNs and sAMAccountNames are the join's `ad_index`).
    fn build_ahead(&self, d: &DesiredState, ad_index: &AdIndex<'_>, joints: &[join::Joint]) {
        if joints.iter().any(|j| j.cloud().is_some()) {
            self.immutable_ids();
        }
        if d.provision_ad.is_some() && joints.iter().any(|j| j.ad().is_none()) {
            ad_index.by_dn();
            self.ad_values();
            ad_index.by_sam();
        }
    }
}

impl<'a> Planner<'a> {
    /// Whether the AD read carried `name` (absent is not null).
    fn ad_reads(&self, name: AttrName) -> bool {
        match name.presence_bit() {
            0 => !self.reads.ad_unread.contains(&name),
            bit => self.ad_unread_mask & bit == 0,
        }
    }

    fn dn_taken(&self, dn: &Dn) -> bool {
        let ad = self.ad;
        let dns = self.ad_index.by_dn();
        dns.candidates(dn.hash_value()).any(|i| &ad[i].dn == dn) || self.planned_dns.contains(dn)
    }

    /// Who already holds `anchor` as onPremisesImmutableId without regard to case (Entra keeps
    /// it unique that way, and so does apply): another cloud user, or another link of this
    /// plan. `None` when `me` may take it.
    fn anchor_holder(&self, anchor: &str, me: usize) -> Option<String> {
        let cloud = self.cloud;
        let ix = self.lookups.immutable_ids();
        if let Some(other) = ix
            .candidates(ci_hash(&[anchor]))
            .find(|&i| i != me && cloud[i].immutable_id().is_some_and(|v| eq_ci(v, anchor)))
        {
            return Some(cloud_label(&cloud[other]));
        }
        self.planned_anchors
            .get(&fold(anchor))
            .map(|who| format!("the link planned for {who}"))
    }

    /// The DN of the in-scope AD object holding `value` as UPN, mail or SMTP address.
    fn value_holder(&self, value: &str) -> Option<&'a str> {
        let ad = self.ad;
        let values = self.lookups.ad_values();
        values
            .candidates(ci_hash(&[value]))
            .find(|&i| diagnostics::unique_values(&ad[i]).any(|(_, v)| eq_ci(v, value)))
            .map(|i| ad[i].dn.as_str())
    }

    fn take(&mut self, batch: Batch) {
        self.diagnostics.extend(batch.diagnostics.iter().cloned());
        if batch.blocked() {
            self.conflicts.extend(batch.conflicts);
            return;
        }
        self.notes.extend(batch.notes);
        // Cannot fail: at most a few actions per object, and 2^32 objects do not fit in memory.
        let offset = u32::try_from(self.actions.len()).expect("fewer than 2^32 actions");
        for (n, mut action) in (offset..).zip(batch.actions) {
            action.id = ActionId(n);
            // The anchors this plan sets, for `anchor_holder`: only links that stay planned.
            if action.action == ActionKind::Link
                && action.directory == Side::Entra
                && let Some(anchor) = action.changes.first().and_then(|c| c.after.as_str())
                && anchor != KNOWN_AFTER_APPLY
            {
                self.planned_anchors
                    .insert(fold(anchor), Arc::clone(&action.identity));
            }
            for dep in &mut action.depends_on {
                dep.0 += offset;
            }
            self.actions.push(action);
        }
        self.deprovision_ad += batch.deprovision_ad;
        self.deprovision_entra += batch.deprovision_entra;
    }

    fn finish(self) -> Result<Plan, PlanError> {
        let deletes = self
            .actions
            .iter()
            .filter(|a| matches!(a.action, ActionKind::Disable | ActionKind::Delete))
            .count();
        if deletes > self.d.max_deletes {
            return Err(PlanError::TooManyDeletes {
                count: deletes,
                max: self.d.max_deletes,
            });
        }
        let mut actions = self.actions;
        number_in_plan_order(&mut actions);
        let mut conflicts = self.conflicts;
        conflicts.sort_by(|a, b| {
            (a.kind, &a.identity, &a.objects).cmp(&(b.kind, &b.identity, &b.objects))
        });
        let mut diagnostics = self.diagnostics;
        diagnostics.sort_by(|a, b| {
            (a.severity, &a.object, &a.rule, &a.attribute, &a.message).cmp(&(
                b.severity,
                &b.object,
                &b.rule,
                &b.attribute,
                &b.message,
            ))
        });
        diagnostics.dedup();
        let mut notes = self.notes;
        notes.sort_by(|a, b| {
            (&a.identity, a.kind, &a.message).cmp(&(&b.identity, b.kind, &b.message))
        });
        Ok(Plan::new(actions, conflicts, diagnostics, notes))
    }

    fn spec(&self, joint: &Joint) -> Option<&'a IdentitySpec> {
        joint.spec().map(|s| &self.d.identities[s])
    }

    /// The identity's name in plans: borrowed, as most identities never get an action.
    fn identity_name(&self, joint: &Joint) -> &'a str {
        if let Some(name) = self.spec(joint).and_then(|s| s.name.as_deref()) {
            return name;
        }
        if let Some(c) = joint.cloud() {
            return self.cloud[c].upn();
        }
        // Cannot fail: a joint holds an AD object, a cloud object or both (checked just above).
        let a = &self.ad[joint.ad().expect("a joint has a side")];
        a.upn()
            .or_else(|| a.sam_account_name())
            .unwrap_or_else(|| a.dn.as_str())
    }

    fn protected(&self, joint: &Joint) -> bool {
        let ad = joint.ad().map(|a| &self.ad[a]);
        let cloud = joint.cloud().map(|c| &self.cloud[c]);
        self.d.protect.iter().any(|sel| match sel {
            Selector::Ad(s) => ad.is_some_and(|u| join::ad_matches(s, u)),
            Selector::Entra(s) => cloud.is_some_and(|u| join::cloud_matches(s, u)),
            Selector::Upn(upn) => {
                ad.is_some_and(|u| u.upn().is_some_and(|v| eq_ci(v, upn.as_str())))
                    || cloud.is_some_and(|u| eq_ci(u.upn(), upn.as_str()))
            }
        })
    }

    fn identity(&mut self, joint: &Joint, batch: &mut Batch) {
        let name = self.identity_name(joint);
        let protected = self.protected(joint);
        let how = match (joint.ad(), joint.cloud()) {
            (Some(a), Some(c)) => {
                self.pair(joint, name, a, c, batch);
                joint.how.map(|how| match how {
                    join::MatchKind::Explicit => Match::Explicit,
                    join::MatchKind::Marker => Match::Marker,
                    join::MatchKind::Hard => Match::Hard,
                    join::MatchKind::Soft(SoftMatchKey::Smtp) => Match::SoftSmtp,
                    join::MatchKind::Soft(SoftMatchKey::Upn) => Match::SoftUpn,
                })
            }
            // The AD account idsync creates carries its ownership marker.
            (None, Some(c)) => {
                self.cloud_only(joint, name, c, batch);
                Some(Match::Marker)
            }
            // The cloud user idsync creates carries the AD anchor: Entra Connect hard-matches.
            (Some(a), None) => {
                self.ad_only(joint, name, a, batch);
                Some(Match::Hard)
            }
            (None, None) => None,
        };
        for action in batch
            .actions
            .iter_mut()
            .filter(|a| a.action == ActionKind::Link)
        {
            action.matched = how;
        }
        if protected && !batch.actions.is_empty() {
            let what: Vec<String> = batch
                .actions
                .iter()
                .map(|a| format!("{} {}", a.action.as_str(), a.directory.as_str()))
                .collect();
            batch.actions.clear();
            batch.deprovision_ad = 0;
            batch.deprovision_entra = 0;
            batch.note(
                NoteKind::Protected,
                name,
                format!("not planned because it is protected: {}", what.join(", ")),
            );
        }
    }
}

/// Sorts actions into plan order (kind, identity, directory, target) and numbers them `a1…`,
/// rewriting `depends_on` from the planner's positions to the new ids. In place: a plan of a
/// million actions is not copied (ties keep the planner's order, so plans are deterministic).
fn number_in_plan_order(actions: &mut [Action]) {
    let mut order: Vec<u32> = (0..).take(actions.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&actions[a as usize], &actions[b as usize]);
        (x.action, &x.identity, x.directory, &x.target).cmp(&(
            y.action,
            &y.identity,
            y.directory,
            &y.target,
        ))
    });
    // The new id of the action now at each position.
    let mut id_at = vec![ActionId(0); actions.len()];
    for (n, &i) in (1..).zip(&order) {
        id_at[i as usize] = ActionId(n);
    }
    drop(order);
    for (a, &id) in actions.iter_mut().zip(&id_at) {
        a.id = id;
        for dep in &mut a.depends_on {
            *dep = id_at[dep.0 as usize];
        }
        a.depends_on.sort_unstable();
    }
    actions.sort_unstable_by_key(|a| a.id);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(n: u32, kind: ActionKind, identity: &str, deps: &[u32]) -> Action {
        Action {
            id: ActionId(n),
            action: kind,
            directory: Side::Ad,
            kind: ObjectKind::User,
            identity: Arc::from(identity),
            target: identity.into(),
            object: None,
            changes: Box::default(),
            depends_on: deps.iter().map(|&d| ActionId(d)).collect(),
            precondition: None,
            matched: None,
        }
    }

    #[test]
    fn numbering_sorts_in_place_and_follows_dependencies() {
        // As planned: a link that depends on the create after it, then an earlier identity.
        let mut actions = vec![
            action(0, ActionKind::Link, "b", &[1]),
            action(1, ActionKind::Create, "b", &[]),
            action(2, ActionKind::Link, "a", &[]),
        ];
        number_in_plan_order(&mut actions);
        let order: Vec<(String, ActionKind, &str)> = actions
            .iter()
            .map(|a| (a.id.to_string(), a.action, &*a.identity))
            .collect();
        assert_eq!(
            order,
            [
                ("a1".to_owned(), ActionKind::Create, "b"),
                ("a2".to_owned(), ActionKind::Link, "a"),
                ("a3".to_owned(), ActionKind::Link, "b"),
            ]
        );
        assert_eq!(*actions[2].depends_on, [ActionId(1)]);
    }
}
