//! Groups and contacts, as read from Active Directory and from Entra ID.
//!
//! Far fewer than users (a tenant of a million users has thousands of groups), so these are
//! plain structs; only the member lists are large, and they are plain lists of DNs or ids.

use serde_json::{Map, Value};

use super::ad_user::{AttributeSource, DecodeError};
use super::attributes::Attributes;
use super::guid::Guid;
use crate::directory::dn::Dn;
use crate::directory::schema;
use crate::names::{AttrName, NameMemo, SmtpAddress, primary_smtp};

/// `groupType` bit: a security group (without it, a distribution group).
pub const GROUP_TYPE_SECURITY: i32 = i32::MIN; // 0x80000000
/// `groupType` scope bits.
pub const GROUP_TYPE_GLOBAL: i32 = 0x2;
pub const GROUP_TYPE_DOMAIN_LOCAL: i32 = 0x4;
pub const GROUP_TYPE_UNIVERSAL: i32 = 0x8;

/// A group read from Active Directory.
#[derive(Clone, Debug, PartialEq)]
pub struct AdGroup {
    pub dn: Dn,
    pub object_guid: Guid,
    /// `objectSid` as `S-1-5-21-…`: what a synced cloud group carries as
    /// `onPremisesSecurityIdentifier`.
    pub object_sid: Option<String>,
    /// `groupType` (signed 32 bits, as AD stores it).
    pub group_type: Option<i32>,
    pub usn_changed: Option<u64>,
    /// Every text attribute read but `member` (`sAMAccountName`, `mail`, `proxyAddresses`,
    /// `displayName`, `description`, `adminDescription`, …).
    pub attributes: Attributes,
    /// The `member` DNs, every range followed; `None` when the source did not carry `member`
    /// at all (an export made without it): unknown, not empty.
    pub members: Option<Vec<Dn>>,
}

impl AdGroup {
    pub fn new(dn: Dn, object_guid: Guid) -> Self {
        AdGroup {
            dn,
            object_guid,
            object_sid: None,
            group_type: None,
            usn_changed: None,
            attributes: Attributes::new(),
            members: Some(Vec::new()),
        }
    }

    pub fn sam_account_name(&self) -> Option<&str> {
        self.attributes.get(AttrName::SAM_ACCOUNT_NAME)
    }

    pub fn mail(&self) -> Option<&str> {
        self.attributes.get(AttrName::MAIL)
    }

    pub fn display_name(&self) -> Option<&str> {
        self.attributes.get(AttrName::DISPLAY_NAME)
    }

    pub fn proxy_addresses(&self) -> impl Iterator<Item = &str> {
        self.attributes.values(AttrName::PROXY_ADDRESSES)
    }

    /// The primary SMTP address Entra Connect soft-matches a group on (its `SMTP:`
    /// proxyAddress; `mail` when it has none).
    pub fn primary_smtp(&self) -> Option<SmtpAddress> {
        primary_smtp(self.proxy_addresses()).or_else(|| self.mail().map(SmtpAddress::new))
    }

    /// idsync marks groups it creates with `idsync:<entra object id>`.
    pub fn admin_description(&self) -> Option<&str> {
        self.attributes.get(AttrName::ADMIN_DESCRIPTION)
    }

    /// The cloud group id of idsync's marker, if idsync created this group (as
    /// [`super::AdUser::owner_marker`]).
    pub fn owner_marker(&self) -> Option<&str> {
        self.admin_description()
            .and_then(|d| d.strip_prefix(super::OWNER_MARKER_PREFIX))
    }

    /// A security group (`groupType` has the security bit). Unknown when `groupType` was
    /// not read.
    pub fn is_security(&self) -> Option<bool> {
        self.group_type.map(|t| t & GROUP_TYPE_SECURITY != 0)
    }

    /// Mail-enabled in Exchange's sense: it has a primary SMTP address.
    pub fn is_mail_enabled(&self) -> bool {
        self.primary_smtp().is_some()
    }
}

/// The typed fields every AD object shares: objectGUID (required), uSNChanged.
fn decode_guid_usn(entry: &impl AttributeSource) -> Result<(Guid, Option<u64>), DecodeError> {
    let guid = match entry.first("objectGUID") {
        Some(raw) => Guid::from_slice(raw).ok_or(DecodeError::GuidLength(raw.len()))?,
        None => return Err(DecodeError::NoGuid),
    };
    let usn = integer(entry, "uSNChanged")?
        .map(|v| u64::try_from(v).map_err(|_| DecodeError::NegativeUsn))
        .transpose()?;
    Ok((guid, usn))
}

fn integer(entry: &impl AttributeSource, name: &'static str) -> Result<Option<i64>, DecodeError> {
    let Some(raw) = entry.first(name) else {
        return Ok(None);
    };
    let s = std::str::from_utf8(raw).map_err(|_| DecodeError::NotText(name))?;
    s.trim()
        .parse::<i64>()
        .map(Some)
        .map_err(|_| DecodeError::NotInteger {
            name,
            value: s.to_owned(),
        })
}

/// Every text attribute of the entry but the typed ones, as [`super::AdUser::decode`] keeps
/// them.
pub(super) fn decode_text(
    entry: &impl AttributeSource,
    typed: &NameMemo,
    into: &mut Attributes,
) -> Result<(), DecodeError> {
    entry.each_attribute(&mut |name, values| {
        let values_of = || values.iter().copied();
        let attr = match AttrName::try_new(name) {
            Ok(attr) if typed.get(attr) || !schema::is_text_named(attr, values_of()) => {
                return Ok(());
            }
            Ok(attr) => attr,
            // A name the table has no room for is an error only where it would be kept.
            Err(_) if typed.ask(name) || !schema::is_text(name, values_of()) => return Ok(()),
            Err(e) => {
                return Err(DecodeError::BadName {
                    name: name.to_owned(),
                    message: e.to_string(),
                });
            }
        };
        for v in values {
            into.push(attr, std::str::from_utf8(v).unwrap_or_default());
        }
        Ok(())
    })?;
    into.shrink_to_fit();
    Ok(())
}

impl AdGroup {
    /// The group an entry describes (an LDAP search result or an LDIF record, ranged
    /// `member` values already merged): the one decoder of AD groups. `members` is the
    /// entry's `member` values (empty when it has none); whether that means "none" or "not
    /// read" is the caller's to say.
    pub fn decode(dn: Dn, entry: &impl AttributeSource) -> Result<AdGroup, DecodeError> {
        let mut group = Self::decode_typed(dn, entry)?;
        let mut members = Vec::new();
        for raw in entry.values("member") {
            let text = std::str::from_utf8(raw).map_err(|_| DecodeError::NotText("member"))?;
            members.push(Dn::parse(text).map_err(|e| DecodeError::BadValue {
                name: "member",
                message: format!("{text:?} is not a DN ({})", e.reason),
            })?);
        }
        group.members = Some(members);
        decode_text(entry, &schema::GROUP_TYPED_NAMES, &mut group.attributes)?;
        Ok(group)
    }

    /// Only the typed fields but `member` (checked as [`AdGroup::decode`] checks them), for
    /// validating an entry without reading a large member list; `members` is `None`.
    pub fn decode_typed(dn: Dn, entry: &impl AttributeSource) -> Result<AdGroup, DecodeError> {
        let (guid, usn) = decode_guid_usn(entry)?;
        let mut group = AdGroup::new(dn, guid);
        group.usn_changed = usn;
        group.object_sid = entry
            .first("objectSid")
            .map(|raw| {
                sid_to_string(raw).ok_or_else(|| DecodeError::BadValue {
                    name: "objectSid",
                    message: format!("{} bytes that are not a SID", raw.len()),
                })
            })
            .transpose()?;
        // AD's Integer syntax is signed 32-bit; an export may spell the bit pattern unsigned.
        group.group_type = integer(entry, "groupType")?
            .map(|v| {
                i32::try_from(v)
                    .or_else(|_| u32::try_from(v).map(|u| u as i32))
                    .map_err(|_| DecodeError::NotInteger {
                        name: "groupType",
                        value: v.to_string(),
                    })
            })
            .transpose()?;
        group.members = None;
        Ok(group)
    }
}

impl AdContact {
    /// The contact an entry describes: the one decoder of AD contacts.
    pub fn decode(dn: Dn, entry: &impl AttributeSource) -> Result<AdContact, DecodeError> {
        let (guid, usn) = decode_guid_usn(entry)?;
        let mut contact = AdContact::new(dn, guid);
        contact.usn_changed = usn;
        decode_text(entry, &schema::CONTACT_TYPED_NAMES, &mut contact.attributes)?;
        Ok(contact)
    }
}

/// The binary form of a SID string (`S-1-5-21-…`), as AD stores `objectSid`; `None` if it is
/// not one. The inverse of [`sid_to_string`].
pub fn sid_from_string(sid: &str) -> Option<Vec<u8>> {
    let mut parts = sid.strip_prefix("S-")?.split('-');
    let revision: u8 = parts.next()?.parse().ok()?;
    let authority: u64 = parts.next()?.parse().ok()?;
    if authority >= 1 << 48 {
        return None;
    }
    let subs: Vec<u32> = parts.map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let count = u8::try_from(subs.len()).ok().filter(|&c| c <= 15)?;
    let mut out = vec![revision, count];
    out.extend_from_slice(&authority.to_be_bytes()[2..]);
    for sub in subs {
        out.extend_from_slice(&sub.to_le_bytes());
    }
    Some(out)
}

/// A contact (`objectClass: contact`) read from Active Directory.
#[derive(Clone, Debug, PartialEq)]
pub struct AdContact {
    pub dn: Dn,
    pub object_guid: Guid,
    pub usn_changed: Option<u64>,
    /// `mail`, `proxyAddresses`, `displayName`, `targetAddress`, …
    pub attributes: Attributes,
}

impl AdContact {
    pub fn new(dn: Dn, object_guid: Guid) -> Self {
        AdContact {
            dn,
            object_guid,
            usn_changed: None,
            attributes: Attributes::new(),
        }
    }

    pub fn mail(&self) -> Option<&str> {
        self.attributes.get(AttrName::MAIL)
    }

    pub fn display_name(&self) -> Option<&str> {
        self.attributes.get(AttrName::DISPLAY_NAME)
    }

    pub fn proxy_addresses(&self) -> impl Iterator<Item = &str> {
        self.attributes.values(AttrName::PROXY_ADDRESSES)
    }

    pub fn primary_smtp(&self) -> Option<SmtpAddress> {
        primary_smtp(self.proxy_addresses()).or_else(|| self.mail().map(SmtpAddress::new))
    }
}

/// A group read from Entra ID (Graph `group` resource).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CloudGroup {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub mail: Option<String>,
    pub mail_nickname: Option<String>,
    pub mail_enabled: bool,
    pub security_enabled: bool,
    /// `groupTypes`: `Unified` (a Microsoft 365 group), `DynamicMembership`.
    pub group_types: Vec<String>,
    pub proxy_addresses: Vec<String>,
    /// `onPremisesSyncEnabled: true`: synced from AD by Entra Connect, mastered there.
    pub sync_enabled: bool,
    /// `onPremisesSecurityIdentifier`: the AD group's `objectSid`, for synced groups.
    pub on_premises_sid: Option<String>,
    /// The member object ids (users, groups, contacts, devices alike); `None` when the
    /// source did not carry them (a `groups.json` without `members`): unknown, not empty.
    pub members: Option<Vec<String>>,
    /// Group-based licensing (`assignedLicenses`); `None` when not read.
    pub assigned_licenses: Option<Vec<super::AssignedLicense>>,
}

/// The `$select` of a group read (and the properties a snapshot writes).
pub const GROUP_PROPERTIES: &[&str] = &[
    "id",
    "displayName",
    "description",
    "mail",
    "mailNickname",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
    "proxyAddresses",
    "onPremisesSyncEnabled",
    "onPremisesSecurityIdentifier",
    "assignedLicenses",
];

/// The `$select` of a contact read (and the properties a snapshot writes).
pub const CONTACT_PROPERTIES: &[&str] = &[
    "id",
    "displayName",
    "mail",
    "mailNickname",
    "proxyAddresses",
    "onPremisesSyncEnabled",
];

impl CloudGroup {
    /// A Microsoft 365 group (`groupTypes` holds `Unified`): cloud-only, never synced from AD.
    pub fn is_unified(&self) -> bool {
        self.group_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case("Unified"))
    }

    /// Members come from a rule (`DynamicMembership`): Graph refuses member writes.
    pub fn is_dynamic(&self) -> bool {
        self.group_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case("DynamicMembership"))
    }

    /// The primary SMTP address (its `SMTP:` proxyAddress, or `mail`), if mail-enabled.
    pub fn primary_smtp(&self) -> Option<SmtpAddress> {
        if !self.mail_enabled {
            return None;
        }
        primary_smtp(&self.proxy_addresses).or_else(|| self.mail.as_deref().map(SmtpAddress::new))
    }

    /// A hash of what was read (members included, in any order), for preconditions: a
    /// group changed between plan and apply is stale.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut field = |name: &str, value: &str| {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(value.as_bytes());
            h.update([0]);
        };
        field("id", &self.id);
        field("displayName", &self.display_name);
        field("mail", self.mail.as_deref().unwrap_or("\u{1}"));
        field("proxyAddresses", &self.proxy_addresses.join("\u{2}"));
        field(
            "onPremisesSyncEnabled",
            if self.sync_enabled { "1" } else { "0" },
        );
        if let Some(members) = &self.members {
            let mut ids: Vec<String> = members.iter().map(|m| m.to_ascii_lowercase()).collect();
            ids.sort_unstable();
            field("members", &ids.join("\u{2}"));
        }
        let digest = h.finalize();
        digest[..12].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A Graph group object (`GET /groups`, or a `groups.json` entry with its `members` as
    /// `$expand=members($select=id)` gives them); the error says which property is wrong.
    pub fn from_graph(group: &Map<String, Value>) -> Result<CloudGroup, String> {
        let fields = Fields(group);
        Ok(CloudGroup {
            id: fields.required("id")?.to_owned(),
            display_name: fields
                .optional("displayName")?
                .unwrap_or_default()
                .to_owned(),
            description: fields.optional("description")?.map(str::to_owned),
            mail: fields.optional("mail")?.map(str::to_owned),
            mail_nickname: fields.optional("mailNickname")?.map(str::to_owned),
            mail_enabled: fields.flag("mailEnabled")?.unwrap_or(false),
            security_enabled: fields.flag("securityEnabled")?.unwrap_or(false),
            group_types: fields.strings("groupTypes")?.unwrap_or_default(),
            proxy_addresses: fields.strings("proxyAddresses")?.unwrap_or_default(),
            sync_enabled: fields.flag("onPremisesSyncEnabled")?.unwrap_or(false),
            on_premises_sid: fields
                .optional("onPremisesSecurityIdentifier")?
                .map(str::to_owned),
            members: match group.get("members") {
                None => None,
                Some(Value::Null) => Some(Vec::new()),
                Some(Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|m| {
                            m.get("id")
                                .and_then(Value::as_str)
                                .filter(|id| !id.is_empty())
                                .map(str::to_owned)
                                .ok_or("members must be objects with an id")
                        })
                        .collect::<Result<_, _>>()?,
                ),
                Some(_) => return Err("members must be an array of objects with an id".into()),
            },
            assigned_licenses: match group.get("assignedLicenses") {
                None => None,
                Some(v) => Some(super::assigned_licenses(v)?),
            },
        })
    }

    /// [`CloudGroup::from_graph`] of the object whose JSON text is `text`, without a map for
    /// each member (a group of 100,000 members would otherwise be 100,000 maps): the members
    /// are read as ids, and the rest of the object goes through `from_graph`, which therefore
    /// gives the same group and the same first error.
    pub fn from_graph_json(text: &str) -> Result<CloudGroup, String> {
        let parts: member_ids::Parts =
            serde_json::from_str(text).map_err(|_| "expected a JSON object".to_owned())?;
        let mut object = parts.rest;
        // What `from_graph` makes of `members`, without their maps: a stand-in that reads
        // the same (an empty array, or a value it refuses with the same message).
        let members = match parts.members {
            None => None,
            Some(member_ids::Members::Null) => {
                object.insert("members".into(), Value::Null);
                None
            }
            Some(member_ids::Members::Ids(ids)) => {
                object.insert("members".into(), Value::Array(Vec::new()));
                Some(ids)
            }
            Some(member_ids::Members::NotIds) => {
                object.insert("members".into(), Value::Array(vec![Value::Null]));
                None
            }
            Some(member_ids::Members::NotArray) => {
                object.insert("members".into(), Value::Bool(false));
                None
            }
        };
        let mut group = CloudGroup::from_graph(&object)?;
        if members.is_some() {
            group.members = members;
        }
        Ok(group)
    }

    /// The group as Graph gives it (what a `groups.json` entry holds), members included
    /// when known.
    pub fn to_graph(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert("displayName".into(), self.display_name.clone().into());
        m.insert("description".into(), self.description.clone().into());
        m.insert("mail".into(), self.mail.clone().into());
        m.insert("mailNickname".into(), self.mail_nickname.clone().into());
        m.insert("mailEnabled".into(), self.mail_enabled.into());
        m.insert("securityEnabled".into(), self.security_enabled.into());
        m.insert("groupTypes".into(), self.group_types.clone().into());
        m.insert("proxyAddresses".into(), self.proxy_addresses.clone().into());
        m.insert(
            "onPremisesSyncEnabled".into(),
            if self.sync_enabled {
                Value::Bool(true)
            } else {
                Value::Null
            },
        );
        m.insert(
            "onPremisesSecurityIdentifier".into(),
            self.on_premises_sid.clone().into(),
        );
        if let Some(licenses) = &self.assigned_licenses {
            let licenses: Vec<Value> = licenses
                .iter()
                .map(|l| serde_json::json!({"skuId": l.sku_id, "disabledPlans": l.disabled_plans}))
                .collect();
            m.insert("assignedLicenses".into(), licenses.into());
        }
        if let Some(members) = &self.members {
            let members: Vec<Value> = members
                .iter()
                .map(|id| serde_json::json!({ "id": id }))
                .collect();
            m.insert("members".into(), members.into());
        }
        m
    }
}

/// A contact read from Entra ID (Graph `orgContact`: read-only there, synced or made in
/// Exchange).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CloudContact {
    pub id: String,
    pub display_name: String,
    pub mail: Option<String>,
    pub mail_nickname: Option<String>,
    pub proxy_addresses: Vec<String>,
    pub sync_enabled: bool,
}

impl CloudContact {
    pub fn primary_smtp(&self) -> Option<SmtpAddress> {
        primary_smtp(&self.proxy_addresses).or_else(|| self.mail.as_deref().map(SmtpAddress::new))
    }

    pub fn from_graph(contact: &Map<String, Value>) -> Result<CloudContact, String> {
        let fields = Fields(contact);
        Ok(CloudContact {
            id: fields.required("id")?.to_owned(),
            display_name: fields
                .optional("displayName")?
                .unwrap_or_default()
                .to_owned(),
            mail: fields.optional("mail")?.map(str::to_owned),
            mail_nickname: fields.optional("mailNickname")?.map(str::to_owned),
            proxy_addresses: fields.strings("proxyAddresses")?.unwrap_or_default(),
            sync_enabled: fields.flag("onPremisesSyncEnabled")?.unwrap_or(false),
        })
    }

    pub fn to_graph(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert("displayName".into(), self.display_name.clone().into());
        m.insert("mail".into(), self.mail.clone().into());
        m.insert("mailNickname".into(), self.mail_nickname.clone().into());
        m.insert("proxyAddresses".into(), self.proxy_addresses.clone().into());
        m.insert(
            "onPremisesSyncEnabled".into(),
            if self.sync_enabled {
                Value::Bool(true)
            } else {
                Value::Null
            },
        );
        m
    }
}

/// Typed reads of a Graph object's properties, with errors that name the property.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn required(&self, name: &str) -> Result<&'a str, String> {
        match self.0.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
            Some(Value::String(_)) | None | Some(Value::Null) => Err(format!("no {name}")),
            Some(_) => Err(format!("{name} must be a string")),
        }
    }

    fn optional(&self, name: &str) -> Result<Option<&'a str>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{name} must be a string or null")),
        }
    }

    fn flag(&self, name: &str) -> Result<Option<bool>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("{name} must be true, false or null")),
        }
    }

    fn strings(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| format!("{name} must be an array of strings")),
            Some(_) => Err(format!("{name} must be an array of strings")),
        }
    }
}

/// A binary `objectSid` as its string form (`S-1-5-21-…`), or `None` if it is not a SID.
pub fn sid_to_string(bytes: &[u8]) -> Option<String> {
    use std::fmt::Write;
    let (&revision, rest) = bytes.split_first()?;
    let (&count, rest) = rest.split_first()?;
    let count = usize::from(count);
    if rest.len() != 6 + 4 * count {
        return None;
    }
    let authority = rest[..6]
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let mut s = format!("S-{revision}-{authority}");
    for chunk in rest[6..].chunks_exact(4) {
        let sub = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let _ = write!(s, "-{sub}");
    }
    Some(s)
}

/// Reading a group object's `members` as ids while the rest of it is read as a map.
mod member_ids {
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    /// A group object: `members` apart, the rest as `from_graph` reads it.
    pub(super) struct Parts {
        pub(super) members: Option<Members>,
        pub(super) rest: Map<String, Value>,
    }

    /// What a `members` value is, as `from_graph` judges it.
    pub(super) enum Members {
        Null,
        /// An array of objects each with a non-empty string `id`.
        Ids(Vec<String>),
        /// An array with an element that is not that.
        NotIds,
        NotArray,
    }

    impl<'de> Deserialize<'de> for Parts {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Parts;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parts, A::Error> {
                    let mut parts = Parts {
                        members: None,
                        rest: Map::new(),
                    };
                    // A key given twice keeps its last value, as a map does.
                    while let Some(key) = map.next_key::<String>()? {
                        if key == "members" {
                            parts.members = Some(map.next_value()?);
                        } else {
                            let value = map.next_value()?;
                            parts.rest.insert(key, value);
                        }
                    }
                    Ok(parts)
                }
            }
            d.deserialize_map(V)
        }
    }

    impl<'de> Deserialize<'de> for Members {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Members;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_unit<E>(self) -> Result<Members, E> {
                    Ok(Members::Null)
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Members, A::Error> {
                    let mut ids = Some(Vec::new());
                    while let Some(member) = seq.next_element::<Member>()? {
                        match (member.0, &mut ids) {
                            (Some(id), Some(ids)) => ids.push(id),
                            _ => ids = None,
                        }
                    }
                    Ok(ids.map_or(Members::NotIds, Members::Ids))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Members, A::Error> {
                    IgnoredAny.visit_map(map)?;
                    Ok(Members::NotArray)
                }
                fn visit_bool<E>(self, _: bool) -> Result<Members, E> {
                    Ok(Members::NotArray)
                }
                fn visit_i64<E>(self, _: i64) -> Result<Members, E> {
                    Ok(Members::NotArray)
                }
                fn visit_u64<E>(self, _: u64) -> Result<Members, E> {
                    Ok(Members::NotArray)
                }
                fn visit_f64<E>(self, _: f64) -> Result<Members, E> {
                    Ok(Members::NotArray)
                }
                fn visit_str<E>(self, _: &str) -> Result<Members, E> {
                    Ok(Members::NotArray)
                }
            }
            d.deserialize_any(V)
        }
    }

    /// One member: its id, when it is an object whose last `id` is a non-empty string.
    struct Member(Option<String>);

    impl<'de> Deserialize<'de> for Member {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Member;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Member, A::Error> {
                    let mut id = None;
                    while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                        if key == "id" {
                            id = map.next_value::<Id>()?.0;
                        } else {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    Ok(Member(id))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Member, A::Error> {
                    IgnoredAny.visit_seq(seq)?;
                    Ok(Member(None))
                }
                fn visit_unit<E>(self) -> Result<Member, E> {
                    Ok(Member(None))
                }
                fn visit_bool<E>(self, _: bool) -> Result<Member, E> {
                    Ok(Member(None))
                }
                fn visit_i64<E>(self, _: i64) -> Result<Member, E> {
                    Ok(Member(None))
                }
                fn visit_u64<E>(self, _: u64) -> Result<Member, E> {
                    Ok(Member(None))
                }
                fn visit_f64<E>(self, _: f64) -> Result<Member, E> {
                    Ok(Member(None))
                }
                fn visit_str<E>(self, _: &str) -> Result<Member, E> {
                    Ok(Member(None))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// A member's `id`: the string when it is one and not empty.
    struct Id(Option<String>);

    impl<'de> Deserialize<'de> for Id {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let value = Value::deserialize(d)?;
            Ok(Id(value
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_sid_reads_as_its_string_form() {
        // S-1-5-21-1004336348-1177238915-682003330-512 (Domain Admins), as AD stores it.
        let mut b = vec![1u8, 5, 0, 0, 0, 0, 0, 5];
        for sub in [21u32, 1004336348, 1177238915, 682003330, 512] {
            b.extend_from_slice(&sub.to_le_bytes());
        }
        assert_eq!(
            sid_to_string(&b).as_deref(),
            Some("S-1-5-21-1004336348-1177238915-682003330-512")
        );
        assert_eq!(sid_to_string(&b[..b.len() - 1]), None);
        let s = "S-1-5-21-1004336348-1177238915-682003330-512";
        assert_eq!(sid_from_string(s).as_deref(), Some(&b[..]));
        assert_eq!(sid_from_string("S-1-x"), None);
        assert_eq!(sid_to_string(&[]), None);
    }

    #[test]
    fn a_cloud_group_round_trips_and_keeps_unknown_members_apart() {
        let j = json!({"id": "g1", "displayName": "Sales", "mail": "sales@example.com",
            "mailEnabled": true, "securityEnabled": true, "groupTypes": [],
            "proxyAddresses": ["SMTP:sales@example.com"], "members": [{"id": "u1"}]});
        let g = CloudGroup::from_graph(j.as_object().unwrap()).unwrap();
        assert_eq!(g.members.as_deref(), Some(&["u1".to_owned()][..]));
        assert_eq!(g.primary_smtp().unwrap().as_str(), "sales@example.com");
        assert_eq!(CloudGroup::from_graph(&g.to_graph()).unwrap(), g);
        let bare = CloudGroup::from_graph(json!({"id": "g2"}).as_object().unwrap()).unwrap();
        assert_eq!(bare.members, None, "no members key: unknown, not empty");
        let err = CloudGroup::from_graph(json!({"id": "g", "members": [{}]}).as_object().unwrap());
        assert!(err.unwrap_err().contains("members"));
    }

    #[test]
    fn a_security_group_without_mail_has_no_soft_match_key() {
        let g = CloudGroup {
            id: "g".into(),
            mail: Some("x@example.com".into()),
            mail_enabled: false,
            security_enabled: true,
            ..Default::default()
        };
        assert_eq!(g.primary_smtp(), None);
    }

    /// `from_graph_json` reads a group's text as `from_graph` reads its map, members and
    /// errors alike (the first error in `from_graph`'s order).
    #[test]
    fn a_group_reads_alike_from_its_text_and_from_its_map() {
        let members = [
            None,
            Some("null"),
            Some("[]"),
            Some(r##"[{"id": "a"}, {"@odata.type": "#microsoft.graph.user", "id": "b"}]"##),
            Some(r#"[{"id": "a", "extra": {"deep": [1, {"x": null}]}}]"#),
            Some(r#"[{"id": ""}]"#),
            Some(r#"[{"id": 1}]"#),
            Some(r#"[{"id": null}]"#),
            Some(r#"[{"other": "a"}]"#),
            Some(r#"[{"id": "a", "id": "b"}]"#),
            Some(r#"[{"id": "a", "id": 3}]"#),
            Some(r#"[{"id": "a"}, 1]"#),
            Some(r#"["a"]"#),
            Some("[[1]]"),
            Some("[null]"),
            Some(r#"{"id": "a"}"#),
            Some(r#""a""#),
            Some("5"),
            Some("-1.5"),
            Some("true"),
        ];
        let rests = [
            r#""id": "g1", "displayName": "G""#,
            r#""displayName": "G""#,
            r#""id": "g1", "mailEnabled": "yes""#,
            r#""id": "g1", "assignedLicenses": 7"#,
            r#""id": "g1", "proxyAddresses": [1], "members": [{"id": "x"}]"#,
        ];
        let mut cases = 0;
        for rest in rests {
            for m in members {
                let text = match m {
                    None => format!("{{{rest}}}"),
                    Some(m) => format!("{{{rest}, \"members\": {m}}}"),
                };
                let map: Map<String, Value> = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    CloudGroup::from_graph_json(&text),
                    CloudGroup::from_graph(&map),
                    "{text}"
                );
                cases += 1;
            }
        }
        assert_eq!(cases, 100);
    }
}
