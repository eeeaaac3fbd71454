//! Groups and contacts: STUB(issue 16), replaced by the readers and writers.

use super::EntraSnapshot;
use crate::directory::{
    CloudContact, CloudGroup, DirectoryError, EntraGroupRead, EntraGroupWrite, EntraOp,
};

fn not_yet() -> DirectoryError {
    DirectoryError::Other("groups are not written here yet (STUB(issue 16))".into())
}

impl EntraGroupRead for EntraSnapshot {
    async fn read_groups(&mut self) -> Result<Vec<CloudGroup>, DirectoryError> {
        Ok(Vec::new()) // STUB(issue 16)
    }
    async fn read_contacts(&mut self) -> Result<Vec<CloudContact>, DirectoryError> {
        Ok(Vec::new()) // STUB(issue 16)
    }
}

impl EntraGroupWrite for EntraSnapshot {
    async fn write_groups(
        &mut self,
        writes: Vec<EntraOp>,
    ) -> Vec<Result<Option<CloudGroup>, DirectoryError>> {
        writes.iter().map(|_| Err(not_yet())).collect()
    }
    async fn read_group(&mut self, _id: &str) -> Result<Option<CloudGroup>, DirectoryError> {
        Err(not_yet())
    }
}
