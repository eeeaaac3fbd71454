//! What idsync knows of AD's attribute schema, in one place: which attributes are binary,
//! single-valued, owned by the directory, and which every read carries. The LDAP reader, the
//! LDIF snapshot, the exporter and the planner all take their lists from here, so a live read
//! and a snapshot read cannot treat an attribute differently.
//!
//! Names are LDAP display names and match without case (`names::listed`).

use crate::names::{AttrName, NameMemo, listed};

/// Attributes `AdUser` fills from typed decoding (GUIDs, integers, and the text attributes
/// with accessors of their own); the decoder skips them when it copies the rest. The order is
/// the order a read requests them in (an export writes them in it).
pub const TYPED: &[&str] = &[
    "objectGUID",
    "mS-DS-ConsistencyGuid",
    "sAMAccountName",
    "userPrincipalName",
    "mail",
    "proxyAddresses",
    "userAccountControl",
    "uSNChanged",
    "adminDescription",
];

/// What every read selects: what an `AdUser` needs to be identified and joined.
pub const IDENTIFYING: &[&str] = &concat::<{ TYPED.len() + 1 }>(TYPED, &["objectClass"]);

/// Of [`IDENTIFYING`], those without which nothing can be matched at all: an export that says
/// it left one out is refused.
pub const REQUIRED: &[&str] = &concat::<5>(&["objectClass"], TYPED.split_at(4).0);

/// What a group read selects (live and in an export), in the order an export writes them:
/// the anchors, what Entra Connect joins and soft-matches groups on, and `member`.
pub const GROUP_READ: &[&str] = &[
    "objectGUID",
    "objectSid",
    "objectClass",
    "sAMAccountName",
    "groupType",
    "mail",
    "mailNickname",
    "proxyAddresses",
    "displayName",
    "description",
    "adminDescription",
    "uSNChanged",
    "member",
];

/// Of [`GROUP_READ`], what `AdGroup` holds in typed fields rather than in `attributes`.
pub const GROUP_TYPED: &[&str] = &[
    "objectGUID",
    "objectSid",
    "groupType",
    "uSNChanged",
    "member",
];

/// What a contact read selects (live and in an export), in the order an export writes them.
pub const CONTACT_READ: &[&str] = &[
    "objectGUID",
    "objectClass",
    "mail",
    "mailNickname",
    "proxyAddresses",
    "targetAddress",
    "displayName",
    "givenName",
    "sn",
    "description",
    "adminDescription",
    "uSNChanged",
];

/// Of [`CONTACT_READ`], what `AdContact` holds in typed fields rather than in `attributes`.
pub const CONTACT_TYPED: &[&str] = &["objectGUID", "uSNChanged"];

/// Attributes Entra Connect's out-of-box rules exclude users by (besides sAMAccountName and
/// the DN): `concept-azure-ad-connect-sync-default-configuration`, "User out-of-box rules".
pub const SYNC_EXCLUSION: &[&str] = &[
    "isCriticalSystemObject",
    "msExchRecipientTypeDetails",
    "mailNickname",
];

/// Attributes every plan reads, whatever the desired state says: the identifying ones, the
/// names shown for a user, and what Entra Connect's default exclusions look at.
pub const BASE: &[&str] = &concat::<{ TYPED.len() + 7 }>(
    &concat::<{ TYPED.len() + 4 }>(
        &concat::<{ TYPED.len() + 1 }>(&["objectClass"], TYPED),
        &["displayName", "givenName", "sn"],
    ),
    SYNC_EXCLUSION,
);

/// Attributes AD stores as octet strings (syntax 2.5.5.10, `Object(Replica-Link)` included),
/// SIDs (2.5.5.17) or security descriptors (2.5.5.15): never text, whatever the bytes.
/// The union of what the live reader and the snapshot used to list apart.
pub const BINARY: &[&str] = &[
    "objectGUID",
    "objectSid",
    "sIDHistory",
    "mS-DS-ConsistencyGuid",
    "msExchMailboxGuid",
    "msExchArchiveGUID",
    "msExchMasterAccountSid",
    "msExchSafeSendersHash",
    "msExchBlockedSendersHash",
    "msExchSafeRecipientsHash",
    "thumbnailPhoto",
    "jpegPhoto",
    "photo",
    "userCertificate",
    "userSMIMECertificate",
    "nTSecurityDescriptor",
    "logonHours",
    "replPropertyMetaData",
    "replUpToDateVector",
    "dSASignature",
    "msDS-GenerationId",
    "terminalServer",
    "auditingPolicy",
];

/// Attributes the directory maintains; LDAP clients cannot write them.
pub const SYSTEM_OWNED: &[&str] = &[
    "objectGUID",
    "objectSid",
    "uSNChanged",
    "uSNCreated",
    "whenCreated",
    "whenChanged",
    "distinguishedName",
];

/// Password attributes: write-only (never read back, never written to a snapshot).
pub const PASSWORDS: &[&str] = &["unicodePwd", "userPassword"];

/// Single-valued in AD's schema (the ones idsync may touch).
pub const SINGLE_VALUED: &[&str] = &[
    "sAMAccountName",
    "userPrincipalName",
    "mail",
    "userAccountControl",
    "displayName",
    "givenName",
    "sn",
    "cn",
    "name",
    "initials",
    "mS-DS-ConsistencyGuid",
    "adminDescription",
    "title",
    "department",
    "company",
    "employeeID",
    "employeeNumber",
    "employeeType",
    "telephoneNumber",
    "mobile",
    "facsimileTelephoneNumber",
    "physicalDeliveryOfficeName",
    "l",
    "st",
    "streetAddress",
    "co",
    "c",
    "countryCode",
    "manager",
    "mailNickname",
    "info",
    "objectCategory",
    "groupType",
];

/// Attributes AD (and Samba) construct or keep operational: a search returns them only when
/// named (or, on Samba, with `+`), never for `*`.
pub const OPERATIONAL: &[&str] = &[
    "canonicalName",
    "createTimestamp",
    "modifyTimestamp",
    "msDS-UserPasswordExpiryTimeComputed",
    "msDS-User-Account-Control-Computed",
    "msDS-PrincipalName",
    "msDS-parentdistname",
    "msDS-ReplAttributeMetaData",
    "msDS-ReplValueMetaData",
    "tokenGroups",
    "primaryGroupToken",
    "allowedAttributes",
    "allowedAttributesEffective",
    "sDRightsEffective",
    "structuralObjectClass",
    "subSchemaSubEntry",
    "entryUUID",
    "entryCSN",
    "entryDN",
    "creatorsName",
    "modifiersName",
    "hasSubordinates",
];

/// Structural classes of containers: an export that holds one holds the containers below it.
pub const CONTAINER_CLASSES: &[&str] = &[
    "organizationalUnit",
    "container",
    "domainDNS",
    "builtinDomain",
];

/// Whether an attribute description (`photo`, `userCertificate;binary`) names binary values.
pub fn is_binary(description: &str) -> bool {
    let mut parts = description.split(';');
    let name = parts.next().unwrap_or_default();
    listed(BINARY, name) || parts.any(|o| o.eq_ignore_ascii_case("binary"))
}

pub fn is_single_valued(name: &str) -> bool {
    listed(SINGLE_VALUED, name)
}

pub fn is_system_owned(name: &str) -> bool {
    listed(SYSTEM_OWNED, name)
}

pub fn is_password(name: &str) -> bool {
    listed(PASSWORDS, name)
}

pub fn is_operational(name: &str) -> bool {
    listed(OPERATIONAL, name)
}

pub fn is_typed(name: &str) -> bool {
    listed(TYPED, name)
}

/// [`TYPED`], [`GROUP_TYPED`], [`CONTACT_TYPED`] and [`is_binary`], asked once per name.
pub static TYPED_NAMES: NameMemo = NameMemo::new(is_typed);
pub static GROUP_TYPED_NAMES: NameMemo = NameMemo::new(|n| listed(GROUP_TYPED, n));
pub static CONTACT_TYPED_NAMES: NameMemo = NameMemo::new(|n| listed(CONTACT_TYPED, n));
static BINARY_NAMES: NameMemo = NameMemo::new(is_binary);

/// Whether an attribute's values are text to keep in `AdUser::attributes`: not binary by
/// schema, and every value UTF-8 without control characters (an unknown octet string).
pub fn is_text<'a>(description: &str, values: impl Iterator<Item = &'a [u8]>) -> bool {
    !is_binary(description) && are_text(values)
}

/// [`is_text`] of an interned description.
pub fn is_text_named<'a>(description: AttrName, values: impl Iterator<Item = &'a [u8]>) -> bool {
    !BINARY_NAMES.get(description) && are_text(values)
}

/// Every value UTF-8 without control characters.
fn are_text<'a>(mut values: impl Iterator<Item = &'a [u8]>) -> bool {
    values.all(|v| {
        if v.is_ascii() {
            // The ASCII controls, as `char::is_control` has them, without decoding.
            return !v
                .iter()
                .any(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f);
        }
        std::str::from_utf8(v).is_ok_and(|s| {
            !s.chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        })
    })
}

/// `a` then `b`, as a fixed array (the lists above are built from one another at compile
/// time, so none can drift from the others).
const fn concat<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    assert!(a.len() + b.len() == N, "concat: wrong length");
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_lists_keep_the_order_reads_and_exports_use() {
        assert_eq!(IDENTIFYING.first(), Some(&"objectGUID"));
        assert_eq!(IDENTIFYING.last(), Some(&"objectClass"));
        assert_eq!(
            REQUIRED,
            [
                "objectClass",
                "objectGUID",
                "mS-DS-ConsistencyGuid",
                "sAMAccountName",
                "userPrincipalName"
            ]
        );
        assert_eq!(BASE.len(), 16);
        assert_eq!(&BASE[1..10], TYPED);
        for name in REQUIRED.iter().chain(IDENTIFYING) {
            assert!(listed(BASE, name), "{name}");
        }
    }

    #[test]
    fn binary_by_schema_or_by_the_binary_option() {
        // photo and jpegPhoto: syntax Object(Replica-Link), an octet string (2.5.5.10):
        // https://learn.microsoft.com/en-us/windows/win32/adschema/a-photo
        // https://learn.microsoft.com/en-us/windows/win32/adschema/a-jpegphoto
        assert!(is_binary("photo"));
        assert!(is_binary("JPEGPHOTO"));
        assert!(is_binary("msExchMasterAccountSid"));
        assert!(is_binary("x-custom;binary"));
        assert!(!is_binary("displayName"));
        let text = |name: &str, value: &[u8]| is_text(name, std::iter::once(value));
        assert!(!text("photo", b"ascii"));
        assert!(!text("info", b"a\x01b"));
        assert!(text("info", b"line\nline"));
    }

    #[test]
    fn written_attributes_are_never_system_owned() {
        for name in SINGLE_VALUED {
            assert!(!is_system_owned(name), "{name}");
        }
        assert!(is_system_owned("uSNChanged"));
    }
}
