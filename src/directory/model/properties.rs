//! The properties of a cloud user.

use std::fmt;
use std::ops::Range;

use serde_json::Value;

use super::packed::{Entry, Kind, Values, spans, text_end_before};
use crate::names::{AttrName, NameKey};

/// Graph properties of a cloud user, the ones [`super::CloudUser`] has accessors for
/// included. Kept in the order set; listed sorted by name (any case).
///
/// Compact on purpose (a million users are read at once): names are 2-byte ids; strings and
/// lists of strings (nearly every value) share one text buffer, a list as one entry per item
/// (see [`super::packed`]); other JSON values (numbers, objects, mixed lists, empty lists)
/// are kept aside as they are.
#[derive(Clone, Default)]
pub struct Properties {
    entries: Vec<Entry>,
    text: String,
    other: Vec<Value>,
    /// The presence bits of the names held (see [`AttrName::presence_bit`]): lookups of
    /// absent well-known names (no onPremisesImmutableId, no userType) need no scan.
    present: u64,
}

/// One property's value, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum Prop<'a> {
    Text(&'a str),
    /// A non-empty list of strings.
    List(List<'a>),
    Json(&'a Value),
}

/// The items of a list-of-strings property, borrowed.
#[derive(Clone, Copy)]
pub struct List<'a> {
    text: &'a str,
    /// Where the first item starts in `text`.
    start: usize,
    items: &'a [Entry],
}

impl<'a> List<'a> {
    pub fn iter(self) -> impl Iterator<Item = &'a str> + Clone {
        let mut start = self.start;
        self.items.iter().map(move |e| {
            let item = &self.text[start..e.at as usize];
            start = e.at as usize;
            item
        })
    }
}

impl fmt::Debug for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> Prop<'a> {
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            Prop::Text(s) => Some(s),
            Prop::List(_) => None,
            Prop::Json(v) => v.as_str(),
        }
    }

    /// The first entry of a list as text.
    pub fn first_item(self) -> Option<&'a str> {
        match self {
            Prop::Text(_) => None,
            Prop::List(l) => l.iter().next(),
            Prop::Json(v) => v.as_array()?.first()?.as_str(),
        }
    }

    pub fn to_value(self) -> Value {
        match self {
            Prop::Text(s) => Value::String(s.to_owned()),
            Prop::List(l) => Value::Array(l.iter().map(Value::from).collect()),
            Prop::Json(v) => v.clone(),
        }
    }
}

/// As JSON values: a list equals the same JSON array.
impl PartialEq for Prop<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (*self, *other) {
            (Prop::Text(a), Prop::Text(b)) => a == b,
            (Prop::List(a), Prop::List(b)) => a.iter().eq(b.iter()),
            (Prop::Json(a), Prop::Json(b)) => a == b,
            (a, b) => a.to_value() == b.to_value(),
        }
    }
}

impl PartialEq<&str> for Prop<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl Properties {
    /// The entries of the property whose first entry is `start` (a list has several).
    fn run(&self, start: usize) -> Range<usize> {
        let name = self.entries[start].name;
        let len = self.entries[start..]
            .iter()
            .take_while(|e| e.name == name)
            .count();
        start..start + len
    }

    /// The value of the entries `range` (one property).
    fn prop(&self, range: Range<usize>) -> Prop<'_> {
        let first = self.entries[range.start];
        let start = text_end_before(&self.entries, range.start);
        match first.kind {
            Kind::Text => Prop::Text(&self.text[start..first.at as usize]),
            Kind::Item => Prop::List(List {
                text: &self.text,
                start,
                items: &self.entries[range],
            }),
            Kind::Json => Prop::Json(&self.other[first.at as usize]),
        }
    }

    /// A property by name (an [`AttrName`], or text in any case): a scan comparing ids.
    pub fn get(&self, name: impl NameKey) -> Option<Prop<'_>> {
        if !self.may_hold(name) {
            return None;
        }
        let start = self.entries.iter().position(|e| name.same_name(e.name))?;
        Some(self.prop(self.run(start)))
    }

    /// A text property.
    pub fn text(&self, name: impl NameKey) -> Option<&str> {
        if !self.may_hold(name) {
            return None;
        }
        let (e, range) = spans(&self.entries).find(|(e, _)| name.same_name(e.name))?;
        match e.kind {
            Kind::Text => Some(&self.text[range]),
            Kind::Item => None,
            Kind::Json => self.other[e.at as usize].as_str(),
        }
    }

    /// The strings of a property: a text value, or the items of a list.
    pub fn values<K: NameKey>(&self, name: K) -> Values<'_, K> {
        let entries = if self.may_hold(name) {
            &self.entries[..]
        } else {
            &[][..]
        };
        Values::new(&self.text, entries, name)
    }

    /// The presence bits of the names held ([`AttrName::presence_bit`]).
    pub fn presence_mask(&self) -> u64 {
        self.present
    }

    /// False when the presence mask says `name` is absent; true when it may be there.
    #[inline]
    fn may_hold(&self, name: impl NameKey) -> bool {
        let bit = name.presence_bit();
        bit == 0 || self.present & bit != 0
    }

    /// A property as JSON (owned).
    pub fn value(&self, name: impl NameKey) -> Option<Value> {
        self.get(name).map(Prop::to_value)
    }

    pub fn contains_key(&self, name: impl NameKey) -> bool {
        if !self.may_hold(name) {
            return false;
        }
        self.entries.iter().any(|e| name.same_name(e.name))
    }

    /// Sets a property, replacing any value it had. Strings and non-empty lists of strings go
    /// to the text buffer.
    pub fn insert(&mut self, name: impl Into<AttrName>, value: Value) {
        match value {
            Value::String(_) | Value::Array(_) => self.insert_ref(name, &value),
            other => self.put_json(name.into(), other),
        }
    }

    /// [`Properties::insert`] from a borrowed value: copies only what it keeps.
    pub fn insert_ref(&mut self, name: impl Into<AttrName>, value: &Value) {
        let name = name.into();
        match value {
            Value::String(s) => self.put(name, Kind::Text, [s.as_str()]),
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
                self.put(name, Kind::Item, items.iter().filter_map(Value::as_str));
            }
            other => self.put_json(name, other.clone()),
        }
    }

    fn put_json(&mut self, name: AttrName, value: Value) {
        self.remove(name);
        // Cannot fail: each property takes bytes of a file or answer below 4 GiB.
        let index = u32::try_from(self.other.len()).expect("fewer than 4G properties");
        self.other.push(value);
        self.entries.push(Entry {
            name,
            kind: Kind::Json,
            at: index,
        });
        self.present |= name.presence_bit();
    }

    /// Sets a text property (`Some`) or removes it (`None`).
    pub fn set_text(&mut self, name: AttrName, value: Option<&str>) {
        match value {
            Some(v) => self.put(name, Kind::Text, [v]),
            None => {
                self.remove(name);
            }
        }
    }

    /// Sets a list of strings; an empty list removes the property.
    pub fn set_list<S: AsRef<str>>(&mut self, name: AttrName, items: impl IntoIterator<Item = S>) {
        self.put(name, Kind::Item, items);
    }

    /// Replaces `name` with text entries of `kind`, after the others.
    fn put<S: AsRef<str>>(
        &mut self,
        name: AttrName,
        kind: Kind,
        values: impl IntoIterator<Item = S>,
    ) {
        self.remove(name);
        for v in values {
            self.text.push_str(v.as_ref());
            self.entries.push(Entry::text(name, kind, self.text.len()));
            self.present |= name.presence_bit();
        }
    }

    pub fn remove(&mut self, name: impl NameKey) -> Option<Value> {
        if !self.may_hold(name) {
            return None;
        }
        let start = self.entries.iter().position(|e| name.same_name(e.name))?;
        let range = self.run(start);
        // A name's entries are one run (`put` removes before it adds): it is gone now.
        self.present &= !self.entries[start].name.presence_bit();
        let value = self.prop(range.clone()).to_value();
        let first = self.entries[range.start];
        if first.kind == Kind::Json {
            self.other.remove(first.at as usize);
            for e in &mut self.entries {
                if e.kind == Kind::Json && e.at > first.at {
                    e.at -= 1;
                }
            }
        } else {
            let text_start = text_end_before(&self.entries, range.start);
            let text_end = self.entries[range.end - 1].at as usize;
            self.text.replace_range(text_start..text_end, "");
            // The text after it moved back.
            // Cannot fail: a slice of one object's text, which is below 4 GiB (see `Entry::text`).
            let removed = u32::try_from(text_end - text_start).expect("below 4 GiB");
            for e in self.entries[range.end..].iter_mut().filter(|e| e.in_text()) {
                e.at -= removed;
            }
        }
        self.entries.drain(range);
        Some(value)
    }

    /// (name, value) pairs, one per property, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, Prop<'_>)> + '_ {
        self.iter_names().map(|(k, v)| (k.as_str(), v))
    }

    /// [`Properties::iter`] with interned names.
    pub fn iter_names(&self) -> impl Iterator<Item = (AttrName, Prop<'_>)> + '_ {
        // Listing is rare (fingerprints, writing JSON): sorting here keeps setting cheap.
        let mut starts: Vec<usize> = (0..self.entries.len())
            .filter(|&i| i == 0 || self.entries[i - 1].name != self.entries[i].name)
            .collect();
        starts.sort_by_key(|&i| self.entries[i].name);
        starts
            .into_iter()
            .map(|start| (self.entries[start].name, self.prop(self.run(start))))
    }

    /// Names, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// How many properties (a list counts once).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Room for `entries` more entries and `text` more bytes of text.
    pub fn reserve(&mut self, entries: usize, text: usize) {
        self.entries.reserve_exact(entries);
        self.text.reserve_exact(text);
    }

    /// Gives back spare capacity once an object is fully read.
    pub fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        self.text.shrink_to_fit();
        self.other.shrink_to_fit();
    }

    /// Entries with their text ranges, for checks in tests.
    #[cfg(test)]
    pub(crate) fn layout(&self) -> Vec<(String, Range<usize>)> {
        spans(&self.entries)
            .map(|(e, r)| (e.name.to_string(), r))
            .collect()
    }
}

impl PartialEq for Properties {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_properties_sorted_with_text_in_entry_order() {
        let mut p = Properties::default();
        p.insert("surname", json!("Wood"));
        p.insert("city", json!("Oslo"));
        p.insert("businessPhones", json!(["+47 1", "+47 2"]));
        p.insert("accountEnabled", json!(true));
        p.insert("otherMails", json!([]));
        assert_eq!(
            p.keys().collect::<Vec<_>>(),
            [
                "accountEnabled",
                "businessPhones",
                "city",
                "otherMails",
                "surname"
            ]
        );
        assert_eq!(p.text("CITY"), Some("Oslo"));
        assert_eq!(p.value("businessPhones"), Some(json!(["+47 1", "+47 2"])));
        assert_eq!(
            p.get("businessPhones").and_then(Prop::first_item),
            Some("+47 1")
        );
        assert_eq!(p.value("otherMails"), Some(json!([])));
        assert_eq!(p.value("accountEnabled"), Some(json!(true)));
        assert_eq!(p.len(), 5);
        let ends: Vec<usize> = p.layout().iter().map(|(_, r)| r.end).collect();
        assert!(ends.is_sorted(), "{:?}", p.layout());
    }

    #[test]
    fn replacing_and_removing_keep_the_buffer_consistent() {
        let mut p = Properties::default();
        for (k, v) in [("a", "1"), ("c", "333"), ("e", "55555")] {
            p.insert(k, json!(v));
        }
        p.insert("b", json!({"x": 1}));
        p.insert("d", json!(["x", "yy"]));
        p.insert("c", json!("3"));
        assert_eq!(p.remove("a"), Some(json!("1")));
        assert_eq!(p.remove("b"), Some(json!({"x": 1})));
        p.insert("f", json!(2));
        assert_eq!(p.text("c"), Some("3"));
        assert_eq!(p.values("d").collect::<Vec<_>>(), ["x", "yy"]);
        assert_eq!(p.text("e"), Some("55555"));
        assert_eq!(p.value("f"), Some(json!(2)));
        assert_eq!(p.text("d"), None);
        p.set_list(AttrName::from("d"), Vec::<String>::new());
        assert!(!p.contains_key("d"));
        p.set_text(AttrName::from("e"), None);
        assert_eq!(
            format!("{p:?}"),
            r#"{"c": Text("3"), "f": Json(Number(2))}"#
        );
    }

    #[test]
    fn equal_as_json() {
        let mut a = Properties::default();
        a.insert("x", json!(["1"]));
        let mut b = Properties::default();
        b.insert("X", json!(["1"]));
        assert_eq!(a, b);
        assert_eq!(a.get("x").unwrap(), Prop::Json(&json!(["1"])));
    }
}
