//! The process-wide attribute name table holds 65,536 names; a snapshot with more distinct
//! attribute names than that is refused with an error (the 65,537th name panicked).
//!
//! Its own test binary: filling the table would break any other test in the same process.

use std::fmt::Write as _;

use base64::Engine as _;

use idsync::directory::AdQuery;
use idsync::directory::snapshot::{AdSnapshot, EntraSnapshot};

#[test]
fn more_distinct_attribute_names_than_the_table_holds_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // 7,000 users with ten made-up text attributes each (an LDIF anyone can write).
    let mut ldif = String::new();
    for u in 0..7_000u32 {
        let mut guid = [0u8; 16];
        guid[..4].copy_from_slice(&u.to_be_bytes());
        writeln!(
            ldif,
            "dn: CN=User {u},OU=Staff,DC=corp,DC=example,DC=com\n\
             objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n\
             objectClass: user\nobjectGUID:: {}\nsAMAccountName: user{u}",
            base64::engine::general_purpose::STANDARD.encode(guid)
        )
        .unwrap();
        for a in 0..10 {
            writeln!(ldif, "x-idsyncTest{u}-{a}: v").unwrap();
        }
        ldif.push('\n');
    }
    let path = dir.path().join("ad.ldif");
    std::fs::write(&path, ldif).unwrap();
    let err = AdSnapshot::open(&path).map(|s| s.users(&AdQuery::default()).map(|_| ()));
    let message = match err {
        Err(e) => e.to_string(),
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(())) => panic!("70,000 distinct names were accepted"),
    };
    assert!(
        message.contains("more than 65536 distinct attribute names"),
        "{message}"
    );
    assert!(message.contains("ad.ldif:"), "names the file: {message}");

    // The table is full now: a Graph JSON snapshot with one new property is refused too.
    let json = r#"{"value": [{"id": "00000000-0000-4000-8000-000000000001",
        "userPrincipalName": "ada.hollis@example.com", "x-idsyncTestOneMore": "v"}]}"#;
    let path = dir.path().join("entra.json");
    std::fs::write(&path, json).unwrap();
    let message = match EntraSnapshot::open(&path).map(|s| s.users().map(|_| ())) {
        Err(e) => e.to_string(),
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(())) => panic!("a new name was accepted into a full table"),
    };
    assert!(
        message.contains("distinct attribute names (the last: \"x-idsyncTestOneMore\")"),
        "{message}"
    );
    assert!(message.contains("entra.json:"), "names the file: {message}");
}
