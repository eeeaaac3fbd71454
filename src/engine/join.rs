//! Joining AD users to cloud users, as Entra Connect would: explicit pairs, idsync's ownership
//! marker, hard match on the anchor, then soft match by the configured keys. Anything that
//! cannot be decided safely becomes a conflict, and the objects in it are left alone.
//!
//! Every step is a hash lookup or a sort, so the join is linear(-log) in the number of objects;
//! the indexes store object numbers only (see [`super::index`]).

use std::cell::OnceCell;

use super::anchor::anchor_bytes;
use super::index::{HashIndex, ci_hash, exact_hash, shared_keys};
use crate::desired::{AdSelector, DesiredState, EntraSelector, SoftMatchKey};
use crate::directory::{AdUser, CloudUser};
use crate::names::{AttrName, ProxyAddress, eq_ci};
use crate::plan::{Conflict, ConflictKind};

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
}

pub fn join<'a>(desired: &'a DesiredState, ad: &'a [AdUser], cloud: &'a [CloudUser]) -> Joined<'a> {
    let mut j = Joiner::new(desired, ad, cloud);
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

/// Every SMTP address a cloud user answers to: proxy addresses and `mail` (may repeat one).
fn cloud_smtp(u: &CloudUser) -> impl Iterator<Item = &str> {
    u.proxy_addresses()
        .filter_map(ProxyAddress::parse)
        .filter(ProxyAddress::is_smtp)
        .map(|p| p.address)
        .chain(u.mail())
}

/// An AD user's primary SMTP address (its `SMTP:` proxy address).
fn primary_smtp(u: &AdUser) -> Option<&str> {
    u.proxy_addresses()
        .filter_map(ProxyAddress::parse)
        .find(ProxyAddress::is_primary_smtp)
        .map(|p| p.address)
}

/// An AD user's UPN after `upn_suffixes`, as (local part, suffix), without allocating.
fn routable<'a>(desired: &'a DesiredState, u: &'a AdUser) -> Option<(&'a str, &'a str)> {
    let upn = u.upn()?;
    let Some((local, suffix)) = upn.rsplit_once('@') else {
        return Some((upn, ""));
    };
    let mapped = desired
        .upn_suffixes
        .iter()
        .find(|(from, _)| eq_ci(from, suffix))
        .map_or(suffix, |(_, to)| to.as_str());
    Some((local, mapped))
}

fn routable_hash((local, suffix): (&str, &str)) -> u64 {
    if suffix.is_empty() {
        ci_hash(&[local])
    } else {
        ci_hash(&[local, "@", suffix])
    }
}

/// Whether `upn` is `local@suffix`, without case.
fn routable_eq((local, suffix): (&str, &str), upn: &str) -> bool {
    match upn.rsplit_once('@') {
        Some((l, s)) => !suffix.is_empty() && eq_ci(l, local) && eq_ci(s, suffix),
        None => suffix.is_empty() && eq_ci(upn, local),
    }
}

/// Every AD user by each key an `identities[]` or `protect` entry may use. Each index is built
/// the first time it is asked for: a plan without explicit identities builds none.
pub(crate) struct AdIndex<'a> {
    ad: &'a [AdUser],
    by_sam: OnceCell<HashIndex>,
    by_dn: OnceCell<HashIndex>,
    by_guid: OnceCell<HashIndex>,
    by_upn: OnceCell<HashIndex>,
}

fn build_index<T>(items: &[T], key: impl Fn(&T) -> Option<u64>) -> HashIndex {
    let mut ix = HashIndex::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(h) = key(item) {
            ix.insert(h, i);
        }
    }
    ix
}

impl<'a> AdIndex<'a> {
    pub(crate) fn build(ad: &'a [AdUser]) -> Self {
        AdIndex {
            ad,
            by_sam: OnceCell::new(),
            by_dn: OnceCell::new(),
            by_guid: OnceCell::new(),
            by_upn: OnceCell::new(),
        }
    }

    /// The AD users a selector names (usually one).
    pub(crate) fn find(&self, sel: &AdSelector) -> Vec<usize> {
        let ad = self.ad;
        let (ix, hash) = match sel {
            AdSelector::SamAccountName(s) => (
                self.by_sam.get_or_init(|| {
                    build_index(ad, |u| u.sam_account_name().map(|s| ci_hash(&[s])))
                }),
                ci_hash(&[s.as_str()]),
            ),
            AdSelector::Dn(dn) => (
                self.by_dn
                    .get_or_init(|| build_index(ad, |u| Some(u.dn.hash_value()))),
                dn.hash_value(),
            ),
            AdSelector::ObjectGuid(g) => (
                self.by_guid
                    .get_or_init(|| build_index(ad, |u| Some(exact_hash(&u.object_guid.0)))),
                exact_hash(&g.0),
            ),
            AdSelector::Upn(u) => (
                self.by_upn
                    .get_or_init(|| build_index(ad, |u| u.upn().map(|upn| ci_hash(&[upn])))),
                ci_hash(&[u.as_str()]),
            ),
        };
        let mut found: Vec<usize> = ix
            .candidates(hash)
            .filter(|&i| ad_matches(sel, &ad[i]))
            .collect();
        found.sort_unstable();
        found
    }
}

/// Every cloud user by id and by UPN, each index built on first use.
pub(crate) struct CloudIndex<'a> {
    cloud: &'a [CloudUser],
    by_id: OnceCell<HashIndex>,
    by_upn: OnceCell<HashIndex>,
}

impl<'a> CloudIndex<'a> {
    pub(crate) fn build(cloud: &'a [CloudUser]) -> Self {
        CloudIndex {
            cloud,
            by_id: OnceCell::new(),
            by_upn: OnceCell::new(),
        }
    }

    fn upns(&self) -> &HashIndex {
        self.by_upn
            .get_or_init(|| build_index(self.cloud, |u| Some(ci_hash(&[u.upn()]))))
    }

    /// The cloud users a selector names (usually one).
    pub(crate) fn find(&self, sel: &EntraSelector) -> Vec<usize> {
        let (ix, hash) = match sel {
            EntraSelector::Upn(u) => (self.upns(), ci_hash(&[u.as_str()])),
            EntraSelector::Id(id) => (
                self.by_id
                    .get_or_init(|| build_index(self.cloud, |u| Some(ci_hash(&[u.id()])))),
                ci_hash(&[id]),
            ),
        };
        let mut found: Vec<usize> = ix
            .candidates(hash)
            .filter(|&i| cloud_matches(sel, &self.cloud[i]))
            .collect();
        found.sort_unstable();
        found
    }

    /// Cloud users whose UPN is `local@suffix`.
    fn by_routable<'s>(&'s self, key: (&'s str, &'s str)) -> impl Iterator<Item = usize> + 's {
        self.upns()
            .candidates(routable_hash(key))
            .filter(move |&c| routable_eq(key, self.cloud[c].upn()))
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
    fn new(desired: &'a DesiredState, ad: &'a [AdUser], cloud: &'a [CloudUser]) -> Self {
        let ad_index = AdIndex::build(ad);
        let cloud_index = CloudIndex::build(cloud);
        let mut ad_ok: Vec<bool> = ad
            .iter()
            .map(|u| desired.scope.contains(&u.dn) && is_user_entry(u))
            .collect();
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

    /// The same UPN or primary SMTP address on two in-scope objects of one directory.
    fn duplicates(&mut self) {
        let groups = self.duplicate_groups();
        for (kind, identity, ads, clouds, message) in groups {
            self.conflict(kind, identity, &ads, &clouds, message);
        }
    }

    fn duplicate_groups(&self) -> Vec<DuplicateGroup> {
        let mut groups: Vec<DuplicateGroup> = Vec::new();

        let ad_upns: Vec<(u64, u32, ())> = self
            .ad_indices()
            .filter_map(|i| {
                routable(self.desired, &self.ad[i]).map(|k| (routable_hash(k), small(i), ()))
            })
            .collect();
        let same_routable = |x: &(u64, u32, ()), y: &(u64, u32, ())| {
            let (a, b) = (&self.ad[x.1 as usize], &self.ad[y.1 as usize]);
            match (routable(self.desired, a), routable(self.desired, b)) {
                (Some(ka), Some(kb)) => eq_ci(ka.0, kb.0) && eq_ci(ka.1, kb.1),
                _ => false,
            }
        };
        for g in shared_keys(ad_upns, same_routable) {
            let ids: Vec<usize> = g.iter().map(|(i, _)| *i as usize).collect();
            let (local, suffix) = routable(self.desired, &self.ad[ids[0]]).unwrap_or_default();
            let upn = if suffix.is_empty() {
                local.to_owned()
            } else {
                format!("{local}@{suffix}")
            };
            let n = ids.len();
            groups.push((
                ConflictKind::DuplicateUpn,
                upn.clone(),
                ids,
                vec![],
                format!("{n} in-scope AD users share the UPN {upn} (after upn_suffixes)"),
            ));
        }

        let ad_smtp: Vec<(u64, u32, ())> = self
            .ad_indices()
            .filter_map(|i| primary_smtp(&self.ad[i]).map(|a| (ci_hash(&[a]), small(i), ())))
            .collect();
        let same_smtp = |x: &(u64, u32, ()), y: &(u64, u32, ())| match (
            primary_smtp(&self.ad[x.1 as usize]),
            primary_smtp(&self.ad[y.1 as usize]),
        ) {
            (Some(a), Some(b)) => eq_ci(a, b),
            _ => false,
        };
        for g in shared_keys(ad_smtp, same_smtp) {
            let ids: Vec<usize> = g.iter().map(|(i, _)| *i as usize).collect();
            let smtp = primary_smtp(&self.ad[ids[0]])
                .unwrap_or_default()
                .to_owned();
            let n = ids.len();
            groups.push((
                ConflictKind::DuplicateSmtp,
                smtp.clone(),
                ids,
                vec![],
                format!("{n} in-scope AD users have the primary SMTP address {smtp}"),
            ));
        }

        let cloud_upns: Vec<(u64, u32, ())> = self
            .cloud_indices()
            .map(|c| (ci_hash(&[self.cloud[c].upn()]), small(c), ()))
            .collect();
        let same_upn = |x: &(u64, u32, ()), y: &(u64, u32, ())| {
            eq_ci(
                self.cloud[x.1 as usize].upn(),
                self.cloud[y.1 as usize].upn(),
            )
        };
        for g in shared_keys(cloud_upns, same_upn) {
            let ids: Vec<usize> = g.iter().map(|(i, _)| *i as usize).collect();
            let upn = self.cloud[ids[0]].upn().to_owned();
            let n = ids.len();
            groups.push((
                ConflictKind::DuplicateUpn,
                upn.clone(),
                vec![],
                ids,
                format!("{n} cloud users share the UPN {upn}"),
            ));
        }

        // Every address of every cloud user, tagged with its position so groups can name it.
        let mut cloud_smtp_entries: Vec<(u64, u32, u16)> = Vec::new();
        for c in self.cloud_indices() {
            for (k, a) in cloud_smtp(&self.cloud[c]).enumerate() {
                cloud_smtp_entries.push((ci_hash(&[a]), small(c), k as u16));
            }
        }
        let address = |c: u32, k: u16| {
            cloud_smtp(&self.cloud[c as usize])
                .nth(k as usize)
                .unwrap_or_default()
        };
        let same_address =
            |x: &(u64, u32, u16), y: &(u64, u32, u16)| eq_ci(address(x.1, x.2), address(y.1, y.2));
        for g in shared_keys(cloud_smtp_entries, same_address) {
            let mut ids: Vec<usize> = g.iter().map(|(c, _)| *c as usize).collect();
            ids.dedup();
            let smtp = address(g[0].0, g[0].1).to_owned();
            let n = ids.len();
            groups.push((
                ConflictKind::DuplicateSmtp,
                smtp.clone(),
                vec![],
                ids,
                format!("{n} cloud users answer to the SMTP address {smtp}"),
            ));
        }
        groups
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
                            let why = if found.is_empty() {
                                "does not exist"
                            } else {
                                "is outside scope"
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
                self.pair(a, c, MatchKind::Explicit);
            }
        }
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

    /// The cloud users (free of conflicts) that carry this anchor as onPremisesImmutableId.
    fn by_anchor<'s>(
        &'s self,
        by_immutable: &'s HashIndex,
        anchor: &'s str,
    ) -> impl Iterator<Item = usize> + 's {
        by_immutable
            .candidates(exact_hash(anchor.as_bytes()))
            .filter(move |&c| self.cloud[c].immutable_id() == Some(anchor))
    }

    fn hard_and_soft(&mut self) {
        let source_anchor = self.desired.source_anchor;
        let mut by_immutable = HashIndex::with_capacity(self.cloud.len());
        let mut by_smtp = HashIndex::with_capacity(self.cloud.len());
        for c in self.cloud_indices() {
            if self.cloud_blocked[c] {
                continue;
            }
            if let Some(id) = self.cloud[c].immutable_id().filter(|s| !s.is_empty()) {
                by_immutable.insert(exact_hash(id.as_bytes()), c);
            }
            let mut last = None;
            for a in cloud_smtp(&self.cloud[c]) {
                let h = ci_hash(&[a]);
                if last != Some(h) {
                    by_smtp.insert(h, c);
                }
                last = Some(h);
            }
        }
        self.cloud_by_smtp = by_smtp;

        // A conflicted AD user still drags its would-be partner into the conflict, so the
        // partner is not mistaken for a cloud-only user and provisioned a second twin.
        let conflicted: Vec<usize> = self
            .ad_indices()
            .filter(|&a| self.ad_blocked[a] && self.ad_pair[a].is_none())
            .collect();
        for a in conflicted {
            let candidate = self.candidate(a, &by_immutable);
            if let (Some(c), Some(k)) = (candidate, self.ad_conflict[a])
                && self.cloud_pair[c].is_none()
                && !self.cloud_blocked[c]
            {
                self.cloud_blocked[c] = true;
                let label = self.cloud_label(c);
                self.conflicts[k as usize].objects.push(label);
            }
        }

        // Claims: (cloud user, AD user, how), grouped by cloud user after sorting.
        let mut claims: Vec<(u32, u32, MatchKind)> = Vec::new();
        for a in 0..self.ad.len() {
            if !self.free_ad(a) {
                continue;
            }
            let anchor = base64_anchor(&self.ad[a], source_anchor);
            let before = claims.len();
            claims.extend(
                self.by_anchor(&by_immutable, &anchor)
                    .map(|c| (small(c), small(a), MatchKind::Hard)),
            );
            if claims.len() > before {
                continue;
            }
            for key in &self.desired.soft_match {
                if let Some(c) = self.soft_candidate(a, *key) {
                    claims.push((small(c), small(a), MatchKind::Soft(*key)));
                    break;
                }
            }
        }
        claims.sort_unstable_by_key(|&(c, a, _)| (c, a));

        let mut start = 0;
        while start < claims.len() {
            let c = claims[start].0 as usize;
            let mut end = start + 1;
            while end < claims.len() && claims[end].0 as usize == c {
                end += 1;
            }
            if end - start == 1 && self.settle_one(c, claims[start].1 as usize, claims[start].2) {
                start = end;
                continue;
            }
            let list: Vec<(usize, MatchKind)> = claims[start..end]
                .iter()
                .map(|&(_, a, k)| (a as usize, k))
                .collect();
            start = end;
            self.settle(c, list);
        }
    }

    /// The common case without allocating: one AD user claims a free cloud user, by hard match
    /// or by a soft match the cloud user's anchor does not contradict. False: not that case.
    fn settle_one(&mut self, c: usize, a: usize, how: MatchKind) -> bool {
        if self.cloud_blocked[c] || self.cloud_pair[c].is_some() {
            return false;
        }
        if how != MatchKind::Hard {
            let anchor = base64_anchor(&self.ad[a], self.desired.source_anchor);
            if self.cloud[c]
                .immutable_id()
                .is_some_and(|id| !id.is_empty() && id != anchor)
            {
                return false;
            }
        }
        self.pair(a, c, how);
        true
    }

    /// Decides the claims on cloud user `c`: a pair, or a conflict.
    fn settle(&mut self, c: usize, list: Vec<(usize, MatchKind)>) {
        let source_anchor = self.desired.source_anchor;
        let cloud_name = self.cloud[c].upn().to_owned();
        let ads: Vec<usize> = list.iter().map(|(a, _)| *a).collect();
        if self.cloud_blocked[c] {
            self.conflict(
                ConflictKind::AmbiguousMatch,
                cloud_name.clone(),
                &ads,
                &[],
                format!("matches cloud user {cloud_name}, which is itself in a conflict"),
            );
            return;
        }
        if let Some(owner) = self.cloud_pair[c] {
            let owner_dn = self.ad[owner as usize].dn.to_string();
            self.conflict(
                ConflictKind::AmbiguousMatch,
                cloud_name.clone(),
                &ads,
                &[],
                format!("matches cloud user {cloud_name}, which is already paired with {owner_dn}"),
            );
            return;
        }
        let hard: Vec<usize> = list
            .iter()
            .filter(|(_, k)| *k == MatchKind::Hard)
            .map(|(a, _)| *a)
            .collect();
        let soft: Vec<(usize, MatchKind)> = list
            .iter()
            .filter(|(_, k)| *k != MatchKind::Hard)
            .copied()
            .collect();
        match hard.len() {
            1 => {
                let a = hard[0];
                self.pair(a, c, MatchKind::Hard);
                for (s, _) in soft {
                    let winner = self.ad[a].dn.to_string();
                    self.conflict(ConflictKind::AmbiguousMatch, cloud_name.clone(), &[s], &[], format!("soft-matches cloud user {cloud_name}, which is hard-matched to {winner}"));
                }
            }
            0 if soft.len() == 1 => {
                let (a, how) = soft[0];
                let expected = base64_anchor(&self.ad[a], source_anchor);
                match self.cloud[c].immutable_id().filter(|s| !s.is_empty()) {
                    Some(existing) if existing != expected => {
                        let key = match how {
                            MatchKind::Soft(SoftMatchKey::Smtp) => "SMTP address",
                            _ => "UPN",
                        };
                        let message = format!(
                            "soft-matches cloud user {cloud_name} by {key}, but its onPremisesImmutableId is {existing}, not this object's anchor {expected} (Entra: InvalidSoftMatch)"
                        );
                        self.conflict(
                            ConflictKind::InvalidSoftMatch,
                            cloud_name.clone(),
                            &[a],
                            &[c],
                            message,
                        );
                    }
                    _ => self.pair(a, c, how),
                }
            }
            _ => {
                let n = ads.len();
                self.conflict(
                    ConflictKind::AmbiguousMatch,
                    cloud_name.clone(),
                    &ads,
                    &[c],
                    format!("{n} AD users claim cloud user {cloud_name}"),
                );
            }
        }
    }

    /// The cloud user an AD user would match first (hard, then soft keys), ignoring conflicts.
    fn candidate(&self, a: usize, by_immutable: &HashIndex) -> Option<usize> {
        let anchor = base64_anchor(&self.ad[a], self.desired.source_anchor);
        if let Some(c) = self.by_anchor(by_immutable, &anchor).next() {
            return Some(c);
        }
        self.desired
            .soft_match
            .iter()
            .find_map(|key| self.soft_candidate(a, *key))
    }

    /// The cloud user AD user `a` soft-matches by one key (the first, if several).
    fn soft_candidate(&self, a: usize, key: SoftMatchKey) -> Option<usize> {
        let usable = |c: &usize| self.universe.cloud_ok[*c] && !self.cloud_blocked[*c];
        match key {
            SoftMatchKey::Smtp => {
                let address = primary_smtp(&self.ad[a])?;
                self.cloud_by_smtp
                    .candidates(ci_hash(&[address]))
                    .filter(usable)
                    .filter(|&c| cloud_smtp(&self.cloud[c]).any(|x| eq_ci(x, address)))
                    .min()
            }
            SoftMatchKey::Upn => {
                let key = routable(self.desired, &self.ad[a])?;
                self.cloud_index
                    .by_routable(key)
                    .filter(|c| self.universe.cloud_ok[*c])
                    .min()
            }
        }
    }

    fn pair(&mut self, a: usize, c: usize, how: MatchKind) {
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
        }
    }
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
