//! The state after the plan: each value as the plan leaves it (the last change an action of
//! the object makes), else as it was read.

use std::borrow::Cow;

use foldhash::HashSet;

use crate::engine::index::{HashIndex, ci_hash, exact_hash};

use crate::directory::model::{Prop, UAC_ACCOUNTDISABLE};
use crate::directory::{AdUser, CloudUser};
use crate::names::{AttrName, ProxyAddress};
use crate::plan::{Action, ActionKind, Change, ObjectId, Plan, Side, Value};

pub(super) struct After<'p> {
    actions: &'p [Action],
    /// Positions of the actions on existing objects, filed under a hash of the object's key
    /// (AD objectGUID; Entra object id as read, without case): 8 bytes an action, and looked up
    /// without parsing or allocating (a first plan of a million pairs asks for every one).
    by_object: HashIndex,
    /// Anchors of the cloud users this plan creates (Entra Connect hard-matches those).
    created_anchors: HashSet<&'p str>,
}

fn text_of(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Text(t) => Some(Cow::Borrowed(t.as_str())),
        Value::List(l) => l.first().map(|t| Cow::Borrowed(t.as_str())),
    }
}

impl<'p> After<'p> {
    /// `needed`: whether any rule will look values up (else nothing is indexed).
    pub(super) fn new(plan: &'p Plan, needed: bool) -> Self {
        let mut by_object = HashIndex::default();
        let mut created_anchors = HashSet::default();
        if needed {
            for (i, a) in (0u32..).zip(&plan.actions) {
                if let Some(o) = &a.object {
                    by_object.insert(object_hash(a.directory, o), i as usize);
                }
                if a.action == ActionKind::Create
                    && a.directory == Side::Entra
                    && let Some(anchor) =
                        change_in(a, "onPremisesImmutableId").and_then(|c| c.after.as_str())
                {
                    created_anchors.insert(anchor);
                }
            }
        }
        After {
            actions: &plan.actions,
            by_object,
            created_anchors,
        }
    }

    /// Positions (ascending) of the plan's actions on AD object `ad`.
    pub(super) fn ad_actions(&self, ad: &AdUser) -> Vec<u32> {
        let key = ObjectId::from(ad.object_guid);
        self.positions(Side::Ad, &key, |o| *o == key)
    }

    /// Positions (ascending) of the plan's actions on cloud user `cloud`.
    pub(super) fn cloud_actions(&self, cloud: &CloudUser) -> Vec<u32> {
        let id = cloud.id();
        self.positions_by(ci_hash(&[id]) ^ ENTRA_TAG, Side::Entra, |o| names(o, id))
    }

    fn positions(&self, side: Side, key: &ObjectId, same: impl Fn(&ObjectId) -> bool) -> Vec<u32> {
        self.positions_by(object_hash(side, key), side, same)
    }

    fn positions_by(&self, hash: u64, side: Side, same: impl Fn(&ObjectId) -> bool) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .by_object
            .candidates(hash)
            .filter(|&i| {
                let a = &self.actions[i];
                a.directory == side && a.object.as_ref().is_some_and(&same)
            })
            .map(|i| i as u32)
            .collect();
        out.sort_unstable();
        out
    }

    /// The last change the plan's actions at `positions` make to `attribute`.
    fn last_change(&self, positions: &[u32], attribute: &str) -> Option<&'p Change> {
        positions
            .iter()
            .rev()
            .find_map(|&i| change_in(&self.actions[i as usize], attribute))
    }

    fn ad_change(&self, ad: &AdUser, attribute: &str) -> Option<&'p Change> {
        self.last_change(&self.ad_actions(ad), attribute)
    }

    fn cloud_change(&self, cloud: &CloudUser, attribute: &str) -> Option<&'p Change> {
        self.last_change(&self.cloud_actions(cloud), attribute)
    }

    /// An AD text attribute after the plan, given the object's actions (`ad_actions`).
    pub(super) fn ad_text_in<'u>(
        &self,
        positions: &[u32],
        ad: &'u AdUser,
        name: AttrName,
        ldap: &str,
    ) -> Option<Cow<'u, str>>
    where
        'p: 'u,
    {
        match self.last_change(positions, ldap) {
            Some(c) => text_of(&c.after),
            None => ad.attr(name).map(Cow::Borrowed),
        }
    }

    /// A cloud property of the attribute table after the plan, given the object's actions
    /// (`cloud_actions`); read by its interned name, without a lookup by spelling.
    pub(super) fn cloud_value_in<'u>(
        &self,
        positions: &[u32],
        cloud: &'u CloudUser,
        m: &crate::directory::attributes::Mapping,
    ) -> Option<Cow<'u, str>>
    where
        'p: 'u,
    {
        if let Some(c) = self.last_change(positions, m.graph) {
            return text_of(&c.after);
        }
        let prop = cloud.properties.get(m.graph_name)?;
        prop.as_str()
            .or_else(|| prop.first_item())
            .map(Cow::Borrowed)
    }

    /// An AD text attribute after the plan.
    pub(super) fn ad_text<'u>(
        &self,
        ad: &'u AdUser,
        name: AttrName,
        ldap: &str,
    ) -> Option<Cow<'u, str>>
    where
        'p: 'u,
    {
        match self.ad_change(ad, ldap) {
            Some(c) => text_of(&c.after),
            None => ad.attr(name).map(Cow::Borrowed),
        }
    }

    pub(super) fn ad_disabled(&self, ad: &AdUser) -> bool {
        match self
            .ad_change(ad, "userAccountControl")
            .and_then(|c| c.after.as_str())
            .and_then(|v| v.parse::<u32>().ok())
        {
            Some(uac) => uac & UAC_ACCOUNTDISABLE != 0,
            None => ad.is_disabled(),
        }
    }

    /// AD's primary SMTP address after the plan (its `SMTP:` proxy address).
    pub(super) fn ad_primary_smtp(&self, ad: &AdUser) -> Option<String> {
        let primary = |mut it: Box<dyn Iterator<Item = &str> + '_>| {
            it.find_map(|v| {
                ProxyAddress::parse(v)
                    .filter(ProxyAddress::is_primary_smtp)
                    .map(|p| p.address.to_owned())
            })
        };
        match self.ad_change(ad, "proxyAddresses") {
            Some(c) => primary(Box::new(c.after.texts().iter().map(|t| t.as_str()))),
            None => primary(Box::new(ad.proxy_addresses())),
        }
    }

    /// A cloud property after the plan, as text (the first entry of a list).
    pub(super) fn cloud_text<'u>(&self, cloud: &'u CloudUser, graph: &str) -> Option<Cow<'u, str>>
    where
        'p: 'u,
    {
        if let Some(c) = self.cloud_change(cloud, graph) {
            return text_of(&c.after);
        }
        let read = match graph {
            "onPremisesImmutableId" => cloud.immutable_id(),
            "userPrincipalName" => Some(cloud.upn()),
            _ => cloud.text(graph).or_else(|| {
                crate::directory::attributes::by_graph(graph)
                    .and_then(|m| cloud.properties.get(m.graph_name))
                    .and_then(Prop::first_item)
            }),
        };
        read.map(Cow::Borrowed)
    }

    pub(super) fn cloud_upn<'u>(&self, cloud: &'u CloudUser) -> Cow<'u, str>
    where
        'p: 'u,
    {
        self.cloud_text(cloud, "userPrincipalName")
            .unwrap_or(Cow::Borrowed(cloud.upn()))
    }

    pub(super) fn cloud_enabled(&self, cloud: &CloudUser) -> Option<bool> {
        match self.cloud_change(cloud, "accountEnabled").map(|c| &c.after) {
            Some(Value::Bool(b)) => Some(*b),
            _ => cloud.account_enabled,
        }
    }

    /// The cloud user's SMTP proxy addresses after the plan.
    pub(super) fn cloud_smtp(&self, cloud: &CloudUser) -> Vec<String> {
        let smtp = |v: &str| {
            ProxyAddress::parse(v)
                .filter(ProxyAddress::is_smtp)
                .map(|p| p.address.to_owned())
        };
        match self.cloud_change(cloud, "proxyAddresses") {
            Some(c) => c.after.texts().iter().filter_map(|t| smtp(t)).collect(),
            None => cloud.proxy_addresses().filter_map(smtp).collect(),
        }
    }

    /// Whether the plan links the cloud user (sets its anchor) to some AD object.
    pub(super) fn cloud_linked(&self, cloud: &CloudUser) -> bool {
        self.cloud_actions(cloud)
            .iter()
            .any(|&i| self.actions[i as usize].action == ActionKind::Link)
    }

    /// Whether this plan creates a cloud user carrying `anchor`.
    pub(super) fn creates_cloud_user(&self, anchor: &str) -> bool {
        self.created_anchors.contains(anchor)
    }
}

/// Keeps AD and Entra keys apart in the one index.
const ENTRA_TAG: u64 = 0x5bd1_e995_0000_0001;

/// The index key of an action's object: an AD objectGUID, or a cloud object id without case
/// (hashed as its text, as a cloud user's id is looked up).
fn object_hash(side: Side, o: &ObjectId) -> u64 {
    match (side, o) {
        (Side::Ad, ObjectId::Guid(g)) => exact_hash(&g.0),
        (Side::Ad, ObjectId::Text(t)) => ci_hash(&[t.as_str()]),
        (Side::Entra, ObjectId::Text(t)) => ci_hash(&[t.as_str()]) ^ ENTRA_TAG,
        (Side::Entra, ObjectId::Guid(g)) => {
            let mut buf = [0u8; 36];
            ci_hash(&[guid_text(g, &mut buf)]) ^ ENTRA_TAG
        }
    }
}

/// Whether an action's object is the cloud user with object id `id` (as read).
fn names(o: &ObjectId, id: &str) -> bool {
    match o {
        ObjectId::Text(t) => crate::names::eq_ci(t.as_str(), id),
        ObjectId::Guid(g) => {
            let mut buf = [0u8; 36];
            guid_text(g, &mut buf).eq_ignore_ascii_case(id)
        }
    }
}

/// A GUID's canonical text (lowercase, hyphenated) in `buf`, without allocating.
fn guid_text<'b>(g: &crate::directory::Guid, buf: &'b mut [u8; 36]) -> &'b str {
    use std::io::Write as _;
    let mut w: &mut [u8] = &mut buf[..];
    // Cannot fail: a GUID's text is exactly 36 ASCII bytes.
    write!(w, "{g}").expect("a GUID is 36 characters");
    std::str::from_utf8(&buf[..]).expect("a GUID's text is ASCII")
}

fn change_in<'a>(a: &'a Action, attribute: &str) -> Option<&'a Change> {
    a.changes.iter().find(|c| c.attribute == attribute)
}
