//! Hard match on the anchor, then soft match, and settling the claims on each cloud user.

use super::super::index::{HashIndex, ci_hash, exact_hash};
use super::index::{cloud_proxy_smtp, primary_smtp, routable};
use super::{Joiner, MatchKind, base64_anchor, small};
use crate::desired::SoftMatchKey;
use crate::names::eq_ci;
use crate::plan::ConflictKind;

impl Joiner<'_> {
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

    pub(super) fn hard_and_soft(&mut self) {
        // The two indexes of the usable cloud users, one per core.
        let usable = |c: &usize| !self.cloud_blocked[*c];
        let (by_immutable, by_smtp) = crate::parallel::both(
            || {
                let mut ix = HashIndex::with_capacity(self.cloud.len());
                for c in self.cloud_indices().filter(usable) {
                    if let Some(id) = self.cloud[c].immutable_id().filter(|s| !s.is_empty()) {
                        ix.insert(exact_hash(id.as_bytes()), c);
                    }
                }
                ix
            },
            || {
                let mut ix = HashIndex::with_capacity(self.cloud.len());
                for c in self.cloud_indices().filter(usable) {
                    let mut last = None;
                    for a in cloud_proxy_smtp(&self.cloud[c]) {
                        let h = ci_hash(&[a]);
                        if last != Some(h) {
                            ix.insert(h, c);
                        }
                        last = Some(h);
                    }
                }
                ix
            },
        );
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

        // Claims: (cloud user, AD user, how), grouped by cloud user after sorting. Finding them
        // only reads, so it runs on every core.
        let this = &*self;
        let mut claims: Vec<(u32, u32, MatchKind)> =
            crate::parallel::ranges(self.ad.len(), |range| this.claims(range, &by_immutable))
                .concat();
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

    /// The claims of the free AD users in `range`: every cloud user holding the AD user's
    /// anchor, or else the first soft match.
    fn claims(
        &self,
        range: std::ops::Range<usize>,
        by_immutable: &HashIndex,
    ) -> Vec<(u32, u32, MatchKind)> {
        let source_anchor = self.desired.source_anchor;
        let mut claims = Vec::new();
        for a in range {
            if !self.free_ad(a) {
                continue;
            }
            let anchor = base64_anchor(&self.ad[a], source_anchor);
            let before = claims.len();
            claims.extend(
                self.by_anchor(by_immutable, &anchor)
                    .map(|c| (small(c), small(a), MatchKind::Hard)),
            );
            if claims.len() > before {
                continue;
            }
            if let Some((c, key)) = self
                .soft_keys()
                .find_map(|key| Some((self.soft_candidate(a, key)?, key)))
            {
                claims.push((small(c), small(a), MatchKind::Soft(key)));
            }
        }
        claims
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
                            "soft-matches cloud user {cloud_name} by {key}, but its onPremisesImmutableId is {existing}, not this object's anchor {expected} (Entra: InvalidSoftMatch). Since duplicate attribute resiliency, Entra Connect will then create a second cloud user with the duplicate {key} quarantined (a UPN like <prefix>+NNNN@<initial domain>) instead of failing"
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
        self.soft_keys().find_map(|key| self.soft_candidate(a, key))
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
                    .filter(|&c| cloud_proxy_smtp(&self.cloud[c]).any(|x| eq_ci(x, address)))
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
}
