//! Writing LDIF: pieces kept whole, values as `ldapsearch` writes them.

use super::*;

/// Output buffer that keeps lines intact when pieces are reordered or appended: a piece that
/// was the unterminated last line of the input gets a line ending once something follows it.
pub(super) struct Out {
    pub(super) buf: Vec<u8>,
    pub(super) eol: &'static [u8],
}

impl Out {
    pub(super) fn piece(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if !self.buf.is_empty() && !self.buf.ends_with(b"\n") {
            self.buf.extend_from_slice(self.eol);
        }
        self.buf.extend_from_slice(bytes);
    }

    /// A line read as `name: value` and the file's line ending, as it was.
    pub(super) fn verbatim(&mut self, name: &str, value: &[u8]) {
        if !self.buf.is_empty() && !self.buf.ends_with(b"\n") {
            self.buf.extend_from_slice(self.eol);
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        self.buf.extend_from_slice(value);
        self.buf.extend_from_slice(self.eol);
    }
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
