//! Evaluation against an entry, with Active Directory's matching semantics.

use super::*;

impl Filter {
    /// Evaluates the filter against an entry with AD's semantics (see [`AttributeLookup`]).
    ///
    /// Iterative (an explicit stack, short-circuiting like `&&`/`||`), so no nesting depth can
    /// overflow the thread's stack.
    pub fn matches<L: AttributeLookup + ?Sized>(&self, entry: &L) -> bool {
        /// A composite whose children are being evaluated; `Iter` holds the ones still to come.
        enum Frame<'f> {
            And(std::slice::Iter<'f, Filter>),
            Or(std::slice::Iter<'f, Filter>),
            Not,
        }
        let mut stack: Vec<Frame<'_>> = Vec::new();
        let mut current = self;
        loop {
            // Descend to the first leaf (or empty composite) under `current`.
            let mut result = match current {
                Filter::And(list) => {
                    let mut rest = list.iter();
                    match rest.next() {
                        Some(first) => {
                            stack.push(Frame::And(rest));
                            current = first;
                            continue;
                        }
                        None => true,
                    }
                }
                Filter::Or(list) => {
                    let mut rest = list.iter();
                    match rest.next() {
                        Some(first) => {
                            stack.push(Frame::Or(rest));
                            current = first;
                            continue;
                        }
                        None => false,
                    }
                }
                Filter::Not(inner) => {
                    stack.push(Frame::Not);
                    current = inner;
                    continue;
                }
                leaf => leaf.matches_item(entry),
            };
            // Climb until a composite has another child to evaluate.
            loop {
                let next = match stack.last_mut() {
                    None => return result,
                    Some(Frame::Not) => {
                        result = !result;
                        None
                    }
                    Some(Frame::And(rest)) if result => rest.next(),
                    Some(Frame::Or(rest)) if !result => rest.next(),
                    Some(_) => None, // decided: false for `&`, true for `|`
                };
                match next {
                    Some(child) => {
                        current = child;
                        break;
                    }
                    None => {
                        stack.pop();
                    }
                }
            }
        }
    }

    /// One item (not `&`, `|` or `!`) against an entry.
    fn matches_item<L: AttributeLookup + ?Sized>(&self, entry: &L) -> bool {
        match self {
            // Composites are handled by `matches`; here only for completeness.
            Filter::And(_) | Filter::Or(_) | Filter::Not(_) => self.matches(entry),
            Filter::Present { attr } => !entry.values(attr).is_empty(),
            Filter::Equality { attr, value } => {
                if attr.eq_ignore_ascii_case("objectCategory") && !value.contains(&b'=') {
                    return object_category_matches(entry, value);
                }
                any_value(entry, attr, |v| value_eq(v, value))
            }
            Filter::Approx { attr, value } => any_value(entry, attr, |v| approx_eq(v, value)),
            Filter::GreaterOrEqual { attr, value } => {
                any_value(entry, attr, |v| compare(v, value) != Ordering::Less)
            }
            Filter::LessOrEqual { attr, value } => {
                any_value(entry, attr, |v| compare(v, value) != Ordering::Greater)
            }
            Filter::Substrings {
                attr,
                initial,
                any,
                final_,
            } => any_value(entry, attr, |v| {
                substrings_match(v, initial.as_deref(), any, final_.as_deref())
            }),
            Filter::Extensible {
                attr,
                rule,
                dn_attributes,
                value,
            } => extensible_matches(
                entry,
                attr.as_deref(),
                rule.as_deref(),
                *dn_attributes,
                value,
            ),
        }
    }
}

/// Something a filter can be evaluated against.
///
/// AD semantics: attribute names are compared without case; text values compare without case
/// for equality, substrings and ordering; `>=`/`<=` compare numerically when both sides are
/// integers; an absent attribute makes every test on it false.
pub trait AttributeLookup {
    /// Every value of the attribute (any case of its name); empty when absent.
    fn values(&self, attr: &str) -> Vec<Cow<'_, [u8]>>;
    /// The entry's DN, for `:dn:` matches.
    fn dn(&self) -> Option<String> {
        None
    }
}

impl AttributeLookup for Entry {
    fn values(&self, attr: &str) -> Vec<Cow<'_, [u8]>> {
        Entry::values(self, attr)
            .into_iter()
            .map(Cow::Borrowed)
            .collect()
    }
    fn dn(&self) -> Option<String> {
        Some(Entry::dn(self).to_owned())
    }
}

impl AttributeLookup for AdUser {
    fn values(&self, attr: &str) -> Vec<Cow<'_, [u8]>> {
        let text = |s: &str| vec![Cow::Owned(s.as_bytes().to_vec())];
        let is = |name: &str| attr.eq_ignore_ascii_case(name);
        if is("objectGUID") {
            vec![Cow::Owned(self.object_guid.0.to_vec())]
        } else if is("mS-DS-ConsistencyGuid") {
            self.consistency_guid
                .iter()
                .map(|g| Cow::Borrowed(g.as_slice()))
                .collect()
        } else if is("distinguishedName") {
            text(self.dn.as_str())
        } else if is("userAccountControl") {
            self.user_account_control
                .iter()
                .flat_map(|v| text(&v.to_string()))
                .collect()
        } else if is("uSNChanged") {
            self.usn_changed
                .iter()
                .flat_map(|v| text(&v.to_string()))
                .collect()
        } else {
            // Every text attribute, sAMAccountName, UPN, mail and proxyAddresses included.
            self.attributes
                .values(attr)
                .map(|v| Cow::Borrowed(v.as_bytes()))
                .collect()
        }
    }
    fn dn(&self) -> Option<String> {
        Some(self.dn.to_string())
    }
}

fn any_value<L: AttributeLookup + ?Sized>(
    entry: &L,
    attr: &str,
    test: impl Fn(&[u8]) -> bool,
) -> bool {
    entry.values(attr).iter().any(|v| test(v))
}

fn as_text(v: &[u8]) -> Option<&str> {
    std::str::from_utf8(v).ok()
}

fn value_eq(stored: &[u8], asserted: &[u8]) -> bool {
    match (as_text(stored), as_text(asserted)) {
        (Some(a), Some(b)) => eq_ci(a, b),
        _ => stored == asserted,
    }
}

/// AD evaluates `~=` as a case-insensitive equality; we also ignore runs of whitespace.
fn approx_eq(stored: &[u8], asserted: &[u8]) -> bool {
    match (as_text(stored), as_text(asserted)) {
        (Some(a), Some(b)) => {
            let squash = |s: &str| fold(&s.split_whitespace().collect::<Vec<_>>().join(" "));
            squash(a) == squash(b)
        }
        _ => stored == asserted,
    }
}

fn compare(stored: &[u8], asserted: &[u8]) -> Ordering {
    let int = |v: &[u8]| as_text(v).and_then(|s| s.trim().parse::<i64>().ok());
    if let (Some(a), Some(b)) = (int(stored), int(asserted)) {
        return a.cmp(&b);
    }
    match (as_text(stored), as_text(asserted)) {
        (Some(a), Some(b)) => fold(a).cmp(&fold(b)),
        _ => stored.cmp(asserted),
    }
}

fn substrings_match(
    stored: &[u8],
    initial: Option<&[u8]>,
    any: &[Vec<u8>],
    final_: Option<&[u8]>,
) -> bool {
    // Text compares case-folded; binary byte for byte.
    let folded = |v: &[u8]| -> Vec<u8> {
        match as_text(v) {
            Some(s) => fold(s).into_bytes(),
            None => v.to_vec(),
        }
    };
    let hay = folded(stored);
    let mut rest: &[u8] = &hay;
    if let Some(initial) = initial {
        let initial = folded(initial);
        match rest.strip_prefix(initial.as_slice()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    let final_ = final_.map(folded);
    if let Some(final_) = &final_ {
        match rest.strip_suffix(final_.as_slice()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    for part in any {
        let part = folded(part);
        match find(rest, &part) {
            // Cannot fail: `find` found `part` at `at`, so it ends within `rest`.
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// AD accepts `objectCategory=person` for `CN=Person,CN=Schema,…`: a short name stands for the
/// class's defaultObjectCategory (for `user`, `contact` and the person classes: `Person`).
fn object_category_matches<L: AttributeLookup + ?Sized>(entry: &L, short: &[u8]) -> bool {
    let Some(short) = as_text(short) else {
        return false;
    };
    let short = match fold(short).as_str() {
        "user" | "contact" | "organizationalperson" | "inetorgperson" => "person".to_owned(),
        other => other.to_owned(),
    };
    entry.values("objectCategory").iter().any(|v| {
        let Some(stored) = as_text(v) else {
            return false;
        };
        match Dn::parse(stored).ok().and_then(|dn| dn.leaf_value()) {
            Some(leaf) => eq_ci(&leaf, &short),
            None => eq_ci(stored, &short),
        }
    })
}

fn extensible_matches<L: AttributeLookup + ?Sized>(
    entry: &L,
    attr: Option<&str>,
    rule: Option<&str>,
    dn_attributes: bool,
    asserted: &[u8],
) -> bool {
    let Some(test) = rule_test(rule, asserted) else {
        return false; // an unknown matching rule is undefined, hence false
    };
    let mut matched = attr.is_some_and(|a| any_value(entry, a, &test));
    if !matched && dn_attributes {
        // `:dn:` also tests the attribute values of the entry's DN.
        matched = entry
            .dn()
            .and_then(|dn| Dn::parse(&dn).ok())
            .is_some_and(|dn| {
                dn.rdns().iter().flatten().any(|ava| {
                    attr.is_none_or(|a| ava.attr.eq_ignore_ascii_case(a))
                        && test(ava.value.as_bytes())
                })
            });
    }
    matched
}

/// An integer attribute value as a bit pattern (negative values are two's complement, as AD
/// stores `groupType`).
fn as_bits(v: &[u8]) -> Option<u64> {
    as_text(v)
        .and_then(|s| s.trim().parse::<i64>().ok())
        .map(|i| i as u64)
}

/// A test of one attribute value.
type ValueTest<'a> = Box<dyn Fn(&[u8]) -> bool + 'a>;

/// The value test for a matching rule, or `None` for one we cannot evaluate.
fn rule_test<'a>(rule: Option<&str>, asserted: &'a [u8]) -> Option<ValueTest<'a>> {
    let Some(rule) = rule else {
        return Some(Box::new(move |v| value_eq(v, asserted)));
    };
    let bits = as_bits(asserted);
    match rule {
        RULE_BIT_AND => {
            let bits = bits?;
            Some(Box::new(move |v| {
                as_bits(v).is_some_and(|x| x & bits == bits)
            }))
        }
        RULE_BIT_OR => {
            let bits = bits?;
            Some(Box::new(move |v| as_bits(v).is_some_and(|x| x & bits != 0)))
        }
        // A snapshot holds no group expansion; direct values are the first link of the chain.
        RULE_IN_CHAIN | "2.5.13.2" | "caseIgnoreMatch" | "2.5.13.1" | "distinguishedNameMatch" => {
            Some(Box::new(move |v| value_eq(v, asserted)))
        }
        "2.5.13.5" | "caseExactMatch" => Some(Box::new(move |v| v == asserted)),
        _ => None,
    }
}
