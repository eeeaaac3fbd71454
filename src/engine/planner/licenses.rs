//! Licenses (DESIGN.md, "Licenses"): what each in-scope cloud user and each group should hold
//! directly (`licenses.default`, `identities[].licenses`, `groups[].licenses`), resolved
//! against the tenant's subscriptions, planned as an Entra `update` of `assignedLicenses`
//! with `add`/`remove` lists — with Graph's preconditions checked first: a user needs a
//! `usageLocation` (assignlicense: "License assignment cannot be done for user with invalid
//! usage location"), and a SKU needs free units for everything the plan adds.
//!
//! A license a user inherits from a group (`licenseAssignmentStates[].assignedByGroup`) is
//! never removed per user: Graph would refuse it, and the group decides.

use std::collections::BTreeMap;

use super::*;
use crate::desired::LicenseSpec;
use crate::directory::model::{Part, Sku, assigned_licenses, license_states};
use crate::plan::ObjectId;

/// One license as a plan adds it: resolved to ids.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    sku_id: String,
    part: String,
    /// Sorted service plan ids, and their names for the plan's text.
    disabled: Vec<(String, String)>,
}

impl Wanted {
    /// How the plan shows it, ids included so apply needs nothing else:
    /// `EMS (efccb6f7-…) without INTUNE_A (c1ec4a95-…)`.
    fn value(&self) -> Text {
        let mut v = format!("{} ({})", self.part, self.sku_id);
        if !self.disabled.is_empty() {
            let plans: Vec<String> = self
                .disabled
                .iter()
                .map(|(id, name)| format!("{name} ({id})"))
                .collect();
            v.push_str(" without ");
            v.push_str(&plans.join(", "));
        }
        Text::from(v)
    }

    fn disabled_ids(&self) -> Vec<String> {
        self.disabled.iter().map(|(id, _)| id.clone()).collect()
    }
}

/// How a removed license shows: `ENTERPRISEPACK (6fd2c87f-…)`.
fn removed_value(skus: &[Sku], sku_id: &str) -> Text {
    let part = skus
        .iter()
        .find(|s| s.sku_id == sku_id)
        .map_or("(unknown SKU)", |s| s.sku_part_number.as_str());
    Text::from(format!("{part} ({sku_id})"))
}

/// The sku id and disabled plan ids of a plan value written by [`Wanted::value`].
pub fn parse_license_value(v: &str) -> Option<(String, Vec<String>)> {
    let ids: Vec<&str> = v
        .split('(')
        .skip(1)
        .filter_map(|part| part.split(')').next())
        .collect();
    let (sku, plans) = ids.split_first()?;
    Some((
        (*sku).to_owned(),
        plans.iter().map(|p| (*p).to_owned()).collect(),
    ))
}

/// A license change before the seat check.
struct Pending {
    action: Action,
    adds: Vec<Wanted>,
    removes: Vec<String>,
    /// Units one add of a SKU consumes (a group's: its members).
    units: u64,
}

/// Resolves one list against the tenant's SKUs; the errors name where it was written.
fn resolve_licenses(skus: &[Sku], list: &[LicenseSpec], errors: &mut Vec<String>) -> Vec<Wanted> {
    let mut out = Vec::new();
    for l in list {
        let Some(sku) = skus
            .iter()
            .find(|s| s.sku_part_number.eq_ignore_ascii_case(&l.sku))
        else {
            let names = skus.iter().map(|s| s.sku_part_number.as_str());
            errors.push(format!(
                "{}: the tenant has no SKU {}{} (GET /subscribedSkus lists {})",
                l.origin,
                l.sku,
                hint(crate::names::closest(&l.sku, names.clone())),
                list_or_none(names)
            ));
            continue;
        };
        let mut disabled = Vec::new();
        for plan in &l.disabled_plans {
            match sku.plan_id(plan) {
                Some(id) => disabled.push((id.to_ascii_lowercase(), plan.clone())),
                None => errors.push(format!(
                    "{}: SKU {} has no service plan {plan}{}",
                    l.origin,
                    sku.sku_part_number,
                    hint(crate::names::closest(
                        plan,
                        sku.service_plans.iter().map(|(_, n)| n.as_str())
                    ))
                )),
            }
        }
        disabled.sort();
        disabled.dedup();
        out.push(Wanted {
            sku_id: sku.sku_id.clone(),
            part: sku.sku_part_number.clone(),
            disabled,
        });
    }
    out
}

/// Every license the desired state names, checked against the tenant's SKUs: one message per
/// unknown SKU or service plan, at its `FILE:LINE:COL`, with the closest names (what `idsync
/// validate` reports when a snapshot folder holds the subscriptions, and a plan refuses).
pub fn check_licenses(d: &DesiredState, skus: &[Sku]) -> Vec<String> {
    let mut errors = Vec::new();
    let lists = d
        .default_licenses
        .iter()
        .chain(d.identities.iter().filter_map(|i| i.licenses.as_ref()))
        .chain(d.groups.iter().filter_map(|g| g.licenses.as_ref()));
    for list in lists {
        resolve_licenses(skus, list, &mut errors);
    }
    errors
}

impl<'a> Planner<'a> {
    /// Plans license changes for users and groups; `Err` when the desired state names a SKU
    /// or service plan the tenant does not have.
    pub(super) fn licenses(
        &mut self,
        twins: &groups::Twins,
        cloud_groups: &[groups::CloudSide],
    ) -> Result<(), PlanError> {
        let d = self.d;
        if !licenses_managed(d) {
            return Ok(());
        }
        let skus = match &self.tenant.skus {
            Part::Read(s) => s.clone(),
            Part::Unknown(why) => {
                self.notes.push(Note {
                    kind: NoteKind::Assumption,
                    identity: reads::ENTRA.into(),
                    message: format!(
                        "the tenant's subscriptions are unknown ({why}): no license is planned"
                    ),
                });
                return Ok(());
            }
        };
        let mut errors = Vec::new();
        let default = d
            .default_licenses
            .as_ref()
            .map(|l| resolve_licenses(&skus, l, &mut errors));
        let per_identity: Vec<Option<Vec<Wanted>>> = d
            .identities
            .iter()
            .map(|i| {
                i.licenses
                    .as_ref()
                    .map(|l| resolve_licenses(&skus, l, &mut errors))
            })
            .collect();
        let per_group: Vec<Option<Vec<Wanted>>> = d
            .groups
            .iter()
            .map(|g| {
                g.licenses
                    .as_ref()
                    .map(|l| resolve_licenses(&skus, l, &mut errors))
            })
            .collect();
        if !errors.is_empty() {
            return Err(PlanError::Licenses(errors));
        }

        // usageLocation this plan sets, by target (a create, or an update of the attribute).
        let planned_location: HashSet<String> = self
            .actions
            .iter()
            .filter(|a| a.directory == Side::Entra && a.kind == ObjectKind::User)
            .filter(|a| {
                a.changes
                    .iter()
                    .any(|c| c.attribute == "usageLocation" && !c.after.is_null())
            })
            .map(|a| fold(&a.target))
            .collect();

        let mut pending: Vec<Pending> = Vec::new();
        let mut unread = 0usize;
        for j in 0..twins.len() {
            let spec = twins.spec_of(j);
            let want = match spec.and_then(|s| per_identity[s].as_ref()) {
                Some(w) => w,
                None => match &default {
                    Some(w) => w,
                    None => continue,
                },
            };
            if spec.is_some_and(|s| d.identities[s].ignore) {
                continue;
            }
            match twins.cloud_side(j) {
                (Some(c), _) => {
                    let cloud = &self.cloud[c];
                    if !cloud.carries(AttrName::new("assignedLicenses")) {
                        unread += 1;
                        continue;
                    }
                    // The identity's name in plans: its entry's, else the cloud UPN.
                    let name = spec
                        .and_then(|s| d.identities[s].name.as_deref())
                        .unwrap_or(cloud.upn());
                    if let Some(p) = self.user_licenses(name, cloud, want, &planned_location) {
                        pending.push(p);
                    }
                }
                (None, Some((pos, upn))) => {
                    let name = self.actions[pos as usize].identity.clone();
                    if want.is_empty() {
                        continue;
                    }
                    if !planned_location.contains(&fold(upn)) {
                        self.usage_location_missing(
                            upn,
                            "the cloud user this plan creates gets none",
                        );
                        continue;
                    }
                    let change = Change::edit(
                        "assignedLicenses",
                        Value::Null,
                        Value::Null,
                        want.iter().map(Wanted::value).collect(),
                        Vec::new(),
                    );
                    pending.push(Pending {
                        action: Action {
                            id: ActionId(0),
                            action: ActionKind::Update,
                            directory: Side::Entra,
                            kind: ObjectKind::User,
                            identity: name,
                            target: upn.clone(),
                            object: None,
                            changes: Box::new([change]),
                            depends_on: Box::new([ActionId(pos)]),
                            precondition: None,
                            matched: None,
                        },
                        adds: want.clone(),
                        removes: Vec::new(),
                        units: 1,
                    });
                }
                _ => {}
            }
        }
        if unread > 0 {
            self.notes.push(Note {
                kind: NoteKind::Assumption,
                identity: reads::ENTRA.into(),
                message: format!(
                    "assignedLicenses was not read for {unread} cloud user(s): no license is planned for them (select assignedLicenses and licenseAssignmentStates, or use `idsync snapshot --from entra`)"
                ),
            });
        }
        for side in cloud_groups {
            let Some(want) = per_group[side.spec].as_ref() else {
                continue;
            };
            if let Some(p) = self.group_licenses(side, want) {
                pending.push(p);
            }
        }
        self.check_seats(&skus, pending);
        Ok(())
    }

    /// One user's direct licenses against what it should hold.
    fn user_licenses(
        &mut self,
        name: &str,
        cloud: &CloudUser,
        want: &[Wanted],
        planned_location: &HashSet<String>,
    ) -> Option<Pending> {
        let json = |name: &str| match cloud.properties.get(AttrName::new(name)) {
            Some(crate::directory::model::Prop::Json(v)) => v.clone(),
            Some(p) => p.to_value(),
            None => serde_json::Value::Null,
        };
        let held = assigned_licenses(&json("assignedLicenses")).ok()?;
        // Without the assignment states, direct and inherited licenses cannot be told apart:
        // nothing is removed, only what is missing is added.
        let states = cloud
            .carries(AttrName::new("licenseAssignmentStates"))
            .then(|| license_states(&json("licenseAssignmentStates")).ok())
            .flatten();
        let (direct, inherited): (Vec<(String, Vec<String>)>, Vec<String>) = match &states {
            Some(states) => {
                let direct = states
                    .iter()
                    .filter(|s| s.assigned_by_group.is_none())
                    .map(|s| (s.sku_id.clone(), s.disabled_plans.clone()))
                    .collect();
                let inherited = states
                    .iter()
                    .filter(|s| s.assigned_by_group.is_some())
                    .map(|s| s.sku_id.clone())
                    .collect();
                (direct, inherited)
            }
            None => (
                held.iter()
                    .map(|l| (l.sku_id.clone(), l.disabled_plans.clone()))
                    .collect(),
                Vec::new(),
            ),
        };
        let adds: Vec<Wanted> = want
            .iter()
            .filter(|w| !inherited.contains(&w.sku_id))
            .filter(|w| {
                !direct
                    .iter()
                    .any(|(id, plans)| id == &w.sku_id && *plans == w.disabled_ids())
            })
            .cloned()
            .collect();
        let removes: Vec<String> = if states.is_some() {
            direct
                .iter()
                .filter(|(id, _)| !want.iter().any(|w| &w.sku_id == id))
                .map(|(id, _)| id.clone())
                .collect()
        } else {
            Vec::new()
        };
        if adds.is_empty() && removes.is_empty() {
            return None;
        }
        let mut adds = adds;
        if !adds.is_empty() {
            let location = cloud.properties.text(AttrName::new("usageLocation"));
            let read = cloud.carries(AttrName::new("usageLocation"));
            if location.is_none_or(str::is_empty) && !planned_location.contains(&fold(cloud.upn()))
            {
                if read {
                    self.usage_location_missing(
                        cloud.upn(),
                        "this user has none and this plan sets none",
                    );
                    adds.clear();
                } else {
                    self.diagnostics.push(Diagnostic {
                        severity: Severity::Warning,
                        rule: "usage_location".into(),
                        object: cloud.upn().to_owned(),
                        attribute: "usageLocation".into(),
                        message: "usageLocation was not read: Graph refuses a license for a user without one (select usageLocation to have it checked)".into(),
                    });
                }
            }
        }
        if adds.is_empty() && removes.is_empty() {
            return None;
        }
        let skus = self.tenant.skus.known().map_or(&[][..], Vec::as_slice);
        let change = Change::edit(
            "assignedLicenses",
            Value::Null,
            Value::Null,
            adds.iter().map(Wanted::value).collect(),
            removes.iter().map(|id| removed_value(skus, id)).collect(),
        );
        let batch = Batch::default();
        Some(Pending {
            action: batch.on_entra(ActionKind::Update, name, cloud, [change]),
            adds,
            removes,
            units: 1,
        })
    }

    fn group_licenses(&mut self, side: &groups::CloudSide, want: &[Wanted]) -> Option<Pending> {
        let held: Vec<(String, Vec<String>)> = match &side.assigned {
            Some(h) => h
                .iter()
                .map(|l| (l.sku_id.clone(), l.disabled_plans.clone()))
                .collect(),
            None if side.object.is_none() => Vec::new(),
            None => return None,
        };
        let adds: Vec<Wanted> = want
            .iter()
            .filter(|w| {
                !held
                    .iter()
                    .any(|(id, plans)| id == &w.sku_id && *plans == w.disabled_ids())
            })
            .cloned()
            .collect();
        let removes: Vec<String> = held
            .iter()
            .filter(|(id, _)| !want.iter().any(|w| &w.sku_id == id))
            .map(|(id, _)| id.clone())
            .collect();
        if adds.is_empty() && removes.is_empty() {
            return None;
        }
        let skus = self.tenant.skus.known().map_or(&[][..], Vec::as_slice);
        let change = Change::edit(
            "assignedLicenses",
            Value::Null,
            Value::Null,
            adds.iter().map(Wanted::value).collect(),
            removes.iter().map(|id| removed_value(skus, id)).collect(),
        );
        Some(Pending {
            action: Action {
                id: ActionId(0),
                action: ActionKind::Update,
                directory: Side::Entra,
                kind: ObjectKind::Group,
                identity: Arc::from(side.name.as_str()),
                target: side.target.clone(),
                object: side.object.as_deref().map(ObjectId::from),
                changes: Box::new([change]),
                depends_on: side
                    .create
                    .map(|p| Box::new([ActionId(p)]) as Box<[ActionId]>)
                    .unwrap_or_default(),
                precondition: side.precondition.clone(),
                matched: None,
            },
            adds,
            removes,
            units: side.members.max(1),
        })
    }

    fn usage_location_missing(&mut self, upn: &str, why: &str) {
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            rule: "usage_location".into(),
            object: upn.to_owned(),
            attribute: "usageLocation".into(),
            message: format!(
                "no license is planned: Graph refuses a license for a user without usageLocation (\"License assignment cannot be done for user with invalid usage location\"), and {why}; set it (in the cloud, or with usageLocation under attributes:)"
            ),
        });
    }

    /// Adds within each SKU's free units (enabled less consumed, counting this plan's own
    /// removes) are planned; a SKU short of units gets a `seats` error and none of its adds,
    /// so apply never stops halfway through a bulk assignment.
    fn check_seats(&mut self, skus: &[Sku], pending: Vec<Pending>) {
        let mut need: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for p in &pending {
            for w in &p.adds {
                need.entry(w.sku_id.clone()).or_default().0 += p.units;
            }
            for id in &p.removes {
                need.entry(id.clone()).or_default().1 += p.units;
            }
        }
        let mut short: HashSet<String> = HashSet::default();
        for (id, (adds, removes)) in &need {
            let Some(sku) = skus.iter().find(|s| &s.sku_id == id) else {
                continue;
            };
            let free = sku.free() + removes;
            if *adds > free {
                short.insert(id.clone());
                self.diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    rule: "seats".into(),
                    object: sku.sku_part_number.clone(),
                    attribute: "assignedLicenses".into(),
                    message: format!(
                        "SKU {} has {} free unit(s) ({} enabled, {} consumed{}), and this plan assigns {adds}: none of its assignments are planned (buy units, or assign fewer)",
                        sku.sku_part_number,
                        free,
                        sku.enabled_units,
                        sku.consumed_units,
                        if *removes > 0 {
                            format!(", {removes} freed by this plan")
                        } else {
                            String::new()
                        }
                    ),
                });
            }
        }
        for mut p in pending {
            if !short.is_empty() {
                let keep: Vec<Text> = p
                    .adds
                    .iter()
                    .filter(|w| !short.contains(&w.sku_id))
                    .map(Wanted::value)
                    .collect();
                let c = &p.action.changes[0];
                let removed = c.removed().to_vec();
                if keep.is_empty() && removed.is_empty() {
                    continue;
                }
                p.action.changes = Box::new([Change::edit(
                    "assignedLicenses",
                    Value::Null,
                    Value::Null,
                    keep,
                    removed,
                )]);
            }
            let deps = p.action.depends_on.clone();
            let mut action = p.action;
            action.depends_on = deps;
            self.push_licensed(action);
        }
    }

    fn push_licensed(&mut self, mut action: Action) {
        // Cannot fail: a plan holds fewer than 2^32 actions (they would not fit in memory).
        let pos = u32::try_from(self.actions.len()).expect("fewer than 2^32 actions");
        action.id = ActionId(pos);
        self.actions.push(action);
    }

    /// In-scope cloud users that hold no license at all: the last step of every migration
    /// guide, listed in every plan (when the read carried `assignedLicenses`).
    pub(super) fn unlicensed_note(&mut self, joints: &[Joint]) {
        let mut none: Vec<&str> = Vec::new();
        for joint in joints {
            if let Some(c) = joint.cloud() {
                let cloud = &self.cloud[c];
                if !cloud.carries(AttrName::new("assignedLicenses")) {
                    continue;
                }
                // Only an empty list says "none": Graph always answers a list, so a null
                // (an export of a source that did not carry it) is unknown.
                let empty = match cloud.properties.get(AttrName::new("assignedLicenses")) {
                    Some(crate::directory::model::Prop::Json(v)) => {
                        v.as_array().is_some_and(Vec::is_empty)
                    }
                    _ => false,
                };
                if empty {
                    none.push(cloud.upn());
                }
            }
        }
        if none.is_empty() {
            return;
        }
        none.sort_unstable();
        let shown: Vec<&str> = none.iter().take(10).copied().collect();
        let more = none.len() - shown.len();
        self.notes.push(Note {
            kind: NoteKind::Unlicensed,
            identity: reads::ENTRA.into(),
            message: format!(
                "{} in-scope cloud user(s) hold no license at all: {}{}",
                none.len(),
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
        });
    }
}

/// Whether the desired state names any license (else licenses are left alone).
pub fn licenses_managed(d: &DesiredState) -> bool {
    d.default_licenses.is_some()
        || d.identities.iter().any(|i| i.licenses.is_some())
        || d.groups.iter().any(|g| g.licenses.is_some())
}

fn hint(closest: Vec<&str>) -> String {
    if closest.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", closest.join(", "))
    }
}

fn list_or_none<'s>(names: impl Iterator<Item = &'s str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
