//! The Entra snapshot: a Microsoft Graph `GET /v1.0/users` answer (`{"value":[…]}` with its
//! `@odata.*` members, or a bare array), read and written back in the same shape.
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

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::{SnapshotError, SnapshotFile, line_col};
use crate::directory::model::{CloudUser, Guid};
use crate::directory::{DirectoryError, EntraOp, EntraRead, EntraWrite};
use crate::names::{ProxyAddress, eq_ci, fold};

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

/// Where the users array sits in the document.
#[derive(Debug)]
enum Shape {
    /// `{"@odata.context": …, "value": [ … ]}`: the other members, in order; `value` is held
    /// as `null` while the users live in `users`.
    Wrapped(Map<String, Value>),
    /// `[ … ]`.
    Bare,
}

/// A Graph users export standing in for an Entra ID tenant.
#[derive(Debug)]
pub struct EntraSnapshot {
    file: SnapshotFile,
    shape: Shape,
    users: Vec<Map<String, Value>>,
    index: Index,
    dirty: bool,
}

/// Folded unique keys to user positions.
#[derive(Debug, Default)]
struct Index {
    by_id: HashMap<String, usize>,
    by_upn: HashMap<String, usize>,
    by_immutable_id: HashMap<String, usize>,
    /// Every SMTP address (`mail` and `smtp:` proxy addresses).
    by_address: HashMap<String, usize>,
}

impl Index {
    fn build(users: &[Map<String, Value>]) -> Index {
        let mut index = Index::default();
        for (i, user) in users.iter().enumerate() {
            index.add(user, i);
        }
        index
    }

    fn keys(user: &Map<String, Value>) -> Vec<(Key, String)> {
        let mut keys = Vec::new();
        let text = |k: &str| user.get(k).and_then(Value::as_str).map(fold);
        if let Some(v) = text("id") {
            keys.push((Key::Id, v));
        }
        if let Some(v) = text("userPrincipalName") {
            keys.push((Key::Upn, v));
        }
        if let Some(v) = text("onPremisesImmutableId") {
            keys.push((Key::ImmutableId, v));
        }
        for address in addresses(user) {
            keys.push((Key::Address, fold(&address)));
        }
        keys
    }

    fn map(&mut self, key: Key) -> &mut HashMap<String, usize> {
        match key {
            Key::Id => &mut self.by_id,
            Key::Upn => &mut self.by_upn,
            Key::ImmutableId => &mut self.by_immutable_id,
            Key::Address => &mut self.by_address,
        }
    }

    fn add(&mut self, user: &Map<String, Value>, i: usize) {
        for (key, value) in Self::keys(user) {
            self.map(key).entry(value).or_insert(i);
        }
    }

    fn remove(&mut self, user: &Map<String, Value>, i: usize) {
        for (key, value) in Self::keys(user) {
            let map = self.map(key);
            if map.get(&value) == Some(&i) {
                map.remove(&value);
            }
        }
    }

    /// Another user than `me` holding the value.
    fn holder(&self, key: Key, value: &str, me: Option<usize>) -> Option<usize> {
        let map = match key {
            Key::Id => &self.by_id,
            Key::Upn => &self.by_upn,
            Key::ImmutableId => &self.by_immutable_id,
            Key::Address => &self.by_address,
        };
        map.get(&fold(value)).copied().filter(|&i| Some(i) != me)
    }
}

#[derive(Debug, Clone, Copy)]
enum Key {
    Id,
    Upn,
    ImmutableId,
    Address,
}

/// The SMTP addresses a user holds: `mail` and every `smtp:`/`SMTP:` proxy address.
fn addresses(user: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = user
        .get("mail")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .into_iter()
        .collect();
    for value in proxy_addresses(user) {
        if let Some(p) = ProxyAddress::parse(&value).filter(ProxyAddress::is_smtp) {
            out.push(p.address.to_owned());
        }
    }
    out
}

fn proxy_addresses(user: &Map<String, Value>) -> Vec<String> {
    user.get("proxyAddresses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl EntraSnapshot {
    /// Reads and checks a Graph users export (a snapshot folder: its `users.json`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SnapshotError> {
        let path = &super::export::entra_users_file(path.as_ref());
        let (file, bytes) = SnapshotFile::read(path)?;
        let doc: Value = serde_json::from_slice(&bytes).map_err(|e| SnapshotError::Json {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
        })?;
        let shape_error = |message: &str| SnapshotError::Json {
            path: path.to_owned(),
            line: 1,
            column: 1,
            message: message.to_owned(),
        };
        let (shape, items) = match doc {
            Value::Array(items) => (Shape::Bare, items),
            Value::Object(mut top) => match top.get_mut("value").map(Value::take) {
                Some(Value::Array(items)) => (Shape::Wrapped(top), items),
                _ => {
                    return Err(shape_error(
                        "expected a Graph users answer: {\"value\": [ … ]} or a bare array of users",
                    ));
                }
            },
            _ => {
                return Err(shape_error(
                    "expected a Graph users answer: {\"value\": [ … ]} or a bare array of users",
                ));
            }
        };
        let wrapped = matches!(shape, Shape::Wrapped(_));
        let user_error = |index: usize, message: String| {
            let offset = element_offsets(&bytes, wrapped)
                .get(index)
                .copied()
                .unwrap_or(0);
            let (line, column) = line_col(&bytes, offset);
            SnapshotError::User {
                path: path.to_owned(),
                line,
                column,
                message: format!("user #{}: {message}", index + 1),
            }
        };
        let mut users = Vec::with_capacity(items.len());
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.into_iter().enumerate() {
            let Value::Object(user) = item else {
                return Err(user_error(i, "expected a JSON object".into()));
            };
            let cloud = CloudUser::from_graph(&user).map_err(|m| user_error(i, m))?;
            if let Some(first) = ids.insert(fold(cloud.id()), i) {
                return Err(user_error(
                    i,
                    format!("duplicate id {} (also user #{})", cloud.id(), first + 1),
                ));
            }
            users.push(user);
        }
        Ok(EntraSnapshot {
            file,
            shape,
            index: Index::build(&users),
            users,
            dirty: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Whether there are writes not yet flushed.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Every user (a snapshot holds what it holds, whatever `$select` asked).
    pub fn users(&self) -> Result<Vec<CloudUser>, DirectoryError> {
        self.users.iter().map(|u| self.convert(u)).collect()
    }

    /// One user by object id (or userPrincipalName, as Graph's `/users/{id}` accepts).
    pub fn user(&self, key: &str) -> Result<Option<CloudUser>, DirectoryError> {
        self.find(key)
            .map(|i| self.convert(&self.users[i]))
            .transpose()
    }

    fn convert(&self, user: &Map<String, Value>) -> Result<CloudUser, DirectoryError> {
        CloudUser::from_graph(user).map_err(|message| {
            DirectoryError::Other(format!("{}: {message}", self.file.path.display()))
        })
    }

    fn find(&self, key: &str) -> Option<usize> {
        self.index
            .holder(Key::Id, key, None)
            .or_else(|| self.index.holder(Key::Upn, key, None))
    }

    /// Applies one write as Graph would.
    pub fn apply(&mut self, op: EntraOp) -> Result<Option<CloudUser>, DirectoryError> {
        match op {
            EntraOp::Create(body) => self.create(body).map(Some),
            EntraOp::Update { id, patch } => self.update(&id, patch).map(Some),
            EntraOp::Delete { id } => self.delete(&id).map(|()| None),
        }
    }

    fn create(&mut self, body: Map<String, Value>) -> Result<CloudUser, DirectoryError> {
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

        let cloud = self.convert(&user)?;
        self.index.add(&user, self.users.len());
        self.users.push(user);
        self.dirty = true;
        Ok(cloud)
    }

    fn update(
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
        self.dirty = true;
        Ok(cloud)
    }

    fn delete(&mut self, key: &str) -> Result<(), DirectoryError> {
        let i = self.find(key).ok_or_else(|| DirectoryError::NotFound {
            object: key.to_owned(),
        })?;
        self.users.remove(i);
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

    /// Rewrites the file atomically if anything changed (same shape, two-space indentation,
    /// final newline); otherwise writes nothing.
    pub fn save(&mut self) -> Result<(), SnapshotError> {
        if !self.dirty {
            return Ok(());
        }
        let bytes = self.render();
        self.file.replace(&bytes)?;
        self.dirty = false;
        Ok(())
    }

    fn render(&self) -> Vec<u8> {
        let users = Value::Array(self.users.iter().cloned().map(Value::Object).collect());
        let doc = match &self.shape {
            Shape::Bare => users,
            Shape::Wrapped(top) => {
                let mut top = top.clone();
                top.insert("value".into(), users);
                Value::Object(top)
            }
        };
        // Serialising a `Value` cannot fail.
        let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

impl EntraRead for EntraSnapshot {
    async fn read_users(&mut self, _select: &[String]) -> Result<Vec<CloudUser>, DirectoryError> {
        self.users()
    }

    async fn read_user(&mut self, id: &str) -> Result<Option<CloudUser>, DirectoryError> {
        self.user(id)
    }
}

impl EntraWrite for EntraSnapshot {
    async fn write(
        &mut self,
        writes: Vec<EntraOp>,
    ) -> Vec<Result<Option<CloudUser>, DirectoryError>> {
        writes.into_iter().map(|op| self.apply(op)).collect()
    }

    async fn flush(&mut self) -> Result<(), DirectoryError> {
        Ok(self.save()?)
    }
}

// --- Graph's answers --------------------------------------------------------------------------

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

/// Byte offsets of the elements of the users array (for error locations). The text is valid
/// JSON (serde_json read it); anything unexpected just ends the scan.
fn element_offsets(text: &[u8], wrapped: bool) -> Vec<usize> {
    let mut scan = Scan { b: text, i: 0 };
    scan.ws();
    if !wrapped {
        return scan.array_elements().unwrap_or_default();
    }
    scan.users_in_object().unwrap_or_default()
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    /// At `"`: skips the string, returns its raw content.
    fn string(&mut self) -> Option<&[u8]> {
        let start = self.i + 1;
        self.i += 1;
        loop {
            match self.peek()? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return self.b.get(start..self.i - 1);
                }
                _ => self.i += 1,
            }
        }
    }

    fn value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.string()?;
            }
            b'[' | b'{' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'[' | b'{' => depth += 1,
                        b']' | b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, b',' | b']' | b'}') && !c.is_ascii_whitespace())
                {
                    self.i += 1;
                }
            }
        }
        Some(())
    }

    /// At `[`: the offsets of its elements.
    fn array_elements(&mut self) -> Option<Vec<usize>> {
        let mut offsets = Vec::new();
        self.i += 1;
        loop {
            self.ws();
            match self.peek()? {
                b']' => return Some(offsets),
                b',' => self.i += 1,
                _ => {
                    offsets.push(self.i);
                    self.value()?;
                }
            }
        }
    }

    /// At `{`: the element offsets of its (last) `value` member.
    fn users_in_object(&mut self) -> Option<Vec<usize>> {
        let mut found = None;
        self.i += 1;
        loop {
            self.ws();
            match self.peek()? {
                b'}' => return found,
                b',' => self.i += 1,
                b'"' => {
                    let is_value = self.string()? == b"value";
                    self.ws();
                    self.i += 1; // ':'
                    self.ws();
                    if is_value && self.peek() == Some(b'[') {
                        found = Some(self.array_elements()?);
                        self.i += 1; // ']'
                    } else {
                        self.value()?;
                    }
                }
                _ => return found,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fs;
    use std::path::PathBuf;

    /// `GET /v1.0/users?$select=id,userPrincipalName,mail,…` as Graph returns it, pretty-printed
    /// the way idsync writes files, with properties idsync does not know.
    const EXPORT: &str = r#"{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName,mail,mailNickname,proxyAddresses,onPremisesImmutableId,onPremisesSyncEnabled,accountEnabled,userType,displayName,usageLocation,onPremisesExtensionAttributes)",
  "value": [
    {
      "id": "4c2f9a52-3c43-4b6e-9a10-0d3b1a1e7c01",
      "userPrincipalName": "adam.anderson@example.com",
      "displayName": "Adam Anderson",
      "mail": "adam.anderson@example.com",
      "mailNickname": "adam.anderson",
      "proxyAddresses": [
        "SMTP:adam.anderson@example.com",
        "smtp:adam@example.onmicrosoft.com"
      ],
      "onPremisesImmutableId": "BpazOkLGm0iEtljAONPvOQ==",
      "onPremisesSyncEnabled": true,
      "accountEnabled": true,
      "userType": "Member",
      "usageLocation": "SE",
      "onPremisesExtensionAttributes": {
        "extensionAttribute1": "cost-center-17",
        "extensionAttribute2": null
      }
    },
    {
      "id": "9f1d2e3c-0000-4a5b-8c7d-112233445566",
      "userPrincipalName": "alva.wood@example.com",
      "displayName": "Alva Wood",
      "mail": "alva.wood@example.com",
      "mailNickname": "alva.wood",
      "proxyAddresses": [
        "SMTP:alva.wood@example.com"
      ],
      "onPremisesImmutableId": null,
      "onPremisesSyncEnabled": null,
      "accountEnabled": true,
      "userType": "Member",
      "usageLocation": null,
      "x-custom": [
        1,
        2.5,
        {
          "nested": "kept"
        }
      ]
    },
    {
      "id": "0b8d7c6e-1111-4f2a-9e3d-aabbccddeeff",
      "userPrincipalName": "guest_contoso.com#EXT#@example.onmicrosoft.com",
      "displayName": "Guest",
      "mail": "guest@contoso.com",
      "mailNickname": "guest_contoso.com#EXT#",
      "proxyAddresses": [],
      "accountEnabled": true,
      "userType": "Guest"
    }
  ],
  "@odata.nextLink": null
}
"#;

    const ADAM: &str = "4c2f9a52-3c43-4b6e-9a10-0d3b1a1e7c01";
    const ALVA: &str = "9f1d2e3c-0000-4a5b-8c7d-112233445566";

    fn write(content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entra.json");
        fs::write(&path, content).unwrap();
        (dir, path)
    }

    fn open(content: &str) -> (tempfile::TempDir, PathBuf, EntraSnapshot) {
        let (dir, path) = write(content);
        let snap = EntraSnapshot::open(&path).unwrap_or_else(|e| panic!("{e}"));
        (dir, path, snap)
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn new_user(upn: &str) -> Map<String, Value> {
        obj(json!({
            "accountEnabled": true,
            "displayName": "New User",
            "mailNickname": "new.user",
            "userPrincipalName": upn,
            "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}
        }))
    }

    fn refusal(r: Result<Option<CloudUser>, DirectoryError>) -> String {
        match r {
            Err(DirectoryError::Refused { message, code, .. }) => {
                assert_eq!(code.as_deref(), Some("Request_BadRequest"));
                message
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn reads_a_graph_export() {
        let (_d, _p, mut snap) = open(EXPORT);
        let users = snap.read_users(&[]).await.unwrap();
        assert_eq!(users.len(), 3);
        let adam = &users[0];
        assert_eq!(adam.id(), ADAM);
        assert_eq!(adam.upn(), "adam.anderson@example.com");
        assert_eq!(adam.mail(), Some("adam.anderson@example.com"));
        assert_eq!(adam.mail_nickname(), Some("adam.anderson"));
        assert_eq!(adam.proxy_addresses().count(), 2);
        assert_eq!(adam.immutable_id(), Some("BpazOkLGm0iEtljAONPvOQ=="));
        assert!(adam.sync_enabled);
        assert_eq!(adam.account_enabled, Some(true));
        assert_eq!(adam.user_type(), Some("Member"));
        assert_eq!(adam.text("displayName"), Some("Adam Anderson"));
        assert_eq!(
            adam.properties
                .value("onPremisesExtensionAttributes")
                .unwrap()["extensionAttribute1"],
            "cost-center-17"
        );
        assert!(!adam.properties.contains_key("onPremisesSyncEnabled"));
        assert!(adam.other_properties().all(|(k, _)| k != "mail"));
        assert!(!users[1].sync_enabled, "null means cloud-only");
        assert!(users[2].is_guest());
        // By id, by UPN (any case), missing.
        assert_eq!(
            snap.read_user(ALVA).await.unwrap().unwrap().upn(),
            "alva.wood@example.com"
        );
        assert_eq!(
            snap.read_user("ALVA.WOOD@example.com")
                .await
                .unwrap()
                .unwrap()
                .id(),
            ALVA
        );
        assert!(snap.read_user("nobody").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn bare_arrays_are_written_back_as_bare_arrays() {
        let bare = r#"[{"id":"1","userPrincipalName":"a@example.com","extra":{"b":2,"a":1}}]"#;
        let (_d, path, mut snap) = open(bare);
        assert_eq!(snap.read_users(&[]).await.unwrap().len(), 1);
        snap.flush().await.unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            bare,
            "nothing changed, nothing written"
        );
        let r = snap
            .write(vec![EntraOp::Update {
                id: "1".into(),
                patch: obj(json!({"jobTitle": "CTO"})),
            }])
            .await;
        assert!(r[0].is_ok());
        snap.flush().await.unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[\n  {\n    \"id\": \"1\",\n    \"userPrincipalName\": \"a@example.com\",\n    \"extra\": {\n      \"b\": 2,\n      \"a\": 1\n    },\n    \"jobTitle\": \"CTO\"\n  }\n]\n"
        );
    }

    #[test]
    fn open_errors_carry_file_line_and_column() {
        let cases = [
            (
                "{\n  \"value\": [\n    {\"id\": 1,}\n  ]\n}",
                "3:14: trailing comma",
            ),
            ("{\"value\": 3}", "1:1: expected a Graph users answer"),
            ("\"text\"", "1:1: expected a Graph users answer"),
            (
                "{\n  \"@odata.context\": \"x\",\n  \"value\": [\n    {\"id\": \"1\", \"userPrincipalName\": \"a@x.com\"},\n    {\"id\": \"2\"}\n  ]\n}",
                "5:5: user #2: no userPrincipalName",
            ),
            (
                "[\n  {\"userPrincipalName\": \"a@x.com\"}\n]",
                "2:3: user #1: no id",
            ),
            (
                "[\n  {\"id\": \"1\", \"userPrincipalName\": \"a@x.com\", \"accountEnabled\": \"yes\"}\n]",
                "2:3: user #1: accountEnabled must be true, false or null",
            ),
            (
                "[{\"id\": \"1\", \"userPrincipalName\": \"a@x.com\"}, {\"id\": \"1\", \"userPrincipalName\": \"b@x.com\"}]",
                "1:47: user #2: duplicate id 1",
            ),
            ("[1]", "1:2: user #1: expected a JSON object"),
            (
                "[{\"id\": \"1\", \"userPrincipalName\": \"a@x.com\", \"proxyAddresses\": [1]}]",
                "1:2: user #1: proxyAddresses must be an array of strings",
            ),
        ];
        for (content, expected) in cases {
            let (_d, path) = write(content);
            let err = EntraSnapshot::open(&path).unwrap_err();
            let expected = format!("{}:{expected}", path.display());
            assert!(
                err.to_string().starts_with(&expected),
                "{err}\nexpected {expected}"
            );
        }
    }

    #[tokio::test]
    async fn create_mints_an_id_and_never_stores_the_password() {
        let (_d, path, mut snap) = open(EXPORT);
        let mut body = new_user("new.user@example.com");
        body.insert("mail".into(), json!("new.user@example.com"));
        body.insert(
            "onPremisesImmutableId".into(),
            json!("AAECAwQFBgcICQoLDA0ODw=="),
        );
        let results = snap.write(vec![EntraOp::Create(body)]).await;
        let created = results.into_iter().next().unwrap().unwrap().unwrap();
        assert!(Guid::parse(created.id()).is_some(), "{}", created.id());
        assert_eq!(
            created.proxy_addresses().collect::<Vec<_>>(),
            ["SMTP:new.user@example.com"]
        );
        assert_eq!(created.user_type(), Some("Member"));
        assert_eq!(created.immutable_id(), Some("AAECAwQFBgcICQoLDA0ODw=="));
        snap.flush().await.unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("passwordProfile") && !text.contains("xWwvJ"),
            "{text}"
        );
        let mut again = EntraSnapshot::open(&path).unwrap();
        assert_eq!(again.read_user(created.id()).await.unwrap(), Some(created));

        let mut no_mail = new_user("plain@example.com");
        no_mail.insert("mailNickname".into(), json!("plain"));
        let plain = again.apply(EntraOp::Create(no_mail)).unwrap().unwrap();
        assert!(plain.proxy_addresses().next().is_none() && plain.mail().is_none());
    }

    #[tokio::test]
    async fn create_refusals_match_graph() {
        let (_d, _p, mut snap) = open(EXPORT);
        let mut missing = new_user("x@example.com");
        missing.remove("mailNickname");
        let mut empty_name = new_user("y@example.com");
        empty_name.insert("displayName".into(), json!(""));
        let mut no_password = new_user("z@example.com");
        no_password.remove("passwordProfile");
        let duplicate = new_user("ADAM.ANDERSON@example.com");
        let mut proxies = new_user("p@example.com");
        proxies.insert("proxyAddresses".into(), json!(["SMTP:p@example.com"]));
        let bad_upn = new_user("no spaces@example.com");
        let mut bad_nickname = new_user("n@example.com");
        bad_nickname.insert("mailNickname".into(), json!("naveen.mills,.jr."));
        let mut taken_mail = new_user("m@example.com");
        taken_mail.insert("mail".into(), json!("ADAM@example.onmicrosoft.com"));
        let mut taken_anchor = new_user("t@example.com");
        taken_anchor.insert(
            "onPremisesImmutableId".into(),
            json!("BpazOkLGm0iEtljAONPvOQ=="),
        );
        let fine = new_user("fine@example.com");
        let results = snap
            .write(vec![
                EntraOp::Create(missing),
                EntraOp::Create(empty_name),
                EntraOp::Create(no_password),
                EntraOp::Create(duplicate),
                EntraOp::Create(proxies),
                EntraOp::Create(bad_upn),
                EntraOp::Create(bad_nickname),
                EntraOp::Create(taken_mail),
                EntraOp::Create(taken_anchor),
                EntraOp::Create(fine),
            ])
            .await;
        let mut results = results.into_iter();
        let mut next = || refusal(results.next().unwrap());
        assert_eq!(
            next(),
            "Property mailNickname value is required but is empty or missing."
        );
        assert_eq!(
            next(),
            "Property displayName value is required but is empty or missing."
        );
        assert_eq!(
            next(),
            "Property passwordProfile value is required but is empty or missing."
        );
        assert_eq!(
            next(),
            "Another object with the same value for property userPrincipalName already exists."
        );
        assert_eq!(
            next(),
            "Property 'proxyAddresses' is read-only and cannot be set."
        );
        assert_eq!(
            next(),
            "Invalid value specified for property 'userPrincipalName' of resource 'User'."
        );
        assert_eq!(
            next(),
            "Invalid value specified for property 'mailNickname' of resource 'User'."
        );
        assert_eq!(
            next(),
            "Another object with the same value for property proxyAddresses already exists."
        );
        assert_eq!(
            next(),
            "Another object with the same value for property onPremisesImmutableId already exists."
        );
        // The refusals did not stop the last write.
        assert_eq!(snap.users().unwrap().len(), 4);
    }

    #[tokio::test]
    async fn update_follows_graph_rules() {
        let (_d, path, mut snap) = open(EXPORT);
        let patch = |v: Value| obj(v);
        let results = snap
            .write(vec![
                // Synced user: mastered properties refused, cloud-owned ones allowed.
                EntraOp::Update { id: ADAM.into(), patch: patch(json!({"displayName": "Adam A."})) },
                EntraOp::Update { id: ADAM.into(), patch: patch(json!({"usageLocation": "NO", "jobTitle": "ignored"})) },
                EntraOp::Update { id: ADAM.into(), patch: patch(json!({"usageLocation": "NO"})) },
                EntraOp::Update { id: ADAM.into(), patch: patch(json!({"onPremisesImmutableId": "x"})) },
                // Read-only everywhere.
                EntraOp::Update { id: ALVA.into(), patch: patch(json!({"proxyAddresses": ["SMTP:a@b.c"]})) },
                // Cloud-only user: link (hard-match preparation) and attribute updates.
                EntraOp::Update {
                    id: "Alva.Wood@example.com".into(),
                    patch: patch(json!({"onPremisesImmutableId": "8H0wvuQv+ke4sD8GxtSboA==", "jobTitle": "Engineer", "passwordProfile": {"password": "p"}})),
                },
                EntraOp::Update { id: ALVA.into(), patch: patch(json!({"userPrincipalName": "adam.anderson@EXAMPLE.com"})) },
                EntraOp::Update { id: ALVA.into(), patch: patch(json!({"onPremisesImmutableId": "BpazOkLGm0iEtljAONPvOQ=="})) },
                EntraOp::Update { id: ALVA.into(), patch: patch(json!({"displayName": null})) },
                EntraOp::Update { id: ALVA.into(), patch: patch(json!({"accountEnabled": "no"})) },
                EntraOp::Update { id: "missing".into(), patch: patch(json!({"jobTitle": "x"})) },
            ])
            .await;
        let mut results = results.into_iter();
        let mut next = || results.next().unwrap();
        assert_eq!(refusal(next()), SYNCED_OBJECT_MESSAGE);
        assert_eq!(
            refusal(next()),
            SYNCED_OBJECT_MESSAGE,
            "jobTitle is mastered; the whole patch fails"
        );
        assert_eq!(
            next().unwrap().unwrap().properties.text("usageLocation"),
            Some("NO")
        );
        assert_eq!(refusal(next()), SYNCED_OBJECT_MESSAGE);
        assert_eq!(
            refusal(next()),
            "Property 'proxyAddresses' is read-only and cannot be set."
        );
        let alva = next().unwrap().unwrap();
        assert_eq!(alva.immutable_id(), Some("8H0wvuQv+ke4sD8GxtSboA=="));
        assert_eq!(alva.text("jobTitle"), Some("Engineer"));
        assert_eq!(
            refusal(next()),
            "Another object with the same value for property userPrincipalName already exists."
        );
        assert_eq!(
            refusal(next()),
            "Another object with the same value for property onPremisesImmutableId already exists."
        );
        assert_eq!(
            refusal(next()),
            "Invalid value specified for property 'displayName' of resource 'User'."
        );
        assert_eq!(
            refusal(next()),
            "Invalid value specified for property 'accountEnabled' of resource 'User'."
        );
        assert!(matches!(next(), Err(DirectoryError::NotFound { .. })));

        snap.flush().await.unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("\"password\""));
        let again = EntraSnapshot::open(&path).unwrap();
        assert_eq!(again.users().unwrap(), snap.users().unwrap());
    }

    #[tokio::test]
    async fn setting_mail_makes_it_the_primary_smtp_address() {
        let (_d, _p, mut snap) = open(EXPORT);
        let alva = snap
            .apply(EntraOp::Update {
                id: ALVA.into(),
                patch: obj(json!({"mail": "alva@example.com"})),
            })
            .unwrap()
            .unwrap();
        assert_eq!(alva.mail(), Some("alva@example.com"));
        assert_eq!(
            alva.proxy_addresses().collect::<Vec<_>>(),
            ["SMTP:alva@example.com", "smtp:alva.wood@example.com"]
        );
        let back = snap
            .apply(EntraOp::Update {
                id: ALVA.into(),
                patch: obj(json!({"mail": "Alva.Wood@example.com"})),
            })
            .unwrap()
            .unwrap();
        assert_eq!(
            back.proxy_addresses().collect::<Vec<_>>(),
            ["SMTP:Alva.Wood@example.com", "smtp:alva@example.com"]
        );
        let e = snap.apply(EntraOp::Update {
            id: ALVA.into(),
            patch: obj(json!({"mail": "adam.anderson@example.com"})),
        });
        assert_eq!(
            refusal(e),
            "Another object with the same value for property proxyAddresses already exists."
        );
    }

    #[tokio::test]
    async fn delete_removes_and_flush_keeps_unknown_properties() {
        let (dir, path, mut snap) = open(EXPORT);
        let r = snap
            .write(vec![
                EntraOp::Delete {
                    id: "0b8d7c6e-1111-4f2a-9e3d-aabbccddeeff".into(),
                },
                EntraOp::Delete {
                    id: "0b8d7c6e-1111-4f2a-9e3d-aabbccddeeff".into(),
                },
            ])
            .await;
        assert!(matches!(r[0], Ok(None)));
        assert!(matches!(r[1], Err(DirectoryError::NotFound { .. })));
        snap.flush().await.unwrap();
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["entra.json"], "no temporary file left behind");
        // The written file is the export minus the deleted user, byte for byte: same member
        // order, unknown properties and annotations kept, two-space indentation, final newline.
        let start = EXPORT.find(",\n    {\n      \"id\": \"0b8d7c6e").unwrap();
        let end = EXPORT.find("\n  ],\n  \"@odata.nextLink\"").unwrap();
        let expected = format!("{}{}", &EXPORT[..start], &EXPORT[end..]);
        assert_eq!(fs::read_to_string(&path).unwrap(), expected);

        // A file changed by someone else since it was read is not overwritten.
        snap.apply(EntraOp::Delete { id: ALVA.into() }).unwrap();
        fs::write(&path, EXPORT).unwrap();
        assert!(matches!(
            snap.flush().await,
            Err(DirectoryError::Snapshot(SnapshotError::WriteRefused { .. }))
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), EXPORT);
    }

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
