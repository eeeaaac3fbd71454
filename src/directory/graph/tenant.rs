//! Tenant data reads (DESIGN.md, "Entra tenant data that decides matching"): the
//! collections of [`tenant_docs`], each read on its own, `@odata.nextLink` followed. A 403
//! makes that part unknown, naming the request and the permission; any other failure is an
//! error, as for user reads.
//!
//! No `$select` or `$top` is sent: not every one of these requests documents them, and the
//! answers are small; the objects are cut down to what a plan reads here instead.

use reqwest::Method;
use serde_json::{Map, Value};

use super::http::{Http, Retry, reply_error};
use super::read::{checked_link, into_directory};
use crate::directory::DirectoryError;
use crate::directory::model::Part;
use crate::directory::tenant_docs::{self, Source, TenantDocs};

/// The answers, requested at once (one lane each).
pub(crate) async fn read_docs(http: &Http) -> Result<TenantDocs, DirectoryError> {
    let (sync, domains, assignments, definitions, skus) = tokio::join!(
        collection(http, 0, tenant_docs::SYNC),
        collection(http, 1, tenant_docs::DOMAINS),
        collection(http, 2, tenant_docs::ROLE_ASSIGNMENTS),
        collection(http, 3, tenant_docs::ROLE_DEFINITIONS),
        collection(http, 4, tenant_docs::SUBSCRIBED_SKUS),
    );
    Ok(TenantDocs {
        sync: sync?,
        domains: domains?,
        role_assignments: assignments?,
        role_definitions: definitions?,
        subscribed_skus: skus?,
    })
}

/// Every object of one collection, page after page; `Unknown` when Graph answers 403.
async fn collection(
    http: &Http,
    lane: usize,
    source: Source,
) -> Result<Part<Vec<Map<String, Value>>>, DirectoryError> {
    let what = source.request();
    let unexpected = |m: &str| DirectoryError::Other(format!("{what}: unexpected answer: {m}"));
    let mut next = Some(http.url(source.path)?);
    let mut items = Vec::new();
    while let Some(url) = next.take() {
        let reply = http
            .send(lane, Method::GET, &url, None, Retry::Transient)
            .await
            .map_err(|e| into_directory(&what, e))?;
        if reply.status.as_u16() == 403 {
            return Ok(Part::Unknown(source.denied(&reply_error(&reply).code)));
        }
        if !reply.status.is_success() {
            return Err(reply_error(&reply).refused(what.as_str()));
        }
        let Some(Value::Object(mut page)) = reply.json() else {
            return Err(unexpected("not a JSON object"));
        };
        next = match page.get("@odata.nextLink") {
            Some(Value::String(link)) => Some(checked_link(http, &what, link)?),
            None | Some(Value::Null) => None,
            Some(_) => return Err(unexpected("@odata.nextLink is not a string")),
        };
        let Some(Value::Array(objects)) = page.remove("value") else {
            return Err(unexpected("no value array"));
        };
        for (i, object) in objects.into_iter().enumerate() {
            let Value::Object(object) = object else {
                return Err(unexpected(&format!("value #{} is not an object", i + 1)));
            };
            items.push(tenant_docs::project(source, &object));
        }
    }
    Ok(Part::Read(items))
}
