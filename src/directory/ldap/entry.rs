//! Search result entries, parsed from their BER form.
//!
//! ldap3's `SearchEntry::construct` panics on malformed BER and files a value under
//! `bin_attrs` only when it is not valid UTF-8, so a GUID whose 16 bytes happen to be valid
//! UTF-8 would land among the text attributes. Parsing the tag here keeps every value as
//! bytes and decides text or binary by attribute name; bad data is an error, not a panic.

use ldap3::ResultEntry;
use ldap3::asn1::StructureTag;

use crate::directory::Dn;
use crate::directory::model::{AdUser, Guid, SmallBytes, TYPED_ATTRIBUTES};
use crate::names::{AttrName, listed};

/// One entry: its DN and attributes, values as the DC sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RawEntry {
    pub dn: String,
    pub attrs: Vec<(String, Vec<Vec<u8>>)>,
}

/// Attributes AD stores as octet strings or SIDs: never text.
const BINARY: &[&str] = &[
    "objectGUID",
    "mS-DS-ConsistencyGuid",
    "objectSid",
    "sIDHistory",
    "msExchMailboxGuid",
    "msExchArchiveGUID",
    "thumbnailPhoto",
    "jpegPhoto",
    "userCertificate",
    "nTSecurityDescriptor",
    "logonHours",
];

impl RawEntry {
    /// A SearchResultEntry (`[APPLICATION 4] { objectName, attributes }`); `None` if the DC
    /// sent something else or malformed data.
    pub fn parse(entry: ResultEntry) -> Option<RawEntry> {
        let mut parts = entry.0.match_id(4)?.expect_constructed()?.into_iter();
        let dn = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
        let mut attrs = Vec::new();
        for attribute in parts.next()?.expect_constructed()? {
            let mut pair = attribute.expect_constructed()?.into_iter();
            let name = String::from_utf8(pair.next()?.expect_primitive()?).ok()?;
            let values = pair
                .next()?
                .expect_constructed()?
                .into_iter()
                .map(StructureTag::expect_primitive)
                .collect::<Option<Vec<_>>>()?;
            attrs.push((name, values));
        }
        Some(RawEntry { dn, attrs })
    }

    pub fn values(&self, name: &str) -> &[Vec<u8>] {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(&[], |(_, v)| v.as_slice())
    }

    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name).first().map(Vec::as_slice)
    }

    /// Every value of an attribute that is text (others skipped).
    pub fn texts(&self, name: &str) -> impl Iterator<Item = &str> {
        self.values(name)
            .iter()
            .filter_map(|v| std::str::from_utf8(v).ok())
    }
}

fn is_text(name: &str, values: &[Vec<u8>]) -> bool {
    !listed(BINARY, name)
        && values.iter().all(|v| {
            std::str::from_utf8(v).is_ok_and(|s| {
                !s.chars()
                    .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            })
        })
}

/// A user entry as an [`AdUser`]; the error names the DN and what is wrong with the entry.
pub(super) fn to_user(entry: RawEntry) -> Result<AdUser, String> {
    convert(&entry)
        .and_then(|user| with_attributes(user, entry.attrs))
        .map_err(|m| format!("{}: {m}", entry.dn))
}

/// The typed fields (everything but `attributes`).
fn convert(entry: &RawEntry) -> Result<AdUser, String> {
    let dn = Dn::parse(&entry.dn).map_err(|e| e.reason.to_owned())?;
    let guid = match entry.first("objectGUID") {
        Some(raw) => Guid::from_slice(raw)
            .ok_or_else(|| format!("objectGUID is {} bytes, not 16", raw.len()))?,
        None => return Err("no objectGUID (the bind account may not read it)".into()),
    };
    let text = |name: &str| -> Result<Option<&str>, String> {
        match entry.first(name) {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .map(Some)
                .map_err(|_| format!("{name} is not UTF-8 text")),
        }
    };
    let integer = |name: &str| -> Result<Option<i64>, String> {
        match text(name)? {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("{name} must be an integer, found {s:?}")),
        }
    };
    let mut user = AdUser::new(dn, guid);
    user.consistency_guid = entry.first("mS-DS-ConsistencyGuid").map(SmallBytes::new);
    user.set_sam_account_name(text("sAMAccountName")?);
    user.set_upn(text("userPrincipalName")?);
    user.set_mail(text("mail")?);
    let proxies: Vec<&str> = entry
        .values("proxyAddresses")
        .iter()
        .map(|v| std::str::from_utf8(v))
        .collect::<Result<_, _>>()
        .map_err(|_| "proxyAddresses is not UTF-8 text".to_owned())?;
    user.set_proxy_addresses(proxies);
    // AD's Integer syntax is signed 32-bit; the flags are its bit pattern.
    user.user_account_control = integer("userAccountControl")?.map(|v| v as u32);
    user.usn_changed = integer("uSNChanged")?
        .map(|v| u64::try_from(v).map_err(|_| "uSNChanged is negative".to_owned()))
        .transpose()?;
    user.set_admin_description(text("adminDescription")?);
    Ok(user)
}

/// Moves every other text attribute into `attributes`.
fn with_attributes(mut user: AdUser, attrs: Vec<(String, Vec<Vec<u8>>)>) -> Result<AdUser, String> {
    for (name, values) in attrs {
        if listed(TYPED_ATTRIBUTES, &name) || !is_text(&name, &values) {
            continue;
        }
        let name = AttrName::try_new(&name).map_err(|e| e.to_string())?;
        for v in values {
            user.attributes
                .push(name, std::str::from_utf8(&v).unwrap_or_default());
        }
    }
    user.attributes.shrink_to_fit();
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::asn1::{PL, TagClass};

    fn prim(bytes: &[u8]) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id: 4,
            payload: PL::P(bytes.to_vec()),
        }
    }
    fn seq(id: u64, class: TagClass, inner: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class,
            id,
            payload: PL::C(inner),
        }
    }
    fn attr(name: &str, values: &[&[u8]]) -> StructureTag {
        seq(
            16,
            TagClass::Universal,
            vec![
                prim(name.as_bytes()),
                seq(
                    17,
                    TagClass::Universal,
                    values.iter().map(|v| prim(v)).collect(),
                ),
            ],
        )
    }

    #[test]
    fn binary_by_name_even_when_the_bytes_are_utf8() {
        // A consistency GUID of 16 ASCII bytes: ldap3's SearchEntry would call it text.
        let ascii_guid = b"0123456789:;<=>?";
        let tag = seq(
            4,
            TagClass::Application,
            vec![
                prim("CN=Zoë \\, Ærø,OU=x,DC=corp".as_bytes()),
                seq(
                    16,
                    TagClass::Universal,
                    vec![
                        attr("objectGUID", &[ascii_guid]),
                        attr("mS-DS-ConsistencyGuid", &[&[7; 16]]),
                        attr("proxyAddresses", &[b"SMTP:a@x", b"smtp:b@x"]),
                        attr("userAccountControl", &[b"66050"]),
                        attr("uSNChanged", &[b"4711"]),
                        attr("displayName", &["Zoë".as_bytes()]),
                        attr("objectSid", &[b"\x01\x05\x00"]),
                    ],
                ),
            ],
        );
        let raw = RawEntry::parse(ResultEntry::new(tag)).unwrap();
        let user = to_user(raw).unwrap();
        assert_eq!(user.object_guid.0, *ascii_guid);
        assert_eq!(user.consistency_guid(), Some(&[7; 16][..]));
        assert_eq!(
            user.proxy_addresses().collect::<Vec<_>>(),
            ["SMTP:a@x", "smtp:b@x"]
        );
        assert_eq!(user.user_account_control, Some(66050));
        assert_eq!(user.usn_changed, Some(4711));
        assert_eq!(user.attr("displayName"), Some("Zoë"));
        assert_eq!(user.attr("objectSid"), None);
        assert_eq!(user.attr("objectGUID"), None);
        assert_eq!(user.dn.leaf_value().as_deref(), Some("Zoë , Ærø"));
    }

    #[test]
    fn malformed_entries_are_refused_not_panicked_on() {
        let not_an_entry = seq(5, TagClass::Application, vec![]);
        assert_eq!(RawEntry::parse(ResultEntry::new(not_an_entry)), None);
        let bad_values = seq(
            4,
            TagClass::Application,
            vec![
                prim(b"CN=a"),
                seq(16, TagClass::Universal, vec![prim(b"x")]),
            ],
        );
        assert_eq!(RawEntry::parse(ResultEntry::new(bad_values)), None);
        let short_guid = RawEntry {
            dn: "CN=a,DC=x".into(),
            attrs: vec![("objectGUID".into(), vec![vec![1, 2]])],
        };
        assert!(to_user(short_guid).unwrap_err().contains("2 bytes"));
        let no_guid = RawEntry {
            dn: "CN=a,DC=x".into(),
            attrs: vec![],
        };
        assert!(to_user(no_guid).unwrap_err().contains("objectGUID"));
    }
}
