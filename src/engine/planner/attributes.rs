//! The attribute names reads must carry and the attributes converged on pairs. The AD lists
//! stay plain consts here, one place to edit.

use std::collections::BTreeSet;

use crate::desired::{Authority, DesiredState, IdentitySpec};
use crate::directory::attributes::{self, Mapping};
use crate::names::AttrName;

/// AD attributes a read must carry for anything to be matched at all: an export that says it
/// left one out (ldapsearch's `# requesting:` line) is refused, not planned. From the schema.
pub const AD_REQUIRED_ATTRIBUTES: &[&str] = crate::directory::schema::REQUIRED;

/// AD attributes every read returns, whatever the desired state says. From the schema.
pub const AD_BASE_ATTRIBUTES: &[&str] = crate::directory::schema::BASE;

/// Graph properties every read selects.
pub(super) const GRAPH_BASE_PROPERTIES: &[&str] = &[
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
pub(super) const MATCH_KEYS: &[AttrName] = &[
    AttrName::ON_PREMISES_SYNC_ENABLED,
    AttrName::ON_PREMISES_IMMUTABLE_ID,
    AttrName::PROXY_ADDRESSES,
];

/// Cloud properties a linked pair needs read before anything is planned for it.
pub(super) const PAIR_KEYS: &[AttrName] = &[
    AttrName::ON_PREMISES_SYNC_ENABLED,
    AttrName::ON_PREMISES_IMMUTABLE_ID,
];

/// Identifiers idsync prepares for soft match on every pair, cloud to AD unless `attributes:`
/// says otherwise.
pub(super) const IDENTIFIERS: &[&str] = &["userPrincipalName", "mail"];

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
pub(super) type Converged = (&'static Mapping, Option<Authority>);

/// The attributes to converge on a pair, identifiers aside: everything under `attributes:`
/// plus what this identity overrides.
pub(super) fn converged_attributes(
    d: &DesiredState,
    spec: Option<&IdentitySpec>,
) -> Vec<Converged> {
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
