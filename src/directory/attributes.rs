//! The built-in table between Graph property names (used in the YAML) and AD attribute names.

use crate::names::AttrName;

/// How a value is carried on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A single text value on both sides.
    Text,
    /// Graph holds a list (`businessPhones`), AD a single value: the first entry is compared.
    GraphList,
    /// Graph `accountEnabled` against the AD userAccountControl ACCOUNTDISABLE bit.
    AccountEnabled,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub graph: &'static str,
    pub ad: &'static str,
    /// The names interned (well-known ids): lookups on objects compare integers.
    pub graph_name: AttrName,
    pub ad_name: AttrName,
    pub kind: ValueKind,
    /// Longest value Entra accepts, where it is documented (IdFix `length`).
    pub max_len: Option<usize>,
}

const fn row(
    graph: &'static str,
    ad: &'static str,
    kind: ValueKind,
    max_len: Option<usize>,
) -> Mapping {
    Mapping {
        graph,
        ad,
        graph_name: AttrName::well_known(graph),
        ad_name: AttrName::well_known(ad),
        kind,
        max_len,
    }
}

const fn text(graph: &'static str, ad: &'static str, max_len: Option<usize>) -> Mapping {
    row(graph, ad, ValueKind::Text, max_len)
}

/// Graph ↔ AD attribute names idsync knows how to keep converged. Kept in README order.
pub const TABLE: &[Mapping] = &[
    text("displayName", "displayName", Some(256)),
    text("givenName", "givenName", Some(64)),
    text("surname", "sn", Some(64)),
    text("jobTitle", "title", Some(128)),
    text("department", "department", Some(64)),
    text("companyName", "company", Some(64)),
    text("officeLocation", "physicalDeliveryOfficeName", Some(128)),
    text("streetAddress", "streetAddress", Some(1024)),
    text("city", "l", Some(128)),
    text("state", "st", Some(128)),
    text("postalCode", "postalCode", Some(40)),
    text("country", "co", Some(128)),
    text("usageLocation", "c", Some(2)),
    text("mobilePhone", "mobile", Some(64)),
    row(
        "businessPhones",
        "telephoneNumber",
        ValueKind::GraphList,
        Some(64),
    ),
    text("faxNumber", "facsimileTelephoneNumber", Some(64)),
    text("employeeId", "employeeID", Some(16)),
    text("employeeType", "employeeType", Some(64)),
    text("preferredLanguage", "preferredLanguage", None),
    text("mail", "mail", Some(256)),
    text("mailNickname", "mailNickname", Some(64)),
    text("userPrincipalName", "userPrincipalName", Some(113)),
    row(
        "accountEnabled",
        "userAccountControl",
        ValueKind::AccountEnabled,
        None,
    ),
];

/// The AD attributes of [`TABLE`] that Entra Connect synchronizes to users by default:
/// Microsoft's list, `reference-connect-sync-attributes-synchronized` (MicrosoftDocs/entra-docs,
/// docs/identity/hybrid/connect), the union of its per-workload user columns, restricted to the
/// names idsync maps. `employeeType` is on none of them. `c` feeds `usageLocation` (listed as a
/// mechanical property). The forecast of what the next sync overwrites reads this list.
pub const SYNCED_BY_ENTRA_CONNECT: &[&str] = &[
    "accountEnabled", // Graph name: Microsoft lists the cloud side (from userAccountControl).
    "displayName",
    "givenName",
    "sn",
    "title",
    "department",
    "company",
    "physicalDeliveryOfficeName",
    "streetAddress",
    "l",
    "st",
    "postalCode",
    "co",
    "c",
    "mobile",
    "telephoneNumber",
    "facsimileTelephoneNumber",
    "employeeID",
    "preferredLanguage",
    "mail",
    "mailNickname",
    "userPrincipalName",
];

/// Whether Entra Connect synchronizes this row to cloud users ([`SYNCED_BY_ENTRA_CONNECT`]).
pub fn synced_by_entra_connect(m: &Mapping) -> bool {
    let name = match m.kind {
        ValueKind::AccountEnabled => m.graph,
        _ => m.ad,
    };
    SYNCED_BY_ENTRA_CONNECT
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name))
}

/// The row for a Graph property name (exact spelling, as Graph is case-sensitive in JSON).
pub fn by_graph(name: &str) -> Option<&'static Mapping> {
    TABLE.iter().find(|m| m.graph == name)
}

/// The row for an AD attribute name (any case).
pub fn by_ad(name: &str) -> Option<&'static Mapping> {
    TABLE.iter().find(|m| m.ad.eq_ignore_ascii_case(name))
}

/// Graph names, for error messages.
pub fn graph_names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|m| m.graph)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_both_ways() {
        for (i, a) in TABLE.iter().enumerate() {
            for b in &TABLE[i + 1..] {
                assert_ne!(a.graph, b.graph);
                assert!(!a.ad.eq_ignore_ascii_case(b.ad), "{}", a.ad);
            }
        }
        assert_eq!(by_graph("surname").unwrap().ad, "sn");
        assert_eq!(by_ad("SN").unwrap().graph, "surname");
    }

    /// reference-connect-sync-attributes-synchronized: every name listed is a row idsync maps,
    /// and the one row Microsoft does not list is `employeeType`.
    #[test]
    fn the_synced_list_names_rows_of_the_table() {
        for name in SYNCED_BY_ENTRA_CONNECT {
            assert!(
                TABLE
                    .iter()
                    .any(|m| m.ad.eq_ignore_ascii_case(name) || m.graph == *name),
                "{name}"
            );
        }
        let unsynced: Vec<&str> = TABLE
            .iter()
            .filter(|m| !synced_by_entra_connect(m))
            .map(|m| m.graph)
            .collect();
        assert_eq!(unsynced, ["employeeType"]);
    }
}
