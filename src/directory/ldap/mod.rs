//! Live Active Directory over LDAP. Not built yet: connecting says so.

use crate::desired::LdapConfig;
use crate::directory::{
    AdCreate, AdMod, AdQuery, AdRead, AdUser, AdWrite, DirectoryError, Dn, Guid, Taken, TakenQuery,
};

/// A connection to a domain controller.
pub struct LdapDirectory {
    url: String,
}

impl LdapDirectory {
    pub async fn connect(config: &LdapConfig) -> Result<Self, DirectoryError> {
        Err(DirectoryError::Other(format!(
            "live AD ({}) is not available in this build yet; plan against an LDIF export with --ad-snapshot",
            config.url
        )))
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

fn unavailable() -> DirectoryError {
    DirectoryError::Other("live AD is not available in this build yet".into())
}

impl AdRead for LdapDirectory {
    async fn read_users(&mut self, _: &AdQuery) -> Result<Vec<AdUser>, DirectoryError> {
        Err(unavailable())
    }
    async fn read_user(&mut self, _: &Guid) -> Result<Option<AdUser>, DirectoryError> {
        Err(unavailable())
    }
    async fn find_taken(&mut self, _: &TakenQuery) -> Result<Vec<Taken>, DirectoryError> {
        Err(unavailable())
    }
}

impl AdWrite for LdapDirectory {
    async fn create_user(&mut self, _: &AdCreate) -> Result<AdUser, DirectoryError> {
        Err(unavailable())
    }
    async fn modify_user(&mut self, _: &Dn, _: &[AdMod]) -> Result<(), DirectoryError> {
        Err(unavailable())
    }
    async fn move_user(&mut self, _: &Dn, _: &Dn) -> Result<(), DirectoryError> {
        Err(unavailable())
    }
    async fn delete_user(&mut self, _: &Dn) -> Result<(), DirectoryError> {
        Err(unavailable())
    }
    async fn flush(&mut self) -> Result<(), DirectoryError> {
        Ok(())
    }
}
