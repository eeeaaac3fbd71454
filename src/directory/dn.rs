//! Distinguished names (RFC 4514): parsing, escaping, case-insensitive comparison and subtree
//! tests.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Why a string is not a distinguished name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid DN {dn:?}: {reason}")]
pub struct DnError {
    pub dn: String,
    pub reason: &'static str,
}

/// A distinguished name. Keeps the spelling it was given; compares by the normalised form
/// (attribute types and values folded to lower case, escapes resolved, spacing ignored), as AD
/// does.
///
/// Only the text and a hash of the normalised form are stored (a million DNs are read at
/// once); the normalised form is computed when a comparison needs it, and DNs in the plain
/// shape AD writes (`CN=Name,OU=Sales,DC=corp`) compare without computing it at all.
#[derive(Clone)]
pub struct Dn {
    raw: Box<str>,
    /// Hash of the normalised form.
    hash: u64,
    /// `raw` has no escapes, quotes, `+`, `;` or spaces around separators: its normalised
    /// form is its ASCII lower case.
    plain: bool,
}

/// One attribute-value pair of an RDN, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ava {
    pub attr: String,
    pub value: String,
}

/// The normalised form: RDNs joined with `,`, leaf first, folded; multi-valued RDNs sorted.
/// Values are re-escaped so the joining is unambiguous.
fn normalise(rdns: &[Vec<Ava>]) -> String {
    rdns.iter()
        .map(|rdn| {
            let mut avas: Vec<String> = rdn
                .iter()
                .map(|a| {
                    format!(
                        "{}={}",
                        a.attr.to_ascii_lowercase(),
                        escape_value(&a.value.to_lowercase())
                    )
                })
                .collect();
            avas.sort();
            avas.join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn is_plain(raw: &str) -> bool {
    // Printable ASCII and spaces only: the parser trims tabs around types and resolves NUL to
    // `\00`, which a plain lower-casing would not.
    raw.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        && !raw
            .bytes()
            .any(|b| matches!(b, b'\\' | b'"' | b'+' | b';' | b'<' | b'>' | b'#'))
        && !raw.contains(", ")
        && !raw.contains(" ,")
        && !raw.contains("= ")
        && !raw.contains(" =")
        && !raw.starts_with(' ')
        && !raw.ends_with(' ')
}

/// For a [`is_plain`] string: whether [`parse_rdns`] accepts it, told without building the
/// RDNs. `false` is "not sure": the full parser decides (and words the error).
fn plain_is_valid(raw: &str) -> bool {
    !raw.is_empty()
        && raw.split(',').all(|rdn| {
            rdn.split_once('=')
                .is_some_and(|(attr, value)| !attr.trim().is_empty() && !value.contains('='))
        })
}

/// `raw` without surrounding whitespace, keeping an escaped trailing space (`CN=a\ `).
fn trim(raw: &str) -> &str {
    let trimmed = raw.trim();
    let backslashes = trimmed.bytes().rev().take_while(|&b| b == b'\\').count();
    if backslashes % 2 == 1 {
        let start = raw.len() - raw.trim_start().len();
        // The escaped character is the first one `trim` cut off.
        let cut = raw[start + trimmed.len()..]
            .chars()
            .next()
            .map_or(0, char::len_utf8);
        &raw[start..start + trimmed.len() + cut]
    } else {
        trimmed
    }
}

fn hash_of(norm: &str) -> u64 {
    use std::hash::BuildHasher;
    // A fixed seed: the value is stored, so it must not depend on a random one. (It is never
    // written out, so the hasher may change between versions; SipHash was 1.4 % of a plan.)
    foldhash::fast::FixedState::default().hash_one(norm)
}

impl Dn {
    /// Parses an RFC 4514 string. The empty string is the root DN.
    pub fn parse(raw: &str) -> Result<Self, DnError> {
        let raw = trim(raw);
        let plain = is_plain(raw);
        if plain && plain_is_valid(raw) {
            // The shape AD writes: valid without building the RDNs (a group read parses
            // every one of 100,000 member DNs).
            return Ok(Self {
                raw: raw.into(),
                hash: hash_of(&raw.to_ascii_lowercase()),
                plain,
            });
        }
        let rdns = parse_rdns(raw)?;
        let hash = if plain {
            hash_of(&raw.to_ascii_lowercase())
        } else {
            hash_of(&normalise(&rdns))
        };
        Ok(Self {
            raw: raw.into(),
            hash,
            plain,
        })
    }

    /// Builds `ATTR=escaped(value),parent`.
    pub fn child(attr: &str, value: &str, parent: &Dn) -> Dn {
        let raw = if parent.raw.is_empty() {
            format!("{attr}={}", escape_value(value))
        } else {
            format!("{attr}={},{}", escape_value(value), parent.raw)
        };
        // Cannot fail: the value is escaped and the parent is a valid DN.
        Dn::parse(&raw).expect("escaped DN parses")
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// A hash of the normalised form: equal DNs have equal values.
    pub fn hash_value(&self) -> u64 {
        self.hash
    }

    pub fn is_root(&self) -> bool {
        self.raw.is_empty()
    }

    /// The normalised form (see [`normalise`]).
    fn norm(&self) -> String {
        if self.plain {
            self.raw.to_ascii_lowercase()
        } else {
            normalise(&self.rdns())
        }
    }

    /// The RDNs, leaf first, unescaped.
    pub fn rdns(&self) -> Vec<Vec<Ava>> {
        // Cannot fail: `raw` was parsed when the Dn was built.
        parse_rdns(&self.raw).expect("validated at construction")
    }

    /// The first RDN's first value (the `CN` of a user), unescaped.
    pub fn leaf_value(&self) -> Option<String> {
        self.rdns()
            .into_iter()
            .next()?
            .into_iter()
            .next()
            .map(|a| a.value)
    }

    /// The DN one level up; `None` for the root.
    pub fn parent(&self) -> Option<Dn> {
        if self.is_root() {
            return None;
        }
        match separators(&self.raw).next() {
            Some(i) => Dn::parse(&self.raw[i + 1..]).ok(),
            // Cannot fail: the empty DN is the root.
            None => Some(Dn::parse("").expect("root")),
        }
    }

    /// True when `self` is `base` or lies below it.
    pub fn is_within(&self, base: &Dn) -> bool {
        if base.is_root() {
            return true;
        }
        if self.plain && base.plain {
            let (s, b) = (self.raw.as_bytes(), base.raw.as_bytes());
            return s.len() >= b.len()
                && s[s.len() - b.len()..].eq_ignore_ascii_case(b)
                && (s.len() == b.len() || s[s.len() - b.len() - 1] == b',');
        }
        let (mine, theirs) = (self.rdns(), base.rdns());
        if mine.len() < theirs.len() {
            return false;
        }
        normalise(&mine[mine.len() - theirs.len()..]) == normalise(&theirs)
    }
}

impl PartialEq for Dn {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && ((self.plain && other.plain && self.raw.eq_ignore_ascii_case(&other.raw))
                || self.norm() == other.norm())
    }
}
impl Eq for Dn {}
impl Hash for Dn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}
impl Ord for Dn {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.plain && other.plain {
            crate::names::cmp_ci(&self.raw, &other.raw)
        } else {
            self.norm().cmp(&other.norm())
        }
    }
}
impl PartialOrd for Dn {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}
impl fmt::Debug for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.raw, f)
    }
}
impl std::str::FromStr for Dn {
    type Err = DnError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dn::parse(s)
    }
}

/// Byte offsets of the unescaped RDN separators (`,`, or `;` in the old syntax) of a DN
/// string: the one scanner every DN split uses.
pub fn separators(raw: &str) -> impl Iterator<Item = usize> + '_ {
    let mut escaped = false;
    raw.bytes().enumerate().filter_map(move |(i, b)| match b {
        _ if escaped => {
            escaped = false;
            None
        }
        b'\\' => {
            escaped = true;
            None
        }
        b',' | b';' => Some(i),
        _ => None,
    })
}

/// Whether the DN's first RDN carries AD's mangling mark (`\0ACNF:`, `\0ADEL:`): a line
/// feed, escaped, then the mark and the object's GUID.
pub fn rdn_mark(dn: &str, mark: &str) -> bool {
    // Nearly every DN has no escaped line feed at all: answered without splitting it.
    let bytes = dn.as_bytes();
    if !memchr::memchr_iter(b'\\', bytes).any(|i| {
        bytes
            .get(i + 1..i + 3)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"0a"))
    }) {
        return false;
    }
    let first = split_rdns(dn).into_iter().next().unwrap_or_default();
    first.as_bytes().windows(3 + mark.len()).any(|w| {
        w[..3].eq_ignore_ascii_case(b"\\0a") && w[3..].eq_ignore_ascii_case(mark.as_bytes())
    })
}

/// A DN string split at its unescaped separators, each RDN's text as written (trimmed).
pub fn split_rdns(raw: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for i in separators(raw) {
        parts.push(raw[start..i].trim());
        start = i + 1;
    }
    parts.push(raw[start..].trim());
    parts
}

/// `raw` (a DN below an object `depth` RDNs deep) with that object's DN replaced by `new_base`.
pub fn rebase(raw: &str, depth: usize, new_base: &Dn) -> String {
    let rdns = split_rdns(raw);
    let keep = rdns.len().saturating_sub(depth);
    let mut parts: Vec<&str> = rdns[..keep].to_vec();
    parts.push(new_base.as_str());
    parts.join(",")
}

/// The trailing `DC=` RDNs of a DN (the domain), if it has any.
pub fn dc_suffix(dn: &Dn) -> Option<Dn> {
    let mut current = Some(dn.clone());
    while let Some(d) = current {
        if d.is_root() {
            return None;
        }
        let all_dc = d
            .rdns()
            .iter()
            .all(|rdn| rdn.iter().all(|a| a.attr.eq_ignore_ascii_case("DC")));
        if all_dc {
            return Some(d);
        }
        current = d.parent();
    }
    None
}

/// The domain a set of DNs lies in: the `DC=` suffix of their common ancestor, else the
/// common ancestor itself.
pub fn domain_of(dns: &[Dn]) -> Option<Dn> {
    let mut common = dns.first()?.clone();
    for dn in &dns[1..] {
        while !dn.is_within(&common) {
            common = common.parent()?;
        }
    }
    Some(dc_suffix(&common).unwrap_or(common))
}

/// Escapes an attribute value for use inside a DN (RFC 4514 section 2.4).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            // Other whitespace at either end would be trimmed by `Dn::parse`: hex-escape it.
            c if c.is_whitespace() && (i == 0 || i == last) => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:02X}"));
                }
            }
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

fn err(dn: &str, reason: &'static str) -> DnError {
    DnError {
        dn: dn.to_owned(),
        reason,
    }
}

fn parse_rdns(raw: &str) -> Result<Vec<Vec<Ava>>, DnError> {
    let s = trim(raw);
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut rdns = Vec::new();
    let mut rdn = Vec::new();
    let mut chars = s.char_indices().peekable();
    loop {
        // attribute type
        let mut attr = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c == '=' {
                break;
            }
            if matches!(c, ',' | '+' | ';') && attr.trim().is_empty() {
                return Err(err(raw, "empty relative name (two separators in a row?)"));
            }
            if matches!(c, ',' | '+' | ';' | '\\' | '"') {
                return Err(err(raw, "attribute type contains a special character"));
            }
            attr.push(c);
            chars.next();
        }
        if chars.next().is_none() {
            return Err(err(raw, "missing '=' in a relative name"));
        }
        let attr = attr.trim().to_owned();
        if attr.is_empty() {
            return Err(err(raw, "empty attribute type"));
        }
        // attribute value, with escapes; trailing unescaped spaces are insignificant
        let mut value: Vec<u8> = Vec::new();
        let mut significant_len = 0;
        while chars.peek().is_some_and(|&(_, c)| c == ' ') {
            chars.next();
        }
        let mut end = None;
        while let Some((_, c)) = chars.next() {
            match c {
                '\\' => {
                    let Some((_, e)) = chars.next() else {
                        return Err(err(raw, "dangling '\\' at the end"));
                    };
                    if e.is_ascii_hexdigit() {
                        let Some((_, e2)) = chars.next().filter(|(_, c)| c.is_ascii_hexdigit())
                        else {
                            return Err(err(raw, "bad hex escape"));
                        };
                        let byte = u8::from_str_radix(&format!("{e}{e2}"), 16)
                            .map_err(|_| err(raw, "bad hex escape"))?;
                        value.push(byte);
                    } else {
                        let mut buf = [0u8; 4];
                        value.extend_from_slice(e.encode_utf8(&mut buf).as_bytes());
                    }
                    significant_len = value.len();
                }
                ',' | ';' | '+' => {
                    end = Some(c);
                    break;
                }
                '"' | '<' | '>' | '=' => {
                    return Err(err(raw, "unescaped special character in a value"));
                }
                _ => {
                    let mut buf = [0u8; 4];
                    value.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    if c != ' ' {
                        significant_len = value.len();
                    }
                }
            }
        }
        value.truncate(significant_len);
        let value = String::from_utf8(value).map_err(|_| err(raw, "value is not UTF-8"))?;
        rdn.push(Ava { attr, value });
        match end {
            Some('+') => continue,
            Some(_) => {
                rdns.push(std::mem::take(&mut rdn));
                if chars.peek().is_none() {
                    return Err(err(raw, "trailing separator"));
                }
            }
            None => {
                rdns.push(rdn);
                return Ok(rdns);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    #[test]
    fn mangling_marks_are_found_in_the_first_rdn_only() {
        assert!(rdn_mark("CN=a\\0ADEL:1234,CN=Deleted Objects,DC=x", "DEL:"));
        assert!(rdn_mark("CN=a\\0acnf:1234,OU=p,DC=x", "CNF:"));
        assert!(!rdn_mark("CN=a\\0ADEL:1234,OU=p,DC=x", "CNF:"));
        // Other escapes, a mark in a later RDN, a backslash at the very end.
        assert!(!rdn_mark("CN=Smith\\, John,OU=a\\0ADEL:1,DC=x", "DEL:"));
        assert!(!rdn_mark("CN=a,DC=x\\", "DEL:"));
        assert!(!rdn_mark("CN=plain,DC=x", "DEL:"));
    }

    /// The plain fast path accepts exactly what the full parser accepts, with the same hash.
    #[test]
    fn the_plain_fast_path_agrees_with_the_parser() {
        for raw in [
            "CN=Adam,OU=Sales,DC=corp",
            "CN=,DC=x",
            "CN=a,,DC=x",
            "CN=a,DC=x,",
            "CN=a=b,DC=x",
            "CNa,DC=x",
            "=a,DC=x",
            "C N=a",
            "CN=a b,OU=c d",
            "x",
            ",",
            "CN=a",
        ] {
            let full = parse_rdns(raw);
            let fast = is_plain(raw) && plain_is_valid(raw);
            if fast {
                assert!(
                    full.is_ok(),
                    "{raw}: fast path accepts what the parser refuses"
                );
                assert_eq!(
                    hash_of(&raw.to_ascii_lowercase()),
                    hash_of(&normalise(&full.unwrap())),
                    "{raw}"
                );
            }
            assert_eq!(Dn::parse(raw).is_ok(), parse_rdns(raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn compares_without_case_or_spacing() {
        assert_eq!(
            dn("CN=Adam,OU=Sales,DC=corp"),
            dn("cn=adam, ou=SALES,dc=Corp")
        );
        assert_ne!(dn("CN=Adam,OU=Sales"), dn("CN=Adam,OU=Sale"));
    }

    #[test]
    fn one_scanner_splits_parents_rebases_and_finds_the_domain() {
        let raw = "CN=a\\,b, CN=Dev;OU=Old,DC=x";
        assert_eq!(separators(raw).collect::<Vec<_>>(), [7, 15, 22]);
        assert_eq!(split_rdns(raw), ["CN=a\\,b", "CN=Dev", "OU=Old", "DC=x"]);
        assert_eq!(dn(raw).parent(), Some(dn("CN=Dev,OU=Old,DC=x")));
        assert_eq!(
            rebase("CN=a\\,b, CN=Dev,OU=Old,DC=x", 2, &dn("OU=New,OU=Top,DC=x")),
            "CN=a\\,b,CN=Dev,OU=New,OU=Top,DC=x"
        );
        assert_eq!(
            domain_of(&[dn("CN=a,OU=S,DC=corp,DC=x"), dn("CN=b,OU=T,DC=corp,DC=x")]),
            Some(dn("DC=corp,DC=x"))
        );
        assert_eq!(dc_suffix(&dn("CN=a,OU=S")), None);
    }

    #[test]
    fn subtree() {
        let base = dn("OU=Office365,DC=corp,DC=example,DC=com");
        assert!(dn("CN=a,OU=Office365,DC=corp,DC=example,DC=com").is_within(&base));
        assert!(dn("CN=a,OU=Service,OU=office365,DC=corp,DC=example,DC=com").is_within(&base));
        assert!(base.is_within(&base));
        assert!(!dn("CN=a,OU=XOffice365,DC=corp,DC=example,DC=com").is_within(&base));
        assert!(!dn("CN=a,OU=Other,DC=corp,DC=example,DC=com").is_within(&base));
    }

    #[test]
    fn escapes_round_trip() {
        for value in [
            "Smith, John",
            "a+b",
            "\"quoted\"",
            "back\\slash",
            "<tag>;",
            "#hash",
            " lead",
            "trail ",
            "Zoë Ærø",
            "x=y",
        ] {
            let parent = dn("OU=Users,DC=corp");
            let child = Dn::child("CN", value, &parent);
            assert_eq!(child.leaf_value().as_deref(), Some(value), "{}", child);
            assert_eq!(child.parent().unwrap(), parent);
        }
    }

    #[test]
    fn hex_escapes_and_errors() {
        assert_eq!(
            dn("CN=Ren\\C3\\A9,DC=x").leaf_value().as_deref(),
            Some("René")
        );
        assert!(Dn::parse("CN=a,").is_err());
        assert!(Dn::parse("novalue").is_err());
        assert!(Dn::parse("CN=a\\").is_err());
        assert!(Dn::parse("CN=a\"b").is_err());
    }

    #[test]
    fn plain_and_escaped_forms_agree() {
        // The same DN written plainly and with escapes/spacing compares equal and hashes alike.
        let plain = dn("CN=Adam,OU=Sales,DC=corp");
        let spaced = dn("CN = Adam , OU=Sales, DC=corp");
        let hexed = dn("CN=\\41dam,OU=Sales,DC=corp");
        assert_eq!(plain, spaced);
        assert_eq!(plain, hexed);
        let set: std::collections::HashSet<Dn> = [plain.clone(), spaced, hexed].into();
        assert_eq!(set.len(), 1);
        assert!(dn("CN=x,OU=A\\,B,DC=corp").is_within(&dn("OU=a\\,b,dc=CORP")));
        assert!(!dn("CN=x,OU=A\\,B,DC=corp").is_within(&dn("OU=B,DC=corp")));
        assert!(plain.is_within(&dn("dc=corp")));
    }

    #[test]
    fn multi_valued_rdn_is_unordered() {
        assert_eq!(dn("CN=a+UID=b,DC=x"), dn("uid=B+cn=A,dc=X"));
    }
}
