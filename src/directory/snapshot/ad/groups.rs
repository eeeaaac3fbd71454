//! Groups and contacts in the LDIF snapshot: read through the one decoders
//! ([`AdGroup::decode`], [`AdContact::decode`]), written as AD answers the same operations.
//!
//! - A group's `member` is read whole (ranged names were merged, or refused, when the file was
//!   opened). It is unknown (`members: None`), not empty, when the file cannot be carrying it:
//!   no group of the file has a `member` value and the `# requesting:` line of the search that
//!   returned the groups, if there is one, does not list it (as [`AdSnapshot::not_exported`]
//!   judges users' attributes).
//! - `member` is edited per value and compared as AD compares DN values (as names, without
//!   case): adding a value already there is `attributeOrValueExists`, deleting one that is not
//!   is `noSuchAttribute`, a value that is not a DN is `invalidDNSyntax`, and a member that
//!   cannot exist (its parent is an exported container that does not hold it) is
//!   `noSuchObject`. Large groups are edited in one pass, never value by value.

use std::collections::HashSet;

use super::entries::{is_kind, to_contact, to_group};
use super::write::refused;
use super::{AdSnapshot, exported};
use crate::directory::ldif::Entry;
use crate::directory::model::{ObjectKind, sid_from_string, sid_to_string};
use crate::directory::{
    AdContact, AdGroup, AdGroupCreate, AdGroupRead, AdGroupWrite, AdMod, AdQuery, AdValue,
    DirectoryError, Dn, Guid,
};

/// AD's `groupType` for a group created without one: a global security group.
const DEFAULT_GROUP_TYPE: i32 =
    crate::directory::model::GROUP_TYPE_SECURITY | crate::directory::model::GROUP_TYPE_GLOBAL;

fn in_scope(query: &AdQuery, dn: &Dn) -> bool {
    (query.bases.is_empty() || query.bases.iter().any(|b| dn.is_within(b)))
        && !query.exclude.iter().any(|x| dn.is_within(x))
}

fn is_group(entry: &Entry) -> bool {
    is_kind(entry, ObjectKind::Group)
}

impl AdSnapshot {
    /// Whether the file carries groups' `member` (see the module documentation).
    pub fn members_exported(&self) -> bool {
        let entries = self.ldif.entries();
        let any_group = entries.iter().any(is_group);
        let any_member = entries.iter().any(|e| is_group(e) && e.has("member"));
        if !any_group || any_member {
            return true; // decided without the headers
        }
        exported::members_exported(any_group, any_member, &self.headers_covering(is_group))
    }

    fn group_at(&self, entry: &Entry, dn: &Dn, members: bool) -> Result<AdGroup, DirectoryError> {
        let mut group =
            to_group(entry, dn).map_err(|(line, m)| self.entry_error(entry, line, m))?;
        if !members {
            group.members = None;
        }
        Ok(group)
    }

    /// Every group in scope (bases and exclusions; the users' filter does not apply).
    pub fn groups(&self, query: &AdQuery) -> Result<Vec<AdGroup>, DirectoryError> {
        let members = self.members_exported();
        let mut groups = Vec::new();
        for (entry, dn) in self.ldif.entries().iter().zip(&self.index.dns) {
            if is_group(entry) && in_scope(query, dn) {
                groups.push(self.group_at(entry, dn, members)?);
            }
        }
        Ok(groups)
    }

    /// Every contact in scope.
    pub fn contacts(&self, query: &AdQuery) -> Result<Vec<AdContact>, DirectoryError> {
        let mut contacts = Vec::new();
        for (entry, dn) in self.ldif.entries().iter().zip(&self.index.dns) {
            if is_kind(entry, ObjectKind::Contact) && in_scope(query, dn) {
                contacts.push(
                    to_contact(entry, dn).map_err(|(line, m)| self.entry_error(entry, line, m))?,
                );
            }
        }
        Ok(contacts)
    }

    /// One group by objectGUID, anywhere in the file.
    pub fn group(&self, guid: &Guid) -> Result<Option<AdGroup>, DirectoryError> {
        let Some(&i) = self.index.by_guid.get(guid) else {
            return Ok(None);
        };
        let entry = &self.ldif.entries()[i];
        if !is_group(entry) {
            return Ok(None);
        }
        self.group_at(entry, &self.index.dns[i], self.members_exported())
            .map(Some)
    }

    /// The index of the group at `dn`; a write to anything else there is as to a missing
    /// group.
    fn group_index(&self, dn: &Dn) -> Result<usize, DirectoryError> {
        let i = self.index_of(dn)?;
        if is_group(&self.ldif.entries()[i]) {
            Ok(i)
        } else {
            Err(DirectoryError::NotFound {
                object: format!("{dn} (not a group)"),
            })
        }
    }

    /// Creates a group as AD would: `objectClass: top, group`, a fresh objectGUID, an
    /// objectSid in the domain of the file's other SIDs (when it has any), a global security
    /// `groupType` when none is given, and what every create sets.
    pub fn create_ad_group(&mut self, create: &AdGroupCreate) -> Result<AdGroup, DirectoryError> {
        let sid = self.next_sid();
        let group_type = DEFAULT_GROUP_TYPE.to_string();
        let gives_type = create
            .attributes
            .iter()
            .any(|(n, v)| n.as_str().eq_ignore_ascii_case("groupType") && !v.is_empty());
        let (entry, dn) = self.new_entry(
            ObjectKind::Group,
            &create.dn,
            &create.attributes,
            "Group",
            |entry| {
                if !gives_type {
                    entry.set_values("groupType", [group_type]);
                }
                if let Some(sid) = sid {
                    entry.set_values("objectSid", [sid]);
                }
            },
        )?;
        let group =
            to_group(&entry, &dn).map_err(|(_, m)| refused(&dn, "invalidAttributeSyntax", &m))?;
        self.commit_new(entry, dn);
        Ok(group)
    }

    /// The next objectSid of the domain: the file's domain SID (`S-1-5-21-a-b-c`) with the
    /// highest RID in the file + 1; none when the file holds no domain SID.
    fn next_sid(&self) -> Option<Vec<u8>> {
        let mut domain: Option<String> = None;
        let mut rid: u32 = 1000;
        for entry in self.ldif.entries() {
            let Some(sid) = entry.first("objectSid").and_then(sid_to_string) else {
                continue;
            };
            let Some((prefix, last)) = sid.rsplit_once('-') else {
                continue;
            };
            if !prefix.starts_with("S-1-5-21-") || prefix.matches('-').count() != 6 {
                continue;
            }
            if domain.as_deref().is_some_and(|d| d != prefix) {
                continue; // another domain's SID (sIDHistory-like): not ours
            }
            domain.get_or_insert_with(|| prefix.to_owned());
            if let Ok(r) = last.parse::<u32>() {
                rid = rid.max(r);
            }
        }
        sid_from_string(&format!("{}-{}", domain?, rid.checked_add(1)?))
    }

    /// Whether an object could be at `dn`: it is in the file, or the export simply does not
    /// hold its part of the domain ([`AdSnapshot::check_parent`]'s rule).
    fn could_exist(&self, dn: &Dn) -> bool {
        if self.index.by_dn.contains_key(dn) {
            return true;
        }
        let parent_exported = dn
            .parent()
            .is_some_and(|p| self.index.by_dn.contains_key(&p));
        !parent_exported && self.check_parent(dn).is_ok()
    }

    /// A per-value `member` add or delete (one pass over the values, compared as DNs);
    /// `false` when `m` is not one (the caller applies it as any other attribute).
    pub(super) fn apply_member_mod(
        &self,
        entry: &mut Entry,
        dn: &Dn,
        m: &AdMod,
    ) -> Result<bool, DirectoryError> {
        let (AdMod::Add(name, values) | AdMod::Delete(name, values)) = m else {
            return Ok(false);
        };
        if !name.as_str().eq_ignore_ascii_case("member") || values.is_empty() {
            return Ok(false);
        }
        let mut asked: Vec<(Dn, Vec<u8>)> = Vec::with_capacity(values.len());
        for value in values {
            let AdValue::Text(text) = value else {
                return Err(refused(
                    dn,
                    "invalidAttributeSyntax",
                    "member values are DNs",
                ));
            };
            let member = Dn::parse(text).map_err(|e| {
                refused(
                    dn,
                    "invalidDNSyntax",
                    &format!("member value {text:?} is not a DN ({})", e.reason),
                )
            })?;
            asked.push((member, text.as_bytes().to_vec()));
        }
        let parse = |v: &[u8]| std::str::from_utf8(v).ok().and_then(|s| Dn::parse(s).ok());
        let mut present: HashSet<Dn> = entry
            .values("member")
            .into_iter()
            .filter_map(parse)
            .collect();
        match m {
            AdMod::Add(..) => {
                let mut add = Vec::with_capacity(asked.len());
                for (member, bytes) in asked {
                    if !self.could_exist(&member) {
                        return Err(refused(
                            dn,
                            "noSuchObject",
                            &format!("member {member} does not exist"),
                        ));
                    }
                    if !present.insert(member.clone()) {
                        return Err(refused(
                            dn,
                            "attributeOrValueExists",
                            &format!("attribute member already has the value {member}"),
                        ));
                    }
                    add.push(bytes);
                }
                entry.edit_values("member", |_| false, add);
            }
            _ => {
                let mut gone: HashSet<Dn> = HashSet::with_capacity(asked.len());
                for (member, _) in asked {
                    if !present.remove(&member) {
                        return Err(refused(
                            dn,
                            "noSuchAttribute",
                            &format!("attribute member has no value {member}"),
                        ));
                    }
                    gone.insert(member);
                }
                entry.edit_values(
                    "member",
                    |v| parse(v).is_some_and(|d| gone.contains(&d)),
                    Vec::new(),
                );
            }
        }
        Ok(true)
    }
}

impl AdSnapshot {
    /// Keeps groups' `member` values right after the object `old` (and its subtree) moved to
    /// `new`, or was deleted (`None`), as AD maintains linked values itself. Values are found
    /// by their text as the DC wrote it (the export's own spelling of the DN, without case).
    /// A rename leaves the groups' uSNChanged alone (a linked value refers to the object, not
    /// its name, so the group itself does not change); a delete removes the value, which is
    /// a change of the group.
    pub(super) fn relink(&mut self, old: &Dn, new: Option<&Dn>) {
        let old_text = old.as_str().as_bytes();
        let suffix = [b",", old_text].concat();
        // The part of a value before the moved DN: "" for the object itself.
        let below = |v: &[u8]| -> Option<Vec<u8>> {
            if v.eq_ignore_ascii_case(old_text) {
                Some(Vec::new())
            } else if v.len() > suffix.len()
                && v[v.len() - suffix.len()..].eq_ignore_ascii_case(&suffix)
            {
                Some(v[..v.len() - suffix.len()].to_vec())
            } else {
                None
            }
        };
        for i in 0..self.ldif.len() {
            let entry = &self.ldif.entries()[i];
            if !is_group(entry) {
                continue;
            }
            let hits: Vec<Vec<u8>> = entry
                .lines()
                .iter()
                .filter(|l| l.name().eq_ignore_ascii_case("member"))
                .filter_map(|l| below(l.value()))
                .collect();
            if hits.is_empty() {
                continue;
            }
            let mut entry = entry.clone();
            let renamed: Vec<Vec<u8>> = match new {
                None => Vec::new(),
                Some(new) => hits
                    .into_iter()
                    .map(|prefix| {
                        if prefix.is_empty() {
                            new.as_str().as_bytes().to_vec()
                        } else {
                            [&prefix[..], b",", new.as_str().as_bytes()].concat()
                        }
                    })
                    .collect(),
            };
            entry.edit_values("member", |v| below(v).is_some(), renamed);
            if new.is_none() {
                self.touch(&mut entry);
            }
            self.ldif.entries_mut()[i] = entry;
        }
    }
}

impl AdGroupRead for AdSnapshot {
    async fn read_groups(&mut self, query: &AdQuery) -> Result<Vec<AdGroup>, DirectoryError> {
        self.groups(query)
    }

    async fn read_contacts(&mut self, query: &AdQuery) -> Result<Vec<AdContact>, DirectoryError> {
        self.contacts(query)
    }
}

impl AdGroupWrite for AdSnapshot {
    async fn create_group(&mut self, create: &AdGroupCreate) -> Result<AdGroup, DirectoryError> {
        self.create_ad_group(create)
    }

    async fn modify_group(&mut self, dn: &Dn, mods: &[AdMod]) -> Result<(), DirectoryError> {
        self.group_index(dn)?;
        self.modify(dn, mods)
    }

    async fn move_group(&mut self, dn: &Dn, new_dn: &Dn) -> Result<(), DirectoryError> {
        self.group_index(dn)?;
        self.rename(dn, new_dn)
    }

    async fn delete_group(&mut self, dn: &Dn) -> Result<(), DirectoryError> {
        self.group_index(dn)?;
        self.delete(dn)
    }

    async fn read_group(&mut self, guid: &Guid) -> Result<Option<AdGroup>, DirectoryError> {
        self.group(guid)
    }
}
