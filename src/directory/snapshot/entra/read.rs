//! The plan's read of a Graph export: the users checked and decoded as
//! [`EntraSnapshot::open`] does (the same code, the same errors), then the file's text
//! dropped. Only `apply` writes an export back, and only it needs the text: at 1M users it is
//! some 450 MB held through the whole plan. Groups and contacts are decoded the same way, each
//! group's members as ids without a map each; the tenant files are read as the snapshot reads
//! them.

use std::path::Path;
use std::sync::PoisonError;

use super::EntraSnapshot;
use super::collection::Collection;
use super::export::{CONTACTS, GROUPS, SKUS};
#[cfg(doc)]
use crate::directory::EntraGroupRead;
use crate::directory::model::{CloudContact, CloudGroup, CloudUser, Sku};
use crate::directory::snapshot::SnapshotError;
use crate::directory::snapshot::export::{CONTACTS_FILE, GROUPS_FILE};
use crate::directory::tenant_docs;
use crate::directory::tenant_docs::TenantDocs;
use crate::directory::{DirectoryError, Tenant, TenantRead};

/// A Graph users export (or snapshot folder) read for planning; it answers each read of the
/// users once (the model is handed over, not copied) and refuses writes.
#[derive(Debug)]
pub struct EntraPlanRead {
    /// A snapshot without its users' text: only what reads the users' text is unavailable,
    /// and this type offers none of that.
    snapshot: EntraSnapshot,
    /// `groups.json` and `contacts.json` once read.
    kinds: Option<Kinds>,
}

/// The groups and contacts of the folder, each handed out once, and why each is unknown.
#[derive(Debug)]
struct Kinds {
    groups: Option<Vec<CloudGroup>>,
    groups_unknown: Option<String>,
    contacts: Option<Vec<CloudContact>>,
    contacts_unknown: Option<String>,
}

impl EntraPlanRead {
    /// Reads, checks and decodes an export; a file [`EntraSnapshot::open`] refuses is refused
    /// with the same error.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SnapshotError> {
        let mut snapshot = EntraSnapshot::open_with(path.as_ref(), false)?;
        snapshot.text = String::new();
        snapshot.array = None;
        snapshot.users = Vec::new();
        snapshot.origins = Vec::new();
        Ok(EntraPlanRead {
            snapshot,
            kinds: None,
        })
    }

    pub fn path(&self) -> &Path {
        self.snapshot.path()
    }

    /// The users, as [`EntraSnapshot::users`] gives them; once.
    pub fn users(&mut self) -> Result<Vec<CloudUser>, DirectoryError> {
        let decoded = self.snapshot.decoded.get_mut();
        let users = decoded.unwrap_or_else(PoisonError::into_inner).take();
        users.ok_or_else(|| self.twice())
    }

    /// Reads the folder's group and contact files as the snapshot's first read of either
    /// does, `subscribedSkus.json` included (an error there fails it as it fails the
    /// snapshot's); a failed read is tried again at the next call, as there.
    fn kinds(&mut self) -> Result<&mut Kinds, SnapshotError> {
        if self.kinds.is_none() {
            let folder = self.snapshot.folder.as_deref();
            let users = self.snapshot.file.path.as_path();
            let (groups, groups_unknown) = Collection::decode(
                folder,
                users,
                (GROUPS_FILE, GROUPS),
                &CloudGroup::from_graph,
                Some(&CloudGroup::from_graph_json),
                &|g| &g.id,
            )?;
            let (contacts, contacts_unknown) = Collection::decode(
                folder,
                users,
                (CONTACTS_FILE, CONTACTS),
                &CloudContact::from_graph,
                None,
                &|c| &c.id,
            )?;
            Collection::decode(
                folder,
                users,
                (tenant_docs::SUBSCRIBED_SKUS.file, SKUS),
                &Sku::from_graph,
                None,
                &|s| &s.sku_id,
            )?;
            self.kinds = Some(Kinds {
                groups: Some(groups),
                groups_unknown,
                contacts: Some(contacts),
                contacts_unknown,
            });
        }
        // Cannot fail: set just above.
        Ok(self.kinds.as_mut().expect("read above"))
    }

    /// The groups, as [`EntraSnapshot::groups`] gives them; once.
    pub fn groups(&mut self) -> Result<Vec<CloudGroup>, DirectoryError> {
        let groups = self.kinds()?.groups.take();
        groups.ok_or_else(|| self.twice())
    }

    /// The contacts, as [`EntraSnapshot::contacts`] gives them; once.
    pub fn contacts(&mut self) -> Result<Vec<CloudContact>, DirectoryError> {
        let contacts = self.kinds()?.contacts.take();
        contacts.ok_or_else(|| self.twice())
    }

    /// As [`EntraGroupRead::groups_unread`] of the snapshot.
    pub fn groups_unread(&mut self) -> Option<String> {
        match self.kinds() {
            Ok(kinds) => kinds.groups_unknown.clone(),
            Err(e) => Some(e.to_string()),
        }
    }

    /// As [`EntraGroupRead::contacts_unread`] of the snapshot.
    pub fn contacts_unread(&mut self) -> Option<String> {
        match self.kinds() {
            Ok(kinds) => kinds.contacts_unknown.clone(),
            Err(e) => Some(e.to_string()),
        }
    }

    fn twice(&self) -> DirectoryError {
        DirectoryError::Other(format!(
            "{}: read twice (idsync opens an export for planning once per read)",
            self.path().display()
        ))
    }

    pub fn read_tenant_docs(&self) -> Result<TenantDocs, SnapshotError> {
        self.snapshot.read_tenant_docs()
    }

    pub async fn read_tenant(&mut self) -> Result<Tenant, DirectoryError> {
        self.snapshot.read_tenant().await
    }

    /// What a write, or a read of one object, says: only the plan's reads are answered
    /// (`apply` opens the file as an [`EntraSnapshot`]).
    pub fn not_for_apply(&self) -> DirectoryError {
        DirectoryError::Other(format!(
            "{}: the Entra export was opened for a plan's reads only",
            self.path().display()
        ))
    }
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
