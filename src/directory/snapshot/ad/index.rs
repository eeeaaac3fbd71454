//! Lookups into the entries of the file, by position: DN, objectGUID, and the names AD keeps
//! unique.

use std::cell::OnceCell;

// foldhash: the DN's own hash is precomputed, and names are short; SipHash's DoS resistance
// buys nothing for keys read from a file the admin chose.
use foldhash::{HashMap, HashMapExt};

use super::entries::{entry_guid, is_tombstone, root};
use crate::directory::Dn;
use crate::directory::ldif::Entry;
use crate::directory::model::Guid;
use crate::names::fold;

/// Lookups into the entries of the file, by position.
#[derive(Debug, Default)]
pub(super) struct Index {
    /// The parsed DN of each entry, in file order.
    pub(super) dns: Vec<Dn>,
    pub(super) by_dn: HashMap<Dn, usize>,
    pub(super) by_guid: HashMap<Guid, usize>,
    /// Folded sAMAccountName and userPrincipalName values (AD keeps both unique).
    pub(super) by_sam: HashMap<String, usize>,
    pub(super) by_upn: HashMap<String, usize>,
    /// Number of direct children of each DN that has some; built on first use (only moves
    /// and deletes need it), kept up to date after that.
    children: OnceCell<HashMap<Dn, usize>>,
}

impl Index {
    pub(super) fn build(entries: &[Entry]) -> Index {
        let dns = entries
            .iter()
            .map(|e| Dn::parse(e.dn()).unwrap_or_else(|_| root()))
            .collect();
        Index::with_dns(entries, dns)
    }

    /// An empty index with room for `n` entries.
    pub(super) fn with_capacity(n: usize) -> Index {
        Index {
            dns: Vec::with_capacity(n),
            by_dn: HashMap::with_capacity(n),
            by_guid: HashMap::with_capacity(n),
            by_sam: HashMap::with_capacity(n),
            by_upn: HashMap::with_capacity(n),
            children: OnceCell::new(),
        }
    }

    /// Indexes entries whose DNs are already parsed (in the same order).
    pub(super) fn with_dns(entries: &[Entry], dns: Vec<Dn>) -> Index {
        let mut index = Index::with_capacity(entries.len());
        for (entry, dn) in entries.iter().zip(dns) {
            index.push(entry, dn);
        }
        index
    }

    /// Indexes an entry appended at the end.
    pub(super) fn push(&mut self, entry: &Entry, dn: Dn) {
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

    pub(super) fn add_names(&mut self, entry: &Entry, i: usize) {
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

    pub(super) fn remove_names(&mut self, entry: &Entry, i: usize) {
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
    pub(super) fn set_dn(&mut self, i: usize, new: Dn) {
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

    pub(super) fn has_children(&self, dn: &Dn) -> bool {
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
