//! Interned attribute and property names: a `u16` id into one process-wide table.
//!
//! Every object read carries the same few dozen names, so each is stored once for the whole
//! process and an object holds 2-byte ids. Ids are handed out per case-folded name, so two
//! names are equal (without case) exactly when their ids are: comparing and hashing are
//! integer operations.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use super::{cmp_ci, eq_ci};

/// An LDAP attribute or Graph property name (`sn`, `mS-DS-ConsistencyGuid`, `jobTitle`),
/// compared without case. Keeps the first spelling seen (the spelling below for the
/// well-known names).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttrName(u16);

/// Names looked up on every object, at fixed ids (their index here), so lookups by them
/// compare integers and need no table: the model's accessors and the Graph <-> AD mapping
/// table ([`crate::directory::attributes`]). Where Graph and AD spell a name differently
/// only in case, Graph's spelling is kept: Graph JSON keys are case-sensitive.
const WELL_KNOWN: &[&str] = &[
    // The object model.
    "objectClass",
    "displayName",
    "sAMAccountName",
    "userPrincipalName",
    "mail",
    "proxyAddresses",
    "adminDescription",
    "id",
    "mailNickname",
    "onPremisesImmutableId",
    "userType",
    // The mapping table, Graph and AD names.
    "givenName",
    "surname",
    "sn",
    "jobTitle",
    "title",
    "department",
    "companyName",
    "company",
    "officeLocation",
    "physicalDeliveryOfficeName",
    "streetAddress",
    "city",
    "l",
    "state",
    "st",
    "postalCode",
    "country",
    "co",
    "usageLocation",
    "c",
    "mobilePhone",
    "mobile",
    "businessPhones",
    "telephoneNumber",
    "faxNumber",
    "facsimileTelephoneNumber",
    "employeeId",
    "employeeType",
    "preferredLanguage",
    "accountEnabled",
    "userAccountControl",
    "onPremisesSyncEnabled",
    "onPremisesProvisioningErrors",
];

impl AttrName {
    pub const OBJECT_CLASS: AttrName = AttrName::well_known("objectClass");
    pub const DISPLAY_NAME: AttrName = AttrName::well_known("displayName");
    pub const SAM_ACCOUNT_NAME: AttrName = AttrName::well_known("sAMAccountName");
    pub const USER_PRINCIPAL_NAME: AttrName = AttrName::well_known("userPrincipalName");
    pub const MAIL: AttrName = AttrName::well_known("mail");
    pub const PROXY_ADDRESSES: AttrName = AttrName::well_known("proxyAddresses");
    pub const ADMIN_DESCRIPTION: AttrName = AttrName::well_known("adminDescription");
    pub const ID: AttrName = AttrName::well_known("id");
    pub const MAIL_NICKNAME: AttrName = AttrName::well_known("mailNickname");
    pub const ON_PREMISES_IMMUTABLE_ID: AttrName = AttrName::well_known("onPremisesImmutableId");
    pub const USER_TYPE: AttrName = AttrName::well_known("userType");
    pub const ACCOUNT_ENABLED: AttrName = AttrName::well_known("accountEnabled");
    pub const ON_PREMISES_SYNC_ENABLED: AttrName = AttrName::well_known("onPremisesSyncEnabled");
    pub const USER_ACCOUNT_CONTROL: AttrName = AttrName::well_known("userAccountControl");
    pub const ON_PREMISES_PROVISIONING_ERRORS: AttrName =
        AttrName::well_known("onPremisesProvisioningErrors");

    /// The id of a well-known name (any case), computed at compile time in constants; a
    /// name that is not well-known does not compile.
    pub const fn well_known(name: &str) -> AttrName {
        let mut i = 0;
        while i < WELL_KNOWN.len() {
            if const_eq_ignore_ascii_case(WELL_KNOWN[i].as_bytes(), name.as_bytes()) {
                return AttrName(i as u16);
            }
            i += 1;
        }
        // Cannot fail at run time: only used in constants, where it stops the build instead.
        panic!("not a well-known attribute name")
    }

    /// The name's id, interning it on first sight. For names in the code; names read from
    /// outside (snapshots, LDAP, Graph) go through [`AttrName::try_new`].
    ///
    /// # Panics
    /// On the 65,537th distinct name: schemas have a few thousand at most, so only a bug or
    /// hostile input gets there.
    pub fn new(name: &str) -> Self {
        match AttrName::try_new(name) {
            Ok(id) => id,
            // Cannot fail for the code's own names (a few hundred); outside input uses `try_new`.
            Err(e) => panic!("{e}"),
        }
    }

    /// The name's id, interning it on first sight; an error once the table is full (65,536
    /// distinct names, far more than any schema: a snapshot or directory answer with more
    /// is hostile or broken).
    pub fn try_new(name: &str) -> Result<Self, TooManyNames> {
        // Each reader thread asks for the same few dozen spellings a million times: a cache
        // per thread, by exact spelling, spares the lock (both readers run at once), the fold
        // and its allocation. Ids never change, so a cached id stays right.
        thread_local! {
            static SEEN: std::cell::RefCell<foldhash::HashMap<Box<str>, AttrName>> =
                Default::default();
        }
        // Bounded: spellings that differ only in case are unbounded in number.
        const CACHED: usize = 4096;
        if let Some(id) = SEEN.with_borrow(|seen| seen.get(name).copied()) {
            return Ok(id);
        }
        let id = Self::intern(name)?;
        SEEN.with_borrow_mut(|seen| {
            if seen.len() < CACHED {
                seen.insert(name.into(), id);
            }
        });
        Ok(id)
    }

    /// [`AttrName::try_new`] without the cache: the process-wide table.
    fn intern(name: &str) -> Result<Self, TooManyNames> {
        let mut ids = interner().lock().unwrap_or_else(|p| p.into_inner());
        let key = super::fold(name);
        if let Some(&id) = ids.get(&key) {
            return Ok(AttrName(id));
        }
        let id = u16::try_from(ids.len())
            .ok()
            .filter(|&id| usize::from(id) < SPELLINGS.len())
            .ok_or_else(|| TooManyNames::new(name))?;
        // Stored before the id is handed out (under the lock), so `as_str` always finds it.
        let spelling: &'static str = Box::leak(name.to_owned().into_boxed_str());
        // Cannot fail: `id < SPELLINGS.len()` was checked above.
        let _ = SPELLINGS[usize::from(id)].set(spelling);
        ids.insert(key, id);
        Ok(AttrName(id))
    }

    /// A bit per name for the first 64 ids (the well-known names among them), so an object
    /// can record which of them it holds and answer "absent" without a scan; 0 for others.
    #[inline]
    pub fn presence_bit(self) -> u64 {
        1u64.checked_shl(u32::from(self.0)).unwrap_or(0)
    }

    pub fn as_str(&self) -> &'static str {
        let i = usize::from(self.0);
        match WELL_KNOWN.get(i) {
            Some(name) => name,
            // Cannot fail: a `u16` indexes the 65,536 spellings, and an id is handed out only
            // after its spelling is stored (`try_new`, under the lock).
            None => SPELLINGS[i]
                .get()
                .expect("an id is handed out after its spelling is stored"),
        }
    }
}

/// The most distinct attribute and property names one process interns.
pub const MAX_NAMES: usize = 1 << 16;

/// A yes-or-no question about a name (without case: "is it binary by schema?"), asked once
/// per name for the whole process: a read asks it of every attribute of every entry.
pub struct NameMemo {
    ask: fn(&str) -> bool,
    /// Per id: 0 not asked yet, 1 no, 2 yes.
    answers: [std::sync::atomic::AtomicU8; MAX_NAMES],
}

impl NameMemo {
    /// `ask` must not tell two spellings of one name apart (any case): the memo asks it of
    /// the name's first spelling.
    pub const fn new(ask: fn(&str) -> bool) -> Self {
        NameMemo {
            ask,
            answers: [const { std::sync::atomic::AtomicU8::new(0) }; MAX_NAMES],
        }
    }

    pub fn get(&self, name: AttrName) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let slot = &self.answers[usize::from(name.0)];
        match slot.load(Relaxed) {
            1 => false,
            2 => true,
            _ => {
                let yes = (self.ask)(name.as_str());
                slot.store(1 + u8::from(yes), Relaxed);
                yes
            }
        }
    }

    /// The answer for a name that has no id (the table is full), asked now.
    pub fn ask(&self, name: &str) -> bool {
        (self.ask)(name)
    }
}

/// The name table is full: an input with more distinct attribute names than any schema has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "more than {MAX_NAMES} distinct attribute names (the last: \"{shown}\"): no directory schema has that many"
)]
pub struct TooManyNames {
    /// The name that did not fit, cut to 100 characters for display.
    shown: String,
}

impl TooManyNames {
    fn new(name: &str) -> Self {
        let mut shown: String = name.chars().take(100).collect();
        if shown.len() < name.len() {
            shown.push('…');
        }
        TooManyNames { shown }
    }
}

/// Spellings of the names interned at run time, by id (the well-known ids stay unused).
/// Lock-free to read; about 1.5 MiB of address space, zeroed and untouched until used.
static SPELLINGS: [OnceLock<&'static str>; MAX_NAMES] = [const { OnceLock::new() }; MAX_NAMES];

/// Case-folded name -> id; seeded with the well-known names.
fn interner() -> &'static Mutex<HashMap<String, u16>> {
    static IDS: OnceLock<Mutex<HashMap<String, u16>>> = OnceLock::new();
    IDS.get_or_init(|| {
        let ids = WELL_KNOWN
            .iter()
            .zip(0u16..)
            .map(|(name, id)| (super::fold(name), id))
            .collect();
        Mutex::new(ids)
    })
}

const fn const_eq_ignore_ascii_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !a[i].eq_ignore_ascii_case(&b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// What an attribute is looked up by: an [`AttrName`] (an integer compare) or any text
/// (compared without case, no interning).
pub trait NameKey: Copy {
    fn same_name(self, name: AttrName) -> bool;

    /// The name's bit in an object's presence mask ([`AttrName::presence_bit`]), 0 when it
    /// has none (then only a scan can tell).
    #[inline]
    fn presence_bit(self) -> u64 {
        0
    }
}

impl NameKey for AttrName {
    #[inline]
    fn same_name(self, name: AttrName) -> bool {
        self == name
    }

    #[inline]
    fn presence_bit(self) -> u64 {
        AttrName::presence_bit(self)
    }
}
impl NameKey for &str {
    #[inline]
    fn same_name(self, name: AttrName) -> bool {
        eq_ci(name.as_str(), self)
    }
}
impl NameKey for &String {
    #[inline]
    fn same_name(self, name: AttrName) -> bool {
        eq_ci(name.as_str(), self)
    }
}

/// Alphabetical without case (not by id), so sorted lists read the same in every run.
impl Ord for AttrName {
    fn cmp(&self, other: &Self) -> Ordering {
        if self == other {
            Ordering::Equal
        } else {
            cmp_ci(self.as_str(), other.as_str())
        }
    }
}
impl PartialOrd for AttrName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl fmt::Display for AttrName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Debug for AttrName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
impl From<&str> for AttrName {
    fn from(s: &str) -> Self {
        AttrName::new(s)
    }
}
impl From<String> for AttrName {
    fn from(s: String) -> Self {
        AttrName::new(&s)
    }
}
impl AsRef<str> for AttrName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_answers_as_its_question_for_every_spelling() {
        static LONG: NameMemo =
            NameMemo::new(|n| n.len() > 8 && n.eq_ignore_ascii_case("memoTestLongName"));
        for spelling in ["memoTestLongName", "MEMOTESTLONGNAME", "memotestlongname"] {
            assert!(LONG.get(AttrName::from(spelling)), "{spelling}");
            assert!(LONG.ask(spelling));
        }
        assert!(!LONG.get(AttrName::from("memoTestShort")));
        assert!(!LONG.get(AttrName::from("MemoTestShort")));
    }

    #[test]
    fn names_are_interned_without_case() {
        let a = AttrName::from("someAttributeName");
        let b = AttrName::from("SOMEATTRIBUTENAME".to_owned());
        assert_eq!(a, b);
        assert_eq!(b.as_str(), "someAttributeName");
        assert_ne!(a, AttrName::from("otherAttributeName"));
        assert!("SomeAttributeName".same_name(a));
    }

    #[test]
    fn well_known_names_have_their_fixed_ids() {
        for (i, name) in WELL_KNOWN.iter().enumerate() {
            assert_eq!(AttrName::new(&name.to_uppercase()), AttrName(i as u16));
        }
        assert_eq!(
            AttrName::from("USERPRINCIPALNAME"),
            AttrName::USER_PRINCIPAL_NAME
        );
        assert_eq!(AttrName::USER_TYPE.as_str(), "userType");
        assert_eq!(AttrName::OBJECT_CLASS.to_string(), "objectClass");
        assert_eq!(AttrName::from("employeeID").as_str(), "employeeId");
    }

    #[test]
    fn order_is_alphabetical_without_case() {
        assert!(AttrName::from("sn") > AttrName::from("Department"));
        assert!(AttrName::MAIL < AttrName::MAIL_NICKNAME);
    }
}
