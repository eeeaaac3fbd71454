//! Text encodings: UTF-8 with or without a BOM, UTF-16 with a BOM, as read and as written back.

use super::*;

pub(super) const BOM_UTF8: &[u8] = b"\xEF\xBB\xBF";

/// The file's encoding (from its byte order mark) and its text as UTF-8.
pub(super) fn decode(input: &[u8]) -> Result<(TextEncoding, Cow<'_, [u8]>), LdifError> {
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
pub(super) fn encode(encoding: TextEncoding, utf8: Vec<u8>) -> Vec<u8> {
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
