//! Groups and contacts: STUB(issue 16), replaced by the readers and writers.

use super::AdSnapshot;
use crate::directory::{
    AdContact, AdGroup, AdGroupCreate, AdGroupRead, AdGroupWrite, AdMod, AdQuery, DirectoryError,
    Dn, Guid,
};

fn not_yet() -> DirectoryError {
    DirectoryError::Other("groups are not written here yet (STUB(issue 16))".into())
}

impl AdGroupRead for AdSnapshot {
    async fn read_groups(&mut self, _query: &AdQuery) -> Result<Vec<AdGroup>, DirectoryError> {
        Ok(Vec::new()) // STUB(issue 16)
    }
    async fn read_contacts(&mut self, _query: &AdQuery) -> Result<Vec<AdContact>, DirectoryError> {
        Ok(Vec::new()) // STUB(issue 16)
    }
}

impl AdGroupWrite for AdSnapshot {
    async fn create_group(&mut self, _create: &AdGroupCreate) -> Result<AdGroup, DirectoryError> {
        Err(not_yet())
    }
    async fn modify_group(&mut self, _dn: &Dn, _mods: &[AdMod]) -> Result<(), DirectoryError> {
        Err(not_yet())
    }
    async fn move_group(&mut self, _dn: &Dn, _new_dn: &Dn) -> Result<(), DirectoryError> {
        Err(not_yet())
    }
    async fn delete_group(&mut self, _dn: &Dn) -> Result<(), DirectoryError> {
        Err(not_yet())
    }
    async fn read_group(&mut self, _guid: &Guid) -> Result<Option<AdGroup>, DirectoryError> {
        Err(not_yet())
    }
}
