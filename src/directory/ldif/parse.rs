//! Reading records: physical and folded lines, `attr: value` / `attr:: base64` values, entries
//! and ldapsearch's own records.

use super::*;

/// One physical line: its byte range in the input (terminator included) and its text.
pub(super) struct PhysLine {
    pub(super) no: usize,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) text_end: usize,
}

/// A logical line (a physical line and its continuation lines), unfolded.
pub(super) struct Logical<'a> {
    pub(super) start: usize,
    pub(super) end: usize,
    /// Borrowed from the input unless continuation lines had to be joined.
    pub(super) content: Cow<'a, [u8]>,
    /// The line of the first physical piece (its content starts at column 1).
    pub(super) line: usize,
    /// (offset in `content`, line) of each continuation piece (content starts at column 2).
    pub(super) continuations: Vec<(usize, usize)>,
}

impl Logical<'_> {
    pub(super) fn line(&self) -> usize {
        self.line
    }

    /// Line and column of a byte of the unfolded content.
    pub(super) fn locate(&self, offset: usize) -> (usize, usize) {
        match self.continuations.iter().rev().find(|c| c.0 <= offset) {
            Some(&(base, line)) => (line, 2 + offset - base),
            None => (self.line, 1 + offset),
        }
    }

    pub(super) fn error(&self, offset: usize, message: impl Into<String>) -> LdifError {
        let (line, column) = self.locate(offset);
        LdifError {
            line,
            column,
            message: message.into(),
        }
    }
}

/// A parsed `attr: value` line.
pub(super) struct AttrValue<'c> {
    pub(super) name: &'c str,
    /// Borrowed from the line unless it was base64.
    pub(super) value: Cow<'c, [u8]>,
    /// The value as text when the parse already checked it is UTF-8 (a plain value), so it
    /// is not checked twice.
    pub(super) text: Option<&'c str>,
    /// Written as `name: value` on one line (one space, plain, not empty): the line can be
    /// rendered again from the name and the value.
    pub(super) plain: bool,
}

#[derive(PartialEq)]
pub(super) enum State {
    /// Before the first entry.
    Preamble,
    /// Inside an entry.
    Entry,
    /// After an entry, before the next one.
    Between,
    /// In an ldapsearch `search:`/`result:` record or a `ref:` search reference.
    Record,
}

/// Where a finished entry goes when the parse streams (see [`LdifFile::parse_each`]): the
/// entry and the `# requesting:` headers read so far.
pub(super) type Each<'s> = &'s mut dyn FnMut(Entry, &[Requesting]);

pub(super) struct Parser<'a, 's> {
    pub(super) input: &'a [u8],
    /// Set when streaming: entries are handed over instead of kept.
    pub(super) each: Option<Each<'s>>,
    pub(super) state: State,
    pub(super) file: LdifFile,
    /// Raw blank lines and comments not yet assigned (between entries, or in an entry).
    pub(super) pending: Vec<u8>,
    pub(super) current: Option<Entry>,
    pub(super) seen_content: bool,
}

impl<'a, 's> Parser<'a, 's> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        let crlf = line_at(input, 0, 1)
            .is_some_and(|l| l.end > l.text_end && input.get(l.text_end) == Some(&b'\r'));
        let mut file = LdifFile::new();
        if crlf {
            file.eol = b"\r\n";
        }
        Parser {
            input,
            each: None,
            state: State::Preamble,
            file,
            pending: Vec::new(),
            current: None,
            seen_content: false,
        }
    }

    pub(super) fn text(&self, line: &PhysLine) -> &'a [u8] {
        &self.input[line.start..line.text_end]
    }

    pub(super) fn raw(&self, start: usize, end: usize) -> &'a [u8] {
        &self.input[start..end]
    }

    pub(super) fn run(mut self) -> Result<LdifFile, LdifError> {
        self.lines(1)?;
        Ok(self.finish())
    }

    /// The parse so far, going on with `input`, the next piece of the same file (see
    /// [`LdifFile::parse_each_read`]).
    pub(super) fn resume<'b>(self, input: &'b [u8]) -> Parser<'b, 's> {
        Parser {
            input,
            each: self.each,
            state: self.state,
            file: self.file,
            pending: self.pending,
            current: self.current,
            seen_content: self.seen_content,
        }
    }

    /// Parses every line of the input, the first being line `first`.
    pub(super) fn lines(&mut self, first: usize) -> Result<(), LdifError> {
        // Lines are found as the parse goes: no list of every line of a 500 MB file.
        let mut next = line_at(self.input, 0, first);
        while let Some(line) = next {
            let text = self.text(&line);
            if text.iter().all(|&b| b == b' ' || b == b'\t') {
                self.blank_line(&line);
                next = line_at(self.input, line.end, line.no + 1);
                continue;
            }
            if text.first() == Some(&b' ') {
                let message = if self.state == State::Preamble {
                    "continuation line (starting with a space) before any entry"
                } else {
                    "continuation line (starting with a space) after a blank line: there is no line to continue"
                };
                return Err(LdifError {
                    line: line.no,
                    column: 1,
                    message: message.into(),
                });
            }
            let (logical, after) = self.unfold(&line);
            next = after;
            if logical.content.first() == Some(&b'#') {
                self.comment(&logical);
            } else {
                self.content_line(logical)?;
            }
        }
        Ok(())
    }

    /// Ends the parse at the end of the file.
    pub(super) fn finish(mut self) -> LdifFile {
        self.finish_entry();
        self.file.adds = !self.file.entries.is_empty()
            && self.file.entries.iter().all(|e| e.changetype.is_some());
        let rest = std::mem::take(&mut self.pending);
        if self.file.entries.is_empty() {
            self.file.preamble.extend_from_slice(&rest);
        } else {
            self.file.trailer = rest;
        }
        self.file
    }

    /// Joins a line with the continuation lines after it; also gives the line after those.
    pub(super) fn unfold(&self, first: &PhysLine) -> (Logical<'a>, Option<PhysLine>) {
        let mut logical = Logical {
            start: first.start,
            end: first.end,
            content: Cow::Borrowed(self.text(first)),
            line: first.no,
            continuations: Vec::new(),
        };
        let mut next = line_at(self.input, first.end, first.no + 1);
        while let Some(line) = next.as_ref() {
            let text = self.text(line);
            if text.first() != Some(&b' ') {
                break;
            }
            logical.continuations.push((logical.content.len(), line.no));
            logical.content.to_mut().extend_from_slice(&text[1..]);
            logical.end = line.end;
            next = line_at(self.input, line.end, line.no + 1);
        }
        (logical, next)
    }

    /// Keeps text between or inside entries for the lossless rendering; a streaming parse
    /// renders nothing and keeps none.
    fn keep(&mut self, raw: &[u8]) {
        if self.each.is_none() {
            self.pending.extend_from_slice(raw);
        }
    }

    pub(super) fn blank_line(&mut self, line: &PhysLine) {
        let raw = self.raw(line.start, line.end);
        match self.state {
            State::Preamble => self.file.preamble.extend_from_slice(raw),
            State::Entry => {
                self.finish_entry();
                self.state = State::Between;
                self.keep(raw);
            }
            State::Between | State::Record => {
                self.state = State::Between;
                self.keep(raw);
            }
        }
    }

    pub(super) fn comment(&mut self, logical: &Logical<'_>) {
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
            State::Entry | State::Between | State::Record => self.keep(raw),
        }
    }

    /// A line of an ldapsearch trailer (`search:`, `result:`, `text:`, `control:`) or of a
    /// search reference (`ref:`): kept as text, never an entry.
    pub(super) fn record_line(&mut self, logical: &Logical<'_>, parsed: &AttrValue) {
        let raw = self.raw(logical.start, logical.end);
        self.keep(raw);
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

    pub(super) fn content_line(&mut self, logical: Logical<'_>) -> Result<(), LdifError> {
        if let Some(pos) = memchr::memchr(b'\r', &logical.content) {
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

    pub(super) fn version(&self, logical: &Logical<'_>, value: &[u8]) -> Result<(), LdifError> {
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

    pub(super) fn start_entry(
        &mut self,
        logical: &Logical<'_>,
        parsed: AttrValue,
    ) -> Result<(), LdifError> {
        let dn = String::from_utf8(parsed.value.into_owned())
            .map_err(|_| logical.error(0, "the dn is not valid UTF-8"))?;
        let leading = if self.state == State::Preamble {
            Vec::new()
        } else {
            std::mem::take(&mut self.pending)
        };
        self.current = Some(Entry {
            leading,
            dn,
            dn_raw: (self.each.is_none()).then(|| self.raw(logical.start, logical.end).to_vec()),
            line: logical.line(),
            changetype: None,
            attrs: Vec::new(),
            tail: Vec::new(),
        });
        self.state = State::Entry;
        Ok(())
    }

    pub(super) fn attribute(
        &mut self,
        logical: &Logical<'_>,
        parsed: AttrValue,
    ) -> Result<(), LdifError> {
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
        let text = self.raw(logical.start, logical.end);
        let eol = self.file.eol;
        // Not for names with options: a ranged name (`member;range=0-1499`) is renamed when
        // the ranges merge, and its text must stay as read.
        let raw = if self.each.is_some() {
            Raw::New // streamed entries are read, never written back
        } else if parsed.plain
            && !parsed.name.contains(';')
            && self.pending.is_empty()
            && text.ends_with(eol)
            && text.len() == parsed.name.len() + 2 + parsed.value.len() + eol.len()
        {
            Raw::Verbatim
        } else {
            let mut raw = std::mem::take(&mut self.pending);
            raw.extend_from_slice(text);
            Raw::Text(raw)
        };
        if let Some(entry) = self.current.as_mut() {
            entry.attrs.push(AttrLine {
                name: parsed.name.into(),
                value: match parsed.text {
                    Some(text) => LineValue::Text(text.into()),
                    None => LineValue::new(&parsed.value),
                },
                raw,
                line: logical.line(),
                ranged: false,
            });
        }
        Ok(())
    }

    pub(super) fn finish_entry(&mut self) {
        if let Some(mut entry) = self.current.take() {
            // Comments after the last attribute line belong to the entry.
            entry.tail = std::mem::take(&mut self.pending);
            match self.each.as_mut() {
                Some(each) => each(entry, &self.file.requesting),
                None => self.file.entries.push(entry),
            }
        }
    }
}

/// `text` without its leading whitespace-only lines.
pub(super) fn strip_blank_lines(text: &[u8]) -> Vec<u8> {
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

/// The physical line that starts at byte `start` (line number `no`); `None` at the end.
pub(super) fn line_at(input: &[u8], start: usize, no: usize) -> Option<PhysLine> {
    if start >= input.len() {
        return None;
    }
    let (text_end, end) = match memchr::memchr(b'\n', &input[start..]) {
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
    Some(PhysLine {
        no,
        start,
        end,
        text_end,
    })
}

/// Parses `attr: value`, `attr:: base64` (refusing `attr:< url`).
pub(super) fn parse_attr_value<'c>(logical: &'c Logical<'_>) -> Result<AttrValue<'c>, LdifError> {
    let content = &logical.content;
    let Some(colon) = memchr::memchr(b':', content) else {
        return Err(logical.error(
            0,
            "line without a colon: expected \"attribute: value\" (or a blank line between entries)",
        ));
    };
    let name = &content[..colon];
    validate_name(logical, name)?;
    // validate_name accepted only ASCII, so this cannot fail.
    let name = std::str::from_utf8(name).unwrap_or_default();
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
            Ok(AttrValue {
                name,
                value: Cow::Owned(value),
                text: None,
                plain: false,
            })
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
            let text = match std::str::from_utf8(value) {
                Ok(text) => text,
                Err(e) => {
                    let at = start + e.valid_up_to();
                    return Err(logical.error(at, not_utf8(name, content.get(at).copied())));
                }
            };
            Ok(AttrValue {
                name,
                value: Cow::Borrowed(value),
                text: Some(text),
                plain: start == rest + 1 && !value.is_empty() && logical.continuations.is_empty(),
            })
        }
    }
}

pub(super) fn skip_fill(content: &[u8], mut i: usize) -> usize {
    while content.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// An attribute description: a name or OID, then `;options` (RFC 4512 characters).
pub(super) fn validate_name(logical: &Logical<'_>, name: &[u8]) -> Result<(), LdifError> {
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

pub(super) fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}
