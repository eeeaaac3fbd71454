//! Parsing a file a piece at a time ([`LdifFile::parse_each_read`]) hands over the same
//! entries, with the same lines, and ends with the same file as parsing it whole; whatever
//! the whole parse refuses, the pieces leave to it.

use super::*;

type Parsed = (LdifFile, Vec<Entry>);

fn whole(bytes: &[u8]) -> Result<Parsed, LdifError> {
    let mut entries = Vec::new();
    let file = LdifFile::parse_each(bytes, &mut |e, _| entries.push(e))?;
    Ok((file, entries))
}

fn in_pieces(bytes: &[u8], limit: u64, piece: usize) -> Option<Parsed> {
    let mut entries = Vec::new();
    let mut input = bytes;
    let file = LdifFile::parse_each_pieces(&mut input, limit, piece, &mut |e, _| entries.push(e))?;
    Some((file, entries))
}

fn assert_alike(name: &str, bytes: &[u8]) {
    // UTF-16 is decoded whole: read in pieces, it is handed back to the whole parse.
    let utf16 = matches!(
        decode(bytes),
        Ok((TextEncoding::Utf16Le | TextEncoding::Utf16Be, _))
    );
    let expected = whole(bytes).ok().filter(|_| !utf16);
    for piece in [1, 2, 3, 5, 16, 64, 333, 4096, 8 << 20] {
        let got = in_pieces(bytes, u64::MAX, piece);
        assert_eq!(got, expected, "{name}, pieces of {piece}");
    }
}

#[test]
fn every_ldif_of_the_repository_parses_alike_in_pieces() {
    for file in crate::directory::ldif::repository_files() {
        assert_alike(&file.display().to_string(), &std::fs::read(&file).unwrap());
    }
}

#[test]
fn tricky_files_parse_alike_in_pieces() {
    let cases: &[(&str, &[u8])] = &[
        ("empty", b""),
        ("only blank lines", b"\n\n\n"),
        (
            "folded lines, spaces-only and tab lines, comments, records",
            b"version: 1\n# requesting: cn member\n\ndn: CN=a,DC=x\nobjectClass: user\ndescription: one\n  two\n \ncn: a\n\n\t\n# between\n\ndn: CN=b,\n DC=x\ncn:: Yg==\n\n# search result\nsearch: 2\nresult: 0 Success\n\n# numResponses: 3\n",
        ),
        (
            "CRLF",
            b"dn: CN=a,DC=x\r\ncn: a\r\n\r\ndn: CN=b,DC=x\r\ncn: b\r\n long\r\n\r\n",
        ),
        ("UTF-8 BOM", b"\xEF\xBB\xBFdn: CN=a,DC=x\ncn: a\n\ndn: CN=b,DC=x\ncn: b\n"),
        ("no final newline", b"dn: CN=a,DC=x\ncn: a\n\ndn: CN=b,DC=x\ncn: b"),
        // Errors: the whole parse reports them, so the pieces give way.
        ("continuation after a blank line", b"dn: CN=a,DC=x\ncn: a\n\n cn: b\n"),
        ("bad base64 late", b"dn: CN=a,DC=x\ncn: a\n\ndn: CN=b,DC=x\ncn:: ***\n"),
        ("not UTF-8 late", b"dn: CN=a,DC=x\ncn: a\n\ndn: CN=b,DC=x\ncn: \xff\n"),
        ("UTF-16", b"\xff\xfed\x00n\x00:\x00 \x00x\x00\n\x00"),
        ("UTF-16 without a BOM", b"d\x00n\x00:\x00"),
    ];
    for &(name, bytes) in cases {
        assert_alike(name, bytes);
    }
}

#[test]
fn pieces_are_not_read_past_the_limit() {
    let bytes = b"dn: CN=a,DC=x\ncn: a\n\ndn: CN=b,DC=x\ncn: b\n";
    let len = bytes.len() as u64;
    assert!(in_pieces(bytes, len, 8).is_some());
    assert_eq!(in_pieces(bytes, len - 1, 8), None);
}
