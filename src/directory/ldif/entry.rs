//! Editing entries: values by attribute (ranged `member;range=` included), set, add, remove.

use super::*;

impl Entry {
    /// A new, empty entry.
    pub fn new(dn: impl Into<String>) -> Self {
        Entry {
            leading: Vec::new(),
            dn: dn.into(),
            dn_raw: None,
            line: 0,
            changetype: None,
            attrs: Vec::new(),
            tail: Vec::new(),
        }
    }

    pub fn dn(&self) -> &str {
        &self.dn
    }

    /// Renames the entry (its `dn` line is rewritten; the attributes are untouched).
    pub fn set_dn(&mut self, dn: impl Into<String>) {
        let dn = dn.into();
        if dn != self.dn {
            self.dn = dn;
            self.dn_raw = None;
        }
    }

    /// Line of the `dn` line in the original file; 0 for entries added since.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Reads this entry's ranged values as the plain attribute: see
    /// [`LdifFile::merge_ranges`].
    pub fn merge_ranges(&mut self) -> Result<(), LdifError> {
        /// One ranged name's lines: (start, end or None for `*`, index of the first line,
        /// number of values).
        struct Range {
            start: u64,
            end: Option<u64>,
            first: usize,
            count: u64,
        }
        let mut ranged: Vec<(String, Vec<Range>)> = Vec::new();
        for (i, line) in self.attrs.iter().enumerate() {
            let Some((base, option)) = split_range(&line.name) else {
                continue;
            };
            let (start, end) = parse_range(option).ok_or_else(|| LdifError {
                line: line.line,
                // `option` is a slice of `name`.
                column: 1 + (option.as_ptr() as usize - line.name.as_ptr() as usize),
                message: format!(
                    "bad range option \"{option}\" in {}: expected range=FIRST-LAST or range=FIRST-*",
                    line.name
                ),
            })?;
            let slot = match ranged
                .iter()
                .position(|(b, _)| b.eq_ignore_ascii_case(&base))
            {
                Some(p) => p,
                None => {
                    ranged.push((base, Vec::new()));
                    ranged.len() - 1
                }
            };
            let ranges = &mut ranged[slot].1;
            match ranges.last_mut() {
                Some(r) if r.start == start && r.end == end => r.count += 1,
                _ => ranges.push(Range {
                    start,
                    end,
                    first: i,
                    count: 1,
                }),
            }
        }
        for (base, ranges) in &ranged {
            let at = |r: &Range| (self.attrs[r.first].line, &self.attrs[r.first].name);
            if let Some(plain) = self
                .attrs
                .iter()
                .find(|l| l.name.eq_ignore_ascii_case(base))
            {
                return Err(LdifError {
                    line: plain.line,
                    column: 1,
                    message: format!(
                        "{base} is given both whole and in ranges ({}): the export is ambiguous",
                        at(&ranges[0]).1
                    ),
                });
            }
            let mut expected = 0;
            for (k, r) in ranges.iter().enumerate() {
                let (line, name) = at(r);
                let fail = |what: String| LdifError {
                    line,
                    column: 1,
                    message: format!("{what}: the export is incomplete"),
                };
                if r.start != expected {
                    return Err(fail(if k == 0 {
                        format!("{name} does not start at value 0")
                    } else {
                        format!(
                            "{name} does not continue {} (values {expected}-{} are missing)",
                            at(&ranges[k - 1]).1,
                            r.start.saturating_sub(1)
                        )
                    }));
                }
                let size = |end: u64| end.checked_sub(r.start).and_then(|d| d.checked_add(1));
                match r.end {
                    Some(end) if size(end) != Some(r.count) => {
                        return Err(fail(format!(
                            "{name} holds {} values where its range says {}",
                            r.count,
                            size(end).map_or_else(|| "none".to_owned(), |n| n.to_string())
                        )));
                    }
                    Some(end) if k + 1 == ranges.len() => {
                        return Err(fail(format!(
                            "{name} holds values {}-{end} of {base} and no range continues it up to {base};range={}-*",
                            r.start,
                            end.saturating_add(1)
                        )));
                    }
                    Some(end) => expected = end.saturating_add(1),
                    None if k + 1 != ranges.len() => {
                        let (line, next) = at(&ranges[k + 1]);
                        return Err(LdifError {
                            line,
                            column: 1,
                            message: format!("{next} follows {name}, the last range"),
                        });
                    }
                    None => {}
                }
            }
        }
        for line in &mut self.attrs {
            if let Some((base, _)) = split_range(&line.name) {
                line.name = base.into();
                line.ranged = true;
            }
        }
        Ok(())
    }

    /// Every attribute line, in file order.
    pub fn lines(&self) -> &[AttrLine] {
        &self.attrs
    }

    /// The distinct attribute descriptions, in order of first appearance.
    pub fn attribute_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for line in &self.attrs {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(&line.name)) {
                names.push(&line.name);
            }
        }
        names
    }

    /// Every value of an attribute (description compared without case), in file order.
    pub fn values(&self, name: &str) -> Vec<&[u8]> {
        self.matching(name).map(AttrLine::value).collect()
    }

    /// The first value of an attribute.
    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.matching(name).next().map(AttrLine::value)
    }

    /// The first value of an attribute, if it is UTF-8 text.
    pub fn first_text(&self, name: &str) -> Option<&str> {
        self.first(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    pub fn has(&self, name: &str) -> bool {
        self.matching(name).next().is_some()
    }

    /// Line of the first line of an attribute in the original file (0 when added since).
    pub fn line_of(&self, name: &str) -> Option<usize> {
        self.matching(name).next().map(|l| l.line)
    }

    pub(super) fn matching<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a AttrLine> + use<'a, 'n> {
        self.attrs
            .iter()
            .filter(move |l| l.name.eq_ignore_ascii_case(name))
    }

    /// Replaces every value of an attribute; an empty list removes it. The new values are
    /// written where the attribute's first line was (at the end for a new attribute); values
    /// that were already there keep their original text.
    pub fn set_values<V: Into<Vec<u8>>>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = V>,
    ) {
        let values: Vec<Vec<u8>> = values.into_iter().map(Into::into).collect();
        self.rewrite(name, values);
    }

    /// Adds values after the attribute's existing ones (no duplicate check: that is the
    /// directory's business).
    pub fn add_values<V: Into<Vec<u8>>>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = V>,
    ) {
        let mut all: Vec<Vec<u8>> = self.values(name).into_iter().map(<[u8]>::to_vec).collect();
        let before = all.len();
        all.extend(values.into_iter().map(Into::into));
        if all.len() != before {
            self.rewrite(name, all);
        }
    }

    /// Removes the values that match any of `values`; returns how many were removed.
    pub fn remove_values<V: AsRef<[u8]>>(
        &mut self,
        name: &str,
        values: &[V],
        how: ValueMatch,
    ) -> usize {
        let old: Vec<Vec<u8>> = self.values(name).into_iter().map(<[u8]>::to_vec).collect();
        let kept: Vec<Vec<u8>> = old
            .iter()
            .filter(|v| !values.iter().any(|r| how.matches(v, r.as_ref())))
            .cloned()
            .collect();
        let removed = old.len() - kept.len();
        if removed > 0 {
            self.rewrite(name, kept);
        }
        removed
    }

    /// Removes the values `remove` picks and appends `add` after the attribute's last line, in
    /// one pass: a per-value edit of a large attribute (a group's 100,000 `member` values)
    /// without the per-value rewrites of [`Entry::add_values`]. Every other line keeps its
    /// text, unless the attribute was read in ranges: then all of it is written under its
    /// plain name (a partial range would read back as an incomplete export). Returns how many
    /// values were removed.
    pub fn edit_values(
        &mut self,
        name: &str,
        mut remove: impl FnMut(&[u8]) -> bool,
        add: Vec<Vec<u8>>,
    ) -> usize {
        let mut spelling: Option<String> = None;
        let mut removed = 0;
        let mut after_last: Option<usize> = None;
        let mut kept: Vec<AttrLine> = Vec::with_capacity(self.attrs.len() + add.len());
        for line in std::mem::take(&mut self.attrs) {
            if line.name.eq_ignore_ascii_case(name) {
                if spelling.is_none() {
                    spelling = Some(line.name.to_string());
                }
                if remove(line.value()) {
                    removed += 1;
                    continue;
                }
                kept.push(line);
                after_last = Some(kept.len());
            } else {
                kept.push(line);
            }
        }
        if removed > 0 || !add.is_empty() {
            for line in kept.iter_mut().filter(|l| l.ranged) {
                line.raw = Raw::New;
                line.ranged = false;
            }
        }
        let spelling = spelling.unwrap_or_else(|| name.to_owned());
        let at = after_last.unwrap_or(kept.len());
        kept.splice(at..at, add.into_iter().map(|v| AttrLine::new(&spelling, v)));
        self.attrs = kept;
        removed
    }

    /// Removes every value of an attribute; returns whether it was there.
    pub fn remove_attribute(&mut self, name: &str) -> bool {
        let had = self.has(name);
        if had {
            self.rewrite(name, Vec::new());
        }
        had
    }

    pub(super) fn rewrite(&mut self, name: &str, values: Vec<Vec<u8>>) {
        let positions: Vec<usize> = (0..self.attrs.len())
            .filter(|&i| self.attrs[i].name.eq_ignore_ascii_case(name))
            .collect();
        let Some(&first) = positions.first() else {
            self.attrs
                .extend(values.into_iter().map(|v| AttrLine::new(name, v)));
            return;
        };
        let spelling = self.attrs[first].name.clone();
        let mut old: Vec<Option<AttrLine>> = Vec::with_capacity(positions.len());
        for &i in positions.iter().rev() {
            old.push(Some(self.attrs.remove(i)));
        }
        old.reverse();
        // Lines read under ranged names would read back as a partial range: once the
        // attribute changes, all of it is written under its plain name.
        let reuse = !old.iter().flatten().any(|l| l.ranged);
        let replacement: Vec<AttrLine> = values
            .into_iter()
            .map(|value| {
                // An unchanged value keeps its original line.
                old.iter_mut()
                    .filter(|_| reuse)
                    .find(|slot| slot.as_ref().is_some_and(|l| l.value() == value.as_slice()))
                    .and_then(Option::take)
                    .unwrap_or_else(|| AttrLine::new(&spelling, value))
            })
            .collect();
        self.attrs.splice(first..first, replacement);
    }

    pub(super) fn render_into(&self, out: &mut Out) {
        out.piece(&self.leading);
        match &self.dn_raw {
            Some(raw) => out.piece(raw),
            None => out.piece(&encode_line("dn", self.dn.as_bytes(), out.eol)),
        }
        if let Some(raw) = &self.changetype {
            out.piece(raw);
        }
        for line in &self.attrs {
            match &line.raw {
                Raw::Text(raw) => out.piece(raw),
                Raw::Verbatim => out.verbatim(&line.name, line.value()),
                Raw::New => out.piece(&encode_line(&line.name, line.value(), out.eol)),
            }
        }
        out.piece(&self.tail);
    }
}

/// An attribute description with a `range=` option split into the description without it and
/// the option's text (`member;range=0-1499` gives `member` and `range=0-1499`).
pub(crate) fn split_range(name: &str) -> Option<(String, &str)> {
    if !name.contains(';') {
        return None; // the common case, without allocating
    }
    let mut parts = name.split(';');
    let attr_type = parts.next()?;
    let mut base = attr_type.to_owned();
    let mut range = None;
    for option in parts {
        if option.len() > 6 && option[..6].eq_ignore_ascii_case("range=") {
            range = Some(option);
        } else {
            base.push(';');
            base.push_str(option);
        }
    }
    range.map(|r| (base, r))
}

/// `range=0-1499` gives (0, Some(1499)); `range=1500-*` gives (1500, None).
pub(crate) fn parse_range(option: &str) -> Option<(u64, Option<u64>)> {
    let (first, last) = option.get(6..)?.split_once('-')?;
    let first = first.parse().ok()?;
    let last = if last == "*" {
        None
    } else {
        Some(last.parse().ok()?)
    };
    Some((first, last))
}
