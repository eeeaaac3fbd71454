//! Duplicates found before matching: the same UPN or SMTP address on two in-scope objects of
//! one directory blocks them all (Entra Connect would refuse or quarantine one).

use super::super::index::{ci_hash, shared_keys};
use super::index::{cloud_smtp, primary_smtp, routable, routable_hash};
use super::{DuplicateGroup, Joiner, small};
use crate::names::eq_ci;
use crate::plan::ConflictKind;

impl Joiner<'_> {
    /// The same UPN or primary SMTP address on two in-scope objects of one directory.
    pub(super) fn duplicates(&mut self) {
        let groups = self.duplicate_groups();
        for (kind, identity, ads, clouds, message) in groups {
            self.conflict(kind, identity, &ads, &clouds, message);
        }
    }

    /// AD's duplicates, then the cloud's: each directory's searched on a core of its own.
    fn duplicate_groups(&self) -> Vec<DuplicateGroup> {
        let (mut groups, cloud) =
            crate::parallel::both(|| self.ad_duplicates(), || self.cloud_duplicates());
        groups.extend(cloud);
        groups
    }

    fn ad_duplicates(&self) -> Vec<DuplicateGroup> {
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

        groups
    }

    fn cloud_duplicates(&self) -> Vec<DuplicateGroup> {
        let mut groups: Vec<DuplicateGroup> = Vec::new();
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
}
