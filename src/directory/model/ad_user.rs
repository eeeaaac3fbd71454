//! A user object read from Active Directory.

use super::attributes::Attributes;
use super::guid::{Guid, SmallBytes};
use super::packed::Values;
use crate::directory::dn::Dn;
use crate::directory::schema;
use crate::names::{AttrName, NameKey, SmtpAddress, primary_smtp};

/// userAccountControl bit: the account is disabled.
pub const UAC_ACCOUNTDISABLE: u32 = 0x2;
/// userAccountControl for a normal, enabled account.
pub const UAC_NORMAL_ACCOUNT: u32 = 0x200;

/// Prefix of the `adminDescription` value that marks accounts idsync created.
pub const OWNER_MARKER_PREFIX: &str = "idsync:";

/// A user object read from Active Directory.
///
/// The text attributes idsync reasons about (sAMAccountName, userPrincipalName, mail,
/// proxyAddresses, adminDescription) live in `attributes` with all the others, one buffer per
/// object; read them with the accessors (`upn()`, `proxy_addresses()`, …) and change them with
/// the setters.
#[derive(Clone, Debug, PartialEq)]
pub struct AdUser {
    pub dn: Dn,
    pub object_guid: Guid,
    pub consistency_guid: Option<SmallBytes>,
    pub user_account_control: Option<u32>,
    pub usn_changed: Option<u64>,
    /// Every text attribute read (`sAMAccountName`, `displayName`, `objectClass`, …).
    pub attributes: Attributes,
}

impl AdUser {
    /// The attributes with accessors of their own.
    pub const WITH_ACCESSORS: &[AttrName] = &[
        AttrName::SAM_ACCOUNT_NAME,
        AttrName::USER_PRINCIPAL_NAME,
        AttrName::MAIL,
        AttrName::PROXY_ADDRESSES,
        AttrName::ADMIN_DESCRIPTION,
    ];

    /// A user with only the identifying parts set; handy for tests and creates.
    pub fn new(dn: Dn, object_guid: Guid) -> Self {
        Self {
            dn,
            object_guid,
            consistency_guid: None,
            user_account_control: None,
            usn_changed: None,
            attributes: Attributes::new(),
        }
    }

    /// The first value of a text attribute, by LDAP name (any case) or [`AttrName`].
    pub fn attr(&self, name: impl NameKey) -> Option<&str> {
        self.attributes.get(name)
    }

    pub fn sam_account_name(&self) -> Option<&str> {
        self.attributes.get(AttrName::SAM_ACCOUNT_NAME)
    }

    pub fn upn(&self) -> Option<&str> {
        self.attributes.get(AttrName::USER_PRINCIPAL_NAME)
    }

    pub fn mail(&self) -> Option<&str> {
        self.attributes.get(AttrName::MAIL)
    }

    /// The `proxyAddresses` values (`SMTP:a@example.com`, `smtp:…`, `X500:…`), in order.
    pub fn proxy_addresses(&self) -> Values<'_> {
        self.attributes.values(AttrName::PROXY_ADDRESSES)
    }

    /// idsync marks accounts it creates with `idsync:<entra object id>`.
    pub fn admin_description(&self) -> Option<&str> {
        self.attributes.get(AttrName::ADMIN_DESCRIPTION)
    }

    pub fn set_sam_account_name<'v>(&mut self, value: impl Into<Option<&'v str>>) {
        self.attributes
            .insert(AttrName::SAM_ACCOUNT_NAME, value.into());
    }

    pub fn set_upn<'v>(&mut self, value: impl Into<Option<&'v str>>) {
        self.attributes
            .insert(AttrName::USER_PRINCIPAL_NAME, value.into());
    }

    pub fn set_mail<'v>(&mut self, value: impl Into<Option<&'v str>>) {
        self.attributes.insert(AttrName::MAIL, value.into());
    }

    pub fn set_proxy_addresses<S: AsRef<str>>(&mut self, values: impl IntoIterator<Item = S>) {
        self.attributes.insert(AttrName::PROXY_ADDRESSES, values);
    }

    pub fn set_admin_description<'v>(&mut self, value: impl Into<Option<&'v str>>) {
        self.attributes
            .insert(AttrName::ADMIN_DESCRIPTION, value.into());
    }

    /// The consistency GUID bytes, if set.
    pub fn consistency_guid(&self) -> Option<&[u8]> {
        self.consistency_guid.as_deref()
    }

    pub fn primary_smtp(&self) -> Option<SmtpAddress> {
        primary_smtp(self.proxy_addresses())
    }

    pub fn is_disabled(&self) -> bool {
        self.user_account_control
            .is_some_and(|uac| uac & UAC_ACCOUNTDISABLE != 0)
    }

    /// The entra object id in idsync's ownership marker, if idsync created this account.
    pub fn owner_marker(&self) -> Option<&str> {
        self.admin_description()
            .and_then(|d| d.strip_prefix(OWNER_MARKER_PREFIX))
    }

    /// A short name for messages: sAMAccountName, else the DN.
    pub fn label(&self) -> String {
        match self.sam_account_name() {
            Some(sam) => format!("{sam} ({})", self.dn),
            None => self.dn.to_string(),
        }
    }
}

/// An entry's attributes as a directory returned them, values as bytes: an LDAP search
/// result or an LDIF record. [`AdUser::decode`] reads both, so they cannot differ.
pub trait AttributeSource {
    /// Every value of an attribute (description compared without case), in order.
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]>;
    /// The distinct attribute descriptions, in order.
    fn names(&self) -> impl Iterator<Item = &str>;

    fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name).next()
    }

    /// Each of [`names`](Self::names) with its [`values`](Self::values), in that order; a
    /// source that can give them in one pass says so here (a read decodes every entry).
    fn each_attribute<'a>(&'a self, f: &mut EachAttribute<'a, '_>) -> Result<(), DecodeError> {
        each_attribute_by_name(self, f)
    }
}

/// What [`AttributeSource::each_attribute`] calls: a description and its values.
pub type EachAttribute<'a, 'f> = dyn FnMut(&'a str, &[&'a [u8]]) -> Result<(), DecodeError> + 'f;

/// [`AttributeSource::each_attribute`] by [`names`](AttributeSource::names) and
/// [`values`](AttributeSource::values).
pub fn each_attribute_by_name<'a, S: AttributeSource + ?Sized>(
    source: &'a S,
    f: &mut EachAttribute<'a, '_>,
) -> Result<(), DecodeError> {
    let mut values = Vec::new();
    for name in source.names() {
        values.clear();
        values.extend(source.values(name));
        f(name, &values)?;
    }
    Ok(())
}

/// Why an entry is not a readable user; [`DecodeError::attribute`] names the attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("no objectGUID")]
    NoGuid,
    #[error("objectGUID must be 16 bytes, found {0} bytes")]
    GuidLength(usize),
    #[error("{0} is not UTF-8 text")]
    NotText(&'static str),
    #[error("{name} must be an integer, found {value:?}")]
    NotInteger { name: &'static str, value: String },
    #[error("uSNChanged is negative")]
    NegativeUsn,
    #[error("{message}")]
    BadName { name: String, message: String },
    /// A value of the right kind but not a valid one (a `member` that is not a DN, an
    /// `objectSid` that is not a SID).
    #[error("{name}: {message}")]
    BadValue { name: &'static str, message: String },
}

impl DecodeError {
    /// The attribute at fault, if one is.
    pub fn attribute(&self) -> Option<&str> {
        match self {
            DecodeError::NoGuid => None,
            DecodeError::GuidLength(_) => Some("objectGUID"),
            DecodeError::NotText(name) | DecodeError::NotInteger { name, .. } => Some(name),
            DecodeError::NegativeUsn => Some("uSNChanged"),
            DecodeError::BadName { name, .. } => Some(name),
            DecodeError::BadValue { name, .. } => Some(name),
        }
    }
}

impl AdUser {
    /// The user an entry describes: the typed fields checked for syntax, every other text
    /// attribute (by [`schema::is_text`]) into `attributes`. The one decoder of AD entries.
    pub fn decode(dn: Dn, entry: &impl AttributeSource) -> Result<AdUser, DecodeError> {
        let mut user = Self::decode_typed(dn, entry)?;
        super::group::decode_text(entry, &schema::TYPED_NAMES, &mut user.attributes)?;
        Ok(user)
    }

    /// Only the typed fields ([`schema::TYPED`]), checked as [`AdUser::decode`] checks them:
    /// for validating an entry without copying the rest.
    pub fn decode_typed(dn: Dn, entry: &impl AttributeSource) -> Result<AdUser, DecodeError> {
        let guid = match entry.first("objectGUID") {
            Some(raw) => Guid::from_slice(raw).ok_or(DecodeError::GuidLength(raw.len()))?,
            None => return Err(DecodeError::NoGuid),
        };
        let text = |name: &'static str| -> Result<Option<&str>, DecodeError> {
            entry
                .first(name)
                .map(|v| std::str::from_utf8(v).map_err(|_| DecodeError::NotText(name)))
                .transpose()
        };
        let integer = |name: &'static str| -> Result<Option<i64>, DecodeError> {
            text(name)?
                .map(|s| {
                    s.trim()
                        .parse::<i64>()
                        .map_err(|_| DecodeError::NotInteger {
                            name,
                            value: s.to_owned(),
                        })
                })
                .transpose()
        };
        let mut user = AdUser::new(dn, guid);
        user.consistency_guid = entry.first("mS-DS-ConsistencyGuid").map(SmallBytes::new);
        user.set_sam_account_name(text("sAMAccountName")?);
        user.set_upn(text("userPrincipalName")?);
        user.set_mail(text("mail")?);
        let proxies: Vec<&str> = entry
            .values("proxyAddresses")
            .map(std::str::from_utf8)
            .collect::<Result<_, _>>()
            .map_err(|_| DecodeError::NotText("proxyAddresses"))?;
        user.set_proxy_addresses(proxies);
        // AD's Integer syntax is signed 32-bit; the flags are its bit pattern.
        user.user_account_control = integer("userAccountControl")?.map(|v| v as u32);
        user.usn_changed = integer("uSNChanged")?
            .map(|v| u64::try_from(v).map_err(|_| DecodeError::NegativeUsn))
            .transpose()?;
        user.set_admin_description(text("adminDescription")?);
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_read_and_setters_replace_the_packed_values() {
        let mut u = AdUser::new(Dn::parse("CN=A,DC=x").unwrap(), Guid([1; 16]));
        u.attributes.push(AttrName::from("displayName"), "A");
        u.set_upn("a@x.com");
        u.set_proxy_addresses(["smtp:b@x.com", "SMTP:a@x.com"]);
        u.set_admin_description("idsync:42");
        assert_eq!(u.upn(), Some("a@x.com"));
        assert_eq!(u.attr("userprincipalname"), Some("a@x.com"));
        assert_eq!(u.primary_smtp(), Some(SmtpAddress::new("a@x.com")));
        assert_eq!(u.owner_marker(), Some("42"));
        assert_eq!(u.label(), "CN=A,DC=x");
        u.set_upn(None);
        u.set_sam_account_name("a");
        u.set_proxy_addresses(["SMTP:c@x.com"]);
        assert_eq!(u.upn(), None);
        assert_eq!(u.proxy_addresses().collect::<Vec<_>>(), ["SMTP:c@x.com"]);
        assert_eq!(u.label(), "a (CN=A,DC=x)");
        assert_eq!(u.attr("displayName"), Some("A"));
    }
}
