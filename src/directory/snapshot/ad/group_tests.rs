//! Groups and contacts in the LDIF snapshot: reads (ranged members, unknown members,
//! tombstones, scope) and per-value writes.

use super::*;
use crate::directory::model::sid_from_string;
use crate::directory::{AdGroupCreate, AdGroupRead, AdGroupWrite, AdValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::fmt::Write as _;

const DOMAIN: &str = "S-1-5-21-1004336348-1177238915-682003330";

fn b64_guid(n: u8) -> String {
    B64.encode([n; 16])
}

fn sid(rid: u32) -> String {
    B64.encode(sid_from_string(&format!("{DOMAIN}-{rid}")).unwrap())
}

fn open(content: &str) -> (tempfile::TempDir, std::path::PathBuf, AdSnapshot) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ad.ldif");
    std::fs::write(&path, content).unwrap();
    let snap = AdSnapshot::open(&path).unwrap_or_else(|e| panic!("{e}"));
    (dir, path, snap)
}

fn dn(s: &str) -> Dn {
    Dn::parse(s).unwrap()
}

fn code(e: DirectoryError) -> String {
    match e {
        DirectoryError::Refused { code, .. } => code.unwrap_or_default(),
        DirectoryError::NotFound { .. } => "NotFound".into(),
        other => format!("{other}"),
    }
}

fn member_dns(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("CN=u{i},OU=Staff,DC=corp,DC=example"))
        .collect()
}

/// A group entry whose `member` comes in ranges of `size`, as Windows AD and ldifde give a
/// large one (`member;range=0-1499` …, the last `member;range=N-*`).
fn ranged_group(name: &str, guid: u8, members: &[String], size: usize) -> String {
    let mut s = format!(
        "dn: CN={name},OU=Groups,DC=corp,DC=example\nobjectClass: top\nobjectClass: group\n\
         objectGUID:: {}\nsAMAccountName: {name}\ngroupType: -2147483646\n",
        b64_guid(guid)
    );
    for (k, chunk) in members.chunks(size).enumerate() {
        let start = k * size;
        let last = start + chunk.len() == members.len();
        let end = if last {
            "*".to_owned()
        } else {
            (start + chunk.len() - 1).to_string()
        };
        for m in chunk {
            writeln!(s, "member;range={start}-{end}: {m}").unwrap();
        }
    }
    s.push('\n');
    s
}

pub(super) const GROUPS: &str = "\
# extended LDIF
#
# requesting: objectGUID objectSid objectClass sAMAccountName groupType member mail
#

dn: OU=Groups,DC=corp,DC=example
objectClass: organizationalUnit

dn: CN=Sales,OU=Groups,DC=corp,DC=example
objectClass: top
objectClass: group
objectGUID:: AQEBAQEBAQEBAQEBAQEBAQ==
objectSid:: AQUAAAAAAAUVAAAA3KHcO4NwK0aCt6UoUAQAAA==
sAMAccountName: sales
groupType: -2147483646
mail: sales@example.com
proxyAddresses: SMTP:sales@example.com
displayName: Sales
description: Everyone in sales
adminDescription: idsync:g-1
uSNChanged: 4711
member: CN=Adam Anderson,OU=Staff,DC=corp,DC=example
member:: Q049SsO8cmdlbiBLw7ZuaWcsT1U9U3RhZmYsREM9Y29ycCxEQz1leGFtcGxl

dn: CN=Empty,OU=Groups,DC=corp,DC=example
objectClass: top
objectClass: group
objectGUID:: AgICAgICAgICAgICAgICAg==
sAMAccountName: empty
groupType: 8

dn: CN=Old\\0ADEL:0b3a,CN=Deleted Objects,DC=corp,DC=example
objectClass: top
objectClass: group
objectGUID:: AwMDAwMDAwMDAwMDAwMDAw==
isDeleted: TRUE

dn: CN=Sales\\0ACNF:0c4b,OU=Groups,DC=corp,DC=example
objectClass: top
objectClass: group
objectGUID:: BAQEBAQEBAQEBAQEBAQEBA==

dn: CN=Partner,OU=Contacts,DC=corp,DC=example
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: contact
objectGUID:: BQUFBQUFBQUFBQUFBQUFBQ==
mail: partner@fabrikam.example
proxyAddresses: SMTP:partner@fabrikam.example
targetAddress: SMTP:partner@fabrikam.example
displayName: A Partner
uSNChanged: 12
";

#[tokio::test]
async fn groups_and_contacts_read_with_their_typed_fields() {
    let (_d, _p, mut snap) = open(GROUPS);
    let groups = snap.read_groups(&AdQuery::default()).await.unwrap();
    // The tombstone and the conflict object are no groups.
    assert_eq!(groups.len(), 2, "{groups:#?}");
    let sales = &groups[0];
    assert_eq!(sales.dn.as_str(), "CN=Sales,OU=Groups,DC=corp,DC=example");
    assert_eq!(sales.object_guid, Guid([1; 16]));
    assert_eq!(
        sales.object_sid.as_deref(),
        Some("S-1-5-21-1004315100-1177251971-681949058-1104")
    );
    assert_eq!(sales.group_type, Some(-2147483646));
    assert_eq!(sales.is_security(), Some(true));
    assert_eq!(sales.usn_changed, Some(4711));
    assert_eq!(sales.sam_account_name(), Some("sales"));
    assert_eq!(sales.display_name(), Some("Sales"));
    assert_eq!(sales.admin_description(), Some("idsync:g-1"));
    assert_eq!(
        sales.attributes.get("description"),
        Some("Everyone in sales")
    );
    assert_eq!(sales.primary_smtp().unwrap().as_str(), "sales@example.com");
    assert_eq!(
        sales.members.as_ref().unwrap(),
        &[
            dn("CN=Adam Anderson,OU=Staff,DC=corp,DC=example"),
            dn("CN=Jürgen König,OU=Staff,DC=corp,DC=example"),
        ]
    );
    // Typed values are not repeated among the text attributes.
    assert_eq!(sales.attributes.get("member"), None);
    assert_eq!(sales.attributes.get("groupType"), None);
    let empty = &groups[1];
    assert_eq!(
        empty.members.as_deref(),
        Some(&[][..]),
        "member requested: empty"
    );
    assert_eq!(empty.is_security(), Some(false));

    let contacts = snap.read_contacts(&AdQuery::default()).await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].object_guid, Guid([5; 16]));
    assert_eq!(contacts[0].usn_changed, Some(12));
    assert_eq!(contacts[0].display_name(), Some("A Partner"));
    assert_eq!(
        contacts[0].primary_smtp().unwrap().as_str(),
        "partner@fabrikam.example"
    );
    assert_eq!(
        contacts[0].attributes.get("targetAddress"),
        Some("SMTP:partner@fabrikam.example")
    );

    let scoped = AdQuery {
        bases: vec![dn("DC=corp,DC=example")],
        exclude: vec![
            dn("CN=Empty,OU=Groups,DC=corp,DC=example"),
            dn("OU=Contacts,DC=corp,DC=example"),
        ],
        ..AdQuery::default()
    };
    let groups = snap.read_groups(&scoped).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert!(snap.read_contacts(&scoped).await.unwrap().is_empty());
    let other = AdQuery {
        bases: vec![dn("OU=Contacts,DC=corp,DC=example")],
        ..AdQuery::default()
    };
    assert!(snap.read_groups(&other).await.unwrap().is_empty());
    assert_eq!(snap.read_contacts(&other).await.unwrap().len(), 1);

    assert_eq!(
        snap.read_group(&Guid([1; 16])).await.unwrap().unwrap(),
        groups[0]
    );
    assert_eq!(
        snap.read_group(&Guid([5; 16])).await.unwrap(),
        None,
        "a contact"
    );
    assert_eq!(
        snap.read_group(&Guid([3; 16])).await.unwrap(),
        None,
        "a tombstone"
    );
}

#[tokio::test]
async fn members_are_unknown_when_the_export_cannot_carry_them() {
    let no_member = "dn: CN=G,DC=x\nobjectClass: group\nobjectGUID:: AQEBAQEBAQEBAQEBAQEBAQ==\n\n\
         dn: CN=H,DC=x\nobjectClass: group\nobjectGUID:: AgICAgICAgICAgICAgICAg==\n";
    // No header, no group with a member: made without `member`.
    let (_d, _p, mut snap) = open(no_member);
    let groups = snap.read_groups(&AdQuery::default()).await.unwrap();
    assert!(groups.iter().all(|g| g.members.is_none()), "{groups:?}");
    assert!(!snap.members_exported());
    // A header that does not list it: the same.
    let (_d, _p, mut snap) = open(&format!(
        "# requesting: objectGUID objectClass\n\n{no_member}"
    ));
    assert!(
        snap.read_groups(&AdQuery::default()).await.unwrap()[0]
            .members
            .is_none()
    );
    // A header listing it, or `*`: empty.
    for list in ["objectGUID member", "*", "ALL"] {
        let (_d, _p, mut snap) = open(&format!("# requesting: {list}\n\n{no_member}"));
        let groups = snap.read_groups(&AdQuery::default()).await.unwrap();
        assert_eq!(groups[0].members.as_deref(), Some(&[][..]), "{list}");
    }
    // One group with a member: the others have none.
    let (_d, _p, mut snap) = open(&format!("{no_member}member: CN=G,DC=x\n"));
    let groups = snap.read_groups(&AdQuery::default()).await.unwrap();
    assert_eq!(groups[0].members.as_deref(), Some(&[][..]));
    assert_eq!(groups[1].members.as_ref().unwrap().len(), 1);
}

/// Users' attributes are judged by the users' search header only: a second search for
/// groups (as `idsync snapshot` writes it) that did not request `department` says nothing
/// about users, and the users' header says nothing about `member`.
#[test]
fn each_search_header_speaks_for_its_own_entries() {
    let file = "# requesting: objectGUID objectClass department\n\n\
        dn: CN=U,DC=x\nobjectClass: user\nobjectGUID:: AQEBAQEBAQEBAQEBAQEBAQ==\n\n\
        # requesting: objectGUID objectClass member\n\n\
        dn: CN=G,DC=x\nobjectClass: group\nobjectGUID:: AgICAgICAgICAgICAgICAg==\n";
    let (_d, _p, snap) = open(file);
    assert!(snap.not_exported(&["department".into()]).is_empty());
    assert_eq!(
        snap.not_exported(&["title".into()]),
        vec![AttrName::from("title")]
    );
    assert!(snap.members_exported());
    let swapped = file
        .replace("department\n", "department member\n")
        .replace("objectClass member", "objectClass");
    let (_d, _p, snap) = open(&swapped);
    assert!(
        !snap.members_exported(),
        "the users' search asked for member, not the groups'"
    );
}

#[tokio::test]
async fn ranged_members_read_whole_in_range_order() {
    let members = member_dns(3200);
    let (_d, _p, mut snap) = open(&ranged_group("Big", 7, &members, 1500));
    let groups = snap.read_groups(&AdQuery::default()).await.unwrap();
    let read: Vec<&str> = groups[0]
        .members
        .as_ref()
        .unwrap()
        .iter()
        .map(Dn::as_str)
        .collect();
    assert_eq!(read, members);
}

#[test]
fn an_unfinished_range_is_a_located_error_saying_how_to_export_it_whole() {
    let members = member_dns(3000);
    let whole = ranged_group("Big", 7, &members, 1500);
    // Only the first range, as an export that never asked for the rest holds it.
    let first_only: String = whole
        .lines()
        .filter(|l| !l.starts_with("member;range=1500-"))
        .map(|l| format!("{l}\n"))
        .collect();
    // A gap: the middle range is missing.
    let gap = ranged_group("Big", 7, &member_dns(4500), 1500)
        .lines()
        .filter(|l| !l.starts_with("member;range=1500-2999"))
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    for (content, line, says) in [
        (
            &first_only,
            7,
            "no range continues it up to member;range=1500-*",
        ),
        (&gap, 1507, "values 1500-2999 are missing"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ad.ldif");
        std::fs::write(&path, content).unwrap();
        let err = AdSnapshot::open(&path).unwrap_err().to_string();
        let at = format!("{}:{line}:1: ", path.display());
        assert!(err.starts_with(&at), "{err}\nexpected {at}");
        assert!(err.contains(says), "{err}");
        assert!(err.contains("idsync snapshot --from ad"), "{err}");
    }
}

#[test]
fn bad_group_values_are_located() {
    let head = "dn: CN=G,DC=x\nobjectClass: group\nobjectGUID:: AQEBAQEBAQEBAQEBAQEBAQ==\n";
    for (tail, expected) in [
        (
            "groupType: big\n",
            "4:1: CN=G,DC=x: groupType must be an integer",
        ),
        (
            "groupType: 99999999999\n",
            "4:1: CN=G,DC=x: groupType must be an integer",
        ),
        (
            "member: CN=a,DC=x\nmember: nonsense\n",
            "5:1: CN=G,DC=x: member: \"nonsense\" is not a DN",
        ),
        (
            "objectSid:: AQI=\n",
            "4:1: CN=G,DC=x: objectSid: 2 bytes that are not a SID",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ad.ldif");
        std::fs::write(&path, format!("{head}{tail}")).unwrap();
        // At open, or (members, checked when read) at the read, located alike.
        let err = match AdSnapshot::open(&path) {
            Err(e) => e.to_string(),
            Ok(snap) => snap.groups(&AdQuery::default()).unwrap_err().to_string(),
        };
        let expected = format!("{}:{expected}", path.display());
        assert!(err.starts_with(&expected), "{err}\nexpected {expected}");
    }
    // An unsigned spelling of the bit pattern reads as AD's signed value.
    let (_d, _p, snap) = open(&format!("{head}groupType: 2147483650\n"));
    assert_eq!(
        snap.groups(&AdQuery::default()).unwrap()[0].group_type,
        Some(-2147483646)
    );
}

fn text(s: &str) -> AdValue {
    AdValue::Text(s.to_owned())
}

fn member(name: &str) -> AdValue {
    text(&format!("CN={name},OU=Staff,DC=corp,DC=example"))
}

#[tokio::test]
async fn create_modify_move_delete_a_group_as_ad_answers() {
    let base = format!(
        "dn: OU=Groups,DC=corp,DC=example\nobjectClass: organizationalUnit\n\n\
         dn: CN=Adam,OU=Staff,DC=corp,DC=example\nobjectClass: user\nobjectGUID:: {}\n\
         objectSid:: {}\n\n\
         dn: CN=Bea,OU=Staff,DC=corp,DC=example\nobjectClass: user\nobjectGUID:: {}\n\n",
        b64_guid(9),
        sid(1200),
        b64_guid(10)
    );
    let (_d, path, mut snap) = open(&base);
    let gdn = dn("CN=Team,OU=Groups,DC=corp,DC=example");
    let created = snap
        .create_group(&AdGroupCreate {
            dn: gdn.clone(),
            attributes: vec![
                ("sAMAccountName".into(), vec![text("team")]),
                ("displayName".into(), vec![text("The Team")]),
                ("adminDescription".into(), vec![text("idsync:g-7")]),
            ],
        })
        .await
        .unwrap();
    assert_eq!(created.dn, gdn);
    assert_eq!(
        created.group_type,
        Some(-2147483646),
        "AD's default: global security"
    );
    assert_eq!(
        created.object_sid.as_deref(),
        Some(&*format!("{DOMAIN}-1201"))
    );
    assert_eq!(created.members.as_deref(), Some(&[][..]));
    assert!(created.usn_changed.is_some());
    // The same name again, and a missing parent, are refused as AD refuses them.
    let again = AdGroupCreate {
        dn: gdn.clone(),
        attributes: vec![],
    };
    assert_eq!(
        code(snap.create_group(&again).await.unwrap_err()),
        "entryAlreadyExists"
    );
    let sam_taken = AdGroupCreate {
        dn: dn("CN=Team2,OU=Groups,DC=corp,DC=example"),
        attributes: vec![("sAMAccountName".into(), vec![text("TEAM")])],
    };
    assert_eq!(
        code(snap.create_group(&sam_taken).await.unwrap_err()),
        "entryAlreadyExists"
    );
    let orphan = AdGroupCreate {
        dn: dn("CN=X,OU=Nowhere,OU=Groups,DC=corp,DC=example"),
        attributes: vec![],
    };
    assert_eq!(
        code(snap.create_group(&orphan).await.unwrap_err()),
        "noSuchObject"
    );

    let add =
        |names: &[&str]| AdMod::Add("member".into(), names.iter().map(|n| member(n)).collect());
    let del =
        |names: &[&str]| AdMod::Delete("member".into(), names.iter().map(|n| member(n)).collect());
    snap.modify_group(&gdn, &[add(&["Adam", "Bea"])])
        .await
        .unwrap();
    // Already there (in another spelling of the same DN): attributeOrValueExists.
    let respelled = AdMod::Add(
        "member".into(),
        vec![text("cn=adam, ou=staff,dc=CORP,dc=example")],
    );
    assert_eq!(
        code(snap.modify_group(&gdn, &[respelled]).await.unwrap_err()),
        "attributeOrValueExists"
    );
    assert_eq!(
        code(snap.modify_group(&gdn, &[del(&["Cid"])]).await.unwrap_err()),
        "noSuchAttribute"
    );
    // A member whose container the export holds, but not it: no such object.
    let ghost = AdMod::Add(
        "member".into(),
        vec![text("CN=Ghost,OU=Groups,DC=corp,DC=example")],
    );
    assert_eq!(
        code(snap.modify_group(&gdn, &[ghost]).await.unwrap_err()),
        "noSuchObject"
    );
    let bad = AdMod::Add("member".into(), vec![text("not a dn")]);
    assert_eq!(
        code(snap.modify_group(&gdn, &[bad]).await.unwrap_err()),
        "invalidDNSyntax"
    );
    // All or nothing: the delete before a failing add is not kept.
    assert!(
        snap.modify_group(&gdn, &[del(&["Adam"]), add(&["Bea"])])
            .await
            .is_err()
    );
    let usn_before = snap
        .group(&created.object_guid)
        .unwrap()
        .unwrap()
        .usn_changed;
    snap.modify_group(&gdn, &[del(&["Adam"])]).await.unwrap();
    let read = snap
        .read_group(&created.object_guid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read.members.unwrap(),
        [dn("CN=Bea,OU=Staff,DC=corp,DC=example")]
    );
    assert!(read.usn_changed > usn_before);
    // A user is no group.
    let user = dn("CN=Adam,OU=Staff,DC=corp,DC=example");
    assert_eq!(
        code(
            snap.modify_group(&user, &[add(&["Bea"])])
                .await
                .unwrap_err()
        ),
        "NotFound"
    );

    let moved = dn("CN=Team,DC=corp,DC=example");
    snap.move_group(&gdn, &moved).await.unwrap();
    let read = snap
        .read_group(&created.object_guid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.dn, moved);
    snap.flush().await.unwrap();
    let reopened = AdSnapshot::open(&path).unwrap();
    assert_eq!(reopened.group(&created.object_guid).unwrap().unwrap(), read);
    // Every byte of the file before the new entry is kept.
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.starts_with(&base), "{written}");
    assert!(
        written.contains("objectClass: top\nobjectClass: group\n"),
        "{written}"
    );

    let mut snap = reopened;
    snap.delete_group(&moved).await.unwrap();
    assert_eq!(snap.group(&created.object_guid).unwrap(), None);
    assert_eq!(
        code(snap.delete_group(&moved).await.unwrap_err()),
        "NotFound"
    );
    assert_eq!(
        code(snap.delete_group(&user).await.unwrap_err()),
        "NotFound"
    );
}

/// Removing one member of a ranged 1,600-member group is one value less; the file is written
/// under the plain name (a partial range would not read back), and reads back whole.
#[tokio::test]
async fn a_member_edit_of_a_ranged_group_rewrites_it_whole() {
    let members = member_dns(1600);
    let content = ranged_group("Big", 7, &members, 1500);
    let (_d, path, mut snap) = open(&content);
    let gdn = dn("CN=Big,OU=Groups,DC=corp,DC=example");
    snap.modify_group(
        &gdn,
        &[AdMod::Delete("member".into(), vec![text(&members[700])])],
    )
    .await
    .unwrap();
    snap.flush().await.unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(!written.contains(";range="), "{}", &written[..400]);
    let reopened = AdSnapshot::open(&path).unwrap();
    let read = reopened
        .group(&Guid([7; 16]))
        .unwrap()
        .unwrap()
        .members
        .unwrap();
    let mut expected: Vec<Dn> = members.iter().map(|m| dn(m)).collect();
    expected.remove(700);
    assert_eq!(read, expected);
}

/// AD keeps linked values right: a member that moves is renamed in its groups, one that is
/// deleted leaves them (and the group's uSNChanged grows).
#[tokio::test]
async fn moves_and_deletes_of_members_are_followed_by_their_groups() {
    let content = format!(
        "dn: OU=Staff,DC=corp,DC=example\nobjectClass: organizationalUnit\n\n\
         dn: OU=Sub,OU=Staff,DC=corp,DC=example\nobjectClass: organizationalUnit\n\n\
         dn: CN=Ann,OU=Sub,OU=Staff,DC=corp,DC=example\nobjectClass: user\nobjectGUID:: {}\n\n\
         dn: CN=Bob,OU=Staff,DC=corp,DC=example\nobjectClass: user\nobjectGUID:: {}\n\n\
         dn: CN=G,DC=corp,DC=example\nobjectClass: group\nobjectGUID:: {}\nuSNChanged: 5\n\
         member: CN=Ann,OU=Sub,OU=Staff,DC=corp,DC=example\n\
         member: CN=Bob,OU=Staff,DC=corp,DC=example\n\
         member: CN=Bobby,OU=Staff,DC=corp,DC=example\n",
        b64_guid(1),
        b64_guid(2),
        b64_guid(3)
    );
    let (_d, _p, mut snap) = open(&content);
    // The OU holding Ann moves: her DN in the group follows.
    snap.rename(
        &dn("OU=Sub,OU=Staff,DC=corp,DC=example"),
        &dn("OU=Moved,DC=corp,DC=example"),
    )
    .unwrap();
    snap.delete(&dn("cn=bob,ou=staff,dc=corp,dc=example"))
        .unwrap();
    let g = snap.group(&Guid([3; 16])).unwrap().unwrap();
    assert_eq!(
        g.members.unwrap(),
        [
            dn("CN=Bobby,OU=Staff,DC=corp,DC=example"),
            dn("CN=Ann,OU=Moved,DC=corp,DC=example"),
        ]
    );
    assert!(g.usn_changed > Some(5));
}
