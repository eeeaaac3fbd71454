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
                0x06, 0x96, 0xb3, 0x3a, 0x42, 0xc6, 0x9b, 0x48, 0x84, 0xb6, 0x58, 0xc0, 0x38, 0xd3,
                0xef, 0x39
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
        // Lines that are not exactly `name: value` and the file's line ending keep their
        // text (the others are written again from name and value): two spaces, a CRLF in an
        // LF file and an LF in a CRLF one, an empty value, a ranged name, an unterminated end.
        "dn: CN=x\ncn:  x\r\nsn: y\nmail:\nmember;range=0-*: CN=a\ngivenName: z".to_owned(),
        "dn: CN=x\r\ncn: x\nsn: y\r\n".to_owned(),
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
    let mut file =
        parse("dn: CN=g\nmember;range=0-1: a\nmember;range=0-1: b\ncn: g\nmember;range=2-*: c\n");
    file.merge_ranges().unwrap();
    let g = &file.entries()[0];
    assert_eq!(g.values("member"), [&b"a"[..], b"b", b"c"]);
    assert!(!g.has("member;range=0-1"));
    assert_eq!(
        file.render(),
        parse("dn: CN=g\nmember;range=0-1: a\nmember;range=0-1: b\ncn: g\nmember;range=2-*: c\n")
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
