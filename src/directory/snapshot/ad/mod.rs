//! The AD snapshot: an LDIF export (`ldapsearch -LLL`, `ldifde`) read and written like a
//! domain controller would.
//!
//! - Users are entries whose objectClass includes `user` and not `computer`; every user needs
//!   a 16-byte objectGUID. Attribute names match without case.
//! - Writes behave as AD answers the same LDAP operation: `entryAlreadyExists`,
//!   `attributeOrValueExists`, `noSuchAttribute`, `constraintViolation` (single-valued
//!   attributes, attributes the directory owns, duplicate UPN), `noSuchObject` (missing parent),
//!   `notAllowedOnNonLeaf`, `notAllowedOnRDN` (`cn`/`name` change by a move), as [`DirectoryError::Refused`] with the LDAP result name as code;
//!   a write to a missing object is [`DirectoryError::NotFound`]. A modify is atomic.
//! - Text values compare without case (AD's rule for string syntaxes, `proxyAddresses`
//!   included); binary values byte for byte.
//! - Creates mint a random objectGUID and set what AD sets: objectClass, the RDN attribute,
//!   `name`, `objectCategory`, `whenCreated`/`whenChanged`, `uSNCreated`/`uSNChanged` (the
//!   highest USN in the file + 1) and, when none is given, a random `$XXXXXX-…`
//!   sAMAccountName. Every write bumps `uSNChanged`. Passwords (`AdCreate::password`,
//!   `unicodePwd`, `userPassword`) are never written: a snapshot cannot hold one.
//! - A parent that is not in the file is accepted when it lies inside the exported domain and
//!   below no container the file holds (exports often omit containers: `(objectClass=user)`);
//!   below an exported OU, the parent must be in the file too.
//! - Exports as admins make them read (see [`crate::directory::ldif`] for the syntax side):
//!   ldapsearch with or without `-LLL`, ldifde's `changetype: add` records, UTF-8 with or
//!   without a BOM, UTF-16 with a BOM, CRLF; `apply` writes the file back in the same encoding
//!   and line endings. Tombstones (`isDeleted: TRUE`, `\0ADEL:` in the DN) are not objects at
//!   all here; conflict objects (`\0ACNF:` in the DN) are never users but still hold their
//!   names (AD keeps them). AD's ranged values (`member;range=0-1499` …
//!   `member;range=1500-*`) read as one attribute.
//! - An incomplete export is refused, never read as a smaller directory: an ldapsearch
//!   `result:` other than `0 Success` (a size limit), a range that does not reach `*`.

mod entries;
mod exported;
mod groups;
mod index;
mod read;
mod time;
mod write;

use std::path::Path;
use std::time::SystemTime;

use super::{SnapshotError, SnapshotFile};
use crate::directory::dn::domain_of;
use crate::directory::ldif::{Entry, LdifFile, Requesting};
use crate::directory::model::{AdUser, Guid};
use crate::directory::{
    AdCreate, AdMod, AdQuery, AdTakenRead, AdUserRead, AdUserWrite, DirectoryError, Dn, Flush,
    Taken, TakenMatcher, TakenQuery,
};
use crate::names::AttrName;
use entries::{
    MAX_USN, NO_OBJECT_CLASS, check_complete, check_typed, duplicate_dn, duplicate_guid,
    entry_guid, highest_usn, is_tombstone, is_user, kind_of, ranges_error, to_user,
};
use index::Index;
pub use read::AdPlanRead;
use time::generalized_time;
use write::refused;

/// An LDIF file standing in for an AD domain.
#[derive(Debug)]
pub struct AdSnapshot {
    file: SnapshotFile,
    ldif: LdifFile,
    index: Index,
    /// The domain the export covers (its `DC=` suffix), for parents absent from the file.
    base: Option<Dn>,
    next_usn: u64,
    dirty: bool,
}

impl AdSnapshot {
    /// Reads and checks an LDIF export.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SnapshotError> {
        let path = path.as_ref();
        let (file, bytes) = SnapshotFile::read(path)?;
        let ldif_error = |error| SnapshotError::Ldif {
            path: path.to_owned(),
            error,
        };
        let mut ldif = LdifFile::parse(&bytes).map_err(ldif_error)?;
        check_complete(&ldif).map_err(ldif_error)?;
        ldif.merge_ranges()
            .map_err(|e| ldif_error(ranges_error(e)))?;
        let mut snapshot = AdSnapshot {
            file,
            ldif,
            index: Index::default(),
            base: None,
            next_usn: 1,
            dirty: false,
        };
        snapshot.check_and_index()?;
        Ok(snapshot)
    }

    /// Of the attributes a plan wants, those this export did not carry. Their values are
    /// unknown, not empty: the plan must neither write nor clear them on the strength of
    /// the file.
    ///
    /// With ldapsearch's `# requesting:` header the answer is exact: `ALL` or `*` stands for
    /// every user attribute, `+` for the operational ones, and otherwise only the listed
    /// names were asked for (a requested attribute that no entry holds is empty, not
    /// unknown). Without a header (`-LLL`, `ldifde`) an attribute that no user of the file
    /// carries counts as not exported. That is conservative: an export of 10,000 users
    /// where not one has a `department` is far likelier to have been made without it, and
    /// taking absence as "cleared" would plan writes from values never read. An attribute
    /// some user carries is always exported (the identifying ones the reader requires,
    /// `objectGUID` and `objectClass`, among them), and the DN is always known. A file with
    /// no live user has no value to be unknown: nothing is reported.
    pub fn not_exported(&self, wanted: &[AttrName]) -> Vec<AttrName> {
        // Computed per call (once per plan): writes change what the users carry.
        let mut carried = exported::Carried::default();
        for entry in self.ldif.entries().iter().filter(|e| is_user(e)) {
            carried.add(entry.lines().iter().map(|l| l.attr_type()));
        }
        exported::not_exported(&carried, &self.headers_covering(is_user), wanted)
    }

    /// The ldapsearch `# requesting:` headers of the searches that returned the entries
    /// `pick` chooses (see [`exported::covering`]).
    fn headers_covering(&self, pick: impl Fn(&Entry) -> bool) -> Vec<&Requesting> {
        let headers = self.ldif.requesting();
        let mut used = vec![false; headers.len()];
        if headers.len() > 1 {
            for entry in self.ldif.entries().iter().filter(|e| pick(e)) {
                if let Some(k) = exported::header_of(headers, entry.line()) {
                    used[k] = true;
                }
            }
        }
        exported::covering(headers, &used)
    }

    /// Why [`not_exported`](Self::not_exported) names what it names, for the plan's note.
    pub fn not_exported_why(&self) -> &'static str {
        exported::why(self.has_requesting_headers())
    }

    /// Whether the export has ldapsearch's `# requesting:` headers (which say exactly what
    /// it asked for).
    pub fn has_requesting_headers(&self) -> bool {
        !self.ldif.requesting().is_empty()
    }

    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// The LDIF as it stands (writes included, flushed or not).
    pub fn ldif(&self) -> &LdifFile {
        &self.ldif
    }

    /// Whether there are writes not yet flushed.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    fn entry_error(&self, entry: &Entry, line: usize, message: impl Into<String>) -> SnapshotError {
        SnapshotError::Entry {
            path: self.file.path.clone(),
            line: if line == 0 { entry.line() } else { line },
            column: 1,
            dn: entry.dn().to_owned(),
            message: message.into(),
        }
    }

    /// Validates every entry, then builds the indexes.
    fn check_and_index(&mut self) -> Result<(), SnapshotError> {
        let mut max_usn = 0;
        // One pass: each entry is checked against the index of those before it, then added.
        let mut index = Index::with_capacity(self.ldif.len());
        let entries = self.ldif.entries();
        for entry in entries {
            let dn = Dn::parse(entry.dn()).map_err(|e| self.entry_error(entry, 0, e.reason))?;
            if let Some(&first) = index.by_dn.get(&dn) {
                let first = entries[first].line();
                return Err(self.entry_error(entry, 0, duplicate_dn(first)));
            }
            if let Some(guid) =
                entry_guid(entry).map_err(|(line, m)| self.entry_error(entry, line, m))?
                && let Some(&first) = index.by_guid.get(&guid)
            {
                let first = entries[first].line();
                return Err(self.entry_error(
                    entry,
                    entry.line_of("objectGUID").unwrap_or(0),
                    duplicate_guid(&guid, first),
                ));
            }
            check_typed(entry, &dn, kind_of(entry))
                .map_err(|(line, m)| self.entry_error(entry, line, m))?;
            max_usn = max_usn.max(highest_usn(entry));
            index.push(entry, dn);
        }
        if let Some(entry) = self.ldif.entries().first()
            && self.ldif.entries().iter().all(|e| !e.has("objectClass"))
        {
            return Err(self.entry_error(entry, 0, NO_OBJECT_CLASS));
        }
        self.next_usn = max_usn.saturating_add(1);
        self.index = index;
        self.base = domain_of(&self.index.dns);
        Ok(())
    }

    /// Fails unless `count` more USNs can be minted: AD's USNs are signed 64-bit integers and
    /// the reader refuses a larger `uSNChanged`, so one is never written.
    fn reserve_usns(&self, object: &Dn, count: usize) -> Result<(), DirectoryError> {
        let last = u64::try_from(count.saturating_sub(1))
            .ok()
            .and_then(|more| self.next_usn.checked_add(more));
        match last {
            Some(last) if last <= MAX_USN => Ok(()),
            _ => Err(refused(
                object,
                "unwillingToPerform",
                &format!(
                    "no uSNChanged above {MAX_USN} can be written (the snapshot's highest USN is already there)"
                ),
            )),
        }
    }

    /// The next USN; [`AdSnapshot::reserve_usns`] said it fits.
    fn take_usn(&mut self) -> u64 {
        let usn = self.next_usn;
        self.next_usn = self.next_usn.saturating_add(1);
        usn
    }

    // --- reads ------------------------------------------------------------------------------

    /// Every user in scope: within a base (all of the file when there is none), outside every
    /// excluded subtree, matching the filter (evaluated against the raw entry).
    pub fn users(&self, query: &AdQuery) -> Result<Vec<AdUser>, DirectoryError> {
        let mut users = Vec::new();
        for (entry, dn) in self.ldif.entries().iter().zip(&self.index.dns) {
            let in_scope = (query.bases.is_empty() || query.bases.iter().any(|b| dn.is_within(b)))
                && !query.exclude.iter().any(|x| dn.is_within(x));
            if !in_scope || !is_user(entry) {
                continue;
            }
            if query.filter.as_ref().is_some_and(|f| !f.matches(entry)) {
                continue;
            }
            users.push(self.user_at(entry, dn)?);
        }
        Ok(users)
    }

    fn user_at(&self, entry: &Entry, dn: &Dn) -> Result<AdUser, DirectoryError> {
        to_user(entry, dn).map_err(|(line, m)| self.entry_error(entry, line, m).into())
    }

    /// One user by objectGUID, anywhere in the file.
    pub fn user(&self, guid: &Guid) -> Result<Option<AdUser>, DirectoryError> {
        let Some(&i) = self.index.by_guid.get(guid) else {
            return Ok(None);
        };
        let entry = &self.ldif.entries()[i];
        if !is_user(entry) {
            return Ok(None);
        }
        self.user_at(entry, &self.index.dns[i]).map(Some)
    }

    /// Objects anywhere in the file holding one of the values (compared without case), in
    /// file order. `Taken::value` is the value as the query spelled it.
    pub fn taken(&self, query: &TakenQuery) -> Vec<Taken> {
        let matcher = TakenMatcher::new(query);
        let mut found = Vec::new();
        for (entry, dn) in self.ldif.entries().iter().zip(&self.index.dns) {
            if is_tombstone(entry) {
                continue;
            }
            found.extend(matcher.taken(dn, |attribute| {
                (entry.values(attribute).into_iter()).filter_map(|v| std::str::from_utf8(v).ok())
            }));
        }
        found
    }

    /// Rewrites the file atomically if anything changed; otherwise writes nothing.
    pub fn save(&mut self) -> Result<(), SnapshotError> {
        if !self.dirty {
            return Ok(());
        }
        self.file.replace(&self.ldif.render())?;
        self.dirty = false;
        Ok(())
    }

    fn index_of(&self, dn: &Dn) -> Result<usize, DirectoryError> {
        self.index
            .by_dn
            .get(dn)
            .copied()
            .ok_or_else(|| DirectoryError::NotFound {
                object: dn.to_string(),
            })
    }

    fn touch(&mut self, entry: &mut Entry) {
        let usn = self.take_usn().to_string();
        entry.set_values("uSNChanged", [usn]);
        if entry.has("whenChanged") {
            entry.set_values("whenChanged", [generalized_time(SystemTime::now())]);
        }
    }
}

impl AdUserRead for AdSnapshot {
    async fn read_users(&mut self, query: &AdQuery) -> Result<Vec<AdUser>, DirectoryError> {
        self.users(query)
    }

    async fn read_user(&mut self, guid: &Guid) -> Result<Option<AdUser>, DirectoryError> {
        self.user(guid)
    }
}

impl AdTakenRead for AdSnapshot {
    async fn find_taken(&mut self, values: &TakenQuery) -> Result<Vec<Taken>, DirectoryError> {
        Ok(self.taken(values))
    }
}

impl AdUserWrite for AdSnapshot {
    async fn create_user(&mut self, create: &AdCreate) -> Result<AdUser, DirectoryError> {
        self.create(create)
    }

    async fn modify_user(&mut self, dn: &Dn, mods: &[AdMod]) -> Result<(), DirectoryError> {
        self.modify(dn, mods)
    }

    async fn move_user(&mut self, dn: &Dn, new_dn: &Dn) -> Result<(), DirectoryError> {
        self.rename(dn, new_dn)
    }

    async fn delete_user(&mut self, dn: &Dn) -> Result<(), DirectoryError> {
        self.delete(dn)
    }
}

impl Flush for AdSnapshot {
    async fn flush(&mut self) -> Result<(), DirectoryError> {
        Ok(self.save()?)
    }
}

#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod read_tests;
#[cfg(test)]
mod tests;
