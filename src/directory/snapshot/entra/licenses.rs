//! Licenses in a snapshot folder: `assignLicense` for users (`users.json`) and groups
//! (`groups.json`), with the rules the Graph emulator applies too (`graph_rules::license`):
//! Graph's refusals (a SKU the tenant lacks, a disabled plan not in it, no usage location, no
//! free unit, a per-user removal of a license inherited from a group), group-based licensing
//! reaching the groups' user members, and each SKU's `consumedUnits` in `subscribedSkus.json`
//! moved by one per user that gains or loses it. Everything is written by the same
//! [`EntraSnapshot::save`] as the other writes: every file checked first, each replaced by one
//! rename, every byte not changed kept.
//!
//! What the folder does not say is not guessed:
//! - a user or group whose object does not carry `assignedLicenses` refuses a license write
//!   (its licenses are unknown, so a write would make up the rest);
//! - a user that does not carry `usageLocation` is not refused for it (unknown, not missing);
//! - without `subscribedSkus.json` the SKUs, plans and units are not checked or counted;
//! - `licenseAssignmentStates` is written only on users whose object carries it;
//! - group-based licensing reaches members of groups that carry `members`.

use std::collections::BTreeSet;

use graph_rules::license::{self as rules, Assign, Grant, Holder, License, Subscription};
use serde_json::{Map, Value, json};

use super::collection::Origin;
use super::groups::{convert_group, label, not_found, refused};
use super::{EntraSnapshot, Slot};
use crate::directory::model::CloudUser;
use crate::directory::{CloudGroup, DirectoryError};
use crate::names::fold;

fn assign_of(add: Vec<(String, Vec<String>)>, remove: Vec<String>) -> Assign {
    let ids = |v: Vec<String>| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_ascii_lowercase()).collect();
        v.sort();
        v.dedup();
        v
    };
    Assign {
        add: add
            .into_iter()
            .map(|(sku, plans)| License {
                sku_id: sku.to_ascii_lowercase(),
                disabled_plans: ids(plans),
            })
            .collect(),
        remove: ids(remove),
    }
}

fn unread(object: &str, file: &str, what: &str) -> DirectoryError {
    DirectoryError::Other(format!(
        "{object}: {file} does not carry {what}, so the snapshot cannot change its licenses; export it with `idsync snapshot --from entra`"
    ))
}

impl EntraSnapshot {
    /// The tenant's subscriptions, `None` when the folder has no `subscribedSkus.json`.
    fn subscriptions(&mut self) -> Result<Option<Vec<Subscription>>, DirectoryError> {
        let skus = &self.kinds()?.skus;
        if skus.unknown.is_some() {
            return Ok(None);
        }
        // Its units move with the write: refused now rather than at the flush.
        skus.writable()?;
        Ok(Some(
            skus.objects
                .iter()
                .filter_map(Subscription::from_graph)
                .collect(),
        ))
    }

    /// A user is deleted: the units it held are freed. Skipped where `subscribedSkus.json` is
    /// unknown or cannot be written back (as [`EntraSnapshot::forget_member`] skips groups).
    pub(super) fn release_units(&mut self, user: &Map<String, Value>) {
        let held = rules::assigned_from(&rules::grants_of(user));
        if held.is_empty() {
            return;
        }
        let Ok(kinds) = self.kinds() else { return };
        let skus = &mut kinds.skus;
        if skus.unknown.is_some() || skus.writable().is_err() {
            return;
        }
        for l in held {
            let Some(j) = skus.objects.iter().position(|o| {
                o.get("skuId")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.eq_ignore_ascii_case(&l.sku_id))
            }) else {
                continue;
            };
            let mut sku = skus.objects[j].clone();
            let n = sku
                .get("consumedUnits")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            sku.insert("consumedUnits".into(), json!(n.saturating_sub(1)));
            skus.replace(j, sku);
        }
    }

    /// `POST /users/{id}/assignLicense`.
    pub(super) fn assign_user_license(
        &mut self,
        id: &str,
        add: Vec<(String, Vec<String>)>,
        remove: Vec<String>,
    ) -> Result<CloudUser, DirectoryError> {
        let assign = assign_of(add, remove);
        let i = self.find(id).ok_or_else(|| not_found(id))?;
        let user = &self.object(i).into_owned();
        let object = user
            .get("userPrincipalName")
            .and_then(Value::as_str)
            .unwrap_or(id)
            .to_owned();
        if !user.contains_key("assignedLicenses") {
            return Err(unread(&object, "users.json", "assignedLicenses"));
        }
        let grants = rules::grants_of(user);
        let located = !user.contains_key("usageLocation") || rules::has_usage_location(user);
        let skus = self.subscriptions()?;
        let granted = rules::assign_user(skus.as_deref(), &grants, located, &assign)
            .map_err(|e| refused(&object, e))?;
        let direct = granted
            .into_iter()
            .filter(|g| g.by_group.is_none())
            .collect();
        self.settle(Some((i, direct)), skus)?;
        self.convert(&self.object(i))
    }

    /// `POST /groups/{id}/assignLicense`.
    pub(super) fn assign_group_license(
        &mut self,
        id: &str,
        add: Vec<(String, Vec<String>)>,
        remove: Vec<String>,
    ) -> Result<CloudGroup, DirectoryError> {
        let assign = assign_of(add, remove);
        let skus = self.subscriptions()?;
        let path = self.file.path.clone();
        let groups = &mut self.kinds()?.groups;
        let gi = groups.position(id).ok_or_else(|| not_found(id))?;
        let object = label(&groups.objects[gi], id);
        let mut group = groups.objects[gi].clone();
        if !group.contains_key("assignedLicenses") {
            return Err(unread(&object, "groups.json", "assignedLicenses"));
        }
        if !matches!(group.get("members"), Some(Value::Array(_))) {
            return Err(unread(&object, "groups.json", "members"));
        }
        let assigned = rules::licenses_from(group.get("assignedLicenses"));
        let licenses = rules::assign_group(skus.as_deref(), &assigned, &assign)
            .map_err(|e| refused(&object, e))?;
        group.insert("assignedLicenses".into(), rules::licenses_json(&licenses));
        let cloud = convert_group(&path, &group)?;
        groups.replace(gi, group);
        self.settle(None, skus)?;
        Ok(cloud)
    }

    /// Group-based licensing and units after a license write ([`rules::settle`]); `direct`
    /// replaces one user's direct grants.
    fn settle(
        &mut self,
        direct: Option<(usize, Vec<Grant>)>,
        skus: Option<Vec<Subscription>>,
    ) -> Result<(), DirectoryError> {
        let kinds = self.kinds()?;
        let licensed: Vec<(String, Vec<License>, BTreeSet<String>)> = kinds
            .groups
            .objects
            .iter()
            .filter_map(|g| {
                let licenses = rules::licenses_from(g.get("assignedLicenses"));
                let members = g.get("members")?.as_array()?;
                let id = fold(g.get("id")?.as_str()?);
                (!licenses.is_empty()).then(|| {
                    let members = members
                        .iter()
                        .filter_map(|m| m.get("id").and_then(Value::as_str))
                        .map(fold)
                        .collect();
                    (id, licenses, members)
                })
            })
            .collect();
        let mut at = Vec::new();
        let mut holders = Vec::new();
        // A user read as text that holds no license, gets none directly and is in no licensed
        // group is passed over unread (it would be below: nothing held, nothing wanted).
        let mut member = vec![false; self.users.len()];
        for (_, _, members) in &licensed {
            for id in members {
                if let Some(&i) = self.index().by_id.get(id) {
                    member[i] = true;
                }
            }
        }
        for (i, &in_group) in member.iter().enumerate() {
            if let Slot::Text {
                licensed: false, ..
            } = self.users[i]
                && !in_group
                && direct.as_ref().is_none_or(|(d, _)| *d != i)
            {
                continue;
            }
            let user = self.members(i, &["id", "assignedLicenses", "licenseAssignmentStates"]);
            // Licenses not read are not settled: they stay as the export has them.
            if !user.contains_key("assignedLicenses") {
                continue;
            }
            let old = rules::grants_of(&user);
            let own = match &direct {
                Some((d, grants)) if *d == i => grants.clone(),
                _ => old
                    .iter()
                    .filter(|g| g.by_group.is_none())
                    .cloned()
                    .collect(),
            };
            let uid = user.get("id").and_then(Value::as_str).map(fold);
            let wanted: Vec<(String, License)> = licensed
                .iter()
                .filter(|(_, _, members)| uid.as_ref().is_some_and(|u| members.contains(u)))
                .flat_map(|(g, ls, _)| ls.iter().map(move |l| (g.clone(), l.clone())))
                .collect();
            if old.is_empty() && own.is_empty() && wanted.is_empty() {
                continue;
            }
            at.push(i);
            holders.push(Holder {
                old,
                direct: own,
                wanted,
            });
        }
        let known = skus.is_some();
        let mut subs = skus.unwrap_or_default();
        let settled = rules::settle(&holders, &mut subs);
        let now = graph_rules::time::graph_now();
        let mut changed: Vec<(usize, Map<String, Value>)> = Vec::new();
        for ((&i, h), grants) in at.iter().zip(&holders).zip(settled) {
            if grants == h.old {
                continue;
            }
            let mut user = self.object(i).into_owned();
            user.insert(
                "assignedLicenses".into(),
                rules::licenses_json(&rules::assigned_from(&grants)),
            );
            if user.contains_key("licenseAssignmentStates") {
                user.insert(
                    "licenseAssignmentStates".into(),
                    rules::states_json(&grants, &now),
                );
            }
            self.convert(&user)?;
            changed.push((i, user));
        }
        for (i, user) in changed {
            self.users[i] = Slot::Owned(user);
            if let Origin::Read { changed, .. } = &mut self.origins[i] {
                *changed = true;
            }
            self.touched();
        }
        if known {
            let skus = &mut self.kinds()?.skus;
            for s in subs {
                let Some(j) = skus.objects.iter().position(|o| {
                    o.get("skuId")
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.eq_ignore_ascii_case(&s.sku_id))
                }) else {
                    continue;
                };
                let units = json!(s.consumed);
                if skus.objects[j].get("consumedUnits") != Some(&units) {
                    let mut sku = skus.objects[j].clone();
                    sku.insert("consumedUnits".into(), units);
                    skus.replace(j, sku);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "licenses_tests.rs"]
mod tests;
