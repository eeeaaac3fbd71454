//! The planner: for each joined identity, the actions that converge it.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeSet;
use std::sync::Arc;

use foldhash::{HashMap, HashSet};

use compact_str::{ToCompactString, format_compact};

use super::anchor::{immutable_id, needs_consistency_guid};
use super::diagnostics::{self, Projected, ProxyValues};
use super::index::{HashIndex, ci_hash};
use super::join::{self, AdIndex, CloudIndex, Joint};
use super::{PlanError, PlanInput, Reads, reads};
use crate::desired::{
    Authority, DeprovisionAction, DesiredState, IdentitySpec, InitialState, Selector,
};
use crate::directory::attributes::{self, Mapping, ValueKind};
use crate::directory::model::{OWNER_MARKER_PREFIX, Prop, UAC_ACCOUNTDISABLE, UAC_NORMAL_ACCOUNT};
use crate::directory::{AdUser, CloudUser, Dn};
use crate::names::{
    AttrName, ProxyAddress, SmtpAddress, Upn, eq_ci, fold, smtp_addresses, upn_local_part,
};
use crate::plan::{
    Action, ActionId, ActionKind, Change, Conflict, ConflictKind, Diagnostic, KNOWN_AFTER_APPLY,
    Note, NoteKind, Plan, Precondition, Severity, Side, Text, Value,
};

/// AD attributes a read must carry for anything to be matched at all: an export that says it
/// left one out (ldapsearch's `# requesting:` line) is refused, not planned. From the schema.
pub const AD_REQUIRED_ATTRIBUTES: &[&str] = crate::directory::schema::REQUIRED;

/// AD attributes every read returns, whatever the desired state says. From the schema.
pub const AD_BASE_ATTRIBUTES: &[&str] = crate::directory::schema::BASE;

/// Graph properties every read selects.
const GRAPH_BASE_PROPERTIES: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "mailNickname",
    "proxyAddresses",
    "onPremisesImmutableId",
    "onPremisesSyncEnabled",
    "accountEnabled",
    "userType",
    "displayName",
    "givenName",
    "surname",
];

/// Cloud properties the join and the ownership rules decide on: with one of them unread, a
/// cloud user "without a twin" may only be one the join could not see.
const MATCH_KEYS: &[AttrName] = &[
    AttrName::ON_PREMISES_SYNC_ENABLED,
    AttrName::ON_PREMISES_IMMUTABLE_ID,
    AttrName::PROXY_ADDRESSES,
];

/// Cloud properties a linked pair needs read before anything is planned for it.
const PAIR_KEYS: &[AttrName] = &[
    AttrName::ON_PREMISES_SYNC_ENABLED,
    AttrName::ON_PREMISES_IMMUTABLE_ID,
];

/// Identifiers idsync prepares for soft match on every pair, cloud to AD unless `attributes:`
/// says otherwise.
const IDENTIFIERS: &[&str] = &["userPrincipalName", "mail"];

/// What the reads must return for this desired state: AD attribute names, Graph `$select`.
pub fn attribute_names_needed(desired: &DesiredState) -> (Vec<AttrName>, Vec<String>) {
    let mut graph: BTreeSet<&str> = GRAPH_BASE_PROPERTIES.iter().copied().collect();
    let mut ad: Vec<AttrName> = AD_BASE_ATTRIBUTES
        .iter()
        .map(|&a| AttrName::from(a))
        .collect();
    let named = desired
        .attributes
        .keys()
        .chain(desired.identities.iter().flat_map(|i| i.attributes.keys()));
    for name in named {
        if let Some(m) = attributes::by_graph(name) {
            graph.insert(m.graph);
            let a = AttrName::from(m.ad);
            if !ad.contains(&a) {
                ad.push(a);
            }
        }
    }
    // The provisioning template's properties too, or every create would miss them.
    if let Some(p) = &desired.provision_ad {
        graph.extend(p.sam_account_name.properties());
    }
    (ad, graph.into_iter().map(str::to_owned).collect())
}

/// An attribute converged on pairs: its mapping and the authoritative side (none when only
/// identity overrides name it).
type Converged = (&'static Mapping, Option<Authority>);

/// The attributes to converge on a pair, identifiers aside: everything under `attributes:`
/// plus what this identity overrides.
fn converged_attributes(d: &DesiredState, spec: Option<&IdentitySpec>) -> Vec<Converged> {
    let mut names: BTreeSet<&str> = d.attributes.keys().map(String::as_str).collect();
    if let Some(s) = spec {
        names.extend(s.attributes.keys().map(String::as_str));
    }
    names
        .into_iter()
        .filter(|n| !IDENTIFIERS.contains(n))
        .filter_map(|n| Some((attributes::by_graph(n)?, d.attributes.get(n).copied())))
        .collect()
}

/// The `SMTP:` address among proxy address values, borrowed.
fn primary_smtp_of<'a>(mut values: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    values.find_map(|v| {
        ProxyAddress::parse(v)
            .filter(ProxyAddress::is_primary_smtp)
            .map(|p| p.address)
    })
}

/// What one identity contributes; dropped whole when one of its objects has an error.
#[derive(Default)]
struct Batch {
    /// Ids are placeholders and `depends_on` indexes this list until the planner takes it.
    actions: Vec<Action>,
    identity: OnceCell<Arc<str>>,
    notes: Vec<Note>,
    diagnostics: Vec<Diagnostic>,
    conflicts: Vec<Conflict>,
    deprovision_ad: usize,
    deprovision_entra: usize,
}

impl Batch {
    fn note(&mut self, kind: NoteKind, identity: &str, message: String) {
        self.notes.push(Note {
            kind,
            identity: identity.to_owned(),
            message,
        });
    }
    /// The identity's name, allocated once for all its actions.
    fn identity(&self, name: &str) -> Arc<str> {
        self.identity.get_or_init(|| Arc::from(name)).clone()
    }

    /// An action on an AD object that exists, guarded by its `uSNChanged`.
    fn on_ad(
        &self,
        kind: ActionKind,
        name: &str,
        ad: &AdUser,
        changes: impl Into<Box<[Change]>>,
    ) -> Action {
        Action {
            id: ActionId(0),
            action: kind,
            directory: Side::Ad,
            identity: self.identity(name),
            target: ad.dn.as_str().into(),
            object: Some(ad.object_guid.into()),
            changes: changes.into(),
            depends_on: Box::default(),
            precondition: ad_precondition(ad),
        }
    }

    /// An action on a cloud user that exists, guarded by a hash of what was read.
    fn on_entra(
        &self,
        kind: ActionKind,
        name: &str,
        cloud: &CloudUser,
        changes: impl Into<Box<[Change]>>,
    ) -> Action {
        Action {
            id: ActionId(0),
            action: kind,
            directory: Side::Entra,
            identity: self.identity(name),
            target: cloud.upn().into(),
            object: Some(cloud.id().into()),
            changes: changes.into(),
            depends_on: Box::default(),
            precondition: Some(entra_precondition(cloud)),
        }
    }

    /// The id the next action pushed gets within this batch (what `depends_on` refers to).
    fn next_id(&self) -> ActionId {
        ActionId(u32::try_from(self.actions.len()).expect("fewer than 2^32 actions"))
    }
    fn blocked(&self) -> bool {
        !self.conflicts.is_empty()
            || self
                .diagnostics
                .iter()
                .any(|d| d.severity == Severity::Error)
    }
}

struct Planner<'a> {
    d: &'a DesiredState,
    ad: &'a [AdUser],
    cloud: &'a [CloudUser],
    ad_index: AdIndex<'a>,
    cloud_index: CloudIndex<'a>,
    /// Every DN read or planned, so creates pick free names.
    /// Every DN read, by hash; built when a create or move first needs a free name.
    dns: OnceCell<HashIndex>,
    /// DNs of objects this plan creates or moves to.
    planned_dns: HashSet<Dn>,
    /// Folded UPN/mail/SMTP values held by in-scope AD objects -> the holder's DN.
    /// UPN, mail and SMTP values of in-scope AD objects, by hash; built when a create first
    /// checks its names.
    ad_values: OnceCell<HashIndex>,
    ad_in_scope: Vec<usize>,
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
    /// Cloud users by onPremisesImmutableId without case; built when a link first needs it.
    immutable_ids: OnceCell<HashIndex>,
    /// Anchors this plan's links set (folded) -> the identity that sets it.
    planned_anchors: HashMap<String, Arc<str>>,
}

pub fn plan(input: PlanInput<'_>) -> Result<Plan, PlanError> {
    let d = input.desired;
    let joined = join::join(d, input.ad, input.cloud);

    let mut taken = HashMap::default();
    for t in input.taken {
        taken.insert(fold(&t.value), (t.attribute, t.dn.to_string()));
    }

    let mut p = Planner {
        d,
        ad: input.ad,
        cloud: input.cloud,
        ad_index: joined.ad_index,
        cloud_index: joined.cloud_index,
        dns: OnceCell::new(),
        planned_dns: HashSet::default(),
        ad_values: OnceCell::new(),
        ad_in_scope: joined.ad_in_scope,
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
        immutable_ids: OnceCell::new(),
        planned_anchors: HashMap::default(),
        cloud_keys_unread: input
            .cloud
            .iter()
            .any(|c| MATCH_KEYS.iter().any(|&k| !c.carries(k))),
    };

    // IdFix `duplicate` over the in-scope AD objects as they are now.
    diagnostics::duplicates(input.ad, &p.ad_in_scope, &mut p.diagnostics);
    let duplicate_holders: HashSet<String> = p
        .diagnostics
        .iter()
        .filter(|d| d.rule == "duplicate")
        .map(|d| d.object.clone())
        .collect();

    for joint in &joined.joints {
        let mut batch = Batch::default();
        if let Some(a) = joint.ad()
            && duplicate_holders.contains(input.ad[a].dn.as_str())
        {
            // Already diagnosed; the identity is blocked without repeating it.
            continue;
        }
        p.identity(joint, &mut batch);
        p.take(batch);
    }
    // The joints are done with; the numbering in `finish` is the last big allocation.
    drop(joined.joints);

    let in_scope_ad = p.ad_in_scope.len();
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
    let mut plan = p.finish()?;
    plan.inventory = inventory;
    Ok(plan)
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
        let dns = self.dns.get_or_init(|| {
            let mut ix = HashIndex::with_capacity(ad.len());
            for (i, u) in ad.iter().enumerate() {
                ix.insert(u.dn.hash_value(), i);
            }
            ix
        });
        dns.candidates(dn.hash_value()).any(|i| &ad[i].dn == dn) || self.planned_dns.contains(dn)
    }

    /// Who already holds `anchor` as onPremisesImmutableId without regard to case (Entra keeps
    /// it unique that way, and so does apply): another cloud user, or another link of this
    /// plan. `None` when `me` may take it.
    fn anchor_holder(&self, anchor: &str, me: usize) -> Option<String> {
        let cloud = self.cloud;
        let ix = self.immutable_ids.get_or_init(|| {
            let mut ix = HashIndex::with_capacity(cloud.len());
            for (i, c) in cloud.iter().enumerate() {
                if let Some(id) = c.immutable_id().filter(|s| !s.is_empty()) {
                    ix.insert(ci_hash(&[id]), i);
                }
            }
            ix
        });
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
        let values = self.ad_values.get_or_init(|| {
            let mut ix = HashIndex::with_capacity(self.ad_in_scope.len() * 3);
            for &i in &self.ad_in_scope {
                for (_, v) in diagnostics::unique_values(&ad[i]) {
                    ix.insert(ci_hash(&[v]), i);
                }
            }
            ix
        });
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
        match (joint.ad(), joint.cloud()) {
            (Some(a), Some(c)) => self.pair(joint, name, a, c, batch),
            (None, Some(c)) => self.cloud_only(joint, name, c, batch),
            (Some(a), None) => self.ad_only(joint, name, a, batch),
            (None, None) => {}
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

    // ----- linked pairs -----

    fn pair(&mut self, joint: &Joint, name: &str, a: usize, c: usize, batch: &mut Batch) {
        let (ad, cloud) = (&self.ad[a], &self.cloud[c]);
        // Whether the cloud user is synced, and from which anchor, decides what may be written
        // and whether the pair is valid at all; unread, nothing is planned (the `assumption`
        // note says so).
        if !PAIR_KEYS.iter().all(|&k| cloud.carries(k)) {
            return;
        }
        let spec = self.spec(joint);
        let anchor = immutable_id(ad, self.d.source_anchor);
        let mut ad_changes: Vec<Change> = Vec::new();
        let mut entra_changes: Vec<Change> = Vec::new();
        let mut pending: Vec<String> = Vec::new();

        // Hard-match preparation: the cloud user carries the AD anchor.
        if cloud.immutable_id() != Some(anchor.as_str()) {
            if cloud.sync_enabled {
                batch.conflicts.push(Conflict {
                    kind: ConflictKind::InvalidSoftMatch,
                    identity: name.to_owned(),
                    objects: vec![ad.dn.to_string(), cloud_label(cloud)],
                    message: format!(
                        "cloud user {} is synced from another AD object (onPremisesImmutableId {}), not from {} (anchor {anchor})",
                        cloud.upn(),
                        cloud.immutable_id().unwrap_or("(none)"),
                        ad.dn
                    ),
                });
                return;
            }
            if let Some(holder) = self.anchor_holder(&anchor, c) {
                batch.conflicts.push(Conflict {
                    kind: ConflictKind::DuplicateAnchor,
                    identity: name.to_owned(),
                    objects: vec![ad.dn.to_string(), cloud_label(cloud), holder.clone()],
                    message: format!(
                        "the anchor {anchor} of {} is already held by {holder} (onPremisesImmutableId is unique in the tenant, without regard to case), so Graph would refuse the link",
                        ad.dn
                    ),
                });
                return;
            }
            batch.actions.push(batch.on_entra(
                ActionKind::Link,
                name,
                cloud,
                [Change::set(
                    "onPremisesImmutableId",
                    Value::opt(cloud.immutable_id()),
                    Value::from(anchor),
                )],
            ));
        }
        self.write_back_consistency_guid(name, ad, batch);

        // Identifiers: make AD carry the cloud's UPN, mail and primary SMTP address (or the
        // reverse where `attributes:` makes AD authoritative), so Entra Connect matches.
        // Everything is borrowed until a change is recorded: a converged pair allocates nothing.
        let upn_auth = self.authority("userPrincipalName");
        let override_upn = spec.and_then(|s| s.attributes.get("userPrincipalName"));
        let routable = ad.upn().map(|u| self.d.routable_upn(u));
        let want_upn: Option<&str> = match (override_upn, upn_auth) {
            (Some(v), _) => Some(v),
            (None, Authority::Entra) => Some(cloud.upn()),
            (None, Authority::Ad) => routable.as_deref(),
        };
        let mut projected_upn = ad.upn();
        if let Some(want) = want_upn {
            if !ad.upn().is_some_and(|u| eq_ci(u, want)) {
                ad_changes.push(Change::set(
                    "userPrincipalName",
                    Value::opt(ad.upn()),
                    Value::from(want),
                ));
                projected_upn = Some(want);
            }
            if !eq_ci(cloud.upn(), want) {
                self.entra_or_pending(
                    cloud,
                    &mut entra_changes,
                    &mut pending,
                    "userPrincipalName",
                    Value::from(cloud.upn()),
                    Value::from(want),
                );
            }
        }

        let mail_auth = self.authority("mail");
        let override_mail = spec
            .and_then(|s| s.attributes.get("mail"))
            .map(String::as_str);
        let cloud_primary: Option<&str> = primary_smtp_of(cloud.proxy_addresses()).or(cloud.mail());
        let (ad_mail_read, cloud_mail_read) =
            (self.ad_reads(AttrName::MAIL), cloud.carries(AttrName::MAIL));
        let want_mail: Option<&str> = override_mail.or(match mail_auth {
            Authority::Entra => cloud.mail().or(cloud_primary),
            Authority::Ad if ad_mail_read => ad.mail(),
            Authority::Ad => None,
        });
        let mut projected_mail = ad.mail();
        if let Some(want) = want_mail {
            if ad_mail_read && !ad.mail().is_some_and(|m| eq_ci(m, want)) {
                ad_changes.push(Change::set(
                    "mail",
                    Value::opt(ad.mail()),
                    Value::from(want),
                ));
                projected_mail = Some(want);
            }
            if cloud_mail_read
                && !cloud.mail().is_some_and(|m| eq_ci(m, want))
                && mail_auth == Authority::Ad
            {
                self.entra_or_pending(
                    cloud,
                    &mut entra_changes,
                    &mut pending,
                    "mail",
                    Value::opt(cloud.mail()),
                    Value::from(want),
                );
            }
        }

        let mut changed_proxies: Option<Vec<String>> = None;
        let primary = match mail_auth {
            Authority::Entra => override_mail.or(cloud_primary),
            Authority::Ad => None,
        };
        if let Some(primary) = primary
            && self.ad_reads(AttrName::PROXY_ADDRESSES)
            && let Some(change) =
                proxy_change(ad.proxy_addresses(), primary, cloud.proxy_addresses())
        {
            changed_proxies = change
                .after
                .as_list()
                .map(|v| v.iter().map(Text::to_string).collect());
            ad_changes.push(change);
        }

        // Attributes under `attributes:` and per-identity overrides.
        let mut projected_display: Option<Cow<'_, str>> =
            ad.attr(AttrName::DISPLAY_NAME).map(Cow::Borrowed);
        let mut disables: Vec<Action> = Vec::new();
        let overrides = spec.map(|s| &s.attributes).filter(|a| !a.is_empty());
        let converged: Cow<'_, [Converged]> = match overrides {
            None => Cow::Borrowed(&self.converged),
            Some(_) => Cow::Owned(converged_attributes(self.d, spec)),
        };
        for &(m, auth) in converged.iter() {
            // A side whose read did not carry the attribute holds an unknown value: nothing is
            // taken from it, and it is only written with a value (an unknown reads as None,
            // so a clear never differs from it). Accounts are turned on and off only with
            // both sides read.
            let (ad_known, cloud_known) = (self.ad_reads(m.ad_name), cloud.carries(m.graph_name));
            if m.kind == ValueKind::AccountEnabled && !(ad_known && cloud_known) {
                continue;
            }
            let over: Option<&str> = overrides.and_then(|o| o.get(m.graph)).map(String::as_str);
            let ad_val = ad_value(ad, m);
            let cloud_val = cloud_value(cloud, m);
            let want: Option<Cow<'_, str>> = match (over, auth) {
                (Some(v), _) => Some(Cow::Borrowed(v)),
                (None, Some(Authority::Ad)) if ad_known => ad_val.clone(),
                (None, Some(Authority::Entra)) if cloud_known => cloud_val.clone(),
                _ => continue,
            };
            let disabling = m.kind == ValueKind::AccountEnabled && want.as_deref() == Some("false");
            if ad_val != want && (over.is_some() || auth == Some(Authority::Entra)) {
                let change = ad_change(ad, m, ad_val.as_deref(), want.as_deref());
                if disabling {
                    // Turning an account off is a `disable`, counted against max_deletes.
                    disables.push(batch.on_ad(ActionKind::Disable, name, ad, [change]));
                    continue;
                }
                ad_changes.push(change);
                if m.graph == "displayName" {
                    projected_display = want.clone();
                }
            }
            if cloud_val != want && (over.is_some() || auth == Some(Authority::Ad)) {
                let (before, after) = entra_values(m, cloud_val.as_deref(), want.as_deref());
                if disabling && !cloud.sync_enabled {
                    disables.push(batch.on_entra(
                        ActionKind::Disable,
                        name,
                        cloud,
                        [Change::set(m.graph, before, after)],
                    ));
                    continue;
                }
                self.entra_or_pending(
                    cloud,
                    &mut entra_changes,
                    &mut pending,
                    m.graph,
                    before,
                    after,
                );
            }
        }
        batch.actions.append(&mut disables);

        if !ad_changes.is_empty() {
            batch
                .actions
                .push(batch.on_ad(ActionKind::Update, name, ad, ad_changes));
        }
        if !entra_changes.is_empty() {
            batch
                .actions
                .push(batch.on_entra(ActionKind::Update, name, cloud, entra_changes));
        }
        if !pending.is_empty() {
            batch.note(
                NoteKind::PendingSync,
                name,
                format!(
                    "{} is synced by Entra Connect (onPremisesSyncEnabled), so idsync does not write it; {} will converge from AD at the next sync",
                    cloud.upn(),
                    pending.join(", ")
                ),
            );
        }

        // Accounts idsync created live in the provisioning OU; follow it when it moves.
        if let Some(prov) = &self.d.provision_ad
            && ad.owner_marker().is_some()
            && !ad.dn.is_within(&prov.ou)
        {
            self.plan_move(name, ad, &prov.ou, batch);
        }

        let projected = Projected {
            object: ad.dn.as_str(),
            upn: projected_upn,
            sam_account_name: ad.sam_account_name(),
            mail: projected_mail,
            proxy_addresses: match &changed_proxies {
                Some(planned) => ProxyValues::Planned(planned),
                None => ProxyValues::Read(ad.proxy_addresses()),
            },
            display_name: projected_display.as_deref(),
            mail_nickname: ad.attr(AttrName::MAIL_NICKNAME),
        };
        diagnostics::check(&projected, self.d, &mut batch.diagnostics);
    }

    fn plan_move(&mut self, name: &str, ad: &AdUser, ou: &Dn, batch: &mut Batch) {
        let rdn = ad
            .dn
            .rdns()
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next());
        let Some(rdn) = rdn else { return };
        let new_dn = Dn::child(&rdn.attr, &rdn.value, ou);
        if self.dn_taken(&new_dn) {
            batch.conflicts.push(Conflict {
                kind: ConflictKind::ProvisionCollision,
                identity: name.to_owned(),
                objects: vec![ad.dn.to_string(), new_dn.to_string()],
                message: format!("cannot move {} into {ou}: {new_dn} already exists", ad.dn),
            });
            return;
        }
        self.planned_dns.insert(new_dn.clone());
        batch.actions.push(batch.on_ad(
            ActionKind::Move,
            name,
            ad,
            [Change::set(
                "distinguishedName",
                Value::from(ad.dn.as_str()),
                Value::from(new_dn.as_str()),
            )],
        ));
    }

    fn authority(&self, graph: &str) -> Authority {
        self.d
            .attributes
            .get(graph)
            .copied()
            .unwrap_or(Authority::Entra)
    }

    fn entra_or_pending(
        &self,
        cloud: &CloudUser,
        changes: &mut Vec<Change>,
        pending: &mut Vec<String>,
        attribute: &str,
        before: Value,
        after: Value,
    ) {
        if cloud.sync_enabled {
            pending.push(attribute.to_owned());
        } else {
            changes.push(Change::set(attribute, before, after));
        }
    }

    // ----- cloud users with no AD twin -----

    fn cloud_only(&mut self, joint: &Joint, name: &str, c: usize, batch: &mut Batch) {
        let cloud = &self.cloud[c];
        // Whether it is synced, and from which anchor, decides everything below; unread, it
        // is unknown, and the `assumption` note says so.
        if !MATCH_KEYS.iter().all(|&k| cloud.carries(k)) {
            return;
        }
        if cloud.sync_enabled {
            batch.note(
                NoteKind::Orphan,
                name,
                format!(
                    "{} is synced by Entra Connect from an AD object that is not in scope (onPremisesImmutableId {}); if that object left Entra Connect's scope too, the next sync deletes it",
                    cloud.upn(),
                    cloud.immutable_id().unwrap_or("(none)")
                ),
            );
            return;
        }
        if self.d.provision_ad.is_some() {
            // Without adminDescription, the accounts idsync made cannot be told apart: a twin
            // it made before would be made again.
            if self.ad_reads(AttrName::ADMIN_DESCRIPTION) {
                self.provision_ad(joint, name, cloud, batch);
            }
            return;
        }
        let dangling = cloud.immutable_id().filter(|s| !s.is_empty());
        match dangling {
            Some(id) if self.d.provision_entra => {
                let why = format!(
                    "its onPremisesImmutableId {id} names no in-scope AD object, and AD is the source of existence (provision.entra)"
                );
                self.deprovision_entra(name, cloud, why, batch);
            }
            Some(id) => batch.note(
                NoteKind::Orphan,
                name,
                format!(
                    "{}: onPremisesImmutableId {id} names no in-scope AD object; left alone",
                    cloud.upn()
                ),
            ),
            None => batch.note(
                NoteKind::Unmatched,
                name,
                format!(
                    "{} exists in the cloud only; no AD provisioning is configured",
                    cloud.upn()
                ),
            ),
        }
    }

    /// The anchor write-back on an existing AD user (ConsistencyGuid = objectGUID), when the
    /// source anchor is ConsistencyGuid and the user does not carry it yet.
    fn write_back_consistency_guid(&self, name: &str, ad: &AdUser, batch: &mut Batch) {
        if !needs_consistency_guid(ad, self.d.source_anchor) {
            return;
        }
        batch.actions.push(batch.on_ad(
            ActionKind::Link,
            name,
            ad,
            [Change::set(
                "mS-DS-ConsistencyGuid",
                Value::Null,
                Value::from(ad.object_guid.to_base64()),
            )],
        ));
    }

    fn provision_ad(&mut self, joint: &Joint, name: &str, cloud: &CloudUser, batch: &mut Batch) {
        let prov = self.d.provision_ad.as_ref().expect("checked by caller");
        let spec = self.spec(joint);
        let sam = match prov.sam_account_name.render(|p| cloud.text(p)) {
            Ok(s) => s,
            Err(missing) => {
                batch.diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    rule: "blank".into(),
                    object: cloud.upn().to_owned(),
                    attribute: "sAMAccountName".into(),
                    message: format!("cannot fill provision.ad.sam_account_name {:?}: the cloud user has no {missing}", prov.sam_account_name.to_string()),
                });
                return;
            }
        };
        let display = cloud
            .text("displayName")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(upn_local_part(cloud.upn()))
            .to_owned();
        let mut dn = Dn::child("CN", &display, &prov.ou);
        if self.dn_taken(&dn) {
            dn = Dn::child("CN", &format!("{display} ({sam})"), &prov.ou);
        }
        if self.dn_taken(&dn) {
            batch.conflicts.push(Conflict {
                kind: ConflictKind::ProvisionCollision,
                identity: name.to_owned(),
                objects: vec![dn.to_string(), cloud_label(cloud)],
                message: format!("no free name for a new account: {dn} exists"),
            });
            return;
        }
        let mail = cloud
            .mail()
            .map(str::to_owned)
            .or_else(|| cloud.primary_smtp().map(SmtpAddress::into_string))
            .unwrap_or_else(|| cloud.upn().to_owned());
        let mut proxies: Vec<String> = Vec::new();
        let primary = cloud
            .primary_smtp()
            .map(SmtpAddress::into_string)
            .unwrap_or_else(|| mail.clone());
        proxies.push(format!("SMTP:{primary}"));
        for a in smtp_addresses(cloud.proxy_addresses()) {
            if !eq_ci(a.as_str(), &primary) {
                proxies.push(format!("smtp:{a}"));
            }
        }

        let uac = match prov.initial_state {
            InitialState::EnabledRandomPassword => UAC_NORMAL_ACCOUNT,
            InitialState::Disabled => UAC_NORMAL_ACCOUNT | UAC_ACCOUNTDISABLE,
        };
        let mut changes = vec![
            Change::set("sAMAccountName", Value::Null, Value::from(sam.as_str())),
            Change::set("userPrincipalName", Value::Null, Value::from(cloud.upn())),
            Change::set("mail", Value::Null, Value::from(mail.as_str())),
            Change::set(
                "proxyAddresses",
                Value::Null,
                Value::list(proxies.iter().map(String::as_str)),
            ),
            Change::set("displayName", Value::Null, Value::from(display.as_str())),
        ];
        // Name attributes always, plus everything `attributes:` maps, from the cloud user.
        let mut copied: BTreeSet<&str> = ["givenName", "surname"].into();
        copied.extend(self.d.attributes.keys().map(String::as_str));
        if let Some(s) = spec {
            copied.extend(s.attributes.keys().map(String::as_str));
        }
        for graph in copied {
            let Some(m) = attributes::by_graph(graph) else {
                continue;
            };
            if IDENTIFIERS.contains(&m.graph)
                || m.graph == "displayName"
                || m.kind == ValueKind::AccountEnabled
            {
                continue;
            }
            let value = spec
                .and_then(|s| s.attributes.get(graph).cloned())
                .or_else(|| cloud_value(cloud, m).map(Cow::into_owned));
            if let Some(v) = value {
                changes.push(Change::set(m.ad, Value::Null, Value::from(v)));
            }
        }
        changes.push(Change::set(
            "adminDescription",
            Value::Null,
            Value::from(format_compact!("{OWNER_MARKER_PREFIX}{}", cloud.id())),
        ));
        changes.push(Change::set(
            "userAccountControl",
            Value::Null,
            Value::from(uac.to_compact_string()),
        ));

        if prov.initial_state == InitialState::Disabled {
            batch.diagnostics.push(Diagnostic {
                severity: Severity::Warning,
                rule: "initial_state".into(),
                object: dn.to_string(),
                attribute: "userAccountControl".into(),
                message: format!("created disabled (provision.ad.initial_state: disabled): once Entra Connect syncs it, {} is disabled in the cloud too", cloud.upn()),
            });
        }

        // The new account's names must be free, in scope and domain-wide.
        let mut wanted: Vec<(&str, String)> = vec![
            ("userPrincipalName", cloud.upn().to_owned()),
            ("mail", mail.clone()),
            ("sAMAccountName", sam.clone()),
        ];
        wanted.extend(
            proxies
                .iter()
                .filter_map(|p| ProxyAddress::parse(p))
                .map(|p| ("proxyAddresses", p.address.to_owned())),
        );
        for (attr, value) in &wanted {
            let key = fold(value);
            if let Some(holder) = self
                .value_holder(value)
                .filter(|_| *attr != "sAMAccountName")
            {
                batch.diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    rule: "duplicate".into(),
                    object: dn.to_string(),
                    attribute: (*attr).into(),
                    message: format!("{value} is already held by {holder}"),
                });
            } else if let Some((taken_attr, holder)) = self.taken.get(&key) {
                if *attr == "sAMAccountName" && *taken_attr != "sAMAccountName" {
                    continue;
                }
                batch.conflicts.push(Conflict {
                    kind: ConflictKind::ProvisionCollision,
                    identity: name.to_owned(),
                    objects: vec![holder.clone(), cloud_label(cloud)],
                    message: format!("cannot create {dn}: its {attr} {value} is already the {taken_attr} of {holder}"),
                });
            }
        }
        if let Some(existing) = self
            .ad_index
            .find(&crate::desired::AdSelector::SamAccountName(
                sam.as_str().into(),
            ))
            .first()
        {
            batch.conflicts.push(Conflict {
                kind: ConflictKind::ProvisionCollision,
                identity: name.to_owned(),
                objects: vec![self.ad[*existing].dn.to_string(), cloud_label(cloud)],
                message: format!(
                    "cannot create {dn}: sAMAccountName {sam} is already used by {}",
                    self.ad[*existing].dn
                ),
            });
        }

        let projected = Projected {
            object: dn.as_str(),
            upn: Some(cloud.upn()),
            sam_account_name: Some(&sam),
            mail: Some(&mail),
            proxy_addresses: ProxyValues::Planned(&proxies),
            display_name: Some(&display),
            mail_nickname: None,
        };
        diagnostics::check(&projected, self.d, &mut batch.diagnostics);

        self.planned_dns.insert(dn.clone());
        self.planned_sams.insert(fold(&sam));
        let create = batch.next_id();
        batch.actions.push(Action {
            id: ActionId(0),
            action: ActionKind::Create,
            directory: Side::Ad,
            identity: batch.identity(name),
            target: dn.as_str().into(),
            object: None,
            changes: changes.into(),
            depends_on: Box::default(),
            precondition: Some(Precondition::Absent),
        });
        batch.actions.push(Action {
            depends_on: Box::new([create]),
            ..batch.on_entra(
                ActionKind::Link,
                name,
                cloud,
                [Change::set(
                    "onPremisesImmutableId",
                    Value::opt(cloud.immutable_id()),
                    Value::from(KNOWN_AFTER_APPLY),
                )],
            )
        });
        if self.d.source_anchor == crate::desired::SourceAnchor::ConsistencyGuid {
            batch.actions.push(Action {
                id: ActionId(0),
                action: ActionKind::Link,
                directory: Side::Ad,
                identity: batch.identity(name),
                target: dn.as_str().into(),
                object: None,
                changes: Box::new([Change::set(
                    "mS-DS-ConsistencyGuid",
                    Value::Null,
                    Value::from(KNOWN_AFTER_APPLY),
                )]),
                depends_on: Box::new([create]),
                precondition: None,
            });
        }
    }

    fn deprovision_entra(&mut self, name: &str, cloud: &CloudUser, why: String, batch: &mut Batch) {
        let (kind, changes) = match self.d.deprovision_action {
            DeprovisionAction::Report => {
                batch.note(
                    NoteKind::Deprovision,
                    name,
                    format!(
                        "would deprovision cloud user {}: {why}; deprovision.action is report",
                        cloud.upn()
                    ),
                );
                return;
            }
            // Already off, or unknown (unread): nothing to plan.
            DeprovisionAction::Disable
                if cloud.account_enabled == Some(false)
                    || !cloud.carries(AttrName::ACCOUNT_ENABLED) =>
            {
                return;
            }
            DeprovisionAction::Disable => (
                ActionKind::Disable,
                vec![Change::set(
                    "accountEnabled",
                    opt_bool(cloud.account_enabled),
                    Value::from(false),
                )],
            ),
            DeprovisionAction::Delete => (ActionKind::Delete, vec![]),
        };
        batch.deprovision_entra += 1;
        batch
            .actions
            .push(batch.on_entra(kind, name, cloud, changes));
    }

    // ----- AD users with no cloud twin -----

    fn ad_only(&mut self, joint: &Joint, name: &str, a: usize, batch: &mut Batch) {
        let ad = &self.ad[a];
        diagnostics::check(&Projected::of(ad), self.d, &mut batch.diagnostics);
        if let (Some(id), Some(_)) = (ad.owner_marker(), &self.d.provision_ad) {
            if !self
                .cloud_index
                .find(&crate::desired::EntraSelector::Id(id.to_owned()))
                .is_empty()
            {
                // The twin exists but is ignored or in a conflict: not gone.
                return;
            }
            let why = format!("idsync created it for cloud user {id}, which no longer exists");
            self.deprovision_ad(name, ad, why, batch);
            return;
        }
        if self.d.provision_entra {
            // A twin the join could not see (match keys unread) must not be created twice.
            if !self.cloud_keys_unread {
                self.provision_entra(joint, name, ad, batch);
            }
            return;
        }
        batch.note(NoteKind::Unmatched, name, format!("{} exists in AD only; no cloud provisioning is configured (Entra Connect creates its cloud twin when it syncs)", ad.dn));
    }

    fn deprovision_ad(&mut self, name: &str, ad: &AdUser, why: String, batch: &mut Batch) {
        let (kind, changes) = match self.d.deprovision_action {
            DeprovisionAction::Report => {
                batch.note(
                    NoteKind::Deprovision,
                    name,
                    format!(
                        "would deprovision {}: {why}; deprovision.action is report",
                        ad.dn
                    ),
                );
                return;
            }
            DeprovisionAction::Disable
                if ad.is_disabled() || !self.ad_reads(AttrName::USER_ACCOUNT_CONTROL) =>
            {
                return;
            }
            DeprovisionAction::Disable => {
                let uac = ad.user_account_control.unwrap_or(UAC_NORMAL_ACCOUNT);
                (
                    ActionKind::Disable,
                    vec![Change::set(
                        "userAccountControl",
                        Value::from(uac.to_compact_string()),
                        Value::from((uac | UAC_ACCOUNTDISABLE).to_compact_string()),
                    )],
                )
            }
            DeprovisionAction::Delete => (ActionKind::Delete, vec![]),
        };
        batch.deprovision_ad += 1;
        batch.actions.push(batch.on_ad(kind, name, ad, changes));
    }

    fn provision_entra(&mut self, joint: &Joint, name: &str, ad: &AdUser, batch: &mut Batch) {
        let spec = self.spec(joint);
        let Some(upn) = ad.upn().map(|u| Upn::new(self.d.routable_upn(u))) else {
            return; // diagnosed as blank already
        };
        if let Some(&holder) = self
            .cloud_index
            .find(&crate::desired::EntraSelector::Upn(upn.clone()))
            .first()
        {
            batch.conflicts.push(Conflict {
                kind: ConflictKind::ProvisionCollision,
                identity: name.to_owned(),
                objects: vec![ad.dn.to_string(), cloud_label(&self.cloud[holder])],
                message: format!(
                    "cannot create cloud user {upn}: the UPN is taken by {}",
                    cloud_label(&self.cloud[holder])
                ),
            });
            return;
        }
        let anchor = immutable_id(ad, self.d.source_anchor);
        let display = ad
            .attr(AttrName::DISPLAY_NAME)
            .map(str::to_owned)
            .or_else(|| ad.dn.leaf_value())
            .unwrap_or_else(|| upn.local_part().to_owned());
        let nickname = ad
            .attr(AttrName::MAIL_NICKNAME)
            .map(str::to_owned)
            .or_else(|| ad.sam_account_name().map(str::to_owned))
            .unwrap_or_else(|| upn.local_part().to_owned());
        let mut changes = vec![
            Change::set("userPrincipalName", Value::Null, Value::from(upn.as_str())),
            Change::set("displayName", Value::Null, Value::from(display)),
            Change::set("mailNickname", Value::Null, Value::from(nickname)),
            Change::set(
                "accountEnabled",
                Value::Null,
                Value::from(!ad.is_disabled()),
            ),
            Change::set("onPremisesImmutableId", Value::Null, Value::from(anchor)),
        ];
        if let Some(mail) = ad.mail() {
            changes.push(Change::set("mail", Value::Null, Value::from(mail)));
        }
        let mut copied: BTreeSet<&str> = ["givenName", "surname"].into();
        copied.extend(self.d.attributes.keys().map(String::as_str));
        if let Some(s) = spec {
            copied.extend(s.attributes.keys().map(String::as_str));
        }
        for graph in copied {
            let Some(m) = attributes::by_graph(graph) else {
                continue;
            };
            if IDENTIFIERS.contains(&m.graph)
                || matches!(m.graph, "displayName" | "mailNickname")
                || m.kind == ValueKind::AccountEnabled
            {
                continue;
            }
            let value = spec
                .and_then(|s| s.attributes.get(graph).cloned())
                .or_else(|| ad_value(ad, m).map(Cow::into_owned));
            if let Some(v) = value {
                let (_, after) = entra_values(m, None, Some(&v));
                changes.push(Change::set(m.graph, Value::Null, after));
            }
        }
        batch.actions.push(Action {
            id: ActionId(0),
            action: ActionKind::Create,
            directory: Side::Entra,
            identity: batch.identity(name),
            target: upn.as_str().into(),
            object: None,
            changes: changes.into(),
            depends_on: Box::default(),
            precondition: Some(Precondition::Absent),
        });
        self.write_back_consistency_guid(name, ad, batch);
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
    }
    actions.sort_unstable_by_key(|a| a.id);
}

fn cloud_label(c: &CloudUser) -> String {
    format!("{} (entra {})", c.upn(), c.id())
}

fn opt_bool(v: Option<bool>) -> Value {
    v.map_or(Value::Null, Value::Bool)
}

fn ad_precondition(ad: &AdUser) -> Option<Precondition> {
    ad.usn_changed.map(Precondition::UsnChanged)
}

fn entra_precondition(c: &CloudUser) -> Precondition {
    // From a `&str`, so the 24-digit hash is kept inline.
    Precondition::Fingerprint(Text::from(c.fingerprint().as_str()))
}

/// The AD side of a mapped attribute, as text.
fn ad_value<'u>(ad: &'u AdUser, m: &Mapping) -> Option<Cow<'u, str>> {
    match m.kind {
        ValueKind::AccountEnabled => Some(Cow::Borrowed(if ad.is_disabled() {
            "false"
        } else {
            "true"
        })),
        _ => ad.attr(m.ad_name).map(Cow::Borrowed),
    }
}

/// The cloud side of a mapped attribute, as text.
fn cloud_value<'u>(c: &'u CloudUser, m: &Mapping) -> Option<Cow<'u, str>> {
    match m.kind {
        ValueKind::AccountEnabled => c
            .account_enabled
            .map(|b| Cow::Borrowed(if b { "true" } else { "false" })),
        ValueKind::GraphList => c
            .properties
            .get(m.graph_name)
            .and_then(Prop::first_item)
            .map(Cow::Borrowed),
        // The mapping names no property `CloudUser::text` hides: look it up by id.
        ValueKind::Text => c.properties.text(m.graph_name).map(Cow::Borrowed),
    }
}

fn ad_change(ad: &AdUser, m: &Mapping, before: Option<&str>, after: Option<&str>) -> Change {
    match m.kind {
        ValueKind::AccountEnabled => {
            let uac = ad.user_account_control.unwrap_or(UAC_NORMAL_ACCOUNT);
            let new = if after == Some("false") {
                uac | UAC_ACCOUNTDISABLE
            } else {
                uac & !UAC_ACCOUNTDISABLE
            };
            Change::set(
                "userAccountControl",
                Value::from(uac.to_compact_string()),
                Value::from(new.to_compact_string()),
            )
        }
        _ => Change::set(m.ad, Value::opt(before), Value::opt(after)),
    }
}

fn entra_values(m: &Mapping, before: Option<&str>, after: Option<&str>) -> (Value, Value) {
    match m.kind {
        ValueKind::AccountEnabled => (
            before.map_or(Value::Null, |b| Value::from(b == "true")),
            after.map_or(Value::Null, |a| Value::from(a == "true")),
        ),
        ValueKind::GraphList => (Value::list(before), Value::list(after)),
        ValueKind::Text => (Value::opt(before), Value::opt(after)),
    }
}

/// The per-value edit of AD `proxyAddresses` that makes `primary` the one `SMTP:` address and
/// adds the cloud's other SMTP addresses; `None` when nothing changes.
fn proxy_change<'a>(
    current: impl Iterator<Item = &'a str> + Clone,
    primary: &str,
    cloud_proxies: impl Iterator<Item = &'a str>,
) -> Option<Change> {
    let mut add: Vec<Text> = Vec::new();
    let mut remove: Vec<Text> = Vec::new();
    let mut has_primary = false;
    for v in current.clone() {
        let Some(p) = ProxyAddress::parse(v).filter(ProxyAddress::is_smtp) else {
            continue;
        };
        let same = eq_ci(p.address, primary);
        match (p.is_primary_smtp(), same) {
            (true, true) => has_primary = true,
            // Another primary is demoted to a secondary address.
            (true, false) => {
                remove.push(v.into());
                add.push(format_compact!("smtp:{}", p.address));
            }
            // The new primary was a secondary: it is promoted.
            (false, true) => remove.push(v.into()),
            (false, false) => {}
        }
    }
    if !has_primary {
        add.push(format_compact!("SMTP:{primary}"));
    }
    let holds = |v: &str, address: &str| {
        ProxyAddress::parse(v).is_some_and(|p| p.is_smtp() && eq_ci(p.address, address))
    };
    let removed = |v: &str| remove.iter().any(|r| r == v);
    let aliases = cloud_proxies
        .filter_map(ProxyAddress::parse)
        .filter(ProxyAddress::is_smtp)
        .map(|p| p.address);
    for alias in aliases {
        if eq_ci(alias, primary) {
            continue;
        }
        let kept = current
            .clone()
            .filter(|v| !removed(v))
            .any(|v| holds(v, alias));
        if !kept && !add.iter().any(|v| holds(v, alias)) {
            add.push(format_compact!("smtp:{alias}"));
        }
    }
    if add.is_empty() && remove.is_empty() {
        return None;
    }
    let before: Vec<&str> = current.clone().collect();
    let mut after: Vec<Text> = current.filter(|v| !removed(v)).map(Text::from).collect();
    after.extend(add.iter().cloned());
    Some(Change::edit(
        "proxyAddresses",
        Value::list(before),
        Value::list(after),
        add,
        remove,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<Text> {
        v.iter().map(|&x| Text::from(x)).collect()
    }

    fn v<'a>(values: &'a [&'a str]) -> impl Iterator<Item = &'a str> + Clone {
        values.iter().copied()
    }

    #[test]
    fn proxy_change_adds_primary_to_empty() {
        let c = proxy_change(
            v(&[]),
            "a@example.com",
            v(&["SMTP:a@example.com", "smtp:alias@example.com"]),
        )
        .unwrap();
        assert_eq!(
            c.added(),
            s(&["SMTP:a@example.com", "smtp:alias@example.com"])
        );
        assert!(c.removed().is_empty());
    }

    #[test]
    fn proxy_change_demotes_old_primary_and_promotes_secondary() {
        let c = proxy_change(
            v(&["SMTP:old@example.com", "smtp:new@example.com", "X500:/o=x"]),
            "new@example.com",
            v(&[]),
        )
        .unwrap();
        assert_eq!(
            c.removed(),
            s(&["SMTP:old@example.com", "smtp:new@example.com"])
        );
        assert_eq!(
            c.added(),
            s(&["smtp:old@example.com", "SMTP:new@example.com"])
        );
        let after = c.after.texts();
        assert_eq!(after.iter().filter(|v| v.starts_with("SMTP:")).count(), 1);
        assert!(after.iter().any(|v| v == "X500:/o=x"));
    }

    fn action(n: u32, kind: ActionKind, identity: &str, deps: &[u32]) -> Action {
        Action {
            id: ActionId(n),
            action: kind,
            directory: Side::Ad,
            identity: Arc::from(identity),
            target: identity.into(),
            object: None,
            changes: Box::default(),
            depends_on: deps.iter().map(|&d| ActionId(d)).collect(),
            precondition: None,
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

    #[test]
    fn proxy_change_is_none_when_converged() {
        assert!(
            proxy_change(
                v(&["SMTP:A@Example.com", "smtp:b@example.com"]),
                "a@example.com",
                v(&["smtp:b@example.com"])
            )
            .is_none()
        );
    }
}
