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
//!
//! Parts: the record reader ([`parse`]), the text encodings ([`encoding`]), the editing API
//! of entries ([`entry`]), the writer ([`write`]) and the recognition of files that are not
//! LDIF ([`sniff`]).

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD as B64;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::names::eq_ci;

mod encoding;
mod entry;
mod parse;
mod sniff;
mod write;

use encoding::*;
use parse::*;
use sniff::*;
use write::*;

/// AD's ranged attribute names (`member;range=0-1499`), shared with the live reader.
pub(crate) use entry::{parse_range, split_range};
pub use write::{encode_line, is_safe_string};

/// Where the last empty line of `bytes` ends (after its `\n`), if it has one.
fn last_empty_line_end(bytes: &[u8]) -> Option<usize> {
    let mut end = bytes.len();
    while let Some(nl) = bytes[..end].iter().rposition(|&b| b == b'\n') {
        let text_end = if nl > 0 && bytes[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        // Empty: the line before it ends right where its text would start.
        if text_end > 0 && bytes[text_end - 1] == b'\n' {
            return Some(nl + 1);
        }
        end = nl;
    }
    None
}

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
    /// The attribute description as written, options included (`userCertificate;binary`);
    /// inline up to 24 bytes, which every name AD uses fits.
    name: compact_str::CompactString,
    value: LineValue,
    /// How the line is written back.
    raw: Raw,
    /// Line in the original file; 0 for new lines.
    line: usize,
    /// Read as a ranged name (`member;range=0-1499`) and merged into the plain one.
    ranged: bool,
}

/// A value: text inline up to 24 bytes (most of an export's values: classes, names, numbers,
/// addresses), so the common line needs no allocation of its own; longer text and binary
/// values on the heap.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LineValue {
    Text(compact_str::CompactString),
    Bytes(Box<[u8]>),
}

impl LineValue {
    fn new(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => LineValue::Text(text.into()),
            Err(_) => LineValue::Bytes(bytes.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            LineValue::Text(t) => t.as_bytes(),
            LineValue::Bytes(b) => b,
        }
    }
}

/// The text an attribute line is rendered from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Raw {
    /// A new or changed line: encoded as `ldapsearch` would write it.
    New,
    /// Read as exactly `name: value` and the file's line ending: written back from the name
    /// and value, so the common line costs no copy of its text (a 1M-user export has ~20M).
    Verbatim,
    /// The original text, any comment lines just before it included.
    Text(Vec<u8>),
}

impl AttrLine {
    fn new(name: &str, value: Vec<u8>) -> Self {
        AttrLine {
            name: name.into(),
            value: LineValue::new(&value),
            raw: Raw::New,
            line: 0,
            ranged: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The attribute type without options (`userCertificate` for `userCertificate;binary`).
    pub fn attr_type(&self) -> &str {
        // Once per line of an export: a byte search, not a `str` pattern's.
        match memchr::memchr(b';', self.name.as_bytes()) {
            Some(options) => &self.name[..options],
            None => &self.name,
        }
    }

    pub fn value(&self) -> &[u8] {
        self.value.as_bytes()
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

    /// Parses as [`parse`](Self::parse) does, but hands each entry to `each` as soon as it is
    /// complete, with the `# requesting:` headers read so far, instead of keeping it: a reader
    /// that needs the entries' contents and not the file's text holds one entry at a time.
    /// The file returned holds no entries. A syntax error ends the parse (entries before it
    /// were handed over).
    pub fn parse_each(
        input: &[u8],
        each: &mut dyn FnMut(Entry, &[Requesting]),
    ) -> Result<Self, LdifError> {
        let (encoding, text) = decode(input)?;
        let mut parser = Parser::new(&text);
        parser.each = Some(each);
        let mut file = parser.run().map_err(|e| explain_non_ldif(&text, e))?;
        file.encoding = encoding;
        Ok(file)
    }

    /// As [`parse_each`](Self::parse_each), reading at most `limit` bytes from `input` a piece
    /// at a time, so a 500 MB export is never held whole. Pieces end after an empty line,
    /// where no entry and no folded line goes on, and the parse goes on from one to the next
    /// as over the whole text.
    ///
    /// `None` when the file is to be parsed whole instead, with entries handed over until then
    /// forgotten: it is UTF-16 (decoded as a whole), or the parse failed or the read did (the
    /// error, and its explanation, come from the whole text), or it holds more than `limit`.
    pub fn parse_each_read(
        input: &mut dyn std::io::Read,
        limit: u64,
        each: &mut dyn FnMut(Entry, &[Requesting]),
    ) -> Option<Self> {
        // Large enough that the pieces cost nothing, small beside the file.
        Self::parse_each_pieces(input, limit, 8 << 20, each)
    }

    /// [`parse_each_read`](Self::parse_each_read) in pieces of about `piece` bytes.
    fn parse_each_pieces(
        input: &mut dyn std::io::Read,
        limit: u64,
        piece: usize,
        each: &mut dyn FnMut(Entry, &[Requesting]),
    ) -> Option<Self> {
        let mut input = std::io::Read::take(input, limit.saturating_add(1));
        let mut held: Vec<u8> = Vec::with_capacity(piece);
        let mut each = Some(each);
        let mut parser: Option<Parser<'static, '_>> = None;
        let (mut line, mut encoding, mut eof) = (1, TextEncoding::Utf8, false);
        let mut want = piece;
        loop {
            while !eof && held.len() < want {
                let len = held.len();
                held.resize(want, 0);
                match std::io::Read::read(&mut input, &mut held[len..]) {
                    Ok(n) => {
                        held.truncate(len + n);
                        eof = n == 0;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => held.truncate(len),
                    Err(_) => return None,
                }
            }
            let cut = if eof {
                held.len()
            } else if let Some(cut) = last_empty_line_end(&held) {
                cut
            } else {
                // One entry longer than a piece: read on until it ends.
                want = held.len() + piece;
                continue;
            };
            let mut start = 0;
            let mut p = match parser.take() {
                Some(p) => p.resume(&held[..cut]),
                None => {
                    // The encoding as `decode` finds it, from the first bytes.
                    (encoding, start) = match decode(&held[..cut.min(4)]).ok()?.0 {
                        TextEncoding::Utf8 => (TextEncoding::Utf8, 0),
                        TextEncoding::Utf8Bom => (TextEncoding::Utf8Bom, BOM_UTF8.len()),
                        TextEncoding::Utf16Le | TextEncoding::Utf16Be => return None,
                    };
                    let mut p = Parser::new(&held[start..cut]);
                    p.each = each.take();
                    p
                }
            };
            p.lines(line).ok()?;
            line += memchr::memchr_iter(b'\n', &held[start..cut]).count();
            parser = Some(p.resume(&[]));
            held.drain(..cut);
            want = piece;
            if eof {
                break;
            }
        }
        if input.limit() == 0 {
            return None; // more than `limit` bytes
        }
        let mut file = parser?.finish();
        file.encoding = encoding;
        Some(file)
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

/// Every `.ldif` file of the repository's examples, test fixtures and fuzz corpus, for tests
/// that hold a reader to all of them.
#[cfg(test)]
pub(crate) fn repository_files() -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "ldif") {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["examples", "tests/fixtures", "fuzz/corpus/ldif"] {
        walk(&root.join(dir), &mut files);
    }
    assert!(files.len() >= 10, "the LDIF files moved: {files:?}");
    files.sort();
    files
}

#[cfg(test)]
mod pieces_tests;
#[cfg(test)]
mod tests;
