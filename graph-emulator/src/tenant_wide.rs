//! The tenant-wide collections Entra Connect's matching depends on (sync features, domains,
//! directory roles), served read-only as Graph documents them: the app's permission checked
//! first, `$select` honoured, role assignments paged like users.

use serde_json::{Map, Value, json};

use crate::error::GraphError;
use crate::graph::{
    GraphRequest, GraphResponse, Query, decode_token, encode_query, encode_token,
    method_not_allowed, parse_top,
};
use crate::server::Shared;

/// A GET of one of the collections; writes are not modelled (idsync only reads them).
pub(crate) fn get(
    shared: &Shared,
    req: &GraphRequest,
    method: &str,
    which: Wide,
) -> Result<GraphResponse, GraphError> {
    get_only(method, || tenant_wide(shared, req, which))
}

fn get_only(
    method: &str,
    serve: impl FnOnce() -> Result<GraphResponse, GraphError>,
) -> Result<GraphResponse, GraphError> {
    match method {
        "GET" => serve(),
        // Creating, updating and deleting these is not modelled: idsync only reads them.
        "POST" | "PATCH" | "DELETE" | "PUT" => Err(GraphError::new(
            501,
            "NotImplemented",
            "graph-emulator models only reads of this collection.",
        )),
        _ => Err(method_not_allowed()),
    }
}

/// The tenant-wide collections (see [`crate::directory`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wide {
    OnPremisesSynchronization,
    Domains,
    RoleAssignments,
    RoleDefinitions,
    SubscribedSkus,
}

impl Wide {
    /// The path after `/v1.0/` (also `@odata.context` after `$metadata#`).
    fn path(self) -> &'static str {
        match self {
            Wide::OnPremisesSynchronization => "directory/onPremisesSynchronization",
            Wide::Domains => "domains",
            Wide::RoleAssignments => "roleManagement/directory/roleAssignments",
            Wide::RoleDefinitions => "roleManagement/directory/roleDefinitions",
            Wide::SubscribedSkus => "subscribedSkus",
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Wide::OnPremisesSynchronization => "microsoft.graph.onPremisesDirectorySynchronization",
            Wide::Domains => "microsoft.graph.domain",
            Wide::RoleAssignments => "microsoft.graph.unifiedRoleAssignment",
            Wide::RoleDefinitions => "microsoft.graph.unifiedRoleDefinition",
            Wide::SubscribedSkus => "microsoft.graph.subscribedSku",
        }
    }
}

/// One of the tenant-wide collections: the app's permission checked first (403
/// `Authorization_RequestDenied`), `$select` honoured, and role assignments paged as users
/// are (`$top` 1–999, 100 by default, `$skiptoken` in `@odata.nextLink`).
fn tenant_wide(
    shared: &Shared,
    req: &GraphRequest,
    which: Wide,
) -> Result<GraphResponse, GraphError> {
    use crate::directory::{
        DOMAIN_PERMISSIONS, ROLE_PERMISSIONS, SKU_PERMISSIONS, SYNC_PERMISSIONS, check_permission,
    };
    let d = &shared.directory;
    // Subscriptions live with the tenant: license writes change their consumedUnits.
    let skus: Vec<Value>;
    let (permissions, objects) = match which {
        Wide::OnPremisesSynchronization => (SYNC_PERMISSIONS, &d.on_premises_sync),
        Wide::Domains => (DOMAIN_PERMISSIONS, &d.domains),
        Wide::RoleAssignments => (ROLE_PERMISSIONS, &d.role_assignments),
        Wide::RoleDefinitions => (ROLE_PERMISSIONS, &d.role_definitions),
        Wide::SubscribedSkus => {
            skus = shared
                .tenant
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .skus()
                .to_vec();
            (SKU_PERMISSIONS, &skus)
        }
    };
    check_permission(shared.app_roles.as_deref(), permissions)?;
    let q = Query::parse(req.query.as_deref());
    let paged = which == Wide::RoleAssignments;
    if q.get("$filter").is_some() && matches!(which, Wide::RoleAssignments | Wide::RoleDefinitions)
    {
        return Err(GraphError::new(
            501,
            "NotImplemented",
            "graph-emulator does not model $filter on role management.",
        ));
    }
    if paged {
        q.check_known(&["$select", "$top", "$skiptoken", "$format"])?;
    } else {
        q.check_known(&["$select", "$format"])?;
    }
    let select: Option<Vec<String>> = q.get("$select").map(|raw| {
        raw.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    });
    if let Some(names) = &select
        && let Some(first) = objects.first().and_then(Value::as_object)
        && let Some(bad) = names
            .iter()
            .find(|n| !first.keys().any(|k| k.eq_ignore_ascii_case(n)))
    {
        return Err(GraphError::new(
            400,
            "BadRequest",
            format!(
                "Could not find a property named '{bad}' on type '{}'.",
                which.type_name()
            ),
        ));
    }
    let (start, top) = if paged {
        let top = parse_top(&q)?.unwrap_or(100);
        let start = match q.get("$skiptoken") {
            Some(t) => decode_token(t)
                .and_then(|v| v.get("o").and_then(Value::as_u64))
                .ok_or_else(|| GraphError::bad_request("Invalid skip token."))?
                as usize,
            None => 0,
        };
        (start, top)
    } else {
        (0, objects.len().max(1))
    };
    let end = start.saturating_add(top).min(objects.len());
    let items: Vec<Value> = objects
        .get(start.min(end)..end)
        .unwrap_or_default()
        .iter()
        .map(|o| match (&select, o) {
            (Some(names), Value::Object(obj)) => Value::Object(
                obj.iter()
                    .filter(|(k, _)| {
                        k.as_str() == "id" || names.iter().any(|n| n.eq_ignore_ascii_case(k))
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            _ => o.clone(),
        })
        .collect();
    let mut out = Map::new();
    let context = match &select {
        Some(names) => format!("{}({})", which.path(), names.join(",")),
        None => which.path().to_owned(),
    };
    out.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#{context}", shared.base_url)),
    );
    if paged && end < objects.len() {
        let mut pairs = q.without("$skiptoken");
        pairs.push(("$skiptoken".into(), encode_token(&json!({ "o": end }))));
        out.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/v1.0/{}?{}",
                shared.base_url,
                which.path(),
                encode_query(&pairs)
            )),
        );
    }
    out.insert("value".into(), Value::Array(items));
    Ok(GraphResponse::json(200, Value::Object(out)))
}
