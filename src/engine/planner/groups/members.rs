//! Memberships: the member set each side of a group must have (`members`, or the other
//! side's mapped through the join with `members_from`), and the per-value edits that get it
//! there — AD `member` DNs, Entra `members` object ids.

use std::collections::BTreeMap;

use super::*;
use crate::desired::MemberRef;

/// One member as one directory names it: a DN (AD) or an object id (Entra) — or, for an
/// object this plan creates, the create's target, with the create it waits for.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub(super) value: Text,
    pub(super) dep: Option<u32>,
}

/// A member resolved on both sides; `label` names it in notes.
struct Both {
    ad: Option<Member>,
    cloud: Option<Member>,
    label: String,
}

impl<'a> Planner<'a> {
    /// The membership edits of group `n` (after its creates were planned).
    pub(super) fn memberships(
        &mut self,
        ix: &Index<'_>,
        twins: &Twins,
        specs: &[&GroupSpec],
        resolved: &[Resolved],
        n: usize,
    ) {
        let spec = specs[n];
        let r = &resolved[n];
        // `None`: that side is not planned (mirrored from, or its members unknown).
        let (ad_want, cloud_want): (Option<Vec<Member>>, Option<Vec<Member>>) = match &spec.members
        {
            Membership::Unmanaged => return,
            Membership::Exact(refs) => {
                let mut ad = Vec::new();
                let mut cloud = Vec::new();
                for m in refs {
                    let both = self.member(ix, twins, resolved, m);
                    let has_ad = r.ad.is_some() || r.ad_create.is_some();
                    let has_cloud = r.cloud.is_some() || r.cloud_create.is_some();
                    match both.ad {
                        Some(m) => ad.push(m),
                        None if has_ad => self.member_note(spec, &both.label, "AD"),
                        None => {}
                    }
                    match both.cloud {
                        Some(m) => cloud.push(m),
                        None if has_cloud => self.member_note(spec, &both.label, "Entra"),
                        None => {}
                    }
                }
                (Some(ad), Some(cloud))
            }
            Membership::From(Side::Entra) => {
                let Some(c) = r.cloud else {
                    return;
                };
                let Some(ids) = &ix.g.cloud[c].members else {
                    self.members_unread(spec, &cloud_group_label(&ix.g.cloud[c]));
                    return;
                };
                let mut ad = Vec::new();
                for id in ids {
                    match self.ad_of_cloud_member(ix, twins, resolved, id) {
                        Some(m) => ad.push(m),
                        None => self.member_note(spec, &format!("cloud member {id}"), "AD"),
                    }
                }
                (Some(ad), None)
            }
            Membership::From(Side::Ad) => {
                let Some(a) = r.ad else {
                    return;
                };
                let Some(dns) = &ix.g.ad[a].members else {
                    self.members_unread(spec, ix.g.ad[a].dn.as_str());
                    return;
                };
                let mut cloud = Vec::new();
                for dn in dns {
                    match self.cloud_of_ad_member(ix, twins, resolved, dn) {
                        Some(m) => cloud.push(m),
                        None => self.member_note(spec, &format!("AD member {dn}"), "Entra"),
                    }
                }
                (None, Some(cloud))
            }
        };
        if let Some(want) = ad_want {
            self.ad_member_edits(ix, twins, spec, r, want);
        }
        if let Some(want) = cloud_want {
            self.cloud_member_edits(ix, spec, r, want);
        }
    }

    fn member_note(&mut self, spec: &GroupSpec, label: &str, side: &str) {
        self.notes.push(Note {
            kind: NoteKind::Unmatched,
            identity: spec.name.clone(),
            message: format!(
                "{label} has no {side} twin (nor one this plan creates): left out of the {side} side of group {}",
                spec.name
            ),
        });
    }

    fn members_unread(&mut self, spec: &GroupSpec, group: &str) {
        self.notes.push(Note {
            kind: NoteKind::Assumption,
            identity: spec.name.clone(),
            message: format!(
                "the members of {group} were not read (the export carries none): no membership of group {} is planned",
                spec.name
            ),
        });
    }

    /// One `members` entry on both sides.
    fn member(&self, ix: &Index<'_>, twins: &Twins, resolved: &[Resolved], m: &MemberRef) -> Both {
        match m {
            MemberRef::Group(name) => {
                let k = ix.group_names.get(name).first().copied();
                let (ad, cloud) = k.map_or((None, None), |k| {
                    (
                        group_ad_member(ix, &resolved[k]),
                        group_cloud_member(ix, &resolved[k]),
                    )
                });
                Both {
                    ad,
                    cloud,
                    label: format!("group:{name}"),
                }
            }
            MemberRef::Identity(name) => {
                let j = ix
                    .identity_names
                    .get(name)
                    .first()
                    .and_then(|&s| twins.joint_of_spec(s));
                let (ad, cloud) = j.map_or((None, None), |j| self.user_sides(twins, j));
                Both {
                    ad,
                    cloud,
                    label: name.clone(),
                }
            }
            MemberRef::Upn(upn) => {
                let cloud_user = self
                    .cloud_index
                    .find(&crate::desired::EntraSelector::Upn(upn.clone()))
                    .first()
                    .copied();
                let ad_user = self
                    .ad_index
                    .find(&crate::desired::AdSelector::Upn(upn.clone()))
                    .first()
                    .copied();
                let joint = cloud_user
                    .and_then(|c| twins.joint_of_cloud(c))
                    .or_else(|| ad_user.and_then(|a| twins.joint_of_ad(a)));
                let (mut ad, mut cloud) = joint.map_or((None, None), |j| self.user_sides(twins, j));
                // An object outside the join (out of scope, ignored) is still a member.
                if ad.is_none() {
                    ad = ad_user.map(|a| Member {
                        value: self.ad[a].dn.as_str().into(),
                        dep: None,
                    });
                }
                if cloud.is_none() {
                    cloud = cloud_user.map(|c| Member {
                        value: self.cloud[c].id().into(),
                        dep: None,
                    });
                }
                Both {
                    ad,
                    cloud,
                    label: upn.as_str().to_owned(),
                }
            }
        }
    }

    /// A user's AD DN and cloud id, existing or created by this plan.
    fn user_sides(&self, twins: &Twins, j: usize) -> (Option<Member>, Option<Member>) {
        let ad = match twins.ad_side(j) {
            (Some(a), _) => {
                let (dn, dep) = twins.after_moves(&self.ad[a].dn);
                Some(Member {
                    value: dn.as_str().into(),
                    dep,
                })
            }
            (None, Some((pos, dn))) => Some(Member {
                value: dn.clone(),
                dep: Some(pos),
            }),
            _ => None,
        };
        let cloud = match twins.cloud_side(j) {
            (Some(c), _) => Some(Member {
                value: self.cloud[c].id().into(),
                dep: None,
            }),
            (None, Some((pos, upn))) => Some(Member {
                value: upn.clone(),
                dep: Some(pos),
            }),
            _ => None,
        };
        (ad, cloud)
    }

    /// The AD member for a cloud group's member id: a user's AD twin, or a managed group's
    /// AD side.
    fn ad_of_cloud_member(
        &self,
        ix: &Index<'_>,
        twins: &Twins,
        resolved: &[Resolved],
        id: &str,
    ) -> Option<Member> {
        if let Some(&c) = self
            .cloud_index
            .find(&crate::desired::EntraSelector::Id(id.to_owned()))
            .first()
        {
            return twins
                .joint_of_cloud(c)
                .and_then(|j| self.user_sides(twins, j).0);
        }
        let g = *ix.cloud_by_id.get(id).first()?;
        let k = resolved.iter().position(|r| r.cloud == Some(g))?;
        group_ad_member(ix, &resolved[k])
    }

    /// The cloud member for an AD group's member DN: a user's cloud twin, or a managed
    /// group's cloud side.
    fn cloud_of_ad_member(
        &self,
        ix: &Index<'_>,
        twins: &Twins,
        resolved: &[Resolved],
        dn: &Dn,
    ) -> Option<Member> {
        if let Some(&a) = self
            .ad_index
            .find(&crate::desired::AdSelector::Dn(dn.clone()))
            .first()
        {
            return twins
                .joint_of_ad(a)
                .and_then(|j| self.user_sides(twins, j).1);
        }
        let g = *ix.ad_by_dn.get(dn)?;
        let k = resolved.iter().position(|r| r.ad == Some(g))?;
        group_cloud_member(ix, &resolved[k])
    }

    fn ad_member_edits(
        &mut self,
        ix: &Index<'_>,
        twins: &Twins,
        spec: &GroupSpec,
        r: &Resolved,
        want: Vec<Member>,
    ) {
        let (existing, created) = (r.ad.map(|a| &ix.g.ad[a]), &r.ad_create);
        // As they will read once this plan's moves ran (AD follows a moved member).
        let current: Vec<Dn> = match existing {
            Some(g) => match &g.members {
                Some(m) => m.iter().map(|dn| twins.after_moves(dn).0.clone()).collect(),
                None => return self.members_unread(spec, g.dn.as_str()),
            },
            None if created.is_some() => Vec::new(),
            None => return,
        };
        let current_set: HashSet<&Dn> = current.iter().collect();
        let mut wanted: BTreeMap<Dn, Option<u32>> = BTreeMap::new();
        for m in want {
            if let Ok(dn) = Dn::parse(&m.value) {
                wanted.entry(dn).or_insert(m.dep);
            }
        }
        let add: Vec<(Dn, Option<u32>)> = wanted
            .iter()
            .filter(|(dn, _)| !current_set.contains(dn))
            .map(|(dn, dep)| (dn.clone(), *dep))
            .collect();
        let mut remove: Vec<&Dn> = current
            .iter()
            .filter(|dn| !wanted.contains_key(dn))
            .collect();
        remove.sort();
        remove.dedup();
        if add.is_empty() && remove.is_empty() {
            return;
        }
        let change = Change::edit(
            "member",
            Value::Null,
            Value::Null,
            add.iter().map(|(dn, _)| Text::from(dn.as_str())).collect(),
            remove.iter().map(|dn| Text::from(dn.as_str())).collect(),
        );
        let mut deps: BTreeSet<u32> = add.iter().filter_map(|(_, d)| *d).collect();
        let mut action = match (existing, created) {
            (Some(g), _) => on_ad_group(ActionKind::Update, &spec.name, g, vec![change]),
            (None, Some((dn, pos))) => {
                deps.insert(*pos);
                Action {
                    id: ActionId(0),
                    action: ActionKind::Update,
                    directory: Side::Ad,
                    kind: ObjectKind::Group,
                    identity: Arc::from(spec.name.as_str()),
                    target: dn.as_str().into(),
                    object: None,
                    changes: Box::new([change]),
                    depends_on: Box::default(),
                    precondition: None,
                    matched: None,
                }
            }
            (None, None) => return,
        };
        action.depends_on = deps.into_iter().map(ActionId).collect();
        self.push_global(action);
    }

    fn cloud_member_edits(
        &mut self,
        ix: &Index<'_>,
        spec: &GroupSpec,
        r: &Resolved,
        want: Vec<Member>,
    ) {
        let (existing, created) = (r.cloud.map(|c| &ix.g.cloud[c]), &r.cloud_create);
        let current: Vec<&str> = match existing {
            Some(g) => match &g.members {
                Some(m) => m.iter().map(String::as_str).collect(),
                None => return self.members_unread(spec, &cloud_group_label(g)),
            },
            None if created.is_some() => Vec::new(),
            None => return,
        };
        let current_set: HashSet<String> = current.iter().map(|id| fold(id)).collect();
        let mut wanted: BTreeMap<String, (Text, Option<u32>)> = BTreeMap::new();
        for m in want {
            wanted.entry(fold(&m.value)).or_insert((m.value, m.dep));
        }
        let add: Vec<(Text, Option<u32>)> = wanted
            .iter()
            .filter(|(k, _)| !current_set.contains(*k))
            .map(|(_, v)| v.clone())
            .collect();
        let mut remove: Vec<&str> = current
            .iter()
            .copied()
            .filter(|id| !wanted.contains_key(&fold(id)))
            .collect();
        remove.sort_unstable();
        remove.dedup();
        if add.is_empty() && remove.is_empty() {
            return;
        }
        if let Some(g) = existing
            && let Err(refusal) = graph_rules::group::check_member_write(&member_write_flags(g))
        {
            // Graph refuses member writes on synced groups (mastered in AD), mail-enabled
            // security groups and distribution lists (Exchange Online's) and rule-based
            // groups: planned around, not attempted.
            let how = if g.sync_enabled {
                "they converge from AD at Entra Connect's next sync"
            } else if g.mail_enabled {
                "Exchange Online masters them; once Entra Connect matches the group with its AD twin (soft match on its SMTP address) they converge from AD"
            } else {
                "its membership rule decides them"
            };
            self.notes.push(Note {
                kind: NoteKind::PendingSync,
                identity: spec.name.clone(),
                message: format!(
                    "cloud group {} differs by {} member(s) to add and {} to remove; Graph refuses member writes on it (\"{}\"): {how}",
                    g.display_name,
                    add.len(),
                    remove.len(),
                    refusal.message
                ),
            });
            return;
        }
        let change = Change::edit(
            "members",
            Value::Null,
            Value::Null,
            add.iter().map(|(v, _)| v.clone()).collect(),
            remove.iter().map(|&id| Text::from(id)).collect(),
        );
        let mut deps: BTreeSet<u32> = add.iter().filter_map(|(_, d)| *d).collect();
        let mut action = match (existing, created) {
            (Some(g), _) => on_entra_group(ActionKind::Update, &spec.name, g, vec![change]),
            (None, Some((label, pos))) => {
                deps.insert(*pos);
                Action {
                    id: ActionId(0),
                    action: ActionKind::Update,
                    directory: Side::Entra,
                    kind: ObjectKind::Group,
                    identity: Arc::from(spec.name.as_str()),
                    target: label.clone(),
                    object: None,
                    changes: Box::new([change]),
                    depends_on: Box::default(),
                    precondition: None,
                    matched: None,
                }
            }
            (None, None) => return,
        };
        action.depends_on = deps.into_iter().map(ActionId).collect();
        self.push_global(action);
    }
}

/// A managed group as a member of another, on the AD side.
fn group_ad_member(ix: &Index<'_>, r: &Resolved) -> Option<Member> {
    // AD relinks a moved member: name it where this plan moves it.
    if let Some((dn, pos)) = &r.ad_moved {
        return Some(Member {
            value: dn.as_str().into(),
            dep: Some(*pos),
        });
    }
    match (r.ad, &r.ad_create) {
        (Some(a), _) => Some(Member {
            value: ix.g.ad[a].dn.as_str().into(),
            dep: None,
        }),
        (None, Some((dn, pos))) => Some(Member {
            value: dn.as_str().into(),
            dep: Some(*pos),
        }),
        _ => None,
    }
}

/// A managed group as a member of another, on the Entra side.
fn group_cloud_member(ix: &Index<'_>, r: &Resolved) -> Option<Member> {
    match (r.cloud, &r.cloud_create) {
        (Some(c), _) => Some(Member {
            value: ix.g.cloud[c].id.as_str().into(),
            dep: None,
        }),
        (None, Some((label, pos))) => Some(Member {
            value: label.clone(),
            dep: Some(*pos),
        }),
        _ => None,
    }
}

/// What an `identities[]` entry is called in `members`: its `name`, else its cloud UPN, else
/// its sAMAccountName (as the loader defaults it).
pub(super) fn identity_name(spec: &crate::desired::IdentitySpec) -> Option<&str> {
    if let Some(name) = &spec.name {
        return Some(name);
    }
    match (&spec.entra, &spec.ad) {
        (Some(crate::desired::EntraSelector::Upn(u)), _) => Some(u.as_str()),
        (_, Some(crate::desired::AdSelector::SamAccountName(s))) => Some(s.as_str()),
        _ => None,
    }
}

/// The properties of a cloud group that decide whether Graph takes member writes (what
/// `graph_rules::group::check_member_write` looks at), without copying its members.
fn member_write_flags(g: &CloudGroup) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("mailEnabled".into(), g.mail_enabled.into());
    m.insert("groupTypes".into(), g.group_types.clone().into());
    m.insert("onPremisesSyncEnabled".into(), g.sync_enabled.into());
    m
}
