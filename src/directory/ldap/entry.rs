//! Search result entries, parsed from their BER form.
//!
//! ldap3's `SearchEntry::construct` panics on malformed BER and files a value under
//! `bin_attrs` only when it is not valid UTF-8, so a GUID whose 16 bytes happen to be valid
//! UTF-8 would land among the text attributes. Parsing the tag here keeps every value as
//! bytes and decides text or binary by attribute name; bad data is an error, not a panic.

use ldap3::ResultEntry;
use ldap3::asn1::StructureTag;

use crate::directory::Dn;
use crate::directory::model::{AdUser, AttributeSource, DecodeError};

/// One entry: its DN and attributes, values as the DC sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RawEntry {
    pub dn: String,
    pub attrs: Vec<(String, Vec<Vec<u8>>)>,
}

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

    /// Every value of an attribute that is text (others skipped).
    pub fn texts(&self, name: &str) -> impl Iterator<Item = &str> {
        self.values(name)
            .iter()
            .filter_map(|v| std::str::from_utf8(v).ok())
    }
}

impl AttributeSource for RawEntry {
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        RawEntry::values(self, name).iter().map(Vec::as_slice)
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.attrs.iter().map(|(n, _)| n.as_str())
    }
}

/// A user entry as an [`AdUser`] (through the one decoder, [`AdUser::decode`]); the error
/// names the DN and what is wrong with the entry.
pub(super) fn to_user(entry: RawEntry) -> Result<AdUser, String> {
    let dn = Dn::parse(&entry.dn).map_err(|e| format!("{}: {}", entry.dn, e.reason))?;
    AdUser::decode(dn, &entry).map_err(|e| match e {
        DecodeError::NoGuid => format!(
            "{}: no objectGUID (the bind account may not read it)",
            entry.dn
        ),
        e => format!("{}: {e}", entry.dn),
    })
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

    /// The live reader and the LDIF snapshot decode the same entry to the same user: both
    /// go through `AdUser::decode` with the schema's binary list, so an ASCII-valid `photo`
    /// or `msExchMasterAccountSid` is binary on both paths (it was text on the live one).
    #[test]
    fn live_and_snapshot_reads_decode_the_same_entry_alike() {
        let dn = "CN=Zo\\C3\\AB W\\2C Ærø,OU=Staff,DC=corp,DC=example";
        let attrs: Vec<(&str, Vec<&[u8]>)> = vec![
            (
                "objectClass",
                vec![b"top", b"person", b"organizationalPerson", b"user"],
            ),
            ("objectGUID", vec![b"0123456789:;<=>?"]),
            ("mS-DS-ConsistencyGuid", vec![&[7; 16]]),
            ("sAMAccountName", vec![b"zwaer"]),
            ("userPrincipalName", vec![b"zwaer@corp.example"]),
            (
                "proxyAddresses",
                vec![b"SMTP:zoe@example.com", b"smtp:zw@example.com"],
            ),
            ("userAccountControl", vec![b"512"]),
            ("uSNChanged", vec![b"4711"]),
            ("displayName", vec!["Zoë Ærø".as_bytes()]),
            ("description", vec![b"first", b"second"]),
            // Octet strings whose bytes happen to be printable text.
            ("photo", vec![b"GIF89a"]),
            ("msExchMasterAccountSid", vec![b"S-1-5-10"]),
            ("x-idsyncTest;binary", vec![b"plain"]),
        ];
        let raw = RawEntry {
            dn: dn.to_owned(),
            attrs: attrs
                .iter()
                .map(|(n, vs)| ((*n).to_owned(), vs.iter().map(|v| v.to_vec()).collect()))
                .collect(),
        };
        let live = to_user(raw).unwrap();

        let mut ldif = format!("dn: {dn}\n").into_bytes();
        for (name, values) in &attrs {
            for v in values {
                ldif.extend(crate::directory::ldif::encode_line(name, v, b"\n"));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ad.ldif");
        std::fs::write(&path, ldif).unwrap();
        let snapshot = crate::directory::snapshot::AdSnapshot::open(&path).unwrap();
        let read = snapshot
            .users(&crate::directory::AdQuery::default())
            .unwrap();

        assert_eq!(read, std::slice::from_ref(&live));
        assert_eq!(live.attr("displayName"), Some("Zoë Ærø"));
        assert_eq!(
            live.attributes.values("description").collect::<Vec<_>>(),
            ["first", "second"]
        );
        for binary in ["photo", "msExchMasterAccountSid", "x-idsyncTest;binary"] {
            assert_eq!(live.attr(binary), None, "{binary}");
        }
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
