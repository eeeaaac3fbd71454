//! Graph write emulation on the snapshot.
//!
//! Writes answer as Graph answers the same request (HTTP 400 `Request_BadRequest` with Graph's
//! message, as [`DirectoryError::Refused`]; 404 as [`DirectoryError::NotFound`]):
//! - Create (`POST /users`) needs `accountEnabled`, `displayName`, `mailNickname`,
//!   `passwordProfile` and `userPrincipalName`; refuses read-only properties, invalid UPNs
//!   and mail nicknames, and a `userPrincipalName`, `onPremisesImmutableId` or address that
//!   another user holds. It mints an `id`, defaults `userType` to `Member`, never stores
//!   `passwordProfile`, and — as Exchange Online does for a new mail user — sets
//!   `proxyAddresses` to `["SMTP:<mail>"]` when `mail` is given (`[]` otherwise).
//! - Update (`PATCH /users/{id | userPrincipalName}`) refuses read-only properties
//!   (`proxyAddresses` among them) and, on a user with `onPremisesSyncEnabled: true`, the
//!   properties Entra Connect masters ([`ON_PREMISES_MASTERED`]). Setting `mail` makes it the
//!   primary `SMTP:` proxy address, as Graph documents. `onPremisesImmutableId` may be set on a
//!   cloud-only user. `passwordProfile` is accepted and never stored.
//! - Delete (`DELETE /users/{id | userPrincipalName}`) removes the user.
//!
//! Each write in a call stands alone: a refused one does not stop the others.

use serde_json::{Map, Value};

use super::{EntraSnapshot, Index, Key, Origin, proxy_addresses};
use crate::directory::DirectoryError;
use crate::directory::model::{CloudUser, Guid};
use crate::names::{ProxyAddress, eq_ci};

/// Properties a Graph create must carry.
const REQUIRED_ON_CREATE: &[&str] = &[
    "accountEnabled",
    "displayName",
    "mailNickname",
    "passwordProfile",
    "userPrincipalName",
];

/// Properties Graph computes; a request that sets one is refused.
const READ_ONLY: &[&str] = &[
    "id",
    "proxyAddresses",
    "onPremisesSyncEnabled",
    "onPremisesLastSyncDateTime",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesUserPrincipalName",
    "onPremisesProvisioningErrors",
    "createdDateTime",
    "deletedDateTime",
    "creationType",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "imAddresses",
    "securityIdentifier",
    "signInSessionsValidFromDateTime",
    "lastPasswordChangeDateTime",
    "assignedLicenses",
    "assignedPlans",
    "provisionedPlans",
    "licenseAssignmentStates",
    // Read-only on Graph's user resource as the emulator has them (tests/contract_entra.rs).
    "signInActivity",
    "legalAgeGroupClassification",
];

/// Properties Entra Connect synchronises from AD: Graph refuses to update them on a user with
/// `onPremisesSyncEnabled: true` (without password writeback, `passwordProfile` too).
pub const ON_PREMISES_MASTERED: &[&str] = &[
    "accountEnabled",
    "businessPhones",
    "city",
    "companyName",
    "country",
    "department",
    "displayName",
    "employeeHireDate",
    "employeeId",
    "employeeOrgData",
    "employeeType",
    "faxNumber",
    "givenName",
    "jobTitle",
    "mail",
    "mailNickname",
    "mobilePhone",
    "officeLocation",
    "onPremisesExtensionAttributes",
    "onPremisesImmutableId",
    "passwordProfile",
    "postalCode",
    "preferredLanguage",
    "showInAddressList",
    "state",
    "streetAddress",
    "surname",
    "userPrincipalName",
];

/// Graph's message for an update of a property Entra Connect masters.
pub const SYNCED_OBJECT_MESSAGE: &str = "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.";

/// Typed `CloudUser` fields and the JSON type each must have (all nullable but `id` and
/// `userPrincipalName`).
const STRINGS: &[&str] = &[
    "mail",
    "mailNickname",
    "onPremisesImmutableId",
    "userType",
    "displayName",
];
const BOOLS: &[&str] = &["accountEnabled", "onPremisesSyncEnabled"];

impl EntraSnapshot {
    pub(super) fn create(&mut self, body: Map<String, Value>) -> Result<CloudUser, DirectoryError> {
        let object = body
            .get("userPrincipalName")
            .and_then(Value::as_str)
            .unwrap_or("(new user)")
            .to_owned();
        reject_read_only(&object, &body)?;
        for &name in REQUIRED_ON_CREATE {
            let present = match body.get(name) {
                None | Some(Value::Null) => false,
                Some(Value::String(s)) => !s.is_empty(),
                Some(_) => true,
            };
            if !present {
                return Err(bad_request(
                    &object,
                    format!("Property {name} value is required but is empty or missing."),
                ));
            }
        }
        self.validate(&object, &body, None)?;

        let mut id = Guid::new_random().to_string();
        while self.index.holder(Key::Id, &id, None).is_some() {
            id = Guid::new_random().to_string();
        }
        let mut user = Map::new();
        user.insert("id".into(), Value::String(id));
        for (name, value) in body {
            if name != "passwordProfile" && !name.starts_with("@odata.") {
                user.insert(name, value);
            }
        }
        if !user.contains_key("userType") {
            user.insert("userType".into(), Value::String("Member".into()));
        }
        let proxies: Vec<Value> = user
            .get("mail")
            .and_then(Value::as_str)
            .map(|mail| Value::String(format!("SMTP:{mail}")))
            .into_iter()
            .collect();
        user.insert("proxyAddresses".into(), Value::Array(proxies));
        // Graph answers a `$select` with null for what a new user lacks: the new user carries
        // every property the export's users do (absent would read as "not read").
        let columns = self.columns.get_or_init(|| {
            let mut names: std::collections::BTreeSet<&str> = Default::default();
            for u in &self.users {
                names.extend(u.keys().map(String::as_str));
            }
            (names.into_iter())
                .filter(|n| !n.starts_with("@odata.") && *n != "passwordProfile")
                .map(str::to_owned)
                .collect()
        });
        for name in columns {
            if !user.contains_key(name) {
                user.insert(name.clone(), Value::Null);
            }
        }

        let cloud = self.convert(&user)?;
        self.index.add(&user, self.users.len());
        self.users.push(user);
        self.origins.push(Origin::Created);
        self.dirty = true;
        Ok(cloud)
    }

    pub(super) fn update(
        &mut self,
        key: &str,
        patch: Map<String, Value>,
    ) -> Result<CloudUser, DirectoryError> {
        let i = self.find(key).ok_or_else(|| DirectoryError::NotFound {
            object: key.to_owned(),
        })?;
        let object = self.users[i]
            .get("userPrincipalName")
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_owned();
        reject_read_only(&object, &patch)?;
        let synced = self.users[i].get("onPremisesSyncEnabled") == Some(&Value::Bool(true));
        if synced
            && patch
                .keys()
                .any(|k| ON_PREMISES_MASTERED.contains(&k.as_str()))
        {
            return Err(bad_request(&object, SYNCED_OBJECT_MESSAGE.into()));
        }
        if matches!(patch.get("displayName"), Some(Value::Null)) {
            return Err(invalid_value(&object, "displayName"));
        }
        self.validate(&object, &patch, Some(i))?;

        let mut user = self.users[i].clone();
        for (name, value) in patch {
            if name == "mail" {
                set_primary_smtp(&mut user, value.as_str());
            }
            if name != "passwordProfile" && !name.starts_with("@odata.") {
                user.insert(name, value);
            }
        }
        let cloud = self.convert(&user)?;
        self.index.remove(&self.users[i], i);
        self.index.add(&user, i);
        self.users[i] = user;
        if let Origin::Read { changed, .. } = &mut self.origins[i] {
            *changed = true;
        }
        self.dirty = true;
        Ok(cloud)
    }

    pub(super) fn delete(&mut self, key: &str) -> Result<(), DirectoryError> {
        let i = self.find(key).ok_or_else(|| DirectoryError::NotFound {
            object: key.to_owned(),
        })?;
        self.users.remove(i);
        self.origins.remove(i);
        self.index = Index::build(&self.users);
        self.dirty = true;
        Ok(())
    }

    /// Graph's value checks on a create body or a patch (`me`: the user being updated).
    fn validate(
        &self,
        object: &str,
        body: &Map<String, Value>,
        me: Option<usize>,
    ) -> Result<(), DirectoryError> {
        for (name, value) in body {
            let name = name.as_str();
            let ok = if STRINGS.contains(&name) {
                value.is_string() || (value.is_null() && name != "displayName")
            } else if BOOLS.contains(&name) {
                value.is_boolean()
            } else if name == "userPrincipalName" {
                value.as_str().is_some_and(valid_upn)
            } else {
                true
            };
            if !ok {
                return Err(invalid_value(object, name));
            }
        }
        let text = |name: &str| body.get(name).and_then(Value::as_str);
        if let Some(upn) = text("userPrincipalName")
            && self.index.holder(Key::Upn, upn, me).is_some()
        {
            return Err(conflict(object, "userPrincipalName"));
        }
        if text("mailNickname").is_some_and(|n| !valid_mail_nickname(n)) {
            return Err(invalid_value(object, "mailNickname"));
        }
        if let Some(immutable_id) = text("onPremisesImmutableId") {
            if immutable_id.contains(['$', '_']) {
                return Err(invalid_value(object, "onPremisesImmutableId"));
            }
            if self
                .index
                .holder(Key::ImmutableId, immutable_id, me)
                .is_some()
            {
                return Err(conflict(object, "onPremisesImmutableId"));
            }
        }
        if let Some(mail) = text("mail")
            && self.index.holder(Key::Address, mail, me).is_some()
        {
            return Err(conflict(object, "proxyAddresses"));
        }
        Ok(())
    }
}

fn bad_request(object: &str, message: String) -> DirectoryError {
    DirectoryError::Refused {
        object: object.to_owned(),
        message,
        code: Some("Request_BadRequest".into()),
    }
}

fn invalid_value(object: &str, property: &str) -> DirectoryError {
    bad_request(
        object,
        format!("Invalid value specified for property '{property}' of resource 'User'."),
    )
}

fn conflict(object: &str, property: &str) -> DirectoryError {
    bad_request(
        object,
        format!("Another object with the same value for property {property} already exists."),
    )
}

fn reject_read_only(object: &str, body: &Map<String, Value>) -> Result<(), DirectoryError> {
    match body.keys().find(|k| READ_ONLY.contains(&k.as_str())) {
        Some(name) => Err(bad_request(
            object,
            format!("Property '{name}' is read-only and cannot be set."),
        )),
        None => Ok(()),
    }
}

/// `alias@domain`, with the characters Graph allows in the alias (no accents, no spaces).
fn valid_upn(upn: &str) -> bool {
    let Some((alias, domain)) = upn.split_once('@') else {
        return false;
    };
    let alias_ok = !alias.is_empty()
        && !alias.starts_with('.')
        && !alias.ends_with('.')
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c));
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    alias_ok && domain_ok
}

/// Graph refuses these characters in `mailNickname`.
fn valid_mail_nickname(nickname: &str) -> bool {
    !nickname.is_empty()
        && nickname.len() <= 64
        && !nickname
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "@()\\[]\";:<>,".contains(c))
}

/// Graph: setting `mail` adds it to `proxyAddresses` as the primary SMTP address.
fn set_primary_smtp(user: &mut Map<String, Value>, mail: Option<&str>) {
    let Some(mail) = mail else {
        return;
    };
    let mut proxies: Vec<String> = proxy_addresses(user)
        .into_iter()
        .map(|v| match ProxyAddress::parse(&v) {
            Some(p) if p.is_primary_smtp() => format!("smtp:{}", p.address),
            _ => v,
        })
        .filter(|v| !ProxyAddress::parse(v).is_some_and(|p| p.is_smtp() && eq_ci(p.address, mail)))
        .collect();
    proxies.insert(0, format!("SMTP:{mail}"));
    user.insert(
        "proxyAddresses".into(),
        Value::Array(proxies.into_iter().map(Value::String).collect()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upn_and_nickname_rules() {
        assert!(valid_upn("adam.anderson@example.com"));
        assert!(valid_upn("o'neil_x-y!#^~@sub.example.com"));
        assert!(!valid_upn("adam@localhost"));
        assert!(!valid_upn("ädam@example.com"));
        assert!(!valid_upn("adam@@example.com"));
        assert!(!valid_upn(".adam@example.com"));
        assert!(valid_mail_nickname("adam.anderson"));
        assert!(!valid_mail_nickname("adam anderson"));
        assert!(!valid_mail_nickname("a@b"));
    }
}
