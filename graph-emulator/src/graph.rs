//! Graph's `/v1.0` users API, independent of the HTTP server so that `$batch` can run the
//! same code for its sub-requests.

use crate::error::GraphError;
use crate::filter::{self, Expr, Lit, Target};
use crate::server::Shared;
use crate::tenant::{Cursor, OrderBy, Select, project};
use crate::tenant_wide::{self, Wide};
use crate::throttle::{Origin, Verdict};
use crate::time::Utc;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::PoisonError;
use std::time::Instant;

/// One Graph request, from the wire or from a `$batch` body.
#[derive(Debug, Clone)]
pub struct GraphRequest {
    pub method: String,
    /// The path after `/v1.0`, e.g. `/users/abc` (still percent-encoded).
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The raw body, if any.
    pub body: Option<Vec<u8>>,
}

impl GraphRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub enum Body {
    None,
    Json(Value),
    Text(String),
}

#[derive(Debug, Clone)]
pub struct GraphResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// Graph's JSON content type for OData answers.
pub const ODATA_JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

impl GraphResponse {
    pub fn json(status: u16, v: Value) -> Self {
        GraphResponse {
            status,
            headers: vec![
                ("Content-Type".into(), ODATA_JSON.into()),
                ("OData-Version".into(), "4.0".into()),
            ],
            body: Body::Json(v),
        }
    }

    pub fn no_content() -> Self {
        GraphResponse {
            status: 204,
            headers: Vec::new(),
            body: Body::None,
        }
    }

    pub fn error(e: &GraphError, request_id: &str, client_request_id: &str) -> Self {
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        if let Some(s) = e.retry_after {
            headers.push(("Retry-After".into(), s.to_string()));
        }
        if e.status == 401 {
            headers.push((
                "WWW-Authenticate".into(),
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"".into(),
            ));
        }
        GraphResponse {
            status: e.status,
            headers,
            body: Body::Json(e.body(
                request_id,
                client_request_id,
                &Utc::now().graph_inner_date(),
            )),
        }
    }
}

/// Request ids of one answer: Graph's own, and the client's (echoed, or Graph's when absent).
#[derive(Debug, Clone)]
pub struct Ids {
    pub request_id: String,
    pub client_request_id: String,
}

impl Ids {
    pub fn new(client_request_id: Option<&str>) -> Self {
        let request_id = uuid::Uuid::new_v4().to_string();
        let client_request_id = client_request_id
            .map(str::to_string)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| request_id.clone());
        Ids {
            request_id,
            client_request_id,
        }
    }
}

/// Keeps `$`, `'`, `(`, `)`, `,`, `:`, `/`, `@` literal in links, as Graph's own links do.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']')
    .add(b'=');

pub(crate) fn encode_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", k, utf8_percent_encode(v, QUERY_VALUE)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Query options: OData system options are matched without regard to case.
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn without(&self, name: &str) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
            .cloned()
            .collect()
    }

    /// Refuses `$options` Graph does not know; plain parameters are ignored as Graph does.
    pub(crate) fn check_known(&self, allowed: &[&str]) -> Result<(), GraphError> {
        for (k, _) in &self.pairs {
            if !k.starts_with('$') {
                continue;
            }
            let lower = k.to_ascii_lowercase();
            if allowed.contains(&lower.as_str()) {
                continue;
            }
            return Err(match lower.as_str() {
                "$skip" => GraphError::bad_request("'$skip' is not supported by the service."),
                "$expand" | "$apply" | "$compute" => GraphError::new(
                    501,
                    "NotImplemented",
                    format!("graph-emulator does not model the '{k}' query option."),
                ),
                _ => GraphError::new(
                    400,
                    "BadRequest",
                    format!("The query parameter '{k}' is not supported."),
                ),
            });
        }
        Ok(())
    }
}

pub(crate) fn encode_token(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

pub(crate) fn decode_token(s: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn consistency_eventual(req: &GraphRequest) -> bool {
    req.header("ConsistencyLevel")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
}

fn parse_json_body(req: &GraphRequest) -> Result<Map<String, Value>, GraphError> {
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

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

pub(crate) fn method_not_allowed() -> GraphError {
    GraphError::new(
        405,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )
}

/// Applies the app's budget, then serves the request.
pub fn serve(
    shared: &Shared,
    app: &str,
    req: &GraphRequest,
    ids: &Ids,
    origin: Origin,
) -> GraphResponse {
    let limit = shared.knobs().rate_limit;
    let verdict = shared
        .throttle
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .admit(app, limit, Instant::now(), origin);
    match verdict {
        Verdict::Allowed => {}
        Verdict::Throttled { retry_after } | Verdict::Blocked { retry_after, .. } => {
            let mut stats = shared.stats.lock().unwrap_or_else(PoisonError::into_inner);
            stats.throttled += 1;
            if matches!(verdict, Verdict::Blocked { early: true, .. }) {
                stats.early_requests += 1;
            }
            drop(stats);
            return GraphResponse::error(
                &GraphError::too_many_requests(retry_after),
                &ids.request_id,
                &ids.client_request_id,
            );
        }
    }
    match dispatch(shared, req) {
        Ok(r) => r,
        Err(e) => GraphResponse::error(&e, &ids.request_id, &ids.client_request_id),
    }
}

/// A collection's router: the request's method (upper case) and the path after the
/// collection's segment.
type Route = fn(&Shared, &GraphRequest, &str, &[&str]) -> Result<GraphResponse, GraphError>;

/// The collections the emulator serves, by their path segment: one row per kind of object it
/// models. A collection Graph has and this table lacks answers as an unknown segment, so a
/// test that needs it fails loudly instead of reading an empty tenant.
const COLLECTIONS: &[(&str, Route)] = &[
    ("users", users),
    ("groups", crate::groups::groups),
    ("contacts", crate::groups::contacts),
];

fn dispatch(shared: &Shared, req: &GraphRequest) -> Result<GraphResponse, GraphError> {
    let segs = segments(&req.path);
    let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = req.method.to_ascii_uppercase();
    if let [first, rest @ ..] = seg.as_slice()
        && let Some((_, route)) = COLLECTIONS.iter().find(|(c, _)| c == first)
    {
        return route(shared, req, &m, rest);
    }
    match seg.as_slice() {
        ["directory", "onPremisesSynchronization"] => {
            tenant_wide::get(shared, req, &m, Wide::OnPremisesSynchronization)
        }
        ["domains"] => tenant_wide::get(shared, req, &m, Wide::Domains),
        ["roleManagement", "directory", "roleAssignments"] => {
            tenant_wide::get(shared, req, &m, Wide::RoleAssignments)
        }
        ["roleManagement", "directory", "roleDefinitions"] => {
            tenant_wide::get(shared, req, &m, Wide::RoleDefinitions)
        }
        ["subscribedSkus"] => tenant_wide::get(shared, req, &m, Wide::SubscribedSkus),
        ["$batch"] => Err(GraphError::new(
            400,
            "BadRequest",
            "Nested batch requests are not supported.",
        )),
        [] => Err(GraphError::new(
            400,
            "BadRequest",
            "Resource not found for the segment ''.",
        )),
        [first, ..] => Err(GraphError::new(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{first}'."),
        )),
    }
}

/// `/users…`.
fn users(
    shared: &Shared,
    req: &GraphRequest,
    m: &str,
    rest: &[&str],
) -> Result<GraphResponse, GraphError> {
    match rest {
        [] => match m {
            "GET" => list_users(shared, req),
            "POST" => create_user(shared, req),
            _ => Err(method_not_allowed()),
        },
        ["$count"] => match m {
            "GET" => count_users(shared, req),
            _ => Err(method_not_allowed()),
        },
        [d] if matches!(
            *d,
            "delta" | "delta()" | "microsoft.graph.delta" | "microsoft.graph.delta()"
        ) =>
        {
            match m {
                "GET" => delta(shared, req),
                _ => Err(method_not_allowed()),
            }
        }
        [key, "assignLicense"] => match m {
            "POST" => crate::licenses::assign_user(shared, req, key),
            _ => Err(method_not_allowed()),
        },
        [key] => match m {
            "GET" => get_user(shared, req, key),
            "PATCH" => update_user(shared, req, key),
            "DELETE" => delete_user(shared, key),
            _ => Err(method_not_allowed()),
        },
        [_, rest, ..] => Err(GraphError::new(
            501,
            "NotImplemented",
            format!("graph-emulator does not model the '{rest}' segment of users."),
        )),
    }
}

fn context(shared: &Shared, suffix: &str) -> String {
    format!("{}/v1.0/$metadata#users{}", shared.base_url, suffix)
}

pub(crate) fn parse_top(q: &Query) -> Result<Option<usize>, GraphError> {
    match q.get("$top") {
        None => Ok(None),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if (1..=999).contains(&n) => Ok(Some(n as usize)),
            _ => Err(GraphError::unsupported_query(format!(
                "Invalid page size specified: '{v}'. Must be between 1 and 999 inclusive."
            ))),
        },
    }
}

/// `$count=true|false`; anything else is refused.
fn parse_count(q: &Query) -> Result<bool, GraphError> {
    match q.get("$count").map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(GraphError::new(
            400,
            "BadRequest",
            format!("Invalid value '{v}' for $count query option."),
        )),
    }
}

fn parse_orderby(raw: &str) -> Result<(OrderBy, bool), GraphError> {
    let mut parts = raw.split_whitespace();
    let prop = parts.next().unwrap_or("");
    let dir = parts.next().map(|d| d.to_ascii_lowercase());
    let by = if prop.eq_ignore_ascii_case("displayName") {
        OrderBy::DisplayName
    } else if prop.eq_ignore_ascii_case("userPrincipalName") {
        OrderBy::UserPrincipalName
    } else {
        return Err(GraphError::unsupported_query(
            "Sorting not supported for current query.",
        ));
    };
    let desc = match dir.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => {
            return Err(GraphError::new(
                400,
                "BadRequest",
                format!("Invalid $orderby value '{raw}'."),
            ));
        }
    };
    if parts.next().is_some() || raw.contains(',') {
        return Err(GraphError::unsupported_query(
            "Sorting not supported for current query.",
        ));
    }
    Ok((by, desc))
}

fn list_users(shared: &Shared, req: &GraphRequest) -> Result<GraphResponse, GraphError> {
    let q = Query::parse(req.query.as_deref());
    q.check_known(&[
        "$select",
        "$filter",
        "$top",
        "$skiptoken",
        "$count",
        "$orderby",
        "$search",
        "$format",
    ])?;
    let select = Select::parse(q.get("$select"))?;
    if let Some(names) = &select.0
        && let Some(p) = names
            .iter()
            .find(|n| graph_rules::user::is_single_user_only(n))
    {
        return Err(GraphError::new(
            501,
            "NotImplemented",
            format!("The property '{p}' can only be returned when retrieving a single user."),
        ));
    }
    let count = parse_count(&q)?;
    let eventual = consistency_eventual(req);
    let advanced = eventual && count;
    if q.get("$search").is_some() {
        if !eventual {
            return Err(GraphError::unsupported_query(
                "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
            ));
        }
        return Err(GraphError::new(
            501,
            "NotImplemented",
            "graph-emulator does not model $search.",
        ));
    }
    let top = parse_top(&q)?.unwrap_or(100);
    let filter: Option<Expr> = match q.get("$filter") {
        Some(f) if !f.trim().is_empty() => Some(filter::parse(f, advanced)?),
        _ => None,
    };
    let order = match q.get("$orderby") {
        Some(o) => {
            // "Using $filter and $orderby together is supported only with advanced queries."
            if filter.is_some() && !advanced {
                return Err(GraphError::unsupported_query(
                    "Sorting not supported for current query.",
                ));
            }
            Some(parse_orderby(o)?)
        }
        None => None,
    };
    let after = match q.get("$skiptoken") {
        Some(t) => {
            let v =
                decode_token(t).ok_or_else(|| GraphError::bad_request("Invalid skip token."))?;
            Some(Cursor {
                key: v
                    .get("k")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                value: v.get("v").and_then(Value::as_str).map(str::to_string),
            })
        }
        None => None,
    };
    let tenant = shared.tenant.read().unwrap_or_else(PoisonError::into_inner);
    let page = tenant.list(filter.as_ref(), order, after.as_ref(), top, &select);
    let total = if advanced {
        Some(tenant.count(filter.as_ref()))
    } else {
        None
    };
    drop(tenant);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(context(shared, &select.context_suffix())),
    );
    if let Some(n) = total {
        out.insert("@odata.count".into(), json!(n));
    }
    if let Some(c) = page.next {
        let mut token = Map::new();
        token.insert("k".into(), json!(c.key));
        if let Some(v) = c.value {
            token.insert("v".into(), json!(v));
        }
        let mut pairs = q.without("$skiptoken");
        pairs.push(("$skiptoken".into(), encode_token(&Value::Object(token))));
        out.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/v1.0/users?{}",
                shared.base_url,
                encode_query(&pairs)
            )),
        );
    }
    out.insert("value".into(), Value::Array(page.items));
    Ok(GraphResponse::json(200, Value::Object(out)))
}

fn count_users(shared: &Shared, req: &GraphRequest) -> Result<GraphResponse, GraphError> {
    if !consistency_eventual(req) {
        return Err(GraphError::bad_request(
            "$count is not currently supported.",
        ));
    }
    let q = Query::parse(req.query.as_deref());
    q.check_known(&["$filter", "$search"])?;
    let filter = match q.get("$filter") {
        Some(f) if !f.trim().is_empty() => Some(filter::parse(f, true)?),
        _ => None,
    };
    let n = shared
        .tenant
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .count(filter.as_ref());
    Ok(GraphResponse {
        status: 200,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: Body::Text(n.to_string()),
    })
}

fn get_user(shared: &Shared, req: &GraphRequest, key: &str) -> Result<GraphResponse, GraphError> {
    let q = Query::parse(req.query.as_deref());
    q.check_known(&["$select", "$format"])?;
    let select = Select::parse(q.get("$select"))?;
    let tenant = shared.tenant.read().unwrap_or_else(PoisonError::into_inner);
    let k = tenant
        .resolve(key)
        .ok_or_else(|| GraphError::not_found(key))?;
    let rec = tenant.get(&k).ok_or_else(|| GraphError::not_found(key))?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(context(
            shared,
            &format!("{}/$entity", select.context_suffix())
        )),
    );
    if let Value::Object(o) = project(rec, &select) {
        out.extend(o);
    }
    Ok(GraphResponse::json(200, Value::Object(out)))
}

fn create_user(shared: &Shared, req: &GraphRequest) -> Result<GraphResponse, GraphError> {
    let body = parse_json_body(req)?;
    let mut tenant = shared
        .tenant
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let rec = tenant.create(body)?;
    drop(tenant);
    shared
        .stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .writes_applied += 1;
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context(shared, "/$entity")));
    if let Value::Object(o) = project(&rec, &Select(None)) {
        out.extend(o);
    }
    let mut resp = GraphResponse::json(201, Value::Object(out));
    resp.headers.push((
        "Location".into(),
        format!("{}/v1.0/users/{}", shared.base_url, rec.id()),
    ));
    Ok(resp)
}

fn update_user(
    shared: &Shared,
    req: &GraphRequest,
    key: &str,
) -> Result<GraphResponse, GraphError> {
    let body = parse_json_body(req)?;
    let mut tenant = shared
        .tenant
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let k = tenant
        .resolve(key)
        .ok_or_else(|| GraphError::not_found(key))?;
    tenant.update(&k, body)?;
    drop(tenant);
    shared
        .stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .writes_applied += 1;
    Ok(GraphResponse::no_content())
}

fn delete_user(shared: &Shared, key: &str) -> Result<GraphResponse, GraphError> {
    let mut tenant = shared
        .tenant
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let k = tenant
        .resolve(key)
        .ok_or_else(|| GraphError::not_found(key))?;
    if let Some(obj) = tenant.get(&k).map(|r| r.obj.clone()) {
        crate::licenses::release(&mut tenant, &obj);
    }
    tenant.delete(&k)?;
    drop(tenant);
    shared
        .stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .writes_applied += 1;
    Ok(GraphResponse::no_content())
}

/// The ids of a delta scoping filter: `id eq 'a' or id eq 'b'` (at most 50).
fn delta_ids(e: &Expr, out: &mut HashSet<String>) -> Result<(), GraphError> {
    match e {
        Expr::Or(a, b) => {
            delta_ids(a, out)?;
            delta_ids(b, out)
        }
        Expr::Cmp(Target::Prop(p), filter::CmpOp::Eq, Lit::Str(id)) if p == "id" => {
            out.insert(id.to_lowercase());
            Ok(())
        }
        Expr::In(Target::Prop(p), values) if p == "id" => {
            for v in values {
                match v {
                    Lit::Str(id) => {
                        out.insert(id.to_lowercase());
                    }
                    _ => return Err(GraphError::unsupported_filter_property("id")),
                }
            }
            Ok(())
        }
        Expr::Cmp(Target::Prop(p), ..)
        | Expr::In(Target::Prop(p), _)
        | Expr::Func(_, Target::Prop(p), _)
        | Expr::Any(p, _) => Err(GraphError::unsupported_filter_property(p)),
        _ => Err(GraphError::unsupported_query("Unsupported query.")),
    }
}

/// State carried by delta links: the change sequence and the round's query.
struct DeltaState {
    mode: String,
    since: u64,
    upto: u64,
    after: Option<String>,
    select: Option<Vec<String>>,
    ids: Option<Vec<String>>,
    top: usize,
}

impl DeltaState {
    fn to_value(&self) -> Value {
        json!({
            "m": self.mode, "s": self.since, "u": self.upto, "k": self.after,
            "sel": self.select, "ids": self.ids, "top": self.top,
        })
    }

    fn from_value(v: &Value) -> Option<Self> {
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
        };
        Some(DeltaState {
            mode: v.get("m")?.as_str()?.to_string(),
            since: v.get("s")?.as_u64()?,
            upto: v.get("u").and_then(Value::as_u64).unwrap_or(0),
            after: v.get("k").and_then(Value::as_str).map(str::to_string),
            select: v.get("sel").and_then(strings),
            ids: v.get("ids").and_then(strings),
            top: v.get("top").and_then(Value::as_u64).unwrap_or(100) as usize,
        })
    }
}

fn delta(shared: &Shared, req: &GraphRequest) -> Result<GraphResponse, GraphError> {
    let q = Query::parse(req.query.as_deref());
    q.check_known(&[
        "$select",
        "$filter",
        "$skiptoken",
        "$deltatoken",
        "$top",
        "$format",
    ])?;
    let minimal = req.header("Prefer").is_some_and(|p| {
        p.split(',')
            .any(|x| x.trim().eq_ignore_ascii_case("return=minimal"))
    });
    let bad_token = || GraphError::bad_request("The delta or skip token is not valid.");
    let tenant = shared.tenant.read().unwrap_or_else(PoisonError::into_inner);
    let current = tenant.seq();
    let latest = q
        .get("$deltatoken")
        .is_some_and(|t| t.eq_ignore_ascii_case("latest"));
    let mut state = if let Some(t) = q.get("$skiptoken") {
        DeltaState::from_value(&decode_token(t).ok_or_else(bad_token)?).ok_or_else(bad_token)?
    } else if let (Some(t), false) = (q.get("$deltatoken"), latest) {
        let mut s = DeltaState::from_value(&decode_token(t).ok_or_else(bad_token)?)
            .ok_or_else(bad_token)?;
        if s.mode != "d" {
            return Err(bad_token());
        }
        // A deltaLink may change the tracked properties ("$select and $deltaLink").
        if let Some(sel) = q.get("$select") {
            s.select = Select::parse(Some(sel))?.0;
        }
        DeltaState {
            mode: "c".into(),
            since: s.since,
            upto: current,
            after: None,
            ..s
        }
    } else {
        let select = Select::parse(q.get("$select"))?;
        let ids = match q.get("$filter") {
            Some(f) if !f.trim().is_empty() => {
                let e = filter::parse(f, false)?;
                let mut set = HashSet::new();
                delta_ids(&e, &mut set)?;
                if set.len() > 50 {
                    return Err(GraphError::unsupported_query(
                        "The number of ids in the filter exceeds 50.",
                    ));
                }
                let mut v: Vec<String> = set.into_iter().collect();
                v.sort();
                Some(v)
            }
            _ => None,
        };
        let top = parse_top(&q)?.unwrap_or(shared.delta_page_size);
        DeltaState {
            mode: "i".into(),
            since: current,
            upto: current,
            after: None,
            select: select.0,
            ids,
            top,
        }
    };
    let select = Select(state.select.clone());
    let ids: Option<HashSet<String>> = state.ids.as_ref().map(|v| v.iter().cloned().collect());
    let (items, next) = if latest {
        state.since = current;
        (Vec::new(), None)
    } else if state.mode == "i" {
        tenant.delta_initial(ids.as_ref(), state.after.as_deref(), state.top, &select)
    } else if state.mode == "c" {
        tenant.delta_changes(
            state.since,
            state.upto,
            ids.as_ref(),
            state.after.as_deref(),
            state.top,
            &select,
            minimal,
        )
    } else {
        return Err(bad_token());
    };
    drop(tenant);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(context(shared, &select.context_suffix())),
    );
    match next {
        Some(last) => {
            state.after = Some(last);
            out.insert(
                "@odata.nextLink".into(),
                json!(format!(
                    "{}/v1.0/users/delta?$skiptoken={}",
                    shared.base_url,
                    encode_token(&state.to_value())
                )),
            );
        }
        None => {
            // The next round starts where this one's snapshot was taken.
            let done = DeltaState {
                mode: "d".into(),
                since: if state.mode == "i" {
                    state.since
                } else {
                    state.upto
                },
                upto: 0,
                after: None,
                ..state
            };
            out.insert(
                "@odata.deltaLink".into(),
                json!(format!(
                    "{}/v1.0/users/delta?$deltatoken={}",
                    shared.base_url,
                    encode_token(&done.to_value())
                )),
            );
        }
    }
    out.insert("value".into(), Value::Array(items));
    Ok(GraphResponse::json(200, Value::Object(out)))
}
