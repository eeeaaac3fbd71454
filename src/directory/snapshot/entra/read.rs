//! The plan's read of a Graph export: the users checked and decoded as
//! [`EntraSnapshot::open`] does (the same code, the same errors), then the file's text
//! dropped. Only `apply` writes an export back, and only it needs the text: at 1M users it is
//! some 450 MB held through the whole plan. Groups, contacts and the tenant files are read
//! as the snapshot reads them.

use std::path::Path;
use std::sync::PoisonError;

use super::EntraSnapshot;
use crate::directory::model::{CloudContact, CloudGroup, CloudUser};
use crate::directory::snapshot::SnapshotError;
use crate::directory::tenant_docs::TenantDocs;
use crate::directory::{DirectoryError, EntraGroupRead, Tenant, TenantRead};

/// A Graph users export (or snapshot folder) read for planning; it answers each read of the
/// users once (the model is handed over, not copied) and refuses writes.
#[derive(Debug)]
pub struct EntraPlanRead {
    /// A snapshot without its users' text: only what reads the users' text is unavailable,
    /// and this type offers none of that.
    snapshot: EntraSnapshot,
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
        Ok(EntraPlanRead { snapshot })
    }

    pub fn path(&self) -> &Path {
        self.snapshot.path()
    }

    /// The users, as [`EntraSnapshot::users`] gives them; once.
    pub fn users(&mut self) -> Result<Vec<CloudUser>, DirectoryError> {
        let decoded = self.snapshot.decoded.get_mut();
        decoded
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| {
                DirectoryError::Other(format!(
                    "{}: read twice (idsync opens an export for planning once per read)",
                    self.path().display()
                ))
            })
    }

    pub fn groups(&mut self) -> Result<Vec<CloudGroup>, DirectoryError> {
        self.snapshot.groups()
    }

    pub fn contacts(&mut self) -> Result<Vec<CloudContact>, DirectoryError> {
        self.snapshot.contacts()
    }

    /// As [`EntraGroupRead::groups_unread`] of the snapshot.
    pub fn groups_unread(&mut self) -> Option<String> {
        EntraGroupRead::groups_unread(&mut self.snapshot)
    }

    /// As [`EntraGroupRead::contacts_unread`] of the snapshot.
    pub fn contacts_unread(&mut self) -> Option<String> {
        EntraGroupRead::contacts_unread(&mut self.snapshot)
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
