//! Printing (the RFC 4515 form) and value escaping.

use super::*;

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
