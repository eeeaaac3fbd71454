//! JSON batching (`POST /v1.0/$batch`), as <https://learn.microsoft.com/graph/json-batching>
//! describes it: at most 20 requests, unique ids, `dependsOn` ordering with 424 for the
//! dependents of a failed request, and each request evaluated on its own against throttling.

use crate::error::GraphError;
use crate::graph::{self, Body, GraphRequest, GraphResponse, Ids};
use crate::server::Shared;
use crate::throttle::Origin;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::PoisonError;

pub const MAX_REQUESTS: usize = 20;

struct Item {
    id: String,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    depends_on: Vec<String>,
}

fn invalid() -> GraphError {
    GraphError::new(400, "BadRequest", "Invalid batch payload format.")
}

fn parse(body: &[u8]) -> Result<Vec<Item>, GraphError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| invalid())?;
    let requests = v
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(invalid)?;
    if requests.len() > MAX_REQUESTS {
        return Err(GraphError::new(
            400,
            "BadRequest",
            format!(
                "The number of requests in the batch ({}) exceeds the maximum of {MAX_REQUESTS}.",
                requests.len()
            ),
        ));
    }
    let mut items = Vec::new();
    for r in requests {
        let text = |name: &str| -> Option<String> {
            match r.get(name)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let id = text("id").filter(|s| !s.is_empty()).ok_or_else(invalid)?;
        let method = text("method").ok_or_else(invalid)?.to_ascii_uppercase();
        let url = text("url").ok_or_else(invalid)?;
        let headers: Vec<(String, String)> = match r.get("headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(h)) => h
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect(),
            Some(_) => return Err(invalid()),
        };
        let body = match r.get("body") {
            None | Some(Value::Null) => None,
            Some(b) => {
                // "When a body is included with the request, the headers object must contain
                // a value for Content-Type."
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    return Err(GraphError::new(
                        400,
                        "BadRequest",
                        format!(
                            "Write request id : {id} does not contain Content-Type header or body."
                        ),
                    ));
                }
                Some(b.to_string().into_bytes())
            }
        };
        let depends_on = match r.get("dependsOn") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|d| d.as_str().map(str::to_string).ok_or_else(invalid))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid()),
        };
        if url.starts_with("http://") || url.starts_with("https://") {
            return Err(GraphError::new(
                400,
                "BadRequest",
                format!("Request id : {id}. The url must be relative."),
            ));
        }
        items.push(Item {
            id,
            method,
            url,
            headers,
            body,
            depends_on,
        });
    }
    // "Must be unique in the batch, otherwise, the batch request fails with a 400 error code."
    let mut seen = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        if seen.insert(it.id.to_lowercase(), i).is_some() {
            return Err(GraphError::new(
                400,
                "BadRequest",
                format!("Batch request contains duplicate request id '{}'.", it.id),
            ));
        }
    }
    for it in &items {
        for d in &it.depends_on {
            if !seen.contains_key(&d.to_lowercase()) {
                return Err(GraphError::new(
                    400,
                    "BadRequest",
                    format!(
                        "Request id '{}' depends on '{d}', which is not in the batch.",
                        it.id
                    ),
                ));
            }
        }
    }
    Ok(items)
}

/// Execution order: the given order, each request after the ones it depends on.
fn order(items: &[Item]) -> Result<Vec<usize>, GraphError> {
    let index: HashMap<String, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.to_lowercase(), i))
        .collect();
    let mut state = vec![0u8; items.len()]; // 0 new, 1 visiting, 2 done
    let mut out = Vec::new();
    fn visit(
        i: usize,
        items: &[Item],
        index: &HashMap<String, usize>,
        state: &mut [u8],
        out: &mut Vec<usize>,
    ) -> Result<(), GraphError> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                return Err(GraphError::new(
                    400,
                    "BadRequest",
                    format!(
                        "Batch request has a circular dependency at request id '{}'.",
                        items[i].id
                    ),
                ));
            }
            _ => {}
        }
        state[i] = 1;
        for d in &items[i].depends_on {
            visit(index[&d.to_lowercase()], items, index, state, out)?;
        }
        state[i] = 2;
        out.push(i);
        Ok(())
    }
    for i in 0..items.len() {
        visit(i, items, &index, &mut state, &mut out)?;
    }
    Ok(out)
}

/// One sub-response of the answer; the response is moved in (a page of 999 members is not
/// copied).
fn to_json(id: &str, r: GraphResponse) -> Value {
    let mut headers = Map::new();
    for (k, v) in &r.headers {
        headers.insert(k.clone(), json!(v));
    }
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("status".into(), json!(r.status));
    out.insert("headers".into(), Value::Object(headers));
    match r.body {
        Body::None => {}
        Body::Json(v) => {
            out.insert("body".into(), v);
        }
        Body::Text(t) => {
            out.insert("body".into(), Value::String(t));
        }
    }
    Value::Object(out)
}

/// Runs a batch for `app`; the outer answer is 200 unless the payload itself is malformed.
/// Its requests share the batch's `origin`: they arrived together.
pub fn run(shared: &Shared, app: &str, body: &[u8], ids: &Ids, origin: Origin) -> GraphResponse {
    let items = match parse(body).and_then(|items| order(&items).map(|o| (items, o))) {
        Ok(x) => x,
        Err(e) => return GraphResponse::error(&e, &ids.request_id, &ids.client_request_id),
    };
    let (items, order) = items;
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::new();
    for i in order {
        let it = &items[i];
        let sub_ids = Ids::new(Some(&ids.client_request_id));
        let failed_dep = it.depends_on.iter().any(|d| {
            statuses
                .get(&d.to_lowercase())
                .is_none_or(|s| !(200..300).contains(s))
        });
        let resp = if failed_dep {
            GraphResponse::error(
                &GraphError::new(
                    424,
                    "FailedDependency",
                    "The request failed because it depends on a request that failed.",
                ),
                &sub_ids.request_id,
                &sub_ids.client_request_id,
            )
        } else if shared.roll(shared.knobs().item_fail_rate) {
            // Graph can answer one request of a batch 503 while the others go through.
            shared
                .stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .injected_failures += 1;
            GraphResponse::error(
                &GraphError::service_unavailable(shared.knobs().retry_after_503),
                &sub_ids.request_id,
                &sub_ids.client_request_id,
            )
        } else {
            let url = it.url.trim_start_matches('/');
            let (path, query) = match url.split_once('?') {
                Some((p, q)) => (format!("/{p}"), Some(q.to_string())),
                None => (format!("/{url}"), None),
            };
            let req = GraphRequest {
                method: it.method.clone(),
                path,
                query,
                headers: it.headers.clone(),
                body: it.body.clone(),
            };
            graph::serve(shared, app, &req, &sub_ids, origin)
        };
        shared
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .batch_item(resp.status);
        statuses.insert(it.id.to_lowercase(), resp.status);
        responses.push(to_json(&it.id, resp));
    }
    GraphResponse {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: Body::Json(json!({ "responses": responses })),
    }
}
