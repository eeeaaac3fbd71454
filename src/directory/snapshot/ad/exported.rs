//! What an export carries: which attributes a plan may trust the file to hold, judged from
//! the attributes its users carry and ldapsearch's `# requesting:` headers. Shared by the
//! snapshot ([`super::AdSnapshot`]) and the plan's read of it ([`super::AdPlanRead`]), which
//! gather the same facts, one over kept entries and one as entries stream past.

use compact_str::CompactString;
use foldhash::HashSet;

use crate::directory::ldif::Requesting;
use crate::directory::schema;
use crate::names::AttrName;

/// The attribute types some entry carries, distinct without regard to case.
#[derive(Debug, Default)]
pub(super) struct Carried {
    /// One spelling of each.
    names: Vec<CompactString>,
    /// Every spelling met: an export has a few dozen distinct names and millions of lines,
    /// nearly all spelled as before, so most lines cost one hash lookup.
    seen: HashSet<CompactString>,
}

impl Carried {
    pub(super) fn add<'a>(&mut self, names: impl Iterator<Item = &'a str>) {
        for name in names {
            if self.seen.contains(name) {
                continue;
            }
            self.seen.insert(name.into());
            if !self.names.iter().any(|c| c.eq_ignore_ascii_case(name)) {
                self.names.push(name.into());
            }
        }
    }
}

/// Of `headers`, the position of the one that precedes an entry at `line` (the header of the
/// search that returned it), if any. Entries added since the file was read (line 0) have none.
pub(super) fn header_of(headers: &[Requesting], line: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    headers.partition_point(|h| h.line < line).checked_sub(1)
}

/// The headers of the searches that returned the picked entries (`used`, by position). A
/// file of several concatenated searches (users, then groups, as `idsync snapshot` writes it)
/// has one header per search, each followed by its entries; an attribute the groups' search
/// did not ask for says nothing about users. With at most one header, or none covering a
/// picked entry, every header counts.
pub(super) fn covering<'h>(headers: &'h [Requesting], used: &[bool]) -> Vec<&'h Requesting> {
    if headers.len() <= 1 || !used.contains(&true) {
        return headers.iter().collect();
    }
    headers
        .iter()
        .zip(used.iter().copied().chain(std::iter::repeat(false)))
        .filter(|(_, used)| *used)
        .map(|(h, _)| h)
        .collect()
}

/// Of the attributes a plan wants, those the export did not carry (see
/// [`super::AdSnapshot::not_exported`] for the rule). `carried` are the attribute types some
/// user holds, `headers` those covering users.
pub(super) fn not_exported(
    carried: &Carried,
    headers: &[&Requesting],
    wanted: &[AttrName],
) -> Vec<AttrName> {
    if carried.names.is_empty() {
        return Vec::new();
    }
    let requested = |name: &str| {
        !headers.is_empty()
            && headers.iter().all(|h| {
                let has = |token: &str| h.attributes.iter().any(|a| a == token);
                let operational = schema::is_operational(name);
                h.attributes.iter().any(|a| {
                    a.split(';')
                        .next()
                        .is_some_and(|t| t.eq_ignore_ascii_case(name))
                }) || (!operational && (has("ALL") || has("*")))
                    || (operational && has("+"))
            })
    };
    let mut missing: Vec<AttrName> = Vec::new();
    for &name in wanted {
        let n = name.as_str();
        let known = n.eq_ignore_ascii_case("dn")
            || n.eq_ignore_ascii_case("distinguishedName")
            || carried.names.iter().any(|c| c.eq_ignore_ascii_case(n))
            || requested(n);
        if !known && !missing.contains(&name) {
            missing.push(name);
        }
    }
    missing
}

/// Whether groups' `member` is known: no group at all, some group with a value, or every
/// header covering groups asked for it.
pub(super) fn members_exported(any_group: bool, any_member: bool, headers: &[&Requesting]) -> bool {
    if !any_group || any_member {
        return true;
    }
    !headers.is_empty()
        && headers.iter().all(|h| {
            h.attributes.iter().any(|a| {
                a == "*"
                    || a == "ALL"
                    || a.split(';')
                        .next()
                        .is_some_and(|t| t.eq_ignore_ascii_case("member"))
            })
        })
}

/// Why [`not_exported`] names what it names, for the plan's note.
pub(super) fn why(has_headers: bool) -> &'static str {
    if has_headers {
        "the ldapsearch that made the LDIF export did not request them (its `# requesting:` line): add them to its attribute list"
    } else {
        "no user in the LDIF export has a value for them, so the export was most likely made without them: add them to its attribute list (`ldapsearch … ATTR`, `ldifde -l ATTR,…`)"
    }
}
