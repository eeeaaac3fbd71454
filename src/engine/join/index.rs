//! Lookups the join and the planner share: AD and cloud users by each key an `identities[]`
//! or `protect` entry may use, and the soft-match keys (primary SMTP address, routable UPN).

use std::sync::OnceLock;

use super::super::index::{HashIndex, ci_hash, exact_hash};
use super::{ad_matches, cloud_matches};
use crate::desired::{AdSelector, DesiredState, EntraSelector};
use crate::directory::{AdUser, CloudUser};
use crate::names::{ProxyAddress, eq_ci};

/// Every SMTP address a cloud user answers to: proxy addresses and `mail` (may repeat one).
pub(super) fn cloud_smtp(u: &CloudUser) -> impl Iterator<Item = &str> {
    cloud_proxy_smtp(u).chain(u.mail())
}

/// The SMTP addresses Entra soft-matches a cloud user on: its `smtp:` proxy addresses only
/// (`mail` is not a key: Graph adds it to proxyAddresses itself; how-to-connect-install-
/// existing-tenant, "Sync with existing users").
pub(crate) fn cloud_proxy_smtp(u: &CloudUser) -> impl Iterator<Item = &str> {
    u.proxy_addresses()
        .filter_map(ProxyAddress::parse)
        .filter(ProxyAddress::is_smtp)
        .map(|p| p.address)
}

/// An AD user's primary SMTP address (its `SMTP:` proxy address).
pub(crate) fn primary_smtp(u: &AdUser) -> Option<&str> {
    u.proxy_addresses()
        .filter_map(ProxyAddress::parse)
        .find(ProxyAddress::is_primary_smtp)
        .map(|p| p.address)
}

/// An AD user's UPN after `upn_suffixes`, as (local part, suffix), without allocating.
pub(super) fn routable<'a>(desired: &'a DesiredState, u: &'a AdUser) -> Option<(&'a str, &'a str)> {
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

pub(super) fn routable_hash((local, suffix): (&str, &str)) -> u64 {
    if suffix.is_empty() {
        ci_hash(&[local])
    } else {
        ci_hash(&[local, "@", suffix])
    }
}

/// Whether `upn` is `local@suffix`, without case.
pub(super) fn routable_eq((local, suffix): (&str, &str), upn: &str) -> bool {
    match upn.rsplit_once('@') {
        Some((l, s)) => !suffix.is_empty() && eq_ci(l, local) && eq_ci(s, suffix),
        None => suffix.is_empty() && eq_ci(upn, local),
    }
}

/// Every AD user by each key an `identities[]` or `protect` entry may use. Each index is built
/// the first time it is asked for: a plan without explicit identities builds none. (`OnceLock`,
/// not `OnceCell`: the join's matching pass reads them from every core.)
pub(crate) struct AdIndex<'a> {
    ad: &'a [AdUser],
    by_sam: OnceLock<HashIndex>,
    by_dn: OnceLock<HashIndex>,
    by_guid: OnceLock<HashIndex>,
    by_upn: OnceLock<HashIndex>,
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
            by_sam: OnceLock::new(),
            by_dn: OnceLock::new(),
            by_guid: OnceLock::new(),
            by_upn: OnceLock::new(),
        }
    }

    /// AD users by sAMAccountName without case.
    pub(crate) fn by_sam(&self) -> &HashIndex {
        self.by_sam
            .get_or_init(|| build_index(self.ad, |u| u.sam_account_name().map(|s| ci_hash(&[s]))))
    }

    /// Every AD user by DN (`Dn::hash_value`).
    pub(crate) fn by_dn(&self) -> &HashIndex {
        self.by_dn
            .get_or_init(|| build_index(self.ad, |u| Some(u.dn.hash_value())))
    }

    /// The AD users a selector names (usually one).
    pub(crate) fn find(&self, sel: &AdSelector) -> Vec<usize> {
        let ad = self.ad;
        let (ix, hash) = match sel {
            AdSelector::SamAccountName(s) => (self.by_sam(), ci_hash(&[s.as_str()])),
            AdSelector::Dn(dn) => (self.by_dn(), dn.hash_value()),
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
    by_id: OnceLock<HashIndex>,
    by_upn: OnceLock<HashIndex>,
}

impl<'a> CloudIndex<'a> {
    pub(crate) fn build(cloud: &'a [CloudUser]) -> Self {
        CloudIndex {
            cloud,
            by_id: OnceLock::new(),
            by_upn: OnceLock::new(),
        }
    }

    /// The cloud users indexed.
    pub(crate) fn users(&self) -> &'a [CloudUser] {
        self.cloud
    }

    /// Every cloud user by UPN without case.
    pub(crate) fn upns(&self) -> &HashIndex {
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
    pub(super) fn by_routable<'s>(
        &'s self,
        key: (&'s str, &'s str),
    ) -> impl Iterator<Item = usize> + 's {
        self.upns()
            .candidates(routable_hash(key))
            .filter(move |&c| routable_eq(key, self.cloud[c].upn()))
    }
}
