//! Tenant-wide reads besides users: `GET /directory/onPremisesSynchronization`, `GET /domains`,
//! `GET /roleManagement/directory/roleAssignments` and `…/roleDefinitions`, with the
//! application permissions Graph checks for each (403 `Authorization_RequestDenied` without).
//! Sources:
//! <https://learn.microsoft.com/graph/api/onpremisesdirectorysynchronization-get>,
//! <https://learn.microsoft.com/graph/api/domain-list>,
//! <https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments>,
//! <https://learn.microsoft.com/graph/api/rbacapplication-list-roledefinitions>.
//!
//! The data is read-only here: seeded from the config (or a snapshot folder's files), with
//! Graph's defaults for what the seed leaves out.

use crate::error::GraphError;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// The Global Administrator role's template id (a built-in role's definition id).
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

/// Built-in directory roles the emulated tenant defines (template ids are the same in every
/// tenant: <https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference>).
pub const BUILT_IN_ROLES: &[(&str, &str)] = &[
    (GLOBAL_ADMINISTRATOR, "Global Administrator"),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
    ),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
    ),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
    ),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
    ),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader"),
    (
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
        "Hybrid Identity Administrator",
    ),
    ("88d8e3e3-8f55-4a1e-953a-9b9898b8876b", "Directory Readers"),
    (
        "d29b2b05-8046-44ba-8758-1e26182fcf32",
        "Directory Synchronization Accounts",
    ),
];

/// The application permissions that let an app make each request, least privileged first
/// (each page's "Permissions" table).
pub const SYNC_PERMISSIONS: &[&str] = &[
    "OnPremDirectorySynchronization.Read.All",
    "OnPremDirectorySynchronization.ReadWrite.All",
];
pub const DOMAIN_PERMISSIONS: &[&str] = &[
    "Domain.Read.All",
    "Domain.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// `GET /subscribedSkus` (subscribedsku-list, "Permissions").
pub const SKU_PERMISSIONS: &[&str] = &[
    "LicenseAssignment.Read.All",
    "Organization.Read.All",
    "Directory.Read.All",
    "LicenseAssignment.ReadWrite.All",
    "Organization.ReadWrite.All",
    "Directory.ReadWrite.All",
];
pub const ROLE_PERMISSIONS: &[&str] = &[
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "Directory.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.ReadWrite.All",
];

/// What the tenant's seed says beyond its users; `None` takes Graph's defaults.
#[derive(Debug, Clone, Default)]
pub struct DirectorySeed {
    /// `onPremisesSynchronization` objects; `Some([])` is a tenant that never had sync
    /// configured. Default: one object with a new tenant's features.
    pub on_premises_sync: Option<Vec<Map<String, Value>>>,
    /// Default: the initial `*.onmicrosoft.com` domain plus every verified domain and every
    /// UPN suffix the seeded users use (Entra holds no UPN on a domain it does not have).
    pub domains: Option<Vec<Map<String, Value>>>,
    /// Default: [`BUILT_IN_ROLES`].
    pub role_definitions: Option<Vec<Map<String, Value>>>,
    pub role_assignments: Vec<Map<String, Value>>,
    /// `subscribedSku` objects. Default: none (a tenant without subscriptions).
    pub subscribed_skus: Vec<Map<String, Value>>,
}

/// The tenant-wide objects as served.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub on_premises_sync: Vec<Value>,
    pub domains: Vec<Value>,
    pub role_definitions: Vec<Value>,
    pub role_assignments: Vec<Value>,
    pub subscribed_skus: Vec<Value>,
}

/// Feature flags of `onPremisesDirectorySynchronizationFeature` and a new tenant's values:
/// UPN soft match and UPN sync for managed users are on for tenants created since 2016, and
/// duplicate attribute resiliency quarantines duplicates
/// (<https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-syncservice-features>);
/// everything else (blocks, password hash sync, writebacks) is off until configured.
const FEATURES: &[(&str, bool)] = &[
    ("blockCloudObjectTakeoverThroughHardMatchEnabled", false),
    ("blockSoftMatchEnabled", false),
    ("bypassDirSyncOverridesEnabled", false),
    ("cloudPasswordPolicyForPasswordSyncedUsersEnabled", false),
    ("concurrentCredentialUpdateEnabled", false),
    ("concurrentOrgIdProvisioningEnabled", false),
    ("deviceWritebackEnabled", false),
    ("directoryExtensionsEnabled", false),
    ("fopeConflictResolutionEnabled", false),
    ("groupWriteBackEnabled", false),
    ("passwordSyncEnabled", false),
    ("passwordWritebackEnabled", false),
    ("quarantineUponProxyAddressesConflictEnabled", true),
    ("quarantineUponUpnConflictEnabled", true),
    ("softMatchOnUpnEnabled", true),
    ("synchronizeUpnForManagedUsersEnabled", true),
    ("unifiedGroupWritebackEnabled", false),
    ("userForcePasswordChangeOnLogonEnabled", false),
    ("userWritebackEnabled", false),
];

/// A member by name without regard to case (a seed may be a PowerShell export).
fn member<'v>(obj: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// `defaults` with the seed's values over them (keys in Graph's spelling).
fn merged(defaults: Value, seed: &Map<String, Value>) -> Value {
    let Value::Object(mut out) = defaults else {
        return defaults;
    };
    for (k, v) in out.iter_mut() {
        if let Some(given) = member(seed, k) {
            *v = match (v.take(), given) {
                (d @ Value::Object(_), Value::Object(g)) => merged(d, g),
                (_, g) => g.clone(),
            };
        }
    }
    for (k, v) in seed {
        if !out.keys().any(|o| o.eq_ignore_ascii_case(k)) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn features() -> Value {
    Value::Object(
        FEATURES
            .iter()
            .map(|&(k, v)| (k.to_owned(), Value::Bool(v)))
            .collect(),
    )
}

fn sync_object(tenant_id: &str) -> Value {
    json!({
        "id": tenant_id,
        "configuration": {
            "accidentalDeletionPrevention": {
                "synchronizationPreventionType": "enabledForCount",
                "alertThreshold": 500
            },
            "synchronizationInterval": "PT30M",
            "customerRequestedSynchronizationInterval": null
        },
        "features": features()
    })
}

fn domain_object(name: &str, initial: bool) -> Value {
    json!({
        "authenticationType": "Managed",
        "availabilityStatus": null,
        "id": name,
        "isAdminManaged": true,
        "isDefault": initial,
        "isInitial": initial,
        "isRoot": true,
        "isVerified": true,
        "passwordNotificationWindowInDays": null,
        "passwordValidityPeriodInDays": null,
        "supportedServices": if initial { json!(["Email", "OfficeCommunicationsOnline"]) } else { json!([]) },
        "state": null
    })
}

fn role_definition(id: &str, name: &str) -> Value {
    json!({
        "id": id,
        "description": format!("Built-in role {name}."),
        "displayName": name,
        "isBuiltIn": true,
        "isEnabled": true,
        "resourceScopes": ["/"],
        "templateId": id,
        "version": "1",
        "rolePermissions": []
    })
}

impl Directory {
    /// The objects a seed describes, Graph's defaults filled in. `upn_suffixes` are those of
    /// the seeded users; `verified` the configured verified domains.
    pub fn build(
        seed: DirectorySeed,
        tenant_id: &str,
        verified: &[String],
        upn_suffixes: &BTreeSet<String>,
    ) -> Self {
        let on_premises_sync = match seed.on_premises_sync {
            None => vec![sync_object(tenant_id)],
            Some(objects) => objects
                .iter()
                .map(|o| merged(sync_object(tenant_id), o))
                .collect(),
        };
        let domains = match seed.domains {
            Some(objects) => objects
                .iter()
                .map(|o| {
                    let name = member(o, "id").and_then(Value::as_str).unwrap_or_default();
                    let initial = member(o, "isInitial")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    merged(domain_object(name, initial), o)
                })
                .collect(),
            None => {
                let mut names: BTreeSet<String> =
                    verified.iter().map(|d| d.to_ascii_lowercase()).collect();
                names.extend(upn_suffixes.iter().cloned());
                let initial = names
                    .iter()
                    .find(|n| n.ends_with(".onmicrosoft.com"))
                    .cloned()
                    .unwrap_or_else(|| "emulator.onmicrosoft.com".to_owned());
                names.remove(&initial);
                std::iter::once(domain_object(&initial, true))
                    .chain(names.iter().map(|n| domain_object(n, false)))
                    .collect()
            }
        };
        let role_definitions = match seed.role_definitions {
            None => BUILT_IN_ROLES
                .iter()
                .map(|&(id, name)| role_definition(id, name))
                .collect(),
            Some(objects) => objects.into_iter().map(Value::Object).collect(),
        };
        let role_assignments = seed
            .role_assignments
            .iter()
            .map(|a| {
                let principal = member(a, "principalId")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let role = member(a, "roleDefinitionId")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                // Graph's ids of assignments are opaque strings; one derived from the pair
                // keeps a seed's assignments stable across runs.
                let id = format!("{role}_{principal}");
                merged(
                    json!({
                        "id": id,
                        "principalId": principal,
                        "roleDefinitionId": role,
                        "directoryScopeId": "/"
                    }),
                    a,
                )
            })
            .collect();
        Directory {
            on_premises_sync,
            domains,
            role_definitions,
            role_assignments,
            subscribed_skus: seed
                .subscribed_skus
                .into_iter()
                .map(Value::Object)
                .collect(),
        }
    }
}

/// Whether the app holds one of `needed` (`None`: it holds every permission).
pub fn check_permission(app_roles: Option<&[String]>, needed: &[&str]) -> Result<(), GraphError> {
    match app_roles {
        None => Ok(()),
        Some(roles)
            if roles
                .iter()
                .any(|r| needed.iter().any(|n| r.eq_ignore_ascii_case(n))) =>
        {
            Ok(())
        }
        Some(_) => Err(GraphError::new(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )),
    }
}

/// Objects of a collection: groups, contacts.
type Objects = Vec<Map<String, Value>>;

/// Seeds from a snapshot folder's tenant files, each as Graph answers its request
/// (`{"value":[…]}` or a bare array); a missing file keeps the default. Also its
/// `groups.json` and `contacts.json` (none when missing).
pub fn seed_from_folder(
    folder: &std::path::Path,
) -> crate::Result<(DirectorySeed, Objects, Objects)> {
    let read = |name: &str| -> crate::Result<Option<Vec<Map<String, Value>>>> {
        let path = folder.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(crate::EmulatorError::ReadTenant {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let doc: Value =
            serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|source| {
                crate::EmulatorError::ParseTenant {
                    path: path.display().to_string(),
                    source,
                }
            })?;
        collection(doc)
            .map(Some)
            .map_err(|m| crate::EmulatorError::InvalidTenant(format!("{}: {m}", path.display())))
    };
    let seed = DirectorySeed {
        on_premises_sync: read("onPremisesSynchronization.json")?,
        domains: read("domains.json")?,
        role_definitions: read("roleDefinitions.json")?,
        role_assignments: read("roleAssignments.json")?.unwrap_or_default(),
        subscribed_skus: read("subscribedSkus.json")?.unwrap_or_default(),
    };
    let groups = read("groups.json")?.unwrap_or_default();
    let contacts = read("contacts.json")?.unwrap_or_default();
    Ok((seed, groups, contacts))
}

/// The objects of a collection answer.
pub fn collection(doc: Value) -> Result<Vec<Map<String, Value>>, String> {
    let items = match doc {
        Value::Array(items) => items,
        Value::Object(mut o) => match o.remove("value") {
            Some(Value::Array(items)) => items,
            _ => return Err("expected {\"value\": [...]} or an array".into()),
        },
        _ => return Err("expected {\"value\": [...]} or an array".into()),
    };
    items
        .into_iter()
        .map(|v| match v {
            Value::Object(o) => Ok(o),
            _ => Err("every element must be an object".into()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_new_tenants() {
        let suffixes: BTreeSet<String> = ["contoso.com".to_owned()].into();
        let d = Directory::build(DirectorySeed::default(), "t1", &[], &suffixes);
        assert_eq!(d.on_premises_sync.len(), 1);
        let f = &d.on_premises_sync[0]["features"];
        assert_eq!(f["softMatchOnUpnEnabled"], true);
        assert_eq!(f["blockSoftMatchEnabled"], false);
        assert_eq!(d.domains[0]["id"], "emulator.onmicrosoft.com");
        assert_eq!(d.domains[0]["isInitial"], true);
        assert_eq!(d.domains[1]["id"], "contoso.com");
        assert_eq!(d.domains[1]["isVerified"], true);
        assert!(
            d.role_definitions
                .iter()
                .any(|r| r["id"] == GLOBAL_ADMINISTRATOR
                    && r["displayName"] == "Global Administrator")
        );
        assert!(d.role_assignments.is_empty());
    }

    #[test]
    fn seeds_override_defaults() {
        let obj = |v: Value| v.as_object().unwrap().clone();
        let seed = DirectorySeed {
            on_premises_sync: Some(vec![obj(
                json!({"Features": {"BlockSoftMatchEnabled": true}}),
            )]),
            domains: Some(vec![obj(
                json!({"id": "corp.example", "isVerified": false}),
            )]),
            role_definitions: None,
            role_assignments: vec![obj(
                json!({"principalId": "u1", "roleDefinitionId": GLOBAL_ADMINISTRATOR}),
            )],
            subscribed_skus: Vec::new(),
        };
        let d = Directory::build(seed, "t1", &[], &BTreeSet::new());
        assert_eq!(
            d.on_premises_sync[0]["features"]["blockSoftMatchEnabled"],
            true
        );
        assert_eq!(
            d.on_premises_sync[0]["features"]["softMatchOnUpnEnabled"],
            true
        );
        assert_eq!(d.domains[0]["isVerified"], false);
        assert_eq!(d.domains[0]["isInitial"], false);
        assert_eq!(d.role_assignments[0]["directoryScopeId"], "/");
        assert!(check_permission(None, ROLE_PERMISSIONS).is_ok());
        let roles = vec!["directory.read.all".to_owned()];
        assert!(check_permission(Some(&roles), DOMAIN_PERMISSIONS).is_ok());
        assert_eq!(
            check_permission(Some(&roles), SYNC_PERMISSIONS)
                .unwrap_err()
                .status,
            403
        );
    }
}
