//! Graph write emulation on the snapshot.
//!
//! Writes answer as Graph answers the same request: the rules are the `graph-rules` crate's,
//! the ones the Graph emulator applies too (HTTP 400 `Request_BadRequest` with Graph's message,
//! as [`DirectoryError::Refused`]; 404 as [`DirectoryError::NotFound`]):
//! - Create (`POST /users`) needs `accountEnabled`, `displayName`, `mailNickname`,
//!   `passwordProfile` (with a password) and `userPrincipalName`; refuses unknown and read-only
//!   properties, invalid values (UPNs, mail nicknames, …), and a `userPrincipalName`,
//!   `onPremisesImmutableId` or address that another user holds. It mints an `id`, defaults
//!   `userType` to `Member`, never stores `passwordProfile`, and — as Exchange Online does for a
//!   new mail user — sets `proxyAddresses` to `["SMTP:<mail>"]` when `mail` is given (`[]`
//!   otherwise: the snapshot writes what it knows, absent would read as unknown).
//! - Update (`PATCH /users/{id | userPrincipalName}`) refuses read-only properties
//!   (`proxyAddresses` among them) and, on a user with `onPremisesSyncEnabled: true`, the
//!   properties Entra Connect masters. Setting `mail` makes it the primary `SMTP:` proxy
//!   address. `onPremisesImmutableId` may be set on a cloud-only user. `passwordProfile` is
//!   accepted and never stored.
//! - Delete (`DELETE /users/{id | userPrincipalName}`) removes the user.
//!
//! Property names are taken in Graph's spelling whatever their case, as Graph reads them.
//! Each write in a call stands alone: a refused one does not stop the others.

use graph_rules::GraphError;
use graph_rules::write::{self as rules, Unique};
use serde_json::{Map, Value};

use super::{EntraSnapshot, Key, Origin, Slot};
use crate::directory::DirectoryError;
use crate::directory::model::{CloudUser, Guid};

impl EntraSnapshot {
    pub(super) fn create(&mut self, body: Map<String, Value>) -> Result<CloudUser, DirectoryError> {
        let object = body
            .get("userPrincipalName")
            .and_then(Value::as_str)
            .unwrap_or("(new user)")
            .to_owned();
        let refused = |e| refused(&object, e);
        let body = rules::canonical_body(body).map_err(refused)?;
        rules::check_create(&body).map_err(refused)?;
        self.check_unique(&body, None).map_err(refused)?;

        let mut id = Guid::new_random().to_string();
        while self.index().holder(Key::Id, &id, None).is_some() {
            id = Guid::new_random().to_string();
        }
        let mut user = Map::new();
        user.insert("id".into(), Value::String(id));
        for (name, value) in body {
            if name != "passwordProfile" {
                user.insert(name, value);
            }
        }
        if !user.contains_key("userType") {
            user.insert("userType".into(), Value::String("Member".into()));
        }
        let proxies = match user.get("mail").and_then(Value::as_str) {
            Some(mail) => rules::primary_smtp([], mail),
            None => Vec::new(),
        };
        user.insert("proxyAddresses".into(), strings(proxies));
        // Graph answers a `$select` with null for what a new user lacks: the new user carries
        // every property the export's users do (absent would read as "not read").
        let columns = self.columns.get_or_init(|| {
            let mut names: std::collections::BTreeSet<String> = Default::default();
            for i in 0..self.users.len() {
                for name in self.object(i).keys() {
                    if !names.contains(name) {
                        names.insert(name.clone());
                    }
                }
            }
            (names.into_iter())
                .filter(|n| !n.starts_with("@odata.") && n != "passwordProfile")
                .collect()
        });
        for name in columns {
            if !user.contains_key(name) {
                user.insert(name.clone(), Value::Null);
            }
        }

        let cloud = self.convert(&user)?;
        let at = self.users.len();
        self.index_mut().add(&user, at);
        self.users.push(Slot::Owned(user));
        self.origins.push(Origin::Created);
        self.touched();
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
        let before = self.object(i).into_owned();
        let object = before
            .get("userPrincipalName")
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_owned();
        let refused = |e| refused(&object, e);
        let patch = rules::canonical_body(patch).map_err(refused)?;
        let synced = before.get("onPremisesSyncEnabled") == Some(&Value::Bool(true));
        rules::check_update(&patch, synced).map_err(refused)?;
        self.check_unique(&patch, Some(i)).map_err(refused)?;

        let mut user = before.clone();
        for (name, value) in patch {
            if name == "mail"
                && let Some(mail) = value.as_str()
            {
                let proxies = match user.get("proxyAddresses") {
                    Some(Value::Array(a)) => {
                        rules::primary_smtp(a.iter().filter_map(Value::as_str), mail)
                    }
                    _ => rules::primary_smtp([], mail),
                };
                user.insert("proxyAddresses".into(), strings(proxies));
            }
            if name != "passwordProfile" {
                user.insert(name, value);
            }
        }
        let cloud = self.convert(&user)?;
        self.index_mut().remove(&before, i);
        self.index_mut().add(&user, i);
        self.users[i] = Slot::Owned(user);
        if let Origin::Read { changed, .. } = &mut self.origins[i] {
            *changed = true;
        }
        self.touched();
        Ok(cloud)
    }

    pub(super) fn delete(&mut self, key: &str) -> Result<(), DirectoryError> {
        let i = self.find(key).ok_or_else(|| DirectoryError::NotFound {
            object: key.to_owned(),
        })?;
        let user = self.object(i).into_owned();
        let id = user.get("id").and_then(Value::as_str).map(str::to_owned);
        self.users.remove(i);
        self.release_units(&user);
        self.origins.remove(i);
        if !self.index_mut().delete(&user, i) {
            // Built again at the next use, from the users as they are then.
            self.index.take();
        }
        self.touched();
        if let Some(id) = id {
            self.forget_member(&id);
        }
        Ok(())
    }

    /// Graph's uniqueness rule on a create body or a patch (`me`: the user being updated).
    fn check_unique(&self, body: &Map<String, Value>, me: Option<usize>) -> Result<(), GraphError> {
        match rules::unique_values(body)
            .into_iter()
            .find(|&(which, value)| self.index().holder(Key::of(which), value, me).is_some())
        {
            Some((which, _)) => Err(GraphError::conflict(which.as_str())),
            None => Ok(()),
        }
    }
}

impl Key {
    pub(super) fn of(which: Unique) -> Key {
        match which {
            Unique::UserPrincipalName => Key::Upn,
            Unique::OnPremisesImmutableId => Key::ImmutableId,
            Unique::ProxyAddresses => Key::Address,
        }
    }
}

/// Graph's refusal as the directory error the engine reports (code and message kept).
fn refused(object: &str, e: GraphError) -> DirectoryError {
    DirectoryError::Refused {
        object: object.to_owned(),
        message: e.message,
        code: Some(e.code),
    }
}

fn strings(values: Vec<String>) -> Value {
    Value::Array(values.into_iter().map(Value::String).collect())
}
