//! The Graph documents behind the tenant data that decides matching (DESIGN.md, "Entra tenant
//! data that decides matching"), one place for what the Graph connector, the snapshot folder
//! and `idsync snapshot` share: which request and file each part comes from, the permission
//! that lets an app read it, how its objects become a [`Tenant`], and which of their
//! properties are kept (for an export that holds exactly what a plan reads).
//!
//! Property names are looked up without regard to case, so Microsoft Graph PowerShell's
//! `ConvertTo-Json` output (`Id`, `IsVerified`) reads like Graph's own.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::model::{Domain, Part, Sku, SyncFeatures, Tenant};

/// One tenant request: where Graph answers it, the snapshot file holding its answer, and the
/// least privileged application permission that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// The file of a snapshot folder.
    pub file: &'static str,
    /// The path after `/v1.0`.
    pub path: &'static str,
    /// `@odata.context` after `$metadata#`.
    pub context: &'static str,
    pub permission: &'static str,
    /// The properties of each object a plan reads (and an export keeps), as Graph spells them.
    pub properties: &'static [&'static str],
}

impl Source {
    /// `GET /v1.0{path}`, for messages.
    pub fn request(&self) -> String {
        format!("GET /v1.0{}", self.path)
    }

    /// Why the part is unknown when Graph refused the read (403).
    pub fn denied(&self, code: &str) -> String {
        format!(
            "Graph answered 403 ({code}) to {}: the app lacks the application permission {} (grant it with admin consent, or export the tenant with `idsync snapshot --from entra` from an app that has it)",
            self.request(),
            self.permission
        )
    }

    /// Why the part is unknown when a snapshot folder lacks its file.
    pub fn missing_file(&self, folder: &std::path::Path) -> String {
        format!(
            "the snapshot folder {} has no {} (the answer of {}; `idsync snapshot --from entra` writes it)",
            folder.display(),
            self.file,
            self.request()
        )
    }

    /// Why the part is unknown when the Entra snapshot is a plain users file.
    pub fn users_file(&self, file: &std::path::Path) -> String {
        format!(
            "the Entra snapshot {} is a users file, not a snapshot folder: a snapshot folder holding {} (the answer of {}; `idsync snapshot --from entra` writes one) would settle it",
            file.display(),
            self.file,
            self.request()
        )
    }
}

/// `GET /directory/onPremisesSynchronization`: the tenant's sync features.
/// <https://learn.microsoft.com/graph/api/onpremisesdirectorysynchronization-get>
pub const SYNC: Source = Source {
    file: "onPremisesSynchronization.json",
    path: "/directory/onPremisesSynchronization",
    context: "directory/onPremisesSynchronization",
    permission: "OnPremDirectorySynchronization.Read.All",
    properties: &["id", "features"],
};

/// `GET /domains`. <https://learn.microsoft.com/graph/api/domain-list>
pub const DOMAINS: Source = Source {
    file: "domains.json",
    path: "/domains",
    context: "domains",
    permission: "Domain.Read.All",
    properties: &["id", "isVerified", "isInitial", "isDefault"],
};

/// `GET /roleManagement/directory/roleAssignments`.
/// <https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments>
pub const ROLE_ASSIGNMENTS: Source = Source {
    file: "roleAssignments.json",
    path: "/roleManagement/directory/roleAssignments",
    context: "roleManagement/directory/roleAssignments",
    permission: "RoleManagement.Read.Directory",
    properties: &["id", "principalId", "roleDefinitionId", "directoryScopeId"],
};

/// `GET /roleManagement/directory/roleDefinitions`.
/// <https://learn.microsoft.com/graph/api/rbacapplication-list-roledefinitions>
pub const ROLE_DEFINITIONS: Source = Source {
    file: "roleDefinitions.json",
    path: "/roleManagement/directory/roleDefinitions",
    context: "roleManagement/directory/roleDefinitions",
    permission: "RoleManagement.Read.Directory",
    properties: &["id", "displayName", "templateId", "isBuiltIn"],
};

/// `GET /subscribedSkus`: the tenant's licenses, their units and service plans.
/// <https://learn.microsoft.com/graph/api/subscribedsku-list> (least privileged application
/// permission: LicenseAssignment.Read.All).
pub const SUBSCRIBED_SKUS: Source = Source {
    file: "subscribedSkus.json",
    path: "/subscribedSkus",
    context: "subscribedSkus",
    permission: "LicenseAssignment.Read.All",
    properties: &[
        "skuId",
        "skuPartNumber",
        "prepaidUnits",
        "consumedUnits",
        "servicePlans",
        "appliesTo",
        "capabilityStatus",
    ],
};

/// Every tenant request, in the order they are read and written.
pub const SOURCES: [Source; 5] = [
    SYNC,
    DOMAINS,
    ROLE_ASSIGNMENTS,
    ROLE_DEFINITIONS,
    SUBSCRIBED_SKUS,
];

/// User properties the tenant data needs on every user read (quarantined duplicates:
/// duplicate attribute resiliency).
pub const USER_PROPERTIES: &[&str] = &["onPremisesProvisioningErrors"];

/// The objects of one answer, read or unknown and why.
pub type Answer = Part<Vec<Map<String, Value>>>;

/// The four answers, each read (its objects, with the properties in [`Source::properties`]) or
/// unknown and why.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantDocs {
    pub sync: Answer,
    pub domains: Answer,
    pub role_assignments: Answer,
    pub role_definitions: Answer,
    pub subscribed_skus: Answer,
}

/// An object of an answer that cannot be read: its position in the collection and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    pub index: usize,
    pub message: String,
}

impl TenantDocs {
    /// Every part, with its source.
    pub fn parts(&self) -> [(Source, &Answer); 5] {
        [
            (SYNC, &self.sync),
            (DOMAINS, &self.domains),
            (ROLE_ASSIGNMENTS, &self.role_assignments),
            (ROLE_DEFINITIONS, &self.role_definitions),
            (SUBSCRIBED_SKUS, &self.subscribed_skus),
        ]
    }

    /// The tenant data these answers say; the error names the answer and the object.
    pub fn tenant(&self) -> Result<Tenant, (Source, ItemError)> {
        let sync = match &self.sync {
            Part::Read(items) => sync_features(items).map_err(|e| (SYNC, e))?,
            Part::Unknown(why) => Part::Unknown(why.clone()),
        };
        let domains = match &self.domains {
            Part::Read(items) => Part::Read(domains(items).map_err(|e| (DOMAINS, e))?),
            Part::Unknown(why) => Part::Unknown(why.clone()),
        };
        let names = match &self.role_definitions {
            Part::Read(items) => Some(role_names(items).map_err(|e| (ROLE_DEFINITIONS, e))?),
            Part::Unknown(_) => None,
        };
        let role_holders = match &self.role_assignments {
            Part::Read(items) => {
                Part::Read(role_holders(items, names.as_ref()).map_err(|e| (ROLE_ASSIGNMENTS, e))?)
            }
            Part::Unknown(why) => Part::Unknown(why.clone()),
        };
        let skus = match &self.subscribed_skus {
            Part::Read(items) => Part::Read(skus(items).map_err(|e| (SUBSCRIBED_SKUS, e))?),
            Part::Unknown(why) => Part::Unknown(why.clone()),
        };
        Ok(Tenant {
            sync,
            domains,
            role_holders,
            skus,
        })
    }
}

/// Checks the objects of one answer as [`TenantDocs::tenant`] reads them.
pub fn check(source: Source, items: &[Map<String, Value>]) -> Result<(), ItemError> {
    match source.file {
        f if f == SYNC.file => sync_features(items).map(drop),
        f if f == DOMAINS.file => domains(items).map(drop),
        f if f == ROLE_ASSIGNMENTS.file => role_holders(items, None).map(drop),
        f if f == SUBSCRIBED_SKUS.file => skus(items).map(drop),
        _ => role_names(items).map(drop),
    }
}

/// The object with only the properties a plan reads, named as Graph names them (a PowerShell
/// export's `IsVerified` becomes `isVerified`), in [`Source::properties`] order.
pub fn project(source: Source, item: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for &name in source.properties {
        if let Some(v) = member(item, name) {
            let v = if name == "features" {
                camel_keys(v)
            } else {
                v.clone()
            };
            out.insert(name.to_owned(), v);
        }
    }
    out
}

/// A member by name, without regard to case (Graph's own spelling first).
fn member<'v>(obj: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// An object's keys with their first letter lowered (PowerShell's `BlockSoftMatchEnabled`).
fn camel_keys(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let mut c = k.chars();
                    let k = match c.next() {
                        Some(f) => f.to_lowercase().chain(c).collect(),
                        None => String::new(),
                    };
                    (k, v.clone())
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn text<'v>(obj: &'v Map<String, Value>, index: usize, name: &str) -> Result<&'v str, ItemError> {
    match member(obj, name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(ItemError {
            index,
            message: format!("no {name}"),
        }),
        Some(_) => Err(ItemError {
            index,
            message: format!("{name} is not a string"),
        }),
    }
}

fn flag(
    obj: &Map<String, Value>,
    index: usize,
    name: &str,
    within: &str,
) -> Result<bool, ItemError> {
    match member(obj, name) {
        Some(Value::Bool(b)) => Ok(*b),
        None | Some(Value::Null) => Err(ItemError {
            index,
            message: format!("{within}no {name}"),
        }),
        Some(_) => Err(ItemError {
            index,
            message: format!("{within}{name} is not true or false"),
        }),
    }
}

/// The features of the first object (a tenant has one). No object at all: the tenant never
/// had directory synchronization configured, so Graph has no features to say; the part is
/// unknown (the planner's stated assumptions then apply, and its note says why).
pub fn sync_features(items: &[Map<String, Value>]) -> Result<Part<SyncFeatures>, ItemError> {
    let Some(first) = items.first() else {
        return Ok(Part::Unknown(format!(
            "{} answered no object: directory synchronization has never been configured in this tenant, so it has no sync features yet (Entra Connect's first install sets them)",
            SYNC.request()
        )));
    };
    let Some(Value::Object(f)) = member(first, "features") else {
        return Err(ItemError {
            index: 0,
            message: "no features object".into(),
        });
    };
    let within = "features: ";
    Ok(Part::Read(SyncFeatures {
        block_soft_match: flag(f, 0, "blockSoftMatchEnabled", within)?,
        block_cloud_object_takeover_through_hard_match: flag(
            f,
            0,
            "blockCloudObjectTakeoverThroughHardMatchEnabled",
            within,
        )?,
        soft_match_on_upn: flag(f, 0, "softMatchOnUpnEnabled", within)?,
        synchronize_upn_for_managed_users: flag(
            f,
            0,
            "synchronizeUpnForManagedUsersEnabled",
            within,
        )?,
        password_sync: flag(f, 0, "passwordSyncEnabled", within)?,
    }))
}

/// The subscriptions of `GET /subscribedSkus`.
pub fn skus(items: &[Map<String, Value>]) -> Result<Vec<Sku>, ItemError> {
    items
        .iter()
        .enumerate()
        .map(|(index, s)| Sku::from_graph(s).map_err(|message| ItemError { index, message }))
        .collect()
}

pub fn domains(items: &[Map<String, Value>]) -> Result<Vec<Domain>, ItemError> {
    items
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Ok(Domain {
                name: text(d, i, "id")?.to_owned(),
                is_verified: flag(d, i, "isVerified", "")?,
                is_initial: flag(d, i, "isInitial", "")?,
            })
        })
        .collect()
}

/// Role definition id → display name.
pub fn role_names(items: &[Map<String, Value>]) -> Result<HashMap<String, String>, ItemError> {
    items
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Ok((
                text(d, i, "id")?.to_ascii_lowercase(),
                text(d, i, "displayName")?.to_owned(),
            ))
        })
        .collect()
}

/// Principal id → the names of the roles it holds (sorted, each once). A role without a
/// definition (none read, or not among them) is named by its `roleDefinitionId`: holding a
/// role is what refuses a match, the name only says which.
pub fn role_holders(
    items: &[Map<String, Value>],
    names: Option<&HashMap<String, String>>,
) -> Result<BTreeMap<String, Vec<String>>, ItemError> {
    let mut holders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, a) in items.iter().enumerate() {
        let principal = text(a, i, "principalId")?;
        let role = text(a, i, "roleDefinitionId")?;
        let name = names
            .and_then(|n| n.get(&role.to_ascii_lowercase()))
            .map_or_else(|| role.to_owned(), String::clone);
        holders.entry(principal.to_owned()).or_default().push(name);
    }
    for roles in holders.values_mut() {
        roles.sort();
        roles.dedup();
    }
    Ok(holders)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn objects(v: Value) -> Vec<Map<String, Value>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_object().unwrap().clone())
            .collect()
    }

    const GA: &str = "62e90394-69f5-4237-9190-012177145e10";

    #[test]
    fn answers_become_the_tenant() {
        let docs = TenantDocs {
            sync: Part::Read(objects(json!([{"id": "t", "features": {
                "blockSoftMatchEnabled": false,
                "blockCloudObjectTakeoverThroughHardMatchEnabled": true,
                "softMatchOnUpnEnabled": true,
                "synchronizeUpnForManagedUsersEnabled": false,
                "passwordSyncEnabled": true,
                "deviceWritebackEnabled": false}}]))),
            domains: Part::Read(objects(json!([
                {"id": "contoso.com", "isVerified": true, "isInitial": false},
                {"Id": "contoso.onmicrosoft.com", "IsVerified": true, "IsInitial": true}]))),
            role_assignments: Part::Read(objects(json!([
                {"principalId": "u1", "roleDefinitionId": GA},
                {"principalId": "u1", "roleDefinitionId": "fe930be7-5e62-47db-91af-98c3a49a38b1"},
                {"principalId": "u1", "roleDefinitionId": GA},
                {"principalId": "u2", "roleDefinitionId": "custom-1"}]))),
            role_definitions: Part::Read(objects(json!([
                {"id": GA, "displayName": "Global Administrator"},
                {"id": "fe930be7-5e62-47db-91af-98c3a49a38b1", "displayName": "User Administrator"}]))),
            subscribed_skus: Part::Read(objects(json!([
                {"skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900", "skuPartNumber": "ENTERPRISEPACK",
                 "prepaidUnits": {"enabled": 25}, "consumedUnits": 20, "servicePlans": []}]))),
        };
        let t = docs.tenant().unwrap();
        assert_eq!(t.skus.known().unwrap()[0].free(), 5);
        let f = t.features();
        assert!(f.block_cloud_object_takeover_through_hard_match && !f.block_soft_match);
        assert!(f.password_sync && f.soft_match_on_upn && !f.synchronize_upn_for_managed_users);
        assert_eq!(t.initial_domain(), Some("contoso.onmicrosoft.com"));
        assert!(t.is_verified("Contoso.com") && !t.is_verified("corp.local"));
        assert_eq!(
            t.roles_of("u1"),
            ["Global Administrator", "User Administrator"]
        );
        // A role whose definition is not known is named by its id.
        assert_eq!(t.roles_of("u2"), ["custom-1"]);
    }

    #[test]
    fn a_tenant_that_never_synced_has_unknown_features() {
        let part = sync_features(&[]).unwrap();
        let why = part.why_unknown().unwrap();
        assert!(why.contains("never been configured"), "{why}");
    }

    #[test]
    fn objects_that_cannot_be_read_are_named_by_position() {
        let e = domains(&objects(json!([
            {"id": "a.com", "isVerified": true, "isInitial": false},
            {"id": "b.com", "isVerified": "yes", "isInitial": false}])))
        .unwrap_err();
        assert_eq!(
            e,
            ItemError {
                index: 1,
                message: "isVerified is not true or false".into()
            }
        );
        let e = sync_features(&objects(
            json!([{"features": {"blockSoftMatchEnabled": true}}]),
        ))
        .unwrap_err();
        assert!(
            e.message.contains("features: no blockCloudObjectTakeover"),
            "{}",
            e.message
        );
        assert!(check(ROLE_ASSIGNMENTS, &objects(json!([{"principalId": "u"}]))).is_err());
        assert!(check(ROLE_DEFINITIONS, &objects(json!([{"id": GA}]))).is_err());
    }

    #[test]
    fn projection_keeps_what_a_plan_reads_in_graphs_spelling() {
        let ps = objects(
            json!([{"Id": "x", "Features": {"BlockSoftMatchEnabled": true}, "Configuration": {}}]),
        );
        assert_eq!(
            Value::Object(project(SYNC, &ps[0])),
            json!({"id": "x", "features": {"blockSoftMatchEnabled": true}})
        );
        let d = objects(
            json!([{"id": "a.com", "isVerified": true, "isInitial": false, "supportedServices": []}]),
        );
        assert_eq!(
            Value::Object(project(DOMAINS, &d[0])),
            json!({"id": "a.com", "isVerified": true, "isInitial": false})
        );
    }
}
