//! Groups and contacts of a snapshot folder: `groups.json` (`GET /v1.0/groups`, each group with
//! its `members` as `$expand=members($select=id)` gives them) and `contacts.json`
//! (`GET /v1.0/contacts`), read in every shape `users.json` is (see [`super::export`]) and
//! written back losslessly (see [`super::collection`]).
//!
//! A missing file is "none known": the read is empty and
//! [`EntraGroupRead::groups_unread`] says why, so a plan never takes "no groups.json" for "no groups".
//!
//! Writes answer as Graph answers the same request, with the rules the Graph emulator applies
//! too (`graph_rules::group`):
//! - Create (`POST /groups`): the required properties, no read-only one, only security groups
//!   and Microsoft 365 groups (Exchange Online creates the others). It mints an id, starts with
//!   no members, and gives a Microsoft 365 group its address in the tenant's initial domain
//!   (`domains.json`; without it `mail` stays null). Source: group-post-groups.
//! - Update (`PATCH /groups/{id}`): refused on synced groups and for read-only properties.
//! - Delete (`DELETE /groups/{id}`): the group goes, and with it its place in other groups (a
//!   user deleted through `write_users` leaves its groups too).
//! - AddMember (`POST /groups/{id}/members/$ref`): the member must be a user, group or contact
//!   of the folder (404 otherwise); a member already there is Graph's 400 "One or more added
//!   object references already exist"; synced, mail-enabled security, distribution and
//!   dynamic groups refuse member writes; a Microsoft 365 group takes users only. Source:
//!   group-post-members.
//! - RemoveMember (`DELETE /groups/{id}/members/{member}/$ref`): a member that is not there is
//!   Graph's 404 `Request_ResourceNotFound`. Source: group-delete-members.
//!
//! Contacts are read-only through Graph (orgContact), so nothing writes `contacts.json`.

use graph_rules::GraphError;
use graph_rules::group::{self as rules, MemberKind};
use serde_json::{Map, Value};

use super::EntraSnapshot;
use super::collection::Collection;
use super::export::{CONTACTS, GROUPS, SKUS};
use crate::directory::model::{GROUP_PROPERTIES, Guid, Sku};
use crate::directory::snapshot::SnapshotError;
use crate::directory::tenant_docs;
use crate::directory::{
    CloudContact, CloudGroup, DirectoryError, EntraGroupRead, EntraGroupWrite, EntraOp,
};

use crate::directory::snapshot::export::{CONTACTS_FILE, GROUPS_FILE};

/// `groups.json` and `contacts.json`, as read.
#[derive(Debug)]
pub(super) struct Kinds {
    pub groups: Collection,
    pub contacts: Collection,
    /// `subscribedSkus.json`: license writes move its `consumedUnits`.
    pub skus: Collection,
}

impl Kinds {
    fn all(&self) -> [&Collection; 3] {
        [&self.groups, &self.contacts, &self.skus]
    }

    /// Before anything is written: every file to be written may be, and none changed on disk.
    pub fn check_writable_unchanged(&self) -> Result<(), SnapshotError> {
        for c in self.all().into_iter().filter(|c| c.is_dirty()) {
            c.writable()?;
            c.check_unchanged()?;
        }
        Ok(())
    }

    pub fn save(&mut self) -> Result<(), SnapshotError> {
        self.groups.save()?;
        self.contacts.save()?;
        self.skus.save()
    }

    pub fn is_dirty(&self) -> bool {
        self.all().iter().any(|c| c.is_dirty())
    }
}

impl EntraSnapshot {
    /// Reads `groups.json` and `contacts.json` the first time they are needed.
    pub(super) fn kinds(&mut self) -> Result<&mut Kinds, SnapshotError> {
        if self.groups.is_none() {
            let folder = self.folder.as_deref();
            let users = self.file.path.as_path();
            let groups = Collection::open(folder, users, GROUPS_FILE, GROUPS, &|g| {
                CloudGroup::from_graph(g).map(|g| g.id)
            })?;
            let contacts = Collection::open(folder, users, CONTACTS_FILE, CONTACTS, &|c| {
                CloudContact::from_graph(c).map(|c| c.id)
            })?;
            let skus = Collection::open(
                folder,
                users,
                tenant_docs::SUBSCRIBED_SKUS.file,
                SKUS,
                &|s| Sku::from_graph(s).map(|s| s.sku_id),
            )?;
            self.groups = Some(Kinds {
                groups,
                contacts,
                skus,
            });
        }
        // Cannot fail: set just above.
        Ok(self.groups.as_mut().expect("read above"))
    }

    /// Every group (members included where the file carries them).
    pub fn groups(&mut self) -> Result<Vec<CloudGroup>, DirectoryError> {
        let path = self.file.path.clone();
        let kinds = self.kinds()?;
        kinds
            .groups
            .objects
            .iter()
            .map(|g| convert_group(&path, g))
            .collect()
    }

    pub fn contacts(&mut self) -> Result<Vec<CloudContact>, DirectoryError> {
        let kinds = self.kinds()?;
        kinds
            .contacts
            .objects
            .iter()
            .map(|c| CloudContact::from_graph(c).map_err(DirectoryError::Other))
            .collect()
    }

    /// One group by object id.
    pub fn group(&mut self, id: &str) -> Result<Option<CloudGroup>, DirectoryError> {
        let path = self.file.path.clone();
        let kinds = self.kinds()?;
        kinds
            .groups
            .position(id)
            .map(|i| convert_group(&path, &kinds.groups.objects[i]))
            .transpose()
    }

    /// Applies one group write as Graph would.
    pub fn apply_group(&mut self, op: EntraOp) -> Result<Option<CloudGroup>, DirectoryError> {
        self.kinds()?.groups.writable()?;
        match op {
            EntraOp::Create(body) => self.create_group(body).map(Some),
            EntraOp::Update { id, patch } => self.update_group(&id, patch).map(Some),
            EntraOp::Delete { id } => self.delete_group(&id).map(|()| None),
            EntraOp::AddMember { id, member } => self.add_member(&id, &member).map(Some),
            EntraOp::RemoveMember { id, member } => self.remove_member(&id, &member).map(Some),
            EntraOp::AssignLicense { id, add, remove } => {
                self.assign_group_license(&id, add, remove).map(Some)
            }
        }
    }

    fn create_group(&mut self, body: Map<String, Value>) -> Result<CloudGroup, DirectoryError> {
        let object = body
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or("(new group)")
            .to_owned();
        let refused = |e| refused(&object, e);
        let body = rules::canonical_body(body).map_err(refused)?;
        rules::check_create(&body).map_err(refused)?;
        let initial_domain = if rules::is_unified(&body) {
            self.initial_domain()?
        } else {
            None
        };
        let mut id = Guid::new_random().to_string();
        while self.holds_id(&id)? {
            id = Guid::new_random().to_string();
        }
        // Every property a group read carries, null where it has none (absent would read as
        // "not read"), then what the body sets.
        let mut group = Map::new();
        for &name in GROUP_PROPERTIES {
            group.insert(name.into(), Value::Null);
        }
        group.insert("id".into(), Value::String(id));
        group.insert("groupTypes".into(), Value::Array(Vec::new()));
        group.insert("proxyAddresses".into(), Value::Array(Vec::new()));
        group.extend(body);
        if let (Some(domain), Some(nick)) = (
            initial_domain,
            group.get("mailNickname").and_then(Value::as_str),
        ) {
            let mail = format!("{nick}@{domain}");
            group.insert(
                "proxyAddresses".into(),
                Value::Array(vec![Value::String(format!("SMTP:{mail}"))]),
            );
            group.insert("mail".into(), Value::String(mail));
        }
        // A new group has no members: known, and empty.
        group.insert("members".into(), Value::Array(Vec::new()));
        let cloud = convert_group(&self.file.path, &group)?;
        self.kinds()?.groups.push(group);
        Ok(cloud)
    }

    fn update_group(
        &mut self,
        id: &str,
        patch: Map<String, Value>,
    ) -> Result<CloudGroup, DirectoryError> {
        let path = self.file.path.clone();
        let groups = &mut self.kinds()?.groups;
        let i = groups.position(id).ok_or_else(|| not_found(id))?;
        let object = label(&groups.objects[i], id);
        let refused = |e| refused(&object, e);
        let patch = rules::canonical_body(patch).map_err(refused)?;
        rules::check_update(&patch, &groups.objects[i]).map_err(refused)?;
        let mut group = groups.objects[i].clone();
        group.extend(patch);
        let cloud = convert_group(&path, &group)?;
        groups.replace(i, group);
        Ok(cloud)
    }

    fn delete_group(&mut self, id: &str) -> Result<(), DirectoryError> {
        let groups = &mut self.kinds()?.groups;
        let i = groups.position(id).ok_or_else(|| not_found(id))?;
        groups.remove(i);
        self.forget_member(id);
        Ok(())
    }

    /// A deleted object leaves every group it was a member of, as in Entra ID. Skipped where
    /// `groups.json` cannot be read or written back (its own writes say why).
    pub(super) fn forget_member(&mut self, id: &str) {
        let Ok(kinds) = self.kinds() else { return };
        let groups = &mut kinds.groups;
        if groups.writable().is_err() {
            return;
        }
        for j in 0..groups.objects.len() {
            let holds = matches!(groups.objects[j].get("members"), Some(Value::Array(m)) if m.iter().any(|m| member_is(m, id)));
            if holds {
                let mut group = groups.objects[j].clone();
                if let Some(Value::Array(members)) = group.get_mut("members") {
                    members.retain(|m| !member_is(m, id));
                }
                groups.replace(j, group);
            }
        }
    }

    fn add_member(&mut self, id: &str, member: &str) -> Result<CloudGroup, DirectoryError> {
        let kind = self.member_kind(member)?;
        let path = self.file.path.clone();
        let groups = &mut self.kinds()?.groups;
        let i = groups.position(id).ok_or_else(|| not_found(id))?;
        let object = label(&groups.objects[i], id);
        let refused = |e| refused(&object, e);
        rules::check_member_write(&groups.objects[i]).map_err(refused)?;
        let Some(kind) = kind else {
            return Err(refused(GraphError::not_found(member)));
        };
        rules::check_member_kind(&groups.objects[i], kind).map_err(refused)?;
        let mut group = groups.objects[i].clone();
        let members = known_members(&mut group, &object)?;
        if members.iter().any(|m| member_is(m, member)) {
            return Err(refused(rules::member_exists()));
        }
        let mut entry = Map::new();
        entry.insert("@odata.type".into(), kind.odata_type().into());
        entry.insert("id".into(), member.into());
        members.push(Value::Object(entry));
        let cloud = convert_group(&path, &group)?;
        groups.replace(i, group);
        Ok(cloud)
    }

    fn remove_member(&mut self, id: &str, member: &str) -> Result<CloudGroup, DirectoryError> {
        let path = self.file.path.clone();
        let groups = &mut self.kinds()?.groups;
        let i = groups.position(id).ok_or_else(|| not_found(id))?;
        let object = label(&groups.objects[i], id);
        let refused = |e| refused(&object, e);
        rules::check_member_write(&groups.objects[i]).map_err(refused)?;
        let mut group = groups.objects[i].clone();
        let members = known_members(&mut group, &object)?;
        let Some(at) = members.iter().position(|m| member_is(m, member)) else {
            return Err(refused(GraphError::not_found(member)));
        };
        members.remove(at);
        let cloud = convert_group(&path, &group)?;
        groups.replace(i, group);
        Ok(cloud)
    }

    /// What kind of object of the folder `id` is; `None` when it is none of them.
    fn member_kind(&mut self, id: &str) -> Result<Option<MemberKind>, DirectoryError> {
        if self.index().holder(super::Key::Id, id, None).is_some() {
            return Ok(Some(MemberKind::User));
        }
        let kinds = self.kinds()?;
        if kinds.groups.position(id).is_some() {
            return Ok(Some(MemberKind::Group));
        }
        if kinds.contacts.position(id).is_some() {
            return Ok(Some(MemberKind::OrgContact));
        }
        Ok(None)
    }

    /// Whether any object of the folder has this id (ids are unique across kinds).
    fn holds_id(&mut self, id: &str) -> Result<bool, DirectoryError> {
        Ok(self.member_kind(id)?.is_some())
    }

    /// The tenant's initial domain (`domains.json`), where Graph puts a new Microsoft 365
    /// group's address.
    fn initial_domain(&self) -> Result<Option<String>, DirectoryError> {
        let docs = self.read_tenant_docs()?;
        Ok(docs.domains.known().and_then(|domains| {
            domains.iter().find_map(|d| {
                (d.get("isInitial") == Some(&Value::Bool(true)))
                    .then(|| d.get("id").and_then(Value::as_str).map(str::to_owned))
                    .flatten()
            })
        }))
    }
}

/// The members array of a group, or a refusal when the file does not carry them: a write
/// would turn "unknown" into a wrong known set.
fn known_members<'g>(
    group: &'g mut Map<String, Value>,
    object: &str,
) -> Result<&'g mut Vec<Value>, DirectoryError> {
    match group.get_mut("members") {
        Some(Value::Array(members)) => Ok(members),
        Some(v @ Value::Null) => {
            *v = Value::Array(Vec::new());
            match v {
                Value::Array(members) => Ok(members),
                _ => unreachable!("set just above"),
            }
        }
        _ => Err(DirectoryError::Other(format!(
            "{object}: groups.json does not carry this group's members, so the snapshot cannot change them; export it with `idsync snapshot --from entra`"
        ))),
    }
}

fn member_is(entry: &Value, id: &str) -> bool {
    entry
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|m| crate::names::eq_ci(m, id))
}

/// A group's name for messages: its displayName, else the key it was named by.
pub(super) fn label(group: &Map<String, Value>, key: &str) -> String {
    group
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or(key)
        .to_owned()
}

pub(super) fn convert_group(
    users_file: &std::path::Path,
    group: &Map<String, Value>,
) -> Result<CloudGroup, DirectoryError> {
    CloudGroup::from_graph(group).map_err(|message| {
        DirectoryError::Other(format!(
            "{}: {message}",
            users_file.with_file_name(GROUPS_FILE).display()
        ))
    })
}

pub(super) fn not_found(id: &str) -> DirectoryError {
    DirectoryError::NotFound {
        object: id.to_owned(),
    }
}

/// Graph's refusal as the directory error the engine reports (code and message kept).
pub(super) fn refused(object: &str, e: GraphError) -> DirectoryError {
    DirectoryError::Refused {
        object: object.to_owned(),
        message: e.message,
        code: Some(e.code),
    }
}

impl EntraGroupRead for EntraSnapshot {
    async fn read_groups(&mut self) -> Result<Vec<CloudGroup>, DirectoryError> {
        self.groups()
    }
    async fn read_contacts(&mut self) -> Result<Vec<CloudContact>, DirectoryError> {
        self.contacts()
    }
    /// Why the groups read are not known to be the tenant's groups: the folder has no
    /// `groups.json`, or the snapshot is a plain users file; `None` once `groups.json` was read
    /// (an empty one says "no groups"). A file that cannot be read is never "known".
    fn groups_unread(&mut self) -> Option<String> {
        match self.kinds() {
            Ok(kinds) => kinds.groups.unknown.clone(),
            Err(e) => Some(e.to_string()),
        }
    }
    fn contacts_unread(&mut self) -> Option<String> {
        match self.kinds() {
            Ok(kinds) => kinds.contacts.unknown.clone(),
            Err(e) => Some(e.to_string()),
        }
    }
}

impl EntraGroupWrite for EntraSnapshot {
    async fn write_groups(
        &mut self,
        writes: Vec<EntraOp>,
    ) -> Vec<Result<Option<CloudGroup>, DirectoryError>> {
        writes.into_iter().map(|op| self.apply_group(op)).collect()
    }
    async fn read_group(&mut self, id: &str) -> Result<Option<CloudGroup>, DirectoryError> {
        self.group(id)
    }
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;
