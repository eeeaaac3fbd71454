//! Groups: `groups[]` joined with the groups both directories hold, as Entra Connect pairs
//! them, and the creates, membership edits and deletes that converge them.
//!
//! Entra Connect matches groups differently from users (how-to-connect-install-existing-tenant,
//! "Other objects than users"): mail-enabled groups and contacts soft-match on proxyAddresses,
//! hard match does not apply (only users' immutableId can be set), and a group that is not
//! mail-enabled cannot be matched at all — its AD twin syncs as a second group. A synced cloud
//! group names its AD source by `onPremisesSecurityIdentifier` (the AD group's objectSid).
//!
//! Runs after the users are planned: memberships name users, and a user created by this plan
//! is a member only once that create has run (`depends_on`).

mod members;
mod twins;

pub(super) use twins::Twins;

use std::collections::BTreeSet;

use compact_str::{ToCompactString, format_compact};

use super::*;
use crate::desired::{AdGroupSelector, EntraGroupSelector, GroupSpec, GroupType, Membership};
use crate::directory::Guid;
use crate::directory::model::{
    AdGroup, CloudContact, CloudGroup, GROUP_TYPE_SECURITY, GROUP_TYPE_UNIVERSAL,
};
use crate::engine::Groups;
use crate::plan::{Forecast, ForecastKind, ForecastSeverity};

/// What the group stage adds to the plan.
#[derive(Default)]
pub(super) struct Planned {
    pub(super) forecast: Vec<Forecast>,
    /// The cloud side of every entry planned (for group-based licensing).
    pub(super) cloud_sides: Vec<CloudSide>,
}

/// The cloud side of a `groups[]` entry: the group, or the create this plan makes.
#[derive(Debug, Clone)]
pub(in crate::engine::planner) struct CloudSide {
    /// Index into `groups[]`.
    pub(in crate::engine::planner) spec: usize,
    pub(in crate::engine::planner) name: String,
    pub(in crate::engine::planner) target: Text,
    /// Its object id; `None` for a group this plan creates.
    pub(in crate::engine::planner) object: Option<String>,
    pub(in crate::engine::planner) precondition: Option<Precondition>,
    pub(in crate::engine::planner) create: Option<u32>,
    /// `assignedLicenses`; `None` when not read.
    pub(in crate::engine::planner) assigned: Option<Vec<crate::directory::model::AssignedLicense>>,
    /// How many members it has (what one license of it consumes); 0 when unknown.
    pub(in crate::engine::planner) members: u64,
}

/// One `groups[]` entry after the join: the objects it names or pairs, and what this plan
/// creates for it.
#[derive(Debug, Default, Clone)]
struct Resolved {
    ad: Option<usize>,
    cloud: Option<usize>,
    /// The AD group this plan creates: its DN and the create's position.
    ad_create: Option<(Dn, u32)>,
    /// The cloud group this plan creates: its label and the create's position.
    cloud_create: Option<(Text, u32)>,
    /// Where this plan moves the AD group (its DN after, the move's position).
    ad_moved: Option<(Dn, u32)>,
    /// A conflict or error stands: no actions.
    blocked: bool,
}

/// Folded keys -> the object holding them, for the objects of one kind.
struct KeyIndex {
    map: HashMap<String, Vec<usize>>,
}

impl KeyIndex {
    fn new() -> Self {
        KeyIndex {
            map: HashMap::default(),
        }
    }
    fn insert(&mut self, key: &str, i: usize) {
        let v = self.map.entry(fold(key)).or_default();
        if !v.contains(&i) {
            v.push(i);
        }
    }
    fn get(&self, key: &str) -> &[usize] {
        self.map.get(&fold(key)).map_or(&[], Vec::as_slice)
    }
}

/// The groups and contacts of both directories, indexed for the join.
struct Index<'a> {
    g: Groups<'a>,
    /// AD groups in scope, by position in `g.ad`.
    ad_in_scope: Vec<bool>,
    ad_by_dn: HashMap<Dn, usize>,
    ad_by_guid: HashMap<Guid, usize>,
    ad_by_sam: KeyIndex,
    ad_by_sid: KeyIndex,
    ad_by_smtp: KeyIndex,
    /// The cloud group id of idsync's marker (`adminDescription: idsync:<id>`).
    ad_by_marker: KeyIndex,
    cloud_by_id: KeyIndex,
    cloud_by_smtp: KeyIndex,
    cloud_by_name: KeyIndex,
    cloud_by_sid: KeyIndex,
    contact_by_smtp: KeyIndex,
    /// `identities[]` names (explicit or defaulted) and `groups[]` names -> their entries,
    /// for `members` lists (built only when some group lists them).
    identity_names: KeyIndex,
    group_names: KeyIndex,
}

impl<'a> Index<'a> {
    fn build(d: &DesiredState, g: Groups<'a>) -> Self {
        let mut ix = Index {
            g,
            ad_in_scope: g.ad.iter().map(|a| d.scope.contains(&a.dn)).collect(),
            ad_by_dn: HashMap::default(),
            ad_by_guid: HashMap::default(),
            ad_by_sam: KeyIndex::new(),
            ad_by_sid: KeyIndex::new(),
            ad_by_smtp: KeyIndex::new(),
            ad_by_marker: KeyIndex::new(),
            cloud_by_id: KeyIndex::new(),
            cloud_by_smtp: KeyIndex::new(),
            cloud_by_name: KeyIndex::new(),
            cloud_by_sid: KeyIndex::new(),
            contact_by_smtp: KeyIndex::new(),
            identity_names: KeyIndex::new(),
            group_names: KeyIndex::new(),
        };
        if d.groups
            .iter()
            .any(|g| matches!(g.members, Membership::Exact(_)))
        {
            for (i, spec) in d.identities.iter().enumerate() {
                if let Some(name) = members::identity_name(spec) {
                    ix.identity_names.insert(name, i);
                }
            }
            for (i, spec) in d.groups.iter().enumerate() {
                ix.group_names.insert(&spec.name, i);
            }
        }
        for (i, a) in g.ad.iter().enumerate() {
            ix.ad_by_dn.insert(a.dn.clone(), i);
            ix.ad_by_guid.insert(a.object_guid, i);
            if let Some(s) = a.sam_account_name() {
                ix.ad_by_sam.insert(s, i);
            }
            if let Some(s) = &a.object_sid {
                ix.ad_by_sid.insert(s, i);
            }
            if let Some(s) = a.primary_smtp() {
                ix.ad_by_smtp.insert(s.as_str(), i);
            }
            if let Some(id) = a.owner_marker() {
                ix.ad_by_marker.insert(id, i);
            }
        }
        for (i, c) in g.cloud.iter().enumerate() {
            ix.cloud_by_id.insert(&c.id, i);
            ix.cloud_by_name.insert(&c.display_name, i);
            if let Some(s) = &c.on_premises_sid {
                ix.cloud_by_sid.insert(s, i);
            }
            for smtp in cloud_group_smtp(c) {
                ix.cloud_by_smtp.insert(&smtp, i);
            }
        }
        for (i, c) in g.cloud_contacts.iter().enumerate() {
            for smtp in contact_smtp(c) {
                ix.contact_by_smtp.insert(&smtp, i);
            }
        }
        ix
    }

    fn find_ad(&self, sel: &AdGroupSelector) -> Vec<usize> {
        match sel {
            AdGroupSelector::SamAccountName(s) => self.ad_by_sam.get(s.as_str()).to_vec(),
            AdGroupSelector::Dn(dn) => self.ad_by_dn.get(dn).copied().into_iter().collect(),
            AdGroupSelector::ObjectGuid(g) => self.ad_by_guid.get(g).copied().into_iter().collect(),
        }
    }

    fn find_cloud(&self, sel: &EntraGroupSelector) -> Vec<usize> {
        match sel {
            EntraGroupSelector::Id(id) => self.cloud_by_id.get(id).to_vec(),
            EntraGroupSelector::Mail(m) => self.cloud_by_smtp.get(m.as_str()).to_vec(),
            EntraGroupSelector::DisplayName(n) => self.cloud_by_name.get(n).to_vec(),
        }
    }

    /// Who in the cloud holds `smtp` and is not a user: a group or a contact, for
    /// `object_type_mismatch`.
    pub(super) fn non_user_holder(&self, smtp: &str) -> Option<String> {
        if let Some(&i) = self.cloud_by_smtp.get(smtp).first() {
            let c = &self.g.cloud[i];
            return Some(format!("cloud group {} (entra {})", c.display_name, c.id));
        }
        self.contact_by_smtp.get(smtp).first().map(|&i| {
            let c = &self.g.cloud_contacts[i];
            format!("cloud contact {} (entra {})", c.display_name, c.id)
        })
    }
}

/// Every SMTP address a cloud group holds (`mail`, and each `smtp:` proxyAddress): Entra keeps
/// them unique across users, groups and contacts (tshoot-connect-sync-errors,
/// "AttributeValueMustBeUnique").
fn cloud_group_smtp(c: &CloudGroup) -> Vec<String> {
    let mut out: Vec<String> = smtp_addresses(&c.proxy_addresses)
        .map(|s| s.as_str().to_owned())
        .collect();
    if let Some(m) = &c.mail {
        out.push(m.clone());
    }
    out
}

fn contact_smtp(c: &CloudContact) -> Vec<String> {
    let mut out: Vec<String> = smtp_addresses(&c.proxy_addresses)
        .map(|s| s.as_str().to_owned())
        .collect();
    if let Some(m) = &c.mail {
        out.push(m.clone());
    }
    out
}

fn ad_label(a: &AdGroup) -> String {
    a.dn.to_string()
}

fn cloud_group_label(c: &CloudGroup) -> String {
    format!("{} (entra {})", c.display_name, c.id)
}

/// What a cloud group's actions are aimed at: its mail when it has one, else its name.
fn cloud_target(c: &CloudGroup) -> Text {
    Text::from(c.mail.as_deref().unwrap_or(&c.display_name))
}

impl<'a> Planner<'a> {
    /// The conflict for an AD user whose soft-match key a cloud group or contact holds:
    /// Entra Connect reports ObjectTypeMismatch instead of syncing it
    /// (tshoot-connect-sync-errors, "ObjectTypeMismatch").
    pub(super) fn object_type_mismatch(
        &self,
        groups: &GroupIndex<'_>,
        name: &str,
        ad: &AdUser,
    ) -> Option<Conflict> {
        let smtp = join::primary_smtp(ad)?;
        let holder = groups.0.non_user_holder(smtp)?;
        Some(Conflict {
            kind: ConflictKind::ObjectTypeMismatch,
            identity: name.to_owned(),
            objects: vec![ad.dn.to_string(), holder.clone()],
            message: format!(
                "{} has the primary SMTP address {smtp}, which {holder} holds: Entra Connect soft-matches on it and fails with ObjectTypeMismatch (a user cannot match a group or contact); remove the address from one of them",
                ad.dn
            ),
        })
    }

    /// Plans `groups[]` (after every identity is planned, so members can name their creates)
    /// and forecasts what Entra Connect will do with each group.
    pub(super) fn groups(&mut self, groups: &GroupIndex<'_>, twins: &Twins) -> Planned {
        let ix = &groups.0;
        let specs: Vec<&'a GroupSpec> = self.d.groups.iter().collect();
        let mut resolved: Vec<Resolved> = vec![Resolved::default(); specs.len()];
        let mut planned = Planned::default();
        let mut claimed_ad: HashMap<usize, usize> = HashMap::default();
        let mut claimed_cloud: HashMap<usize, usize> = HashMap::default();

        if let Some(why) = ix.g.cloud_unread {
            self.notes.push(Note {
                kind: NoteKind::Assumption,
                identity: reads::ENTRA.into(),
                message: format!(
                    "the tenant's groups are unknown ({why}): groups[] entries naming a cloud group are missing, and no cloud group is created"
                ),
            });
        }

        // 1. Which objects each entry names or pairs.
        for (n, spec) in specs.iter().enumerate() {
            if spec.ignore {
                resolved[n].blocked = true;
                continue;
            }
            let r = self.resolve(ix, spec);
            let r = match r {
                Ok(r) => r,
                Err(c) => {
                    self.conflicts.push(c);
                    resolved[n].blocked = true;
                    continue;
                }
            };
            let mut dup = None;
            if let Some(a) = r.ad
                && let Some(&other) = claimed_ad.get(&a)
            {
                dup = Some((other, ad_label(&ix.g.ad[a])));
            }
            if let Some(c) = r.cloud
                && let Some(&other) = claimed_cloud.get(&c)
            {
                dup = Some((other, cloud_group_label(&ix.g.cloud[c])));
            }
            if let Some((other, object)) = dup {
                self.conflicts.push(Conflict {
                    kind: ConflictKind::DuplicateIdentity,
                    identity: spec.name.clone(),
                    objects: vec![object.clone()],
                    message: format!(
                        "groups `{}` and `{}` both name {object}; each group may be named once",
                        specs[other].name, spec.name
                    ),
                });
                resolved[n].blocked = true;
                continue;
            }
            if let Some(a) = r.ad {
                claimed_ad.insert(a, n);
            }
            if let Some(c) = r.cloud {
                claimed_cloud.insert(c, n);
            }
            resolved[n] = r;
        }

        // 2. Protected groups get nothing; creates for one-sided entries.
        for (n, spec) in specs.iter().enumerate() {
            if resolved[n].blocked {
                continue;
            }
            if self.group_protected(ix, &resolved[n]) {
                self.notes.push(Note {
                    kind: NoteKind::Protected,
                    identity: spec.name.clone(),
                    message: "group not planned because it is protected".into(),
                });
                resolved[n].blocked = true;
                continue;
            }
            match (resolved[n].ad, resolved[n].cloud) {
                (None, Some(c)) => self.group_to_ad(ix, spec, c, &mut resolved[n]),
                (Some(a), None) => self.group_to_entra(ix, spec, a, &mut resolved[n]),
                _ => {}
            }
            if let Some(a) = resolved[n].ad {
                self.follow_group_ou(ix, spec, a, &mut resolved[n]);
            }
        }

        // 3. Memberships, now that every create has a position.
        for (n, spec) in specs.iter().enumerate() {
            if resolved[n].blocked || spec.members == Membership::Unmanaged {
                continue;
            }
            self.memberships(ix, twins, &specs, &resolved, n);
        }

        // 4. Groups idsync made in AD whose cloud twin is gone.
        self.deprovision_groups(ix, &resolved);

        for (n, spec) in specs.iter().enumerate() {
            let r = &resolved[n];
            if r.blocked {
                continue;
            }
            let side = match (r.cloud, &r.cloud_create) {
                (Some(c), _) => {
                    let g = &ix.g.cloud[c];
                    CloudSide {
                        spec: n,
                        name: spec.name.clone(),
                        target: cloud_target(g),
                        object: Some(g.id.clone()),
                        precondition: Some(Precondition::Fingerprint(Text::from(
                            g.fingerprint().as_str(),
                        ))),
                        create: None,
                        assigned: g.assigned_licenses.clone(),
                        members: g.members.as_ref().map_or(0, |m| m.len() as u64),
                    }
                }
                (None, Some((label, pos))) => CloudSide {
                    spec: n,
                    name: spec.name.clone(),
                    target: label.clone(),
                    object: None,
                    precondition: None,
                    create: Some(*pos),
                    assigned: Some(Vec::new()),
                    members: 0,
                },
                _ => continue,
            };
            planned.cloud_sides.push(side);
        }

        // 5. What Entra Connect will do with each group.
        for (n, spec) in specs.iter().enumerate() {
            if spec.ignore {
                continue;
            }
            planned
                .forecast
                .extend(self.group_forecast(ix, spec, &resolved[n]));
        }
        planned
    }

    /// The objects one entry names, and the twin Entra Connect pairs the named side with.
    fn resolve(&self, ix: &Index<'_>, spec: &GroupSpec) -> Result<Resolved, Conflict> {
        let missing = |what: String| Conflict {
            kind: ConflictKind::MissingObject,
            identity: spec.name.clone(),
            objects: vec![what.clone()],
            message: format!("groups[] entry {} names {what}", spec.origin),
        };
        let mut r = Resolved::default();
        if let Some(sel) = &spec.ad {
            let found = ix.find_ad(sel);
            match found.as_slice() {
                [] => {
                    return Err(Conflict {
                        message: format!(
                            "{}, which is not in AD (or was not read)",
                            missing(describe_ad_group(sel)).message
                        ),
                        ..missing(describe_ad_group(sel))
                    });
                }
                [a] if !ix.ad_in_scope[*a] => {
                    return Err(Conflict {
                        message: format!(
                            "{}, which is outside scope.ous (or under exclude_ous)",
                            missing(ad_label(&ix.g.ad[*a])).message
                        ),
                        ..missing(ad_label(&ix.g.ad[*a]))
                    });
                }
                [a] => r.ad = Some(*a),
                many => return Err(ambiguous(spec, many.iter().map(|&a| ad_label(&ix.g.ad[a])))),
            }
        }
        if let Some(sel) = &spec.entra {
            let found = ix.find_cloud(sel);
            match found.as_slice() {
                [] => {
                    return Err(Conflict {
                        message: format!(
                            "{}, which is not in Entra (or was not read)",
                            missing(describe_entra_group(sel)).message
                        ),
                        ..missing(describe_entra_group(sel))
                    });
                }
                [c] => r.cloud = Some(*c),
                many => {
                    return Err(ambiguous(
                        spec,
                        many.iter().map(|&c| cloud_group_label(&ix.g.cloud[c])),
                    ));
                }
            }
        }
        // One side named: the twin Entra Connect pairs it with, if there is one.
        match (r.ad, r.cloud) {
            (Some(a), None) => r.cloud = self.cloud_twin(ix, &ix.g.ad[a]),
            (None, Some(c)) => r.ad = self.ad_twin(ix, &ix.g.cloud[c]),
            _ => {}
        }
        Ok(r)
    }

    /// The cloud group Entra Connect pairs an AD group with: the synced group carrying its
    /// objectSid, else a cloud-managed mail-enabled group holding its primary SMTP address
    /// (the soft match, unless the tenant blocks it).
    fn cloud_twin(&self, ix: &Index<'_>, a: &AdGroup) -> Option<usize> {
        if let Some(sid) = &a.object_sid
            && let [c] = ix.cloud_by_sid.get(sid)
        {
            return Some(*c);
        }
        if self.tenant.features().block_soft_match {
            return None;
        }
        let smtp = a.primary_smtp()?;
        match ix.cloud_by_smtp.get(smtp.as_str()) {
            [c] if !ix.g.cloud[*c].sync_enabled
                && ix.g.cloud[*c].primary_smtp().is_some_and(|p| p == smtp) =>
            {
                Some(*c)
            }
            _ => None,
        }
    }

    /// The in-scope AD group a cloud group is paired with: its sync source (by objectSid),
    /// the group idsync made for it (its marker), or the mail-enabled group sharing its
    /// primary SMTP address.
    fn ad_twin(&self, ix: &Index<'_>, c: &CloudGroup) -> Option<usize> {
        let in_scope = |a: &usize| ix.ad_in_scope[*a];
        if c.sync_enabled {
            let sid = c.on_premises_sid.as_deref()?;
            return ix.ad_by_sid.get(sid).iter().copied().find(in_scope);
        }
        if let Some(&a) = ix.ad_by_marker.get(&c.id).iter().find(|a| in_scope(a)) {
            return Some(a);
        }
        let smtp = c.primary_smtp()?;
        match ix.ad_by_smtp.get(smtp.as_str()) {
            [a] if in_scope(a) => Some(*a),
            _ => None,
        }
    }

    fn group_protected(&self, ix: &Index<'_>, r: &Resolved) -> bool {
        let ad = r.ad.map(|a| &ix.g.ad[a]);
        let cloud = r.cloud.map(|c| &ix.g.cloud[c]);
        self.d.protect.iter().any(|sel| match sel {
            Selector::Ad(crate::desired::AdSelector::SamAccountName(s)) => {
                ad.is_some_and(|g| g.sam_account_name().is_some_and(|v| eq_ci(v, s.as_str())))
            }
            Selector::Ad(crate::desired::AdSelector::Dn(dn)) => ad.is_some_and(|g| &g.dn == dn),
            Selector::Ad(crate::desired::AdSelector::ObjectGuid(guid)) => {
                ad.is_some_and(|g| &g.object_guid == guid)
            }
            Selector::Entra(crate::desired::EntraSelector::Id(id)) => {
                cloud.is_some_and(|g| eq_ci(&g.id, id))
            }
            _ => false,
        })
    }

    /// A cloud group with no AD twin: created in AD when `provision.ad` is on.
    fn group_to_ad(&mut self, ix: &Index<'_>, spec: &GroupSpec, c: usize, r: &mut Resolved) {
        let cloud = &ix.g.cloud[c];
        let Some(prov) = &self.d.provision_ad else {
            self.notes.push(Note {
                kind: NoteKind::Unmatched,
                identity: spec.name.clone(),
                message: format!(
                    "cloud group {} has no AD twin; no AD provisioning is configured",
                    cloud_group_label(cloud)
                ),
            });
            return;
        };
        if cloud.is_unified() {
            self.notes.push(Note {
                kind: NoteKind::Unmatched,
                identity: spec.name.clone(),
                message: format!(
                    "{} is a Microsoft 365 group, which is cloud-only: Entra Connect never syncs one from AD, so idsync creates no AD twin (group writeback is the way to have one on-premises)",
                    cloud_group_label(cloud)
                ),
            });
            return;
        }
        let sam = group_sam(cloud);
        let mut dn = Dn::child("CN", &cloud.display_name, &prov.ou);
        if self.dn_taken(&dn) || ix.ad_by_dn.contains_key(&dn) {
            dn = Dn::child("CN", &format!("{} ({sam})", cloud.display_name), &prov.ou);
        }
        let sam_taken = !ix.ad_by_sam.get(&sam).is_empty()
            || !self
                .ad_index
                .find(&crate::desired::AdSelector::SamAccountName(
                    crate::names::SamAccountName::new(sam.as_str()),
                ))
                .is_empty()
            || self.planned_sams.contains(&fold(&sam))
            || self.taken.contains_key(&fold(&sam));
        if self.dn_taken(&dn) || ix.ad_by_dn.contains_key(&dn) || sam_taken {
            self.conflicts.push(Conflict {
                kind: ConflictKind::ProvisionCollision,
                identity: spec.name.clone(),
                objects: vec![dn.to_string(), cloud_group_label(cloud)],
                message: format!(
                    "no free name for the AD group of {}: {}",
                    cloud_group_label(cloud),
                    if sam_taken {
                        format!("sAMAccountName {sam} is taken")
                    } else {
                        format!("{dn} exists")
                    }
                ),
            });
            r.blocked = true;
            return;
        }
        self.planned_sams.insert(fold(&sam));
        self.planned_dns.insert(dn.clone());
        let group_type = match spec.group_type {
            GroupType::Security => GROUP_TYPE_SECURITY | GROUP_TYPE_UNIVERSAL,
            GroupType::Distribution => GROUP_TYPE_UNIVERSAL,
        };
        let mut changes = vec![
            Change::set("sAMAccountName", Value::Null, Value::from(sam.as_str())),
            Change::set(
                "groupType",
                Value::Null,
                Value::from(group_type.to_compact_string()),
            ),
            Change::set(
                "displayName",
                Value::Null,
                Value::from(cloud.display_name.as_str()),
            ),
        ];
        if let Some(d) = cloud.description.as_deref().filter(|d| !d.is_empty()) {
            changes.push(Change::set("description", Value::Null, Value::from(d)));
        }
        // A mail-enabled cloud group's AD twin carries its addresses, so Entra Connect
        // soft-matches the two instead of syncing a second group.
        if let Some(smtp) = cloud.primary_smtp() {
            changes.push(Change::set("mail", Value::Null, Value::from(smtp.as_str())));
            let mut proxies: Vec<Text> = vec![format_compact!("SMTP:{}", smtp.as_str())];
            for p in smtp_addresses(&cloud.proxy_addresses) {
                if p != smtp {
                    proxies.push(format_compact!("smtp:{}", p.as_str()));
                }
            }
            changes.push(Change::set(
                "proxyAddresses",
                Value::Null,
                Value::list(proxies),
            ));
        }
        changes.push(Change::set(
            "adminDescription",
            Value::Null,
            Value::from(format_compact!("{OWNER_MARKER_PREFIX}{}", cloud.id)),
        ));
        let pos = self.push_global(Action {
            id: ActionId(0),
            action: ActionKind::Create,
            directory: Side::Ad,
            kind: ObjectKind::Group,
            identity: Arc::from(spec.name.as_str()),
            target: dn.as_str().into(),
            object: None,
            changes: changes.into(),
            depends_on: Box::default(),
            precondition: Some(Precondition::Absent),
            matched: None,
        });
        r.ad_create = Some((dn, pos));
    }

    /// Groups idsync created follow `provision.ad.ou` when it changes, as its accounts do.
    fn follow_group_ou(&mut self, ix: &Index<'_>, spec: &GroupSpec, a: usize, r: &mut Resolved) {
        let group = &ix.g.ad[a];
        let Some(prov) = &self.d.provision_ad else {
            return;
        };
        if group.owner_marker().is_none() || group.dn.is_within(&prov.ou) {
            return;
        }
        let Some(rdn) = group
            .dn
            .rdns()
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
        else {
            return;
        };
        let new_dn = Dn::child(&rdn.attr, &rdn.value, &prov.ou);
        if self.dn_taken(&new_dn) || ix.ad_by_dn.contains_key(&new_dn) {
            self.conflicts.push(Conflict {
                kind: ConflictKind::ProvisionCollision,
                identity: spec.name.clone(),
                objects: vec![group.dn.to_string(), new_dn.to_string()],
                message: format!(
                    "cannot move {} into {}: {new_dn} already exists",
                    group.dn, prov.ou
                ),
            });
            r.blocked = true;
            return;
        }
        self.planned_dns.insert(new_dn.clone());
        let pos = self.push_global(on_ad_group(
            ActionKind::Move,
            &spec.name,
            group,
            vec![Change::set(
                "distinguishedName",
                Value::from(group.dn.as_str()),
                Value::from(new_dn.as_str()),
            )],
        ));
        r.ad_moved = Some((new_dn, pos));
    }

    /// An AD group with no cloud twin: created in Entra when `provision.entra` is on, where
    /// Graph can (security groups that are not mail-enabled).
    fn group_to_entra(&mut self, ix: &Index<'_>, spec: &GroupSpec, a: usize, r: &mut Resolved) {
        let ad = &ix.g.ad[a];
        if ix.g.cloud_unread.is_some() {
            // Its twin may exist: the groups were not read (see the assumption note).
            return;
        }
        if !self.d.provision_entra {
            self.notes.push(Note {
                kind: NoteKind::Unmatched,
                identity: spec.name.clone(),
                message: format!(
                    "AD group {} has no cloud twin yet; Entra Connect creates one at its next sync if the group is in its scope (provision.entra is off)",
                    ad.dn
                ),
            });
            return;
        }
        // Graph creates only security groups that are not mail-enabled, and Microsoft 365
        // groups; mail-enabled security groups and distribution lists are Exchange Online's
        // (group-post-groups: "mailEnabled … must be false for security groups").
        if spec.group_type == GroupType::Distribution || ad.is_mail_enabled() {
            self.diagnostics.push(Diagnostic {
                severity: Severity::Error,
                rule: "exchange_owned".into(),
                object: ad.dn.to_string(),
                attribute: "mail".into(),
                message: "Graph cannot create mail-enabled security groups or distribution lists (Exchange Online owns them): let Entra Connect sync this group, or create it in Exchange Online".into(),
            });
            r.blocked = true;
            return;
        }
        let display = ad
            .display_name()
            .or(ad.sam_account_name())
            .map_or_else(|| ad.dn.leaf_value().unwrap_or_default(), str::to_owned);
        let nickname: String = ad
            .sam_account_name()
            .unwrap_or(&display)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .take(64)
            .collect();
        let changes = vec![
            Change::set("displayName", Value::Null, Value::from(display.as_str())),
            Change::set(
                "mailNickname",
                Value::Null,
                Value::from(if nickname.is_empty() {
                    "group"
                } else {
                    &nickname
                }),
            ),
            Change::set("mailEnabled", Value::Null, Value::from(false)),
            Change::set("securityEnabled", Value::Null, Value::from(true)),
        ];
        let pos = self.push_global(Action {
            id: ActionId(0),
            action: ActionKind::Create,
            directory: Side::Entra,
            kind: ObjectKind::Group,
            identity: Arc::from(spec.name.as_str()),
            target: display.as_str().into(),
            object: None,
            changes: changes.into(),
            depends_on: Box::default(),
            precondition: Some(Precondition::Absent),
            matched: None,
        });
        r.cloud_create = Some((Text::from(display.as_str()), pos));
    }

    /// Groups idsync created in AD (its marker names the cloud group) whose cloud group is
    /// gone: deprovisioned as users are, when the cloud is the source (`provision.ad`).
    fn deprovision_groups(&mut self, ix: &Index<'_>, resolved: &[Resolved]) {
        if self.d.provision_ad.is_none() || ix.g.cloud.is_empty() {
            return;
        }
        let named: BTreeSet<usize> = resolved.iter().filter_map(|r| r.ad).collect();
        for (a, group) in ix.g.ad.iter().enumerate() {
            if !ix.ad_in_scope[a] || named.contains(&a) {
                continue;
            }
            let Some(id) = group.owner_marker() else {
                continue;
            };
            if !ix.cloud_by_id.get(id).is_empty() {
                continue;
            }
            let r = Resolved {
                ad: Some(a),
                ..Resolved::default()
            };
            let name = group.sam_account_name().unwrap_or(group.dn.as_str());
            if self.group_protected(ix, &r) {
                continue;
            }
            let why = format!("idsync created it for cloud group {id}, which is gone");
            match self.d.deprovision_action {
                DeprovisionAction::Report | DeprovisionAction::Disable => {
                    self.notes.push(Note {
                        kind: NoteKind::Deprovision,
                        identity: name.to_owned(),
                        message: format!(
                            "would delete AD group {}: {why}; deprovision.action is {} (groups cannot be disabled)",
                            group.dn,
                            if self.d.deprovision_action == DeprovisionAction::Report {
                                "report"
                            } else {
                                "disable"
                            }
                        ),
                    });
                }
                // Counted by `max_deletes` with every delete; the empty-read guard is the
                // `ix.g.cloud.is_empty()` above (no cloud groups read, nothing deleted).
                DeprovisionAction::Delete => {
                    self.push_global(on_ad_group(ActionKind::Delete, name, group, Vec::new()));
                }
            }
        }
    }

    /// Entra Connect's next sync for one group (DESIGN.md, forecast `group`): a cloud group it
    /// cannot match is duplicated from its AD twin (how-to-connect-install-existing-tenant,
    /// "Other objects than users").
    fn group_forecast(&self, ix: &Index<'_>, spec: &GroupSpec, r: &Resolved) -> Option<Forecast> {
        if r.blocked {
            return None;
        }
        let c = &ix.g.cloud[r.cloud?];
        if c.sync_enabled {
            return None;
        }
        let ad_dn = match (r.ad, &r.ad_create) {
            (Some(a), _) => ix.g.ad[a].dn.to_string(),
            (None, Some((dn, _))) => dn.to_string(),
            _ => return None,
        };
        let why = if c.is_unified() {
            "a Microsoft 365 group is cloud-only and never matched".to_owned()
        } else if !c.mail_enabled {
            "only mail-enabled groups soft-match, and this one is not mail-enabled".to_owned()
        } else if self.tenant.features().block_soft_match {
            "the tenant blocks soft matching (blockSoftMatchEnabled)".to_owned()
        } else {
            let ad_smtp = match (r.ad, &r.ad_create) {
                (Some(a), _) => ix.g.ad[a].primary_smtp(),
                // The group this plan creates carries the cloud group's addresses.
                _ => c.primary_smtp(),
            };
            if ad_smtp.is_some() && ad_smtp == c.primary_smtp() {
                return None;
            }
            format!(
                "its AD twin's primary SMTP address ({}) is not the cloud group's ({})",
                ad_smtp.as_ref().map_or("none", |s| s.as_str()),
                c.primary_smtp().as_ref().map_or("none", |s| s.as_str())
            )
        };
        Some(Forecast {
            kind: ForecastKind::Group,
            severity: ForecastSeverity::Warning,
            identity: spec.name.clone(),
            object: Some(cloud_group_label(c)),
            attribute: None,
            before: None,
            after: None,
            message: format!(
                "will not match cloud group {} with {ad_dn} ({why}): it syncs the AD group as a second cloud group beside it; members and licenses on the cloud group stay there",
                c.display_name
            ),
        })
    }

    /// Pushes an action whose `depends_on` already names planner positions; its position.
    fn push_global(&mut self, mut action: Action) -> u32 {
        // Cannot fail: a plan holds fewer than 2^32 actions (they would not fit in memory).
        let pos = u32::try_from(self.actions.len()).expect("fewer than 2^32 actions");
        action.id = ActionId(pos);
        self.actions.push(action);
        pos
    }
}

/// The conflict for a selector that names several objects.
fn ambiguous(spec: &GroupSpec, objects: impl Iterator<Item = String>) -> Conflict {
    let objects: Vec<String> = objects.collect();
    Conflict {
        kind: ConflictKind::AmbiguousMatch,
        identity: spec.name.clone(),
        message: format!(
            "groups[] entry {} names {} groups ({}); name one by id, DN or objectGUID",
            spec.origin,
            objects.len(),
            objects.join(", ")
        ),
        objects,
    }
}

fn describe_ad_group(sel: &AdGroupSelector) -> String {
    match sel {
        AdGroupSelector::SamAccountName(s) => format!("AD group sAMAccountName={}", s.as_str()),
        AdGroupSelector::Dn(dn) => format!("AD group {dn}"),
        AdGroupSelector::ObjectGuid(g) => format!("AD group objectGUID={g}"),
    }
}

fn describe_entra_group(sel: &EntraGroupSelector) -> String {
    match sel {
        EntraGroupSelector::Id(id) => format!("cloud group id={id}"),
        EntraGroupSelector::Mail(m) => format!("cloud group mail={}", m.as_str()),
        EntraGroupSelector::DisplayName(n) => format!("cloud group displayName={n}"),
    }
}

/// The sAMAccountName of an AD group made from a cloud group: its mailNickname, else its
/// name, without the characters AD refuses there.
fn group_sam(c: &CloudGroup) -> String {
    let source = c
        .mail_nickname
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(&c.display_name);
    let sam: String = source
        .chars()
        .map(|ch| {
            if "\\\"|,/[]:<>+=;?*@".contains(ch) || ch.is_control() {
                '-'
            } else {
                ch
            }
        })
        .take(64)
        .collect();
    let sam = sam.trim().trim_end_matches('.').to_owned();
    if sam.is_empty() { "group".into() } else { sam }
}

/// An action on an AD group that exists, guarded by its `uSNChanged`.
fn on_ad_group(kind: ActionKind, name: &str, g: &AdGroup, changes: Vec<Change>) -> Action {
    Action {
        id: ActionId(0),
        action: kind,
        directory: Side::Ad,
        kind: ObjectKind::Group,
        identity: Arc::from(name),
        target: g.dn.as_str().into(),
        object: Some(g.object_guid.into()),
        changes: changes.into(),
        depends_on: Box::default(),
        precondition: g.usn_changed.map(Precondition::UsnChanged),
        matched: None,
    }
}

/// An action on a cloud group that exists, guarded by a hash of what was read.
fn on_entra_group(kind: ActionKind, name: &str, g: &CloudGroup, changes: Vec<Change>) -> Action {
    Action {
        id: ActionId(0),
        action: kind,
        directory: Side::Entra,
        kind: ObjectKind::Group,
        identity: Arc::from(name),
        target: cloud_target(g),
        object: Some(g.id.as_str().into()),
        changes: changes.into(),
        depends_on: Box::default(),
        precondition: Some(Precondition::Fingerprint(Text::from(
            g.fingerprint().as_str(),
        ))),
        matched: None,
    }
}

/// The groups and contacts of a plan, indexed once (the user stage asks it about
/// `object_type_mismatch` too).
pub(super) struct GroupIndex<'a>(Index<'a>);

impl<'a> GroupIndex<'a> {
    pub(super) fn build(d: &DesiredState, g: Groups<'a>) -> Self {
        GroupIndex(Index::build(d, g))
    }

    /// Whether any cloud group or contact holds an address (so the per-user check can be
    /// skipped when none does).
    pub(super) fn holds_addresses(&self) -> bool {
        !self.0.cloud_by_smtp.map.is_empty() || !self.0.contact_by_smtp.map.is_empty()
    }
}

#[cfg(test)]
mod tests;
