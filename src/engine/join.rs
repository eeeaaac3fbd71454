//! Joining AD users to cloud users, as Entra Connect would: explicit pairs, idsync's ownership
//! marker, hard match on the anchor, then soft match by the configured keys. Anything that
//! cannot be decided safely becomes a conflict, and the objects in it are left alone.
//!
//! Every step is a hash lookup, so the join is linear in the number of objects.

use foldhash::{HashMap, HashMapExt};

use super::anchor::immutable_id;
use crate::desired::{AdSelector, DesiredState, EntraSelector, SoftMatchKey};
use crate::directory::{AdUser, CloudUser};
use crate::names::{CiKey, ProxyAddress, Upn};
use crate::plan::{Conflict, ConflictKind};

/// A duplicate found before matching: kind, the shared value, AD and cloud members, message.
type DuplicateGroup = (ConflictKind, String, Vec<usize>, Vec<usize>, String);

/// How a pair was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Explicit,
    /// The AD account carries idsync's `adminDescription` marker naming the cloud user.
    Marker,
    Hard,
    Soft(SoftMatchKey),
}

/// One identity after the join: an AD user, a cloud user, or both.
#[derive(Debug, Clone)]
pub struct Joint {
    pub ad: Option<usize>,
    pub cloud: Option<usize>,
    pub how: Option<MatchKind>,
    /// Index into `desired.identities` of the entry that names this identity, if any.
    pub spec: Option<usize>,
}

pub struct Joined<'a> {
    pub joints: Vec<Joint>,
    pub conflicts: Vec<Conflict>,
    /// In-scope AD users (ignored ones excluded), by index; for diagnostics.
    pub ad_in_scope: Vec<usize>,
    /// AD users and cloud users that are in a conflict.
    pub ad_blocked: Vec<bool>,
    pub cloud_blocked: Vec<bool>,
    /// The indexes built for the join, for the planner to reuse.
    pub(crate) ad_index: AdIndex<'a>,
    pub(crate) cloud_index: CloudIndex<'a>,
}

/// Which objects are idsync's business at all.
struct Universe {
    ad_ok: Vec<bool>,
    cloud_ok: Vec<bool>,
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
    if !u.attributes.contains("objectClass") {
        return true;
    }
    let mut classes = u.attributes.values("objectClass");
    let (mut user, mut computer) = (false, false);
    for c in &mut classes {
        user |= c.eq_ignore_ascii_case("user");
        computer |= c.eq_ignore_ascii_case("computer");
    }
    user && !computer
}

/// The objects holding one key: usually one, so no allocation for it.
#[derive(Debug, Clone)]
pub(crate) enum Bucket<T = usize> {
    One([T; 1]),
    Many(Vec<T>),
}

impl<T> std::ops::Deref for Bucket<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Copy> Bucket<T> {
    pub(crate) fn push(&mut self, item: T) {
        match self {
            Bucket::One([first]) => *self = Bucket::Many(vec![*first, item]),
            Bucket::Many(v) => v.push(item),
        }
    }
}

impl<T> Bucket<T> {
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Bucket::One(one) => one,
            Bucket::Many(v) => v,
        }
    }
}

/// Adds `i` under `key`, once (an object may hold one value in several attributes).
fn index<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Bucket>, key: K, i: usize) {
    match map.entry(key) {
        std::collections::hash_map::Entry::Occupied(mut e) => {
            if e.get().as_slice().last() != Some(&i) {
                e.get_mut().push(i);
            }
        }
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(Bucket::One([i]));
        }
    }
}

/// Every AD user by each key an `identities[]` or `protect` entry may use.
pub(crate) struct AdIndex<'a> {
    by_sam: HashMap<CiKey<'a>, Bucket>,
    by_dn: HashMap<&'a crate::directory::Dn, Bucket>,
    by_guid: HashMap<crate::directory::Guid, Bucket>,
    by_upn: HashMap<CiKey<'a>, Bucket>,
}

impl<'a> AdIndex<'a> {
    pub(crate) fn build(ad: &'a [AdUser]) -> Self {
        let mut ix = AdIndex {
            by_sam: HashMap::with_capacity(ad.len()),
            by_dn: HashMap::with_capacity(ad.len()),
            by_guid: HashMap::with_capacity(ad.len()),
            by_upn: HashMap::with_capacity(ad.len()),
        };
        for (i, u) in ad.iter().enumerate() {
            if let Some(s) = &u.sam_account_name {
                index(&mut ix.by_sam, CiKey(s.as_str()), i);
            }
            index(&mut ix.by_dn, &u.dn, i);
            index(&mut ix.by_guid, u.object_guid, i);
            if let Some(upn) = &u.upn {
                index(&mut ix.by_upn, CiKey(upn.as_str()), i);
            }
        }
        ix
    }

    pub(crate) fn find(&self, sel: &AdSelector) -> Bucket {
        let hit = match sel {
            AdSelector::SamAccountName(s) => self.by_sam.get(&CiKey(s.as_str())),
            AdSelector::Dn(dn) => self.by_dn.get(dn),
            AdSelector::ObjectGuid(g) => self.by_guid.get(g),
            AdSelector::Upn(u) => self.by_upn.get(&CiKey(u.as_str())),
        };
        // A copy: the map's keys borrow the objects read, the selector only lives here.
        hit.cloned().unwrap_or(Bucket::Many(Vec::new()))
    }
}

/// Every cloud user by id and by UPN.
pub(crate) struct CloudIndex<'a> {
    by_id: HashMap<CiKey<'a>, Bucket>,
    by_upn: HashMap<CiKey<'a>, Bucket>,
}

impl<'a> CloudIndex<'a> {
    pub(crate) fn build(cloud: &'a [CloudUser]) -> Self {
        let mut ix = CloudIndex {
            by_id: HashMap::with_capacity(cloud.len()),
            by_upn: HashMap::with_capacity(cloud.len()),
        };
        for (i, u) in cloud.iter().enumerate() {
            index(&mut ix.by_id, CiKey(&u.id), i);
            index(&mut ix.by_upn, CiKey(u.upn.as_str()), i);
        }
        ix
    }

    pub(crate) fn find(&self, sel: &EntraSelector) -> Bucket {
        let hit = match sel {
            EntraSelector::Upn(u) => self.by_upn.get(&CiKey(u.as_str())),
            EntraSelector::Id(id) => self.by_id.get(&CiKey(id)),
        };
        // A copy: the map's keys borrow the objects read, the selector only lives here.
        hit.cloned().unwrap_or(Bucket::Many(Vec::new()))
    }
}

pub(crate) fn ad_matches(sel: &AdSelector, u: &AdUser) -> bool {
    match sel {
        AdSelector::SamAccountName(s) => u.sam_account_name.as_ref() == Some(s),
        AdSelector::Dn(dn) => &u.dn == dn,
        AdSelector::ObjectGuid(g) => &u.object_guid == g,
        AdSelector::Upn(upn) => u.upn.as_ref() == Some(upn),
    }
}

pub(crate) fn cloud_matches(sel: &EntraSelector, u: &CloudUser) -> bool {
    match sel {
        EntraSelector::Upn(upn) => &u.upn == upn,
        EntraSelector::Id(id) => u.id.eq_ignore_ascii_case(id),
    }
}

/// Every SMTP address a cloud user answers to: proxy addresses and `mail` (may repeat one).
fn cloud_smtp(u: &CloudUser) -> impl Iterator<Item = CiKey<'_>> {
    u.proxy_addresses
        .iter()
        .filter_map(|v| ProxyAddress::parse(v))
        .filter(ProxyAddress::is_smtp)
        .map(|p| CiKey(p.address))
        .chain(u.mail.as_deref().map(CiKey))
}

struct Joiner<'a> {
    desired: &'a DesiredState,
    ad: &'a [AdUser],
    cloud: &'a [CloudUser],
    universe: Universe,
    ad_blocked: Vec<bool>,
    cloud_blocked: Vec<bool>,
    /// The first conflict each AD user is in.
    ad_conflict: Vec<Option<usize>>,
    /// Partner found so far.
    ad_pair: Vec<Option<(usize, MatchKind)>>,
    cloud_pair: Vec<Option<usize>>,
    ad_spec: Vec<Option<usize>>,
    cloud_spec: Vec<Option<usize>>,
    conflicts: Vec<Conflict>,
    ad_index: AdIndex<'a>,
    cloud_index: CloudIndex<'a>,
    /// Cloud users in the universe by UPN (for soft match and duplicate checks).
    cloud_by_upn: HashMap<CiKey<'a>, Bucket>,
    /// Each AD user's UPN after `upn_suffixes`.
    ad_routable: Vec<Option<std::borrow::Cow<'a, Upn>>>,
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
                for &i in ad_index.find(sel).as_slice() {
                    ad_ok[i] = false;
                }
            }
            if let Some(sel) = &spec.entra {
                for &i in cloud_index.find(sel).as_slice() {
                    cloud_ok[i] = false;
                }
            }
        }
        let mut cloud_by_upn: HashMap<CiKey<'a>, Bucket> = HashMap::with_capacity(cloud.len());
        for (i, u) in cloud.iter().enumerate().filter(|(i, _)| cloud_ok[*i]) {
            index(&mut cloud_by_upn, CiKey(u.upn.as_str()), i);
        }
        let ad_routable = ad
            .iter()
            .map(|u| u.upn.as_ref().map(|upn| desired.routable_upn(upn)))
            .collect();
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
            cloud_by_upn,
            ad_routable,
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
        format!("{} (entra {})", self.cloud[i].upn, self.cloud[i].id)
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
        for &i in ads {
            self.ad_blocked[i] = true;
            self.ad_conflict[i].get_or_insert(self.conflicts.len());
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
        // Hash-map order is random; conflicts are sorted afterwards.
        for (kind, identity, ads, clouds, message) in groups {
            self.conflict(kind, identity, &ads, &clouds, message);
        }
    }

    fn duplicate_groups(&self) -> Vec<DuplicateGroup> {
        let mut ad_upn: HashMap<CiKey<'_>, Bucket> = HashMap::new();
        let mut ad_smtp: HashMap<CiKey<'_>, Bucket> = HashMap::new();
        for i in self.ad_indices() {
            if let Some(upn) = &self.ad_routable[i] {
                index(&mut ad_upn, CiKey(upn.as_str()), i);
            }
            let primary = self.ad[i]
                .proxy_addresses
                .iter()
                .filter_map(|v| ProxyAddress::parse(v))
                .find(ProxyAddress::is_primary_smtp);
            if let Some(p) = primary {
                index(&mut ad_smtp, CiKey(p.address), i);
            }
        }
        let mut cloud_smtp_index: HashMap<CiKey<'_>, Bucket> =
            HashMap::with_capacity(self.cloud.len());
        for i in self.cloud_indices() {
            for a in cloud_smtp(&self.cloud[i]) {
                index(&mut cloud_smtp_index, a, i);
            }
        }
        let mut groups: Vec<DuplicateGroup> = Vec::new();
        for (upn, ids) in ad_upn.iter().filter(|(_, v)| v.len() > 1) {
            let n = ids.len();
            groups.push((
                ConflictKind::DuplicateUpn,
                upn.0.to_owned(),
                ids.as_slice().to_vec(),
                vec![],
                format!(
                    "{n} in-scope AD users share the UPN {} (after upn_suffixes)",
                    upn.0
                ),
            ));
        }
        for (smtp, ids) in ad_smtp.iter().filter(|(_, v)| v.len() > 1) {
            let n = ids.len();
            groups.push((
                ConflictKind::DuplicateSmtp,
                smtp.0.to_owned(),
                ids.as_slice().to_vec(),
                vec![],
                format!(
                    "{n} in-scope AD users have the primary SMTP address {}",
                    smtp.0
                ),
            ));
        }
        for (upn, ids) in self.cloud_by_upn.iter().filter(|(_, v)| v.len() > 1) {
            let n = ids.len();
            groups.push((
                ConflictKind::DuplicateUpn,
                upn.0.to_owned(),
                vec![],
                ids.as_slice().to_vec(),
                format!("{n} cloud users share the UPN {}", upn.0),
            ));
        }
        for (smtp, ids) in cloud_smtp_index.iter().filter(|(_, v)| v.len() > 1) {
            let n = ids.len();
            groups.push((
                ConflictKind::DuplicateSmtp,
                smtp.0.to_owned(),
                vec![],
                ids.as_slice().to_vec(),
                format!("{n} cloud users answer to the SMTP address {}", smtp.0),
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
                Some(sel) => match self
                    .ad_index
                    .find(sel)
                    .iter()
                    .copied()
                    .find(|&i| self.universe.ad_ok[i])
                {
                    Some(i) => Some(i),
                    None => {
                        let cloud = spec.entra.as_ref().and_then(|sel| self.find_cloud(sel));
                        let outside = !self.ad_index.find(sel).is_empty();
                        let why = if outside {
                            "is outside scope"
                        } else {
                            "does not exist"
                        };
                        self.conflict(
                            ConflictKind::MissingObject,
                            name,
                            &[],
                            cloud.as_slice(),
                            format!(
                                "identities[] at {} names AD {}, which {why}",
                                spec.origin,
                                describe_ad(sel)
                            ),
                        );
                        continue;
                    }
                },
                None => None,
            };
            let cloud = match &spec.entra {
                Some(sel) => match self.find_cloud(sel) {
                    Some(i) => Some(i),
                    None => {
                        self.conflict(
                            ConflictKind::MissingObject,
                            name,
                            ad.as_slice(),
                            &[],
                            format!(
                                "identities[] at {} names cloud user {}, which does not exist",
                                spec.origin,
                                describe_entra(sel)
                            ),
                        );
                        continue;
                    }
                },
                None => None,
            };
            let ad_taken = ad.and_then(|i| self.ad_spec[i]);
            let cloud_taken = cloud.and_then(|i| self.cloud_spec[i]);
            if let Some(other) = ad_taken.or(cloud_taken) {
                let first = self.desired.identities[other].origin.clone();
                self.conflict(
                    ConflictKind::DuplicateIdentity,
                    name,
                    ad.as_slice(),
                    cloud.as_slice(),
                    format!(
                        "identities[] at {} and at {first} name the same object",
                        spec.origin
                    ),
                );
                continue;
            }
            if let Some(i) = ad {
                self.ad_spec[i] = Some(s);
            }
            if let Some(i) = cloud {
                self.cloud_spec[i] = Some(s);
            }
            if let (Some(a), Some(c)) = (ad, cloud) {
                self.ad_pair[a] = Some((c, MatchKind::Explicit));
                self.cloud_pair[c] = Some(a);
            }
        }
    }

    fn find_cloud(&self, sel: &EntraSelector) -> Option<usize> {
        self.cloud_index
            .find(sel)
            .iter()
            .copied()
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
        for a in self.ad_indices().collect::<Vec<_>>() {
            if !self.free_ad(a) {
                continue;
            }
            let Some(id) = self.ad[a].owner_marker() else {
                continue;
            };
            if let Some(&c) = self
                .cloud_index
                .by_id
                .get(&CiKey(id))
                .and_then(|v| v.as_slice().first())
                && self.free_cloud(c)
            {
                self.ad_pair[a] = Some((c, MatchKind::Marker));
                self.cloud_pair[c] = Some(a);
            }
        }
    }

    fn hard_and_soft(&mut self) {
        let anchor = self.desired.source_anchor;
        let cloud: &'a [CloudUser] = self.cloud;
        let mut by_immutable: HashMap<&'a str, Bucket> = HashMap::with_capacity(cloud.len());
        let mut by_smtp: HashMap<CiKey<'a>, usize> = HashMap::with_capacity(cloud.len());
        for c in self.cloud_indices() {
            if self.cloud_blocked[c] {
                continue;
            }
            if let Some(id) = cloud[c].immutable_id.as_deref().filter(|s| !s.is_empty()) {
                index(&mut by_immutable, id, c);
            }
            for a in cloud_smtp(&cloud[c]) {
                by_smtp.insert(a, c);
            }
        }

        // Claims per cloud user: (AD index, how).
        let mut claims: HashMap<usize, Vec<(usize, MatchKind)>> = HashMap::new();
        // A conflicted AD user still drags its would-be partner into the conflict, so the
        // partner is not mistaken for a cloud-only user and provisioned a second twin.
        let conflicted: Vec<usize> = self
            .ad_indices()
            .filter(|&a| self.ad_blocked[a] && self.ad_pair[a].is_none())
            .collect();
        for a in conflicted {
            let candidate = self.candidate(a, &by_immutable, &by_smtp);
            if let (Some(c), Some(k)) = (candidate, self.ad_conflict[a])
                && self.cloud_pair[c].is_none()
                && !self.cloud_blocked[c]
            {
                self.cloud_blocked[c] = true;
                let label = self.cloud_label(c);
                self.conflicts[k].objects.push(label);
            }
        }

        let ad_free: Vec<usize> = self.ad_indices().filter(|&a| self.free_ad(a)).collect();
        for a in ad_free {
            let u = &self.ad[a];
            let anchor_value = immutable_id(u, anchor);
            if let Some(cs) = by_immutable.get(anchor_value.as_str()) {
                for &c in cs.as_slice() {
                    claims.entry(c).or_default().push((a, MatchKind::Hard));
                }
                continue;
            }
            for key in &self.desired.soft_match {
                if let Some(c) = self.soft_candidate(a, *key, &by_smtp) {
                    claims
                        .entry(c)
                        .or_default()
                        .push((a, MatchKind::Soft(*key)));
                    break;
                }
            }
        }

        let mut claimed: Vec<(usize, Vec<(usize, MatchKind)>)> = claims.into_iter().collect();
        claimed.sort_by_key(|(c, _)| *c);
        for (c, mut list) in claimed {
            list.sort_by_key(|(a, _)| *a);
            let cu = &self.cloud[c];
            let cloud_name = cu.upn.to_string();
            if self.cloud_blocked[c] {
                let ads: Vec<usize> = list.iter().map(|(a, _)| *a).collect();
                self.conflict(
                    ConflictKind::AmbiguousMatch,
                    cloud_name.clone(),
                    &ads,
                    &[],
                    format!("matches cloud user {cloud_name}, which is itself in a conflict"),
                );
                continue;
            }
            if let Some(owner) = self.cloud_pair[c] {
                let ads: Vec<usize> = list.iter().map(|(a, _)| *a).collect();
                let owner_dn = self.ad[owner].dn.to_string();
                self.conflict(
                    ConflictKind::AmbiguousMatch,
                    cloud_name.clone(),
                    &ads,
                    &[],
                    format!(
                        "matches cloud user {cloud_name}, which is already paired with {owner_dn}"
                    ),
                );
                continue;
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
                    let expected = immutable_id(&self.ad[a], anchor);
                    match cu.immutable_id.as_deref().filter(|s| !s.is_empty()) {
                        Some(existing) if existing != expected => {
                            let key = match how {
                                MatchKind::Soft(SoftMatchKey::Smtp) => "SMTP address",
                                _ => "UPN",
                            };
                            self.conflict(ConflictKind::InvalidSoftMatch, cloud_name.clone(), &[a], &[c], format!("soft-matches cloud user {cloud_name} by {key}, but its onPremisesImmutableId is {existing}, not this object's anchor {expected} (Entra: InvalidSoftMatch)"));
                        }
                        _ => self.pair(a, c, how),
                    }
                }
                _ => {
                    let ads: Vec<usize> = list.iter().map(|(a, _)| *a).collect();
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
    }

    /// The cloud user an AD user would match first (hard, then soft keys), ignoring conflicts.
    fn candidate(
        &self,
        a: usize,
        by_immutable: &HashMap<&str, Bucket>,
        by_smtp: &HashMap<CiKey<'_>, usize>,
    ) -> Option<usize> {
        let anchor_value = immutable_id(&self.ad[a], self.desired.source_anchor);
        if let Some(&c) = by_immutable
            .get(anchor_value.as_str())
            .and_then(|v| v.as_slice().first())
        {
            return Some(c);
        }
        self.desired
            .soft_match
            .iter()
            .find_map(|key| self.soft_candidate(a, *key, by_smtp))
    }

    /// The cloud user AD user `a` soft-matches by one key.
    fn soft_candidate(
        &self,
        a: usize,
        key: SoftMatchKey,
        by_smtp: &HashMap<CiKey<'_>, usize>,
    ) -> Option<usize> {
        match key {
            SoftMatchKey::Smtp => self.ad[a]
                .proxy_addresses
                .iter()
                .filter_map(|v| ProxyAddress::parse(v))
                .find(ProxyAddress::is_primary_smtp)
                .and_then(|p| by_smtp.get(&CiKey(p.address)).copied()),
            SoftMatchKey::Upn => self.ad_routable[a].as_ref().and_then(|upn| {
                self.cloud_by_upn
                    .get(&CiKey(upn.as_str()))
                    .and_then(|v| v.as_slice().first().copied())
            }),
        }
    }

    fn pair(&mut self, a: usize, c: usize, how: MatchKind) {
        self.ad_pair[a] = Some((c, how));
        self.cloud_pair[c] = Some(a);
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
                Some((c, how)) if !self.cloud_blocked[c] => joints.push(Joint {
                    ad: Some(a),
                    cloud: Some(c),
                    how: Some(how),
                    spec: self.ad_spec[a].or(self.cloud_spec[c]),
                }),
                Some(_) => {}
                None => joints.push(Joint {
                    ad: Some(a),
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
                    cloud: Some(c),
                    how: None,
                    spec: self.cloud_spec[c],
                });
            }
        }
        let mut conflicts = self.conflicts;
        // Duplicates come out of hash maps; callers see a stable order.
        conflicts.sort_by(|a, b| {
            (a.kind, &a.identity, &a.objects).cmp(&(b.kind, &b.identity, &b.objects))
        });
        Joined {
            joints,
            conflicts,
            ad_in_scope,
            ad_blocked: self.ad_blocked,
            cloud_blocked: self.cloud_blocked,
            ad_index: self.ad_index,
            cloud_index: self.cloud_index,
        }
    }
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
