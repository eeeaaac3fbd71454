//! AD snapshots as admins really export them (DESIGN.md "Exports as admins really make them"):
//! every shape reads with the same users, every other file is refused at FILE:LINE:COL with a
//! message that says what the file is and how to make one that reads, and `apply`'s rewrite
//! keeps each file's encoding and line endings.
//!
//! The fixtures in tests/fixtures/exports/ldif/ are written by us from the formats as
//! documented (RFC 2849, OpenLDAP ldapsearch(1), Microsoft's ldifde page), with invented people.

use std::fs;
use std::path::PathBuf;

use idsync::directory::ldif::TextEncoding;
use idsync::directory::snapshot::AdSnapshot;
use idsync::directory::{AdCreate, AdMod, AdQuery, AdUser, AdValue, Dn, TakenQuery};
use idsync::names::AttrName;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/exports/ldif/{name}"))
}

fn users(name: &str) -> Vec<AdUser> {
    let snap = AdSnapshot::open(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    snap.users(&AdQuery::default()).unwrap()
}

fn sams(users: &[AdUser]) -> Vec<&str> {
    users.iter().filter_map(AdUser::sam_account_name).collect()
}

/// Asserts the error of opening a fixture: `FILE:LINE:COL: …` and each of `texts`.
fn refused(name: &str, line: usize, column: usize, texts: &[&str]) {
    let path = fixture(name);
    let e = AdSnapshot::open(&path).expect_err(name).to_string();
    let at = format!("{}:{line}:{column}: ", path.display());
    assert!(e.starts_with(&at), "{name}: expected {at}…, got\n{e}");
    for text in texts {
        assert!(e.contains(text), "{name}: expected {text:?} in\n{e}");
    }
}

const ADAM_DN: &str = "CN=Adam Anderson,OU=Sales,OU=Staff,DC=corp,DC=example,DC=com";

fn adam(users: &[AdUser]) -> &AdUser {
    users
        .iter()
        .find(|u| u.sam_account_name() == Some("aanderson"))
        .expect("Adam Anderson is read")
}

// --- shapes that read ---------------------------------------------------------------------------

#[test]
fn ldapsearch_without_lll_reads_past_comments_references_and_the_result_trailer() {
    let users = users("ldapsearch.ldif");
    assert_eq!(sams(&users), ["aanderson", "jkoenig", "mlindqvist"]);
    let adam = adam(&users);
    assert_eq!(adam.dn.as_str(), ADAM_DN);
    assert_eq!(adam.upn(), Some("adam.anderson@example.com"));
    assert_eq!(
        adam.proxy_addresses().collect::<Vec<_>>(),
        [
            "SMTP:adam.anderson@example.com",
            "smtp:aanderson@corp.example.com"
        ]
    );
    assert_eq!(adam.attr("department"), Some("Sales"));
    // The base64 DN and display name, and the GUID folded mid-value.
    let jurgen = &users[1];
    assert_eq!(
        jurgen.dn.as_str(),
        "CN=Jürgen König,OU=Sales,OU=Staff,DC=corp,DC=example,DC=com"
    );
    assert_eq!(jurgen.attr("displayName"), Some("Jürgen König"));
    assert_eq!(
        jurgen.object_guid.to_string(),
        "be307df0-2fe4-47fa-b8b0-3f06c6d49ba0"
    );
}

#[test]
fn ldapsearch_lll_reads_with_its_reference_comments() {
    let users = users("ldapsearch-LLL.ldif");
    assert_eq!(sams(&users), ["aanderson", "jkoenig", "mlindqvist"]);
    assert_eq!(adam(&users).mail(), Some("adam.anderson@example.com"));
}

#[test]
fn a_paged_ldapsearch_reads_every_page() {
    let users = users("ldapsearch-paged.ldif");
    assert_eq!(sams(&users), ["aanderson", "jkoenig", "mlindqvist"]);
    assert_eq!(users[2].upn(), Some("mia.lindqvist@example.com"));
}

/// ldifde writes each entry as a `changetype: add` record, CRLF, non-ASCII values base64
/// (https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-server-2012-r2-and-2012/cc731033(v=ws.11)).
#[test]
fn an_ldifde_export_reads_its_add_records_as_content() {
    let users = users("ldifde.ldif");
    assert_eq!(sams(&users), ["aanderson", "zaero"]);
    let adam = adam(&users);
    assert_eq!(adam.user_account_control, Some(512));
    assert_eq!(adam.usn_changed, Some(13007));
    assert_eq!(adam.attr("givenName"), Some("Adam"));
    assert_eq!(adam.attr("changetype"), None, "not an attribute");
    assert_eq!(users[1].attr("displayName"), Some("Zoë Ærø"));
}

/// `ldifde -u` writes UTF-16LE with a byte order mark.
#[test]
fn ldifde_unicode_utf16le_with_a_bom_reads() {
    let snap = AdSnapshot::open(fixture("ldifde-unicode.ldif")).unwrap();
    assert_eq!(snap.ldif().encoding(), TextEncoding::Utf16Le);
    assert!(snap.ldif().crlf());
    let users = snap.users(&AdQuery::default()).unwrap();
    assert_eq!(sams(&users), ["aanderson", "zaero"]);
    assert_eq!(
        users[1].dn.as_str(),
        "CN=Zoë Ærø,OU=Sales,OU=Staff,DC=corp,DC=example,DC=com"
    );
    assert_eq!(users[1].upn(), Some("zoe.aero@example.com"));
}

#[test]
fn utf16be_with_a_bom_reads() {
    let snap = AdSnapshot::open(fixture("utf16be.ldif")).unwrap();
    assert_eq!(snap.ldif().encoding(), TextEncoding::Utf16Be);
    let users = snap.users(&AdQuery::default()).unwrap();
    assert_eq!(sams(&users), ["aanderson", "mlindqvist"]);
    assert_eq!(adam(&users).attr("department"), Some("Sales"));
}

#[test]
fn utf8_with_a_bom_reads() {
    let snap = AdSnapshot::open(fixture("utf8-bom.ldif")).unwrap();
    assert_eq!(snap.ldif().encoding(), TextEncoding::Utf8Bom);
    let users = snap.users(&AdQuery::default()).unwrap();
    assert_eq!(sams(&users), ["aanderson", "mlindqvist"]);
    assert_eq!(adam(&users).attr("displayName"), Some("Ádám Anderson"));
}

/// Tombstones keep objectClass user and live in CN=Deleted Objects with `\0ADEL:` in the
/// RDN; a replication conflict's loser gets `\0ACNF:`
/// (https://learn.microsoft.com/en-us/troubleshoot/windows-server/active-directory/information-about-objects-container).
#[test]
fn tombstones_and_conflict_objects_are_not_users() {
    let snap = AdSnapshot::open(fixture("tombstone-cnf.ldif")).unwrap();
    let users = snap.users(&AdQuery::default()).unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].dn.as_str(), ADAM_DN);
    for guid in [
        "f5f10d65-e4b1-42e6-b3ee-7d0fd66e3247",
        "9bf61c71-6dc6-48da-ba97-99b784bef151",
    ] {
        let guid = idsync::directory::Guid::parse(guid).unwrap();
        assert_eq!(snap.user(&guid).unwrap(), None, "{guid}");
    }
    // The conflict object still holds its names (AD keeps them); the tombstone holds none.
    let taken = snap.taken(&TakenQuery {
        sam_account_names: vec!["aanderson".into(), "aanderson2".into()],
        ..TakenQuery::default()
    });
    let holders: Vec<&str> = taken.iter().map(|t| t.dn.as_str()).collect();
    assert_eq!(holders.len(), 2, "{holders:?}");
    assert!(
        holders.iter().any(|d| d.contains("\\0ACNF:")),
        "{holders:?}"
    );
    assert!(
        !holders.iter().any(|d| d.contains("\\0ADEL:")),
        "{holders:?}"
    );

    // So a new account cannot take the conflict object's name, and can take the tombstone's.
    let mut snap = snap;
    let mut create = |sam: &str| {
        snap.create(&AdCreate {
            dn: Dn::parse(&format!(
                "CN={sam},OU=Sales,OU=Staff,DC=corp,DC=example,DC=com"
            ))
            .unwrap(),
            attributes: vec![("sAMAccountName".into(), vec![AdValue::Text(sam.into())])],
            password: None,
            user_account_control: 512,
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let e = create("AANDERSON").unwrap_err();
    assert!(e.contains("\\0ACNF:"), "{e}");
    create("aanderson2").unwrap();
}

/// Windows AD returns a large `member` 1,500 values at a time as `member;range=0-1499`, …,
/// `member;range=N-*` (https://learn.microsoft.com/en-us/windows/win32/adsi/attribute-range-retrieval);
/// the ranges read as one attribute, in order.
#[test]
fn ranged_values_up_to_star_read_as_one_attribute() {
    let snap = AdSnapshot::open(fixture("ranged-member.ldif")).unwrap();
    let group = &snap.ldif().entries()[1];
    let members: Vec<String> = group
        .values("member")
        .into_iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    let expected: Vec<String> = (0..7)
        .map(|i| format!("CN=Member {i:02},OU=Staff,DC=corp,DC=example,DC=com"))
        .collect();
    assert_eq!(members, expected);
    assert_eq!(snap.users(&AdQuery::default()).unwrap().len(), 1);
}

// --- attributes an export did not carry -------------------------------------------------------

fn names(list: &[&str]) -> Vec<AttrName> {
    list.iter().map(|&n| AttrName::from(n)).collect()
}

fn shown(list: &[AttrName]) -> Vec<&str> {
    list.iter().map(AttrName::as_str).collect()
}

#[test]
fn the_requesting_header_says_exactly_what_was_exported() {
    let snap = AdSnapshot::open(fixture("ldapsearch.ldif")).unwrap();
    let wanted = names(&[
        "department",
        "mail",
        "title",
        "objectGUID",
        "distinguishedName",
        "telephoneNumber",
        "userAccountControl",
    ]);
    // department and mail were requested (Mia lacks both: empty, not unknown); title,
    // telephoneNumber and userAccountControl were not.
    assert_eq!(
        shown(&snap.not_exported(&wanted)),
        ["title", "telephoneNumber", "userAccountControl"]
    );
    // "requesting: ALL" covers user attributes, not operational ones.
    let paged = AdSnapshot::open(fixture("ldapsearch-paged.ldif")).unwrap();
    assert_eq!(
        shown(&paged.not_exported(&names(&["title", "createTimestamp"]))),
        ["createTimestamp"]
    );
}

#[test]
fn without_a_header_an_attribute_no_user_carries_is_not_exported() {
    let snap = AdSnapshot::open(fixture("ldapsearch-LLL.ldif")).unwrap();
    let wanted = names(&["department", "title", "mail", "objectClass", "objectGUID"]);
    assert_eq!(shown(&snap.not_exported(&wanted)), ["title"]);
    assert!(
        snap.not_exported_why()
            .contains("no user in the LDIF export")
    );
    let headed = AdSnapshot::open(fixture("ldapsearch.ldif")).unwrap();
    assert!(headed.not_exported_why().contains("# requesting:"));
    // What a tombstone carries says nothing about the users.
    let snap = AdSnapshot::open(fixture("tombstone-cnf.ldif")).unwrap();
    assert_eq!(
        shown(&snap.not_exported(&names(&["lastKnownParent", "mail"]))),
        ["lastKnownParent"]
    );
    // With no user at all, no value is unknown.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ad.ldif");
    fs::write(
        &path,
        "dn: OU=Staff,DC=corp,DC=example,DC=com\nobjectClass: organizationalUnit\n",
    )
    .unwrap();
    let empty = AdSnapshot::open(&path).unwrap();
    assert!(empty.not_exported(&names(&["title"])).is_empty());
}

// --- files that do not read -------------------------------------------------------------------

#[test]
fn a_windows_1252_value_is_an_error_naming_the_encoding() {
    // "displayName: Adam Anders" is 24 bytes: the é (0xE9) is column 25.
    refused(
        "windows-1252.ldif",
        6,
        25,
        &["displayName", "not valid UTF-8", "0xE9", "Windows-1252"],
    );
}

#[test]
fn a_change_record_other_than_add_is_refused_at_its_line() {
    refused(
        "changetype-modify.ldif",
        2,
        1,
        &["changetype: modify", "ldifde -f", "changetype: add"],
    );
}

#[test]
fn a_size_limited_search_is_refused_as_incomplete() {
    refused(
        "ldapsearch-size-limit.ldif",
        37,
        1,
        &[
            "4 Size limit exceeded",
            "incomplete",
            "idsync snapshot --from ad",
            "-E pr=1000/noprompt",
        ],
    );
}

#[test]
fn an_unfinished_range_is_refused_as_incomplete() {
    refused(
        "ranged-unfinished.ldif",
        21,
        1,
        &[
            "member;range=0-4",
            "member;range=5-*",
            "incomplete",
            "idsync snapshot --from ad",
        ],
    );
}

#[test]
fn other_exports_are_named_with_what_to_run_instead() {
    let advice = ["ldifde -f", "idsync snapshot --from ad", "ldapsearch -LLL"];
    refused(
        "csvde.csv",
        1,
        1,
        &[&["this is a CSV file", "csvde"], &advice[..]].concat(),
    );
    // PowerShell's `>` writes UTF-16LE; two blank lines come before the list.
    refused(
        "format-list.txt",
        3,
        1,
        &[&["PowerShell Format-List output"], &advice[..]].concat(),
    );
    refused(
        "users.json",
        1,
        1,
        &[&["this is a JSON file", "--entra-snapshot"], &advice[..]].concat(),
    );
}

// --- apply's rewrite --------------------------------------------------------------------------

/// Lines of `after` not in `before` and of `before` not in `after` (as multisets).
fn changed_lines(before: &str, after: &str) -> (Vec<String>, Vec<String>) {
    let mut removed: Vec<&str> = before.lines().collect();
    let mut added = Vec::new();
    for line in after.lines() {
        match removed.iter().position(|l| *l == line) {
            Some(i) => {
                removed.remove(i);
            }
            None => added.push(line.to_owned()),
        }
    }
    (removed.into_iter().map(str::to_owned).collect(), added)
}

fn decode(bytes: &[u8], encoding: TextEncoding) -> String {
    match encoding {
        TextEncoding::Utf8 => String::from_utf8(bytes.to_vec()).unwrap(),
        TextEncoding::Utf8Bom => String::from_utf8(bytes[3..].to_vec()).unwrap(),
        TextEncoding::Utf16Le | TextEncoding::Utf16Be => {
            let units: Vec<u16> = bytes[2..]
                .chunks(2)
                .map(|p| match encoding {
                    TextEncoding::Utf16Le => u16::from_le_bytes([p[0], p[1]]),
                    _ => u16::from_be_bytes([p[0], p[1]]),
                })
                .collect();
            String::from_utf16(&units).unwrap()
        }
    }
}

#[test]
fn apply_rewrites_only_the_change_in_the_files_own_encoding_and_line_endings() {
    let cases = [
        ("ldapsearch.ldif", TextEncoding::Utf8, false),
        ("ldapsearch-LLL.ldif", TextEncoding::Utf8, false),
        ("ldapsearch-paged.ldif", TextEncoding::Utf8, false),
        ("ldifde.ldif", TextEncoding::Utf8, true),
        ("ldifde-unicode.ldif", TextEncoding::Utf16Le, true),
        ("utf16be.ldif", TextEncoding::Utf16Be, false),
        ("utf8-bom.ldif", TextEncoding::Utf8Bom, false),
        ("tombstone-cnf.ldif", TextEncoding::Utf8, false),
    ];
    for (name, encoding, crlf) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let original = fs::read(fixture(name)).unwrap();
        fs::write(&path, &original).unwrap();
        let mut snap = AdSnapshot::open(&path).unwrap();
        let adam = Dn::parse(ADAM_DN).unwrap();
        snap.modify(
            &adam,
            &[AdMod::Replace(
                "title".into(),
                vec![AdValue::Text("Señor Engineer".into())],
            )],
        )
        .unwrap();
        snap.save().unwrap();

        let written = fs::read(&path).unwrap();
        let before = decode(&original, encoding);
        let after = decode(&written, encoding);
        let (removed, added) = changed_lines(&before, &after);
        // The title (base64: not ASCII) and what AD bumps on a write, nothing else.
        let bumped = |l: &String| l.starts_with("uSNChanged: ") || l.starts_with("whenChanged: ");
        assert!(
            removed.iter().all(bumped) && removed.len() <= 2,
            "{name}: removed {removed:?}"
        );
        assert!(
            added.iter().any(|l| l == "title:: U2XDsW9yIEVuZ2luZWVy"),
            "{name}: added {added:?}"
        );
        assert!(
            added.iter().all(|l| l.starts_with("title:: ") || bumped(l)),
            "{name}: added {added:?}"
        );
        let lf = after.matches('\n').count();
        let crlfs = after.matches("\r\n").count();
        assert_eq!(crlfs == lf, crlf, "{name}: line endings");
        assert!(crlf || crlfs == 0, "{name}: mixed line endings");

        let again = AdSnapshot::open(&path).unwrap();
        assert_eq!(again.ldif().encoding(), encoding, "{name}");
        let users = again.users(&AdQuery::default()).unwrap();
        assert_eq!(
            self::adam(&users).attr("title"),
            Some("Señor Engineer"),
            "{name}"
        );
    }
}

#[test]
fn editing_a_ranged_attribute_writes_it_whole_under_its_plain_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ad.ldif");
    fs::copy(fixture("ranged-member.ldif"), &path).unwrap();
    let mut snap = AdSnapshot::open(&path).unwrap();
    let group = Dn::parse("CN=All Staff,OU=Groups,DC=corp,DC=example,DC=com").unwrap();
    snap.modify(
        &group,
        &[AdMod::Add(
            "member".into(),
            vec![AdValue::Text(ADAM_DN.into())],
        )],
    )
    .unwrap();
    snap.save().unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains(";range="), "{text}");
    assert_eq!(text.matches("\nmember: ").count(), 8, "{text}");
    let again = AdSnapshot::open(&path).unwrap();
    let members = again.ldif().entries()[1].values("member");
    assert_eq!(members.len(), 8);
    assert_eq!(members[7], ADAM_DN.as_bytes());
}

#[test]
fn an_ldifde_file_gets_add_records_for_created_users() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ad.ldif");
    fs::copy(fixture("ldifde.ldif"), &path).unwrap();
    let mut snap = AdSnapshot::open(&path).unwrap();
    snap.create(&AdCreate {
        dn: Dn::parse("CN=Alva Wood,OU=Sales,OU=Staff,DC=corp,DC=example,DC=com").unwrap(),
        attributes: vec![("sAMAccountName".into(), vec![AdValue::Text("awood".into())])],
        password: None,
        user_account_control: 512,
    })
    .unwrap();
    snap.save().unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(
            "\r\n\r\ndn: CN=Alva Wood,OU=Sales,OU=Staff,DC=corp,DC=example,DC=com\r\nchangetype: add\r\nobjectClass: top\r\n"
        ),
        "{text}"
    );
    assert_eq!(
        sams(
            &AdSnapshot::open(&path)
                .unwrap()
                .users(&AdQuery::default())
                .unwrap()
        ),
        ["aanderson", "zaero", "awood"]
    );
}

#[test]
fn the_cli_refuses_an_incomplete_export_with_exit_code_1() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idsync"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "plan",
            "--dir",
            "tests/fixtures/converged/desired",
            "--ad-snapshot",
        ])
        .arg(fixture("ldapsearch-size-limit.ldif"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ldapsearch-size-limit.ldif:37:1:") && stderr.contains("incomplete"),
        "{stderr}"
    );
}
