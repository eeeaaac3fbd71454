//! Writes to an AD snapshot never mint a `uSNChanged` the reader would refuse: AD's USNs are
//! signed 64-bit integers, so a snapshot whose highest USN is already `i64::MAX` refuses
//! further writes (it used to write larger values, or overflow).

use idsync::directory::snapshot::AdSnapshot;
use idsync::directory::{AdMod, AdValue, Dn};
use idsync::names::AttrName;

const USER: &str = "CN=Ada Hollis,OU=Staff,DC=corp,DC=example,DC=com";

fn snapshot(usn_changed: &str, extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ad.ldif");
    let ldif = format!(
        "dn: {USER}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n\
         objectClass: user\nobjectGUID:: AAECAwQFBgcICQoLDA0ODw==\nsAMAccountName: ahollis\n\
         uSNChanged: {usn_changed}\n\n{extra}"
    );
    std::fs::write(&path, ldif).unwrap();
    (dir, path)
}

fn retitle(ad: &mut AdSnapshot, title: &str) -> Result<(), String> {
    let dn = Dn::parse(USER).unwrap();
    ad.modify(
        &dn,
        &[AdMod::Replace(
            AttrName::new("title"),
            vec![AdValue::Text(title.to_owned())],
        )],
    )
    .map_err(|e| e.to_string())
}

#[test]
fn the_last_usn_is_i64_max_and_then_writes_are_refused() {
    let (_dir, path) = snapshot(&(i64::MAX - 1).to_string(), "");
    let mut ad = AdSnapshot::open(&path).unwrap();
    retitle(&mut ad, "Lead").unwrap();
    let e = retitle(&mut ad, "Chief").unwrap_err();
    assert!(e.contains("no uSNChanged above 9223372036854775807"), "{e}");
    ad.save().unwrap();
    // What was written reads back.
    let ad = AdSnapshot::open(&path).unwrap();
    let text = std::fs::read_to_string(ad.path()).unwrap();
    assert!(text.contains("uSNChanged: 9223372036854775807"), "{text}");
    assert!(text.contains("title: Lead"), "{text}");
}

#[test]
fn a_usn_beyond_u64_in_another_entry_does_not_overflow() {
    // Not a user, so the reader does not check its USNs: the highest one still counts.
    let (_dir, path) = snapshot(
        "10",
        "dn: OU=Staff,DC=corp,DC=example,DC=com\nobjectClass: organizationalUnit\n\
         uSNCreated: 18446744073709551615\n",
    );
    let mut ad = AdSnapshot::open(&path).unwrap();
    let e = retitle(&mut ad, "Lead").unwrap_err();
    assert!(e.contains("no uSNChanged above"), "{e}");
}
