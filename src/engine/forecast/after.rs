//! The state after the plan: each value as the plan leaves it (the last change an action of
//! the object makes), else as it was read.

use std::borrow::Cow;

use foldhash::{HashMap, HashSet};

use crate::directory::model::{Prop, UAC_ACCOUNTDISABLE};
use crate::directory::{AdUser, CloudUser};
use crate::names::{AttrName, ProxyAddress};
use crate::plan::{Action, ActionKind, Change, ObjectId, Plan, Side, Value};

pub(super) struct After<'p> {
    actions: &'p [Action],
    /// Positions of the actions on each object (AD objectGUID, Entra object id).
    by_object: HashMap<(Side, ObjectId), Vec<u32>>,
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
        let mut by_object: HashMap<(Side, ObjectId), Vec<u32>> = HashMap::default();
        let mut created_anchors = HashSet::default();
        if needed {
            for (i, a) in (0u32..).zip(&plan.actions) {
                if let Some(o) = &a.object {
                    by_object
                        .entry((a.directory, o.clone()))
                        .or_default()
                        .push(i);
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

    fn actions_on(&self, side: Side, id: ObjectId) -> impl Iterator<Item = &'p Action> + '_ {
        self.by_object
            .get(&(side, id))
            .into_iter()
            .flatten()
            .map(|&i| &self.actions[i as usize])
    }

    /// The last change the plan makes to `attribute` of the object.
    fn change(&self, side: Side, id: ObjectId, attribute: &str) -> Option<&'p Change> {
        if self.by_object.is_empty() {
            return None;
        }
        self.actions_on(side, id)
            .filter_map(|a| change_in(a, attribute))
            .last()
    }

    fn ad_change(&self, ad: &AdUser, attribute: &str) -> Option<&'p Change> {
        self.change(Side::Ad, ad.object_guid.into(), attribute)
    }

    fn cloud_change(&self, cloud: &CloudUser, attribute: &str) -> Option<&'p Change> {
        self.change(Side::Entra, ObjectId::from(cloud.id()), attribute)
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
        !self.by_object.is_empty()
            && self
                .actions_on(Side::Entra, ObjectId::from(cloud.id()))
                .any(|a| a.action == ActionKind::Link)
    }

    /// Whether this plan creates a cloud user carrying `anchor`.
    pub(super) fn creates_cloud_user(&self, anchor: &str) -> bool {
        self.created_anchors.contains(anchor)
    }
}

fn change_in<'a>(a: &'a Action, attribute: &str) -> Option<&'a Change> {
    a.changes.iter().find(|c| c.attribute == attribute)
}
