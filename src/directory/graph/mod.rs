//! Live Entra ID over Microsoft Graph. Not built yet: connecting says so.

use crate::desired::GraphConfig;
use crate::directory::{CloudUser, DirectoryError, EntraOp, EntraRead, EntraWrite};

/// A client for one tenant.
pub struct GraphDirectory {
    graph_url: String,
}

impl GraphDirectory {
    pub async fn connect(config: &GraphConfig) -> Result<Self, DirectoryError> {
        Err(DirectoryError::Other(format!(
            "live Entra (tenant {}) is not available in this build yet; plan against a Graph JSON export with --entra-snapshot",
            config.tenant_id
        )))
    }

    pub fn graph_url(&self) -> &str {
        &self.graph_url
    }
}

fn unavailable() -> DirectoryError {
    DirectoryError::Other("live Entra is not available in this build yet".into())
}

impl EntraRead for GraphDirectory {
    async fn read_users(&mut self, _: &[String]) -> Result<Vec<CloudUser>, DirectoryError> {
        Err(unavailable())
    }
    async fn read_user(&mut self, _: &str) -> Result<Option<CloudUser>, DirectoryError> {
        Err(unavailable())
    }
}

impl EntraWrite for GraphDirectory {
    async fn write(
        &mut self,
        writes: Vec<EntraOp>,
    ) -> Vec<Result<Option<CloudUser>, DirectoryError>> {
        writes.iter().map(|_| Err(unavailable())).collect()
    }
    async fn flush(&mut self) -> Result<(), DirectoryError> {
        Ok(())
    }
}
