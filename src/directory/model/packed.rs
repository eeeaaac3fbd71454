//! The packed layout [`super::Attributes`] and [`super::Properties`] share: a list of 8-byte
//! entries (name id, kind, offset) over one text buffer per object.
//!
//! Text values lie in the buffer in entry order, back to back, so an entry stores only where
//! its value ends; it starts where the previous text value ended. Lookups scan the entries
//! (an object has a dozen or two), comparing integer name ids.

use std::ops::Range;

use crate::names::{AttrName, NameKey};

/// What an entry holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    /// A text value; `at` is where it ends in the text buffer.
    Text,
    /// One item of a list of strings (the items of a list are consecutive entries); `at` is
    /// where it ends in the text buffer.
    Item,
    /// Another JSON value (cloud properties only); `at` is its index in the side list.
    Json,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub name: AttrName,
    pub kind: Kind,
    pub at: u32,
}

impl Entry {
    pub fn text(name: AttrName, kind: Kind, end: usize) -> Self {
        // u32 offsets keep an entry at 8 bytes: one object's text is far below 4 GiB.
        // Cannot fail: an object's text is smaller than the file or answer it came from (snapshots below 4 GiB, Graph answers below 256 MiB).
        let at = u32::try_from(end).expect("an object's text is below 4 GiB");
        Entry { name, kind, at }
    }

    pub fn in_text(&self) -> bool {
        self.kind != Kind::Json
    }
}

/// Each entry with the byte range of its value in the text buffer (empty for JSON entries).
pub(super) fn spans(entries: &[Entry]) -> impl Iterator<Item = (&Entry, Range<usize>)> + Clone {
    let mut start = 0;
    entries.iter().map(move |e| {
        if e.in_text() {
            let range = start..e.at as usize;
            start = e.at as usize;
            (e, range)
        } else {
            (e, start..start)
        }
    })
}

/// Where the text of `entries[..index]` ends: where a value inserted at `index` goes.
pub(super) fn text_end_before(entries: &[Entry], index: usize) -> usize {
    entries[..index]
        .iter()
        .rev()
        .find(|e| e.in_text())
        .map_or(0, |e| e.at as usize)
}

/// The text values of one name, in order; cheap to clone.
#[derive(Clone)]
pub struct Values<'a, K = AttrName> {
    text: &'a str,
    entries: std::slice::Iter<'a, Entry>,
    start: usize,
    name: K,
}

impl<'a, K: NameKey> Values<'a, K> {
    pub(super) fn new(text: &'a str, entries: &'a [Entry], name: K) -> Self {
        Values {
            text,
            entries: entries.iter(),
            start: 0,
            name,
        }
    }
}

impl<'a, K: NameKey> Iterator for Values<'a, K> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        for e in self.entries.by_ref() {
            if !e.in_text() {
                continue;
            }
            let range = self.start..e.at as usize;
            self.start = e.at as usize;
            if self.name.same_name(e.name) {
                return Some(&self.text[range]);
            }
        }
        None
    }
}

impl<K: NameKey> std::fmt::Debug for Values<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}
