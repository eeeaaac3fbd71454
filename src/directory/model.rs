//! The object model both directories are read into: AD users and cloud (Entra) users.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use super::dn::Dn;
use crate::names::{AttrName, SamAccountName, SmtpAddress, Upn, primary_smtp};

/// An AD objectGUID: the 16 raw bytes as AD stores them (first three fields little-endian).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Guid)
    }

    /// Parses the registry form `3ab39606-c642-489b-84b6-58c038d3ef39` (braces optional).
    pub fn parse(s: &str) -> Option<Self> {
        let hex: String = s
            .trim_matches(|c| c == '{' || c == '}')
            .chars()
            .filter(|&c| c != '-')
            .collect();
        if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let mut be = [0u8; 16];
        for (i, b) in be.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        let mut raw = be;
        raw[0..4].reverse();
        raw[4..6].reverse();
        raw[6..8].reverse();
        Some(Guid(raw))
    }

    /// base64 of the raw bytes: the value Entra stores as `onPremisesImmutableId`.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// A random version-4 GUID, for objects created in snapshot files.
    pub fn new_random() -> Self {
        let mut bytes: [u8; 16] = rand::random();
        bytes[7] = (bytes[7] & 0x0f) | 0x40; // version 4 (byte 7 is the high byte of field 3, LE)
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Guid(bytes)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            b[3],
            b[2],
            b[1],
            b[0],
            b[5],
            b[4],
            b[7],
            b[6],
            b[8],
            b[9],
            b[10],
            b[11],
            b[12],
            b[13],
            b[14],
            b[15]
        )
    }
}
impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

/// userAccountControl bit: the account is disabled.
pub const UAC_ACCOUNTDISABLE: u32 = 0x2;
/// userAccountControl for a normal, enabled account.
pub const UAC_NORMAL_ACCOUNT: u32 = 0x200;

/// A user object read from Active Directory.
#[derive(Clone, Debug, PartialEq)]
pub struct AdUser {
    pub dn: Dn,
    pub object_guid: Guid,
    pub consistency_guid: Option<Vec<u8>>,
    pub sam_account_name: Option<SamAccountName>,
    pub upn: Option<Upn>,
    pub mail: Option<String>,
    pub proxy_addresses: Vec<String>,
    pub user_account_control: Option<u32>,
    pub usn_changed: Option<u64>,
    /// idsync marks accounts it creates with `idsync:<entra object id>`.
    pub admin_description: Option<String>,
    /// Every other text attribute read (`displayName`, `sn`, `objectClass`, …).
    pub attributes: Attributes,
}

/// Text attributes of an AD object, as LDAP returns them: (name, value) pairs in order, a
/// multi-valued attribute once per value. Compact on purpose (a million users are read at
/// once): names are interned, and every value lives in one shared text buffer, so an object's
/// attributes cost two allocations however many there are.
#[derive(Clone, Default)]
pub struct Attributes {
    /// (name, start, end) of each value in `text`.
    entries: Vec<(AttrName, u32, u32)>,
    text: String,
}

impl Attributes {
    pub fn new() -> Self {
        Attributes::default()
    }

    fn value(&self, start: u32, end: u32) -> &str {
        &self.text[start as usize..end as usize]
    }

    /// The first value of `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _, _)| crate::names::eq_ci(k.as_str(), name))
            .map(|&(_, a, b)| self.value(a, b))
    }

    /// Every value of `name` (any case).
    pub fn values<'s, 'n>(&'s self, name: &'n str) -> impl Iterator<Item = &'s str> + use<'s, 'n> {
        self.entries
            .iter()
            .filter(move |(k, _, _)| crate::names::eq_ci(k.as_str(), name))
            .map(|&(_, a, b)| self.value(a, b))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Adds one value.
    pub fn push(&mut self, name: AttrName, value: impl AsRef<str>) {
        let start = self.text.len();
        self.text.push_str(value.as_ref());
        // Directory values are far below 4 GiB; the offsets keep an entry at 24 bytes.
        let (start, end) = (
            u32::try_from(start).unwrap_or(u32::MAX),
            u32::try_from(self.text.len()).unwrap_or(u32::MAX),
        );
        self.entries.push((name, start, end));
    }

    /// Sets the values of `name`, replacing any it had (in place of the first old value).
    pub fn insert(&mut self, name: AttrName, values: Vec<String>) {
        let at = self.entries.iter().position(|(k, _, _)| *k == name);
        let mut rebuilt = Attributes::default();
        let mut placed = false;
        for (i, (k, a, b)) in self.entries.iter().enumerate() {
            if Some(i) == at {
                for v in &values {
                    rebuilt.push(name, v);
                }
                placed = true;
            }
            if *k != name {
                rebuilt.push(*k, self.value(*a, *b));
            }
        }
        if !placed {
            for v in &values {
                rebuilt.push(name, v);
            }
        }
        *self = rebuilt;
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &str) {
        let mut rebuilt = Attributes::default();
        for (k, v) in self.iter() {
            if !crate::names::eq_ci(k.as_str(), name) {
                rebuilt.push(k, v);
            }
        }
        *self = rebuilt;
    }

    /// (name, value) pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (AttrName, &str)> + '_ {
        self.entries.iter().map(|&(k, a, b)| (k, self.value(a, b)))
    }

    /// Each name once, with all its values, in order of first appearance.
    pub fn grouped(&self) -> Vec<(AttrName, Vec<&str>)> {
        let mut out: Vec<(AttrName, Vec<&str>)> = Vec::new();
        for (k, v) in self.iter() {
            match out.iter_mut().find(|(n, _)| *n == k) {
                Some((_, vs)) => vs.push(v),
                None => out.push((k, vec![v])),
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Gives back spare capacity once an object is fully read.
    pub fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        self.text.shrink_to_fit();
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}
impl Eq for Attributes {}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl AdUser {
    /// A user with only the identifying parts set; handy for tests and creates.
    pub fn new(dn: Dn, object_guid: Guid) -> Self {
        Self {
            dn,
            object_guid,
            consistency_guid: None,
            sam_account_name: None,
            upn: None,
            mail: None,
            proxy_addresses: Vec::new(),
            user_account_control: None,
            usn_changed: None,
            admin_description: None,
            attributes: Attributes::new(),
        }
    }

    /// The first value of a text attribute, by LDAP name (any case).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.get(name)
    }

    pub fn primary_smtp(&self) -> Option<SmtpAddress> {
        primary_smtp(&self.proxy_addresses)
    }

    pub fn is_disabled(&self) -> bool {
        self.user_account_control
            .is_some_and(|uac| uac & UAC_ACCOUNTDISABLE != 0)
    }

    /// The entra object id in idsync's ownership marker, if idsync created this account.
    pub fn owner_marker(&self) -> Option<&str> {
        self.admin_description
            .as_deref()
            .and_then(|d| d.strip_prefix(OWNER_MARKER_PREFIX))
    }

    /// A short name for messages: sAMAccountName, else the DN.
    pub fn label(&self) -> String {
        match &self.sam_account_name {
            Some(sam) => format!("{sam} ({})", self.dn),
            None => self.dn.to_string(),
        }
    }
}

/// Prefix of the `adminDescription` value that marks accounts idsync created.
pub const OWNER_MARKER_PREFIX: &str = "idsync:";

/// Graph properties of a cloud user beyond the typed ones, sorted by name (any case).
///
/// Compact on purpose (a million users are read at once): text values (nearly all of them)
/// share one buffer; other JSON values (lists, objects, numbers) are kept as they are.
#[derive(Clone, Default)]
pub struct Properties {
    entries: Vec<(AttrName, Slot)>,
    text: String,
    other: Vec<serde_json::Value>,
}

#[derive(Clone, Copy)]
enum Slot {
    Text(u32, u32),
    Json(u32),
}

/// One property's value, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prop<'a> {
    Text(&'a str),
    Json(&'a serde_json::Value),
}

impl<'a> Prop<'a> {
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            Prop::Text(s) => Some(s),
            Prop::Json(v) => v.as_str(),
        }
    }
    pub fn as_array(self) -> Option<&'a Vec<serde_json::Value>> {
        match self {
            Prop::Text(_) => None,
            Prop::Json(v) => v.as_array(),
        }
    }
    pub fn to_value(self) -> serde_json::Value {
        match self {
            Prop::Text(s) => serde_json::Value::String(s.to_owned()),
            Prop::Json(v) => v.clone(),
        }
    }
}

impl PartialEq<&str> for Prop<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl Properties {
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(k, _)| crate::names::cmp_ci(k.as_str(), name))
    }

    fn prop(&self, slot: Slot) -> Prop<'_> {
        match slot {
            Slot::Text(a, b) => Prop::Text(&self.text[a as usize..b as usize]),
            Slot::Json(i) => Prop::Json(&self.other[i as usize]),
        }
    }

    /// Where `name` is: a short scan for the handful of properties a user has (cheaper than
    /// a case-insensitive binary search), a binary search beyond.
    fn position(&self, name: &str) -> Option<usize> {
        if self.entries.len() <= 16 {
            self.entries
                .iter()
                .position(|(k, _)| crate::names::eq_ci(k.as_str(), name))
        } else {
            self.find(name).ok()
        }
    }

    pub fn get(&self, name: &str) -> Option<Prop<'_>> {
        self.position(name).map(|i| self.prop(self.entries[i].1))
    }

    /// A text property.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Prop::as_str)
    }

    /// A property as JSON (owned).
    pub fn value(&self, name: &str) -> Option<serde_json::Value> {
        self.get(name).map(Prop::to_value)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Sets a property, replacing any value it had.
    pub fn insert(&mut self, name: impl Into<AttrName>, value: serde_json::Value) {
        let name = name.into();
        let slot = match value {
            serde_json::Value::String(s) => {
                let start = self.text.len();
                self.text.push_str(&s);
                // Offsets in u32: an object's text is far below 4 GiB.
                Slot::Text(start as u32, self.text.len() as u32)
            }
            other => {
                self.other.push(other);
                Slot::Json((self.other.len() - 1) as u32)
            }
        };
        // A replaced text value stays in the buffer unused; replacing is rare (tests, writes).
        match self.find(name.as_str()) {
            Ok(i) => self.entries[i].1 = slot,
            Err(i) => self.entries.insert(i, (name, slot)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<serde_json::Value> {
        let i = self.find(name).ok()?;
        let value = self.prop(self.entries[i].1).to_value();
        self.entries.remove(i);
        Some(value)
    }

    /// (name, value) pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, Prop<'_>)> + '_ {
        self.entries
            .iter()
            .map(|&(k, slot)| (k.as_str(), self.prop(slot)))
    }

    /// Names, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Gives back spare capacity once an object is fully read.
    pub fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        self.text.shrink_to_fit();
        self.other.shrink_to_fit();
    }
}

impl PartialEq for Properties {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A user object read from Entra ID (Microsoft Graph property names).
#[derive(Clone, Debug, PartialEq)]
pub struct CloudUser {
    pub id: String,
    pub upn: Upn,
    pub mail: Option<String>,
    pub mail_nickname: Option<String>,
    pub proxy_addresses: Vec<String>,
    pub immutable_id: Option<String>,
    /// `onPremisesSyncEnabled: true`: mastered by Entra Connect, synced attributes are read-only.
    pub sync_enabled: bool,
    pub account_enabled: Option<bool>,
    pub user_type: Option<String>,
    /// Every other property read, by Graph name.
    pub properties: Properties,
}

impl CloudUser {
    pub fn new(id: impl Into<String>, upn: impl Into<Upn>) -> Self {
        Self {
            id: id.into(),
            upn: upn.into(),
            mail: None,
            mail_nickname: None,
            proxy_addresses: Vec::new(),
            immutable_id: None,
            sync_enabled: false,
            account_enabled: None,
            user_type: None,
            properties: Properties::default(),
        }
    }

    /// A Graph user object as a `CloudUser`; the error says which property is wrong.
    pub fn from_graph(
        user: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<CloudUser, String> {
        use serde_json::Value;
        let required = |name: &str| match user.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::String(_)) | None | Some(Value::Null) => Err(format!("no {name}")),
            Some(_) => Err(format!("{name} must be a string")),
        };
        let optional = |name: &str| match user.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{name} must be a string or null")),
        };
        let flag = |name: &str| match user.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("{name} must be true, false or null")),
        };
        let mut cloud = CloudUser::new(required("id")?, Upn::from(required("userPrincipalName")?));
        cloud.mail = optional("mail")?;
        cloud.mail_nickname = optional("mailNickname")?;
        cloud.immutable_id = optional("onPremisesImmutableId")?;
        cloud.user_type = optional("userType")?;
        cloud.sync_enabled = flag("onPremisesSyncEnabled")?.unwrap_or(false);
        cloud.account_enabled = flag("accountEnabled")?;
        cloud.proxy_addresses = match user.get("proxyAddresses") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or("proxyAddresses must be an array of strings")?,
            Some(_) => return Err("proxyAddresses must be an array of strings".into()),
        };
        const TYPED: &[&str] = &[
            "id",
            "userPrincipalName",
            "mail",
            "mailNickname",
            "proxyAddresses",
            "onPremisesImmutableId",
            "onPremisesSyncEnabled",
            "accountEnabled",
            "userType",
        ];
        for (k, v) in user.iter().filter(|(k, _)| !TYPED.contains(&k.as_str())) {
            cloud.properties.insert(k.as_str(), v.clone());
        }
        cloud.properties.shrink_to_fit();
        Ok(cloud)
    }

    /// A string property by Graph name, including the ones held in typed fields.
    pub fn text(&self, name: &str) -> Option<&str> {
        match name {
            "userPrincipalName" => Some(self.upn.as_str()),
            "mail" => self.mail.as_deref(),
            "mailNickname" => self.mail_nickname.as_deref(),
            "onPremisesImmutableId" => self.immutable_id.as_deref(),
            "id" => Some(&self.id),
            _ => self.properties.text(name),
        }
    }

    pub fn primary_smtp(&self) -> Option<SmtpAddress> {
        primary_smtp(&self.proxy_addresses)
    }

    /// Guests are invited, not provisioned; idsync leaves them alone.
    pub fn is_guest(&self) -> bool {
        self.user_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("guest"))
            || self.upn.as_str().contains("#EXT#")
    }

    /// A hash of everything read, used as the saved-plan precondition for Graph objects.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |name: &str, value: &str| {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(value.as_bytes());
            h.update([0]);
        };
        field("id", &self.id);
        field("userPrincipalName", self.upn.as_str());
        field("mail", self.mail.as_deref().unwrap_or("\u{1}"));
        field(
            "mailNickname",
            self.mail_nickname.as_deref().unwrap_or("\u{1}"),
        );
        field("proxyAddresses", &self.proxy_addresses.join("\u{2}"));
        field(
            "onPremisesImmutableId",
            self.immutable_id.as_deref().unwrap_or("\u{1}"),
        );
        field(
            "onPremisesSyncEnabled",
            if self.sync_enabled { "1" } else { "0" },
        );
        field(
            "accountEnabled",
            match self.account_enabled {
                Some(true) => "1",
                Some(false) => "0",
                None => "\u{1}",
            },
        );
        for (k, v) in self.properties.iter() {
            match v {
                Prop::Text(t) => field(k, t),
                // Other JSON (lists, objects) by its text; tagged so it never equals a string.
                Prop::Json(j) => field(k, &format!("\u{3}{j}")),
            }
        }
        let digest = h.finalize();
        digest[..12].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_to_immutable_id_matches_the_design_example() {
        let guid = Guid::parse("3ab39606-c642-489b-84b6-58c038d3ef39").unwrap();
        assert_eq!(guid.to_base64(), "BpazOkLGm0iEtljAONPvOQ==");
        assert_eq!(guid.to_string(), "3ab39606-c642-489b-84b6-58c038d3ef39");
        assert_eq!(
            Guid::parse("{3AB39606-C642-489B-84B6-58C038D3EF39}"),
            Some(guid)
        );
        assert_eq!(Guid::parse("nope"), None);
    }

    #[test]
    fn random_guids_are_version_4() {
        let g = Guid::new_random();
        assert_eq!(g.to_string().as_bytes()[14], b'4');
        assert_ne!(g, Guid::new_random());
    }

    #[test]
    fn fingerprint_changes_with_any_property() {
        let mut u = CloudUser::new("1", "a@example.com");
        let before = u.fingerprint();
        u.properties
            .insert("jobTitle", serde_json::Value::from("Boss"));
        assert_ne!(before, u.fingerprint());
    }
}
