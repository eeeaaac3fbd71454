//! The plan's read ([`AdPlanRead`]) answers as the snapshot ([`AdSnapshot`]) does, for every
//! LDIF the repository holds and the files the snapshot refuses.

use std::path::{Path, PathBuf};

use super::*;
use crate::directory::Filter;
use crate::names::AttrName;

fn write(content: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ad.ldif");
    std::fs::write(&path, content).unwrap();
    (dir, path)
}

fn dn(s: &str) -> Dn {
    Dn::parse(s).unwrap()
}

/// Queries of every shape: all of the file, a base, a base with an exclusion, a filter.
fn queries(base: Option<&Dn>) -> Vec<AdQuery> {
    let mut queries = vec![AdQuery::default()];
    let filter = Filter::parse("(|(department=Sales)(!(userAccountControl=514)))").unwrap();
    queries.push(AdQuery {
        filter: Some(filter),
        ..AdQuery::default()
    });
    if let Some(base) = base {
        queries.push(AdQuery {
            bases: vec![base.clone()],
            ..AdQuery::default()
        });
        if let Some(parent) = base.parent() {
            queries.push(AdQuery {
                bases: vec![parent],
                exclude: vec![base.clone()],
                ..AdQuery::default()
            });
        }
    }
    queries
}

/// What both readers answer for one file and query, as text (errors included).
fn answers(path: &Path, query: &AdQuery, lossless: bool) -> Vec<String> {
    let wanted: Vec<AttrName> = [
        "department",
        "displayName",
        "mail",
        "adminDescription",
        "extensionAttribute7",
        "msDS-cloudExtensionAttribute1",
        "uSNChanged",
    ]
    .into_iter()
    .map(|n| AttrName::try_new(n).unwrap())
    .collect();
    let mut out = Vec::new();
    let (users, groups, contacts, not_exported, why, find) = if lossless {
        let s = match AdSnapshot::open(path) {
            Ok(s) => s,
            Err(e) => return vec![e.to_string()],
        };
        let taken = |q: &TakenQuery| s.taken(q);
        (
            s.users(query),
            s.groups(query),
            s.contacts(query),
            s.not_exported(&wanted),
            s.not_exported_why(),
            names_taken(path, taken),
        )
    } else {
        let mut s = match AdPlanRead::open(path, query) {
            Ok(s) => s,
            Err(e) => return vec![e.to_string()],
        };
        let users = s.users(query);
        let groups = s.groups(query);
        let contacts = s.contacts(query);
        let find = names_taken(path, |q| s.taken(q));
        (
            users,
            groups,
            contacts,
            s.not_exported(&wanted),
            s.not_exported_why(),
            find,
        )
    };
    out.push(format!("{users:?}"));
    out.push(format!("{groups:?}"));
    out.push(format!("{contacts:?}"));
    out.push(format!("{not_exported:?} {why}"));
    out.push(find);
    out
}

/// The objects holding any name the file holds (tombstones' and conflict objects' included),
/// in other case, and a few that no one holds.
fn names_taken(path: &Path, taken: impl Fn(&TakenQuery) -> Vec<Taken>) -> String {
    let mut query = TakenQuery {
        upns: vec!["nobody@corp.example.com".into()],
        sam_account_names: vec!["nobody".into()],
        smtp_addresses: vec!["nobody@example.com".into()],
    };
    let ldif = LdifFile::parse(&std::fs::read(path).unwrap()).unwrap();
    for entry in ldif.entries() {
        let text = |name| {
            (entry.values(name).into_iter())
                .filter_map(|v| std::str::from_utf8(v).ok())
                .map(str::to_uppercase)
        };
        query.upns.extend(text("userPrincipalName"));
        query.sam_account_names.extend(text("sAMAccountName"));
        query.smtp_addresses.extend(text("mail"));
        let proxies = text("proxyAddresses").filter_map(|p| Some(p.split_once(':')?.1.to_owned()));
        query.smtp_addresses.extend(proxies);
    }
    format!("{:?}", taken(&query))
}

fn assert_same(name: &str, content: &[u8]) {
    let (_d, path) = write(content);
    // A base from the file itself: the parent of its first user, when it has one.
    let base = AdSnapshot::open(&path).ok().and_then(|s| {
        s.users(&AdQuery::default())
            .ok()?
            .first()
            .and_then(|u| u.dn.parent())
    });
    for query in queries(base.as_ref()) {
        let (a, b) = (answers(&path, &query, true), answers(&path, &query, false));
        assert_eq!(a, b, "{name}, {query:?}");
    }
}

#[test]
fn every_ldif_of_the_repository_reads_the_same_both_ways() {
    for file in crate::directory::ldif::repository_files() {
        assert_same(&file.display().to_string(), &std::fs::read(&file).unwrap());
    }
}

#[test]
fn the_module_fixtures_and_refused_files_read_the_same_both_ways() {
    assert_same("EXPORT", super::tests::EXPORT.as_bytes());
    assert_same("GROUPS", super::group_tests::GROUPS.as_bytes());
    // Groups without `member`, from a search that did not ask for it (unknown, not empty);
    // then a second search, of users, whose header asks for what the first did not.
    let two_searches = "\
# requesting: objectGUID objectClass sAMAccountName
dn: CN=g,OU=G,DC=x
objectClass: group
objectGUID:: AAECAwQFBgcICQoLDA0ODw==
sAMAccountName: g

# requesting: objectGUID objectClass sAMAccountName department member
dn: CN=u,OU=U,DC=x
objectClass: user
objectGUID:: EAECAwQFBgcICQoLDA0ODw==
sAMAccountName: u
";
    assert_same("two searches", two_searches.as_bytes());
    assert_same(
        "one search",
        two_searches.replace(" department member", "").as_bytes(),
    );
    for &(content, _) in super::tests::OPEN_ERRORS {
        assert_same(content, content.as_bytes());
    }
}

/// Errors that `AdSnapshot` finds when opening or when reading, in the order it finds them.
#[test]
fn errors_come_in_the_snapshots_order() {
    let user = |cn: &str, guid: &str, extra: &str| {
        format!("dn: CN={cn},OU=U,DC=x\nobjectClass: user\nobjectGUID:: {guid}\n{extra}\n")
    };
    let group = |cn: &str, guid: &str, extra: &str| {
        format!("dn: CN={cn},OU=G,DC=x\nobjectClass: group\nobjectGUID:: {guid}\n{extra}\n")
    };
    let g1 = "AAECAwQFBgcICQoLDA0ODw==";
    let g2 = "EAECAwQFBgcICQoLDA0ODw==";
    let g3 = "IAECAwQFBgcICQoLDA0ODw==";
    let cases = [
        // A bad member is found when groups are read; a later bad user when opening.
        format!(
            "{}{}",
            group("g", g1, "member: not a dn"),
            user("u", g2, "userAccountControl: x\n")
        ),
        // A duplicate after a bad member.
        format!(
            "{}{}{}",
            group("g", g1, "member: not a dn"),
            user("u", g2, ""),
            user("v", g2, "")
        ),
        // Two bad groups: the first one's error.
        format!(
            "{}{}",
            group("g", g1, "member: not a dn"),
            group("h", g2, "member: nor this")
        ),
        // A range that does not finish after an entry error: the range first.
        format!(
            "{}{}",
            user("u", g1, "userAccountControl: x\n"),
            group("g", g3, "member;range=0-0: CN=u,OU=U,DC=x")
        ),
        // A syntax error after an entry error: the syntax first.
        format!(
            "{}dn: CN=z,DC=x\nbad line\n",
            user("u", g1, "userAccountControl: x\n")
        ),
        // An incomplete export after an entry error: that first.
        format!(
            "{}search: 2\nresult: 4 Size limit exceeded\n",
            user("u", g1, "userAccountControl: x\n")
        ),
    ];
    for content in cases {
        assert_same(&content, content.as_bytes());
    }
}

#[test]
fn an_export_answers_its_query_once_and_refuses_writes() {
    let (_d, path) = write(super::tests::EXPORT.as_bytes());
    let query = AdQuery::default();
    let mut export = AdPlanRead::open(&path, &query).unwrap();
    let other = AdQuery {
        bases: vec![dn("OU=Sales,OU=Office365,DC=corp,DC=example,DC=com")],
        ..AdQuery::default()
    };
    let e = export.users(&other).unwrap_err().to_string();
    assert!(e.contains("another query"), "{e}");
    assert!(!export.users(&query).unwrap().is_empty());
    let e = export.users(&query).unwrap_err().to_string();
    assert!(e.contains("read twice"), "{e}");
    let e = export.not_for_apply().to_string();
    assert!(e.contains("for a plan's reads only"), "{e}");
}

/// An entry's attributes in one pass over its lines are what `names` and `values` give,
/// on every LDIF of the repository and on entries whose descriptions come apart or change
/// case (names are ASCII: the parser refuses others).
#[test]
fn an_entrys_attributes_in_one_pass_are_its_attributes_by_name() {
    use crate::directory::ldif::LdifFile;
    use crate::directory::model::{AttributeSource, DecodeError, each_attribute_by_name};
    type Seen<'a> = Vec<(&'a str, Vec<&'a [u8]>)>;
    fn both(entry: &crate::directory::ldif::Entry) -> (Seen<'_>, Seen<'_>) {
        let (mut one, mut by_name): (Seen<'_>, Seen<'_>) = (Vec::new(), Vec::new());
        entry
            .each_attribute(&mut |name, values| -> Result<(), DecodeError> {
                one.push((name, values.to_vec()));
                Ok(())
            })
            .unwrap();
        each_attribute_by_name(entry, &mut |name, values| -> Result<(), DecodeError> {
            by_name.push((name, values.to_vec()));
            Ok(())
        })
        .unwrap();
        (one, by_name)
    }
    let tricky = "\
dn: CN=a,DC=x
objectClass: user
description: one
sn: S
Description: two
DESCRIPTION: three

dn: CN=b,DC=x
mail: a@x
MAIL: b@x
proxyAddresses: SMTP:a@x
proxyaddresses: smtp:b@x
sn: S
";
    let mut files: Vec<(String, Vec<u8>)> = crate::directory::ldif::repository_files()
        .into_iter()
        .map(|f| (f.display().to_string(), std::fs::read(&f).unwrap()))
        .collect();
    files.push(("tricky".into(), tricky.as_bytes().to_vec()));
    let mut entries = 0;
    for (name, bytes) in &files {
        let Ok(file) = LdifFile::parse(bytes) else {
            continue;
        };
        for entry in file.entries() {
            let (one, by_name) = both(entry);
            assert_eq!(one, by_name, "{name}: {}", entry.dn());
            entries += 1;
        }
    }
    assert!(entries > 50, "{entries}");
    // The tricky entries come apart as `names` has them: `description` once, all three values.
    let file = LdifFile::parse(tricky.as_bytes()).unwrap();
    let (one, _) = both(&file.entries()[0]);
    let description = one.iter().find(|(n, _)| *n == "description").unwrap();
    assert_eq!(description.1, [&b"one"[..], b"two", b"three"]);
}
