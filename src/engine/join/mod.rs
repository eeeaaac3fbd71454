//! Joining AD users to cloud users, as Entra Connect would: explicit pairs, idsync's ownership
//! marker, hard match on the anchor, then soft match by the configured keys. Anything that
//! cannot be decided safely becomes a conflict, and the objects in it are left alone.
//!
//! Every step is a hash lookup or a sort, so the join is linear(-log) in the number of objects;
//! the indexes store object numbers only (see [`super::index`]). By stage: `index` (lookups by
//! each key), `duplicates` (before matching), `matching` (hard and soft).

mod duplicates;
mod exclusions;
mod index;
mod matching;

use std::sync::OnceLock;

use super::anchor::anchor_bytes;
use super::index::HashIndex;
use crate::desired::{AdSelector, DesiredState, EntraSelector, SoftMatchKey};
use crate::directory::{AdUser, CloudUser, Tenant};
use crate::names::{AttrName, eq_ci};
use crate::plan::{Conflict, ConflictKind};

pub use exclusions::EXCHANGE_SYSTEM_MASK;
pub(crate) use exclusions::ExclusionNames;
pub(crate) use index::{AdIndex, CloudIndex, cloud_proxy_smtp, primary_smtp};

/// How a pair was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Explicit,
    /// The AD account carries idsync's `adminDescription` marker naming the cloud user.
    Marker,
    Hard,
    Soft(SoftMatchKey),
}

/// One identity after the join: an AD user, a cloud user, or both. Object numbers are kept
/// as `u32` (a join of a million identities holds a million of these); read them with the
/// accessors.
#[derive(Debug, Clone)]
pub struct Joint {
    ad: Option<u32>,
    cloud: Option<u32>,
    /// Index into `desired.identities` of the entry that names this identity, if any.
    spec: Option<u32>,
    pub how: Option<MatchKind>,
}

impl Joint {
    /// Index of the AD user in the input.
    pub fn ad(&self) -> Option<usize> {
        self.ad.map(|a| a as usize)
    }
    /// Index of the cloud user in the input.
    pub fn cloud(&self) -> Option<usize> {
        self.cloud.map(|c| c as usize)
    }
    /// Index into `desired.identities` of the entry that names this identity, if any.
    pub fn spec(&self) -> Option<usize> {
        self.spec.map(|s| s as usize)
    }
}

pub struct Joined<'a> {
    pub joints: Vec<Joint>,
    pub conflicts: Vec<Conflict>,
    /// In-scope AD users (ignored ones excluded), by index; for diagnostics.
    pub ad_in_scope: Vec<usize>,
    /// How many cloud users are in scope (guests and ignored ones excluded).
    pub cloud_in_scope: usize,
    /// AD users and cloud users that are in a conflict.
    pub ad_blocked: Vec<bool>,
    pub cloud_blocked: Vec<bool>,
    /// The indexes built for the join, for the planner to reuse.
    pub(crate) ad_index: AdIndex<'a>,
    pub(crate) cloud_index: CloudIndex<'a>,
    /// Cloud users by onPremisesImmutableId without case, if the join built it.
    pub(crate) immutable_ids: OnceLock<HashIndex>,
    /// In-scope AD users Entra Connect's default rules never sync, with why (sorted by index).
    pub excluded: Vec<(u32, &'static str)>,
}

/// What the join reads besides the objects.
#[derive(Debug, Clone, Copy)]
pub struct JoinContext<'a> {
    pub tenant: &'a Tenant,
    /// AD attributes the read did not carry (absent is not null).
    pub ad_unread: &'a [AttrName],
}

pub fn join<'a>(
    desired: &'a DesiredState,
    ad: &'a [AdUser],
    cloud: &'a [CloudUser],
    context: JoinContext<'a>,
) -> Joined<'a> {
    let mut j = Joiner::new(desired, ad, cloud, context);
    j.duplicates();
    j.explicit();
    j.marker();
    j.hard_and_soft();
    j.finish()
}

fn is_user_entry(u: &AdUser) -> bool {
    // Reads return users only; objects without objectClass came from a filtered read.
    if !u.attributes.contains(AttrName::OBJECT_CLASS) {
        return true;
    }
    let (mut user, mut computer) = (false, false);
    for c in u.attributes.values(AttrName::OBJECT_CLASS) {
        user |= c.eq_ignore_ascii_case("user");
        computer |= c.eq_ignore_ascii_case("computer");
    }
    user && !computer
}

pub(crate) fn ad_matches(sel: &AdSelector, u: &AdUser) -> bool {
    match sel {
        AdSelector::SamAccountName(s) => u.sam_account_name().is_some_and(|v| eq_ci(v, s.as_str())),
        AdSelector::Dn(dn) => &u.dn == dn,
        AdSelector::ObjectGuid(g) => &u.object_guid == g,
        AdSelector::Upn(upn) => u.upn().is_some_and(|v| eq_ci(v, upn.as_str())),
    }
}

pub(crate) fn cloud_matches(sel: &EntraSelector, u: &CloudUser) -> bool {
    match sel {
        EntraSelector::Upn(upn) => eq_ci(u.upn(), upn.as_str()),
        EntraSelector::Id(id) => u.id().eq_ignore_ascii_case(id),
    }
}

/// Which objects are idsync's business at all.
struct Universe {
    ad_ok: Vec<bool>,
    cloud_ok: Vec<bool>,
}

/// A duplicate found before matching: kind, the shared value, AD and cloud members, message.
type DuplicateGroup = (ConflictKind, String, Vec<usize>, Vec<usize>, String);

struct Joiner<'a> {
    desired: &'a DesiredState,
    tenant: &'a Tenant,
    /// See [`Joined::excluded`].
    excluded: Vec<(u32, &'static str)>,
    /// Cloud users by onPremisesImmutableId without case, for explicit pairs; built on first use.
    by_immutable_ci: OnceLock<HashIndex>,
    ad: &'a [AdUser],
    cloud: &'a [CloudUser],
    universe: Universe,
    ad_blocked: Vec<bool>,
    cloud_blocked: Vec<bool>,
    /// The first conflict each AD user is in.
    ad_conflict: Vec<Option<u32>>,
    /// Partner found so far.
    ad_pair: Vec<Option<(u32, MatchKind)>>,
    cloud_pair: Vec<Option<u32>>,
    ad_spec: Vec<Option<u32>>,
    cloud_spec: Vec<Option<u32>>,
    conflicts: Vec<Conflict>,
    ad_index: AdIndex<'a>,
    cloud_index: CloudIndex<'a>,
    /// Cloud users (not blocked, in the universe) by each SMTP address they answer to.
    cloud_by_smtp: HashIndex,
}

fn small(i: usize) -> u32 {
    // Cannot fail: 2^32 objects would need hundreds of GB in memory (snapshots are below 4 GiB); memory runs out first.
    u32::try_from(i).expect("fewer than 4 billion objects")
}

impl<'a> Joiner<'a> {
    fn new(
        desired: &'a DesiredState,
        ad: &'a [AdUser],
        cloud: &'a [CloudUser],
        context: JoinContext<'a>,
    ) -> Self {
        let ad_index = AdIndex::build(ad);
        let cloud_index = CloudIndex::build(cloud);
        let mut ad_ok: Vec<bool> = ad
            .iter()
            .map(|u| desired.scope.contains(&u.dn) && is_user_entry(u))
            .collect();
        // An export that carries no sAMAccountName at all says nothing about who has one.
        let sam_read = !context.ad_unread.contains(&AttrName::SAM_ACCOUNT_NAME)
            && ad.iter().any(|u| u.sam_account_name().is_some());
        let names = ExclusionNames::new();
        let mut excluded = Vec::new();
        for (i, u) in ad.iter().enumerate() {
            if ad_ok[i]
                && let Some(why) = names.excluded(u, sam_read)
            {
                ad_ok[i] = false;
                excluded.push((small(i), why));
            }
        }
        let mut cloud_ok: Vec<bool> = cloud.iter().map(|u| !u.is_guest()).collect();
        // `ignore: true` removes objects from everything: never touched, never reported.
        for spec in desired.identities.iter().filter(|s| s.ignore) {
            if let Some(sel) = &spec.ad {
                for i in ad_index.find(sel) {
                    ad_ok[i] = false;
                }
            }
            if let Some(sel) = &spec.entra {
                for i in cloud_index.find(sel) {
                    cloud_ok[i] = false;
                }
            }
        }
        Joiner {
            desired,
            tenant: context.tenant,
            excluded,
            by_immutable_ci: OnceLock::new(),
            ad,
            cloud,
            ad_blocked: vec![false; ad.len()],
            cloud_blocked: vec![false; cloud.len()],
            ad_conflict: vec![None; ad.len()],
            ad_pair: vec![None; ad.len()],
            cloud_pair: vec![None; cloud.len()],
            ad_spec: vec![None; ad.len()],
            cloud_spec: vec![None; cloud.len()],
            universe: Universe { ad_ok, cloud_ok },
            conflicts: Vec::new(),
            ad_index,
            cloud_index,
            cloud_by_smtp: HashIndex::default(),
        }
    }

    fn ad_indices(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.ad.len()).filter(|&i| self.universe.ad_ok[i])
    }

    fn cloud_indices(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.cloud.len()).filter(|&i| self.universe.cloud_ok[i])
    }

    fn ad_label(&self, i: usize) -> String {
        self.ad[i].dn.to_string()
    }

    fn cloud_label(&self, i: usize) -> String {
        format!("{} (entra {})", self.cloud[i].upn(), self.cloud[i].id())
    }

    fn conflict(
        &mut self,
        kind: ConflictKind,
        identity: String,
        ads: &[usize],
        clouds: &[usize],
        message: String,
    ) {
        let mut objects: Vec<String> = ads.iter().map(|&i| self.ad_label(i)).collect();
        objects.extend(clouds.iter().map(|&i| self.cloud_label(i)));
        let k = small(self.conflicts.len());
        for &i in ads {
            self.ad_blocked[i] = true;
            self.ad_conflict[i].get_or_insert(k);
        }
        for &i in clouds {
            self.cloud_blocked[i] = true;
        }
        self.conflicts.push(Conflict {
            kind,
            identity,
            objects,
            message,
        });
    }

    fn spec_name(&self, s: usize) -> String {
        let spec = &self.desired.identities[s];
        spec.name
            .clone()
            .unwrap_or_else(|| match (&spec.entra, &spec.ad) {
                (Some(EntraSelector::Upn(u)), _) => u.to_string(),
                (Some(EntraSelector::Id(id)), _) => id.clone(),
                (None, Some(sel)) => describe_ad(sel),
                (None, None) => spec.origin.clone(),
            })
    }

    /// `identities[]` entries: resolve both sides; pairs are fixed, single sides are hints.
    fn explicit(&mut self) {
        for s in 0..self.desired.identities.len() {
            let spec = &self.desired.identities[s];
            if spec.ignore {
                continue;
            }
            let name = self.spec_name(s);
            let ad = match &spec.ad {
                Some(sel) => {
                    let found = self.ad_index.find(sel);
                    match found.iter().copied().find(|&i| self.universe.ad_ok[i]) {
                        Some(i) => Some(i),
                        None => {
                            let cloud = spec.entra.as_ref().and_then(|sel| self.find_cloud(sel));
                            let excluded = found.iter().find_map(|&i| self.excluded_why(i));
                            let why = match excluded {
                                _ if found.is_empty() => "does not exist".to_owned(),
                                Some(why) => format!(
                                    "Entra Connect's default rules never synchronize ({why})"
                                ),
                                None => "is outside scope".to_owned(),
                            };
                            let message = format!(
                                "identities[] at {} names AD {}, which {why}",
                                spec.origin,
                                describe_ad(sel)
                            );
                            self.conflict(
                                ConflictKind::MissingObject,
                                name,
                                &[],
                                cloud.as_slice(),
                                message,
                            );
                            continue;
                        }
                    }
                }
                None => None,
            };
            let cloud = match &spec.entra {
                Some(sel) => match self.find_cloud(sel) {
                    Some(i) => Some(i),
                    None => {
                        let message = format!(
                            "identities[] at {} names cloud user {}, which does not exist",
                            spec.origin,
                            describe_entra(sel)
                        );
                        self.conflict(
                            ConflictKind::MissingObject,
                            name,
                            ad.as_slice(),
                            &[],
                            message,
                        );
                        continue;
                    }
                },
                None => None,
            };
            let ad_taken = ad.and_then(|i| self.ad_spec[i]);
            let cloud_taken = cloud.and_then(|i| self.cloud_spec[i]);
            if let Some(other) = ad_taken.or(cloud_taken) {
                let first = self.desired.identities[other as usize].origin.clone();
                let message = format!(
                    "identities[] at {} and at {first} name the same object",
                    spec.origin
                );
                self.conflict(
                    ConflictKind::DuplicateIdentity,
                    name,
                    ad.as_slice(),
                    cloud.as_slice(),
                    message,
                );
                continue;
            }
            if let Some(i) = ad {
                self.ad_spec[i] = Some(small(s));
            }
            if let Some(i) = cloud {
                self.cloud_spec[i] = Some(small(s));
            }
            if let (Some(a), Some(c)) = (ad, cloud) {
                if let Some(holder) = self.anchor_held_elsewhere(a, c) {
                    let anchor = base64_anchor(&self.ad[a], self.desired.source_anchor);
                    let message = format!(
                        "identities[] at {} pairs AD {} with {}, but its anchor {anchor} is already the onPremisesImmutableId of {} (unique in the tenant, without regard to case): Graph would refuse the link, and Entra Connect would hard-match that user instead",
                        spec.origin,
                        self.ad[a].dn,
                        self.cloud_label(c),
                        self.cloud_label(holder),
                    );
                    self.conflict(
                        ConflictKind::DuplicateAnchor,
                        name,
                        &[a],
                        &[c, holder],
                        message,
                    );
                    continue;
                }
                self.pair(a, c, MatchKind::Explicit);
            }
        }
    }

    /// Why Entra Connect never syncs in-scope AD user `i`, if it is excluded.
    fn excluded_why(&self, i: usize) -> Option<&'static str> {
        let i = small(i);
        self.excluded
            .binary_search_by_key(&i, |&(j, _)| j)
            .ok()
            .map(|k| self.excluded[k].1)
    }

    /// Another cloud user (in the universe) whose onPremisesImmutableId is AD user `a`'s
    /// anchor, without regard to case.
    fn anchor_held_elsewhere(&self, a: usize, c: usize) -> Option<usize> {
        use super::index::ci_hash;
        let anchor = base64_anchor(&self.ad[a], self.desired.source_anchor);
        let cloud = self.cloud;
        let ix = self.by_immutable_ci.get_or_init(|| immutable_ids_ci(cloud));
        ix.candidates(ci_hash(&[&anchor]))
            .filter(|&i| i != c && self.universe.cloud_ok[i])
            .find(|&i| cloud[i].immutable_id().is_some_and(|v| eq_ci(v, &anchor)))
    }

    fn find_cloud(&self, sel: &EntraSelector) -> Option<usize> {
        self.cloud_index
            .find(sel)
            .into_iter()
            .find(|&i| self.universe.cloud_ok[i])
    }

    fn free_ad(&self, i: usize) -> bool {
        self.universe.ad_ok[i] && !self.ad_blocked[i] && self.ad_pair[i].is_none()
    }

    fn free_cloud(&self, i: usize) -> bool {
        self.universe.cloud_ok[i] && !self.cloud_blocked[i] && self.cloud_pair[i].is_none()
    }

    /// An account idsync created names its cloud twin in `adminDescription`.
    fn marker(&mut self) {
        for a in 0..self.ad.len() {
            if !self.free_ad(a) {
                continue;
            }
            let Some(id) = self.ad[a].owner_marker() else {
                continue;
            };
            let twin = self
                .cloud_index
                .find(&EntraSelector::Id(id.to_owned()))
                .into_iter()
                .next();
            if let Some(c) = twin.filter(|&c| self.free_cloud(c)) {
                self.pair(a, c, MatchKind::Marker);
            }
        }
    }

    /// Pairs them, unless the tenant refuses: Entra never matches an on-premises user with a
    /// cloud user that holds a directory role (`how-to-connect-install-existing-tenant`,
    /// "Admin role considerations"), by soft or by hard match.
    fn pair(&mut self, a: usize, c: usize, how: MatchKind) {
        let cloud = &self.cloud[c];
        let roles = self.tenant.roles_of(cloud.id());
        if !cloud.sync_enabled && !roles.is_empty() {
            let identity = cloud.upn().to_owned();
            let message = format!(
                "cloud user {identity} holds the Entra directory role{} {}: Entra Connect never matches an on-premises user with a cloud user that has an admin role, by soft or hard match. Remove the role{} before the first sync (and add {} back after it)",
                if roles.len() == 1 { "" } else { "s" },
                roles.join(", "),
                if roles.len() == 1 { "" } else { "s" },
                if roles.len() == 1 { "it" } else { "them" },
            );
            self.conflict(ConflictKind::AdminRole, identity, &[a], &[c], message);
            return;
        }
        self.ad_pair[a] = Some((small(c), how));
        self.cloud_pair[c] = Some(small(a));
    }

    fn finish(self) -> Joined<'a> {
        let mut joints = Vec::new();
        let mut ad_in_scope = Vec::new();
        for a in self.ad_indices() {
            ad_in_scope.push(a);
            if self.ad_blocked[a] {
                continue;
            }
            match self.ad_pair[a] {
                Some((c, how)) if !self.cloud_blocked[c as usize] => joints.push(Joint {
                    ad: Some(small(a)),
                    cloud: Some(c),
                    how: Some(how),
                    spec: self.ad_spec[a].or(self.cloud_spec[c as usize]),
                }),
                Some(_) => {}
                None => joints.push(Joint {
                    ad: Some(small(a)),
                    cloud: None,
                    how: None,
                    spec: self.ad_spec[a],
                }),
            }
        }
        for c in self.cloud_indices() {
            if !self.cloud_blocked[c] && self.cloud_pair[c].is_none() {
                joints.push(Joint {
                    ad: None,
                    cloud: Some(small(c)),
                    how: None,
                    spec: self.cloud_spec[c],
                });
            }
        }
        let mut conflicts = self.conflicts;
        // Conflicts are found in data order; callers see a stable, readable order.
        conflicts.sort_by(|a, b| {
            (a.kind, &a.identity, &a.objects).cmp(&(b.kind, &b.identity, &b.objects))
        });
        Joined {
            joints,
            conflicts,
            ad_in_scope,
            cloud_in_scope: self.universe.cloud_ok.iter().filter(|&&ok| ok).count(),
            ad_blocked: self.ad_blocked,
            cloud_blocked: self.cloud_blocked,
            ad_index: self.ad_index,
            cloud_index: self.cloud_index,
            immutable_ids: self.by_immutable_ci,
            excluded: self.excluded,
        }
    }

    /// Entra's soft-match keys in Entra's fixed order (SMTP, then UPN while the tenant's
    /// `softMatchOnUpnEnabled` is on), of those `matching.soft_match` lets idsync pair on.
    fn soft_keys(&self) -> impl Iterator<Item = SoftMatchKey> + '_ {
        let upn_on = self.tenant.features().soft_match_on_upn;
        [SoftMatchKey::Smtp, SoftMatchKey::Upn]
            .into_iter()
            .filter(move |k| self.desired.soft_match.contains(k))
            .filter(move |k| *k != SoftMatchKey::Upn || upn_on)
    }
}

/// Cloud users by onPremisesImmutableId without case (Entra keeps it unique that way).
pub(crate) fn immutable_ids_ci(cloud: &[CloudUser]) -> HashIndex {
    use super::index::ci_hash;
    let mut ix = HashIndex::with_capacity(cloud.len());
    for (i, u) in cloud.iter().enumerate() {
        if let Some(id) = u.immutable_id().filter(|s| !s.is_empty()) {
            ix.insert(ci_hash(&[id]), i);
        }
    }
    ix
}

/// base64 of the anchor bytes: the `onPremisesImmutableId` that hard-matches this user.
fn base64_anchor(u: &AdUser, anchor: crate::desired::SourceAnchor) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(anchor_bytes(u, anchor))
}

pub(crate) fn describe_ad(sel: &AdSelector) -> String {
    match sel {
        AdSelector::SamAccountName(s) => format!("sAMAccountName {s}"),
        AdSelector::Dn(dn) => format!("DN {dn}"),
        AdSelector::ObjectGuid(g) => format!("objectGUID {g}"),
        AdSelector::Upn(u) => format!("UPN {u}"),
    }
}

pub(crate) fn describe_entra(sel: &EntraSelector) -> String {
    match sel {
        EntraSelector::Upn(u) => format!("UPN {u}"),
        EntraSelector::Id(id) => format!("id {id}"),
    }
}
