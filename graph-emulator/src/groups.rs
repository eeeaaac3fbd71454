//! Groups, their members and organizational contacts: the store (held by the tenant, next to
//! its users, so a member is looked up where it lives) and the `/groups…` and `/contacts…`
//! routes of the collection table. Graph's rules and error bodies are
//! [`graph_rules::group`]'s.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::PoisonError;

use graph_rules::group::{
    self as rules, CONTACT_PROPERTIES, EXPAND_CAP, GROUP_PROPERTIES, MemberKind, Property,
};
use serde_json::{Map, Value, json};

use crate::error::{EmulatorError, GraphError};
use crate::filter::{self, Expr, Resource};
use crate::graph::{
    GraphRequest, GraphResponse, Query, decode_token, encode_query, encode_token,
    method_not_allowed, parse_top,
};
use crate::server::Shared;
use crate::tenant::Tenant;
use crate::time::Utc;

/// Graph's case rule for ids.
fn lower(s: &str) -> String {
    graph_rules::write::fold(s)
}

/// One group as stored: its properties, and its members by folded id (keyset paging order).
#[derive(Debug, Clone, Default)]
pub struct GroupRec {
    pub obj: Map<String, Value>,
    pub members: BTreeMap<String, String>,
}

impl GroupRec {
    pub fn id(&self) -> &str {
        self.obj.get("id").and_then(Value::as_str).unwrap_or("")
    }
}

/// The groups and contacts of a tenant.
#[derive(Debug, Default)]
pub struct Groups {
    groups: BTreeMap<String, GroupRec>,
    contacts: BTreeMap<String, Map<String, Value>>,
}

/// An id where the object has none (a seed may leave it out).
fn ensure_id(obj: &mut Map<String, Value>) -> String {
    if !matches!(obj.get("id"), Some(Value::String(s)) if !s.is_empty()) {
        obj.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
    }
    lower(obj.get("id").and_then(Value::as_str).unwrap_or_default())
}

/// The member ids of a `members` array as `$expand=members($select=id)` gives it.
fn member_ids(what: &str, v: &Value) -> Result<BTreeMap<String, String>, EmulatorError> {
    let bad =
        || EmulatorError::InvalidTenant(format!("{what}: members must be objects with an id"));
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Array(items) => items
            .iter()
            .map(|m| {
                let id = m
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(bad)?;
                Ok((lower(id), id.to_owned()))
            })
            .collect(),
        _ => Err(bad()),
    }
}

impl Groups {
    /// Loads groups as Graph answers `GET /groups?$expand=members($select=id)`: a group
    /// without `members` has none.
    pub fn load_groups(&mut self, groups: Vec<Map<String, Value>>) -> Result<(), EmulatorError> {
        for (i, mut obj) in groups.into_iter().enumerate() {
            obj.retain(|k, _| !k.starts_with("@odata."));
            let members = match obj.remove("members") {
                Some(v) => member_ids(&format!("group #{i}"), &v)?,
                None => BTreeMap::new(),
            };
            let key = ensure_id(&mut obj);
            if self.groups.contains_key(&key) || self.contacts.contains_key(&key) {
                return Err(EmulatorError::InvalidTenant(format!(
                    "group #{i}: duplicate id {key}"
                )));
            }
            self.groups.insert(key, GroupRec { obj, members });
        }
        Ok(())
    }

    pub fn load_contacts(
        &mut self,
        contacts: Vec<Map<String, Value>>,
    ) -> Result<(), EmulatorError> {
        for (i, mut obj) in contacts.into_iter().enumerate() {
            obj.retain(|k, _| !k.starts_with("@odata."));
            let key = ensure_id(&mut obj);
            if self.groups.contains_key(&key) || self.contacts.contains_key(&key) {
                return Err(EmulatorError::InvalidTenant(format!(
                    "contact #{i}: duplicate id {key}"
                )));
            }
            self.contacts.insert(key, obj);
        }
        Ok(())
    }

    pub fn group(&self, id: &str) -> Option<&GroupRec> {
        self.groups.get(&lower(id))
    }

    pub(crate) fn group_mut(&mut self, id: &str) -> Option<&mut GroupRec> {
        self.groups.get_mut(&lower(id))
    }

    /// Every group (id order).
    pub(crate) fn all(&self) -> impl Iterator<Item = &GroupRec> {
        self.groups.values()
    }

    pub fn contact(&self, id: &str) -> Option<&Map<String, Value>> {
        self.contacts.get(&lower(id))
    }

    pub fn is_group(&self, id: &str) -> bool {
        self.groups.contains_key(&lower(id))
    }

    pub fn is_contact(&self, id: &str) -> bool {
        self.contacts.contains_key(&lower(id))
    }

    /// Every group with its members, as a `groups.json` holds it, in id order.
    pub fn groups_snapshot(&self) -> Vec<Value> {
        self.groups
            .values()
            .map(|g| {
                let mut o = g.obj.clone();
                let members: Vec<Value> =
                    g.members.values().map(|id| json!({ "id": id })).collect();
                o.insert("members".into(), Value::Array(members));
                Value::Object(o)
            })
            .collect()
    }

    pub fn contacts_snapshot(&self) -> Vec<Value> {
        self.contacts.values().cloned().map(Value::Object).collect()
    }

    /// Test hook: puts a group in as given (no write rules), e.g. one Entra Connect synced.
    pub fn insert_raw(&mut self, mut obj: Map<String, Value>) -> Result<String, EmulatorError> {
        let members = match obj.remove("members") {
            Some(v) => member_ids("group", &v)?,
            None => BTreeMap::new(),
        };
        let key = ensure_id(&mut obj);
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.groups.insert(key, GroupRec { obj, members });
        Ok(id)
    }

    /// An object is gone: it is no member of anything any more (Graph drops the links).
    pub fn forget_member(&mut self, id: &str) {
        let key = lower(id);
        for g in self.groups.values_mut() {
            g.members.remove(&key);
        }
    }
}

// ---------------------------------------------------------------- query options

/// A `$select` against a property table; `None` is the default set.
fn parse_select(
    raw: Option<&str>,
    table: &'static [Property],
    type_name: &str,
) -> Result<Option<Vec<&'static str>>, GraphError> {
    let Some(raw) = raw else { return Ok(None) };
    let mut out: Vec<&'static str> = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let p = rules::property(table, part).ok_or_else(|| {
            GraphError::new(
                400,
                "BadRequest",
                format!("Could not find a property named '{part}' on type '{type_name}'."),
            )
        })?;
        if !out.contains(&p.name) {
            out.push(p.name);
        }
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

fn names(select: &Option<Vec<&'static str>>, table: &'static [Property]) -> Vec<&'static str> {
    match select {
        Some(v) => v.clone(),
        None => table.iter().filter(|p| p.default).map(|p| p.name).collect(),
    }
}

fn project(
    obj: &Map<String, Value>,
    names: &[&'static str],
    table: &'static [Property],
) -> Map<String, Value> {
    let mut out = Map::new();
    for &name in names {
        let v = match obj.get(name) {
            Some(v) => v.clone(),
            None if rules::property(table, name).is_some_and(|p| p.collection) => json!([]),
            None => Value::Null,
        };
        out.insert(name.to_owned(), v);
    }
    out
}

/// `(a,b)` of `@odata.context`.
fn context_suffix(select: &Option<Vec<&'static str>>) -> String {
    match select {
        Some(v) => format!("({})", v.join(",")),
        None => String::new(),
    }
}

/// `$expand=members` or `members($select=…)`: the names a member shows.
struct Expand {
    select: Option<Vec<String>>,
}

fn parse_expand(raw: Option<&str>) -> Result<Option<Expand>, GraphError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let (name, inner) = match raw.split_once('(') {
        Some((n, rest)) => (
            n.trim(),
            Some(rest.strip_suffix(')').ok_or_else(|| bad_expand(raw))?),
        ),
        None => (raw, None),
    };
    if !name.eq_ignore_ascii_case("members") {
        return Err(GraphError::new(
            501,
            "NotImplemented",
            format!("graph-emulator does not model $expand of '{name}' on groups."),
        ));
    }
    let select = match inner {
        None => None,
        Some(i) => {
            let (k, v) = i.split_once('=').ok_or_else(|| bad_expand(raw))?;
            if !k.trim().eq_ignore_ascii_case("$select") {
                return Err(bad_expand(raw));
            }
            Some(member_select(Some(v))?.unwrap_or_default())
        }
    };
    Ok(Some(Expand { select }))
}

fn bad_expand(raw: &str) -> GraphError {
    GraphError::new(400, "BadRequest", format!("Invalid $expand value '{raw}'."))
}

/// A `$select` of members: names of any directory object type they may be.
fn member_select(raw: Option<&str>) -> Result<Option<Vec<String>>, GraphError> {
    let Some(raw) = raw else { return Ok(None) };
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let known = graph_rules::user::property(part)
            .map(|p| p.name)
            .or_else(|| rules::property(GROUP_PROPERTIES, part).map(|p| p.name))
            .or_else(|| rules::property(CONTACT_PROPERTIES, part).map(|p| p.name))
            .ok_or_else(|| {
                GraphError::new(
                    400,
                    "BadRequest",
                    format!(
                        "Could not find a property named '{part}' on type 'microsoft.graph.directoryObject'."
                    ),
                )
            })?;
        if !out.iter().any(|o: &String| o == known) {
            out.push(known.to_owned());
        }
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

/// A member as Graph lists it: its `@odata.type`, then the selected properties (`id`,
/// `displayName` and, for users, `userPrincipalName` and `mail` by default).
fn member_json(t: &Tenant, id: &str, select: Option<&[String]>) -> Value {
    let kind = t.member_kind(id);
    let obj: Option<&Map<String, Value>> = match kind {
        MemberKind::User => t.resolve(id).and_then(|k| t.get(&k)).map(|r| &r.obj),
        MemberKind::Group => t.groups().group(id).map(|g| &g.obj),
        MemberKind::OrgContact => t.groups().contact(id),
        MemberKind::Other => None,
    };
    let default: &[&str] = match kind {
        MemberKind::User => &["id", "displayName", "userPrincipalName", "mail"],
        _ => &["id", "displayName"],
    };
    let mut out = Map::new();
    out.insert("@odata.type".into(), json!(kind.odata_type()));
    let mut put = |name: &str| {
        let v = if name == "id" {
            json!(id)
        } else {
            obj.and_then(|o| o.get(name))
                .cloned()
                .unwrap_or(Value::Null)
        };
        out.insert(name.to_owned(), v);
    };
    match select {
        Some(names) => names.iter().for_each(|n| put(n)),
        None => default.iter().for_each(|n| put(n)),
    }
    Value::Object(out)
}

fn skiptoken(q: &Query) -> Result<Option<String>, GraphError> {
    match q.get("$skiptoken") {
        None => Ok(None),
        Some(t) => decode_token(t)
            .and_then(|v| v.get("k").and_then(Value::as_str).map(str::to_owned))
            .map(Some)
            .ok_or_else(|| GraphError::bad_request("Invalid skip token.")),
    }
}

fn next_link(shared: &Shared, path: &str, q: &Query, last: &str) -> String {
    let mut pairs = q.without("$skiptoken");
    pairs.push(("$skiptoken".into(), encode_token(&json!({ "k": last }))));
    format!("{}/v1.0/{path}?{}", shared.base_url, encode_query(&pairs))
}

fn metadata(shared: &Shared, what: &str) -> String {
    format!("{}/v1.0/$metadata#{what}", shared.base_url)
}

fn writes_applied(shared: &Shared) {
    shared
        .stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .writes_applied += 1;
}

fn json_body(req: &GraphRequest) -> Result<Map<String, Value>, GraphError> {
    let body = req.body.as_deref().unwrap_or_default();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(GraphError::new(
            400,
            "BadRequest",
            "Empty Payload. JSON content expected.",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(GraphError::new(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )),
    }
}

// ---------------------------------------------------------------- /groups

/// A group whose licenses its members inherit: member changes move licenses and units.
fn is_licensed(g: &GroupRec) -> bool {
    matches!(g.obj.get("assignedLicenses"), Some(Value::Array(a)) if !a.is_empty())
}

/// `/groups…`.
pub(crate) fn groups(
    shared: &Shared,
    req: &GraphRequest,
    m: &str,
    rest: &[&str],
) -> Result<GraphResponse, GraphError> {
    match rest {
        [] => match m {
            "GET" => list_groups(shared, req),
            "POST" => create_group(shared, req),
            _ => Err(method_not_allowed()),
        },
        [id] => match m {
            "GET" => get_group(shared, req, id),
            "PATCH" => update_group(shared, req, id),
            "DELETE" => delete_group(shared, id),
            _ => Err(method_not_allowed()),
        },
        [id, "assignLicense"] => match m {
            "POST" => crate::licenses::assign_group(shared, req, id),
            _ => Err(method_not_allowed()),
        },
        [id, "members"] => match m {
            "GET" => list_members(shared, req, id),
            _ => Err(method_not_allowed()),
        },
        [id, "members", "$ref"] => match m {
            "POST" => add_member(shared, req, id),
            _ => Err(method_not_allowed()),
        },
        [id, "members", member, "$ref"] => match m {
            "DELETE" => remove_member(shared, id, member),
            _ => Err(method_not_allowed()),
        },
        [_, seg, ..] => Err(GraphError::new(
            501,
            "NotImplemented",
            format!("graph-emulator does not model the '{seg}' segment of groups."),
        )),
    }
}

/// Groups per page with `$expand`: Graph serves at most 100 then, whatever `$top` asks
/// (<https://techcommunity.microsoft.com/discussions/officegraph/graph-api-with-expand-only-bringing-max-100-rows-even-though-top999/4203190>,
/// pointing at <https://learn.microsoft.com/graph/query-parameters#expand-parameter>).
const EXPAND_PAGE_MAX: usize = 100;

fn list_groups(shared: &Shared, req: &GraphRequest) -> Result<GraphResponse, GraphError> {
    let q = Query::parse(req.query.as_deref());
    q.check_known(&[
        "$select",
        "$filter",
        "$top",
        "$skiptoken",
        "$format",
        "$expand",
    ])?;
    let select = parse_select(q.get("$select"), GROUP_PROPERTIES, "microsoft.graph.group")?;
    let expand = parse_expand(q.get("$expand"))?;
    let mut top = parse_top(&q)?.unwrap_or(100);
    if expand.is_some() {
        top = top.min(EXPAND_PAGE_MAX);
    }
    let filter: Option<Expr> = match q.get("$filter") {
        Some(f) if !f.trim().is_empty() => Some(filter::parse_for(Resource::Group, f, false)?),
        _ => None,
    };
    let after = skiptoken(&q)?;
    let shown = names(&select, GROUP_PROPERTIES);
    let tenant = shared.tenant.read().unwrap_or_else(PoisonError::into_inner);
    let all = &tenant.groups().groups;
    let range = match &after {
        Some(a) => all.range::<String, _>((Bound::Excluded(a.clone()), Bound::Unbounded)),
        None => all.range::<String, _>(..),
    };
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for (key, g) in range {
        if filter
            .as_ref()
            .is_some_and(|f| !filter::eval(f, &g.obj, None))
        {
            continue;
        }
        if items.len() == top {
            more = true;
            break;
        }
        let mut o = project(&g.obj, &shown, GROUP_PROPERTIES);
        if let Some(x) = &expand {
            // No next link for expanded members: the first EXPAND_CAP only.
            let members: Vec<Value> = g
                .members
                .values()
                .take(EXPAND_CAP)
                .map(|id| member_json(&tenant, id, x.select.as_deref()))
                .collect();
            o.insert("members".into(), Value::Array(members));
        }
        items.push(Value::Object(o));
        last = Some(key.clone());
    }
    drop(tenant);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(metadata(
            shared,
            &format!("groups{}", context_suffix(&select))
        )),
    );
    if let (true, Some(last)) = (more, last) {
        out.insert(
            "@odata.nextLink".into(),
            json!(next_link(shared, "groups", &q, &last)),
        );
    }
    out.insert("value".into(), Value::Array(items));
    Ok(GraphResponse::json(200, Value::Object(out)))
}

fn get_group(shared: &Shared, req: &GraphRequest, id: &str) -> Result<GraphResponse, GraphError> {
    let q = Query::parse(req.query.as_deref());
    q.check_known(&["$select", "$format", "$expand"])?;
    let select = parse_select(q.get("$select"), GROUP_PROPERTIES, "microsoft.graph.group")?;
    let expand = parse_expand(q.get("$expand"))?;
    let tenant = shared.tenant.read().unwrap_or_else(PoisonError::into_inner);
    let g = tenant
        .groups()
        .group(id)
        .ok_or_else(|| GraphError::not_found(id))?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(metadata(
            shared,
            &format!("groups{}/$entity", context_suffix(&select))
        )),
    );
    out.extend(project(
        &g.obj,
        &names(&select, GROUP_PROPERTIES),
        GROUP_PROPERTIES,
    ));
    if let Some(x) = &expand {
        let members: Vec<Value> = g
            .members
            .values()
            .take(EXPAND_CAP)
            .map(|m| member_json(&tenant, m, x.select.as_deref()))
            .collect();
        out.insert("members".into(), Value::Array(members));
    }
    Ok(GraphResponse::json(200, Value::Object(out)))
}

fn create_group(shared: &Shared, req: &GraphRequest) -> Result<GraphResponse, GraphError> {
    let body = rules::canonical_body(json_body(req)?)?;
    rules::check_create(&body)?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut obj = Map::new();
    obj.insert("id".into(), json!(id));
    obj.extend(body);
    obj.insert("createdDateTime".into(), json!(Utc::now().iso()));
    if !obj.contains_key("groupTypes") {
        obj.insert("groupTypes".into(), json!([]));
    }
    // A Microsoft 365 group gets its address in the tenant's initial domain.
    if rules::is_unified(&obj) {
        let nick = obj
            .get("mailNickname")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let initial = shared
            .directory
            .domains
            .iter()
            .find(|d| d["isInitial"] == Value::Bool(true))
            .and_then(|d| d["id"].as_str())
            .unwrap_or("emulator.onmicrosoft.com");
        let mail = format!("{nick}@{initial}");
        obj.insert("proxyAddresses".into(), json!([format!("SMTP:{mail}")]));
        obj.insert("mail".into(), json!(mail));
    } else {
        obj.insert("mail".into(), Value::Null);
        obj.insert("proxyAddresses".into(), json!([]));
    }
    obj.insert("onPremisesSyncEnabled".into(), Value::Null);
    let mut tenant = shared
        .tenant
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    tenant
        .groups_mut()
        .insert_raw(obj.clone())
        .map_err(|e| GraphError::bad_request(e.to_string()))?;
    drop(tenant);
    writes_applied(shared);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(metadata(shared, "groups/$entity")),
    );
    out.extend(project(
        &obj,
        &names(&None, GROUP_PROPERTIES),
        GROUP_PROPERTIES,
    ));
    let mut resp = GraphResponse::json(201, Value::Object(out));
    resp.headers.push((
        "Location".into(),
        format!("{}/v1.0/groups/{id}", shared.base_url),
    ));
    Ok(resp)
}

fn update_group(
    shared: &Shared,
    req: &GraphRequest,
    id: &str,
) -> Result<GraphResponse, GraphError> {
    let patch = rules::canonical_body(json_body(req)?)?;
    let mut tenant = shared
        .tenant
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let key = lower(id);
    let g = tenant
        .groups_mut()
        .groups
        .get_mut(&key)
        .ok_or_else(|| GraphError::not_found(id))?;
    rules::check_update(&patch, &g.obj)?;
    g.obj.extend(patch);
    drop(tenant);
    writes_applied(shared);
    Ok(GraphResponse::no_content())
}

fn delete_group(shared: &Shared, id: &str) -> Result<GraphResponse, GraphError> {
    let mut tenant = shared
        .tenant
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let key = lower(id);
    let g = tenant
        .groups()
        .groups
        .get(&key)
        .ok_or_else(|| GraphError::not_found(id))?;
    if rules::is_synced(&g.obj) {
        return Err(GraphError::synced_object());
    }
    let licensed = is_licensed(g);
    let groups = tenant.groups_mut();
    groups.groups.remove(&key);
    groups.forget_member(id);
    if licensed {
        crate::licenses::settle(&mut tenant, None);
    }
    drop(tenant);
    writes_applied(shared);
    Ok(GraphResponse::no_content())
}

/// `GET /groups/{id}/members`: keyset pages on the member id.
fn list_members(
    shared: &Shared,
    req: &GraphRequest,
    id: &str,
) -> Result<GraphResponse, GraphError> {
    let q = Query::parse(req.query.as_deref());
    q.check_known(&["$select", "$top", "$skiptoken", "$format"])?;
    let select = member_select(q.get("$select"))?;
    let top = parse_top(&q)?.unwrap_or(100);
    let after = skiptoken(&q)?;
    let tenant = shared.tenant.read().unwrap_or_else(PoisonError::into_inner);
    let g = tenant
        .groups()
        .group(id)
        .ok_or_else(|| GraphError::not_found(id))?;
    let range = match &after {
        Some(a) => g
            .members
            .range::<String, _>((Bound::Excluded(a.clone()), Bound::Unbounded)),
        None => g.members.range::<String, _>(..),
    };
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for (key, member) in range {
        if items.len() == top {
            more = true;
            break;
        }
        items.push(member_json(&tenant, member, select.as_deref()));
        last = Some(key.clone());
    }
    drop(tenant);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(metadata(shared, "directoryObjects")),
    );
    if let (true, Some(last)) = (more, last) {
        out.insert(
            "@odata.nextLink".into(),
            json!(next_link(
                shared,
                &format!("groups/{id}/members"),
                &q,
                &last
            )),
        );
    }
    out.insert("value".into(), Value::Array(items));
    Ok(GraphResponse::json(200, Value::Object(out)))
}

/// `POST /groups/{id}/members/$ref`: the group must take member writes, the member must
/// exist and not be there yet.
fn add_member(shared: &Shared, req: &GraphRequest, id: &str) -> Result<GraphResponse, GraphError> {
    let member = rules::ref_target(&json_body(req)?)?;
    let mut tenant = shared
        .tenant
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let kind = tenant.member_kind(&member);
    let g = tenant
        .groups()
        .group(id)
        .ok_or_else(|| GraphError::not_found(id))?;
    rules::check_member_write(&g.obj)?;
    if kind == MemberKind::Other {
        return Err(GraphError::not_found(&member));
    }
    rules::check_member_kind(&g.obj, kind)?;
    let key = lower(&member);
    if g.members.contains_key(&key) {
        return Err(rules::member_exists());
    }
    let canonical = tenant.canonical_id(&member);
    let licensed = is_licensed(g);
    if let Some(g) = tenant.groups_mut().groups.get_mut(&lower(id)) {
        g.members.insert(key, canonical);
    }
    if licensed {
        crate::licenses::settle(&mut tenant, None);
    }
    drop(tenant);
    writes_applied(shared);
    Ok(GraphResponse::no_content())
}

/// `DELETE /groups/{id}/members/{memberId}/$ref`: 404 when it is not a member.
fn remove_member(shared: &Shared, id: &str, member: &str) -> Result<GraphResponse, GraphError> {
    let mut tenant = shared
        .tenant
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let g = tenant
        .groups()
        .group(id)
        .ok_or_else(|| GraphError::not_found(id))?;
    rules::check_member_write(&g.obj)?;
    let key = lower(member);
    if !g.members.contains_key(&key) {
        return Err(GraphError::not_found(member));
    }
    let licensed = is_licensed(g);
    if let Some(g) = tenant.groups_mut().groups.get_mut(&lower(id)) {
        g.members.remove(&key);
    }
    if licensed {
        crate::licenses::settle(&mut tenant, None);
    }
    drop(tenant);
    writes_applied(shared);
    Ok(GraphResponse::no_content())
}

// ---------------------------------------------------------------- /contacts

/// `/contacts…`: reads only.
pub(crate) fn contacts(
    shared: &Shared,
    req: &GraphRequest,
    m: &str,
    rest: &[&str],
) -> Result<GraphResponse, GraphError> {
    match (m, rest) {
        ("GET", []) => list_contacts(shared, req),
        ("GET", [id]) => get_contact(shared, req, id),
        ("POST" | "PATCH" | "DELETE" | "PUT", [] | [_]) => Err(rules::contacts_read_only()),
        (_, [] | [_]) => Err(method_not_allowed()),
        (_, [_, seg, ..]) => Err(GraphError::new(
            501,
            "NotImplemented",
            format!("graph-emulator does not model the '{seg}' segment of contacts."),
        )),
    }
}

fn list_contacts(shared: &Shared, req: &GraphRequest) -> Result<GraphResponse, GraphError> {
    let q = Query::parse(req.query.as_deref());
    q.check_known(&["$select", "$top", "$skiptoken", "$format"])?;
    let select = parse_select(
        q.get("$select"),
        CONTACT_PROPERTIES,
        "microsoft.graph.orgContact",
    )?;
    let top = parse_top(&q)?.unwrap_or(100);
    let after = skiptoken(&q)?;
    let shown = names(&select, CONTACT_PROPERTIES);
    let tenant = shared.tenant.read().unwrap_or_else(PoisonError::into_inner);
    let all = &tenant.groups().contacts;
    let range = match &after {
        Some(a) => all.range::<String, _>((Bound::Excluded(a.clone()), Bound::Unbounded)),
        None => all.range::<String, _>(..),
    };
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for (key, c) in range {
        if items.len() == top {
            more = true;
            break;
        }
        items.push(Value::Object(project(c, &shown, CONTACT_PROPERTIES)));
        last = Some(key.clone());
    }
    drop(tenant);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(metadata(
            shared,
            &format!("contacts{}", context_suffix(&select))
        )),
    );
    if let (true, Some(last)) = (more, last) {
        out.insert(
            "@odata.nextLink".into(),
            json!(next_link(shared, "contacts", &q, &last)),
        );
    }
    out.insert("value".into(), Value::Array(items));
    Ok(GraphResponse::json(200, Value::Object(out)))
}

fn get_contact(shared: &Shared, req: &GraphRequest, id: &str) -> Result<GraphResponse, GraphError> {
    let q = Query::parse(req.query.as_deref());
    q.check_known(&["$select", "$format"])?;
    let select = parse_select(
        q.get("$select"),
        CONTACT_PROPERTIES,
        "microsoft.graph.orgContact",
    )?;
    let tenant = shared.tenant.read().unwrap_or_else(PoisonError::into_inner);
    let c = tenant
        .groups()
        .contact(id)
        .ok_or_else(|| GraphError::not_found(id))?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(metadata(
            shared,
            &format!("contacts{}/$entity", context_suffix(&select))
        )),
    );
    out.extend(project(
        c,
        &names(&select, CONTACT_PROPERTIES),
        CONTACT_PROPERTIES,
    ));
    Ok(GraphResponse::json(200, Value::Object(out)))
}
