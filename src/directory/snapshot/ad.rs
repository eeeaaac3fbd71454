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

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::{SnapshotError, SnapshotFile};
use crate::directory::ldif::{COMPLETE_EXPORT, Entry, LdifError, LdifFile, ValueMatch};
use crate::directory::model::{AdUser, Guid, SmallBytes, TYPED_ATTRIBUTES};
use crate::directory::{
    AdCreate, AdMod, AdQuery, AdRead, AdValue, AdWrite, DirectoryError, Dn, Taken, TakenMatcher,
    TakenQuery,
};
use crate::names::{AttrName, fold, listed};

/// Attributes AD stores as octet strings (or security descriptors): never text.
const BINARY: &[&str] = &[
    "objectGUID",
    "objectSid",
    "sIDHistory",
    "mS-DS-ConsistencyGuid",
    "msExchMailboxGuid",
    "msExchArchiveGUID",
    "msExchMasterAccountSid",
    "msExchSafeSendersHash",
    "msExchBlockedSendersHash",
    "msExchSafeRecipientsHash",
    "thumbnailPhoto",
    "jpegPhoto",
    "photo",
    "userCertificate",
    "userSMIMECertificate",
    "nTSecurityDescriptor",
    "logonHours",
    "replPropertyMetaData",
    "replUpToDateVector",
    "dSASignature",
    "msDS-GenerationId",
    "terminalServer",
    "auditingPolicy",
];

/// Attributes the directory maintains; LDAP clients cannot write them.
const SYSTEM_OWNED: &[&str] = &[
    "objectGUID",
    "objectSid",
    "uSNChanged",
    "uSNCreated",
    "whenCreated",
    "whenChanged",
    "distinguishedName",
];

/// Password attributes: accepted, never written to a snapshot.
const PASSWORDS: &[&str] = &["unicodePwd", "userPassword"];

/// Single-valued in AD's schema (the ones idsync may touch).
const SINGLE_VALUED: &[&str] = &[
    "sAMAccountName",
    "userPrincipalName",
    "mail",
    "userAccountControl",
    "displayName",
    "givenName",
    "sn",
    "cn",
    "name",
    "initials",
    "mS-DS-ConsistencyGuid",
    "adminDescription",
    "title",
    "department",
    "company",
    "employeeID",
    "employeeNumber",
    "employeeType",
    "telephoneNumber",
    "mobile",
    "facsimileTelephoneNumber",
    "physicalDeliveryOfficeName",
    "l",
    "st",
    "streetAddress",
    "co",
    "c",
    "countryCode",
    "manager",
    "mailNickname",
    "info",
    "objectCategory",
];

/// Attributes AD (and Samba) construct or keep operational: an export returns them only when
/// named (or, on Samba, with `+`), never for `*`.
const OPERATIONAL: &[&str] = &[
    "canonicalName",
    "createTimestamp",
    "modifyTimestamp",
    "msDS-UserPasswordExpiryTimeComputed",
    "msDS-User-Account-Control-Computed",
    "msDS-PrincipalName",
    "msDS-parentdistname",
    "msDS-ReplAttributeMetaData",
    "msDS-ReplValueMetaData",
    "tokenGroups",
    "primaryGroupToken",
    "allowedAttributes",
    "allowedAttributesEffective",
    "sDRightsEffective",
    "structuralObjectClass",
    "subSchemaSubEntry",
    "entryUUID",
    "entryCSN",
    "entryDN",
    "creatorsName",
    "modifiersName",
    "hasSubordinates",
];

/// Structural classes of containers: an export that holds one holds the containers below it.
const CONTAINER_CLASSES: &[&str] = &[
    "organizationalUnit",
    "container",
    "domainDNS",
    "builtinDomain",
];

/// Lookups into the entries of the file, by position.
#[derive(Debug, Default)]
struct Index {
    /// The parsed DN of each entry, in file order.
    dns: Vec<Dn>,
    by_dn: HashMap<Dn, usize>,
    by_guid: HashMap<Guid, usize>,
    /// Folded sAMAccountName and userPrincipalName values (AD keeps both unique).
    by_sam: HashMap<String, usize>,
    by_upn: HashMap<String, usize>,
    /// Number of direct children of each DN that has some; built on first use (only moves
    /// and deletes need it), kept up to date after that.
    children: OnceCell<HashMap<Dn, usize>>,
}

impl Index {
    fn build(entries: &[Entry]) -> Index {
        let dns = entries
            .iter()
            .map(|e| Dn::parse(e.dn()).unwrap_or_else(|_| root()))
            .collect();
        Index::with_dns(entries, dns)
    }

    /// Indexes entries whose DNs are already parsed (in the same order).
    fn with_dns(entries: &[Entry], dns: Vec<Dn>) -> Index {
        let mut index = Index::default();
        for (entry, dn) in entries.iter().zip(dns) {
            index.push(entry, dn);
        }
        index
    }

    /// Indexes an entry appended at the end.
    fn push(&mut self, entry: &Entry, dn: Dn) {
        let i = self.dns.len();
        if let Ok(Some(guid)) = entry_guid(entry) {
            self.by_guid.insert(guid, i);
        }
        self.add_names(entry, i);
        if let (Some(children), Some(parent)) = (self.children.get_mut(), dn.parent()) {
            *children.entry(parent).or_default() += 1;
        }
        self.by_dn.insert(dn.clone(), i);
        self.dns.push(dn);
    }

    fn add_names(&mut self, entry: &Entry, i: usize) {
        if is_tombstone(entry) {
            return; // a deleted object holds no name
        }
        if let Some(sam) = entry.first_text("sAMAccountName") {
            self.by_sam.insert(fold(sam), i);
        }
        if let Some(upn) = entry.first_text("userPrincipalName") {
            self.by_upn.insert(fold(upn), i);
        }
    }

    fn remove_names(&mut self, entry: &Entry, i: usize) {
        for (map, name) in [
            (&mut self.by_sam, "sAMAccountName"),
            (&mut self.by_upn, "userPrincipalName"),
        ] {
            if let Some(key) = entry.first_text(name).map(fold)
                && map.get(&key) == Some(&i)
            {
                map.remove(&key);
            }
        }
    }

    /// Records that entry `i` now has the DN `new`.
    fn set_dn(&mut self, i: usize, new: Dn) {
        let old = std::mem::replace(&mut self.dns[i], new.clone());
        self.by_dn.remove(&old);
        self.by_dn.insert(new.clone(), i);
        let Some(children) = self.children.get_mut() else {
            return;
        };
        if let Some(parent) = old.parent()
            && let Some(n) = children.get_mut(&parent)
        {
            *n -= 1;
            if *n == 0 {
                children.remove(&parent);
            }
        }
        if let Some(parent) = new.parent() {
            *children.entry(parent).or_default() += 1;
        }
    }

    fn has_children(&self, dn: &Dn) -> bool {
        self.children
            .get_or_init(|| {
                let mut counts: HashMap<Dn, usize> = HashMap::new();
                for parent in self.dns.iter().filter_map(Dn::parent) {
                    *counts.entry(parent).or_default() += 1;
                }
                counts
            })
            .contains_key(dn)
    }
}

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
        ldif.merge_ranges().map_err(|e| {
            ldif_error(LdifError {
                message: format!(
                    "{}: make a complete export with `idsync snapshot --from ad` (it reads every range), or append the missing ranges to the entry (ldapsearch returns one when asked for the ranged name itself, e.g. `'member;range=1500-*'`)",
                    e.message
                ),
                ..e
            })
        })?;
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
        let mut carried = HashSet::new();
        for entry in self.ldif.entries().iter().filter(|e| is_user(e)) {
            for line in entry.lines() {
                carried.insert(fold(line.attr_type()));
            }
        }
        if carried.is_empty() {
            return Vec::new();
        }
        let headers = self.ldif.requesting();
        let requested = |name: &str| {
            !headers.is_empty()
                && headers.iter().all(|h| {
                    let has = |token: &str| h.attributes.iter().any(|a| a == token);
                    let operational = listed(OPERATIONAL, name);
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
                || carried.contains(&fold(n))
                || requested(n);
            if !known && !missing.contains(&name) {
                missing.push(name);
            }
        }
        missing
    }

    /// Why [`not_exported`](Self::not_exported) names what it names, for the plan's note.
    pub fn not_exported_why(&self) -> &'static str {
        if self.ldif.requesting().is_empty() {
            "no user in the LDIF export has a value for them, so the export was most likely made without them: add them to its attribute list (`ldapsearch … ATTR`, `ldifde -l ATTR,…`)"
        } else {
            "the ldapsearch that made the LDIF export did not request them (its `# requesting:` line): add them to its attribute list"
        }
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
        let mut lines: HashMap<Dn, usize> = HashMap::new();
        let mut guids: HashMap<Guid, usize> = HashMap::new();
        let mut dns = Vec::with_capacity(self.ldif.len());
        for entry in self.ldif.entries() {
            let dn = Dn::parse(entry.dn()).map_err(|e| self.entry_error(entry, 0, e.reason))?;
            if let Some(&first) = lines.get(&dn) {
                return Err(self.entry_error(
                    entry,
                    0,
                    format!("duplicate DN (first at line {first})"),
                ));
            }
            if let Some(guid) =
                entry_guid(entry).map_err(|(line, m)| self.entry_error(entry, line, m))?
            {
                if let Some(&first) = guids.get(&guid) {
                    return Err(self.entry_error(
                        entry,
                        entry.line_of("objectGUID").unwrap_or(0),
                        format!("duplicate objectGUID {guid} (first at line {first})"),
                    ));
                }
                guids.insert(guid, entry.line());
            }
            if is_user(entry) {
                typed_user(entry, &dn).map_err(|(line, m)| self.entry_error(entry, line, m))?;
            }
            max_usn = max_usn.max(highest_usn(entry));
            lines.insert(dn.clone(), entry.line());
            dns.push(dn);
        }
        // Without objectClass no entry is a user: an export of users would read as none.
        if let Some(entry) = self.ldif.entries().first()
            && self.ldif.entries().iter().all(|e| !e.has("objectClass"))
        {
            return Err(self.entry_error(
                entry,
                0,
                "no entry of the export carries objectClass, which tells users from other objects: add objectClass to the attribute list of the export",
            ));
        }
        self.next_usn = max_usn.saturating_add(1);
        self.index = Index::with_dns(self.ldif.entries(), dns);
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

    // --- writes -----------------------------------------------------------------------------

    /// Creates a user as AD would (see the module documentation).
    pub fn create(&mut self, create: &AdCreate) -> Result<AdUser, DirectoryError> {
        let dn = &create.dn;
        if self.index.by_dn.contains_key(dn) {
            return Err(refused(
                dn,
                "entryAlreadyExists",
                "the object already exists",
            ));
        }
        self.check_parent(dn)?;
        for (name, _) in &create.attributes {
            if listed(SYSTEM_OWNED, name.as_str()) {
                return Err(system_owned(dn, name.as_str()));
            }
        }
        let mut guid = Guid::new_random();
        while self.index.by_guid.contains_key(&guid) {
            guid = Guid::new_random();
        }
        // Taken only once the create succeeds.
        self.reserve_usns(dn, 1)?;
        let usn = self.next_usn.to_string();
        let now = generalized_time(SystemTime::now());
        let mut entry = Entry::new(dn.as_str());
        entry.set_values(
            "objectClass",
            ["top", "person", "organizationalPerson", "user"],
        );
        let leaf = dn
            .rdns()
            .into_iter()
            .next()
            .and_then(|rdn| rdn.into_iter().next());
        if let Some(ava) = &leaf {
            entry.set_values(&rdn_attr_name(&ava.attr), [ava.value.as_str()]);
        }
        for (name, values) in &create.attributes {
            let name = name.as_str();
            if values.is_empty()
                || listed(PASSWORDS, name)
                || name.eq_ignore_ascii_case("objectClass")
                || leaf
                    .as_ref()
                    .is_some_and(|a| a.attr.eq_ignore_ascii_case(name))
            {
                continue;
            }
            entry.add_values(name, values.iter().map(value_bytes));
        }
        if !entry.has("sAMAccountName") {
            entry.set_values("sAMAccountName", [random_sam_account_name()]);
        }
        entry.set_values(
            "userAccountControl",
            [create.user_account_control.to_string()],
        );
        entry.set_values("whenCreated", [now.as_str()]);
        entry.set_values("whenChanged", [now.as_str()]);
        entry.set_values("uSNCreated", [usn.as_str()]);
        entry.set_values("uSNChanged", [usn.as_str()]);
        if let Some(ava) = &leaf {
            entry.set_values("name", [ava.value.as_str()]);
        }
        entry.set_values("objectGUID", [guid.0.to_vec()]);
        if let Some(domain) = dc_suffix(dn) {
            entry.set_values(
                "objectCategory",
                [format!("CN=Person,CN=Schema,CN=Configuration,{domain}")],
            );
        }
        self.check_entry(dn, &entry, None)?;
        let user =
            to_user(&entry, dn).map_err(|(_, m)| refused(dn, "invalidAttributeSyntax", &m))?;
        self.take_usn();
        self.index.push(&entry, dn.clone());
        self.ldif.push_entry(entry);
        self.dirty = true;
        Ok(user)
    }

    /// Applies the modifications in order, all or nothing, as one LDAP modify.
    pub fn modify(&mut self, dn: &Dn, mods: &[AdMod]) -> Result<(), DirectoryError> {
        let index = self.index_of(dn)?;
        if mods.is_empty() {
            return Ok(());
        }
        let rdn_attr = dn
            .rdns()
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next());
        let mut entry = self.ldif.entries()[index].clone();
        for m in mods {
            let (AdMod::Add(name, _) | AdMod::Delete(name, _) | AdMod::Replace(name, _)) = m;
            let names_the_object = name.as_str().eq_ignore_ascii_case("name")
                || rdn_attr
                    .as_ref()
                    .is_some_and(|a| a.attr.eq_ignore_ascii_case(name.as_str()));
            if names_the_object {
                return Err(refused(
                    dn,
                    "notAllowedOnRDN",
                    &format!("attribute {name} names the object: change it with a move (rename)"),
                ));
            }
            apply_mod(&mut entry, dn, m)?;
        }
        self.check_entry(dn, &entry, Some(index))?;
        if is_user(&entry) {
            to_user(&entry, dn).map_err(|(_, m)| refused(dn, "invalidAttributeSyntax", &m))?;
        }
        self.reserve_usns(dn, 1)?;
        self.touch(&mut entry);
        self.index.remove_names(&self.ldif.entries()[index], index);
        self.index.add_names(&entry, index);
        self.ldif.entries_mut()[index] = entry;
        self.dirty = true;
        Ok(())
    }

    /// Renames (moves) an object and everything below it.
    pub fn rename(&mut self, dn: &Dn, new_dn: &Dn) -> Result<(), DirectoryError> {
        let index = self.index_of(dn)?;
        if let Some(&other) = self.index.by_dn.get(new_dn) {
            if other != index {
                return Err(refused(
                    new_dn,
                    "entryAlreadyExists",
                    "the object already exists",
                ));
            }
            if new_dn.as_str() == dn.as_str() {
                return Ok(());
            }
        }
        if new_dn.is_within(dn) && new_dn != dn {
            return Err(refused(
                dn,
                "unwillingToPerform",
                "cannot move an object below itself",
            ));
        }
        self.check_parent(new_dn)?;
        let old_depth = dn.rdns().len();
        let subtree: Vec<usize> = if self.index.has_children(dn) {
            (0..self.index.dns.len())
                .filter(|&i| self.index.dns[i].is_within(dn))
                .collect()
        } else {
            vec![index]
        };
        // Every new DN (and USN) first, so a failure changes nothing.
        self.reserve_usns(dn, subtree.len())?;
        let mut moves = Vec::with_capacity(subtree.len());
        for i in subtree {
            let moved = rebase(self.ldif.entries()[i].dn(), old_depth, new_dn);
            let parsed =
                Dn::parse(&moved).map_err(|e| refused(new_dn, "invalidDNSyntax", e.reason))?;
            moves.push((i, moved, parsed));
        }
        for (i, moved, parsed) in moves {
            let mut entry = self.ldif.entries()[i].clone();
            entry.set_dn(moved.as_str());
            if entry.has("distinguishedName") {
                entry.set_values("distinguishedName", [moved.as_str()]);
            }
            if i == index {
                rename_leaf(&mut entry, new_dn);
            }
            self.touch(&mut entry);
            self.ldif.entries_mut()[i] = entry;
            self.index.set_dn(i, parsed);
        }
        self.dirty = true;
        Ok(())
    }

    /// Deletes a leaf object.
    pub fn delete(&mut self, dn: &Dn) -> Result<(), DirectoryError> {
        let index = self.index_of(dn)?;
        if self.index.has_children(dn) {
            return Err(refused(
                dn,
                "notAllowedOnNonLeaf",
                "the object has children in the snapshot; delete them first",
            ));
        }
        self.ldif.remove_entry(index);
        self.index = Index::build(self.ldif.entries());
        self.dirty = true;
        Ok(())
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

    /// The parent must be in the file, unless the export simply did not include it: it lies
    /// inside the exported domain and below no container the export holds.
    fn check_parent(&self, dn: &Dn) -> Result<(), DirectoryError> {
        let Some(parent) = dn.parent().filter(|p| !p.is_root()) else {
            return Err(refused(
                dn,
                "namingViolation",
                "an object needs a parent container",
            ));
        };
        if self.index.by_dn.contains_key(&parent) {
            return Ok(());
        }
        if !self.base.as_ref().is_none_or(|base| parent.is_within(base)) {
            return Err(refused(
                dn,
                "noSuchObject",
                &format!("the parent {parent} does not exist (it is outside the exported domain)"),
            ));
        }
        let mut ancestor = parent.parent();
        while let Some(a) = ancestor.filter(|a| !a.is_root()) {
            let exported_container = self
                .index
                .by_dn
                .get(&a)
                .is_some_and(|&i| has_class(&self.ldif.entries()[i], CONTAINER_CLASSES));
            if exported_container {
                return Err(refused(
                    dn,
                    "noSuchObject",
                    &format!(
                        "the parent {parent} does not exist (the export holds {a} and the containers below it)"
                    ),
                ));
            }
            ancestor = a.parent();
        }
        Ok(())
    }

    /// AD's uniqueness and single-value rules for an entry about to be stored at `index`.
    fn check_entry(
        &self,
        dn: &Dn,
        entry: &Entry,
        index: Option<usize>,
    ) -> Result<(), DirectoryError> {
        for name in entry.attribute_names() {
            if listed(SINGLE_VALUED, name) && entry.values(name).len() > 1 {
                return Err(refused(
                    dn,
                    "constraintViolation",
                    &format!("attribute {name} is single-valued"),
                ));
            }
        }
        // AD checks a name's uniqueness when it is written: an unchanged name stands even if
        // a conflict object (`\0ACNF:`) holds it too.
        let before = index.map(|i| &self.ldif.entries()[i]);
        let holder = |map: &HashMap<String, usize>, name: &str, value: &str| {
            let unchanged = before
                .and_then(|b| b.first_text(name))
                .is_some_and(|old| fold(old) == fold(value));
            map.get(&fold(value))
                .copied()
                .filter(|&i| Some(i) != index && !unchanged)
                .map(|i| &self.index.dns[i])
        };
        if let Some(sam) = entry.first_text("sAMAccountName")
            && let Some(other) = holder(&self.index.by_sam, "sAMAccountName", sam)
        {
            return Err(refused(
                dn,
                "entryAlreadyExists",
                &format!(
                    "sAMAccountName {sam} is already used by {other} (the account already exists)"
                ),
            ));
        }
        if let Some(upn) = entry.first_text("userPrincipalName")
            && let Some(other) = holder(&self.index.by_upn, "userPrincipalName", upn)
        {
            return Err(refused(
                dn,
                "constraintViolation",
                &format!(
                    "userPrincipalName {upn} is already used by {other} (UPNs are unique in the forest)"
                ),
            ));
        }
        Ok(())
    }
}

impl AdRead for AdSnapshot {
    async fn read_users(&mut self, query: &AdQuery) -> Result<Vec<AdUser>, DirectoryError> {
        self.users(query)
    }

    async fn read_user(&mut self, guid: &Guid) -> Result<Option<AdUser>, DirectoryError> {
        self.user(guid)
    }

    async fn find_taken(&mut self, values: &TakenQuery) -> Result<Vec<Taken>, DirectoryError> {
        Ok(self.taken(values))
    }
}

impl AdWrite for AdSnapshot {
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

    async fn flush(&mut self) -> Result<(), DirectoryError> {
        Ok(self.save()?)
    }
}

// --- entries and users ------------------------------------------------------------------------

fn root() -> Dn {
    // Cannot fail: the empty DN is the root.
    Dn::parse("").unwrap_or_else(|_| unreachable!("the empty DN is the root"))
}

fn refused(object: &Dn, code: &str, message: &str) -> DirectoryError {
    DirectoryError::Refused {
        object: object.to_string(),
        message: message.to_owned(),
        code: Some(code.to_owned()),
    }
}

fn system_owned(dn: &Dn, name: &str) -> DirectoryError {
    refused(
        dn,
        "constraintViolation",
        &format!("attribute {name} is maintained by the directory and cannot be written"),
    )
}

fn has_class(entry: &Entry, classes: &[&str]) -> bool {
    entry
        .values("objectClass")
        .iter()
        .filter_map(|v| std::str::from_utf8(v).ok())
        .any(|c| listed(classes, c))
}

/// A live user: objectClass `user`, not `computer` (computers are users to AD's schema),
/// neither deleted nor a replication conflict's loser.
fn is_user(entry: &Entry) -> bool {
    has_class(entry, &["user"])
        && !has_class(entry, &["computer"])
        && !is_tombstone(entry)
        && !rdn_mark(entry.dn(), "CNF:")
}

/// A deleted object (an export made with the show-deleted control holds them).
fn is_tombstone(entry: &Entry) -> bool {
    entry
        .first_text("isDeleted")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("TRUE"))
        || rdn_mark(entry.dn(), "DEL:")
}

/// Whether the DN's first RDN carries AD's mangling mark (`\0ACNF:`, `\0ADEL:`): a line
/// feed, escaped, then the mark and the object's GUID.
fn rdn_mark(dn: &str, mark: &str) -> bool {
    let first = split_rdns(dn).into_iter().next().unwrap_or_default();
    first.as_bytes().windows(3 + mark.len()).any(|w| {
        w[..3].eq_ignore_ascii_case(b"\\0a") && w[3..].eq_ignore_ascii_case(mark.as_bytes())
    })
}

/// An ldapsearch trailer that says the search stopped early (`result: 4 Size limit exceeded`)
/// or never said how it ended.
fn check_complete(ldif: &LdifFile) -> Result<(), LdifError> {
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
fn entry_guid(entry: &Entry) -> Result<Option<Guid>, (usize, String)> {
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
const MAX_USN: u64 = i64::MAX as u64;

fn highest_usn(entry: &Entry) -> u64 {
    ["uSNChanged", "uSNCreated"]
        .iter()
        .filter_map(|n| entry.first_text(n))
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

/// Whether an attribute's values are text to keep in `AdUser::attributes`.
fn is_text_attribute(name: &str, values: &[&[u8]]) -> bool {
    let binary_option = name
        .split(';')
        .skip(1)
        .any(|o| o.eq_ignore_ascii_case("binary"));
    !binary_option
        && !listed(BINARY, name)
        && values.iter().all(|v| {
            std::str::from_utf8(v).is_ok_and(|s| {
                !s.chars()
                    .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            })
        })
}

/// Converts a user entry; errors are (line, message).
fn to_user(entry: &Entry, dn: &Dn) -> Result<AdUser, (usize, String)> {
    let mut user = typed_user(entry, dn)?;
    for name in entry.attribute_names() {
        if listed(TYPED_ATTRIBUTES, name) {
            continue;
        }
        let values = entry.values(name);
        if is_text_attribute(name, &values) {
            let name = AttrName::try_new(name)
                .map_err(|e| (entry.line_of(name).unwrap_or(entry.line()), e.to_string()))?;
            for v in &values {
                user.attributes.push(name, String::from_utf8_lossy(v));
            }
        }
    }
    user.attributes.shrink_to_fit();
    Ok(user)
}

/// The typed fields of a user entry (checking their syntax), without `attributes`.
fn typed_user(entry: &Entry, dn: &Dn) -> Result<AdUser, (usize, String)> {
    let guid = entry_guid(entry)?.ok_or_else(|| {
        (
            entry.line(),
            "user without an objectGUID (export it: ldapsearch … objectGUID, or ldifde -l objectGUID,…)"
                .to_owned(),
        )
    })?;
    let text = |name: &str| -> Result<Option<&str>, (usize, String)> {
        match entry.first(name) {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v).map(Some).map_err(|_| {
                (
                    entry.line_of(name).unwrap_or(0),
                    format!("{name} is not UTF-8 text"),
                )
            }),
        }
    };
    let integer = |name: &str| -> Result<Option<i64>, (usize, String)> {
        match text(name)? {
            None => Ok(None),
            Some(s) => s.trim().parse::<i64>().map(Some).map_err(|_| {
                (
                    entry.line_of(name).unwrap_or(0),
                    format!("{name} must be an integer, found {s:?}"),
                )
            }),
        }
    };
    let mut user = AdUser::new(dn.clone(), guid);
    user.consistency_guid = entry.first("mS-DS-ConsistencyGuid").map(SmallBytes::new);
    user.set_sam_account_name(text("sAMAccountName")?);
    user.set_upn(text("userPrincipalName")?);
    user.set_mail(text("mail")?);
    let proxies: Vec<&str> = entry
        .values("proxyAddresses")
        .into_iter()
        .map(std::str::from_utf8)
        .collect::<Result<_, _>>()
        .map_err(|_| {
            (
                entry.line_of("proxyAddresses").unwrap_or(0),
                "proxyAddresses is not UTF-8 text".to_owned(),
            )
        })?;
    user.set_proxy_addresses(proxies);
    // AD's Integer syntax is signed 32-bit; the flags are its bit pattern.
    user.user_account_control = integer("userAccountControl")?.map(|v| v as u32);
    user.usn_changed = integer("uSNChanged")?
        .map(|v| {
            u64::try_from(v).map_err(|_| {
                (
                    entry.line_of("uSNChanged").unwrap_or(0),
                    "uSNChanged is negative".to_owned(),
                )
            })
        })
        .transpose()?;
    user.set_admin_description(text("adminDescription")?);
    Ok(user)
}

fn value_bytes(value: &AdValue) -> Vec<u8> {
    match value {
        AdValue::Text(s) => s.as_bytes().to_vec(),
        AdValue::Binary(b) => b.clone(),
    }
}

fn value_match(value: &AdValue) -> ValueMatch {
    match value {
        AdValue::Text(_) => ValueMatch::IgnoreCase,
        AdValue::Binary(_) => ValueMatch::Exact,
    }
}

fn show(value: &AdValue) -> String {
    match value {
        AdValue::Text(s) => format!("{s:?}"),
        AdValue::Binary(b) => format!("(base64) {}", B64.encode(b)),
    }
}

/// One modification, with LDAP's per-value rules.
fn apply_mod(entry: &mut Entry, dn: &Dn, m: &AdMod) -> Result<(), DirectoryError> {
    let (name, values) = match m {
        AdMod::Add(n, v) | AdMod::Delete(n, v) | AdMod::Replace(n, v) => (n.as_str(), v),
    };
    if listed(SYSTEM_OWNED, name) {
        return Err(system_owned(dn, name));
    }
    if listed(PASSWORDS, name) {
        return Ok(()); // a snapshot holds no password
    }
    match m {
        AdMod::Add(..) => {
            for value in values {
                let bytes = value_bytes(value);
                let how = value_match(value);
                if entry.values(name).iter().any(|v| how.matches(v, &bytes)) {
                    return Err(refused(
                        dn,
                        "attributeOrValueExists",
                        &format!("attribute {name} already has the value {}", show(value)),
                    ));
                }
                entry.add_values(name, [bytes]);
            }
        }
        AdMod::Delete(..) if values.is_empty() => {
            if !entry.remove_attribute(name) {
                return Err(refused(
                    dn,
                    "noSuchAttribute",
                    &format!("attribute {name} is not set"),
                ));
            }
        }
        AdMod::Delete(..) => {
            for value in values {
                if entry.remove_values(name, &[value_bytes(value)], value_match(value)) == 0 {
                    return Err(refused(
                        dn,
                        "noSuchAttribute",
                        &format!("attribute {name} has no value {}", show(value)),
                    ));
                }
            }
        }
        AdMod::Replace(..) => entry.set_values(name, values.iter().map(value_bytes)),
    }
    Ok(())
}

/// How AD spells an RDN attribute in its own entry (`cn`, `ou`), whatever the DN's case.
fn rdn_attr_name(attr: &str) -> String {
    if attr.len() <= 2 {
        attr.to_ascii_lowercase()
    } else {
        attr.to_owned()
    }
}

/// After a rename, the RDN attribute and `name` carry the new leaf value, as AD keeps them.
fn rename_leaf(entry: &mut Entry, new_dn: &Dn) {
    let Some(ava) = new_dn
        .rdns()
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
    else {
        return;
    };
    if entry.first_text(&ava.attr) != Some(ava.value.as_str()) {
        entry.set_values(&rdn_attr_name(&ava.attr), [ava.value.as_str()]);
    }
    if entry.has("name") && entry.first_text("name") != Some(ava.value.as_str()) {
        entry.set_values("name", [ava.value.as_str()]);
    }
}

/// `raw` (a DN below an object `depth` RDNs deep) with that object's DN replaced by `new_base`.
fn rebase(raw: &str, depth: usize, new_base: &Dn) -> String {
    let rdns = split_rdns(raw);
    let keep = rdns.len().saturating_sub(depth);
    let mut parts: Vec<&str> = rdns[..keep].to_vec();
    parts.push(new_base.as_str());
    parts.join(",")
}

/// Splits a DN string at its unescaped separators, keeping each RDN's text as written.
fn split_rdns(raw: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, b) in raw.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b',' | b';' => {
                parts.push(raw[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(raw[start..].trim());
    parts
}

/// The trailing `DC=` RDNs of a DN (the domain), if it has any.
fn dc_suffix(dn: &Dn) -> Option<Dn> {
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

/// The domain an export covers: the `DC=` suffix of the entries' common ancestor, else the
/// common ancestor itself.
fn domain_of(dns: &[Dn]) -> Option<Dn> {
    let mut common = dns.first()?.clone();
    for dn in &dns[1..] {
        while !dn.is_within(&common) {
            common = common.parent()?;
        }
    }
    Some(dc_suffix(&common).unwrap_or(common))
}

/// AD's default sAMAccountName for an account created without one: `$` and random letters.
fn random_sam_account_name() -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";
    let pick = |n: usize| -> String {
        (0..n)
            .map(|_| CHARS[usize::from(rand::random::<u8>() % 32)] as char)
            .collect()
    };
    format!("${}-{}", pick(6), pick(12))
}

/// AD's GeneralizedTime: `20240115093000.0Z`.
fn generalized_time(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}.0Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Filter;
    use crate::directory::snapshot::SnapshotError;
    use std::fs;
    use std::path::PathBuf;

    /// A users-only `ldapsearch -LLL` export: folded lines, base64 values, a computer, a
    /// service account, a disabled user, a binary objectSid, an ldapsearch trailer comment.
    const EXPORT: &str = "\
# extended LDIF
#
# LDAPv3
# base <OU=Office365,DC=corp,DC=example,DC=com> with scope subtree
# filter: (objectClass=user)
#

# Adam Anderson, Sales, Office365, corp.example.com
dn: CN=Adam Anderson,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: Adam Anderson
sn: Anderson
givenName: Adam
distinguishedName: CN=Adam Anderson,OU=Sales,OU=Office365,DC=corp,DC=example
 ,DC=com
displayName: Adam Anderson
uSNCreated: 3917
uSNChanged: 3921
department: Sales
objectGUID:: BpazOkLGm0iEtljAONPvOQ==
userAccountControl: 512
objectSid:: AQUAAAAAAAUVAAAAs8zP1xZ9Zx2a2YXUUAQAAA==
sAMAccountName: aanderson
userPrincipalName: aanderson@corp.local
mail: adam.anderson@example.com
proxyAddresses: SMTP:adam.anderson@example.com
proxyAddresses: smtp:aanderson@corp.example.com
mS-DS-ConsistencyGuid:: BpazOkLGm0iEtljAONPvOQ==

# Jürgen König, Sales, Office365, corp.example.com
dn:: Q049SsO8cmdlbiBLw7ZuaWcsT1U9U2FsZXMsT1U9T2ZmaWNlMzY1LERDPWNvcnAsREM9ZXh
 hbXBsZSxEQz1jb20=
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn:: SsO8cmdlbiBLw7ZuaWc=
sn:: S8O2bmln
givenName:: SsO8cmdlbg==
uSNChanged: 4100
objectGUID:: 8H0wvuQv+ke4sD8GxtSb
 oA==
userAccountControl: 514
sAMAccountName: jkoenig
userPrincipalName: jkoenig@corp.local

# svc-backup, Service, Office365, corp.example.com
dn: CN=svc-backup,OU=Service,OU=Office365,DC=corp,DC=example,DC=com
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: svc-backup
uSNChanged: 3000
objectGUID:: AAECAwQFBgcICQoLDA0ODw==
userAccountControl: 66048
sAMAccountName: svc-backup

# WS01, Computers, Office365, corp.example.com
dn: CN=WS01,OU=Computers,OU=Office365,DC=corp,DC=example,DC=com
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
objectClass: computer
cn: WS01
uSNChanged: 5000
objectGUID:: EBESExQVFhcYGRobHB0eHw==
sAMAccountName: WS01$

# Elsewhere, Users, corp.example.com
dn: CN=Elsewhere,CN=Users,DC=corp,DC=example,DC=com
objectClass: user
objectGUID:: ICEiIyQlJicoKSorLC0uLw==
sAMAccountName: elsewhere
userPrincipalName: elsewhere@example.com
proxyAddresses: smtp:taken@example.com

# numEntries: 5
";

    fn write(content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ad.ldif");
        fs::write(&path, content).unwrap();
        (dir, path)
    }

    fn open(content: &str) -> (tempfile::TempDir, PathBuf, AdSnapshot) {
        let (dir, path) = write(content);
        let snap = AdSnapshot::open(&path).unwrap_or_else(|e| panic!("{e}"));
        (dir, path, snap)
    }

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    fn office365() -> AdQuery {
        AdQuery {
            bases: vec![dn("OU=Office365,DC=corp,DC=example,DC=com")],
            ..AdQuery::default()
        }
    }

    const ADAM: &str = "CN=Adam Anderson,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com";

    fn sams(users: &[AdUser]) -> Vec<String> {
        users
            .iter()
            .filter_map(|u| u.sam_account_name().map(str::to_owned))
            .collect()
    }

    fn refusal_code(e: DirectoryError) -> String {
        match e {
            DirectoryError::Refused { code, .. } => code.unwrap_or_default(),
            other => panic!("expected a refusal, got {other}"),
        }
    }

    #[tokio::test]
    async fn reads_users_from_a_folded_export() {
        let (_d, _p, mut snap) = open(EXPORT);
        let users = snap.read_users(&office365()).await.unwrap();
        assert_eq!(sams(&users), ["aanderson", "jkoenig", "svc-backup"]);
        let adam = &users[0];
        assert_eq!(adam.dn, dn(ADAM));
        assert_eq!(adam.object_guid.to_base64(), "BpazOkLGm0iEtljAONPvOQ==");
        assert_eq!(
            adam.object_guid.to_string(),
            "3ab39606-c642-489b-84b6-58c038d3ef39"
        );
        assert_eq!(adam.consistency_guid(), Some(&adam.object_guid.0[..]));
        assert_eq!(adam.upn(), Some("aanderson@corp.local"));
        assert_eq!(adam.mail(), Some("adam.anderson@example.com"));
        assert_eq!(adam.proxy_addresses().count(), 2);
        assert_eq!(
            adam.primary_smtp().map(|s| s.to_string()).as_deref(),
            Some("adam.anderson@example.com")
        );
        assert_eq!(adam.user_account_control, Some(512));
        assert_eq!(adam.usn_changed, Some(3921));
        assert_eq!(adam.attr("DISPLAYNAME"), Some("Adam Anderson"));
        assert_eq!(adam.attr("sn"), Some("Anderson"));
        assert_eq!(adam.attributes.values("objectClass").count(), 4);
        assert!(
            adam.attr("objectSid").is_none(),
            "binary attributes are skipped"
        );
        assert!(adam.attr("objectGUID").is_none(), "binary ones too");
        assert_eq!(
            adam.attr("mail"),
            adam.mail(),
            "text with accessors are attributes too"
        );
        let jurgen = &users[1];
        assert_eq!(jurgen.dn.leaf_value().as_deref(), Some("Jürgen König"));
        assert_eq!(jurgen.attr("givenName"), Some("Jürgen"));
        assert!(jurgen.is_disabled());
        assert_eq!(
            jurgen.object_guid.to_string(),
            "be307df0-2fe4-47fa-b8b0-3f06c6d49ba0"
        );
    }

    #[tokio::test]
    async fn scope_exclusions_and_filters() {
        let (_d, _p, mut snap) = open(EXPORT);
        let mut query = office365();
        query.exclude = vec![dn("ou=service,ou=office365,dc=corp,dc=example,dc=com")];
        assert_eq!(
            sams(&snap.read_users(&query).await.unwrap()),
            ["aanderson", "jkoenig"]
        );

        query.exclude.clear();
        query.filter = Some(Filter::parse("(!(sAMAccountName=svc-*))").unwrap());
        assert_eq!(
            sams(&snap.read_users(&query).await.unwrap()),
            ["aanderson", "jkoenig"]
        );
        query.filter =
            Some(Filter::parse("(userAccountControl:1.2.840.113556.1.4.803:=2)").unwrap());
        assert_eq!(sams(&snap.read_users(&query).await.unwrap()), ["jkoenig"]);
        query.filter = Some(Filter::parse("(objectClass=computer)").unwrap());
        assert!(
            snap.read_users(&query).await.unwrap().is_empty(),
            "computers are not users"
        );

        let all = snap.read_users(&AdQuery::default()).await.unwrap();
        assert_eq!(
            sams(&all),
            ["aanderson", "jkoenig", "svc-backup", "elsewhere"]
        );
    }

    #[tokio::test]
    async fn read_user_and_find_taken() {
        let (_d, _p, mut snap) = open(EXPORT);
        let guid = Guid::parse("3ab39606-c642-489b-84b6-58c038d3ef39").unwrap();
        let adam = snap.read_user(&guid).await.unwrap().unwrap();
        assert_eq!(adam.dn, dn(ADAM));
        assert!(snap.read_user(&Guid([9; 16])).await.unwrap().is_none());
        let ws01 = Guid::from_slice(&(0x10..0x20).collect::<Vec<u8>>()).unwrap();
        assert!(
            snap.read_user(&ws01).await.unwrap().is_none(),
            "computers are not users"
        );

        let taken = snap
            .find_taken(&TakenQuery {
                upns: vec!["AANDERSON@corp.local".into(), "free@corp.local".into()],
                sam_account_names: vec!["ws01$".into(), "JKOENIG".into()],
                smtp_addresses: vec![
                    "Adam.Anderson@example.com".into(),
                    "taken@EXAMPLE.com".into(),
                ],
            })
            .await
            .unwrap();
        let got: Vec<(&str, &str, String)> = taken
            .iter()
            .map(|t| {
                (
                    t.attribute,
                    t.value.as_str(),
                    t.dn.leaf_value().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "userPrincipalName",
                    "AANDERSON@corp.local",
                    "Adam Anderson".to_owned()
                ),
                (
                    "mail",
                    "Adam.Anderson@example.com",
                    "Adam Anderson".to_owned()
                ),
                (
                    "proxyAddresses",
                    "Adam.Anderson@example.com",
                    "Adam Anderson".to_owned()
                ),
                ("sAMAccountName", "JKOENIG", "Jürgen König".to_owned()),
                ("sAMAccountName", "ws01$", "WS01".to_owned()),
                (
                    "proxyAddresses",
                    "taken@EXAMPLE.com",
                    "Elsewhere".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn open_errors_carry_file_line_and_column() {
        let cases = [
            (
                "dn: CN=a,DC=x\nobjectClass: user\nsAMAccountName: a\n",
                "1:1: CN=a,DC=x: user without an objectGUID",
            ),
            (
                "dn: CN=a,DC=x\nobjectClass: user\nobjectGUID:: AAEC\n",
                "3:1: CN=a,DC=x: objectGUID must be 16 bytes",
            ),
            (
                "dn: CN=a,DC=x\nobjectClass: user\nobjectGUID:: AAECAwQFBgcICQoLDA0ODw==\nuserAccountControl: x\n",
                "4:1: CN=a,DC=x: userAccountControl must be an integer",
            ),
            (
                "dn: CN=a,DC=x\ncn: a\n\ndn: cn=A,dc=X\ncn: b\n",
                "4:1: cn=A,dc=X: duplicate DN (first at line 1)",
            ),
            (
                "dn: CN=a,DC=x\nobjectGUID:: AAECAwQFBgcICQoLDA0ODw==\n\ndn: CN=b,DC=x\nobjectGUID:: AAECAwQFBgcICQoLDA0ODw==\n",
                "5:1: CN=b,DC=x: duplicate objectGUID",
            ),
            ("dn: novalue\ncn: a\n", "1:1: novalue: missing '='"),
            (
                "dn: CN=a,DC=x\nobjectGUID:: AAECAwQFBgcICQoLDA0ODw==\nsAMAccountName: a\n",
                "1:1: CN=a,DC=x: no entry of the export carries objectClass",
            ),
            (
                "dn: CN=a,DC=x\nobjectClass: top\n\nsearch: 2\n",
                "4:1: the search that made this export has no readable \"result:\" line",
            ),
            ("dn: CN=a\ncn:: ***\n", "2:6: bad base64"),
        ];
        for (content, expected) in cases {
            let (_d, path) = write(content);
            let err = AdSnapshot::open(&path).unwrap_err();
            let text = err.to_string();
            let expected = format!("{}:{expected}", path.display());
            assert!(text.starts_with(&expected), "{text}\nexpected {expected}");
        }
        let missing = AdSnapshot::open("/nonexistent/ad.ldif").unwrap_err();
        assert!(matches!(missing, SnapshotError::Io { .. }));
        assert!(
            missing
                .to_string()
                .starts_with("/nonexistent/ad.ldif: cannot read:")
        );
    }

    fn create_alva() -> AdCreate {
        AdCreate {
            dn: dn("CN=Alva Wood,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com"),
            attributes: vec![
                (
                    AttrName::from("sAMAccountName"),
                    vec![AdValue::Text("awood".into())],
                ),
                (
                    AttrName::from("userPrincipalName"),
                    vec![AdValue::Text("alva.wood@example.com".into())],
                ),
                (
                    AttrName::from("displayName"),
                    vec![AdValue::Text("Alva Wood".into())],
                ),
                (
                    AttrName::from("proxyAddresses"),
                    vec![
                        AdValue::Text("SMTP:alva.wood@example.com".into()),
                        AdValue::Text("smtp:awood@corp.example.com".into()),
                    ],
                ),
                (
                    AttrName::from("adminDescription"),
                    vec![AdValue::Text("idsync:1234".into())],
                ),
                (
                    AttrName::from("unicodePwd"),
                    vec![AdValue::Binary(b"\"secret\"".to_vec())],
                ),
            ],
            password: Some(crate::directory::Secret::new("Sup3r-secret!")),
            user_account_control: 512,
        }
    }

    #[tokio::test]
    async fn create_mints_a_guid_and_never_writes_the_password() {
        let (_d, path, mut snap) = open(EXPORT);
        let user = snap.create_user(&create_alva()).await.unwrap();
        assert_eq!(user.usn_changed, Some(5001), "highest USN in the file + 1");
        assert_eq!(user.user_account_control, Some(512));
        assert_eq!(user.owner_marker(), Some("1234"));
        assert_eq!(user.attr("cn"), Some("Alva Wood"));
        assert_eq!(user.attr("name"), Some("Alva Wood"));
        assert_eq!(user.attr("uSNCreated"), Some("5001"));
        assert!(
            user.attr("whenCreated")
                .is_some_and(|t| t.len() == 17 && t.ends_with(".0Z"))
        );
        assert_eq!(
            user.attr("objectCategory"),
            Some("CN=Person,CN=Schema,CN=Configuration,DC=corp,DC=example,DC=com")
        );
        assert_eq!(
            user.attributes.values("objectClass").collect::<Vec<_>>(),
            ["top", "person", "organizationalPerson", "user"]
        );
        assert_eq!(user.object_guid.to_string().as_bytes()[14], b'4');
        // Read back by GUID before and after flush.
        assert_eq!(
            snap.read_user(&user.object_guid).await.unwrap(),
            Some(user.clone())
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            EXPORT,
            "only flush writes"
        );
        snap.flush().await.unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let cut = EXPORT.find("\n# numEntries").unwrap();
        assert!(
            text.starts_with(&EXPORT[..cut]),
            "untouched entries stay byte for byte"
        );
        assert!(text.contains(
            "\ndn: CN=Alva Wood,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com\nobjectClass: top\n"
        ));
        assert!(!text.contains("secret") && !text.to_lowercase().contains("unicodepwd"));
        let mut again = AdSnapshot::open(&path).unwrap();
        assert_eq!(
            again.read_user(&user.object_guid).await.unwrap(),
            Some(user)
        );
        // A second create of the same DN is refused; so are duplicates AD refuses.
        let e = again.create_user(&create_alva()).await.unwrap_err();
        assert_eq!(refusal_code(e), "entryAlreadyExists");
        let mut dup = create_alva();
        dup.dn = dn("CN=Alva Two,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com");
        let e = again.create_user(&dup).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("sAMAccountName awood is already used"),
            "{e}"
        );
        dup.attributes[0].1 = vec![AdValue::Text("awood2".into())];
        let e = again.create_user(&dup).await.unwrap_err();
        assert_eq!(refusal_code(e), "constraintViolation");
    }

    #[tokio::test]
    async fn create_fills_a_missing_sam_account_name_and_checks_the_parent() {
        let (_d, _p, mut snap) = open(EXPORT);
        let mut c = create_alva();
        c.attributes.remove(0);
        let user = snap.create_user(&c).await.unwrap();
        let sam = user.sam_account_name().unwrap().to_owned();
        assert!(sam.starts_with('$') && sam.len() == 20, "{sam}");

        // Users-only export: a container inside the domain that the file omits is fine...
        let mut c = create_alva();
        c.dn = dn("CN=Alva Wood,OU=New,DC=corp,DC=example,DC=com");
        c.attributes.remove(0);
        c.attributes.remove(0);
        snap.create_user(&c).await.unwrap();
        // ...another domain is not.
        c.dn = dn("CN=Alva Wood,OU=New,DC=other,DC=com");
        let e = snap.create_user(&c).await.unwrap_err();
        assert_eq!(refusal_code(e), "noSuchObject");
        // System attributes cannot be set.
        let mut c = create_alva();
        c.dn = dn("CN=Other,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com");
        c.attributes = vec![(
            AttrName::from("objectGUID"),
            vec![AdValue::Binary(vec![0; 16])],
        )];
        assert_eq!(
            refusal_code(snap.create_user(&c).await.unwrap_err()),
            "constraintViolation"
        );
    }

    #[tokio::test]
    async fn exports_with_containers_need_the_parent() {
        let content = "\
dn: OU=Office365,DC=corp,DC=example,DC=com
objectClass: top
objectClass: organizationalUnit
ou: Office365
objectGUID:: MDEyMzQ1Njc4OTo7PD0+Pw==

dn: CN=Adam,OU=Office365,DC=corp,DC=example,DC=com
objectClass: user
objectGUID:: BpazOkLGm0iEtljAONPvOQ==
sAMAccountName: adam
";
        let (_d, _p, mut snap) = open(content);
        let mut c = create_alva();
        c.dn = dn("CN=Alva Wood,OU=Office365,DC=corp,DC=example,DC=com");
        snap.create_user(&c).await.unwrap();
        c.dn = dn("CN=Alva Wood,OU=Typo,OU=Office365,DC=corp,DC=example,DC=com");
        let e = snap.create_user(&c).await.unwrap_err();
        assert_eq!(refusal_code(e), "noSuchObject");
        // An OU with a user below it is not a leaf.
        let e = snap
            .delete_user(&dn("OU=Office365,DC=corp,DC=example,DC=com"))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), "notAllowedOnNonLeaf");
        // A move takes the subtree along.
        snap.move_user(
            &dn("OU=Office365,DC=corp,DC=example,DC=com"),
            &dn("OU=M365,DC=corp,DC=example,DC=com"),
        )
        .await
        .unwrap();
        let users = snap.read_users(&AdQuery::default()).await.unwrap();
        assert_eq!(users[0].dn, dn("CN=Adam,OU=M365,DC=corp,DC=example,DC=com"));
        let text = String::from_utf8(snap.ldif().render()).unwrap();
        assert!(text.contains("ou: M365\n"), "{text}");
    }

    #[tokio::test]
    async fn modify_edits_per_value_like_ldap() {
        let (_d, path, mut snap) = open(EXPORT);
        let adam = dn(ADAM);
        let text = |s: &str| AdValue::Text(s.into());
        snap.modify_user(
            &adam,
            &[
                AdMod::Delete(
                    "proxyAddresses".into(),
                    vec![text("SMTP:adam.anderson@example.com")],
                ),
                AdMod::Add(
                    "proxyAddresses".into(),
                    vec![
                        text("smtp:adam.anderson@example.com"),
                        text("SMTP:adam@example.com"),
                    ],
                ),
                AdMod::Replace("mail".into(), vec![text("adam@example.com")]),
                AdMod::Replace("department".into(), vec![]),
                AdMod::Replace("title".into(), vec![text("Manager")]),
                AdMod::Replace(
                    "mS-DS-ConsistencyGuid".into(),
                    vec![AdValue::Binary(vec![7; 16])],
                ),
            ],
        )
        .await
        .unwrap();
        let user = snap.users(&office365()).unwrap().remove(0);
        assert_eq!(
            user.proxy_addresses().collect::<Vec<_>>(),
            [
                "smtp:aanderson@corp.example.com",
                "smtp:adam.anderson@example.com",
                "SMTP:adam@example.com"
            ]
        );
        assert_eq!(user.mail(), Some("adam@example.com"));
        assert_eq!(user.attr("department"), None);
        assert_eq!(user.attr("title"), Some("Manager"));
        assert_eq!(user.consistency_guid(), Some(&[7; 16][..]));
        assert_eq!(user.usn_changed, Some(5001));

        // Per-value errors, naming the object and the attribute; nothing is applied.
        let before = snap.ldif().render();
        let e = snap
            .modify_user(
                &adam,
                &[
                    AdMod::Replace("title".into(), vec![text("Boss")]),
                    AdMod::Add("proxyAddresses".into(), vec![text("smtp:ADAM@example.com")]),
                ],
            )
            .await
            .unwrap_err();
        assert!(e.to_string().starts_with(ADAM), "{e}");
        assert!(e.to_string().contains("proxyAddresses"), "{e}");
        assert_eq!(refusal_code(e), "attributeOrValueExists");
        let e = snap
            .modify_user(
                &adam,
                &[AdMod::Delete(
                    "proxyAddresses".into(),
                    vec![text("smtp:nope@example.com")],
                )],
            )
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), "noSuchAttribute");
        let e = snap
            .modify_user(&adam, &[AdMod::Delete("info".into(), vec![])])
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), "noSuchAttribute");
        let e = snap
            .modify_user(
                &adam,
                &[AdMod::Add("mail".into(), vec![text("second@example.com")])],
            )
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), "constraintViolation");
        let e = snap
            .modify_user(
                &adam,
                &[AdMod::Replace(
                    "userAccountControl".into(),
                    vec![text("many")],
                )],
            )
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), "invalidAttributeSyntax");
        let e = snap
            .modify_user(&adam, &[AdMod::Replace("CN".into(), vec![text("Adam")])])
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), "notAllowedOnRDN");
        let e = snap
            .modify_user(
                &adam,
                &[AdMod::Replace("uSNChanged".into(), vec![text("1")])],
            )
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), "constraintViolation");
        let e = snap
            .modify_user(
                &adam,
                &[AdMod::Replace(
                    "userPrincipalName".into(),
                    vec![text("JKOENIG@corp.local")],
                )],
            )
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), "constraintViolation");
        assert_eq!(snap.ldif().render(), before);

        let missing = dn("CN=Nobody,DC=corp,DC=example,DC=com");
        assert!(matches!(
            snap.modify_user(&missing, &[AdMod::Replace("title".into(), vec![])])
                .await,
            Err(DirectoryError::NotFound { .. })
        ));

        // Untouched entries stay byte for byte; the edited one keeps its untouched lines.
        snap.flush().await.unwrap();
        let written = fs::read_to_string(&path).unwrap();
        let jurgen_start = EXPORT.find("# Jürgen König").unwrap();
        assert!(written.ends_with(&EXPORT[jurgen_start..]));
        assert!(written.contains("distinguishedName: CN=Adam Anderson,OU=Sales,OU=Office365,DC=corp,DC=example\n ,DC=com\n"));
        assert!(written.contains("objectSid:: AQUAAAAAAAUVAAAAs8zP1xZ9Zx2a2YXUUAQAAA==\n"));
        assert!(written.contains("mS-DS-ConsistencyGuid:: BwcHBwcHBwcHBwcHBwcHBw==\n"));
    }

    #[tokio::test]
    async fn move_renames_and_delete_removes() {
        let (_d, path, mut snap) = open(EXPORT);
        let adam = dn(ADAM);
        let target = dn("CN=Adam Andersen,OU=Marketing,OU=Office365,DC=corp,DC=example,DC=com");
        snap.move_user(&adam, &target).await.unwrap();
        let guid = Guid::parse("3ab39606-c642-489b-84b6-58c038d3ef39").unwrap();
        let user = snap.read_user(&guid).await.unwrap().unwrap();
        assert_eq!(user.dn, target);
        assert_eq!(user.attr("cn"), Some("Adam Andersen"));
        assert_eq!(user.attr("distinguishedName"), Some(target.as_str()));
        assert_eq!(user.usn_changed, Some(5001));
        assert!(matches!(
            snap.move_user(&adam, &target).await,
            Err(DirectoryError::NotFound { .. })
        ));
        let jurgen = dn("CN=Jürgen König,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com");
        let e = snap.move_user(&jurgen, &target).await.unwrap_err();
        assert_eq!(refusal_code(e), "entryAlreadyExists");
        let e = snap
            .move_user(&jurgen, &dn("CN=J,OU=X,DC=elsewhere,DC=org"))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), "noSuchObject");

        snap.delete_user(&jurgen).await.unwrap();
        assert!(matches!(
            snap.delete_user(&jurgen).await,
            Err(DirectoryError::NotFound { .. })
        ));
        snap.flush().await.unwrap();
        let again = AdSnapshot::open(&path).unwrap();
        assert_eq!(
            sams(&again.users(&office365()).unwrap()),
            ["aanderson", "svc-backup"]
        );
        assert_eq!(again.users(&office365()).unwrap()[0].dn, target);
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("Jürgen") && !text.contains("S8O2bmln"));
        assert!(text.contains("# WS01, Computers, Office365, corp.example.com\ndn: CN=WS01"));
    }

    #[tokio::test]
    async fn flush_is_atomic_and_only_writes_changes() {
        let (dir, path, mut snap) = open(EXPORT);
        let before = fs::metadata(&path).unwrap().modified().unwrap();
        snap.flush().await.unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), EXPORT);
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);

        snap.create_user(&create_alva()).await.unwrap();
        assert!(snap.is_dirty());
        snap.flush().await.unwrap();
        assert!(!snap.is_dirty());
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["ad.ldif"], "no temporary file left behind");
        let reopened = AdSnapshot::open(&path).unwrap();
        assert_eq!(
            reopened.users(&office365()).unwrap(),
            snap.users(&office365()).unwrap()
        );

        // Someone else edited the file meanwhile: refuse rather than lose their change.
        snap.modify(
            &dn(ADAM),
            &[AdMod::Replace(
                "title".into(),
                vec![AdValue::Text("x".into())],
            )],
        )
        .unwrap();
        fs::write(&path, EXPORT).unwrap();
        let e = snap.flush().await.unwrap_err();
        assert!(
            matches!(
                e,
                DirectoryError::Snapshot(SnapshotError::WriteRefused { .. })
            ),
            "{e}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), EXPORT);
    }

    #[test]
    fn generalized_time_and_rebase() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_705_311_000);
        assert_eq!(generalized_time(t), "20240115093000.0Z");
        assert_eq!(generalized_time(UNIX_EPOCH), "19700101000000.0Z");
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(
            rebase("CN=a\\,b, CN=Dev,OU=Old,DC=x", 2, &dn("OU=New,OU=Top,DC=x")),
            "CN=a\\,b,CN=Dev,OU=New,OU=Top,DC=x"
        );
    }
}
