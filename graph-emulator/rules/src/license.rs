//! Microsoft Graph's rules for licenses, written once for the Graph emulator and idsync's Entra
//! snapshot folder: the `assignLicense` body, the refusals (with Graph's texts), how a user's
//! `licenseAssignmentStates` make its `assignedLicenses`, group-based licensing, and each SKU's
//! `consumedUnits`.
//!
//! Sources:
//! - <https://learn.microsoft.com/graph/api/user-assignlicense> (200 and the user) and
//!   <https://learn.microsoft.com/graph/api/group-assignlicense> (`202 Accepted` and the group),
//! - <https://learn.microsoft.com/graph/api/resources/licenseassignmentstate>
//!   (`assignedByGroup` null for a direct assignment; `state` `Active`/`Error`, `error`
//!   `CountViolation`, …),
//! - <https://learn.microsoft.com/entra/identity/users/licensing-admin-center> ("For group
//!   license assignment, any users without a usage location specified inherit the location of
//!   the directory"),
//! - <https://learn.microsoft.com/entra/identity/users/licensing-groups-resolve-problems>
//!   (group assignments that cannot be served are recorded on the user in an error state:
//!   `CountViolation` when the SKU has no units left).
//!
//! Choices where Graph documents nothing: a member of a licensed group is given the group's
//! licenses whatever its usage location (it inherits the tenant's, as the page above says);
//! only users that are direct members inherit (group-based licensing does not expand nested
//! groups); removing a SKU the user does not hold at all is accepted and changes nothing.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::error::GraphError;

/// The `subscribedSku` resource's properties
/// (<https://learn.microsoft.com/graph/api/resources/subscribedsku>).
pub const SKU_PROPERTIES: &[&str] = &[
    "accountId",
    "accountName",
    "appliesTo",
    "capabilityStatus",
    "consumedUnits",
    "id",
    "prepaidUnits",
    "servicePlans",
    "skuId",
    "skuPartNumber",
    "subscriptionIds",
];

/// The usage-location refusal of a direct assignment.
pub const USAGE_LOCATION_MESSAGE: &str =
    "License assignment cannot be done for user with invalid usage location.";

/// `CountViolation`: the error a group-based assignment records when no unit is free.
pub const COUNT_VIOLATION: &str = "CountViolation";

/// One license as assigned: the SKU and its disabled plans (ids lower-case, sorted).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct License {
    pub sku_id: String,
    pub disabled_plans: Vec<String>,
}

/// An `assignLicense` body: `addLicenses` and `removeLicenses` (both required).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assign {
    pub add: Vec<License>,
    pub remove: Vec<String>,
}

/// How a user holds a SKU (a `licenseAssignmentStates` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub license: License,
    /// `None`: assigned directly.
    pub by_group: Option<String>,
    /// `None`: active; otherwise the error (`CountViolation`), and the SKU is not held this way.
    pub error: Option<String>,
}

fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Graph's message for a `skuId` the tenant has no subscription to.
pub fn unknown_sku(sku_id: &str) -> GraphError {
    GraphError::bad_request(format!(
        "License {sku_id} does not correspond to a valid company License."
    ))
}

/// No unit left for a direct assignment.
pub fn no_units(sku_id: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Subscription with SKU {sku_id} does not have any available licenses."
    ))
}

pub fn usage_location() -> GraphError {
    GraphError::bad_request(USAGE_LOCATION_MESSAGE)
}

/// A `disabledPlans` id that is not a service plan of the SKU. Graph's text for this refusal
/// is not documented; status and code are those of its other license refusals.
pub fn plan_not_in_sku(plan: &str, sku_id: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Service plan {plan} is not a service plan of the license {sku_id}."
    ))
}

/// Removing per user a SKU the user holds only through a group.
pub fn inherited() -> GraphError {
    GraphError::bad_request(
        "User license is inherited from a group membership and it cannot be removed directly from the user.",
    )
}

fn bad_body(message: &str) -> GraphError {
    GraphError::new(400, "BadRequest", message)
}

fn id_list(v: Option<&Value>, what: &str) -> Result<Vec<String>, GraphError> {
    let bad = || {
        bad_body(&format!(
            "Invalid value for '{what}': expected an array of GUIDs."
        ))
    };
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            let mut out = items
                .iter()
                .map(|i| i.as_str().filter(|s| !s.is_empty()).map(fold))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(bad)?;
            out.sort();
            out.dedup();
            Ok(out)
        }
        Some(_) => Err(bad()),
    }
}

fn member<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Reads an `assignLicense` body. Both parameters are required (the pages' examples send an
/// empty `removeLicenses`).
pub fn parse_assign(body: &Map<String, Value>) -> Result<Assign, GraphError> {
    for name in ["addLicenses", "removeLicenses"] {
        if member(body, name).is_none() {
            return Err(GraphError::required(name));
        }
    }
    let add = match member(body, "addLicenses") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                let sku = i
                    .get("skuId")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| bad_body("Every addLicenses entry needs a skuId."))?;
                Ok(License {
                    sku_id: fold(sku),
                    disabled_plans: id_list(i.get("disabledPlans"), "disabledPlans")?,
                })
            })
            .collect::<Result<Vec<_>, GraphError>>()?,
        Some(Value::Null) => Vec::new(),
        _ => {
            return Err(bad_body(
                "Invalid value for 'addLicenses': expected an array.",
            ));
        }
    };
    Ok(Assign {
        add,
        remove: id_list(member(body, "removeLicenses"), "removeLicenses")?,
    })
}

/// A subscription as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub sku_id: String,
    pub enabled: u64,
    pub consumed: u64,
    pub plans: Vec<String>,
}

impl Subscription {
    /// From a `subscribedSku` object; `None` when it has no `skuId`.
    pub fn from_graph(sku: &Map<String, Value>) -> Option<Subscription> {
        Some(Subscription {
            sku_id: fold(sku.get("skuId")?.as_str()?),
            enabled: sku
                .get("prepaidUnits")
                .and_then(|p| p.get("enabled"))
                .and_then(Value::as_u64)
                .unwrap_or(0),
            consumed: sku
                .get("consumedUnits")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            plans: sku
                .get("servicePlans")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("servicePlanId").and_then(Value::as_str))
                .map(fold)
                .collect(),
        })
    }
}

fn subscription<'s>(skus: &'s [Subscription], sku_id: &str) -> Option<&'s Subscription> {
    skus.iter().find(|s| s.sku_id == sku_id)
}

/// The checks every `assignLicense` passes: each SKU (added or removed) is the tenant's, and
/// each disabled plan is one of its SKU's. `None`: the subscriptions are not known (a snapshot
/// folder without `subscribedSkus.json`), so nothing can be checked against them.
pub fn check_skus(skus: Option<&[Subscription]>, assign: &Assign) -> Result<(), GraphError> {
    let Some(skus) = skus else { return Ok(()) };
    for l in &assign.add {
        let s = subscription(skus, &l.sku_id).ok_or_else(|| unknown_sku(&l.sku_id))?;
        if let Some(p) = l.disabled_plans.iter().find(|p| !s.plans.contains(p)) {
            return Err(plan_not_in_sku(p, &l.sku_id));
        }
    }
    match assign
        .remove
        .iter()
        .find(|r| subscription(skus, r).is_none())
    {
        Some(r) => Err(unknown_sku(r)),
        None => Ok(()),
    }
}

/// `POST /users/{id}/assignLicense` on the user's grants: Graph's refusals in order (SKUs and
/// plans, a SKU held only through a group, the usage location, free units), then the grants
/// with the direct ones changed.
pub fn assign_user(
    skus: Option<&[Subscription]>,
    grants: &[Grant],
    usage_location: bool,
    assign: &Assign,
) -> Result<Vec<Grant>, GraphError> {
    check_skus(skus, assign)?;
    let direct = |sku: &str| {
        grants
            .iter()
            .any(|g| g.by_group.is_none() && g.license.sku_id == sku)
    };
    if assign.remove.iter().any(|r| !direct(r) && holds(grants, r)) {
        return Err(inherited());
    }
    if !assign.add.is_empty() && !usage_location {
        return Err(self::usage_location());
    }
    for l in &assign.add {
        // A user already holding the SKU (any way) takes no further unit.
        if !holds(grants, &l.sku_id)
            && let Some(s) = skus.and_then(|skus| subscription(skus, &l.sku_id))
            && s.consumed >= s.enabled
        {
            return Err(no_units(&l.sku_id));
        }
    }
    let mut out: Vec<Grant> = grants
        .iter()
        .filter(|g| {
            g.by_group.is_some()
                || !(assign.remove.contains(&g.license.sku_id)
                    || assign.add.iter().any(|l| l.sku_id == g.license.sku_id))
        })
        .cloned()
        .collect();
    out.extend(assign.add.iter().map(|l| Grant {
        license: l.clone(),
        by_group: None,
        error: None,
    }));
    Ok(out)
}

/// `POST /groups/{id}/assignLicense` on the group's `assignedLicenses`: the SKUs and plans are
/// checked (units are not: members that cannot get one are put in `CountViolation`).
pub fn assign_group(
    skus: Option<&[Subscription]>,
    assigned: &[License],
    assign: &Assign,
) -> Result<Vec<License>, GraphError> {
    check_skus(skus, assign)?;
    let mut out: Vec<License> = assigned
        .iter()
        .filter(|l| {
            !assign.remove.contains(&l.sku_id) && !assign.add.iter().any(|a| a.sku_id == l.sku_id)
        })
        .cloned()
        .collect();
    out.extend(assign.add.iter().cloned());
    out.sort();
    Ok(out)
}

/// Whether the user holds the SKU (an active grant, any way).
pub fn holds(grants: &[Grant], sku_id: &str) -> bool {
    grants
        .iter()
        .any(|g| g.error.is_none() && g.license.sku_id == sku_id)
}

/// The user's grants with those of group `group` replaced by `licenses` (empty: the user left
/// the group or the group lost them). A SKU the user does not hold yet takes a unit if one
/// is free (`free` is asked, and told by the caller's count); otherwise it is a
/// `CountViolation`.
pub fn inherit(
    grants: &[Grant],
    group: &str,
    licenses: &[License],
    mut take_unit: impl FnMut(&str) -> bool,
) -> Vec<Grant> {
    let group = fold(group);
    let mut out: Vec<Grant> = grants
        .iter()
        .filter(|g| g.by_group.as_deref() != Some(group.as_str()))
        .cloned()
        .collect();
    for l in licenses {
        let error = if holds(&out, &l.sku_id) || take_unit(&l.sku_id) {
            None
        } else {
            Some(COUNT_VIOLATION.to_owned())
        };
        out.push(Grant {
            license: l.clone(),
            by_group: Some(group.clone()),
            error,
        });
    }
    out
}

/// One user's licenses for [`settle`].
#[derive(Debug, Clone, Default)]
pub struct Holder {
    /// As the user holds them now ([`grants_of`]).
    pub old: Vec<Grant>,
    /// Its direct grants after the write (unchanged, or an `assignLicense` already checked).
    pub direct: Vec<Grant>,
    /// `(group id, license)` for each license of each group the user is a direct member of.
    pub wanted: Vec<(String, License)>,
}

/// Group-based licensing after a write: every holder's new grants (index-aligned), and each
/// subscription's `consumed` moved by one per user that gains or loses its SKU.
///
/// A user keeps a SKU it holds directly, or through a group that still gives it; a user new to
/// a SKU through a group takes a free unit, in the holders' order, or is recorded in
/// `CountViolation` (it gets one at a later settle once a unit is free). A SKU not among
/// `subs` (subscriptions not known) is neither limited nor counted.
pub fn settle(holders: &[Holder], subs: &mut [Subscription]) -> Vec<Vec<Grant>> {
    let certain = |h: &Holder, sku: &str| {
        h.direct.iter().any(|g| g.license.sku_id == sku)
            || (holds(&h.old, sku) && h.wanted.iter().any(|(_, l)| l.sku_id == sku))
    };
    let mut used: BTreeMap<String, (i64, i64)> = subs
        .iter()
        .map(|s| (s.sku_id.clone(), (s.consumed as i64, s.enabled as i64)))
        .collect();
    for h in holders {
        let mut skus: Vec<&str> = h
            .old
            .iter()
            .chain(&h.direct)
            .map(|g| g.license.sku_id.as_str())
            .collect();
        skus.sort_unstable();
        skus.dedup();
        for sku in skus {
            let (before, after) = (holds(&h.old, sku), certain(h, sku));
            if before != after
                && let Some((n, _)) = used.get_mut(sku)
            {
                *n += if after { 1 } else { -1 };
            }
        }
    }
    let mut out = Vec::with_capacity(holders.len());
    for h in holders {
        let mut grants = h.direct.clone();
        let mut by_group: BTreeMap<&str, Vec<License>> = BTreeMap::new();
        for (g, l) in &h.wanted {
            by_group.entry(g.as_str()).or_default().push(l.clone());
        }
        for (g, ls) in by_group {
            grants = inherit(&grants, g, &ls, |sku| {
                if certain(h, sku) {
                    return true;
                }
                match used.get_mut(sku) {
                    None => true,
                    Some((n, enabled)) if *n < *enabled => {
                        *n += 1;
                        true
                    }
                    Some(_) => false,
                }
            });
        }
        out.push(grants);
    }
    for s in subs.iter_mut() {
        if let Some((n, _)) = used.get(&s.sku_id) {
            s.consumed = (*n).max(0) as u64;
        }
    }
    out
}

/// A user's `assignedLicenses` from its grants: one entry per SKU held; a plan is disabled
/// only when every active grant of the SKU disables it (any one enabling it enables it).
pub fn assigned_from(grants: &[Grant]) -> Vec<License> {
    let mut by_sku: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for g in grants.iter().filter(|g| g.error.is_none()) {
        let plans = &g.license.disabled_plans;
        by_sku
            .entry(&g.license.sku_id)
            .and_modify(|d| d.retain(|p| plans.contains(p)))
            .or_insert_with(|| plans.clone());
    }
    by_sku
        .into_iter()
        .map(|(sku, disabled_plans)| License {
            sku_id: sku.to_owned(),
            disabled_plans,
        })
        .collect()
}

/// `assignedLicenses` as Graph writes it.
pub fn licenses_json(licenses: &[License]) -> Value {
    Value::Array(
        licenses
            .iter()
            .map(|l| json!({"disabledPlans": l.disabled_plans, "skuId": l.sku_id}))
            .collect(),
    )
}

/// `licenseAssignmentStates` as Graph writes it (`lastUpdatedDateTime` is the caller's clock).
pub fn states_json(grants: &[Grant], now: &str) -> Value {
    Value::Array(
        grants
            .iter()
            .map(|g| {
                json!({
                    "assignedByGroup": g.by_group,
                    "disabledPlans": g.license.disabled_plans,
                    "error": g.error.as_deref().unwrap_or("None"),
                    "lastUpdatedDateTime": now,
                    "skuId": g.license.sku_id,
                    "state": if g.error.is_some() { "Error" } else { "Active" },
                })
            })
            .collect(),
    )
}

/// Licenses from an `assignedLicenses` value (entries without a `skuId` are skipped).
pub fn licenses_from(v: Option<&Value>) -> Vec<License> {
    let mut out: Vec<License> = v
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| {
            Some(License {
                sku_id: fold(i.get("skuId")?.as_str()?),
                disabled_plans: id_list(i.get("disabledPlans"), "disabledPlans").ok()?,
            })
        })
        .collect();
    out.sort();
    out
}

/// A user's grants: its `licenseAssignmentStates` when it carries them, else its
/// `assignedLicenses` taken as direct assignments.
pub fn grants_of(user: &Map<String, Value>) -> Vec<Grant> {
    match user
        .get("licenseAssignmentStates")
        .and_then(Value::as_array)
    {
        Some(states) => states
            .iter()
            .filter_map(|s| {
                let error = match s.get("error").and_then(Value::as_str) {
                    None | Some("None") | Some("") => None,
                    Some(e) => Some(e.to_owned()),
                };
                Some(Grant {
                    license: License {
                        sku_id: fold(s.get("skuId")?.as_str()?),
                        disabled_plans: id_list(s.get("disabledPlans"), "disabledPlans").ok()?,
                    },
                    by_group: s
                        .get("assignedByGroup")
                        .and_then(Value::as_str)
                        .filter(|g| !g.is_empty())
                        .map(fold),
                    error,
                })
            })
            .collect(),
        None => licenses_from(user.get("assignedLicenses"))
            .into_iter()
            .map(|license| Grant {
                license,
                by_group: None,
                error: None,
            })
            .collect(),
    }
}

/// Whether the user has a usage location Graph takes (set, non-empty).
pub fn has_usage_location(user: &Map<String, Value>) -> bool {
    user.get("usageLocation")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty())
}

/// Units consumed per SKU: one per user holding it, however many ways.
pub fn consumed<'u>(
    assigned: impl IntoIterator<Item = &'u Map<String, Value>>,
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for user in assigned {
        for l in licenses_from(user.get("assignedLicenses")) {
            *out.entry(l.sku_id).or_insert(0) += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
    const EXO: &str = "efb87545-963c-4e0d-99df-69c6916d9eb0";

    #[test]
    fn settling_counts_one_unit_per_user_and_waits_for_free_ones() {
        let lic = add(E3, &[]).add[0].clone();
        let member = |old: Vec<Grant>| Holder {
            old,
            direct: vec![],
            wanted: vec![("g1".into(), lic.clone())],
        };
        let mut subs = skus(0);
        subs[0].enabled = 1;
        let first = settle(&[member(vec![]), member(vec![])], &mut subs);
        assert!(holds(&first[0], E3));
        assert_eq!(first[1][0].error.as_deref(), Some(COUNT_VIOLATION));
        assert_eq!(subs[0].consumed, 1);
        // The holder leaves the group: its unit goes to the one waiting.
        let gone = Holder {
            old: first[0].clone(),
            direct: vec![],
            wanted: vec![],
        };
        let next = settle(&[gone, member(first[1].clone())], &mut subs);
        assert!(next[0].is_empty());
        assert!(holds(&next[1], E3));
        assert_eq!(subs[0].consumed, 1);
    }

    fn skus(consumed: u64) -> Vec<Subscription> {
        vec![Subscription {
            sku_id: E3.into(),
            enabled: 2,
            consumed,
            plans: vec![EXO.into()],
        }]
    }

    fn add(sku: &str, plans: &[&str]) -> Assign {
        Assign {
            add: vec![License {
                sku_id: sku.into(),
                disabled_plans: plans.iter().map(|p| p.to_string()).collect(),
            }],
            remove: vec![],
        }
    }

    #[test]
    fn direct_assignments_are_refused_as_graph_refuses_them() {
        assert_eq!(
            assign_user(
                Some(&skus(0)),
                &[],
                true,
                &add("00000000-0000-0000-0000-000000000001", &[])
            )
            .unwrap_err(),
            unknown_sku("00000000-0000-0000-0000-000000000001")
        );
        assert_eq!(
            assign_user(
                Some(&skus(0)),
                &[],
                true,
                &add(E3, &["ffffffff-0000-0000-0000-000000000000"])
            )
            .unwrap_err()
            .status,
            400
        );
        assert_eq!(
            assign_user(Some(&skus(0)), &[], false, &add(E3, &[])).unwrap_err(),
            usage_location()
        );
        assert_eq!(
            assign_user(Some(&skus(2)), &[], true, &add(E3, &[])).unwrap_err(),
            no_units(E3)
        );
        let granted = assign_user(Some(&skus(1)), &[], true, &add(E3, &[EXO])).unwrap();
        assert_eq!(granted.len(), 1);
        assert_eq!(granted[0].by_group, None);
        // Re-assigning a held SKU (new disabled plans) takes no unit, even with none free.
        let again = assign_user(Some(&skus(2)), &granted, true, &add(E3, &[])).unwrap();
        assert_eq!(
            assigned_from(&again)[0].disabled_plans,
            Vec::<String>::new()
        );
    }

    #[test]
    fn group_licenses_are_inherited_never_removed_per_user() {
        let mut free = 1;
        let mut take = |_: &str| {
            let ok = free > 0;
            free -= i32::from(ok);
            ok
        };
        let lic = add(E3, &[EXO]).add;
        let g = inherit(&[], "G1", &lic, &mut take);
        assert_eq!(g[0].by_group.as_deref(), Some("g1"));
        assert!(holds(&g, E3));
        let remove = Assign {
            add: vec![],
            remove: vec![E3.into()],
        };
        assert_eq!(
            assign_user(Some(&skus(1)), &g, true, &remove).unwrap_err(),
            inherited()
        );
        // No unit left: the member is recorded in CountViolation and holds nothing.
        let other = inherit(&[], "G1", &lic, &mut take);
        assert_eq!(other[0].error.as_deref(), Some(COUNT_VIOLATION));
        assert!(assigned_from(&other).is_empty());
        // Direct and inherited: a plan disabled by one grant only stays enabled.
        let both = assign_user(Some(&skus(1)), &g, true, &add(E3, &[])).unwrap();
        assert_eq!(assigned_from(&both)[0].disabled_plans, Vec::<String>::new());
        assert_eq!(inherit(&both, "g1", &[], |_| true).len(), 1);
    }

    #[test]
    fn bodies_need_both_lists() {
        let body = json!({"addLicenses": [{"skuId": E3.to_uppercase(), "disabledPlans": []}]});
        assert_eq!(
            parse_assign(body.as_object().unwrap()).unwrap_err(),
            GraphError::required("removeLicenses")
        );
        // idsync's own body (`EntraOp::assign_license_body`) is taken: tests/graph_licenses.rs.
        let body = json!({"addLicenses": [{"skuId": E3.to_uppercase(), "disabledPlans": [EXO]}],
            "removeLicenses": []});
        assert_eq!(
            parse_assign(body.as_object().unwrap()).unwrap(),
            add(E3, &[EXO])
        );
    }
}
