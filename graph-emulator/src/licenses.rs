//! Licenses: `POST /users/{id}/assignLicense` and `POST /groups/{id}/assignLicense`, and the
//! group-based licensing Entra runs after every change of a licensed group or its members.
//! Graph's rules and error bodies are [`graph_rules::license`]'s.
//!
//! Units: each SKU's `consumedUnits` starts as the seed says and moves by one for each user
//! that comes to hold the SKU or stops holding it (one per user, however many ways), so a
//! seed's count for users it does not list is kept.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::PoisonError;

use graph_rules::license::{self as rules, Grant, Holder, License, Subscription};
use serde_json::{Map, Value, json};

use crate::error::GraphError;
use crate::graph::{GraphRequest, GraphResponse};
use crate::server::Shared;
use crate::tenant::{Select, Tenant, project};
use crate::time::Utc;

fn subscriptions(t: &Tenant) -> Vec<Subscription> {
    t.skus()
        .iter()
        .filter_map(Value::as_object)
        .filter_map(Subscription::from_graph)
        .collect()
}

fn body(req: &GraphRequest) -> Result<Map<String, Value>, GraphError> {
    let raw = req.body.as_deref().unwrap_or_default();
    match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(GraphError::new(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )),
    }
}

fn writes_applied(shared: &Shared) {
    shared
        .stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .writes_applied += 1;
}

/// `POST /users/{id|upn}/assignLicense`: 200 with the user.
pub(crate) fn assign_user(
    shared: &Shared,
    req: &GraphRequest,
    key: &str,
) -> Result<GraphResponse, GraphError> {
    let assign = rules::parse_assign(&body(req)?)?;
    let mut tenant = shared
        .tenant
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let k = tenant
        .resolve(key)
        .ok_or_else(|| GraphError::not_found(key))?;
    let user = &tenant
        .get(&k)
        .ok_or_else(|| GraphError::not_found(key))?
        .obj;
    let grants = rules::grants_of(user);
    let located = rules::has_usage_location(user);
    let granted = rules::assign_user(Some(&subscriptions(&tenant)), &grants, located, &assign)?;
    let direct = granted
        .into_iter()
        .filter(|g| g.by_group.is_none())
        .collect();
    settle(&mut tenant, Some((&k, direct)));
    let rec = tenant.get(&k).ok_or_else(|| GraphError::not_found(key))?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#users/$entity", shared.base_url)),
    );
    if let Value::Object(o) = project(rec, &Select(None)) {
        out.extend(o);
    }
    drop(tenant);
    writes_applied(shared);
    Ok(GraphResponse::json(200, Value::Object(out)))
}

/// `POST /groups/{id}/assignLicense`: `202 Accepted` with the group; its user members gain or
/// lose the licenses at once (Entra does it in the background; the emulator has no background).
pub(crate) fn assign_group(
    shared: &Shared,
    req: &GraphRequest,
    id: &str,
) -> Result<GraphResponse, GraphError> {
    let assign = rules::parse_assign(&body(req)?)?;
    let mut tenant = shared
        .tenant
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let skus = subscriptions(&tenant);
    let g = tenant
        .groups()
        .group(id)
        .ok_or_else(|| GraphError::not_found(id))?;
    let assigned = rules::licenses_from(g.obj.get("assignedLicenses"));
    let licenses = rules::assign_group(Some(&skus), &assigned, &assign)?;
    if let Some(g) = tenant.groups_mut().group_mut(id) {
        g.obj
            .insert("assignedLicenses".into(), rules::licenses_json(&licenses));
    }
    settle(&mut tenant, None);
    let obj = tenant
        .groups()
        .group(id)
        .map(|g| g.obj.clone())
        .unwrap_or_default();
    drop(tenant);
    writes_applied(shared);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#groups/$entity", shared.base_url)),
    );
    out.extend(obj);
    Ok(GraphResponse::json(202, Value::Object(out)))
}

/// Brings every user's group-based grants, `assignedLicenses` and the SKUs' `consumedUnits`
/// up to date after a license or membership write ([`rules::settle`]); `direct` replaces one
/// user's direct grants (a user `assignLicense`, already checked against the free units).
pub(crate) fn settle(t: &mut Tenant, direct: Option<(&str, Vec<Grant>)>) {
    let licensed: Vec<(String, Vec<License>, BTreeSet<String>)> = t
        .groups()
        .all()
        .filter_map(|g| {
            let l = rules::licenses_from(g.obj.get("assignedLicenses"));
            (!l.is_empty()).then(|| {
                (
                    g.id().to_ascii_lowercase(),
                    l,
                    g.members.keys().cloned().collect(),
                )
            })
        })
        .collect();
    let mut keys = Vec::new();
    let mut holders = Vec::new();
    for (key, obj) in t.user_objects() {
        let old = rules::grants_of(obj);
        let direct = match &direct {
            Some((k, d)) if *k == key.as_str() => d.clone(),
            _ => old
                .iter()
                .filter(|g| g.by_group.is_none())
                .cloned()
                .collect(),
        };
        let wanted: Vec<(String, License)> = licensed
            .iter()
            .filter(|(_, _, members)| members.contains(key))
            .flat_map(|(g, ls, _)| ls.iter().map(move |l| (g.clone(), l.clone())))
            .collect();
        if old.is_empty() && direct.is_empty() && wanted.is_empty() {
            continue;
        }
        keys.push(key.clone());
        holders.push(Holder {
            old,
            direct,
            wanted,
        });
    }
    let mut subs = subscriptions(t);
    let settled = rules::settle(&holders, &mut subs);
    let now = Utc::now().iso();
    for ((key, h), grants) in keys.iter().zip(&holders).zip(settled) {
        if grants == h.old {
            continue;
        }
        let assigned = rules::licenses_json(&rules::assigned_from(&grants));
        let states = rules::states_json(&grants, &now);
        t.set_computed(
            key,
            vec![
                ("assignedLicenses", assigned),
                ("licenseAssignmentStates", states),
            ],
        );
    }
    let used = subs
        .into_iter()
        .map(|s| (s.sku_id, s.consumed as i64))
        .collect();
    set_consumed(t, &used);
}

fn set_consumed(t: &mut Tenant, used: &BTreeMap<String, i64>) {
    let mut skus = t.skus().to_vec();
    for sku in skus.iter_mut().filter_map(Value::as_object_mut) {
        let id = sku
            .get("skuId")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        if let Some(n) = id.and_then(|id| used.get(&id)) {
            sku.insert("consumedUnits".into(), json!((*n).max(0)));
        }
    }
    t.set_skus(skus);
}

/// A user is going: the units it holds are freed.
pub(crate) fn release(t: &mut Tenant, user: &Map<String, Value>) {
    let held = rules::assigned_from(&rules::grants_of(user));
    if held.is_empty() {
        return;
    }
    let mut used: BTreeMap<String, i64> = subscriptions(t)
        .into_iter()
        .map(|s| (s.sku_id, s.consumed as i64))
        .collect();
    for l in held {
        if let Some(n) = used.get_mut(&l.sku_id) {
            *n -= 1;
        }
    }
    set_consumed(t, &used);
}
