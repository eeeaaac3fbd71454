//! The plan's read of an LDIF export: each entry checked and decoded into the model as the
//! parse hands it over, then dropped. What `plan`, `drift` and `import` read is the same as
//! [`AdSnapshot`]'s reads answer for the same query (the same checks, decoders, scope and
//! filter, errors in the same order, and `tests.rs` compares the two); what is not kept is
//! the file's lossless text, which only `apply` needs, and only for the file it writes.
//!
//! An export is read for one [`AdQuery`], given when it is opened, since the filter is
//! evaluated against the raw entry; it answers each read once (the model is handed over, not
//! copied) and refuses writes.

use std::path::{Path, PathBuf};

use std::hash::BuildHasher;
use std::ops::Range;

use foldhash::{HashMap, HashMapExt};
use hashbrown::HashTable;

#[cfg(doc)]
use super::AdSnapshot;
use super::SnapshotError;
use super::entries::{
    NO_OBJECT_CLASS, check_complete, check_typed, duplicate_dn, duplicate_guid, entry_guid,
    is_tombstone, kind_of, ranges_error, to_contact, to_group, to_user, typed_group, typed_user,
};
use super::exported;
use crate::directory::ldif::{Entry, LdifError, LdifFile, Requesting};
use crate::directory::model::{AdContact, AdGroup, AdUser, Guid, ObjectKind};
use crate::directory::{AdQuery, DirectoryError, Dn, Taken, TakenMatcher, TakenQuery};
use crate::names::AttrName;

/// An LDIF export read for planning (see the module documentation).
#[derive(Debug)]
pub struct AdPlanRead {
    path: PathBuf,
    query: AdQuery,
    users: Option<Result<Vec<AdUser>, SnapshotError>>,
    groups: Option<Result<Vec<AdGroup>, SnapshotError>>,
    contacts: Option<Vec<AdContact>>,
    /// The attribute types some user carries.
    carried: exported::Carried,
    headers: Vec<Requesting>,
    /// Which headers cover users (by position).
    user_headers: Vec<bool>,
    /// Every entry's DN, in file order.
    dns: Vec<Dn>,
    /// The names AD keeps unique, of every live object (for `find_taken`).
    names: Names,
}

/// The values of [`TakenMatcher::ATTRIBUTES`] of every live object, in file order, packed in
/// one text: an export of 1M users holds some 5M of them. Positions fit in `u32`, since a
/// snapshot file is under 4 GiB (`SNAPSHOT_FILE_LIMIT`).
#[derive(Debug, Default)]
struct Names {
    /// Per object: its DN (a position in `dns`) and its values (a range of `values`).
    objects: Vec<(u32, Range<u32>)>,
    /// The attribute (its position in `ATTRIBUTES`) and where the value is in `text`.
    values: Vec<(u8, Range<u32>)>,
    text: String,
}

/// A position in a structure no larger than the file.
fn at(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl AdPlanRead {
    /// Reads, checks and decodes an LDIF export for `query`'s reads. A file `AdSnapshot::open`
    /// refuses is refused with the same error.
    pub fn open(path: impl AsRef<Path>, query: &AdQuery) -> Result<Self, SnapshotError> {
        use crate::files::read::{SNAPSHOT_FILE_LIMIT, open_regular_file, read_regular_file};
        let path = path.as_ref();
        let io_error =
            |e: crate::files::read::ReadError| SnapshotError::io(path, "read", e.into_io_error());
        let ldif_error = |error| SnapshotError::Ldif {
            path: path.to_owned(),
            error,
        };
        // Read a piece at a time; a file that is not plain UTF-8 LDIF, or fails, is read
        // whole for its error (see `parse_each_read`), from a fresh start.
        // Once the Entra read beside it is done, the parse on this core and the checks and
        // decoding, in file order, on the other: decoding is two thirds of the read.
        let mut file = open_regular_file(path, SNAPSHOT_FILE_LIMIT).map_err(io_error)?;
        let mut read = Reader::new(path, query);
        let streamed = crate::parallel::pipe_once_spare(
            |sink| {
                LdifFile::parse_each_read(&mut file, SNAPSHOT_FILE_LIMIT, &mut |e, h| {
                    let header = exported::header_of(h, e.line());
                    sink((e, header));
                })
            },
            |(e, header)| read.entry(e, *header),
        );
        drop(file);
        let ldif = match streamed {
            Some(ldif) => ldif,
            None => {
                read = Reader::new(path, query);
                let bytes = read_regular_file(path, SNAPSHOT_FILE_LIMIT).map_err(io_error)?;
                LdifFile::parse_each(&bytes, &mut |mut e, h| {
                    let header = exported::header_of(h, e.line());
                    read.entry(&mut e, header)
                })
                .map_err(ldif_error)?
            }
        };
        // The order `AdSnapshot::open` reports in: the search's outcome, ranges, entries.
        check_complete(&ldif).map_err(ldif_error)?;
        if let Some(e) = read.ranges_error {
            return Err(ldif_error(ranges_error(e)));
        }
        if let Some(e) = read.error {
            return Err(e);
        }
        if let Some((line, dn)) = read.first.take().filter(|_| !read.any_class) {
            return Err(read.error_at(line, dn, NO_OBJECT_CLASS.to_owned()));
        }
        let headers = ldif.requesting().to_vec();
        let members = exported::members_exported(
            read.any_group,
            read.any_member,
            &exported::covering(&headers, &read.group_headers),
        );
        let groups = read.groups.map(|mut groups| {
            if !members {
                groups.iter_mut().for_each(|g| g.members = None);
            }
            groups
        });
        Ok(AdPlanRead {
            path: path.to_owned(),
            query: query.clone(),
            users: Some(read.users),
            groups: Some(groups),
            contacts: Some(read.contacts),
            carried: read.carried,
            headers,
            user_headers: read.user_headers,
            dns: read.dns,
            names: read.names,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// As [`AdSnapshot::not_exported`].
    pub fn not_exported(&self, wanted: &[AttrName]) -> Vec<AttrName> {
        let headers = exported::covering(&self.headers, &self.user_headers);
        exported::not_exported(&self.carried, &headers, wanted)
    }

    /// As [`AdSnapshot::not_exported_why`].
    pub fn not_exported_why(&self) -> &'static str {
        exported::why(self.has_requesting_headers())
    }

    /// As [`AdSnapshot::has_requesting_headers`].
    pub fn has_requesting_headers(&self) -> bool {
        !self.headers.is_empty()
    }

    /// Takes what a read answers, after checking it is asked as the export was opened.
    fn once<T>(
        &mut self,
        query: &AdQuery,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Result<T, DirectoryError> {
        let other = |path: &Path, what: &str| {
            DirectoryError::Other(format!(
                "{}: {what} (idsync opens an export for planning once per read)",
                path.display()
            ))
        };
        if *query != self.query {
            return Err(other(
                &self.path,
                "read for another query than it was opened for",
            ));
        }
        read(self).ok_or_else(|| other(&self.path, "read twice"))
    }

    /// The users in scope, as [`AdSnapshot::users`] gives them; once.
    pub fn users(&mut self, query: &AdQuery) -> Result<Vec<AdUser>, DirectoryError> {
        Ok(self.once(query, |s| s.users.take())??)
    }

    /// The groups in scope, as [`AdSnapshot::groups`] gives them; once.
    pub fn groups(&mut self, query: &AdQuery) -> Result<Vec<AdGroup>, DirectoryError> {
        Ok(self.once(query, |s| s.groups.take())??)
    }

    /// The contacts in scope, as [`AdSnapshot::contacts`] gives them; once.
    pub fn contacts(&mut self, query: &AdQuery) -> Result<Vec<AdContact>, DirectoryError> {
        self.once(query, |s| s.contacts.take())
    }

    /// As [`AdSnapshot::taken`]: objects anywhere in the file holding one of the values.
    pub fn taken(&self, query: &TakenQuery) -> Vec<Taken> {
        let matcher = TakenMatcher::new(query);
        let names = &self.names;
        // Every object's names are folded and looked up: on every core, in file order.
        crate::parallel::ranges(names.objects.len(), |range| {
            let mut found = Vec::new();
            for (dn, values) in &names.objects[range] {
                let values = &names.values[values.start as usize..values.end as usize];
                found.extend(matcher.taken(&self.dns[*dn as usize], |attribute| {
                    let k = attribute_index(attribute);
                    (values.iter())
                        .filter(move |(a, _)| Some(*a) == k)
                        .map(|(_, v)| &names.text[v.start as usize..v.end as usize])
                }));
            }
            found
        })
        .concat()
    }

    /// What a write, or a read of one object, says: only the plan's reads are answered
    /// (`apply` opens the file as an [`AdSnapshot`]).
    pub fn not_for_apply(&self) -> DirectoryError {
        DirectoryError::Other(format!(
            "{}: the AD export was opened for a plan's reads only",
            self.path.display()
        ))
    }
}

fn attribute_index(attribute: &str) -> Option<u8> {
    (TakenMatcher::ATTRIBUTES
        .iter()
        .position(|a| *a == attribute))
    .and_then(|i| u8::try_from(i).ok())
}

/// What the parse's entries add up to, gathered one entry at a time.
struct Reader<'q> {
    path: &'q Path,
    query: &'q AdQuery,
    /// Every entry's DN and line so far, `by_dn` their positions by DN.
    dns: Vec<Dn>,
    lines: Vec<usize>,
    by_dn: HashTable<u32>,
    by_guid: HashMap<Guid, usize>,
    /// The first entry, for the error of a file without objectClass.
    first: Option<(usize, String)>,
    any_class: bool,
    /// The first error opening reports, by kind (see `AdPlanRead::open`); once one is found,
    /// later entries are only merged (a range error comes first wherever it is).
    ranges_error: Option<LdifError>,
    error: Option<SnapshotError>,
    users: Result<Vec<AdUser>, SnapshotError>,
    groups: Result<Vec<AdGroup>, SnapshotError>,
    contacts: Vec<AdContact>,
    any_group: bool,
    any_member: bool,
    carried: exported::Carried,
    user_headers: Vec<bool>,
    group_headers: Vec<bool>,
    names: Names,
}

impl<'q> Reader<'q> {
    fn new(path: &'q Path, query: &'q AdQuery) -> Self {
        Reader {
            path,
            query,
            dns: Vec::new(),
            lines: Vec::new(),
            by_dn: HashTable::new(),
            by_guid: HashMap::new(),
            first: None,
            any_class: false,
            ranges_error: None,
            error: None,
            users: Ok(Vec::new()),
            groups: Ok(Vec::new()),
            contacts: Vec::new(),
            any_group: false,
            any_member: false,
            carried: exported::Carried::default(),
            user_headers: Vec::new(),
            group_headers: Vec::new(),
            names: Names::default(),
        }
    }

    fn error_at(&self, line: usize, dn: String, message: String) -> SnapshotError {
        SnapshotError::Entry {
            path: self.path.to_owned(),
            line,
            column: 1,
            dn,
            message,
        }
    }

    fn entry_error(&self, entry: &Entry, (line, message): (usize, String)) -> SnapshotError {
        let line = if line == 0 { entry.line() } else { line };
        self.error_at(line, entry.dn().to_owned(), message)
    }

    /// One entry, with the header of the search it came from (by position).
    fn entry(&mut self, entry: &mut Entry, header: Option<usize>) {
        if let Err(e) = entry.merge_ranges() {
            self.ranges_error.get_or_insert(e);
        }
        if self.first.is_none() {
            self.first = Some((entry.line(), entry.dn().to_owned()));
        }
        self.any_class |= entry.has("objectClass");
        if self.ranges_error.is_some() || self.error.is_some() {
            return;
        }
        if let Err(e) = self.read(entry, header) {
            self.error = Some(e);
        }
    }

    /// Checks an entry as `AdSnapshot::check_and_index` does and keeps what the reads need.
    fn read(&mut self, entry: &Entry, header: Option<usize>) -> Result<(), SnapshotError> {
        let dn =
            Dn::parse(entry.dn()).map_err(|e| self.entry_error(entry, (0, e.reason.to_owned())))?;
        let hash = foldhash::fast::FixedState::default().hash_one(&dn);
        if let Some(&first) = (self.by_dn).find(hash, |&i| self.dns[i as usize] == dn) {
            let line = self.lines[first as usize];
            return Err(self.entry_error(entry, (0, duplicate_dn(line))));
        }
        let guid = entry_guid(entry).map_err(|e| self.entry_error(entry, e))?;
        if let Some(guid) = guid {
            if let Some(&first) = self.by_guid.get(&guid) {
                let line = entry.line_of("objectGUID").unwrap_or(0);
                return Err(self.entry_error(entry, (line, duplicate_guid(&guid, first))));
            }
            self.by_guid.insert(guid, entry.line());
        }
        let position = at(self.dns.len());
        let (dns, hasher) = (&self.dns, foldhash::fast::FixedState::default());
        (self.by_dn).insert_unique(hash, position, |&i| hasher.hash_one(&dns[i as usize]));
        self.dns.push(dn.clone());
        self.lines.push(entry.line());
        let kind = kind_of(entry);
        let in_scope = (self.query.bases.is_empty()
            || self.query.bases.iter().any(|b| dn.is_within(b)))
            && !self.query.exclude.iter().any(|x| dn.is_within(x));
        let mark = |used: &mut Vec<bool>| {
            if let Some(k) = header {
                used.resize(used.len().max(k + 1), false);
                used[k] = true;
            }
        };
        if !is_tombstone(entry) {
            self.keep_names(entry, position);
        }
        match kind {
            Some(ObjectKind::User) => {
                (self.carried).add(entry.lines().iter().map(|l| l.attr_type()));
                mark(&mut self.user_headers);
                let filtered = self
                    .query
                    .filter
                    .as_ref()
                    .is_some_and(|f| !f.matches(entry));
                if !in_scope || filtered {
                    return check_typed(entry, &dn, kind).map_err(|e| self.entry_error(entry, e));
                }
                match to_user(entry, &dn) {
                    Ok(user) => {
                        if let Ok(users) = &mut self.users {
                            users.push(user);
                        }
                    }
                    // What opening the snapshot finds first; the rest when users are read.
                    Err(e) => {
                        typed_user(entry, &dn).map_err(|e| self.entry_error(entry, e))?;
                        if self.users.is_ok() {
                            self.users = Err(self.entry_error(entry, e));
                        }
                    }
                }
            }
            Some(ObjectKind::Group) => {
                self.any_group = true;
                self.any_member |= entry.has("member");
                mark(&mut self.group_headers);
                if !in_scope {
                    return check_typed(entry, &dn, kind).map_err(|e| self.entry_error(entry, e));
                }
                match to_group(entry, &dn) {
                    Ok(group) => {
                        if let Ok(groups) = &mut self.groups {
                            groups.push(group);
                        }
                    }
                    Err(e) => {
                        typed_group(entry, &dn).map_err(|e| self.entry_error(entry, e))?;
                        if self.groups.is_ok() {
                            self.groups = Err(self.entry_error(entry, e));
                        }
                    }
                }
            }
            Some(ObjectKind::Contact) => {
                let contact = to_contact(entry, &dn).map_err(|e| self.entry_error(entry, e))?;
                if in_scope {
                    self.contacts.push(contact);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn keep_names(&mut self, entry: &Entry, dn: u32) {
        let names = &mut self.names;
        let first = at(names.values.len());
        for (k, attribute) in (0u8..).zip(TakenMatcher::ATTRIBUTES) {
            for v in entry.values(attribute) {
                if let Ok(v) = std::str::from_utf8(v) {
                    let start = at(names.text.len());
                    names.text.push_str(v);
                    names.values.push((k, start..at(names.text.len())));
                }
            }
        }
        let last = at(names.values.len());
        if last > first {
            names.objects.push((dn, first..last));
        }
    }
}
