//! Directories: the object model, and the read and write capabilities every directory
//! implementation (snapshot files, live AD over LDAP, live Entra over Graph) offers.
//!
//! Capabilities are split per directory and per object kind, as lldap splits its backend
//! handlers (`UserListerBackendHandler`, `GroupBackendHandler`, …): a directory implements the
//! traits of the kinds it reads or writes, and code asks for exactly what it uses. Reads and
//! writes are separate so a plan needs only read access.
//!
//! | capability                         | AD: `AdSnapshot`, `LdapDirectory` | Entra: `EntraSnapshot`, `GraphDirectory` |
//! |------------------------------------|-----------------------------------|------------------------------------------|
//! | read users                         | [`AdUserRead`]                    | [`EntraUserRead`]                        |
//! | write users                        | [`AdUserWrite`]                   | [`EntraUserWrite`]                       |
//! | names taken domain-wide, any kind  | [`AdTakenRead`]                   | —                                        |
//! | tenant data that decides matching  | —                                 | [`TenantRead`]                           |
//! | read groups and contacts           | [`AdGroupRead`]                   | [`EntraGroupRead`]                       |
//! | write groups and their members     | [`AdGroupWrite`]                  | [`EntraGroupWrite`]                      |
//! | make writes durable                | [`Flush`]                         | [`Flush`]                                |
//!
//! (`connect`'s `AdDirectory` and `EntraDirectory` pick one implementation at run time and
//! offer the same traits.)
//!
//! [`AdRead`], [`AdWrite`], [`EntraRead`] and [`EntraWrite`] name the sums a plan and an
//! apply need (lldap's `BackendHandler`), implemented for every type that has the parts; a
//! new kind adds its traits here and to those sums. Where a kind lives in each directory
//! (`objectClass`, Graph collection) is [`model::ObjectKind`]'s table, never the connector's.
//!
//! The traits are async because the live connectors are; the snapshot directory simply never
//! awaits. Their futures are awaited in place (`tokio::join!`), never spawned, so they need
//! not be `Send`.
#![allow(async_fn_in_trait)]

pub mod attributes;
pub mod backoff;
pub mod dn;
pub mod filter;
pub mod graph;
pub mod ldap;
pub mod ldif;
pub mod model;
pub mod schema;
pub mod snapshot;
pub mod tenant_docs;

pub use dn::Dn;
pub use filter::Filter;
pub use model::{AdContact, AdGroup, AdUser, CloudContact, CloudGroup, CloudUser, Guid, Tenant};

use crate::names::{AttrName, ProxyAddress};

/// What an AD read covers: subtrees (none: the whole directory), excluded subtrees, and an
/// optional LDAP filter (ANDed with the kind's, [`model::ObjectKind::ad_filter`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdQuery {
    pub bases: Vec<Dn>,
    pub exclude: Vec<Dn>,
    pub filter: Option<Filter>,
    /// Attributes the plan needs beyond the identifying ones every read returns.
    pub attributes: Vec<AttrName>,
}

/// One change to an AD attribute. Multi-valued attributes are edited per value, never replaced.
#[derive(Debug, Clone, PartialEq)]
pub enum AdMod {
    Add(AttrName, Vec<AdValue>),
    Delete(AttrName, Vec<AdValue>),
    /// Single-valued attributes only; an empty list clears the attribute.
    Replace(AttrName, Vec<AdValue>),
}

/// An attribute value as written: text or raw bytes (anchors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdValue {
    Text(String),
    Binary(Vec<u8>),
}

/// A new AD user. `password` is set (over TLS, live) before `user_account_control` enables it.
#[derive(Debug, Clone)]
pub struct AdCreate {
    pub dn: Dn,
    /// Attributes to set at creation, by LDAP name; `objectClass` is added by the directory.
    pub attributes: Vec<(AttrName, Vec<AdValue>)>,
    pub password: Option<Secret>,
    pub user_account_control: u32,
}

/// A secret value that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Reads users from Active Directory.
pub trait AdUserRead {
    /// Every user in the query's scope.
    async fn read_users(&mut self, query: &AdQuery) -> Result<Vec<AdUser>, DirectoryError>;
    /// One user by objectGUID, wherever it is in the domain (for preconditions and read-back).
    async fn read_user(&mut self, guid: &Guid) -> Result<Option<AdUser>, DirectoryError>;
}

/// Finds which names are already taken in Active Directory. Not per kind: a user, group or
/// contact holding a name blocks a new account alike.
pub trait AdTakenRead {
    /// Domain-wide (not only in scope): objects of any kind that already hold one of these
    /// values in `userPrincipalName`, `sAMAccountName`, `mail` or `proxyAddresses` (`smtp:`
    /// values).
    async fn find_taken(&mut self, values: &TakenQuery) -> Result<Vec<Taken>, DirectoryError>;
}

/// Everything a plan reads from Active Directory.
pub trait AdRead: AdUserRead + AdTakenRead + AdGroupRead {}
impl<T: AdUserRead + AdTakenRead + AdGroupRead> AdRead for T {}

/// Reads groups and contacts from Active Directory.
pub trait AdGroupRead {
    /// Every group under the query's bases and not under its exclusions (the query's
    /// `filter` is the users' and does not apply), each with its whole `member` list: a
    /// ranged answer (`member;range=0-1499`) is followed to its last range.
    async fn read_groups(&mut self, query: &AdQuery) -> Result<Vec<AdGroup>, DirectoryError>;
    /// Every contact under the query's bases and not under its exclusions.
    async fn read_contacts(&mut self, query: &AdQuery) -> Result<Vec<AdContact>, DirectoryError>;
}

/// A new AD group (`objectClass: group`).
#[derive(Debug, Clone)]
pub struct AdGroupCreate {
    pub dn: Dn,
    /// `sAMAccountName`, `groupType`, `mail`, `displayName`, `adminDescription`, … by LDAP
    /// name; `objectClass` is added by the directory. Members are added afterwards, per
    /// value.
    pub attributes: Vec<(AttrName, Vec<AdValue>)>,
}

/// Writes groups to Active Directory. Members are `member` values, edited per value
/// ([`AdMod::Add`] / [`AdMod::Delete`] of DNs), never replaced.
pub trait AdGroupWrite {
    async fn create_group(&mut self, create: &AdGroupCreate) -> Result<AdGroup, DirectoryError>;
    async fn modify_group(&mut self, dn: &Dn, mods: &[AdMod]) -> Result<(), DirectoryError>;
    async fn move_group(&mut self, dn: &Dn, new_dn: &Dn) -> Result<(), DirectoryError>;
    async fn delete_group(&mut self, dn: &Dn) -> Result<(), DirectoryError>;
    /// One group by objectGUID, wherever it is (preconditions and read-back).
    async fn read_group(&mut self, guid: &Guid) -> Result<Option<AdGroup>, DirectoryError>;
}

/// Values a new account needs free, domain-wide.
#[derive(Debug, Clone, Default)]
pub struct TakenQuery {
    pub upns: Vec<String>,
    pub sam_account_names: Vec<String>,
    pub smtp_addresses: Vec<String>,
}

/// Matches stored values against a [`TakenQuery`] without case, as AD compares them; built
/// once per search, shared by the directories that answer `find_taken`.
pub struct TakenMatcher<'q> {
    upns: std::collections::HashMap<String, Vec<&'q str>>,
    sams: std::collections::HashMap<String, Vec<&'q str>>,
    addresses: std::collections::HashMap<String, Vec<&'q str>>,
}

impl<'q> TakenMatcher<'q> {
    /// The attributes a taken value can be held in.
    pub const ATTRIBUTES: [&'static str; 4] = [
        "userPrincipalName",
        "sAMAccountName",
        "mail",
        "proxyAddresses",
    ];

    pub fn new(query: &'q TakenQuery) -> Self {
        /// Folded value -> the query's spellings of it.
        fn wanted(values: &[String]) -> std::collections::HashMap<String, Vec<&str>> {
            let mut map: std::collections::HashMap<String, Vec<&str>> = Default::default();
            for v in values {
                map.entry(crate::names::fold(v))
                    .or_default()
                    .push(v.as_str());
            }
            map
        }
        TakenMatcher {
            upns: wanted(&query.upns),
            sams: wanted(&query.sam_account_names),
            addresses: wanted(&query.smtp_addresses),
        }
    }

    fn wanted(&self, attribute: &str) -> &std::collections::HashMap<String, Vec<&'q str>> {
        match attribute {
            "userPrincipalName" => &self.upns,
            "sAMAccountName" => &self.sams,
            _ => &self.addresses,
        }
    }

    /// What the object `dn` holds of the query: `values_of(attribute)` gives its stored values
    /// of each of [`Self::ATTRIBUTES`] (`proxyAddresses` count by their `smtp:` address). Each
    /// of the query's spellings once per attribute.
    pub fn taken<'v, I: IntoIterator<Item = &'v str>>(
        &self,
        dn: &Dn,
        mut values_of: impl FnMut(&'static str) -> I,
    ) -> Vec<Taken> {
        let mut hits: Vec<(&'static str, &'q str)> = Vec::new();
        for attribute in Self::ATTRIBUTES {
            let map = self.wanted(attribute);
            if map.is_empty() {
                continue;
            }
            for stored in values_of(attribute) {
                let stored = if attribute == "proxyAddresses" {
                    match ProxyAddress::parse(stored).filter(ProxyAddress::is_smtp) {
                        Some(p) => p.address,
                        None => continue,
                    }
                } else {
                    stored
                };
                for &asked in map.get(&crate::names::fold(stored)).into_iter().flatten() {
                    if !hits.contains(&(attribute, asked)) {
                        hits.push((attribute, asked));
                    }
                }
            }
        }
        hits.into_iter()
            .map(|(attribute, value)| Taken {
                attribute,
                value: value.to_owned(),
                dn: dn.clone(),
            })
            .collect()
    }
}

/// An object that already holds a value a create wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub attribute: &'static str,
    pub value: String,
    pub dn: Dn,
}

/// Writes users to Active Directory.
pub trait AdUserWrite {
    /// Creates a user of `objectClass` [`model::ObjectKind::ad_create_classes`].
    async fn create_user(&mut self, create: &AdCreate) -> Result<AdUser, DirectoryError>;
    async fn modify_user(&mut self, dn: &Dn, mods: &[AdMod]) -> Result<(), DirectoryError>;
    /// Moves (renames) the user to `new_dn`.
    async fn move_user(&mut self, dn: &Dn, new_dn: &Dn) -> Result<(), DirectoryError>;
    async fn delete_user(&mut self, dn: &Dn) -> Result<(), DirectoryError>;
}

/// Makes the writes so far durable, whatever their kind (snapshot files: one atomic rewrite;
/// live directories: nothing, each write is durable when answered).
pub trait Flush {
    async fn flush(&mut self) -> Result<(), DirectoryError>;
}

/// Everything an apply writes to Active Directory.
pub trait AdWrite: AdUserWrite + AdGroupWrite + Flush {}
impl<T: AdUserWrite + AdGroupWrite + Flush> AdWrite for T {}

/// Reads users from Entra ID.
pub trait EntraUserRead {
    /// Every user, with at least the given Graph properties.
    async fn read_users(&mut self, select: &[String]) -> Result<Vec<CloudUser>, DirectoryError>;
    /// One user by object id.
    async fn read_user(&mut self, id: &str) -> Result<Option<CloudUser>, DirectoryError>;
    /// Several users by object id, in order (`None` for one that is gone). Live connectors
    /// batch this.
    async fn read_users_by_id(
        &mut self,
        ids: &[String],
    ) -> Result<Vec<Option<CloudUser>>, DirectoryError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.read_user(id).await?);
        }
        Ok(out)
    }
}

/// Reads the Entra tenant data that decides matching (DESIGN.md, "Entra tenant data that
/// decides matching"). A capability of its own: each part is read separately, and a part the
/// directory cannot give (no such file, 403 without the permission) is `Part::Unknown` with
/// why, never an error; only a broken answer or file is.
pub trait TenantRead {
    async fn read_tenant(&mut self) -> Result<Tenant, DirectoryError>;
}

/// Everything a plan reads from Entra ID (the tenant data is its own capability).
pub trait EntraRead: EntraUserRead + EntraGroupRead {}
impl<T: EntraUserRead + EntraGroupRead> EntraRead for T {}

/// Reads groups and contacts from Entra ID.
pub trait EntraGroupRead {
    /// Every group ([`model::GROUP_PROPERTIES`]), each with its members' ids
    /// (`/groups/{id}/members`, every page).
    async fn read_groups(&mut self) -> Result<Vec<CloudGroup>, DirectoryError>;
    /// Every organizational contact (`/contacts`, [`model::CONTACT_PROPERTIES`]).
    async fn read_contacts(&mut self) -> Result<Vec<CloudContact>, DirectoryError>;
    /// Why the groups [`EntraGroupRead::read_groups`] returns are not known to be all of them
    /// (a snapshot folder without `groups.json`, a plain users file): "none known", not "none".
    /// `None` for a complete read. Plans must not remove or delete anything on an unread side.
    fn groups_unread(&mut self) -> Option<String> {
        None
    }
    /// As [`EntraGroupRead::groups_unread`], for contacts.
    fn contacts_unread(&mut self) -> Option<String> {
        None
    }
}

/// One write to Entra ID, as Graph takes it. Its kind is the writing method's
/// ([`EntraUserWrite::write_users`] writes users), so an op cannot name one collection and
/// have its answer read as another kind; the Graph connector builds `/{collection}/{id}` from
/// that kind ([`model::ObjectKind::graph_collection`]).
///
/// Its `Debug` leaves out a create's password: ops end up in panics and logs.
#[derive(Clone, PartialEq)]
pub enum EntraOp {
    /// `POST /{collection}` with this body (the directory adds nothing but what Graph requires).
    Create(serde_json::Map<String, serde_json::Value>),
    /// `PATCH /{collection}/{id}`.
    Update {
        id: String,
        patch: serde_json::Map<String, serde_json::Value>,
    },
    /// `DELETE /{collection}/{id}`.
    Delete { id: String },
    /// Groups only: `POST /groups/{id}/members/$ref` with
    /// `{"@odata.id": "{graph}/v1.0/directoryObjects/{member}"}`.
    AddMember { id: String, member: String },
    /// Groups only: `DELETE /groups/{id}/members/{member}/$ref`.
    RemoveMember { id: String, member: String },
    /// `POST /{collection}/{id}/assignLicense` (users and groups) with
    /// `{"addLicenses": [{"skuId", "disabledPlans"}], "removeLicenses": [skuId]}`.
    AssignLicense {
        id: String,
        /// `(skuId, disabledPlans)`.
        add: Vec<(String, Vec<String>)>,
        remove: Vec<String>,
    },
}

impl std::fmt::Debug for EntraOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntraOp::Create(body) => f.debug_tuple("Create").field(&Redacted(body)).finish(),
            EntraOp::Update { id, patch } => f
                .debug_struct("Update")
                .field("id", id)
                .field("patch", &Redacted(patch))
                .finish(),
            EntraOp::Delete { id } => f.debug_struct("Delete").field("id", id).finish(),
            EntraOp::AddMember { id, member } => f
                .debug_struct("AddMember")
                .field("id", id)
                .field("member", member)
                .finish(),
            EntraOp::RemoveMember { id, member } => f
                .debug_struct("RemoveMember")
                .field("id", id)
                .field("member", member)
                .finish(),
            EntraOp::AssignLicense { id, add, remove } => f
                .debug_struct("AssignLicense")
                .field("id", id)
                .field("add", add)
                .field("remove", remove)
                .finish(),
        }
    }
}

/// A Graph body as `Debug` shows it, `passwordProfile` (the only secret a write carries)
/// replaced by a placeholder. Shared by every type that holds a write's body.
pub(crate) struct Redacted<'a>(pub(crate) &'a serde_json::Map<String, serde_json::Value>);

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in self.0 {
            if k == "passwordProfile" {
                map.entry(k, &format_args!("<redacted>"));
            } else {
                map.entry(k, v);
            }
        }
        map.finish()
    }
}

impl EntraOp {
    /// The `assignLicense` body Graph takes.
    pub fn assign_license_body(
        add: &[(String, Vec<String>)],
        remove: &[String],
    ) -> serde_json::Value {
        let add: Vec<serde_json::Value> = add
            .iter()
            .map(|(sku, plans)| serde_json::json!({ "skuId": sku, "disabledPlans": plans }))
            .collect();
        serde_json::json!({ "addLicenses": add, "removeLicenses": remove })
    }
}

/// Writes users to Entra ID. Writes are handed over together so a live connector can batch
/// them; the answer has one result per write, in order.
pub trait EntraUserWrite {
    async fn write_users(
        &mut self,
        writes: Vec<EntraOp>,
    ) -> Vec<Result<Option<CloudUser>, DirectoryError>>;
}

/// Everything an apply writes to Entra ID.
pub trait EntraWrite: EntraUserWrite + EntraGroupWrite + Flush {}
impl<T: EntraUserWrite + EntraGroupWrite + Flush> EntraWrite for T {}

/// Writes groups and their memberships to Entra ID, batched like users; one result per
/// write, in order (the group as Graph answers a create; `None` for the others).
pub trait EntraGroupWrite {
    async fn write_groups(
        &mut self,
        writes: Vec<EntraOp>,
    ) -> Vec<Result<Option<CloudGroup>, DirectoryError>>;
    /// One group by object id, members included (preconditions and read-back).
    async fn read_group(&mut self, id: &str) -> Result<Option<CloudGroup>, DirectoryError>;
}

/// What can go wrong in a directory, whichever implementation.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
    #[error("{object}: {message}")]
    Refused {
        object: String,
        message: String,
        /// Graph error code or LDAP result name, when there is one.
        code: Option<String>,
    },
    #[error("{object}: not found")]
    NotFound { object: String },
    /// The directory cannot be reached (after retries): nothing more can be done there now.
    #[error("{directory} is unreachable: {message}")]
    Unavailable {
        directory: &'static str,
        message: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl DirectoryError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DirectoryError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Progress of a long read or write. Libraries never draw: the CLI turns these into a progress
/// bar on a terminal, and ignores them in pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressEvent<'a> {
    /// A phase begins; `total` when known (Graph and LDAP reads usually do not know it).
    Start {
        what: &'a str,
        total: Option<u64>,
    },
    /// `n` more objects done.
    Advance(u64),
    Finish,
}

/// Receives progress events; shared between tasks.
pub trait ProgressSink: Send + Sync {
    fn event(&self, event: ProgressEvent<'_>);
}

/// Drops every event.
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn event(&self, _: ProgressEvent<'_>) {}
}

#[cfg(test)]
mod tests {
    use super::EntraOp;
    use serde_json::json;

    #[test]
    fn an_op_shown_for_debugging_leaves_out_the_password() {
        let serde_json::Value::Object(body) = json!({
            "userPrincipalName": "new@example.com",
            "passwordProfile": {"password": "xWwvJ]6NMw+bWH-d", "forceChangePasswordNextSignIn": true}
        }) else {
            unreachable!()
        };
        for op in [
            EntraOp::Create(body.clone()),
            EntraOp::Update {
                id: "1".into(),
                patch: body,
            },
        ] {
            let shown = format!("{op:?}");
            assert!(shown.contains("new@example.com"), "{shown}");
            assert!(shown.contains("\"passwordProfile\": <redacted>"), "{shown}");
            assert!(!shown.contains("xWwvJ"), "{shown}");
        }
    }
}
