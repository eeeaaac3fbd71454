//! The in-memory directory: users, their indexes, change tracking for delta, and the write
//! rules Graph enforces on users.

use crate::error::{EmulatorError, GraphError, Result};
use crate::filter::{self, Expr, Lookup};
use crate::time::Utc;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;

// The property table and the write rules are Graph's, shared with idsync's Entra snapshot.
use graph_rules::user;
use graph_rules::write::{self as rules, Unique};

/// One user as stored, with what delta needs to know about its changes.
#[derive(Debug, Clone)]
pub struct UserRec {
    pub obj: Map<String, Value>,
    /// Kept apart: Graph never returns the password.
    pub password_profile: Option<Value>,
    pub created_seq: u64,
    pub changed_seq: u64,
    pub prop_seq: HashMap<String, u64>,
}

impl UserRec {
    pub fn id(&self) -> &str {
        self.obj.get("id").and_then(Value::as_str).unwrap_or("")
    }

    pub fn is_synced(&self) -> bool {
        self.obj.get("onPremisesSyncEnabled") == Some(&Value::Bool(true))
    }
}

/// A parsed `$select` (canonical names), or the default set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select(pub Option<Vec<String>>);

impl Select {
    pub fn parse(raw: Option<&str>) -> Result<Select, GraphError> {
        let Some(raw) = raw else {
            return Ok(Select(None));
        };
        let mut out: Vec<String> = Vec::new();
        for part in raw.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let name = match user::property(part) {
                Some(p) => p.name.to_string(),
                None if user::is_extension(part) => part.to_string(),
                None => {
                    return Err(GraphError::new(
                        400,
                        "BadRequest",
                        format!(
                            "Could not find a property named '{part}' on type 'microsoft.graph.user'."
                        ),
                    ));
                }
            };
            if !out.contains(&name) {
                out.push(name);
            }
        }
        if out.is_empty() {
            return Ok(Select(None));
        }
        Ok(Select(Some(out)))
    }

    pub fn names(&self) -> Vec<String> {
        match &self.0 {
            Some(v) => v.clone(),
            None => user::DEFAULT_SELECT.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The `(a,b)` part of `@odata.context`.
    pub fn context_suffix(&self) -> String {
        match &self.0 {
            Some(v) => format!("({})", v.join(",")),
            None => String::new(),
        }
    }
}

fn project_value(rec: &UserRec, name: &str) -> Value {
    if name == "passwordProfile" {
        return Value::Null;
    }
    match rec.obj.get(name) {
        Some(v) => v.clone(),
        None if user::is_collection(name) => json!([]),
        None => Value::Null,
    }
}

/// The user as Graph returns it for `select`: exactly the selected properties (`id` only when
/// selected or in the default set).
pub fn project(rec: &UserRec, select: &Select) -> Value {
    let mut out = Map::new();
    for name in select.names() {
        out.insert(name.clone(), project_value(rec, &name));
    }
    Value::Object(out)
}

/// Delta's representation: `id` always, and only properties that have a value.
fn project_delta(rec: &UserRec, select: &Select, only: Option<&HashSet<String>>) -> Value {
    let mut out = Map::new();
    for name in select.names() {
        if name == "id" {
            continue;
        }
        if let Some(only) = only {
            if only.contains(&name) {
                out.insert(name.clone(), project_value(rec, &name));
            }
            continue;
        }
        match rec.obj.get(&name) {
            Some(Value::Null) | None => {}
            Some(v) => {
                out.insert(name.clone(), v.clone());
            }
        }
    }
    out.insert("id".into(), json!(rec.id()));
    Value::Object(out)
}

/// Graph's case rule for keys and unique values.
fn lower(s: &str) -> String {
    rules::fold(s)
}

fn str_prop<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    obj.get(name).and_then(Value::as_str)
}

/// Sort key for `$orderby`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderBy {
    DisplayName,
    UserPrincipalName,
}

/// Where a page of a list starts: after this (sort value, key).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor {
    pub value: Option<String>,
    pub key: String,
}

pub struct Page {
    pub items: Vec<Value>,
    /// Set when more items follow.
    pub next: Option<Cursor>,
}

/// What the delta engine returns for one page.
pub struct DeltaPage {
    pub items: Vec<Value>,
    pub next: Option<String>,
}

/// The directory.
#[derive(Debug, Default)]
pub struct Tenant {
    users: BTreeMap<String, UserRec>,
    upn: HashMap<String, String>,
    /// Every SMTP address (`mail` and `smtp:` proxy addresses, without the prefix).
    address: HashMap<String, String>,
    /// Every proxy address with its prefix, for `$filter` lookups.
    proxy: HashMap<String, String>,
    immutable: HashMap<String, String>,
    seq: u64,
    /// Deleted users for delta: (seq of deletion, id).
    removed: Vec<(u64, String)>,
    verified_domains: Option<Vec<String>>,
    /// Groups and contacts: beside the users, so a member is checked where it lives.
    groups: crate::groups::Groups,
    /// `subscribedSku` objects: here, under the tenant's lock, because license writes change
    /// their `consumedUnits` together with the users.
    skus: Vec<Value>,
}

/// The users of a Graph JSON document: `{"value":[...]}` or a bare array.
pub fn users_from_json(doc: Value) -> Result<Vec<Map<String, Value>>> {
    let items = match doc {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("value") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(EmulatorError::InvalidTenant(
                    "expected {\"value\":[...]} or an array of users".into(),
                ));
            }
        },
        _ => {
            return Err(EmulatorError::InvalidTenant(
                "expected {\"value\":[...]} or an array of users".into(),
            ));
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(o) => Ok(o),
            _ => Err(EmulatorError::InvalidTenant(format!(
                "user #{i} is not a JSON object"
            ))),
        })
        .collect()
}

impl Tenant {
    pub fn new(verified_domains: Option<Vec<String>>) -> Self {
        Tenant {
            verified_domains: verified_domains.map(|v| v.into_iter().map(|d| lower(&d)).collect()),
            ..Default::default()
        }
    }

    /// Loads users as given; mints a GUID where `id` is missing; keeps unknown properties.
    pub fn load(&mut self, users: Vec<Map<String, Value>>) -> Result<()> {
        for (i, mut obj) in users.into_iter().enumerate() {
            obj.retain(|k, _| !k.starts_with("@odata."));
            if !matches!(obj.get("id"), Some(Value::String(s)) if !s.is_empty()) {
                obj.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
            }
            let password_profile = obj.remove("passwordProfile").filter(|v| !v.is_null());
            let key = lower(str_prop(&obj, "id").unwrap_or_default());
            if self.users.contains_key(&key) {
                return Err(EmulatorError::InvalidTenant(format!(
                    "user #{i}: duplicate id {key}"
                )));
            }
            let rec = UserRec {
                obj,
                password_profile,
                created_seq: 0,
                changed_seq: 0,
                prop_seq: HashMap::new(),
            };
            if let Some(conflict) = self.index_conflict(&rec.obj, None) {
                return Err(EmulatorError::InvalidTenant(format!(
                    "user #{i} ({key}): duplicate {conflict}"
                )));
            }
            self.index(&key, &rec.obj);
            self.users.insert(key, rec);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Every user as stored (no password), in id order.
    pub fn snapshot(&self) -> Vec<Value> {
        self.users
            .values()
            .map(|r| Value::Object(r.obj.clone()))
            .collect()
    }

    /// Writes `{"value":[...]}` atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let doc = json!({ "value": self.snapshot() });
        // Cannot fail: JSON values with string keys always serialize.
        let text = serde_json::to_string_pretty(&doc).expect("JSON values serialize");
        let tmp = path.with_extension("tmp-graph-emulator");
        let err = |source| EmulatorError::Write {
            path: path.display().to_string(),
            source,
        };
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    /// `id` (any case) or userPrincipalName to the storage key.
    pub fn resolve(&self, id_or_upn: &str) -> Option<String> {
        let l = lower(id_or_upn);
        if self.users.contains_key(&l) {
            return Some(l);
        }
        self.upn.get(&l).cloned()
    }

    pub fn get(&self, key: &str) -> Option<&UserRec> {
        self.users.get(key)
    }

    pub fn groups(&self) -> &crate::groups::Groups {
        &self.groups
    }

    pub fn groups_mut(&mut self) -> &mut crate::groups::Groups {
        &mut self.groups
    }

    /// The tenant's subscriptions as `GET /subscribedSkus` serves them.
    pub fn skus(&self) -> &[Value] {
        &self.skus
    }

    pub fn set_skus(&mut self, skus: Vec<Value>) {
        self.skus = skus;
    }

    /// Sets service-computed properties of a user (licenses), as a change delta reports.
    pub(crate) fn set_computed(&mut self, key: &str, props: Vec<(&str, Value)>) {
        let Some(rec) = self.users.get_mut(key) else {
            return;
        };
        let mut changed = false;
        for (k, v) in props {
            if rec.obj.get(k) != Some(&v) {
                if !changed {
                    self.seq += 1;
                    changed = true;
                }
                rec.obj.insert(k.to_owned(), v);
                rec.prop_seq.insert(k.to_owned(), self.seq);
            }
        }
        if changed {
            rec.changed_seq = self.seq;
        }
    }

    /// Every user's key and properties.
    pub(crate) fn user_objects(&self) -> impl Iterator<Item = (&String, &Map<String, Value>)> {
        self.users.iter().map(|(k, r)| (k, &r.obj))
    }

    /// What kind of directory object `id` is (`Other`: none the tenant holds).
    pub fn member_kind(&self, id: &str) -> graph_rules::group::MemberKind {
        use graph_rules::group::MemberKind;
        if self.users.contains_key(&lower(id)) {
            MemberKind::User
        } else if self.groups.is_group(id) {
            MemberKind::Group
        } else if self.groups.is_contact(id) {
            MemberKind::OrgContact
        } else {
            MemberKind::Other
        }
    }

    /// The object's id as stored (a request may spell it in another case).
    pub fn canonical_id(&self, id: &str) -> String {
        let stored = self
            .users
            .get(&lower(id))
            .map(|r| r.id())
            .or_else(|| self.groups.group(id).map(|g| g.id()))
            .or_else(|| {
                self.groups
                    .contact(id)
                    .and_then(|c| c.get("id"))
                    .and_then(Value::as_str)
            });
        stored.unwrap_or(id).to_owned()
    }

    // ------------------------------------------------------------ indexes

    fn proxies(obj: &Map<String, Value>) -> Vec<String> {
        match obj.get("proxyAddresses") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(lower).collect(),
            _ => Vec::new(),
        }
    }

    /// The index of one unique property ([`rules::unique_values`]).
    fn unique(&mut self, which: Unique) -> &mut HashMap<String, String> {
        match which {
            Unique::UserPrincipalName => &mut self.upn,
            Unique::OnPremisesImmutableId => &mut self.immutable,
            Unique::ProxyAddresses => &mut self.address,
        }
    }

    fn index(&mut self, key: &str, obj: &Map<String, Value>) {
        for (which, value) in rules::unique_values(obj) {
            self.unique(which).insert(lower(value), key.to_string());
        }
        for p in Self::proxies(obj) {
            self.proxy.insert(p, key.to_string());
        }
    }

    fn unindex(&mut self, obj: &Map<String, Value>) {
        for (which, value) in rules::unique_values(obj) {
            self.unique(which).remove(&lower(value));
        }
        for p in Self::proxies(obj) {
            self.proxy.remove(&p);
        }
    }

    /// The first unique property of `obj` already held by another user than `own`.
    fn index_conflict(&self, obj: &Map<String, Value>, own: Option<&str>) -> Option<&'static str> {
        rules::unique_values(obj)
            .into_iter()
            .find(|(which, value)| {
                let map = match which {
                    Unique::UserPrincipalName => &self.upn,
                    Unique::OnPremisesImmutableId => &self.immutable,
                    Unique::ProxyAddresses => &self.address,
                };
                map.get(&lower(value))
                    .is_some_and(|o| Some(o.as_str()) != own)
            })
            .map(|(which, _)| which.as_str())
    }

    // ------------------------------------------------------------ reads

    /// Users matching `filter` in page order, starting after `after`.
    pub fn list(
        &self,
        filter: Option<&Expr>,
        order: Option<(OrderBy, bool)>,
        after: Option<&Cursor>,
        top: usize,
        select: &Select,
    ) -> Page {
        let indexed: Option<Vec<&UserRec>> = filter.and_then(filter::lookups).map(|lookups| {
            let mut keys: Vec<String> = lookups
                .iter()
                .filter_map(|l| match l {
                    Lookup::Id(id) => Some(lower(id)).filter(|k| self.users.contains_key(k)),
                    Lookup::Upn(u) => self.upn.get(&lower(u)).cloned(),
                    Lookup::ImmutableId(i) => self.immutable.get(&lower(i)).cloned(),
                    Lookup::Proxy(p) => self.proxy.get(&lower(p)).cloned(),
                })
                .collect();
            keys.sort();
            keys.dedup();
            keys.iter().filter_map(|k| self.users.get(k)).collect()
        });
        let matches = |r: &&UserRec| filter.is_none_or(|f| filter::eval(f, &r.obj, None));
        match order {
            None => {
                // Keyset paging on the id: users added or removed between pages shift nothing.
                let start = after.map(|c| c.key.clone());
                let iter: Box<dyn Iterator<Item = &UserRec>> = match (&indexed, &start) {
                    (Some(v), _) => Box::new(v.iter().copied()),
                    (None, Some(s)) => Box::new(
                        self.users
                            .range::<String, _>((Bound::Excluded(s.clone()), Bound::Unbounded))
                            .map(|(_, r)| r),
                    ),
                    (None, None) => Box::new(self.users.values()),
                };
                let mut items = Vec::new();
                let mut last = None;
                let mut more = false;
                for r in iter.filter(matches) {
                    let key = lower(r.id());
                    if start.as_ref().is_some_and(|s| key <= *s) {
                        continue;
                    }
                    if items.len() == top {
                        more = true;
                        break;
                    }
                    items.push(project(r, select));
                    last = Some(key);
                }
                Page {
                    items,
                    next: if more {
                        last.map(|key| Cursor { value: None, key })
                    } else {
                        None
                    },
                }
            }
            Some((by, desc)) => {
                let prop = match by {
                    OrderBy::DisplayName => "displayName",
                    OrderBy::UserPrincipalName => "userPrincipalName",
                };
                let all: Vec<&UserRec> = match indexed {
                    Some(v) => v,
                    None => self.users.values().collect(),
                };
                let mut sorted: Vec<(String, String, &UserRec)> = all
                    .into_iter()
                    .filter(matches)
                    .map(|r| {
                        (
                            lower(str_prop(&r.obj, prop).unwrap_or("")),
                            lower(r.id()),
                            r,
                        )
                    })
                    .collect();
                sorted.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
                if desc {
                    sorted.reverse();
                }
                let past = |v: &str, k: &str| match after {
                    None => true,
                    Some(c) => {
                        let cv = c.value.clone().unwrap_or_default();
                        let ord = (v, k).cmp(&(cv.as_str(), c.key.as_str()));
                        if desc { ord.is_lt() } else { ord.is_gt() }
                    }
                };
                let rest: Vec<_> = sorted.into_iter().filter(|(v, k, _)| past(v, k)).collect();
                let more = rest.len() > top;
                let page: Vec<_> = rest.into_iter().take(top).collect();
                let next = if more {
                    page.last().map(|(v, k, _)| Cursor {
                        value: Some(v.clone()),
                        key: k.clone(),
                    })
                } else {
                    None
                };
                Page {
                    items: page.iter().map(|(_, _, r)| project(r, select)).collect(),
                    next,
                }
            }
        }
    }

    /// Number of users matching `filter` (for `$count`).
    pub fn count(&self, filter: Option<&Expr>) -> usize {
        self.users
            .values()
            .filter(|r| filter.is_none_or(|f| filter::eval(f, &r.obj, None)))
            .count()
    }

    /// A page of the initial delta round: the current state of every user, after `after`.
    pub fn delta_initial(
        &self,
        ids: Option<&HashSet<String>>,
        after: Option<&str>,
        top: usize,
        select: &Select,
    ) -> (Vec<Value>, Option<String>) {
        let mut items = Vec::new();
        let mut last = None;
        let range = match after {
            Some(a) => self
                .users
                .range::<String, _>((Bound::Excluded(a.to_string()), Bound::Unbounded)),
            None => self.users.range::<String, _>(..),
        };
        for (key, rec) in range {
            if ids.is_some_and(|ids| !ids.contains(key)) {
                continue;
            }
            if items.len() == top {
                return (items, last);
            }
            items.push(project_delta(rec, select, None));
            last = Some(key.clone());
        }
        (items, None)
    }

    /// A page of changes in `(since, upto]`, after `after`: changed and created users, and
    /// deleted ones as `@removed`.
    #[allow(clippy::too_many_arguments)]
    pub fn delta_changes(
        &self,
        since: u64,
        upto: u64,
        ids: Option<&HashSet<String>>,
        after: Option<&str>,
        top: usize,
        select: &Select,
        minimal: bool,
    ) -> (Vec<Value>, Option<String>) {
        let in_range = |s: u64| s > since && s <= upto;
        let names = select.names();
        let mut entries: BTreeMap<String, Value> = BTreeMap::new();
        for (key, rec) in &self.users {
            if ids.is_some_and(|ids| !ids.contains(key)) {
                continue;
            }
            let created = in_range(rec.created_seq) && rec.created_seq > 0;
            let changed: HashSet<String> = names
                .iter()
                .filter(|n| rec.prop_seq.get(*n).is_some_and(|s| in_range(*s)))
                .cloned()
                .collect();
            if !created && changed.is_empty() {
                continue;
            }
            let v = if created || !minimal {
                project_delta(rec, select, None)
            } else {
                project_delta(rec, select, Some(&changed))
            };
            entries.insert(key.clone(), v);
        }
        for (s, id) in &self.removed {
            let key = lower(id);
            if in_range(*s)
                && ids.is_none_or(|ids| ids.contains(&key))
                && !self.users.contains_key(&key)
            {
                // Deleted users go to the recycle bin first: reason "changed" (restorable).
                entries.insert(
                    key,
                    json!({ "id": id, "@removed": { "reason": "changed" } }),
                );
            }
        }
        let mut items = Vec::new();
        let mut last = None;
        for (key, v) in entries {
            if after.is_some_and(|a| key.as_str() <= a) {
                continue;
            }
            if items.len() == top {
                return (items, last);
            }
            items.push(v);
            last = Some(key);
        }
        (items, None)
    }

    // ------------------------------------------------------------ writes

    /// The tenant's part of the UPN rule: its domain must be verified, when domains are
    /// configured (the shape of a UPN is [`rules::valid_upn`]).
    fn check_domain(&self, body: &Map<String, Value>) -> Result<(), GraphError> {
        let (Some(domains), Some(upn)) =
            (&self.verified_domains, str_prop(body, "userPrincipalName"))
        else {
            return Ok(());
        };
        let domain = lower(upn.rsplit('@').next().unwrap_or(""));
        if domains.contains(&domain) {
            Ok(())
        } else {
            Err(GraphError::unverified_domain())
        }
    }

    /// Setting mail makes it the primary (`SMTP:`) address ([`rules::primary_smtp`]).
    fn apply_mail_to_proxies(obj: &mut Map<String, Value>, mail: &str) {
        let proxies = match obj.get("proxyAddresses") {
            Some(Value::Array(a)) => rules::primary_smtp(a.iter().filter_map(Value::as_str), mail),
            _ => rules::primary_smtp([], mail),
        };
        obj.insert("proxyAddresses".into(), json!(proxies));
    }

    /// `POST /users`.
    pub fn create(&mut self, body: Map<String, Value>) -> Result<UserRec, GraphError> {
        let mut body = rules::canonical_body(body)?;
        rules::check_create(&body)?;
        self.check_domain(&body)?;
        let password_profile = body.remove("passwordProfile");
        let id = uuid::Uuid::new_v4().to_string();
        let mut obj = Map::new();
        obj.insert("id".into(), json!(id));
        for (k, v) in body {
            obj.insert(k, v);
        }
        obj.insert("createdDateTime".into(), json!(Utc::now().iso()));
        if !obj.contains_key("userType") {
            obj.insert("userType".into(), json!("Member"));
        }
        if !obj.contains_key("creationType") {
            obj.insert("creationType".into(), Value::Null);
        }
        let mail = str_prop(&obj, "mail").map(str::to_string);
        if let Some(m) = mail {
            Self::apply_mail_to_proxies(&mut obj, &m);
        }
        if let Some(conflict) = self.index_conflict(&obj, None) {
            return Err(GraphError::conflict(conflict));
        }
        self.seq += 1;
        let seq = self.seq;
        let key = lower(&id);
        self.index(&key, &obj);
        let prop_seq = obj.keys().map(|k| (k.clone(), seq)).collect();
        let rec = UserRec {
            obj,
            password_profile,
            created_seq: seq,
            changed_seq: seq,
            prop_seq,
        };
        self.users.insert(key, rec.clone());
        Ok(rec)
    }

    /// `PATCH /users/{id}`.
    pub fn update(&mut self, key: &str, body: Map<String, Value>) -> Result<(), GraphError> {
        let body = rules::canonical_body(body)?;
        let rec = self
            .users
            .get(key)
            .ok_or_else(|| GraphError::not_found(key))?;
        rules::check_update(&body, rec.is_synced())?;
        self.check_domain(&body)?;
        let mut obj = rec.obj.clone();
        let mut password_profile = rec.password_profile.clone();
        let mut changed: Vec<String> = Vec::new();
        for (k, v) in body {
            if k == "passwordProfile" {
                password_profile = Some(v);
                changed.push(k);
                continue;
            }
            if k == "mail"
                && let Some(m) = v.as_str()
            {
                let before = obj.get("proxyAddresses").cloned();
                Self::apply_mail_to_proxies(&mut obj, m);
                if obj.get("proxyAddresses") != before.as_ref() {
                    changed.push("proxyAddresses".into());
                }
            }
            if obj.get(&k) != Some(&v) {
                obj.insert(k.clone(), v);
                changed.push(k);
            }
        }
        if let Some(conflict) = self.index_conflict(&obj, Some(key)) {
            return Err(GraphError::conflict(conflict));
        }
        let old = self
            .users
            .get(key)
            .map(|r| r.obj.clone())
            .unwrap_or_default();
        self.unindex(&old);
        self.index(key, &obj);
        // Cannot fail: `key` was looked up above, under the same lock.
        let rec = self.users.get_mut(key).expect("checked above");
        rec.obj = obj;
        rec.password_profile = password_profile;
        if !changed.is_empty() {
            self.seq += 1;
            rec.changed_seq = self.seq;
            for c in changed {
                rec.prop_seq.insert(c, self.seq);
            }
        }
        Ok(())
    }

    /// `DELETE /users/{id}`: the user goes to the recycle bin, which the emulator does not serve.
    pub fn delete(&mut self, key: &str) -> Result<(), GraphError> {
        let rec = self
            .users
            .remove(key)
            .ok_or_else(|| GraphError::not_found(key))?;
        self.unindex(&rec.obj);
        self.groups.forget_member(rec.id());
        self.seq += 1;
        self.removed.push((self.seq, rec.id().to_string()));
        Ok(())
    }

    /// Test hook: puts a user in as given (no write rules), e.g. a synced user arriving.
    pub fn insert_raw(&mut self, mut obj: Map<String, Value>) -> Result<String, EmulatorError> {
        if !matches!(obj.get("id"), Some(Value::String(s)) if !s.is_empty()) {
            obj.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
        }
        let key = lower(str_prop(&obj, "id").unwrap_or_default());
        if let Some(old) = self.users.get(&key).map(|r| r.obj.clone()) {
            self.unindex(&old);
        }
        if let Some(conflict) = self.index_conflict(&obj, Some(&key)) {
            if let Some(old) = self.users.get(&key).map(|r| r.obj.clone()) {
                self.index(&key, &old);
            }
            return Err(EmulatorError::InvalidTenant(format!(
                "duplicate {conflict}"
            )));
        }
        self.seq += 1;
        let seq = self.seq;
        let password_profile = obj.remove("passwordProfile");
        self.index(&key, &obj);
        let prop_seq = obj.keys().map(|k| (k.clone(), seq)).collect();
        let existed = self.users.contains_key(&key);
        let created_seq = if existed {
            self.users[&key].created_seq
        } else {
            seq
        };
        self.users.insert(
            key.clone(),
            UserRec {
                obj,
                password_profile,
                created_seq,
                changed_seq: seq,
                prop_seq,
            },
        );
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        let mut t = Tenant::new(None);
        t.load(users_from_json(json!({"value": [
            {"id": "00000000-0000-0000-0000-000000000001", "userPrincipalName": "a@example.com", "displayName": "A",
             "mail": "a@example.com", "proxyAddresses": ["SMTP:a@example.com"]},
            {"userPrincipalName": "s@example.com", "displayName": "S", "onPremisesSyncEnabled": true, "x-custom": 1}
        ]})).unwrap())
        .unwrap();
        t
    }

    #[test]
    fn load_mints_ids_and_keeps_unknown_properties() {
        let t = tenant();
        let key = t.resolve("S@EXAMPLE.com").unwrap();
        let rec = t.get(&key).unwrap();
        assert_eq!(rec.id().len(), 36);
        assert_eq!(rec.obj["x-custom"], json!(1));
    }

    #[test]
    fn mail_becomes_primary_proxy() {
        let mut t = tenant();
        let k = t.resolve("a@example.com").unwrap();
        let mut b = Map::new();
        b.insert("mail".into(), json!("new@example.com"));
        t.update(&k, b).unwrap();
        assert_eq!(
            t.get(&k).unwrap().obj["proxyAddresses"],
            json!(["SMTP:new@example.com", "smtp:a@example.com"])
        );
    }

    #[test]
    fn synced_user_refuses_mastered_but_not_usage_location() {
        let mut t = tenant();
        let k = t.resolve("s@example.com").unwrap();
        let mut b = Map::new();
        b.insert("jobTitle".into(), json!("x"));
        assert_eq!(t.update(&k, b).unwrap_err(), GraphError::synced_object());
        let mut b = Map::new();
        b.insert("usageLocation".into(), json!("NL"));
        t.update(&k, b).unwrap();
    }
}
