//! RFC 4515 LDAP search filters: parse, print, escape, and evaluate against an entry with
//! Active Directory's matching semantics.
//!
//! Choices, where the RFC or AD leave room:
//! - [`Filter::parse`] accepts a bare item or composite without the outer parentheses
//!   (`objectClass=user`, `&(a=1)(b=2)`), as AD tools do, and whitespace between the filters
//!   of a list and around the whole filter. Values are taken verbatim: spaces in them count.
//! - Values use RFC 4515 escapes only (`\2a`, `\28`, `\29`, `\5c`, `\00`); RFC 2254's
//!   `\*`-style escapes and unescaped `(`, `)` and (outside substrings) `*` are errors.
//! - Empty `(&)` and `(|)` (RFC 4526) are refused: AD does not support them.
//! - Evaluation is two-valued: a test on an absent attribute is false, so `(!(attr=x))` is true
//!   for an entry without `attr`, as AD answers it.
//! - Nesting is bounded ([`MAX_DEPTH`]): the filter comes from untrusted YAML, and a parser that
//!   recursed without a bound would overflow the stack. Printing and evaluation use explicit
//!   stacks, so a filter built in code (scope and query combined) never recurses either.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use crate::names::{eq_ci, fold};

use super::dn::Dn;
use super::ldif::Entry;
use super::model::AdUser;

/// AD's bitwise-AND matching rule (`LDAP_MATCHING_RULE_BIT_AND`).
pub const RULE_BIT_AND: &str = "1.2.840.113556.1.4.803";
/// AD's bitwise-OR matching rule (`LDAP_MATCHING_RULE_BIT_OR`).
pub const RULE_BIT_OR: &str = "1.2.840.113556.1.4.804";
/// AD's transitive membership rule (`LDAP_MATCHING_RULE_IN_CHAIN`).
pub const RULE_IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

/// The deepest nesting of parenthesised filters [`Filter::parse`] accepts. Real filters stay
/// under ten; a hundred leaves room for generated ones.
pub const MAX_DEPTH: usize = 100;

/// A search filter. Attribute names keep their spelling; values are raw bytes (unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Equality {
        attr: String,
        value: Vec<u8>,
    },
    /// `attr=initial*any*…*final`; at least one of the parts is present.
    Substrings {
        attr: String,
        initial: Option<Vec<u8>>,
        any: Vec<Vec<u8>>,
        final_: Option<Vec<u8>>,
    },
    GreaterOrEqual {
        attr: String,
        value: Vec<u8>,
    },
    LessOrEqual {
        attr: String,
        value: Vec<u8>,
    },
    Present {
        attr: String,
    },
    Approx {
        attr: String,
        value: Vec<u8>,
    },
    /// `attr:dn:rule:=value`; `attr` or `rule` may be absent (not both).
    Extensible {
        attr: Option<String>,
        rule: Option<String>,
        dn_attributes: bool,
        value: Vec<u8>,
    },
}

/// Why a string is not a filter: 1-based character position and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LDAP filter at character {position}: {message}")]
pub struct FilterError {
    pub position: usize,
    pub message: String,
}

impl Filter {
    /// Parses an RFC 4515 filter (outer parentheses optional).
    pub fn parse(s: &str) -> Result<Filter, FilterError> {
        let mut p = FilterParser {
            s,
            pos: 0,
            depth: 0,
        };
        p.skip_ws();
        if p.at_end() {
            return Err(p.error("empty filter"));
        }
        let filter = if p.peek() == Some(b'(') {
            p.filter()?
        } else {
            p.bare()?
        };
        p.skip_ws();
        if !p.at_end() {
            return Err(p.error("unexpected text after the end of the filter"));
        }
        Ok(filter)
    }

    /// `(attr=value)`, whatever the value holds: it is escaped when printed, never a pattern.
    pub fn equals(attr: impl Into<String>, value: impl Into<Vec<u8>>) -> Filter {
        Filter::Equality {
            attr: attr.into(),
            value: value.into(),
        }
    }

    pub fn present(attr: impl Into<String>) -> Filter {
        Filter::Present { attr: attr.into() }
    }

    /// `(attr=prefix*)`.
    pub fn starts_with(attr: impl Into<String>, prefix: impl Into<Vec<u8>>) -> Filter {
        Filter::Substrings {
            attr: attr.into(),
            initial: Some(prefix.into()),
            any: Vec::new(),
            final_: None,
        }
    }

    pub fn and(filters: Vec<Filter>) -> Filter {
        Filter::And(filters)
    }

    pub fn or(filters: Vec<Filter>) -> Filter {
        Filter::Or(filters)
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(filter: Filter) -> Filter {
        Filter::Not(Box::new(filter))
    }

    /// `(attr:1.2.840.113556.1.4.803:=bits)`: every bit of `bits` is set.
    pub fn bits_all(attr: impl Into<String>, bits: u64) -> Filter {
        Filter::Extensible {
            attr: Some(attr.into()),
            rule: Some(RULE_BIT_AND.to_owned()),
            dn_attributes: false,
            value: bits.to_string().into_bytes(),
        }
    }

    /// `(attr:1.2.840.113556.1.4.804:=bits)`: any bit of `bits` is set.
    pub fn bits_any(attr: impl Into<String>, bits: u64) -> Filter {
        Filter::Extensible {
            attr: Some(attr.into()),
            rule: Some(RULE_BIT_OR.to_owned()),
            dn_attributes: false,
            value: bits.to_string().into_bytes(),
        }
    }

    /// Evaluates the filter against an entry with AD's semantics (see [`AttributeLookup`]).
    ///
    /// Iterative (an explicit stack, short-circuiting like `&&`/`||`), so no nesting depth can
    /// overflow the thread's stack.
    pub fn matches<L: AttributeLookup + ?Sized>(&self, entry: &L) -> bool {
        /// A composite whose children are being evaluated; `Iter` holds the ones still to come.
        enum Frame<'f> {
            And(std::slice::Iter<'f, Filter>),
            Or(std::slice::Iter<'f, Filter>),
            Not,
        }
        let mut stack: Vec<Frame<'_>> = Vec::new();
        let mut current = self;
        loop {
            // Descend to the first leaf (or empty composite) under `current`.
            let mut result = match current {
                Filter::And(list) => {
                    let mut rest = list.iter();
                    match rest.next() {
                        Some(first) => {
                            stack.push(Frame::And(rest));
                            current = first;
                            continue;
                        }
                        None => true,
                    }
                }
                Filter::Or(list) => {
                    let mut rest = list.iter();
                    match rest.next() {
                        Some(first) => {
                            stack.push(Frame::Or(rest));
                            current = first;
                            continue;
                        }
                        None => false,
                    }
                }
                Filter::Not(inner) => {
                    stack.push(Frame::Not);
                    current = inner;
                    continue;
                }
                leaf => leaf.matches_item(entry),
            };
            // Climb until a composite has another child to evaluate.
            loop {
                let next = match stack.last_mut() {
                    None => return result,
                    Some(Frame::Not) => {
                        result = !result;
                        None
                    }
                    Some(Frame::And(rest)) if result => rest.next(),
                    Some(Frame::Or(rest)) if !result => rest.next(),
                    Some(_) => None, // decided: false for `&`, true for `|`
                };
                match next {
                    Some(child) => {
                        current = child;
                        break;
                    }
                    None => {
                        stack.pop();
                    }
                }
            }
        }
    }

    /// One item (not `&`, `|` or `!`) against an entry.
    fn matches_item<L: AttributeLookup + ?Sized>(&self, entry: &L) -> bool {
        match self {
            // Composites are handled by `matches`; here only for completeness.
            Filter::And(_) | Filter::Or(_) | Filter::Not(_) => self.matches(entry),
            Filter::Present { attr } => !entry.values(attr).is_empty(),
            Filter::Equality { attr, value } => {
                if attr.eq_ignore_ascii_case("objectCategory") && !value.contains(&b'=') {
                    return object_category_matches(entry, value);
                }
                any_value(entry, attr, |v| value_eq(v, value))
            }
            Filter::Approx { attr, value } => any_value(entry, attr, |v| approx_eq(v, value)),
            Filter::GreaterOrEqual { attr, value } => {
                any_value(entry, attr, |v| compare(v, value) != Ordering::Less)
            }
            Filter::LessOrEqual { attr, value } => {
                any_value(entry, attr, |v| compare(v, value) != Ordering::Greater)
            }
            Filter::Substrings {
                attr,
                initial,
                any,
                final_,
            } => any_value(entry, attr, |v| {
                substrings_match(v, initial.as_deref(), any, final_.as_deref())
            }),
            Filter::Extensible {
                attr,
                rule,
                dn_attributes,
                value,
            } => extensible_matches(
                entry,
                attr.as_deref(),
                rule.as_deref(),
                *dn_attributes,
                value,
            ),
        }
    }
}

/// Escapes a value for use inside a filter (RFC 4515): `*`, `(`, `)`, `\`, NUL, control
/// characters and bytes that are not UTF-8 become `\XX`. Safe for untrusted input: the result
/// can only ever match the value literally.
pub fn escape_value(value: impl AsRef<[u8]>) -> String {
    let value = value.as_ref();
    let mut out = String::with_capacity(value.len() + 8);
    let mut rest = value;
    while !rest.is_empty() {
        let (valid, invalid) = match std::str::from_utf8(rest) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (ok, bad) = rest.split_at(e.valid_up_to());
                // The prefix is valid by construction.
                (std::str::from_utf8(ok).unwrap_or_default(), bad)
            }
        };
        for c in valid.chars() {
            match c {
                '*' | '(' | ')' | '\\' => push_hex(&mut out, c as u8),
                c if c.is_ascii_control() => push_hex(&mut out, c as u8),
                c => out.push(c),
            }
        }
        // One undecodable byte at a time, then try the rest again.
        match invalid.split_first() {
            Some((&b, tail)) => {
                push_hex(&mut out, b);
                rest = tail;
            }
            None => rest = &[],
        }
    }
    out
}

fn push_hex(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Cannot fail: a nibble indexes the 16 digits.
    out.push('\\');
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 0xf)] as char);
}

impl fmt::Display for Filter {
    /// The canonical RFC 4515 string, every value escaped. Iterative (an explicit stack of what
    /// is still to print), so no nesting depth can overflow the thread's stack.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        enum Next<'f> {
            Filter(&'f Filter),
            Close,
        }
        let mut todo = vec![Next::Filter(self)];
        while let Some(next) = todo.pop() {
            let filter = match next {
                Next::Close => {
                    f.write_str(")")?;
                    continue;
                }
                Next::Filter(filter) => filter,
            };
            match filter {
                Filter::And(list) | Filter::Or(list) => {
                    f.write_str(if matches!(filter, Filter::And(_)) {
                        "(&"
                    } else {
                        "(|"
                    })?;
                    todo.push(Next::Close);
                    todo.extend(list.iter().rev().map(Next::Filter));
                }
                Filter::Not(inner) => {
                    f.write_str("(!")?;
                    todo.push(Next::Close);
                    todo.push(Next::Filter(inner));
                }
                item => item.fmt_item(f)?,
            }
        }
        Ok(())
    }
}

impl Filter {
    /// One item (not `&`, `|` or `!`); composites are printed by `Display`.
    fn fmt_item(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(_) | Filter::Or(_) | Filter::Not(_) => fmt::Display::fmt(self, f),
            Filter::Equality { attr, value } => write!(f, "({attr}={})", escape_value(value)),
            Filter::Approx { attr, value } => write!(f, "({attr}~={})", escape_value(value)),
            Filter::GreaterOrEqual { attr, value } => {
                write!(f, "({attr}>={})", escape_value(value))
            }
            Filter::LessOrEqual { attr, value } => write!(f, "({attr}<={})", escape_value(value)),
            Filter::Present { attr } => write!(f, "({attr}=*)"),
            Filter::Substrings {
                attr,
                initial,
                any,
                final_,
            } => {
                write!(f, "({attr}=")?;
                if let Some(initial) = initial {
                    f.write_str(&escape_value(initial))?;
                }
                f.write_str("*")?;
                for part in any {
                    write!(f, "{}*", escape_value(part))?;
                }
                if let Some(final_) = final_ {
                    f.write_str(&escape_value(final_))?;
                }
                f.write_str(")")
            }
            Filter::Extensible {
                attr,
                rule,
                dn_attributes,
                value,
            } => {
                f.write_str("(")?;
                if let Some(attr) = attr {
                    f.write_str(attr)?;
                }
                if *dn_attributes {
                    f.write_str(":dn")?;
                }
                if let Some(rule) = rule {
                    write!(f, ":{rule}")?;
                }
                write!(f, ":={})", escape_value(value))
            }
        }
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

struct FilterParser<'a> {
    s: &'a str,
    /// Byte offset into `s`.
    pos: usize,
    /// Parenthesised filters open around `pos`.
    depth: usize,
}

/// What ends a value: `)` inside parentheses, the end of input for a bare item.
#[derive(Clone, Copy, PartialEq)]
enum Closing {
    Paren,
    End,
}

impl FilterParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn error_at(&self, byte: usize, message: impl Into<String>) -> FilterError {
        let byte = byte.min(self.s.len());
        let position = self.s.get(..byte).map_or(byte, |p| p.chars().count()) + 1;
        FilterError {
            position,
            message: message.into(),
        }
    }

    fn error(&self, message: impl Into<String>) -> FilterError {
        self.error_at(self.pos, message)
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), FilterError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else if self.at_end() {
            Err(self.error(format!("unexpected end of filter: expected {what}")))
        } else {
            Err(self.error(format!("expected {what}")))
        }
    }

    /// `( filtercomp )`
    fn filter(&mut self) -> Result<Filter, FilterError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("filters nested more than {MAX_DEPTH} levels deep")));
        }
        self.expect(b'(', "'('")?;
        self.depth += 1;
        self.skip_ws();
        let filter = self.filtercomp(Closing::Paren)?;
        self.skip_ws();
        self.expect(b')', "')' closing the filter")?;
        self.depth -= 1;
        Ok(filter)
    }

    /// A filter without its outer parentheses, running to the end of the input.
    fn bare(&mut self) -> Result<Filter, FilterError> {
        self.filtercomp(Closing::End)
    }

    fn filtercomp(&mut self, closing: Closing) -> Result<Filter, FilterError> {
        match self.peek() {
            Some(b'&') => {
                self.pos += 1;
                Ok(Filter::And(self.filter_list("&")?))
            }
            Some(b'|') => {
                self.pos += 1;
                Ok(Filter::Or(self.filter_list("|")?))
            }
            Some(b'!') => {
                self.pos += 1;
                self.skip_ws();
                Ok(Filter::Not(Box::new(self.filter()?)))
            }
            _ => self.item(closing),
        }
    }

    fn filter_list(&mut self, op: &str) -> Result<Vec<Filter>, FilterError> {
        let mut list = Vec::new();
        self.skip_ws();
        while self.peek() == Some(b'(') {
            list.push(self.filter()?);
            self.skip_ws();
        }
        if list.is_empty() {
            return Err(self.error(format!(
                "'{op}' needs at least one filter in parentheses after it"
            )));
        }
        Ok(list)
    }

    fn item(&mut self, closing: Closing) -> Result<Filter, FilterError> {
        let start = self.pos;
        let attr = self.attribute_description()?;
        match self.peek() {
            Some(b'=') => {
                self.pos += 1;
                self.equality_or_substrings(attr, closing)
            }
            Some(b'~') => {
                self.pos += 1;
                self.expect(b'=', "'=' after '~'")?;
                let value = self.value(closing, "a ~= value")?;
                Ok(Filter::Approx { attr, value })
            }
            Some(b'>') => {
                self.pos += 1;
                self.expect(b'=', "'=' after '>'")?;
                let value = self.value(closing, "a >= value")?;
                Ok(Filter::GreaterOrEqual { attr, value })
            }
            Some(b'<') => {
                self.pos += 1;
                self.expect(b'=', "'=' after '<'")?;
                let value = self.value(closing, "a <= value")?;
                Ok(Filter::LessOrEqual { attr, value })
            }
            Some(b':') => self.extensible(attr, start, closing),
            None if attr.is_empty() => {
                Err(self.error("unexpected end of filter: expected an attribute"))
            }
            None => Err(self.error(format!(
                "unexpected end of filter: expected '=', '~=', '>=', '<=' or ':=' after \"{attr}\""
            ))),
            Some(_) if attr.is_empty() => {
                Err(self.error("expected an attribute name, '&', '|' or '!'"))
            }
            Some(_) => Err(self.error(format!("invalid character in attribute name \"{attr}…\""))),
        }
    }

    /// An attribute description (`cn`, `userCertificate;binary`, `2.5.4.3`); may be empty.
    fn attribute_description(&mut self) -> Result<String, FilterError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b';' | b'.' | b'_'))
        {
            self.pos += 1;
        }
        // Both ends sit next to ASCII bytes, so on character boundaries; `get` all the same.
        Ok(self.s.get(start..self.pos).unwrap_or_default().to_owned())
    }

    fn require_attr(&self, attr: &str, at: usize) -> Result<(), FilterError> {
        if attr.is_empty() {
            Err(self.error_at(at, "missing attribute name"))
        } else {
            Ok(())
        }
    }

    fn equality_or_substrings(
        &mut self,
        attr: String,
        closing: Closing,
    ) -> Result<Filter, FilterError> {
        self.require_attr(&attr, self.pos - 1)?;
        let mut parts = vec![self.value_part(closing)?];
        while self.peek() == Some(b'*') {
            self.pos += 1;
            parts.push(self.value_part(closing)?);
        }
        if parts.len() == 1 {
            let value = parts.pop().unwrap_or_default();
            return Ok(Filter::Equality { attr, value });
        }
        let final_part = parts.pop().filter(|p| !p.is_empty());
        let mut parts = parts.into_iter();
        let initial = parts.next().filter(|p| !p.is_empty());
        let any: Vec<Vec<u8>> = parts.filter(|p| !p.is_empty()).collect();
        if initial.is_none() && any.is_empty() && final_part.is_none() {
            return Ok(Filter::Present { attr });
        }
        Ok(Filter::Substrings {
            attr,
            initial,
            any,
            final_: final_part,
        })
    }

    /// A value where `*` is not allowed.
    fn value(&mut self, closing: Closing, what: &str) -> Result<Vec<u8>, FilterError> {
        let value = self.value_part(closing)?;
        if self.peek() == Some(b'*') {
            return Err(self.error(format!("unescaped '*' in {what}: write it as \\2a")));
        }
        Ok(value)
    }

    /// Value bytes up to an unescaped `*`, the closing `)` or the end.
    fn value_part(&mut self, closing: Closing) -> Result<Vec<u8>, FilterError> {
        let bytes = self.s.as_bytes();
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            match b {
                b'*' => break,
                b')' if closing == Closing::Paren => break,
                b')' => return Err(self.error("unescaped ')' in a value: write it as \\29")),
                b'(' => return Err(self.error("unescaped '(' in a value: write it as \\28")),
                b'\\' => {
                    let hex = bytes.get(self.pos + 1..self.pos + 3);
                    let byte = hex
                        .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match byte {
                        Some(byte) => {
                            out.push(byte);
                            self.pos += 3;
                        }
                        None => {
                            return Err(self.error(
                                "bad escape: '\\' must be followed by two hex digits (\\2a for '*', \\28 '(', \\29 ')', \\5c '\\', \\00 NUL)",
                            ));
                        }
                    }
                }
                0 => return Err(self.error("NUL in a value: write it as \\00")),
                _ => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
        if self.at_end() && closing == Closing::Paren {
            return Err(self.error("unexpected end of filter: expected ')' after the value"));
        }
        Ok(out)
    }

    /// `attr[:dn][:rule]:=value` or `[:dn]:rule:=value`.
    fn extensible(
        &mut self,
        attr: String,
        start: usize,
        closing: Closing,
    ) -> Result<Filter, FilterError> {
        let mut dn_attributes = false;
        let mut rule = None;
        loop {
            self.expect(b':', "':'")?;
            if self.peek() == Some(b'=') {
                self.pos += 1;
                break;
            }
            let at = self.pos;
            let word = self.attribute_description()?;
            if word.is_empty() {
                return Err(self.error("expected 'dn', a matching rule or '=' after ':'"));
            }
            if word.eq_ignore_ascii_case("dn") && !dn_attributes && rule.is_none() {
                dn_attributes = true;
            } else if rule.is_none() {
                rule = Some(word);
            } else {
                return Err(self.error_at(at, "more than one matching rule"));
            }
        }
        if attr.is_empty() && rule.is_none() {
            return Err(self.error_at(
                start,
                "an extensible match without an attribute needs a matching rule",
            ));
        }
        let value = self.value(closing, "an extensible match value")?;
        Ok(Filter::Extensible {
            attr: (!attr.is_empty()).then_some(attr),
            rule,
            dn_attributes,
            value,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// Something a filter can be evaluated against.
///
/// AD semantics: attribute names are compared without case; text values compare without case
/// for equality, substrings and ordering; `>=`/`<=` compare numerically when both sides are
/// integers; an absent attribute makes every test on it false.
pub trait AttributeLookup {
    /// Every value of the attribute (any case of its name); empty when absent.
    fn values(&self, attr: &str) -> Vec<Cow<'_, [u8]>>;
    /// The entry's DN, for `:dn:` matches.
    fn dn(&self) -> Option<String> {
        None
    }
}

impl AttributeLookup for Entry {
    fn values(&self, attr: &str) -> Vec<Cow<'_, [u8]>> {
        Entry::values(self, attr)
            .into_iter()
            .map(Cow::Borrowed)
            .collect()
    }
    fn dn(&self) -> Option<String> {
        Some(Entry::dn(self).to_owned())
    }
}

impl AttributeLookup for AdUser {
    fn values(&self, attr: &str) -> Vec<Cow<'_, [u8]>> {
        let text = |s: &str| vec![Cow::Owned(s.as_bytes().to_vec())];
        let is = |name: &str| attr.eq_ignore_ascii_case(name);
        if is("objectGUID") {
            vec![Cow::Owned(self.object_guid.0.to_vec())]
        } else if is("mS-DS-ConsistencyGuid") {
            self.consistency_guid
                .iter()
                .map(|g| Cow::Borrowed(g.as_slice()))
                .collect()
        } else if is("distinguishedName") {
            text(self.dn.as_str())
        } else if is("userAccountControl") {
            self.user_account_control
                .iter()
                .flat_map(|v| text(&v.to_string()))
                .collect()
        } else if is("uSNChanged") {
            self.usn_changed
                .iter()
                .flat_map(|v| text(&v.to_string()))
                .collect()
        } else {
            // Every text attribute, sAMAccountName, UPN, mail and proxyAddresses included.
            self.attributes
                .values(attr)
                .map(|v| Cow::Borrowed(v.as_bytes()))
                .collect()
        }
    }
    fn dn(&self) -> Option<String> {
        Some(self.dn.to_string())
    }
}

fn any_value<L: AttributeLookup + ?Sized>(
    entry: &L,
    attr: &str,
    test: impl Fn(&[u8]) -> bool,
) -> bool {
    entry.values(attr).iter().any(|v| test(v))
}

fn as_text(v: &[u8]) -> Option<&str> {
    std::str::from_utf8(v).ok()
}

fn value_eq(stored: &[u8], asserted: &[u8]) -> bool {
    match (as_text(stored), as_text(asserted)) {
        (Some(a), Some(b)) => eq_ci(a, b),
        _ => stored == asserted,
    }
}

/// AD evaluates `~=` as a case-insensitive equality; we also ignore runs of whitespace.
fn approx_eq(stored: &[u8], asserted: &[u8]) -> bool {
    match (as_text(stored), as_text(asserted)) {
        (Some(a), Some(b)) => {
            let squash = |s: &str| fold(&s.split_whitespace().collect::<Vec<_>>().join(" "));
            squash(a) == squash(b)
        }
        _ => stored == asserted,
    }
}

fn compare(stored: &[u8], asserted: &[u8]) -> Ordering {
    let int = |v: &[u8]| as_text(v).and_then(|s| s.trim().parse::<i64>().ok());
    if let (Some(a), Some(b)) = (int(stored), int(asserted)) {
        return a.cmp(&b);
    }
    match (as_text(stored), as_text(asserted)) {
        (Some(a), Some(b)) => fold(a).cmp(&fold(b)),
        _ => stored.cmp(asserted),
    }
}

fn substrings_match(
    stored: &[u8],
    initial: Option<&[u8]>,
    any: &[Vec<u8>],
    final_: Option<&[u8]>,
) -> bool {
    // Text compares case-folded; binary byte for byte.
    let folded = |v: &[u8]| -> Vec<u8> {
        match as_text(v) {
            Some(s) => fold(s).into_bytes(),
            None => v.to_vec(),
        }
    };
    let hay = folded(stored);
    let mut rest: &[u8] = &hay;
    if let Some(initial) = initial {
        let initial = folded(initial);
        match rest.strip_prefix(initial.as_slice()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    let final_ = final_.map(folded);
    if let Some(final_) = &final_ {
        match rest.strip_suffix(final_.as_slice()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    for part in any {
        let part = folded(part);
        match find(rest, &part) {
            // Cannot fail: `find` found `part` at `at`, so it ends within `rest`.
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// AD accepts `objectCategory=person` for `CN=Person,CN=Schema,…`: a short name stands for the
/// class's defaultObjectCategory (for `user`, `contact` and the person classes: `Person`).
fn object_category_matches<L: AttributeLookup + ?Sized>(entry: &L, short: &[u8]) -> bool {
    let Some(short) = as_text(short) else {
        return false;
    };
    let short = match fold(short).as_str() {
        "user" | "contact" | "organizationalperson" | "inetorgperson" => "person".to_owned(),
        other => other.to_owned(),
    };
    entry.values("objectCategory").iter().any(|v| {
        let Some(stored) = as_text(v) else {
            return false;
        };
        match Dn::parse(stored).ok().and_then(|dn| dn.leaf_value()) {
            Some(leaf) => eq_ci(&leaf, &short),
            None => eq_ci(stored, &short),
        }
    })
}

fn extensible_matches<L: AttributeLookup + ?Sized>(
    entry: &L,
    attr: Option<&str>,
    rule: Option<&str>,
    dn_attributes: bool,
    asserted: &[u8],
) -> bool {
    let Some(test) = rule_test(rule, asserted) else {
        return false; // an unknown matching rule is undefined, hence false
    };
    let mut matched = attr.is_some_and(|a| any_value(entry, a, &test));
    if !matched && dn_attributes {
        // `:dn:` also tests the attribute values of the entry's DN.
        matched = entry
            .dn()
            .and_then(|dn| Dn::parse(&dn).ok())
            .is_some_and(|dn| {
                dn.rdns().iter().flatten().any(|ava| {
                    attr.is_none_or(|a| ava.attr.eq_ignore_ascii_case(a))
                        && test(ava.value.as_bytes())
                })
            });
    }
    matched
}

/// An integer attribute value as a bit pattern (negative values are two's complement, as AD
/// stores `groupType`).
fn as_bits(v: &[u8]) -> Option<u64> {
    as_text(v)
        .and_then(|s| s.trim().parse::<i64>().ok())
        .map(|i| i as u64)
}

/// A test of one attribute value.
type ValueTest<'a> = Box<dyn Fn(&[u8]) -> bool + 'a>;

/// The value test for a matching rule, or `None` for one we cannot evaluate.
fn rule_test<'a>(rule: Option<&str>, asserted: &'a [u8]) -> Option<ValueTest<'a>> {
    let Some(rule) = rule else {
        return Some(Box::new(move |v| value_eq(v, asserted)));
    };
    let bits = as_bits(asserted);
    match rule {
        RULE_BIT_AND => {
            let bits = bits?;
            Some(Box::new(move |v| {
                as_bits(v).is_some_and(|x| x & bits == bits)
            }))
        }
        RULE_BIT_OR => {
            let bits = bits?;
            Some(Box::new(move |v| as_bits(v).is_some_and(|x| x & bits != 0)))
        }
        // A snapshot holds no group expansion; direct values are the first link of the chain.
        RULE_IN_CHAIN | "2.5.13.2" | "caseIgnoreMatch" | "2.5.13.1" | "distinguishedNameMatch" => {
            Some(Box::new(move |v| value_eq(v, asserted)))
        }
        "2.5.13.5" | "caseExactMatch" => Some(Box::new(move |v| v == asserted)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::ldif::LdifFile;

    fn parse(s: &str) -> Filter {
        Filter::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn entry() -> Entry {
        let text = "\
dn: CN=Adam Anderson,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
objectCategory: CN=Person,CN=Schema,CN=Configuration,DC=corp,DC=example,DC=com
cn: Adam Anderson
sAMAccountName: aanderson
userPrincipalName: aanderson@corp.local
displayName:: w4RkYW0gQW5kZXJzb24=
proxyAddresses: SMTP:adam.anderson@example.com
proxyAddresses: smtp:aa@corp.example.com
userAccountControl: 66050
uSNChanged: 3921
department: Sales
objectGUID:: BpazOkLGm0iEtljAONPvOQ==
";
        LdifFile::parse(text.as_bytes()).unwrap().entries()[0].clone()
    }

    fn check(filter: &str, expected: bool) {
        assert_eq!(parse(filter).matches(&entry()), expected, "{filter}");
    }

    #[test]
    fn parses_every_filter_type() {
        assert_eq!(parse("(cn=a)"), Filter::equals("cn", "a"));
        assert_eq!(parse("(cn=*)"), Filter::present("cn"));
        assert_eq!(
            parse("(cn~=a)"),
            Filter::Approx {
                attr: "cn".into(),
                value: b"a".to_vec()
            }
        );
        assert_eq!(
            parse("(uSNChanged>=10)"),
            Filter::GreaterOrEqual {
                attr: "uSNChanged".into(),
                value: b"10".to_vec()
            }
        );
        assert_eq!(
            parse("(uSNChanged<=10)"),
            Filter::LessOrEqual {
                attr: "uSNChanged".into(),
                value: b"10".to_vec()
            }
        );
        assert_eq!(
            parse("(cn=a*b*c*d)"),
            Filter::Substrings {
                attr: "cn".into(),
                initial: Some(b"a".to_vec()),
                any: vec![b"b".to_vec(), b"c".to_vec()],
                final_: Some(b"d".to_vec())
            }
        );
        assert_eq!(
            parse("(cn=*x)"),
            Filter::Substrings {
                attr: "cn".into(),
                initial: None,
                any: vec![],
                final_: Some(b"x".to_vec())
            }
        );
        assert_eq!(parse("(cn=x*)"), Filter::starts_with("cn", "x"));
        assert_eq!(
            parse("(cn=*x*)"),
            Filter::Substrings {
                attr: "cn".into(),
                initial: None,
                any: vec![b"x".to_vec()],
                final_: None
            }
        );
        assert_eq!(
            parse("(userAccountControl:1.2.840.113556.1.4.803:=2)"),
            Filter::bits_all("userAccountControl", 2)
        );
        assert_eq!(
            parse("(ou:dn:=Sales)"),
            Filter::Extensible {
                attr: Some("ou".into()),
                rule: None,
                dn_attributes: true,
                value: b"Sales".to_vec()
            }
        );
        assert_eq!(
            parse("(:dn:2.5.13.5:=Sales)"),
            Filter::Extensible {
                attr: None,
                rule: Some("2.5.13.5".into()),
                dn_attributes: true,
                value: b"Sales".to_vec()
            }
        );
        assert_eq!(
            parse("(&(a=1)(|(b=2)(!(c=3))))"),
            Filter::and(vec![
                Filter::equals("a", "1"),
                Filter::or(vec![
                    Filter::equals("b", "2"),
                    Filter::not(Filter::equals("c", "3"))
                ]),
            ])
        );
        assert_eq!(
            parse("(userCertificate;binary=\\00\\ff)"),
            Filter::equals("userCertificate;binary", vec![0u8, 0xff])
        );
    }

    #[test]
    fn bare_items_whitespace_and_utf8() {
        assert_eq!(
            parse("objectClass=user"),
            Filter::equals("objectClass", "user")
        );
        assert_eq!(
            parse("  &(a=1) (b=2)  "),
            Filter::and(vec![Filter::equals("a", "1"), Filter::equals("b", "2")])
        );
        assert_eq!(parse("( & (a=1)\n (b=2) )").to_string(), "(&(a=1)(b=2))");
        assert_eq!(
            parse("(cn=John Smith )"),
            Filter::equals("cn", "John Smith ")
        );
        assert_eq!(parse("(sn=Ærø)"), Filter::equals("sn", "Ærø"));
        assert_eq!(parse("(sn=\\c3\\86r\\C3\\B8)"), Filter::equals("sn", "Ærø"));
    }

    #[test]
    fn errors_give_the_character_position() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "empty"),
            ("(cn=a", 6, "expected ')'"),
            ("(cn=a(b)", 6, "unescaped '('"),
            ("cn=a)b", 5, "unescaped ')'"),
            ("(cn>=a*)", 7, "unescaped '*'"),
            ("(cn=\\2)", 5, "bad escape"),
            ("(cn=\\*)", 5, "bad escape"),
            ("(cn=a\\", 6, "bad escape"),
            ("(=a)", 2, "missing attribute"),
            ("(&)", 3, "at least one filter"),
            ("(|(a=1)x)", 8, "expected ')'"),
            ("(c n=a)", 3, "invalid character"),
            ("(cn=a))", 7, "after the end"),
            ("(cn~a)", 5, "'=' after '~'"),
            ("(:=a)", 2, "needs a matching rule"),
            ("(cn:x:y:=a)", 7, "more than one"),
            ("(sn=Ærø\\zz)", 8, "bad escape"),
            ("(!cn=a)", 3, "expected '('"),
        ];
        for &(input, position, message) in cases {
            let e = Filter::parse(input).expect_err(input);
            assert_eq!(e.position, position, "{input}: {e}");
            assert!(e.message.contains(message), "{input}: {e}");
        }
    }

    #[test]
    fn display_is_canonical_and_escaped() {
        for (input, canonical) in [
            ("(cn=a)", "(cn=a)"),
            ("objectClass=user", "(objectClass=user)"),
            ("(cn=\\2a\\28\\29\\5c\\00)", "(cn=\\2a\\28\\29\\5c\\00)"),
            ("(cn=\\2A)", "(cn=\\2a)"),
            ("(cn=a*\\2a*b)", "(cn=a*\\2a*b)"),
            ("(sn=Ærø)", "(sn=Ærø)"),
            ("(x=\\ff\\0a)", "(x=\\ff\\0a)"),
            (
                "(userAccountControl:1.2.840.113556.1.4.803:=2)",
                "(userAccountControl:1.2.840.113556.1.4.803:=2)",
            ),
            ("(ou:DN:=Sales)", "(ou:dn:=Sales)"),
            ("(&(a=1)(!(b=*)))", "(&(a=1)(!(b=*)))"),
        ] {
            let f = parse(input);
            assert_eq!(f.to_string(), canonical);
            assert_eq!(parse(&f.to_string()), f, "re-parse of {canonical}");
        }
    }

    #[test]
    fn escaping_untrusted_values_never_widens_a_filter() {
        assert_eq!(
            escape_value("*)(objectClass=*"),
            "\\2a\\29\\28objectClass=\\2a"
        );
        assert_eq!(escape_value(b"a\\b\0\x7f\xff"), "a\\5cb\\00\\7f\\ff");
        assert_eq!(escape_value("Zoë"), "Zoë");

        let hostile = "*)(|(objectClass=*";
        let f = Filter::and(vec![
            Filter::equals("objectClass", "user"),
            Filter::equals("sAMAccountName", hostile),
        ]);
        let text = f.to_string();
        let reparsed = parse(&text);
        assert_eq!(reparsed, f);
        assert!(!reparsed.matches(&entry()));
        // The same value spliced in unescaped would have matched everything (or failed).
        let spliced = format!("(&(objectClass=user)(sAMAccountName={hostile}))");
        assert!(Filter::parse(&spliced).is_err());
        let mut e = entry();
        e.set_values("sAMAccountName", [hostile]);
        assert!(reparsed.matches(&e));
    }

    #[test]
    fn evaluates_with_ad_semantics() {
        check("(objectClass=user)", true);
        check("(objectClass=USER)", true);
        check("(objectclass=computer)", false);
        check("(OBJECTCLASS=*)", true);
        check("(mail=*)", false);
        check("(!(mail=x))", true);
        check("(!(mail=*))", true);
        check("(sAMAccountName=AANDERSON)", true);
        check("(sAMAccountName=aand*)", true);
        check("(sAMAccountName=*SON)", true);
        check("(sAMAccountName=a*de*so*)", true);
        check("(sAMAccountName=a*son*son)", false);
        check("(sAMAccountName=*x*)", false);
        check("(displayName=ädam*)", true);
        check("(proxyAddresses=smtp:adam.anderson@example.com)", true);
        check("(proxyAddresses=SMTP:aa@*)", true);
        check("(uSNChanged>=3921)", true);
        check("(uSNChanged>=10000)", false);
        check("(uSNChanged<=999)", false); // numeric, not "3921" <= "999" as text
        check("(department>=sales)", true);
        check("(department<=Sa)", false);
        check("(cn~=adam   anderson)", true);
        check("(userAccountControl:1.2.840.113556.1.4.803:=2)", true);
        check("(userAccountControl:1.2.840.113556.1.4.803:=65538)", true);
        check("(userAccountControl:1.2.840.113556.1.4.803:=16)", false);
        check("(userAccountControl:1.2.840.113556.1.4.804:=18)", true);
        check("(userAccountControl:1.2.840.113556.1.4.804:=16)", false);
        check("(!(userAccountControl:1.2.840.113556.1.4.803:=2))", false);
        check("(mail:1.2.840.113556.1.4.803:=2)", false);
        check("(cn:9.9.9:=x)", false);
        check("(cn:2.5.13.5:=adam anderson)", false);
        check("(cn:2.5.13.5:=Adam Anderson)", true);
        check("(ou:dn:=sales)", true);
        check("(ou:=sales)", false);
        check("(objectCategory=person)", true);
        check("(objectCategory=user)", true);
        check("(objectCategory=computer)", false);
        check(
            "(objectCategory=CN=Person,CN=Schema,CN=Configuration,DC=corp,DC=example,DC=com)",
            true,
        );
        check(
            "(&(objectCategory=person)(objectClass=user)(!(sAMAccountName=svc-*)))",
            true,
        );
        check(
            "(|(sAMAccountName=x)(userPrincipalName=AANDERSON@corp.local))",
            true,
        );
        check(
            "(objectGUID=\\06\\96\\b3\\3a\\42\\c6\\9b\\48\\84\\b6\\58\\c0\\38\\d3\\ef\\39)",
            true,
        );
        check("(objectGUID=\\06\\96)", false);
    }

    #[test]
    fn evaluates_against_ad_users() {
        use crate::directory::model::{AdUser, Guid};
        use crate::names::AttrName;
        let dn = Dn::parse("CN=a,OU=Sales,DC=x").unwrap();
        let mut user = AdUser::new(dn, Guid([1; 16]));
        user.set_sam_account_name("svc-backup");
        user.user_account_control = Some(514);
        user.attributes
            .insert(AttrName::from("objectClass"), ["top", "user"]);
        assert!(parse("(&(objectClass=user)(sAMAccountName=svc-*))").matches(&user));
        assert!(parse("(userAccountControl:1.2.840.113556.1.4.803:=2)").matches(&user));
        assert!(parse("(OU:dn:=sales)").matches(&user));
        assert!(!parse("(mail=*)").matches(&user));
        assert!(
            parse("(objectGUID=\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01)")
                .matches(&user)
        );
    }

    /// Runs `f` on a thread with a small stack, as a stand-in for the main thread's: unbounded
    /// recursion over deep input aborts the process there.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn deep_nesting_is_refused_with_a_position() {
        fn deep(n: usize) -> String {
            format!("{}(cn=a){}", "(!".repeat(n), ")".repeat(n))
        }
        // MAX_DEPTH parenthesised filters in all: MAX_DEPTH - 1 `(!` around one item.
        assert!(Filter::parse(&deep(MAX_DEPTH - 1)).is_ok());
        let e = Filter::parse(&deep(MAX_DEPTH)).unwrap_err();
        assert_eq!(e.position, 2 * MAX_DEPTH + 1, "{e}");
        assert!(e.message.contains("nested more than 100"), "{e}");
        let e = on_small_stack(|| Filter::parse(&deep(10_000)).unwrap_err());
        assert!(e.message.contains("nested"), "{e}");
        let e = on_small_stack(|| Filter::parse(&"(&".repeat(10_000)).unwrap_err());
        assert!(e.message.contains("nested"), "{e}");
    }

    #[test]
    fn deep_filters_built_in_code_print_and_evaluate_without_recursion() {
        let (text, matched, unmatched) = on_small_stack(|| {
            let mut f = Filter::equals("sAMAccountName", "aanderson");
            // An even number of `!`: the same truth value as the item.
            for i in 0..100_000 {
                f = if i % 3 == 0 {
                    Filter::and(vec![Filter::present("cn"), f])
                } else {
                    Filter::not(f)
                };
            }
            let text = f.to_string();
            let matched = f.matches(&entry());
            let f = Filter::or(vec![Filter::equals("cn", "x"), Filter::not(f)]);
            let unmatched = f.matches(&entry());
            // Dropping is recursive too: unwind by hand so the test itself stays on its stack.
            let mut rest = Some(f);
            while let Some(next) = rest.take() {
                rest = match next {
                    Filter::Not(inner) => Some(*inner),
                    Filter::And(mut list) | Filter::Or(mut list) => list.pop(),
                    _ => None,
                };
            }
            (text, matched, unmatched)
        });
        assert!(text.starts_with("(&(cn=*)(!(!(&(cn=*)(!(!("), "{text:.40}");
        let innermost = "(!(!(&(cn=*)(sAMAccountName=aanderson))))";
        assert!(text.contains(innermost));
        let tail = text.len() - text.find(innermost).unwrap() - innermost.len();
        assert_eq!(
            tail,
            100_000 - 3,
            "one ')' per level outside the innermost three"
        );
        let nots = (0..100_000).filter(|i| i % 3 != 0).count();
        assert_eq!(nots % 2, 0);
        assert!(matched);
        assert!(!unmatched);
    }
}
