//! RFC 2849 LDIF content files, as `ldapsearch -LLL` and `ldifde` export them: a lossless
//! parser, an editing API and a renderer.
//!
//! Lossless means the parse keeps the raw text of every piece of the file (the preamble, the
//! blank lines and comments between entries, each entry's `dn` line and each attribute line
//! group with its folded continuation lines). Rendering an unmodified file gives back the exact
//! input bytes; rendering an edited file re-emits every untouched piece byte for byte and writes
//! only what changed, the way `ldapsearch` would write it (SAFE-STRING values as `attr: value`,
//! everything else as `attr:: base64`, folded at 76 columns).
//!
//! Choices, where RFC 2849 leaves room:
//! - Reading is lenient where no meaning is lost: plain values may hold UTF-8 (as `ldifde`
//!   writes them), base64 padding may be omitted, lines holding only whitespace between entries
//!   count as blank lines. Writing is strict.
//! - Files are UTF-8, with or without a BOM, or UTF-16 with a BOM (`ldifde -u`); rendering
//!   writes the encoding, BOM and line endings that were read. A plain value that is not
//!   UTF-8 is an error naming the likely encoding (Windows-1252), never a lost value.
//! - ldapsearch's own records are kept as text, not entries: `search:`/`result:` trailers
//!   (reported by [`LdifFile::search_results`]), `ref:` search references, `# requesting:`
//!   headers (reported by [`LdifFile::requesting`]).
//! - `ldifde` exports' `changetype: add` records read as content (the line is kept, and new
//!   entries get one in such a file); other change records (`changetype: modify`, `control:`)
//!   and URL values (`attr:< file://…`) are refused with a clear error: a snapshot is a
//!   content file and must be self-contained.
//! - A file that is not LDIF at all (JSON, CSV, PowerShell output) is named in the error of
//!   its first line, with the commands that make an export that reads.
//! - Error columns are 1-based byte columns of the physical line, as serde_json counts them.
//! - Attribute descriptions (`proxyAddresses`, `userCertificate;binary`) are matched without
//!   regard to ASCII case, options included.
//! - [`Entry::remove_values`] takes a [`ValueMatch`]: `IgnoreCase` is AD's rule for most text
//!   attributes (and what the AD snapshot uses for text values), `Exact` is for binary values.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD as B64;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::names::eq_ci;

/// Physical line width of generated lines, continuation lines included (`ldapsearch`'s).
const WRAP: usize = 76;

/// Base64 as found in the wild: padding optional, non-canonical trailing bits tolerated.
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// A syntax error, located in the original file (1-based line and byte column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct LdifError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// How [`Entry::remove_values`] compares values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueMatch {
    /// Byte for byte (binary values, case-exact strings).
    Exact,
    /// Case-insensitive when both values are UTF-8 text, byte for byte otherwise (AD's rule for
    /// most string syntaxes, `proxyAddresses` included).
    IgnoreCase,
}

impl ValueMatch {
    pub fn matches(self, a: &[u8], b: &[u8]) -> bool {
        match self {
            ValueMatch::Exact => a == b,
            ValueMatch::IgnoreCase => match (std::str::from_utf8(a), std::str::from_utf8(b)) {
                (Ok(a), Ok(b)) => eq_ci(a, b),
                _ => a == b,
            },
        }
    }
}

/// How a file's text is encoded on disk; rendering writes it back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextEncoding {
    #[default]
    Utf8,
    /// UTF-8 with a byte order mark (Windows tools write one).
    Utf8Bom,
    /// UTF-16 little-endian with a BOM (`ldifde -u`, Windows PowerShell's `>`).
    Utf16Le,
    /// UTF-16 big-endian with a BOM.
    Utf16Be,
}

impl TextEncoding {
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 with a BOM",
            TextEncoding::Utf16Le => "UTF-16LE",
            TextEncoding::Utf16Be => "UTF-16BE",
        }
    }
}

/// An ldapsearch `search:`/`result:` record: how the search that made the export ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    /// Line of the `result:` line (of the `search:` line when there is none).
    pub line: usize,
    /// The LDAP result code (`0` is success); `None` when the `result:` line is missing or
    /// does not start with a number.
    pub code: Option<u32>,
    /// The `result:` text after the code, and any `text:` line (`Size limit exceeded`).
    pub text: String,
}

/// An ldapsearch `# requesting:` header: the attribute list of the search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requesting {
    pub line: usize,
    /// As listed: attribute names, `*`, `+`, or `ALL` (no list given).
    pub attributes: Vec<String>,
}

/// A parsed LDIF content file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdifFile {
    /// Everything before the first entry: `version: 1`, comments, blank lines.
    preamble: Vec<u8>,
    entries: Vec<Entry>,
    /// Blank lines and comments after the last entry.
    trailer: Vec<u8>,
    /// The file's line ending, used for new text.
    eol: &'static [u8],
    encoding: TextEncoding,
    /// Every entry was an `ldifde` `changetype: add` record: new entries get one too.
    adds: bool,
    results: Vec<SearchResult>,
    requesting: Vec<Requesting>,
    /// Lines of the `ref:` (search reference) records skipped.
    referrals: Vec<usize>,
}

/// One entry (content record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Blank lines and comments between the previous entry and this one's `dn` line.
    leading: Vec<u8>,
    dn: String,
    /// The `dn` line as read; `None` once the DN was changed.
    dn_raw: Option<Vec<u8>>,
    /// Line of the `dn` line in the original file; 0 for new entries.
    line: usize,
    /// An `ldifde` export's `changetype: add` line (with comments before it), as read.
    changetype: Option<Vec<u8>>,
    attrs: Vec<AttrLine>,
    /// Comments after the last attribute line, inside the entry.
    tail: Vec<u8>,
}

/// One attribute line group (an `attr: value` line with its continuation lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrLine {
    /// The attribute description as written, options included (`userCertificate;binary`).
    name: String,
    value: Vec<u8>,
    /// The original text (with any comment lines just before it); `None` for new lines.
    raw: Option<Vec<u8>>,
    /// Line in the original file; 0 for new lines.
    line: usize,
    /// Read as a ranged name (`member;range=0-1499`) and merged into the plain one.
    ranged: bool,
}

impl AttrLine {
    fn new(name: &str, value: Vec<u8>) -> Self {
        AttrLine {
            name: name.to_owned(),
            value,
            raw: None,
            line: 0,
            ranged: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The attribute type without options (`userCertificate` for `userCertificate;binary`).
    pub fn attr_type(&self) -> &str {
        self.name.split(';').next().unwrap_or(&self.name)
    }

    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// Line in the original file; 0 for lines added since.
    pub fn line(&self) -> usize {
        self.line
    }
}

impl LdifFile {
    /// Parses a content file: UTF-8 (with or without a BOM) or UTF-16 with a BOM. Never
    /// panics, whatever the input.
    pub fn parse(input: &[u8]) -> Result<Self, LdifError> {
        let (encoding, text) = decode(input)?;
        let mut file = Parser::new(&text)
            .run()
            .map_err(|e| explain_non_ldif(&text, e))?;
        file.encoding = encoding;
        Ok(file)
    }

    /// The encoding the file was read in (and is rendered in).
    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// Whether the file uses CRLF line endings.
    pub fn crlf(&self) -> bool {
        self.eol == b"\r\n"
    }

    /// The ldapsearch `search:`/`result:` records, in file order.
    pub fn search_results(&self) -> &[SearchResult] {
        &self.results
    }

    /// The ldapsearch `# requesting:` headers (one per search concatenated into the file).
    pub fn requesting(&self) -> &[Requesting] {
        &self.requesting
    }

    /// Lines of the search references (`ref:` records) that were skipped.
    pub fn referrals(&self) -> &[usize] {
        &self.referrals
    }

    /// Reads AD's ranged values (`member;range=0-1499`, `member;range=1500-*`) as the plain
    /// attribute, in range order, once every entry's ranges run from 0 to `*` without a gap.
    /// An unfinished range (the export holds only the first 1,500 values) is an error at its
    /// line: the attribute would read as smaller than it is. The text stays as read until the
    /// attribute is edited, then it is written under its plain name.
    pub fn merge_ranges(&mut self) -> Result<(), LdifError> {
        for entry in &mut self.entries {
            entry.merge_ranges()?;
        }
        Ok(())
    }

    /// An empty file that will be written with `\n` line endings.
    pub fn new() -> Self {
        LdifFile {
            preamble: Vec::new(),
            entries: Vec::new(),
            trailer: Vec::new(),
            eol: b"\n",
            encoding: TextEncoding::Utf8,
            adds: false,
            results: Vec::new(),
            requesting: Vec::new(),
            referrals: Vec::new(),
        }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn entries_mut(&mut self) -> &mut [Entry] {
        &mut self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes and returns the entry at `index` with the blank lines and comments before it.
    ///
    /// # Panics
    /// When `index` is out of bounds, like `Vec::remove`.
    pub fn remove_entry(&mut self, index: usize) -> Entry {
        let removed = self.entries.remove(index);
        if index == 0 {
            // The new first entry follows the preamble directly: drop its separating blank
            // lines, keep its comments.
            if let Some(first) = self.entries.first_mut() {
                first.leading = strip_blank_lines(&first.leading);
            }
        }
        removed
    }

    /// Appends an entry after the last one, separated from it by a blank line.
    pub fn push_entry(&mut self, mut entry: Entry) {
        let needs_separator = !self.entries.is_empty()
            || !(self.preamble.is_empty()
                || self.preamble.ends_with(b"\n\n")
                || self.preamble.ends_with(b"\r\n\r\n"));
        entry.leading = if needs_separator {
            self.eol.to_vec()
        } else {
            Vec::new()
        };
        if self.adds && entry.changetype.is_none() {
            // Keep an ldifde file importable with `ldifde -i`: every record an add.
            let mut line = b"changetype: add".to_vec();
            line.extend_from_slice(self.eol);
            entry.changetype = Some(line);
        }
        self.entries.push(entry);
    }

    /// The file's bytes, in the encoding it was read in: untouched pieces byte for byte,
    /// changed ones freshly encoded.
    pub fn render(&self) -> Vec<u8> {
        encode(self.encoding, self.render_utf8())
    }

    /// The file's text as UTF-8 (what [`render`](Self::render) gives for a UTF-8 file).
    pub fn render_utf8(&self) -> Vec<u8> {
        let mut out = Out {
            buf: Vec::with_capacity(self.entries.len() * 512 + self.preamble.len()),
            eol: self.eol,
        };
        out.piece(&self.preamble);
        for entry in &self.entries {
            entry.render_into(&mut out);
        }
        out.piece(&self.trailer);
        out.buf
    }
}

impl Default for LdifFile {
    fn default() -> Self {
        Self::new()
    }
}

/// Output buffer that keeps lines intact when pieces are reordered or appended: a piece that
/// was the unterminated last line of the input gets a line ending once something follows it.
struct Out {
    buf: Vec<u8>,
    eol: &'static [u8],
}

impl Out {
    fn piece(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if !self.buf.is_empty() && !self.buf.ends_with(b"\n") {
            self.buf.extend_from_slice(self.eol);
        }
        self.buf.extend_from_slice(bytes);
    }
}

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

    fn merge_ranges(&mut self) -> Result<(), LdifError> {
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
                line.name = base;
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
        self.matching(name).map(|l| l.value.as_slice()).collect()
    }

    /// The first value of an attribute.
    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.matching(name).next().map(|l| l.value.as_slice())
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

    fn matching<'a, 'n>(
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

    /// Removes every value of an attribute; returns whether it was there.
    pub fn remove_attribute(&mut self, name: &str) -> bool {
        let had = self.has(name);
        if had {
            self.rewrite(name, Vec::new());
        }
        had
    }

    fn rewrite(&mut self, name: &str, values: Vec<Vec<u8>>) {
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
                    .find(|slot| slot.as_ref().is_some_and(|l| l.value == value))
                    .and_then(Option::take)
                    .unwrap_or_else(|| AttrLine::new(&spelling, value))
            })
            .collect();
        self.attrs.splice(first..first, replacement);
    }

    fn render_into(&self, out: &mut Out) {
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
                Some(raw) => out.piece(raw),
                None => out.piece(&encode_line(&line.name, &line.value, out.eol)),
            }
        }
        out.piece(&self.tail);
    }
}

/// An attribute description with a `range=` option split into the description without it and
/// the option's text (`member;range=0-1499` gives `member` and `range=0-1499`).
fn split_range(name: &str) -> Option<(String, &str)> {
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
fn parse_range(option: &str) -> Option<(u64, Option<u64>)> {
    let (first, last) = option.get(6..)?.split_once('-')?;
    let first = first.parse().ok()?;
    let last = if last == "*" {
        None
    } else {
        Some(last.parse().ok()?)
    };
    Some((first, last))
}

/// Whether a value can be written as `attr: value`: RFC 2849's SAFE-STRING, narrowed the way
/// `ldapsearch` narrows it (printable ASCII only, no trailing space).
pub fn is_safe_string(value: &[u8]) -> bool {
    let printable = |b: &u8| (0x20..=0x7e).contains(b);
    match (value.first(), value.last()) {
        (None, _) => true,
        (Some(&first), Some(&last)) => {
            !matches!(first, b' ' | b':' | b'<') && last != b' ' && value.iter().all(printable)
        }
        (Some(_), None) => false,
    }
}

/// Encodes one attribute line group, folded at 76 columns, ending with `eol`.
pub fn encode_line(name: &str, value: &[u8], eol: &[u8]) -> Vec<u8> {
    let binary_option = name
        .split(';')
        .skip(1)
        .any(|o| o.eq_ignore_ascii_case("binary"));
    let (sep, body): (&[u8], Vec<u8>) = if value.is_empty() {
        (b":", Vec::new())
    } else if is_safe_string(value) && !binary_option {
        (b": ", value.to_vec())
    } else {
        (b":: ", B64.encode(value).into_bytes())
    };
    let mut out = Vec::with_capacity(name.len() + body.len() + body.len() / WRAP * 3 + 4);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(sep);
    let mut column = out.len();
    for &b in &body {
        if column >= WRAP {
            out.extend_from_slice(eol);
            out.push(b' ');
            column = 1;
        }
        out.push(b);
        column += 1;
    }
    out.extend_from_slice(eol);
    out
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// One physical line: its byte range in the input (terminator included) and its text.
struct PhysLine {
    no: usize,
    start: usize,
    end: usize,
    text_end: usize,
}

/// A logical line (a physical line and its continuation lines), unfolded.
struct Logical<'a> {
    start: usize,
    end: usize,
    /// Borrowed from the input unless continuation lines had to be joined.
    content: Cow<'a, [u8]>,
    /// The line of the first physical piece (its content starts at column 1).
    line: usize,
    /// (offset in `content`, line) of each continuation piece (content starts at column 2).
    continuations: Vec<(usize, usize)>,
}

impl Logical<'_> {
    fn line(&self) -> usize {
        self.line
    }

    /// Line and column of a byte of the unfolded content.
    fn locate(&self, offset: usize) -> (usize, usize) {
        match self.continuations.iter().rev().find(|c| c.0 <= offset) {
            Some(&(base, line)) => (line, 2 + offset - base),
            None => (self.line, 1 + offset),
        }
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> LdifError {
        let (line, column) = self.locate(offset);
        LdifError {
            line,
            column,
            message: message.into(),
        }
    }
}

/// A parsed `attr: value` line.
struct AttrValue {
    name: String,
    value: Vec<u8>,
}

#[derive(PartialEq)]
enum State {
    /// Before the first entry.
    Preamble,
    /// Inside an entry.
    Entry,
    /// After an entry, before the next one.
    Between,
    /// In an ldapsearch `search:`/`result:` record or a `ref:` search reference.
    Record,
}

struct Parser<'a> {
    input: &'a [u8],
    lines: Vec<PhysLine>,
    state: State,
    file: LdifFile,
    /// Raw blank lines and comments not yet assigned (between entries, or in an entry).
    pending: Vec<u8>,
    current: Option<Entry>,
    seen_content: bool,
}

impl<'a> Parser<'a> {
    fn new(input: &'a [u8]) -> Self {
        let lines = split_lines(input);
        let crlf = lines
            .first()
            .is_some_and(|l| l.end > l.text_end && input.get(l.text_end) == Some(&b'\r'));
        let mut file = LdifFile::new();
        if crlf {
            file.eol = b"\r\n";
        }
        Parser {
            input,
            lines,
            state: State::Preamble,
            file,
            pending: Vec::new(),
            current: None,
            seen_content: false,
        }
    }

    fn text(&self, line: &PhysLine) -> &'a [u8] {
        &self.input[line.start..line.text_end]
    }

    fn raw(&self, start: usize, end: usize) -> &'a [u8] {
        &self.input[start..end]
    }

    fn run(mut self) -> Result<LdifFile, LdifError> {
        let mut i = 0;
        while i < self.lines.len() {
            let text = self.text(&self.lines[i]);
            if text.iter().all(|&b| b == b' ' || b == b'\t') {
                self.blank_line(i);
                i += 1;
                continue;
            }
            if text.first() == Some(&b' ') {
                let message = if self.state == State::Preamble {
                    "continuation line (starting with a space) before any entry"
                } else {
                    "continuation line (starting with a space) after a blank line: there is no line to continue"
                };
                return Err(LdifError {
                    line: self.lines[i].no,
                    column: 1,
                    message: message.into(),
                });
            }
            let (logical, next) = self.unfold(i);
            i = next;
            if logical.content.first() == Some(&b'#') {
                self.comment(&logical);
            } else {
                self.content_line(logical)?;
            }
        }
        self.finish_entry();
        self.file.adds = !self.file.entries.is_empty()
            && self.file.entries.iter().all(|e| e.changetype.is_some());
        let rest = std::mem::take(&mut self.pending);
        if self.file.entries.is_empty() {
            self.file.preamble.extend_from_slice(&rest);
        } else {
            self.file.trailer = rest;
        }
        Ok(self.file)
    }

    /// Joins line `i` with the continuation lines after it.
    fn unfold(&self, i: usize) -> (Logical<'a>, usize) {
        let first = &self.lines[i];
        let mut logical = Logical {
            start: first.start,
            end: first.end,
            content: Cow::Borrowed(self.text(first)),
            line: first.no,
            continuations: Vec::new(),
        };
        let mut j = i + 1;
        while let Some(next) = self.lines.get(j) {
            let text = self.text(next);
            if text.first() != Some(&b' ') {
                break;
            }
            logical.continuations.push((logical.content.len(), next.no));
            logical.content.to_mut().extend_from_slice(&text[1..]);
            logical.end = next.end;
            j += 1;
        }
        (logical, j)
    }

    fn blank_line(&mut self, i: usize) {
        let line = &self.lines[i];
        let raw = self.raw(line.start, line.end);
        match self.state {
            State::Preamble => self.file.preamble.extend_from_slice(raw),
            State::Entry => {
                self.finish_entry();
                self.state = State::Between;
                self.pending.extend_from_slice(raw);
            }
            State::Between | State::Record => {
                self.state = State::Between;
                self.pending.extend_from_slice(raw);
            }
        }
    }

    fn comment(&mut self, logical: &Logical<'_>) {
        let raw = self.raw(logical.start, logical.end);
        if let Some(list) = logical.content.strip_prefix(b"# requesting:") {
            let attributes = String::from_utf8_lossy(list)
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect();
            self.file.requesting.push(Requesting {
                line: logical.line(),
                attributes,
            });
        }
        match self.state {
            State::Preamble => self.file.preamble.extend_from_slice(raw),
            State::Entry | State::Between | State::Record => self.pending.extend_from_slice(raw),
        }
    }

    /// A line of an ldapsearch trailer (`search:`, `result:`, `text:`, `control:`) or of a
    /// search reference (`ref:`): kept as text, never an entry.
    fn record_line(&mut self, logical: &Logical<'_>, parsed: &AttrValue) {
        let raw = self.raw(logical.start, logical.end);
        self.pending.extend_from_slice(raw);
        let name = parsed.name.to_ascii_lowercase();
        let value = String::from_utf8_lossy(&parsed.value).trim().to_owned();
        match name.as_str() {
            "search" => self.file.results.push(SearchResult {
                line: logical.line(),
                code: None,
                text: String::new(),
            }),
            "ref" if self.state != State::Record => self.file.referrals.push(logical.line()),
            "result" | "text" => {
                let Some(result) = self.file.results.last_mut() else {
                    return;
                };
                if name == "result" {
                    let (code, text) = value.split_once(' ').unwrap_or((&value, ""));
                    result.line = logical.line();
                    result.code = code.parse().ok();
                    result.text = text.trim().to_owned();
                } else if !value.is_empty() {
                    result.text = if result.text.is_empty() {
                        value
                    } else {
                        format!("{}: {value}", result.text)
                    };
                }
            }
            _ => {}
        }
        self.state = State::Record;
    }

    fn content_line(&mut self, logical: Logical<'_>) -> Result<(), LdifError> {
        if let Some(pos) = logical.content.iter().position(|&b| b == b'\r') {
            return Err(logical.error(pos, "carriage return that does not end a line"));
        }
        let parsed = parse_attr_value(&logical)?;
        let is_dn = parsed.name.eq_ignore_ascii_case("dn");
        let first_content = !self.seen_content;
        self.seen_content = true;
        let opens_record =
            parsed.name.eq_ignore_ascii_case("search") || parsed.name.eq_ignore_ascii_case("ref");
        match self.state {
            State::Preamble | State::Between if is_dn => self.start_entry(&logical, parsed),
            State::Preamble | State::Between if opens_record => {
                self.record_line(&logical, &parsed);
                Ok(())
            }
            State::Record if is_dn => Err(logical.error(
                0,
                "\"dn:\" line inside an ldapsearch result or reference record (entries must be separated by a blank line)",
            )),
            State::Record => {
                self.record_line(&logical, &parsed);
                Ok(())
            }
            State::Preamble if first_content && parsed.name.eq_ignore_ascii_case("version") => {
                self.version(&logical, &parsed.value)?;
                let raw = self.raw(logical.start, logical.end);
                self.file.preamble.extend_from_slice(raw);
                Ok(())
            }
            State::Preamble | State::Between => Err(logical.error(
                0,
                format!(
                    "missing dn: an entry must start with a \"dn:\" line, found \"{}:\"",
                    parsed.name
                ),
            )),
            State::Entry if is_dn => Err(logical.error(
                0,
                "second \"dn:\" line in one entry (entries must be separated by a blank line)",
            )),
            State::Entry => self.attribute(&logical, parsed),
        }
    }

    fn version(&self, logical: &Logical<'_>, value: &[u8]) -> Result<(), LdifError> {
        if value.trim_ascii() == b"1" {
            Ok(())
        } else {
            let shown = String::from_utf8_lossy(value);
            Err(logical.error(
                0,
                format!("unsupported LDIF version {shown:?}: only version 1 exists"),
            ))
        }
    }

    fn start_entry(&mut self, logical: &Logical<'_>, parsed: AttrValue) -> Result<(), LdifError> {
        let dn = String::from_utf8(parsed.value)
            .map_err(|_| logical.error(0, "the dn is not valid UTF-8"))?;
        let leading = if self.state == State::Preamble {
            Vec::new()
        } else {
            std::mem::take(&mut self.pending)
        };
        self.current = Some(Entry {
            leading,
            dn,
            dn_raw: Some(self.raw(logical.start, logical.end).to_vec()),
            line: logical.line(),
            changetype: None,
            attrs: Vec::new(),
            tail: Vec::new(),
        });
        self.state = State::Entry;
        Ok(())
    }

    fn attribute(&mut self, logical: &Logical<'_>, parsed: AttrValue) -> Result<(), LdifError> {
        if parsed.name.eq_ignore_ascii_case("changetype") {
            let kind = String::from_utf8_lossy(&parsed.value).trim().to_owned();
            let first = self
                .current
                .as_ref()
                .is_some_and(|e| e.attrs.is_empty() && e.changetype.is_none());
            if kind.eq_ignore_ascii_case("add") && first {
                // ldifde exports every entry as an add record: its content is the entry.
                let mut raw = std::mem::take(&mut self.pending);
                raw.extend_from_slice(self.raw(logical.start, logical.end));
                if let Some(entry) = self.current.as_mut() {
                    entry.changetype = Some(raw);
                }
                return Ok(());
            }
            let message = if kind.eq_ignore_ascii_case("add") {
                "\"changetype: add\" must directly follow the dn line".to_owned()
            } else {
                format!(
                    "change record (changetype: {kind}): a snapshot is an export of entries, not a change script; export with {EXPORT_COMMANDS} (ldifde's \"changetype: add\" records read)"
                )
            };
            return Err(logical.error(0, message));
        }
        if parsed.name.eq_ignore_ascii_case("control") {
            return Err(logical.error(
                0,
                "control: lines belong to change records, which are not supported: a snapshot is an LDIF content file",
            ));
        }
        let mut raw = std::mem::take(&mut self.pending);
        raw.extend_from_slice(self.raw(logical.start, logical.end));
        if let Some(entry) = self.current.as_mut() {
            entry.attrs.push(AttrLine {
                name: parsed.name,
                value: parsed.value,
                raw: Some(raw),
                line: logical.line(),
                ranged: false,
            });
        }
        Ok(())
    }

    fn finish_entry(&mut self) {
        if let Some(mut entry) = self.current.take() {
            // Comments after the last attribute line belong to the entry.
            entry.tail = std::mem::take(&mut self.pending);
            self.file.entries.push(entry);
        }
    }
}

/// `text` without its leading whitespace-only lines.
fn strip_blank_lines(text: &[u8]) -> Vec<u8> {
    let mut rest = text;
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        if !rest[..nl]
            .iter()
            .all(|&b| matches!(b, b' ' | b'\t' | b'\r'))
        {
            break;
        }
        rest = &rest[nl + 1..];
    }
    rest.to_vec()
}

fn split_lines(input: &[u8]) -> Vec<PhysLine> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut no = 1;
    while start < input.len() {
        let (text_end, end) = match input[start..].iter().position(|&b| b == b'\n') {
            Some(rel) => {
                let nl = start + rel;
                let text_end = if nl > start && input[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                (text_end, nl + 1)
            }
            None => (input.len(), input.len()),
        };
        lines.push(PhysLine {
            no,
            start,
            end,
            text_end,
        });
        start = end;
        no += 1;
    }
    lines
}

/// Parses `attr: value`, `attr:: base64` (refusing `attr:< url`).
fn parse_attr_value(logical: &Logical<'_>) -> Result<AttrValue, LdifError> {
    let content = &logical.content;
    let Some(colon) = content.iter().position(|&b| b == b':') else {
        return Err(logical.error(
            0,
            "line without a colon: expected \"attribute: value\" (or a blank line between entries)",
        ));
    };
    let name = &content[..colon];
    validate_name(logical, name)?;
    // validate_name accepted only ASCII, so this cannot fail.
    let name = String::from_utf8_lossy(name).into_owned();
    let rest = colon + 1;
    match content.get(rest) {
        Some(b':') => {
            let start = skip_fill(content, rest + 1);
            let encoded = content[start..].trim_ascii_end();
            let value = B64_LENIENT.decode(encoded).map_err(|e| {
                let at = match e {
                    base64::DecodeError::InvalidByte(i, _) => start + i,
                    base64::DecodeError::InvalidLastSymbol(i, _) => start + i,
                    _ => start,
                };
                logical.error(at, format!("bad base64 in the value of {name}: {e}"))
            })?;
            Ok(AttrValue { name, value })
        }
        Some(b'<') => Err(logical.error(
            rest,
            format!(
                "URL values (\"{name}:< file://…\") are not supported: inline the value as \"{name}:: base64\""
            ),
        )),
        _ => {
            let start = skip_fill(content, rest);
            let value = &content[start..];
            if let Err(e) = std::str::from_utf8(value) {
                let at = start + e.valid_up_to();
                return Err(logical.error(at, not_utf8(&name, content.get(at).copied())));
            }
            Ok(AttrValue {
                name,
                value: value.to_vec(),
            })
        }
    }
}

fn skip_fill(content: &[u8], mut i: usize) -> usize {
    while content.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// An attribute description: a name or OID, then `;options` (RFC 4512 characters).
fn validate_name(logical: &Logical<'_>, name: &[u8]) -> Result<(), LdifError> {
    if name.is_empty() {
        return Err(logical.error(0, "missing attribute name before ':'"));
    }
    if !name[0].is_ascii_alphanumeric() {
        return Err(logical.error(
            0,
            format!(
                "attribute name must start with a letter or digit, found {}",
                show_byte(name[0])
            ),
        ));
    }
    let options_from = name.iter().position(|&b| b == b';').unwrap_or(name.len());
    for (i, &b) in name.iter().enumerate() {
        // AD's range option (`member;range=0-1499`, `range=1500-*`) goes beyond RFC 4512.
        let option_char = i > options_from && matches!(b, b'=' | b'*');
        if !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b';' | b'.' | b'_') || option_char) {
            return Err(logical.error(
                i,
                format!("invalid character {} in attribute name", show_byte(b)),
            ));
        }
    }
    Ok(())
}

fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

impl fmt::Display for LdifFile {
    /// The rendered text, lossily decoded (for messages and tests).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.render_utf8()))
    }
}

/// The ways to make an export that reads, named in every message about a file that does not.
pub const EXPORT_COMMANDS: &str =
    "`idsync snapshot --from ad`, `ldifde -f FILE` or `ldapsearch -LLL -E pr=1000/noprompt …`";

/// How to make an export that is not missing part of the directory.
pub const COMPLETE_EXPORT: &str = "make a complete export with `idsync snapshot --from ad`, or page the search with `ldapsearch -LLL -E pr=1000/noprompt …` (AD stops an unpaged search at 1,000 entries)";

/// The message for a plain value that is not UTF-8, naming the likely encoding.
fn not_utf8(name: &str, byte: Option<u8>) -> String {
    let Some(b) = byte else {
        return format!("the value of {name} is not valid UTF-8");
    };
    // Windows-1252 agrees with Latin-1 from 0xA0 up, where the accented letters are.
    let shown = if b >= 0xa0 {
        format!(" (\"{}\" in Windows-1252)", char::from(b))
    } else {
        String::new()
    };
    format!(
        "the value of {name} is not valid UTF-8: byte 0x{b:02X}{shown}; the file looks like Windows-1252 (ANSI) text: save it as UTF-8, or export again with `ldifde -u` (UTF-16) or `ldapsearch` (UTF-8)"
    )
}

// ---------------------------------------------------------------------------------------------
// Encodings

const BOM_UTF8: &[u8] = b"\xEF\xBB\xBF";

/// The file's encoding (from its byte order mark) and its text as UTF-8.
fn decode(input: &[u8]) -> Result<(TextEncoding, Cow<'_, [u8]>), LdifError> {
    if let Some(rest) = input.strip_prefix(BOM_UTF8) {
        return Ok((TextEncoding::Utf8Bom, Cow::Borrowed(rest)));
    }
    let (encoding, rest) = match input {
        [0xff, 0xfe, rest @ ..] => (TextEncoding::Utf16Le, rest),
        [0xfe, 0xff, rest @ ..] => (TextEncoding::Utf16Be, rest),
        [a, 0, ..] if *a != 0 => {
            return Err(LdifError {
                line: 1,
                column: 1,
                message: "the file looks like UTF-16LE without a byte order mark: save it as UTF-8, or as UTF-16 with a BOM".into(),
            });
        }
        _ => return Ok((TextEncoding::Utf8, Cow::Borrowed(input))),
    };
    let units = rest.chunks_exact(2).map(|pair| match encoding {
        TextEncoding::Utf16Be => u16::from_be_bytes([pair[0], pair[1]]),
        _ => u16::from_le_bytes([pair[0], pair[1]]),
    });
    let mut text = String::with_capacity(rest.len() / 2);
    let (mut line, mut column) = (1, 1);
    let bad = |line, column, what: String| LdifError {
        line,
        column,
        message: format!(
            "not valid {}: {what} (the file starts with a {} byte order mark)",
            encoding.name(),
            encoding.name()
        ),
    };
    for c in char::decode_utf16(units) {
        match c {
            Ok(c) => {
                text.push(c);
                if c == '\n' {
                    line += 1;
                    column = 1;
                } else {
                    column += c.len_utf8();
                }
            }
            Err(e) => {
                return Err(bad(
                    line,
                    column,
                    format!("unpaired surrogate 0x{:04X}", e.unpaired_surrogate()),
                ));
            }
        }
    }
    if rest.len() % 2 == 1 {
        return Err(bad(line, column, "an odd number of bytes".into()));
    }
    Ok((encoding, Cow::Owned(text.into_bytes())))
}

/// UTF-8 text in `encoding`, byte order mark included.
fn encode(encoding: TextEncoding, utf8: Vec<u8>) -> Vec<u8> {
    match encoding {
        TextEncoding::Utf8 => utf8,
        TextEncoding::Utf8Bom => [BOM_UTF8, &utf8].concat(),
        TextEncoding::Utf16Le | TextEncoding::Utf16Be => {
            // Everything rendered is UTF-8: read text was decoded, new values are encoded.
            let text = String::from_utf8_lossy(&utf8);
            let mut out = Vec::with_capacity(2 + utf8.len() * 2);
            let be = encoding == TextEncoding::Utf16Be;
            out.extend_from_slice(if be { &[0xfe, 0xff] } else { &[0xff, 0xfe] });
            for unit in text.encode_utf16() {
                out.extend_from_slice(&if be {
                    unit.to_be_bytes()
                } else {
                    unit.to_le_bytes()
                });
            }
            out
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Files that are not LDIF

/// An error on a file's first content line, restated as what the file is when it is a
/// well-known other format (admins pass whatever export they have).
fn explain_non_ldif(text: &[u8], error: LdifError) -> LdifError {
    let at = text
        .split(|&b| b == b'\n')
        .nth(error.line.saturating_sub(1))
        .unwrap_or_default();
    if let Some(message) = ldapsearch_error(at.trim_ascii()) {
        return LdifError {
            column: 1,
            message: format!(
                "\"{message}\" is ldapsearch's error message (its stderr saved into the file): the search stopped early and the export is incomplete; {COMPLETE_EXPORT}"
            ),
            ..error
        };
    }
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l));
    let mut export_csv = false;
    let first = lines.by_ref().find(|(_, l)| {
        export_csv |= l.starts_with(b"#TYPE ");
        !(l.trim_ascii().is_empty() || l.starts_with(b"#"))
    });
    let Some((first_no, first)) = first else {
        return error;
    };
    if first_no != error.line {
        return error;
    }
    let next = lines
        .map(|(_, l)| l)
        .find(|l| !l.trim_ascii().is_empty())
        .unwrap_or_default();
    let Some(what) = identify(first, next, export_csv) else {
        return LdifError {
            message: format!(
                "{}; an AD snapshot is an LDIF export: make one with {EXPORT_COMMANDS}",
                error.message
            ),
            ..error
        };
    };
    LdifError {
        line: error.line,
        column: 1,
        message: format!(
            "this is {what}, not LDIF: an AD snapshot is an LDIF export, made with {EXPORT_COMMANDS}"
        ),
    }
}

/// An ldapsearch error as it prints it, `Size limit exceeded (4)`: text, then the result code.
fn ldapsearch_error(line: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(line).ok()?;
    let (message, code) = text.strip_suffix(')')?.rsplit_once(" (")?;
    let plausible = !message.contains(':')
        && message.starts_with(|c: char| c.is_ascii_alphabetic())
        && !code.is_empty()
        && code.bytes().all(|b| b.is_ascii_digit());
    plausible.then_some(text)
}

/// Names the format of a file from its first two content lines.
fn identify(first: &[u8], next: &[u8], export_csv: bool) -> Option<&'static str> {
    let line = first.trim_ascii();
    let colon = line.iter().position(|&b| b == b':');
    let comma = line.iter().position(|&b| b == b',');
    let word_end = line
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-'))
        .unwrap_or(line.len());
    let after_word = &line[word_end..];
    if line.starts_with(b"SASL") || line.starts_with(b"ldap_") {
        Some(
            "ldapsearch's messages (its stderr) saved into the file: redirect only its output (`ldapsearch … > ad.ldif`)",
        )
    } else if line.starts_with(b"{") || line.starts_with(b"[") {
        Some("a JSON file (Entra snapshots are Graph JSON: pass one with --entra-snapshot)")
    } else if line.starts_with(b"<") {
        Some("an XML or HTML file (PowerShell's Export-Clixml writes XML)")
    } else if line.starts_with(b">> Dn:")
        || line.first().is_some_and(u8::is_ascii_digit) && after_word.starts_with(b"> ")
    {
        Some("ldp.exe output")
    } else if word_end > 0
        && after_word.starts_with(b" ")
        && after_word.trim_ascii_start().starts_with(b":")
    {
        Some("PowerShell Format-List output (`Get-ADUser … | Format-List`)")
    } else if !next.is_empty() && next.iter().all(|&b| b == b'-' || b == b' ') {
        Some("PowerShell table output (`Format-Table`)")
    } else if export_csv {
        Some("a CSV file (PowerShell's Export-Csv)")
    } else if comma.is_some_and(|c| colon.is_none_or(|k| c < k)) {
        Some("a CSV file (a `csvde -f` or Export-Csv export)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ldapsearch -LLL -H ldaps://dc01 -b OU=Office365,DC=corp,DC=example,DC=com
    /// '(objectClass=user)'` against a Samba DC: folded dn and objectGUID, repeated
    /// proxyAddresses, a base64 non-ASCII value, a binary objectSid.
    pub(crate) const LDAPSEARCH: &str = "\
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
name: Adam Anderson
objectGUID:: BpazOkLGm0iEtljAONPvOQ==
userAccountControl: 512
objectSid:: AQUAAAAAAAUVAAAAs8zP1xZ9Zx2a2YXUUAQAAA==
sAMAccountName: aanderson
userPrincipalName: aanderson@corp.local
mail: adam.anderson@example.com
proxyAddresses: SMTP:adam.anderson@example.com
proxyAddresses: smtp:aanderson@corp.example.com

dn:: Q049SsO8cmdlbiBLw7ZuaWcsT1U9U2FsZXMsT1U9T2ZmaWNlMzY1LERDPWNvcnAsREM9ZXh
 hbXBsZSxEQz1jb20=
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn:: SsO8cmdlbiBLw7ZuaWc=
sn:: S8O2bmln
objectGUID:: 8H0wvuQv+ke4sD8GxtSb
 oA==
userAccountControl: 514
sAMAccountName: jkoenig
mS-DS-ConsistencyGuid:: 8H0wvuQv+ke4sD8GxtSboA==
";

    fn parse(s: &str) -> LdifFile {
        LdifFile::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(s: &str) -> LdifError {
        LdifFile::parse(s.as_bytes()).expect_err("should fail")
    }

    #[test]
    fn parses_an_ldapsearch_export_with_folded_lines() {
        let file = parse(LDAPSEARCH);
        assert_eq!(file.len(), 2);
        let adam = &file.entries()[0];
        assert_eq!(
            adam.dn(),
            "CN=Adam Anderson,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com"
        );
        assert_eq!(adam.line(), 1);
        assert_eq!(
            adam.first_text("distinguishedname"),
            Some("CN=Adam Anderson,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com")
        );
        assert_eq!(
            adam.first("objectGUID"),
            Some(
                &[
                    0x06, 0x96, 0xb3, 0x3a, 0x42, 0xc6, 0x9b, 0x48, 0x84, 0xb6, 0x58, 0xc0, 0x38,
                    0xd3, 0xef, 0x39
                ][..]
            )
        );
        assert_eq!(adam.values("proxyAddresses").len(), 2);
        assert_eq!(adam.values("objectclass").len(), 4);
        assert_eq!(adam.line_of("objectGUID"), Some(15));

        let jurgen = &file.entries()[1];
        assert_eq!(
            jurgen.dn(),
            "CN=Jürgen König,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com"
        );
        assert_eq!(jurgen.line(), 24);
        assert_eq!(jurgen.first_text("cn"), Some("Jürgen König"));
        assert_eq!(jurgen.first("objectGUID").map(<[u8]>::len), Some(16));
        assert_eq!(
            jurgen.first("objectGUID"),
            jurgen.first("mS-DS-ConsistencyGuid")
        );
    }

    #[test]
    fn unmodified_files_render_byte_for_byte() {
        let samples = [
            LDAPSEARCH.to_owned(),
            LDAPSEARCH.replace('\n', "\r\n"),
            LDAPSEARCH.trim_end().to_owned(),
            format!(
                "version: 1\n\n# exported\n#  folded\n  comment\n{LDAPSEARCH}\n\n# search result\n# numEntries: 2\n"
            ),
            "\n\n   \ndn: CN=x\n# inner comment\ncn: x\n# tail\n\n\t\n\ndn: CN=y\ncn: y".to_owned(),
            String::new(),
            "# only a comment".to_owned(),
        ];
        for sample in samples {
            let file = parse(&sample);
            assert_eq!(file.render(), sample.as_bytes(), "{sample:?}");
        }
    }

    #[test]
    fn ldifde_style_version_comments_and_crlf() {
        let text = "version: 1\r\n\r\n# comment\r\ndn: CN=a,DC=x\r\nchangeCount: 1\r\ncn: a\r\n";
        let file = parse(text);
        assert_eq!(file.entries()[0].first_text("cn"), Some("a"));
        assert_eq!(file.entries()[0].line(), 4);
        let mut edited = file.clone();
        edited.entries_mut()[0].set_values("sn", ["b"]);
        assert_eq!(
            String::from_utf8(edited.render()).unwrap(),
            format!("{text}sn: b\r\n")
        );
    }

    #[test]
    fn folding_splits_utf8_sequences_and_base64() {
        // "é" is C3 A9; the fold falls between the two bytes.
        let mut raw = b"dn: CN=a\ndescription: caf".to_vec();
        raw.extend_from_slice(&[0xc3, b'\n', b' ', 0xa9]);
        raw.extend_from_slice(b" au lait\nobjectGUID:: BpazOkLG\n m0iEtljAONPvOQ==\n");
        let file = LdifFile::parse(&raw).unwrap();
        let e = &file.entries()[0];
        assert_eq!(e.first_text("description"), Some("café au lait"));
        assert_eq!(e.first("objectGUID").map(<[u8]>::len), Some(16));
        assert_eq!(file.render(), raw);
    }

    #[test]
    fn attribute_options_and_empty_values() {
        let file =
            parse("dn: CN=a\nuserCertificate;binary:: AAEC\ndescription:\nmember;range=0-1: x\n");
        let e = &file.entries()[0];
        assert_eq!(e.first("userCertificate;binary"), Some(&[0u8, 1, 2][..]));
        assert_eq!(e.lines()[0].attr_type(), "userCertificate");
        assert_eq!(e.first("description"), Some(&b""[..]));
        assert_eq!(e.first_text("member;range=0-1"), Some("x"));
        assert!(!e.has("member"));
    }

    #[test]
    fn missing_final_newline_and_unpadded_base64() {
        let file = parse("dn: CN=a\nobjectGUID:: BpazOkLGm0iEtljAONPvOQ");
        assert_eq!(
            file.entries()[0].first("objectGUID").map(<[u8]>::len),
            Some(16)
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let cases: &[(&str, usize, usize, &str)] = &[
            ("cn: a\n", 1, 1, "missing dn"),
            ("dn: CN=a\ncn:: !!!!\n", 2, 6, "bad base64"),
            (" dn: CN=a\n", 1, 1, "before any entry"),
            ("dn: CN=a\n\n continued\n", 3, 1, "no line to continue"),
            ("dn: CN=a\ncn a\n", 2, 1, "without a colon"),
            ("dn: CN=a\nc n: a\n", 2, 2, "invalid character ' '"),
            ("dn: CN=a\n: a\n", 2, 1, "missing attribute name"),
            (
                "dn: CN=a\nchangetype: modify\ncn: a\n",
                2,
                1,
                "change record",
            ),
            (
                "dn: CN=a\ncn: a\nchangetype: add\n",
                3,
                1,
                "directly follow",
            ),
            ("dn: CN=a\ncontrol: 1.2.3\n", 2, 1, "control"),
            (
                "dn: CN=a\njpegPhoto:< file:///tmp/a.jpg\n",
                2,
                11,
                "not supported",
            ),
            ("dn: CN=a\ncn: a\ndn: CN=b\n", 3, 1, "second \"dn:\""),
            ("version: 2\ndn: CN=a\n", 1, 1, "unsupported LDIF version"),
            ("dn: CN=a\n\nversion: 1\n", 3, 1, "missing dn"),
            ("dn:: //79\n", 1, 1, "not valid UTF-8"),
            ("dn: CN=a\ncn: a\rb\n", 2, 6, "carriage return"),
            ("dn: CN=a\r\ncn:: AAAA\r\n AA=A\r\n", 3, 4, "bad base64"),
        ];
        for &(input, line, column, message) in cases {
            let e = err(input);
            assert_eq!((e.line, e.column), (line, column), "{input:?}: {e}");
            assert!(e.message.contains(message), "{input:?}: {e}");
        }
    }

    #[test]
    fn edits_keep_untouched_lines_and_regroup_changed_attributes() {
        let text = "\
dn: CN=a,DC=x
objectClass: user
proxyAddresses: SMTP:a@x.com
displayName: A
proxyAddresses: smtp:old@x.com
sn: Old

dn: CN=b,DC=x
cn: b
";
        let mut file = parse(text);
        {
            let a = &mut file.entries_mut()[0];
            assert_eq!(
                a.remove_values(
                    "proxyaddresses",
                    &["SMTP:OLD@x.com"],
                    ValueMatch::IgnoreCase
                ),
                1
            );
            a.add_values("proxyAddresses", ["smtp:new@x.com"]);
            a.set_values("sn", ["New"]);
            a.set_values("givenName", ["Ann"]);
            a.remove_attribute("displayName");
        }
        assert_eq!(
            String::from_utf8(file.render()).unwrap(),
            "\
dn: CN=a,DC=x
objectClass: user
proxyAddresses: SMTP:a@x.com
proxyAddresses: smtp:new@x.com
sn: New
givenName: Ann

dn: CN=b,DC=x
cn: b
"
        );
        // Exact matching leaves a value that differs in case.
        let a = &mut file.entries_mut()[0];
        assert_eq!(
            a.remove_values("proxyAddresses", &["smtp:A@x.com"], ValueMatch::Exact),
            0
        );
        assert_eq!(
            a.remove_values("proxyAddresses", &["SMTP:a@x.com"], ValueMatch::Exact),
            1
        );
    }

    #[test]
    fn remove_and_append_entries_round_trip_through_parse() {
        let mut file = parse(LDAPSEARCH);
        file.remove_entry(0);
        let mut new = Entry::new("CN=Zoë Ærø,OU=Sales,DC=corp,DC=example,DC=com");
        new.set_values("objectClass", ["top", "user"]);
        new.set_values("cn", ["Zoë Ærø"]);
        new.set_values(
            "description",
            [
                " leading space",
                "trailing space ",
                ":colon",
                "<angle",
                "line\nbreak",
                "nul\0",
            ],
        );
        new.set_values("objectGUID", [vec![0xffu8; 16]]);
        new.set_values("info", ["x".repeat(200)]);
        file.push_entry(new);
        file.entries_mut()[0].set_values("sAMAccountName", ["jk"]);
        let text = file.render();
        for line in text.split(|&b| b == b'\n') {
            assert!(line.len() <= WRAP, "{}", String::from_utf8_lossy(line));
        }
        let again = LdifFile::parse(&text).unwrap();
        assert_eq!(again.len(), 2);
        let z = &again.entries()[1];
        assert_eq!(z.dn(), "CN=Zoë Ærø,OU=Sales,DC=corp,DC=example,DC=com");
        assert_eq!(z.first_text("cn"), Some("Zoë Ærø"));
        assert_eq!(z.values("description").len(), 6);
        assert_eq!(z.values("description")[4], b"line\nbreak");
        assert_eq!(z.first("objectGUID"), Some(&[0xffu8; 16][..]));
        assert_eq!(z.first_text("info").map(str::len), Some(200));
        assert_eq!(again.entries()[0].first_text("sAMAccountName"), Some("jk"));
        // The untouched part of the first entry is byte-identical.
        let s = String::from_utf8(text).unwrap();
        assert!(s.starts_with("dn:: Q049SsO8cmdlbiBLw7ZuaWcsT1U9U2FsZXMsT1U9T2ZmaWNlMzY1LERDPWNvcnAsREM9ZXh\n hbXBsZSxEQz1jb20=\n"));
        assert!(s.contains("cn:: Wm/DqyDDhnLDuA==\n"));
        assert!(s.contains("description:: IGxlYWRpbmcgc3BhY2U=\n"));
    }

    #[test]
    fn appending_after_an_unterminated_last_line() {
        let mut file = parse("dn: CN=a\ncn: a");
        file.push_entry(Entry::new("CN=b"));
        assert_eq!(file.render(), b"dn: CN=a\ncn: a\n\ndn: CN=b\n");
        let mut file = parse("dn: CN=a\ncn: a");
        file.entries_mut()[0].add_values("sn", ["x"]);
        assert_eq!(file.render(), b"dn: CN=a\ncn: a\nsn: x\n");
        let mut empty = LdifFile::new();
        empty.push_entry(Entry::new("CN=c"));
        assert_eq!(empty.render(), b"dn: CN=c\n");
        let mut versioned = parse("version: 1\n");
        versioned.push_entry(Entry::new("CN=c"));
        assert_eq!(versioned.render(), b"version: 1\n\ndn: CN=c\n");
    }

    #[test]
    fn renames_rewrite_only_the_dn_line() {
        let mut file = parse(LDAPSEARCH);
        file.entries_mut()[0].set_dn("CN=Adam Anderson,OU=Moved,DC=corp,DC=example,DC=com");
        let text = String::from_utf8(file.render()).unwrap();
        assert!(text.starts_with(
            "dn: CN=Adam Anderson,OU=Moved,DC=corp,DC=example,DC=com\nobjectClass: top\n"
        ));
        assert_eq!(
            text.len(),
            LDAPSEARCH.len() - "OU=Sales,OU=Office365".len() + "OU=Moved".len()
        );
    }

    #[test]
    fn safe_strings_and_folding() {
        assert!(is_safe_string(b"hello world"));
        assert!(is_safe_string(b""));
        for unsafe_value in [
            &b" x"[..],
            b":x",
            b"<x",
            b"x ",
            b"a\nb",
            b"a\rb",
            b"a\0b",
            "é".as_bytes(),
        ] {
            assert!(!is_safe_string(unsafe_value), "{unsafe_value:?}");
        }
        let line = encode_line("description", &[b'a'; 100], b"\n");
        let lines: Vec<&[u8]> = line.split(|&b| b == b'\n').collect();
        assert_eq!(lines[0].len(), 76);
        // "description: " takes 13 columns: 63 value bytes on the first line, 37 after.
        assert_eq!(lines[1].len(), 38);
        assert_eq!(lines[1][0], b' ');
        assert_eq!(encode_line("x", b"", b"\n"), b"x:\n");
        assert_eq!(
            encode_line("cert;binary", b"ab", b"\n"),
            b"cert;binary:: YWI=\n"
        );
    }

    fn utf16(text: &str, be: bool) -> Vec<u8> {
        let mut out = if be {
            vec![0xfe, 0xff]
        } else {
            vec![0xff, 0xfe]
        };
        for u in text.encode_utf16() {
            out.extend_from_slice(&if be { u.to_be_bytes() } else { u.to_le_bytes() });
        }
        out
    }

    #[test]
    fn encodings_round_trip_and_edits_are_written_in_kind() {
        let text = "dn: CN=Zoë,DC=x\r\ncn: Zoë\r\n";
        for (bytes, encoding) in [
            (text.as_bytes().to_vec(), TextEncoding::Utf8),
            ([BOM_UTF8, text.as_bytes()].concat(), TextEncoding::Utf8Bom),
            (utf16(text, false), TextEncoding::Utf16Le),
            (utf16(text, true), TextEncoding::Utf16Be),
        ] {
            let mut file = LdifFile::parse(&bytes).unwrap();
            assert_eq!(file.encoding(), encoding);
            assert_eq!(file.entries()[0].first_text("cn"), Some("Zoë"));
            assert_eq!(file.render(), bytes, "{encoding:?}");
            file.entries_mut()[0].set_values("sn", ["Ø"]);
            let again = LdifFile::parse(&file.render()).unwrap();
            assert_eq!(again.encoding(), encoding);
            assert_eq!(
                again.render_utf8(),
                format!("{text}sn:: w5g=\r\n").as_bytes()
            );
        }
    }

    #[test]
    fn bad_encodings_are_located_and_named() {
        let mut odd = utf16("dn: CN=a\ncn: a", false);
        odd.push(b'x');
        let mut lone = utf16("dn: CN=a\ncn: ", true);
        lone.extend_from_slice(&[0xd8, 0x00, 0x00, b'a']);
        let mut folded = b"dn: CN=a\ndescription: caf\n ".to_vec();
        folded.extend_from_slice(&[0xe9, b'\n']);
        let cases: [(&[u8], usize, usize, &str); 4] = [
            (&odd, 2, 6, "not valid UTF-16LE: an odd number of bytes"),
            (&lone, 2, 5, "not valid UTF-16BE: unpaired surrogate 0xD800"),
            (&folded, 3, 2, "byte 0xE9 (\"é\" in Windows-1252)"),
            (b"d\0n\0:\0", 1, 1, "UTF-16LE without a byte order mark"),
        ];
        for (input, line, column, message) in cases {
            let e = LdifFile::parse(input).expect_err(message);
            assert_eq!((e.line, e.column), (line, column), "{e}");
            assert!(e.message.contains(message), "{e}");
        }
    }

    #[test]
    fn ldapsearch_records_are_kept_as_text_and_reported() {
        let text = "\
# extended LDIF
# requesting: cn mail
#

dn: CN=a
cn: a

# search reference
ref: ldap://other.example.com/DC=other

# search result
search: 2
result: 32 No such object
matchedDN: DC=x
text: 0000208D: NameErr: DSID-03100213, problem 2001 (NO_OBJECT)

# numEntries: 1
";
        let file = parse(text);
        assert_eq!(file.len(), 1);
        assert_eq!(file.render(), text.as_bytes());
        assert_eq!(file.referrals(), [9]);
        assert_eq!(
            file.search_results(),
            [SearchResult {
                line: 13,
                code: Some(32),
                text: "No such object: 0000208D: NameErr: DSID-03100213, problem 2001 (NO_OBJECT)"
                    .into(),
            }]
        );
        assert_eq!(file.requesting()[0].attributes, ["cn", "mail"]);
        let e = err("search: 2\ndn: CN=a\n");
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("inside an ldapsearch result"), "{e}");
    }

    #[test]
    fn ranges_merge_in_order_or_say_what_is_missing() {
        let mut file = parse(
            "dn: CN=g\nmember;range=0-1: a\nmember;range=0-1: b\ncn: g\nmember;range=2-*: c\n",
        );
        file.merge_ranges().unwrap();
        let g = &file.entries()[0];
        assert_eq!(g.values("member"), [&b"a"[..], b"b", b"c"]);
        assert!(!g.has("member;range=0-1"));
        assert_eq!(
            file.render(),
            parse(
                "dn: CN=g\nmember;range=0-1: a\nmember;range=0-1: b\ncn: g\nmember;range=2-*: c\n"
            )
            .render()
        );
        let cases: &[(&str, usize, usize, &str)] = &[
            (
                "dn: CN=g\nmember;range=0-1: a\nmember;range=0-1: b\n",
                2,
                1,
                "no range continues it up to member;range=2-*",
            ),
            (
                "dn: CN=g\nmember;range=0-1: a\nmember;range=2-*: b\n",
                2,
                1,
                "holds 1 values where its range says 2",
            ),
            (
                "dn: CN=g\nmember;range=0-0: a\nmember;range=2-*: b\n",
                3,
                1,
                "values 1-1 are missing",
            ),
            (
                "dn: CN=g\nmember;range=1-*: a\n",
                2,
                1,
                "does not start at value 0",
            ),
            (
                "dn: CN=g\nmember;range=0-*: a\nmember;range=1-*: b\n",
                3,
                1,
                "follows member;range=0-*, the last range",
            ),
            (
                "dn: CN=g\nmember: x\nmember;range=0-*: a\n",
                2,
                1,
                "both whole and in ranges",
            ),
            (
                "dn: CN=g\nmember;range=zero-*: a\n",
                2,
                8,
                "bad range option",
            ),
            (
                "dn: CN=g\nmember;range=0-18446744073709551615: a\n",
                2,
                1,
                "range says none",
            ),
            (
                "dn: CN=g\nmember;range=0-0: a\nmember;range=1-0: b\n",
                3,
                1,
                "range says none",
            ),
        ];
        for &(input, line, column, message) in cases {
            let e = parse(input).merge_ranges().expect_err(input);
            assert_eq!((e.line, e.column), (line, column), "{input:?}: {e}");
            assert!(e.message.contains(message), "{input:?}: {e}");
        }
    }

    #[test]
    fn other_formats_are_named() {
        let cases = [
            ("{\"value\": []}\n", 1, "JSON"),
            ("<Objs Version=\"1.1.0.1\">\n", 1, "XML"),
            ("\nName : Adam\nEnabled : True\n", 2, "Format-List"),
            (
                "Name    Enabled\n----    -------\nAdam    True\n",
                1,
                "Format-Table",
            ),
            (
                "#TYPE Microsoft.ActiveDirectory.Management.ADUser\n\"Name\",\"Enabled\"\n",
                2,
                "Export-Csv",
            ),
            ("DN,objectClass\n\"CN=a,DC=x\",user\n", 1, "csvde"),
            (">> Dn: CN=a,DC=x\n\t1> cn: a;\n", 1, "ldp.exe"),
            (
                "SASL/GSSAPI authentication started\nSASL SSF: 256\n",
                1,
                "stderr",
            ),
        ];
        for (input, line, what) in cases {
            let e = err(input);
            assert_eq!((e.line, e.column), (line, 1), "{input:?}: {e}");
            assert!(e.message.contains(what), "{input:?}: {e}");
            assert!(e.message.contains(EXPORT_COMMANDS), "{input:?}: {e}");
        }
        // ldapsearch's stderr at the end of its output (`> ad.ldif 2>&1`).
        let e = err("dn: CN=a\ncn: a\n\nSize limit exceeded (4)\n");
        assert_eq!((e.line, e.column), (4, 1), "{e}");
        assert!(
            e.message
                .contains("\"Size limit exceeded (4)\" is ldapsearch's error message"),
            "{e}"
        );
        assert!(e.message.contains(COMPLETE_EXPORT), "{e}");
        // Past the first line, the LDIF error stands.
        let e = err("dn: CN=a\ncn a\n");
        assert!(e.message.starts_with("line without a colon"), "{e}");
    }

    /// A tiny deterministic generator, so the fuzz tests need no dependency.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn never_panics_on_random_bytes() {
        let mut rng = XorShift(0x9e3779b97f4a7c15);
        let alphabet = b"dn:: \n\r #:<abcAB=+/;-.\x00\xc3\xa9\xff";
        for _ in 0..5_000 {
            let len = rng.below(120);
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.below(4) == 0 {
                        rng.next() as u8
                    } else {
                        alphabet[rng.below(alphabet.len())]
                    }
                })
                .collect();
            if let Ok(file) = LdifFile::parse(&input) {
                assert_eq!(file.render(), input);
            }
        }
    }

    #[test]
    fn never_panics_on_mutated_utf16_exports() {
        let mut rng = XorShift(7);
        let base = utf16(LDAPSEARCH, false);
        for _ in 0..1_000 {
            let mut input = base.clone();
            for _ in 0..1 + rng.below(3) {
                let at = 2 + rng.below(input.len() - 2);
                input[at] = rng.next() as u8;
            }
            if rng.below(4) == 0 {
                input.truncate(rng.below(input.len()));
            }
            match LdifFile::parse(&input) {
                Ok(file) => assert_eq!(file.render(), input),
                Err(e) => assert!(e.line >= 1 && e.column >= 1),
            }
        }
    }

    #[test]
    fn never_panics_on_mutated_exports() {
        let mut rng = XorShift(42);
        let base = LDAPSEARCH.as_bytes();
        for _ in 0..3_000 {
            let mut input = base.to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(input.len());
                match rng.below(3) {
                    0 => {
                        input.remove(at);
                    }
                    1 => input.insert(at, b"\n :#\r<\0"[rng.below(7)]),
                    _ => input[at] = rng.next() as u8,
                }
            }
            match LdifFile::parse(&input) {
                Ok(mut file) => {
                    assert_eq!(file.render(), input);
                    if let Some(e) = file.entries_mut().first_mut() {
                        e.set_values("description", ["edited"]);
                        let again = LdifFile::parse(&file.render()).unwrap();
                        assert_eq!(again.entries()[0].first_text("description"), Some("edited"));
                    }
                }
                Err(e) => assert!(e.line >= 1 && e.column >= 1),
            }
        }
    }
}
