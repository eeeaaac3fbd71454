//! Parsing (RFC 4515 syntax, AD's leniencies), bounded by [`MAX_DEPTH`].

use super::*;

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
}

impl std::str::FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

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
