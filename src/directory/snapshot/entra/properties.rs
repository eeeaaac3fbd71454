//! The tables of Graph property names (users, groups, contacts: each graph-rules' own), and
//! what a key in an export is measured against one: Graph's exact camelCase spelling, Microsoft Graph PowerShell's PascalCase
//! spelling of it, or a near miss (another case, or a letter or two off) that would otherwise
//! be read as an unknown property and silently leave the real one absent.

/// Which resource's property table a key is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    User,
    Group,
    Contact,
    /// `subscribedSku` (`subscribedSkus.json`).
    Sku,
}

impl Table {
    /// Graph's spelling of every property (and relationship an export may `$expand`) of the
    /// resource, from the tables idsync and the Graph emulator share.
    fn names(self) -> Box<dyn Iterator<Item = &'static str>> {
        use graph_rules::group::{CONTACT_PROPERTIES, GROUP_PROPERTIES};
        match self {
            Table::User => Box::new(graph_rules::user::PROPERTIES.iter().map(|p| p.name)),
            // `members` is a relationship: `$expand=members($select=id)` puts it in a groups.json.
            Table::Group => Box::new(GROUP_PROPERTIES.iter().map(|p| p.name).chain(["members"])),
            Table::Contact => Box::new(CONTACT_PROPERTIES.iter().map(|p| p.name)),
            Table::Sku => Box::new(graph_rules::license::SKU_PROPERTIES.iter().copied()),
        }
    }

    fn exact(self, key: &str) -> Option<&'static str> {
        match self {
            Table::User => graph_rules::user::exact(key).map(|p| p.name),
            _ => self.names().find(|n| *n == key),
        }
    }

    fn ignore_case(self, key: &str) -> Option<&'static str> {
        match self {
            Table::User => graph_rules::user::ignore_case(key).map(|p| p.name),
            _ => self.names().find(|n| n.eq_ignore_ascii_case(key)),
        }
    }
}

#[cfg(test)]
fn graph_user_properties() -> impl Iterator<Item = &'static str> {
    Table::User.names()
}

/// How a key stands against the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Spelling {
    /// Graph's own spelling.
    Camel(&'static str),
    /// Graph's spelling with its first letter capitalised, as the PowerShell SDK writes it.
    Pascal(&'static str),
    /// Close to a known property but neither spelling of it (`userPrincipalname`,
    /// `onPremiseImmutableId`).
    NearMiss(&'static str),
    /// Not a user property idsync knows (Graph has many more: extensions, new properties).
    Unknown,
}

/// Classifies one key of a user object. Annotations (`@odata.type`, `manager@delta`) and
/// directory extensions (`extension_<app>_<name>`) are never near misses.
#[cfg(test)]
pub(super) fn spelling(key: &str) -> Spelling {
    spelling_in(Table::User, key)
}

/// [`spelling`] against the table of `table`.
pub(super) fn spelling_in(table: Table, key: &str) -> Spelling {
    if let Some(known) = table.exact(key) {
        return Spelling::Camel(known);
    }
    if key.contains('@') || key.starts_with("extension_") {
        return Spelling::Unknown;
    }
    let lower = key.to_ascii_lowercase();
    for known in table.names() {
        if known.eq_ignore_ascii_case(key) {
            return if is_pascal_of(key, known) {
                Spelling::Pascal(known)
            } else {
                Spelling::NearMiss(known)
            };
        }
    }
    // A letter or two off. Short names are left alone: `city` and `cite` are both plausible
    // custom data, and every short Graph name is in the table exactly.
    table
        .names()
        .find(|known| {
            let allowed = match known.len() {
                0..=5 => 0,
                6..=11 => 1,
                _ => 2,
            };
            allowed > 0 && within(&lower, &known.to_ascii_lowercase(), allowed)
        })
        .map_or(Spelling::Unknown, Spelling::NearMiss)
}

/// `Id` for `id`, `OnPremisesImmutableId` for `onPremisesImmutableId`.
fn is_pascal_of(key: &str, known: &str) -> bool {
    let (mut k, mut g) = (key.chars(), known.chars());
    match (k.next(), g.next()) {
        (Some(a), Some(b)) => a.is_ascii_uppercase() && a.eq_ignore_ascii_case(&b) && k.eq(g),
        _ => false,
    }
}

/// Whether the edit distance (insertions, deletions, substitutions, adjacent swaps) between
/// `a` and `b` is at most `max`.
fn within(a: &str, b: &str, max: usize) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    // Optimal string alignment distance, three rows.
    let width = b.len() + 1;
    let mut before: Vec<usize> = vec![0; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut row: Vec<usize> = vec![0; width];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            row[j] = d;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()] <= max
}

/// The camelCase form of a PowerShell key: the table's spelling when it is a known property,
/// otherwise the key with its first letter lowered (the SDK capitalises Graph's names).
#[cfg(test)]
pub(super) fn camel(key: &str) -> String {
    camel_in(Table::User, key)
}

/// [`camel`] with the names of `table`.
pub(super) fn camel_in(table: Table, key: &str) -> String {
    if let Some(known) = table.ignore_case(key) {
        return known.to_owned();
    }
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_graph_powershell_near_misses_or_unknown() {
        assert_eq!(spelling("id"), Spelling::Camel("id"));
        assert_eq!(spelling("Id"), Spelling::Pascal("id"));
        assert_eq!(
            spelling("OnPremisesImmutableId"),
            Spelling::Pascal("onPremisesImmutableId")
        );
        for miss in [
            "UserPrincipalname",
            "userPrincipalname",
            "USERPRINCIPALNAME",
            "userPrincipleName",
        ] {
            assert_eq!(
                spelling(miss),
                Spelling::NearMiss("userPrincipalName"),
                "{miss}"
            );
        }
        assert_eq!(
            spelling("onPremiseImmutableId"),
            Spelling::NearMiss("onPremisesImmutableId")
        );
        assert_eq!(spelling("mailNickName"), Spelling::NearMiss("mailNickname"));
        for unknown in [
            "x-custom",
            "costCentre",
            "cite",
            "extension_0123abcd_onPremisesImmutableIds",
            "manager@delta",
            "@odata.type",
        ] {
            assert_eq!(spelling(unknown), Spelling::Unknown, "{unknown}");
        }
    }

    #[test]
    fn every_known_property_reads_in_its_powershell_spelling() {
        for known in graph_user_properties() {
            let mut pascal = known.as_bytes().to_vec();
            pascal[0] = pascal[0].to_ascii_uppercase();
            let pascal = String::from_utf8(pascal).unwrap();
            assert_eq!(spelling(&pascal), Spelling::Pascal(known), "{pascal}");
        }
    }

    #[test]
    fn powershell_keys_become_camel_case() {
        assert_eq!(camel("OnPremisesImmutableId"), "onPremisesImmutableId");
        assert_eq!(camel("Id"), "id");
        assert_eq!(camel("ExtensionAttribute1"), "extensionAttribute1");
        assert_eq!(camel("SkuId"), "skuId");
    }
}
