//! The text attributes of an AD object.

use std::fmt;

use super::packed::{Entry, Kind, Values, spans};
use crate::names::{AttrName, NameKey};

/// Text attributes of an AD object, as LDAP returns them: (name, value) pairs in order, a
/// multi-valued attribute once per value. Holds every text attribute read, the ones
/// [`super::AdUser`] has accessors for included.
///
/// Compact on purpose (a million users are read at once): names are 2-byte ids and every
/// value lives in one text buffer, so an object's attributes cost two allocations however
/// many there are (see [`super::packed`]).
#[derive(Clone, Default)]
pub struct Attributes {
    entries: Vec<Entry>,
    text: String,
    /// The presence bits of the names held: most lookups are of well-known names, and many
    /// of absent ones (no adminDescription, no mail), which this answers without a scan.
    present: u64,
}

impl Attributes {
    pub fn new() -> Self {
        Attributes::default()
    }

    /// The first value of `name` (an [`AttrName`], or text in any case).
    pub fn get(&self, name: impl NameKey) -> Option<&str> {
        self.values(name).next()
    }

    /// Every value of `name`, in order.
    pub fn values<K: NameKey>(&self, name: K) -> Values<'_, K> {
        let bit = name.presence_bit();
        let entries = if bit != 0 && self.present & bit == 0 {
            &[][..]
        } else {
            &self.entries[..]
        };
        Values::new(&self.text, entries, name)
    }

    pub fn contains(&self, name: impl NameKey) -> bool {
        let bit = name.presence_bit();
        if bit != 0 {
            return self.present & bit != 0;
        }
        self.entries.iter().any(|e| name.same_name(e.name))
    }

    /// Adds one value after the others.
    pub fn push(&mut self, name: AttrName, value: impl AsRef<str>) {
        self.text.push_str(value.as_ref());
        self.entries
            .push(Entry::text(name, Kind::Text, self.text.len()));
        self.present |= name.presence_bit();
    }

    /// Sets the values of `name`, replacing any it had (in place of the first old value, else
    /// after the others).
    pub fn insert<S: AsRef<str>>(&mut self, name: AttrName, values: impl IntoIterator<Item = S>) {
        let Some(at) = self.entries.iter().position(|e| e.name == name) else {
            // The common case, building an object: nothing to rebuild.
            for v in values {
                self.push(name, v);
            }
            return;
        };
        let mut rebuilt = Attributes::default();
        let mut values = Some(values);
        for (i, (k, v)) in self.iter().enumerate() {
            if i == at {
                for new in values.take().into_iter().flatten() {
                    rebuilt.push(name, new);
                }
            }
            if k != name {
                rebuilt.push(k, v);
            }
        }
        *self = rebuilt;
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: impl NameKey) {
        if !self.contains(name) {
            return;
        }
        let mut rebuilt = Attributes::default();
        for (k, v) in self.iter() {
            if !name.same_name(k) {
                rebuilt.push(k, v);
            }
        }
        *self = rebuilt;
    }

    /// (name, value) pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (AttrName, &str)> + '_ {
        spans(&self.entries).map(|(e, range)| (e.name, &self.text[range]))
    }

    /// Each name once, with all its values, in order of first appearance.
    pub fn grouped(&self) -> Vec<(AttrName, Vec<&str>)> {
        let mut out: Vec<(AttrName, Vec<&str>)> = Vec::new();
        for (k, v) in self.iter() {
            match out.iter_mut().find(|(n, _)| *n == k) {
                Some((_, vs)) => vs.push(v),
                None => out.push((k, vec![v])),
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Gives back spare capacity once an object is fully read.
    pub fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        self.text.shrink_to_fit();
    }
}

/// Equal when every attribute has the same values in the same order; the order of different
/// attributes does not matter (LDAP attributes are a set, and the accessors' setters append).
impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .all(|e| self.values(e.name).eq(other.values(e.name)))
    }
}
impl Eq for Attributes {}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        let mut a = Attributes::new();
        for (k, v) in pairs {
            a.push(AttrName::from(*k), v);
        }
        a
    }

    #[test]
    fn looks_up_by_id_or_by_text_without_case() {
        let a = attrs(&[
            ("objectClass", "top"),
            ("sn", "Wood"),
            ("objectClass", "user"),
        ]);
        assert_eq!(a.get("SN"), Some("Wood"));
        assert_eq!(a.get(AttrName::OBJECT_CLASS), Some("top"));
        assert_eq!(a.values("objectclass").collect::<Vec<_>>(), ["top", "user"]);
        assert!(!a.contains("mail"));
    }

    #[test]
    fn insert_replaces_in_place_and_remove_drops_every_value() {
        let mut a = attrs(&[("cn", "A"), ("sn", "B"), ("sn", "C"), ("l", "D")]);
        a.insert(AttrName::from("sn"), ["X"]);
        assert_eq!(
            a.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            ["cn=A", "sn=X", "l=D"]
        );
        a.insert(AttrName::MAIL, ["m@x"]);
        assert_eq!(a.get("mail"), Some("m@x"));
        a.remove("SN");
        assert_eq!(a.get("sn"), None);
        assert_eq!(a.get("l"), Some("D"));
        assert_eq!(a.grouped().len(), 3);
    }

    #[test]
    fn equality_ignores_the_order_of_different_attributes() {
        let a = attrs(&[("cn", "A"), ("sn", "B"), ("sn", "C")]);
        assert_eq!(a, attrs(&[("sn", "B"), ("cn", "A"), ("sn", "C")]));
        assert_ne!(a, attrs(&[("cn", "A"), ("sn", "C"), ("sn", "B")]));
        assert_ne!(a, attrs(&[("cn", "A"), ("sn", "B")]));
    }
}
