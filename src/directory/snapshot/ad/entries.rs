//! What the entries of an export are (users, tombstones, conflict objects), and users decoded
//! from them.

use crate::directory::Dn;
use crate::directory::dn::rdn_mark;
use crate::directory::ldif::{COMPLETE_EXPORT, Entry, LdifError, LdifFile};
use crate::directory::model::{
    AdContact, AdGroup, AdUser, AttributeSource, DecodeError, EachAttribute, Guid, ObjectKind,
    each_attribute_by_name,
};
use crate::names::{eq_ci, listed};

pub(super) fn root() -> Dn {
    // Cannot fail: the empty DN is the root.
    Dn::parse("").unwrap_or_else(|_| unreachable!("the empty DN is the root"))
}

pub(super) fn has_class(entry: &Entry, classes: &[&str]) -> bool {
    // Over the lines in place: every read asks this of every entry.
    entry
        .lines()
        .iter()
        .filter(|l| l.name().eq_ignore_ascii_case("objectClass"))
        .filter_map(|l| std::str::from_utf8(l.value()).ok())
        .any(|c| listed(classes, c))
}

/// A live user: see [`is_kind`].
pub(super) fn is_user(entry: &Entry) -> bool {
    is_kind(entry, ObjectKind::User)
}

/// A live object of the kind: its class and none of the classes that derive from it but are
/// other things (as [`ObjectKind::ad_filter`] reads live), neither deleted nor a replication
/// conflict's loser.
pub(super) fn is_kind(entry: &Entry, kind: ObjectKind) -> bool {
    // One pass over the lines (every read asks this of every entry, for each kind).
    let (mut class, mut excluded, mut deleted) = (false, false, None);
    for line in entry.lines() {
        let name = line.name();
        if name.eq_ignore_ascii_case("objectClass") {
            if let Ok(c) = std::str::from_utf8(line.value()) {
                class |= eq_ci(kind.ad_class(), c);
                excluded |= listed(kind.ad_excluded_classes(), c);
            }
        } else if deleted.is_none() && name.eq_ignore_ascii_case("isDeleted") {
            deleted = Some(is_true(line.value()));
        }
    }
    class
        && !excluded
        && deleted != Some(true)
        && !rdn_mark(entry.dn(), "DEL:")
        && !rdn_mark(entry.dn(), "CNF:")
}

/// The kind of live object an entry is, of those the snapshot reads.
pub(super) fn kind_of(entry: &Entry) -> Option<ObjectKind> {
    [ObjectKind::User, ObjectKind::Group, ObjectKind::Contact]
        .into_iter()
        .find(|&kind| is_kind(entry, kind))
}

/// Checks the syntax of an object's typed fields, as opening the file does (a group's
/// `member` values are checked when groups are read).
pub(super) fn check_typed(
    entry: &Entry,
    dn: &Dn,
    kind: Option<ObjectKind>,
) -> Result<(), (usize, String)> {
    match kind {
        Some(ObjectKind::User) => typed_user(entry, dn).map(drop),
        Some(ObjectKind::Group) => typed_group(entry, dn).map(drop),
        Some(ObjectKind::Contact) => to_contact(entry, dn).map(drop),
        _ => Ok(()),
    }
}

pub(super) fn duplicate_dn(first_line: usize) -> String {
    format!("duplicate DN (first at line {first_line})")
}

pub(super) fn duplicate_guid(guid: &Guid, first_line: usize) -> String {
    format!("duplicate objectGUID {guid} (first at line {first_line})")
}

/// Without objectClass no entry is a user: an export of users would read as none.
pub(super) const NO_OBJECT_CLASS: &str = "no entry of the export carries objectClass, which tells users from other objects: add objectClass to the attribute list of the export";

/// A range that does not merge, with how to make an export that does.
pub(super) fn ranges_error(e: LdifError) -> LdifError {
    LdifError {
        message: format!(
            "{}: make a complete export with `idsync snapshot --from ad` (it reads every range), or append the missing ranges to the entry (ldapsearch returns one when asked for the ranged name itself, e.g. `'member;range=1500-*'`)",
            e.message
        ),
        ..e
    }
}

fn is_true(value: &[u8]) -> bool {
    std::str::from_utf8(value).is_ok_and(|v| v.trim().eq_ignore_ascii_case("TRUE"))
}

/// A deleted object (an export made with the show-deleted control holds them).
pub(super) fn is_tombstone(entry: &Entry) -> bool {
    entry.first("isDeleted").is_some_and(is_true) || rdn_mark(entry.dn(), "DEL:")
}

/// An ldapsearch trailer that says the search stopped early (`result: 4 Size limit exceeded`)
/// or never said how it ended.
pub(super) fn check_complete(ldif: &LdifFile) -> Result<(), LdifError> {
    for result in ldif.search_results() {
        if result.code == Some(0) {
            continue;
        }
        let outcome = match result.code {
            Some(code) => format!("ended with result {code} {}", result.text),
            None => "has no readable \"result:\" line (\"result: 0 Success\" ends a complete one)"
                .to_owned(),
        };
        return Err(LdifError {
            line: result.line,
            column: 1,
            message: format!(
                "the search that made this export {}: the export is incomplete; {COMPLETE_EXPORT}",
                outcome.trim_end()
            ),
        });
    }
    Ok(())
}

/// The objectGUID, if present; an error (line, message) when it is not 16 bytes.
pub(super) fn entry_guid(entry: &Entry) -> Result<Option<Guid>, (usize, String)> {
    let Some(raw) = entry.first("objectGUID") else {
        return Ok(None);
    };
    Guid::from_slice(raw).map(Some).ok_or_else(|| {
        (
            entry.line_of("objectGUID").unwrap_or(0),
            format!(
                "objectGUID must be 16 bytes (base64 after \"objectGUID::\"), found {} bytes",
                raw.len()
            ),
        )
    })
}

/// The highest USN written: `uSNChanged` is a signed 64-bit integer in AD.
pub(super) const MAX_USN: u64 = i64::MAX as u64;

pub(super) fn highest_usn(entry: &Entry) -> u64 {
    ["uSNChanged", "uSNCreated"]
        .iter()
        .filter_map(|n| entry.first_text(n))
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

/// Converts a user entry through the one decoder ([`AdUser::decode`]); errors are
/// (line, message).
pub(super) fn to_user(entry: &Entry, dn: &Dn) -> Result<AdUser, (usize, String)> {
    AdUser::decode(dn.clone(), entry).map_err(|e| located(entry, ObjectKind::User, e))
}

/// Converts a group entry (ranges merged) through the one decoder ([`AdGroup::decode`]);
/// errors are (line, message).
pub(super) fn to_group(entry: &Entry, dn: &Dn) -> Result<AdGroup, (usize, String)> {
    AdGroup::decode(dn.clone(), entry).map_err(|e| located(entry, ObjectKind::Group, e))
}

/// The typed fields of a group entry but `member` (checking their syntax).
pub(super) fn typed_group(entry: &Entry, dn: &Dn) -> Result<AdGroup, (usize, String)> {
    AdGroup::decode_typed(dn.clone(), entry).map_err(|e| located(entry, ObjectKind::Group, e))
}

/// Converts a contact entry through the one decoder ([`AdContact::decode`]).
pub(super) fn to_contact(entry: &Entry, dn: &Dn) -> Result<AdContact, (usize, String)> {
    AdContact::decode(dn.clone(), entry).map_err(|e| located(entry, ObjectKind::Contact, e))
}

/// The typed fields of a user entry (checking their syntax), without `attributes`.
pub(super) fn typed_user(entry: &Entry, dn: &Dn) -> Result<AdUser, (usize, String)> {
    AdUser::decode_typed(dn.clone(), entry).map_err(|e| located(entry, ObjectKind::User, e))
}

/// A decoding error at the line of the attribute at fault, worded for an export.
fn located(entry: &Entry, kind: ObjectKind, e: DecodeError) -> (usize, String) {
    // A bad `member` value is at its own line, not the attribute's first.
    let bad_member = || {
        entry
            .lines()
            .iter()
            .filter(|l| l.name().eq_ignore_ascii_case("member"))
            .find(|l| std::str::from_utf8(l.value()).map_or(true, |v| Dn::parse(v).is_err()))
            .map(|l| l.line())
    };
    let line = match e.attribute() {
        Some(a) if a.eq_ignore_ascii_case("member") => bad_member(),
        Some(a) => entry.line_of(a),
        None => None,
    }
    .filter(|&l| l != 0)
    .unwrap_or(entry.line());
    let message = match e {
        DecodeError::NoGuid => format!(
            "{kind} without an objectGUID (export it: ldapsearch … objectGUID, or ldifde -l objectGUID,…)"
        ),
        DecodeError::GuidLength(n) => {
            format!("objectGUID must be 16 bytes (base64 after \"objectGUID::\"), found {n} bytes")
        }
        e => e.to_string(),
    };
    (line, message)
}

impl AttributeSource for Entry {
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        // Straight over the lines: no list per attribute (a read decodes every user).
        self.lines()
            .iter()
            .filter(move |l| l.name().eq_ignore_ascii_case(name))
            .map(|l| l.value())
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.attribute_names().into_iter()
    }

    /// In one pass over the lines when each description's lines are together and ASCII (as
    /// ldapsearch and ldifde write them); else by name.
    fn each_attribute<'a>(&'a self, f: &mut EachAttribute<'a, '_>) -> Result<(), DecodeError> {
        let lines = self.lines();
        let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
        // A bit per name's length and first letter: the earlier runs are searched for a name
        // only when one of them may have it (an entry has a few dozen names).
        let mut may_have = 0u64;
        let mut start = 0;
        while let Some(first) = lines.get(start) {
            let name = first.name();
            let together = lines[start + 1..]
                .iter()
                .take_while(|l| l.name().eq_ignore_ascii_case(name))
                .count();
            let seen =
                |r: &std::ops::Range<usize>| lines[r.start].name().eq_ignore_ascii_case(name);
            let letter = name.bytes().next().map_or(0, |b| b.to_ascii_lowercase());
            let bit = 1u64 << ((usize::from(letter) ^ name.len().wrapping_mul(7)) & 63);
            if !name.is_ascii() || (may_have & bit != 0 && runs.iter().any(seen)) {
                return each_attribute_by_name(self, f);
            }
            may_have |= bit;
            runs.push(start..start + 1 + together);
            start += 1 + together;
        }
        let mut values = Vec::new();
        for run in runs {
            values.clear();
            values.extend(lines[run.clone()].iter().map(|l| l.value()));
            f(lines[run.start].name(), &values)?;
        }
        Ok(())
    }
}
