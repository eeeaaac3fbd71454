//! Writes, emulating how AD answers the same LDAP operation (see the module documentation of
//! [`super`]).

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::AdSnapshot;
use super::entries::{has_class, is_user, to_group, to_user};
use super::index::Index;
use super::time::generalized_time;
use crate::directory::dn::{dc_suffix, rebase};
use crate::directory::ldif::{Entry, ValueMatch};
use crate::directory::model::{AdUser, Guid, ObjectKind};
use crate::directory::schema::{self, CONTAINER_CLASSES};
use crate::directory::{AdCreate, AdMod, AdValue, DirectoryError, Dn};
use crate::names::{AttrName, fold};

impl AdSnapshot {
    /// Creates a user as AD would (see the module documentation).
    pub fn create(&mut self, create: &AdCreate) -> Result<AdUser, DirectoryError> {
        let uac = create.user_account_control.to_string();
        let (entry, dn) = self.new_entry(
            ObjectKind::User,
            &create.dn,
            &create.attributes,
            "Person",
            |entry| entry.set_values("userAccountControl", [uac]),
        )?;
        let user =
            to_user(&entry, &dn).map_err(|(_, m)| refused(&dn, "invalidAttributeSyntax", &m))?;
        self.commit_new(entry, dn);
        Ok(user)
    }

    /// A new entry of `kind` at `dn`, checked as AD checks an add, not yet stored: the
    /// kind's classes, the RDN attribute, the given attributes, a random sAMAccountName when
    /// none is given, then `more` (the kind's own), then what AD sets (times, USNs, `name`,
    /// objectGUID, `objectCategory` of the schema class `category`).
    pub(super) fn new_entry(
        &mut self,
        kind: ObjectKind,
        dn: &Dn,
        attributes: &[(AttrName, Vec<AdValue>)],
        category: &str,
        more: impl FnOnce(&mut Entry),
    ) -> Result<(Entry, Dn), DirectoryError> {
        if self.index.by_dn.contains_key(dn) {
            return Err(refused(
                dn,
                "entryAlreadyExists",
                "the object already exists",
            ));
        }
        self.check_parent(dn)?;
        for (name, _) in attributes {
            if schema::is_system_owned(name.as_str()) {
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
        entry.set_values("objectClass", kind.ad_create_classes().iter().copied());
        let leaf = dn
            .rdns()
            .into_iter()
            .next()
            .and_then(|rdn| rdn.into_iter().next());
        if let Some(ava) = &leaf {
            entry.set_values(&rdn_attr_name(&ava.attr), [ava.value.as_str()]);
        }
        for (name, values) in attributes {
            let name = name.as_str();
            if values.is_empty()
                || schema::is_password(name)
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
        more(&mut entry);
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
                [format!("CN={category},CN=Schema,CN=Configuration,{domain}")],
            );
        }
        self.check_entry(dn, &entry, None)?;
        Ok((entry, dn.clone()))
    }

    /// Stores an entry [`AdSnapshot::new_entry`] made (and its USN).
    pub(super) fn commit_new(&mut self, entry: Entry, dn: Dn) {
        self.take_usn();
        self.index.push(&entry, dn);
        self.ldif.push_entry(entry);
        self.dirty = true;
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
            if !self.apply_member_mod(&mut entry, dn, m)? {
                apply_mod(&mut entry, dn, m)?;
            }
        }
        self.check_entry(dn, &entry, Some(index))?;
        if is_user(&entry) {
            to_user(&entry, dn).map_err(|(_, m)| refused(dn, "invalidAttributeSyntax", &m))?;
        } else if has_class(&entry, &[ObjectKind::Group.ad_class()]) {
            to_group(&entry, dn).map_err(|(_, m)| refused(dn, "invalidAttributeSyntax", &m))?;
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
        // As the file spells it (member values are in the DC's spelling too).
        let old_dn = self.index.dns[index].clone();
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
        self.relink(&old_dn, Some(new_dn));
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
        let old_dn = self.index.dns[index].clone();
        self.ldif.remove_entry(index);
        self.relink(&old_dn, None);
        self.index = Index::build(self.ldif.entries());
        self.dirty = true;
        Ok(())
    }

    /// The parent must be in the file, unless the export simply did not include it: it lies
    /// inside the exported domain and below no container the export holds.
    pub(super) fn check_parent(&self, dn: &Dn) -> Result<(), DirectoryError> {
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
            if schema::is_single_valued(name) && entry.values(name).len() > 1 {
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
        let holder = |map: &foldhash::HashMap<String, usize>, name: &str, value: &str| {
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

pub(super) fn refused(object: &Dn, code: &str, message: &str) -> DirectoryError {
    DirectoryError::Refused {
        object: object.to_string(),
        message: message.to_owned(),
        code: Some(code.to_owned()),
    }
}

pub(super) fn system_owned(dn: &Dn, name: &str) -> DirectoryError {
    refused(
        dn,
        "constraintViolation",
        &format!("attribute {name} is maintained by the directory and cannot be written"),
    )
}

pub(super) fn value_bytes(value: &AdValue) -> Vec<u8> {
    match value {
        AdValue::Text(s) => s.as_bytes().to_vec(),
        AdValue::Binary(b) => b.clone(),
    }
}

pub(super) fn value_match(value: &AdValue) -> ValueMatch {
    match value {
        AdValue::Text(_) => ValueMatch::IgnoreCase,
        AdValue::Binary(_) => ValueMatch::Exact,
    }
}

pub(super) fn show(value: &AdValue) -> String {
    match value {
        AdValue::Text(s) => format!("{s:?}"),
        AdValue::Binary(b) => format!("(base64) {}", B64.encode(b)),
    }
}

/// One modification, with LDAP's per-value rules.
pub(super) fn apply_mod(entry: &mut Entry, dn: &Dn, m: &AdMod) -> Result<(), DirectoryError> {
    let (name, values) = match m {
        AdMod::Add(n, v) | AdMod::Delete(n, v) | AdMod::Replace(n, v) => (n.as_str(), v),
    };
    if schema::is_system_owned(name) {
        return Err(system_owned(dn, name));
    }
    if schema::is_password(name) {
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
pub(super) fn rdn_attr_name(attr: &str) -> String {
    if attr.len() <= 2 {
        attr.to_ascii_lowercase()
    } else {
        attr.to_owned()
    }
}

/// After a rename, the RDN attribute and `name` carry the new leaf value, as AD keeps them.
pub(super) fn rename_leaf(entry: &mut Entry, new_dn: &Dn) {
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

/// AD's default sAMAccountName for an account created without one: `$` and random letters.
pub(super) fn random_sam_account_name() -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";
    let pick = |n: usize| -> String {
        (0..n)
            .map(|_| CHARS[usize::from(rand::random::<u8>() % 32)] as char)
            .collect()
    };
    format!("${}-{}", pick(6), pick(12))
}
