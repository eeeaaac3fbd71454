//! Case-insensitive names: UPNs, SMTP addresses, sAMAccountNames and attribute names.
//!
//! Directories compare these without regard to case, so every comparison, hash and ordering here
//! folds case, while the original spelling is kept for display and for writing back.

mod attr_name;

pub use attr_name::{AttrName, NameKey, NameMemo, TooManyNames};

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Iterates the case-folded characters of `s` without allocating.
///
/// The one folding rule: each character lower-cased on its own (`char::to_lowercase`), with
/// no context. `str::to_lowercase` differs: it turns a word-final `Σ` into `ς`, so `ΣΑΣ`
/// would fold to `σας` as a key yet equal `σασ` under [`eq_ci`]. Every comparison, hash,
/// ordering and key here folds through this function.
fn folded(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase)
}

/// Case-insensitive equality without allocating (ASCII fast path).
#[inline]
pub fn eq_ci(a: &str, b: &str) -> bool {
    // Most comparisons are of different names: an ASCII first letter that differs settles it.
    if let (Some(&x), Some(&y)) = (a.as_bytes().first(), b.as_bytes().first())
        && x < 0x80
        && y < 0x80
        && !x.eq_ignore_ascii_case(&y)
    {
        return false;
    }
    if a.len() == b.len() && a.as_bytes().eq_ignore_ascii_case(b.as_bytes()) {
        return true;
    }
    // Different ASCII strings differ; only non-ASCII text can fold to equal bytes otherwise.
    if a.is_ascii() && b.is_ascii() {
        return false;
    }
    folded(a).eq(folded(b))
}

/// Whether `name` is in `list`, without case (attribute names).
pub fn listed(list: &[&str], name: &str) -> bool {
    list.iter().any(|n| eq_ci(n, name))
}

/// The folded form used as a hash-map key where a plain `String` key is wanted: equal for
/// two strings exactly when [`eq_ci`] holds.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        folded(s).collect()
    }
}

/// Case-insensitive ordering (ASCII fast path), consistent with [`eq_ci`].
pub fn cmp_ci(a: &str, b: &str) -> Ordering {
    for (&x, &y) in a.as_bytes().iter().zip(b.as_bytes()) {
        if x >= 0x80 || y >= 0x80 {
            return folded(a).cmp(folded(b));
        }
        match x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    if !(a.is_ascii() && b.is_ascii()) {
        return folded(a).cmp(folded(b));
    }
    a.len().cmp(&b.len())
}

/// Case-insensitive hashing (ASCII fast path), consistent with [`eq_ci`].
pub fn hash_ci<H: Hasher>(s: &str, state: &mut H) {
    if s.is_ascii() {
        // Lower-case into a buffer and hash whole chunks: one hasher call per 64 bytes, not
        // per byte.
        let mut buf = [0u8; 64];
        for chunk in s.as_bytes().chunks(buf.len()) {
            let out = &mut buf[..chunk.len()];
            out.copy_from_slice(chunk);
            out.make_ascii_lowercase();
            state.write(out);
        }
    } else {
        // The folded text as UTF-8, in the same 64-byte chunks as above: a non-ASCII name
        // that folds to ASCII (KELVIN SIGN -> `k`) must hash as its ASCII twin.
        let mut buf = [0u8; 64];
        let mut len = 0;
        for c in folded(s) {
            let mut utf8 = [0u8; 4];
            for &b in c.encode_utf8(&mut utf8).as_bytes() {
                if len == buf.len() {
                    state.write(&buf);
                    len = 0;
                }
                buf[len] = b;
                len += 1;
            }
        }
        if len > 0 {
            state.write(&buf[..len]);
        }
    }
    state.write_u8(0xff);
}

/// A borrowed string that compares, hashes and orders without case: a hash-map key over
/// names in the objects read, with no allocation.
#[derive(Clone, Copy, Debug)]
pub struct CiKey<'a>(pub &'a str);

impl PartialEq for CiKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        eq_ci(self.0, other.0)
    }
}
impl Eq for CiKey<'_> {}
impl Hash for CiKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_ci(self.0, state);
    }
}

/// Levenshtein distance over case-folded characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = folded(b).collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in folded(a).enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The names among `candidates` close to `query` for "did you mean": edit distance without
/// case of at most a third of the query's length (at least 2), nearest first, at most five.
pub fn closest<'c>(query: &str, candidates: impl IntoIterator<Item = &'c str>) -> Vec<&'c str> {
    let limit = (query.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| (edit_distance(query, c), c))
        .filter(|&(d, _)| d <= limit)
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| cmp_ci(a.1, b.1)));
    let mut out: Vec<&str> = Vec::new();
    for (_, c) in scored {
        if !out.iter().any(|o| eq_ci(o, c)) && out.len() < 5 {
            out.push(c);
        }
    }
    out
}

macro_rules! ci_name {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(Box<str>);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                // Boxed: no spare capacity, one word less, for the million held at once.
                Self(s.into().into_boxed_str())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0.into_string()
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                eq_ci(&self.0, &other.0)
            }
        }
        impl Eq for $name {}

        impl Hash for $name {
            fn hash<H: Hasher>(&self, state: &mut H) {
                hash_ci(&self.0, state);
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> Ordering {
                cmp_ci(&self.0, &other.0)
            }
        }
        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.into())
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s.into_boxed_str())
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

ci_name!(
    /// A userPrincipalName (`local@suffix`), compared without case.
    Upn
);
ci_name!(
    /// An SMTP address without its `SMTP:`/`smtp:` prefix, compared without case.
    SmtpAddress
);
ci_name!(
    /// An AD sAMAccountName, compared without case.
    SamAccountName
);

/// The part of a UPN after the last `@`, if any.
pub fn upn_suffix(upn: &str) -> Option<&str> {
    upn.rsplit_once('@').map(|(_, s)| s)
}

/// The part of a UPN before the last `@` (the whole value when there is none).
pub fn upn_local_part(upn: &str) -> &str {
    upn.rsplit_once('@').map_or(upn, |(l, _)| l)
}

impl Upn {
    /// The part after the last `@`, if any.
    pub fn suffix(&self) -> Option<&str> {
        upn_suffix(&self.0)
    }
    /// The part before the last `@` (the whole value when there is none).
    pub fn local_part(&self) -> &str {
        upn_local_part(&self.0)
    }
    /// The same local part on another suffix.
    pub fn with_suffix(&self, suffix: &str) -> Upn {
        Upn::new(format!("{}@{}", self.local_part(), suffix))
    }
}

/// One `proxyAddresses` value: `TYPE:address`. Upper-case `SMTP:` marks the primary address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyAddress<'a> {
    pub kind: &'a str,
    pub address: &'a str,
}

impl<'a> ProxyAddress<'a> {
    pub fn parse(value: &'a str) -> Option<Self> {
        let (kind, address) = value.split_once(':')?;
        Some(Self { kind, address })
    }
    pub fn is_smtp(&self) -> bool {
        self.kind.eq_ignore_ascii_case("smtp")
    }
    /// Primary: exactly `SMTP` in upper case, as Exchange and Entra Connect read it.
    pub fn is_primary_smtp(&self) -> bool {
        self.kind == "SMTP"
    }
}

/// The primary SMTP address among `proxyAddresses` values (the `SMTP:` one), if any.
pub fn primary_smtp<S: AsRef<str>>(
    proxy_addresses: impl IntoIterator<Item = S>,
) -> Option<SmtpAddress> {
    proxy_addresses.into_iter().find_map(|v| {
        ProxyAddress::parse(v.as_ref())
            .filter(ProxyAddress::is_primary_smtp)
            .map(|p| SmtpAddress::new(p.address))
    })
}

/// Every SMTP address (primary or secondary) among `proxyAddresses` values.
pub fn smtp_addresses<S: AsRef<str>>(
    proxy_addresses: impl IntoIterator<Item = S>,
) -> impl Iterator<Item = SmtpAddress> {
    proxy_addresses.into_iter().filter_map(|v| {
        ProxyAddress::parse(v.as_ref())
            .filter(ProxyAddress::is_smtp)
            .map(|p| SmtpAddress::new(p.address))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn closest_names_are_near_and_nearest_first() {
        let names = ["managers", "Sales", "sales-emea", "finance"];
        assert_eq!(closest("salse", names), ["Sales"]);
        assert_eq!(closest("SALES-EMA", names), ["sales-emea"]);
        assert!(closest("zzz", names).is_empty());
        assert_eq!(edit_distance("ÄB", "äc"), 1);
    }

    #[test]
    fn names_compare_and_hash_without_case() {
        assert_eq!(Upn::new("Adam@Example.COM"), Upn::new("adam@example.com"));
        let set: HashSet<_> = [Upn::new("Ärger@x.de"), Upn::new("ärger@X.DE")].into();
        assert_eq!(set.len(), 1);
        assert!(SamAccountName::new("a") < SamAccountName::new("B"));
        assert_eq!(Upn::new("Adam@Example.COM").to_string(), "Adam@Example.COM");
    }

    #[test]
    fn one_folding_rule_for_equality_keys_order_hashes_and_interning() {
        use std::hash::BuildHasher as _;
        let hasher = std::collections::hash_map::RandomState::new();
        let hash = |s: &str| hasher.hash_one(CiKey(s));
        // Final sigma: `str::to_lowercase` would give `σας`; the rule is per character.
        assert_eq!(fold("ΣΑΣ"), "σασ");
        assert_eq!(fold("ß"), "ß");
        assert_eq!(fold("İ"), "i\u{307}");
        for (a, b, same) in [
            ("ΣΑΣ", "σασ", true),
            ("ΣΑΣ", "ΣΑΣ", true),
            ("ΣΑΣ", "σας", false),
            ("ß", "ẞ", true),
            ("ß", "ss", false),
            ("İ", "i\u{307}", true),
            ("İ", "i", false),
            ("Ärger", "äRGER", true),
            // KELVIN SIGN lower-cases to an ASCII `k`, also past a 64-byte hash chunk.
            ("\u{212A}", "k", true),
            (
                &format!("{}\u{212A}x", "a".repeat(63)),
                &format!("{}kX", "a".repeat(63)),
                true,
            ),
        ] {
            let why = format!("{a} vs {b}");
            assert_eq!(eq_ci(a, b), same, "eq_ci {why}");
            assert_eq!(fold(a) == fold(b), same, "fold {why}");
            assert_eq!(cmp_ci(a, b) == Ordering::Equal, same, "cmp_ci {why}");
            assert_eq!(AttrName::new(a) == AttrName::new(b), same, "AttrName {why}");
            assert_eq!(listed(&[b], a), same, "listed {why}");
            if same {
                assert_eq!(hash(a), hash(b), "hash_ci {why}");
            }
        }
    }

    #[test]
    fn upn_suffix_rewrite() {
        let upn = Upn::new("jdoe@corp.local");
        assert_eq!(upn.suffix(), Some("corp.local"));
        assert_eq!(upn.with_suffix("example.com").as_str(), "jdoe@example.com");
    }

    #[test]
    fn primary_smtp_is_the_upper_case_entry() {
        let values = vec![
            "smtp:old@example.com".to_owned(),
            "SMTP:New@Example.com".to_owned(),
            "X500:/o=x".to_owned(),
        ];
        assert_eq!(
            primary_smtp(&values),
            Some(SmtpAddress::new("new@example.com"))
        );
        assert_eq!(smtp_addresses(&values).count(), 2);
        assert_eq!(primary_smtp(&["smtp:a@b.c".to_owned()]), None);
    }
}
