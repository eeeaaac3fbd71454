use super::*;
use crate::directory::AdValue;
use crate::directory::Filter;
use crate::directory::snapshot::SnapshotError;
use std::fs;
use std::path::PathBuf;

/// A users-only `ldapsearch -LLL` export: folded lines, base64 values, a computer, a
/// service account, a disabled user, a binary objectSid, an ldapsearch trailer comment.
pub(super) const EXPORT: &str = "\
# extended LDIF
#
# LDAPv3
# base <OU=Office365,DC=corp,DC=example,DC=com> with scope subtree
# filter: (objectClass=user)
#

# Adam Anderson, Sales, Office365, corp.example.com
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
department: Sales
objectGUID:: BpazOkLGm0iEtljAONPvOQ==
userAccountControl: 512
objectSid:: AQUAAAAAAAUVAAAAs8zP1xZ9Zx2a2YXUUAQAAA==
sAMAccountName: aanderson
userPrincipalName: aanderson@corp.local
mail: adam.anderson@example.com
proxyAddresses: SMTP:adam.anderson@example.com
proxyAddresses: smtp:aanderson@corp.example.com
mS-DS-ConsistencyGuid:: BpazOkLGm0iEtljAONPvOQ==

# Jürgen König, Sales, Office365, corp.example.com
dn:: Q049SsO8cmdlbiBLw7ZuaWcsT1U9U2FsZXMsT1U9T2ZmaWNlMzY1LERDPWNvcnAsREM9ZXh
 hbXBsZSxEQz1jb20=
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn:: SsO8cmdlbiBLw7ZuaWc=
sn:: S8O2bmln
givenName:: SsO8cmdlbg==
uSNChanged: 4100
objectGUID:: 8H0wvuQv+ke4sD8GxtSb
 oA==
userAccountControl: 514
sAMAccountName: jkoenig
userPrincipalName: jkoenig@corp.local

# svc-backup, Service, Office365, corp.example.com
dn: CN=svc-backup,OU=Service,OU=Office365,DC=corp,DC=example,DC=com
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: svc-backup
uSNChanged: 3000
objectGUID:: AAECAwQFBgcICQoLDA0ODw==
userAccountControl: 66048
sAMAccountName: svc-backup

# WS01, Computers, Office365, corp.example.com
dn: CN=WS01,OU=Computers,OU=Office365,DC=corp,DC=example,DC=com
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
objectClass: computer
cn: WS01
uSNChanged: 5000
objectGUID:: EBESExQVFhcYGRobHB0eHw==
sAMAccountName: WS01$

# Elsewhere, Users, corp.example.com
dn: CN=Elsewhere,CN=Users,DC=corp,DC=example,DC=com
objectClass: user
objectGUID:: ICEiIyQlJicoKSorLC0uLw==
sAMAccountName: elsewhere
userPrincipalName: elsewhere@example.com
proxyAddresses: smtp:taken@example.com

# numEntries: 5
";

fn write(content: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ad.ldif");
    fs::write(&path, content).unwrap();
    (dir, path)
}

fn open(content: &str) -> (tempfile::TempDir, PathBuf, AdSnapshot) {
    let (dir, path) = write(content);
    let snap = AdSnapshot::open(&path).unwrap_or_else(|e| panic!("{e}"));
    (dir, path, snap)
}

fn dn(s: &str) -> Dn {
    Dn::parse(s).unwrap()
}

fn office365() -> AdQuery {
    AdQuery {
        bases: vec![dn("OU=Office365,DC=corp,DC=example,DC=com")],
        ..AdQuery::default()
    }
}

const ADAM: &str = "CN=Adam Anderson,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com";

fn sams(users: &[AdUser]) -> Vec<String> {
    users
        .iter()
        .filter_map(|u| u.sam_account_name().map(str::to_owned))
        .collect()
}

fn refusal_code(e: DirectoryError) -> String {
    match e {
        DirectoryError::Refused { code, .. } => code.unwrap_or_default(),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test]
async fn reads_users_from_a_folded_export() {
    let (_d, _p, mut snap) = open(EXPORT);
    let users = snap.read_users(&office365()).await.unwrap();
    assert_eq!(sams(&users), ["aanderson", "jkoenig", "svc-backup"]);
    let adam = &users[0];
    assert_eq!(adam.dn, dn(ADAM));
    assert_eq!(adam.object_guid.to_base64(), "BpazOkLGm0iEtljAONPvOQ==");
    assert_eq!(
        adam.object_guid.to_string(),
        "3ab39606-c642-489b-84b6-58c038d3ef39"
    );
    assert_eq!(adam.consistency_guid(), Some(&adam.object_guid.0[..]));
    assert_eq!(adam.upn(), Some("aanderson@corp.local"));
    assert_eq!(adam.mail(), Some("adam.anderson@example.com"));
    assert_eq!(adam.proxy_addresses().count(), 2);
    assert_eq!(
        adam.primary_smtp().map(|s| s.to_string()).as_deref(),
        Some("adam.anderson@example.com")
    );
    assert_eq!(adam.user_account_control, Some(512));
    assert_eq!(adam.usn_changed, Some(3921));
    assert_eq!(adam.attr("DISPLAYNAME"), Some("Adam Anderson"));
    assert_eq!(adam.attr("sn"), Some("Anderson"));
    assert_eq!(adam.attributes.values("objectClass").count(), 4);
    assert!(
        adam.attr("objectSid").is_none(),
        "binary attributes are skipped"
    );
    assert!(adam.attr("objectGUID").is_none(), "binary ones too");
    assert_eq!(
        adam.attr("mail"),
        adam.mail(),
        "text with accessors are attributes too"
    );
    let jurgen = &users[1];
    assert_eq!(jurgen.dn.leaf_value().as_deref(), Some("Jürgen König"));
    assert_eq!(jurgen.attr("givenName"), Some("Jürgen"));
    assert!(jurgen.is_disabled());
    assert_eq!(
        jurgen.object_guid.to_string(),
        "be307df0-2fe4-47fa-b8b0-3f06c6d49ba0"
    );
}

#[tokio::test]
async fn scope_exclusions_and_filters() {
    let (_d, _p, mut snap) = open(EXPORT);
    let mut query = office365();
    query.exclude = vec![dn("ou=service,ou=office365,dc=corp,dc=example,dc=com")];
    assert_eq!(
        sams(&snap.read_users(&query).await.unwrap()),
        ["aanderson", "jkoenig"]
    );

    query.exclude.clear();
    query.filter = Some(Filter::parse("(!(sAMAccountName=svc-*))").unwrap());
    assert_eq!(
        sams(&snap.read_users(&query).await.unwrap()),
        ["aanderson", "jkoenig"]
    );
    query.filter = Some(Filter::parse("(userAccountControl:1.2.840.113556.1.4.803:=2)").unwrap());
    assert_eq!(sams(&snap.read_users(&query).await.unwrap()), ["jkoenig"]);
    query.filter = Some(Filter::parse("(objectClass=computer)").unwrap());
    assert!(
        snap.read_users(&query).await.unwrap().is_empty(),
        "computers are not users"
    );

    let all = snap.read_users(&AdQuery::default()).await.unwrap();
    assert_eq!(
        sams(&all),
        ["aanderson", "jkoenig", "svc-backup", "elsewhere"]
    );
}

#[tokio::test]
async fn read_user_and_find_taken() {
    let (_d, _p, mut snap) = open(EXPORT);
    let guid = Guid::parse("3ab39606-c642-489b-84b6-58c038d3ef39").unwrap();
    let adam = snap.read_user(&guid).await.unwrap().unwrap();
    assert_eq!(adam.dn, dn(ADAM));
    assert!(snap.read_user(&Guid([9; 16])).await.unwrap().is_none());
    let ws01 = Guid::from_slice(&(0x10..0x20).collect::<Vec<u8>>()).unwrap();
    assert!(
        snap.read_user(&ws01).await.unwrap().is_none(),
        "computers are not users"
    );

    let taken = snap
        .find_taken(&TakenQuery {
            upns: vec!["AANDERSON@corp.local".into(), "free@corp.local".into()],
            sam_account_names: vec!["ws01$".into(), "JKOENIG".into()],
            smtp_addresses: vec![
                "Adam.Anderson@example.com".into(),
                "taken@EXAMPLE.com".into(),
            ],
        })
        .await
        .unwrap();
    let got: Vec<(&str, &str, String)> = taken
        .iter()
        .map(|t| {
            (
                t.attribute,
                t.value.as_str(),
                t.dn.leaf_value().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "userPrincipalName",
                "AANDERSON@corp.local",
                "Adam Anderson".to_owned()
            ),
            (
                "mail",
                "Adam.Anderson@example.com",
                "Adam Anderson".to_owned()
            ),
            (
                "proxyAddresses",
                "Adam.Anderson@example.com",
                "Adam Anderson".to_owned()
            ),
            ("sAMAccountName", "JKOENIG", "Jürgen König".to_owned()),
            ("sAMAccountName", "ws01$", "WS01".to_owned()),
            (
                "proxyAddresses",
                "taken@EXAMPLE.com",
                "Elsewhere".to_owned()
            ),
        ]
    );
}

/// Files `open` refuses, and the start of its error after the path.
pub(super) const OPEN_ERRORS: &[(&str, &str)] = &[
    (
        "dn: CN=a,DC=x\nobjectClass: user\nsAMAccountName: a\n",
        "1:1: CN=a,DC=x: user without an objectGUID",
    ),
    (
        "dn: CN=a,DC=x\nobjectClass: user\nobjectGUID:: AAEC\n",
        "3:1: CN=a,DC=x: objectGUID must be 16 bytes",
    ),
    (
        "dn: CN=a,DC=x\nobjectClass: user\nobjectGUID:: AAECAwQFBgcICQoLDA0ODw==\nuserAccountControl: x\n",
        "4:1: CN=a,DC=x: userAccountControl must be an integer",
    ),
    (
        "dn: CN=a,DC=x\ncn: a\n\ndn: cn=A,dc=X\ncn: b\n",
        "4:1: cn=A,dc=X: duplicate DN (first at line 1)",
    ),
    (
        "dn: CN=a,DC=x\nobjectGUID:: AAECAwQFBgcICQoLDA0ODw==\n\ndn: CN=b,DC=x\nobjectGUID:: AAECAwQFBgcICQoLDA0ODw==\n",
        "5:1: CN=b,DC=x: duplicate objectGUID",
    ),
    ("dn: novalue\ncn: a\n", "1:1: novalue: missing '='"),
    (
        "dn: CN=a,DC=x\nobjectGUID:: AAECAwQFBgcICQoLDA0ODw==\nsAMAccountName: a\n",
        "1:1: CN=a,DC=x: no entry of the export carries objectClass",
    ),
    (
        "dn: CN=a,DC=x\nobjectClass: top\n\nsearch: 2\n",
        "4:1: the search that made this export has no readable \"result:\" line",
    ),
    ("dn: CN=a\ncn:: ***\n", "2:6: bad base64"),
];

#[test]
fn open_errors_carry_file_line_and_column() {
    for &(content, expected) in OPEN_ERRORS {
        let (_d, path) = write(content);
        let err = AdSnapshot::open(&path).unwrap_err();
        let text = err.to_string();
        let expected = format!("{}:{expected}", path.display());
        assert!(text.starts_with(&expected), "{text}\nexpected {expected}");
    }
    let missing = AdSnapshot::open("/nonexistent/ad.ldif").unwrap_err();
    assert!(matches!(missing, SnapshotError::Io { .. }));
    assert!(
        missing
            .to_string()
            .starts_with("/nonexistent/ad.ldif: cannot read:")
    );
}

fn create_alva() -> AdCreate {
    AdCreate {
        dn: dn("CN=Alva Wood,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com"),
        attributes: vec![
            (
                AttrName::from("sAMAccountName"),
                vec![AdValue::Text("awood".into())],
            ),
            (
                AttrName::from("userPrincipalName"),
                vec![AdValue::Text("alva.wood@example.com".into())],
            ),
            (
                AttrName::from("displayName"),
                vec![AdValue::Text("Alva Wood".into())],
            ),
            (
                AttrName::from("proxyAddresses"),
                vec![
                    AdValue::Text("SMTP:alva.wood@example.com".into()),
                    AdValue::Text("smtp:awood@corp.example.com".into()),
                ],
            ),
            (
                AttrName::from("adminDescription"),
                vec![AdValue::Text("idsync:1234".into())],
            ),
            (
                AttrName::from("unicodePwd"),
                vec![AdValue::Binary(b"\"secret\"".to_vec())],
            ),
        ],
        password: Some(crate::directory::Secret::new("Sup3r-secret!")),
        user_account_control: 512,
    }
}

#[tokio::test]
async fn create_mints_a_guid_and_never_writes_the_password() {
    let (_d, path, mut snap) = open(EXPORT);
    let user = snap.create_user(&create_alva()).await.unwrap();
    assert_eq!(user.usn_changed, Some(5001), "highest USN in the file + 1");
    assert_eq!(user.user_account_control, Some(512));
    assert_eq!(user.owner_marker(), Some("1234"));
    assert_eq!(user.attr("cn"), Some("Alva Wood"));
    assert_eq!(user.attr("name"), Some("Alva Wood"));
    assert_eq!(user.attr("uSNCreated"), Some("5001"));
    assert!(
        user.attr("whenCreated")
            .is_some_and(|t| t.len() == 17 && t.ends_with(".0Z"))
    );
    assert_eq!(
        user.attr("objectCategory"),
        Some("CN=Person,CN=Schema,CN=Configuration,DC=corp,DC=example,DC=com")
    );
    assert_eq!(
        user.attributes.values("objectClass").collect::<Vec<_>>(),
        ["top", "person", "organizationalPerson", "user"]
    );
    assert_eq!(user.object_guid.to_string().as_bytes()[14], b'4');
    // Read back by GUID before and after flush.
    assert_eq!(
        snap.read_user(&user.object_guid).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        EXPORT,
        "only flush writes"
    );
    snap.flush().await.unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let cut = EXPORT.find("\n# numEntries").unwrap();
    assert!(
        text.starts_with(&EXPORT[..cut]),
        "untouched entries stay byte for byte"
    );
    assert!(text.contains(
        "\ndn: CN=Alva Wood,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com\nobjectClass: top\n"
    ));
    assert!(!text.contains("secret") && !text.to_lowercase().contains("unicodepwd"));
    let mut again = AdSnapshot::open(&path).unwrap();
    assert_eq!(
        again.read_user(&user.object_guid).await.unwrap(),
        Some(user)
    );
    // A second create of the same DN is refused; so are duplicates AD refuses.
    let e = again.create_user(&create_alva()).await.unwrap_err();
    assert_eq!(refusal_code(e), "entryAlreadyExists");
    let mut dup = create_alva();
    dup.dn = dn("CN=Alva Two,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com");
    let e = again.create_user(&dup).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("sAMAccountName awood is already used"),
        "{e}"
    );
    dup.attributes[0].1 = vec![AdValue::Text("awood2".into())];
    let e = again.create_user(&dup).await.unwrap_err();
    assert_eq!(refusal_code(e), "constraintViolation");
}

#[tokio::test]
async fn create_fills_a_missing_sam_account_name_and_checks_the_parent() {
    let (_d, _p, mut snap) = open(EXPORT);
    let mut c = create_alva();
    c.attributes.remove(0);
    let user = snap.create_user(&c).await.unwrap();
    let sam = user.sam_account_name().unwrap().to_owned();
    assert!(sam.starts_with('$') && sam.len() == 20, "{sam}");

    // Users-only export: a container inside the domain that the file omits is fine...
    let mut c = create_alva();
    c.dn = dn("CN=Alva Wood,OU=New,DC=corp,DC=example,DC=com");
    c.attributes.remove(0);
    c.attributes.remove(0);
    snap.create_user(&c).await.unwrap();
    // ...another domain is not.
    c.dn = dn("CN=Alva Wood,OU=New,DC=other,DC=com");
    let e = snap.create_user(&c).await.unwrap_err();
    assert_eq!(refusal_code(e), "noSuchObject");
    // System attributes cannot be set.
    let mut c = create_alva();
    c.dn = dn("CN=Other,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com");
    c.attributes = vec![(
        AttrName::from("objectGUID"),
        vec![AdValue::Binary(vec![0; 16])],
    )];
    assert_eq!(
        refusal_code(snap.create_user(&c).await.unwrap_err()),
        "constraintViolation"
    );
}

#[tokio::test]
async fn exports_with_containers_need_the_parent() {
    let content = "\
dn: OU=Office365,DC=corp,DC=example,DC=com
objectClass: top
objectClass: organizationalUnit
ou: Office365
objectGUID:: MDEyMzQ1Njc4OTo7PD0+Pw==

dn: CN=Adam,OU=Office365,DC=corp,DC=example,DC=com
objectClass: user
objectGUID:: BpazOkLGm0iEtljAONPvOQ==
sAMAccountName: adam
";
    let (_d, _p, mut snap) = open(content);
    let mut c = create_alva();
    c.dn = dn("CN=Alva Wood,OU=Office365,DC=corp,DC=example,DC=com");
    snap.create_user(&c).await.unwrap();
    c.dn = dn("CN=Alva Wood,OU=Typo,OU=Office365,DC=corp,DC=example,DC=com");
    let e = snap.create_user(&c).await.unwrap_err();
    assert_eq!(refusal_code(e), "noSuchObject");
    // An OU with a user below it is not a leaf.
    let e = snap
        .delete_user(&dn("OU=Office365,DC=corp,DC=example,DC=com"))
        .await
        .unwrap_err();
    assert_eq!(refusal_code(e), "notAllowedOnNonLeaf");
    // A move takes the subtree along.
    snap.move_user(
        &dn("OU=Office365,DC=corp,DC=example,DC=com"),
        &dn("OU=M365,DC=corp,DC=example,DC=com"),
    )
    .await
    .unwrap();
    let users = snap.read_users(&AdQuery::default()).await.unwrap();
    assert_eq!(users[0].dn, dn("CN=Adam,OU=M365,DC=corp,DC=example,DC=com"));
    let text = String::from_utf8(snap.ldif().render()).unwrap();
    assert!(text.contains("ou: M365\n"), "{text}");
}

#[tokio::test]
async fn modify_edits_per_value_like_ldap() {
    let (_d, path, mut snap) = open(EXPORT);
    let adam = dn(ADAM);
    let text = |s: &str| AdValue::Text(s.into());
    snap.modify_user(
        &adam,
        &[
            AdMod::Delete(
                "proxyAddresses".into(),
                vec![text("SMTP:adam.anderson@example.com")],
            ),
            AdMod::Add(
                "proxyAddresses".into(),
                vec![
                    text("smtp:adam.anderson@example.com"),
                    text("SMTP:adam@example.com"),
                ],
            ),
            AdMod::Replace("mail".into(), vec![text("adam@example.com")]),
            AdMod::Replace("department".into(), vec![]),
            AdMod::Replace("title".into(), vec![text("Manager")]),
            AdMod::Replace(
                "mS-DS-ConsistencyGuid".into(),
                vec![AdValue::Binary(vec![7; 16])],
            ),
        ],
    )
    .await
    .unwrap();
    let user = snap.users(&office365()).unwrap().remove(0);
    assert_eq!(
        user.proxy_addresses().collect::<Vec<_>>(),
        [
            "smtp:aanderson@corp.example.com",
            "smtp:adam.anderson@example.com",
            "SMTP:adam@example.com"
        ]
    );
    assert_eq!(user.mail(), Some("adam@example.com"));
    assert_eq!(user.attr("department"), None);
    assert_eq!(user.attr("title"), Some("Manager"));
    assert_eq!(user.consistency_guid(), Some(&[7; 16][..]));
    assert_eq!(user.usn_changed, Some(5001));

    // Per-value errors, naming the object and the attribute; nothing is applied.
    let before = snap.ldif().render();
    let e = snap
        .modify_user(
            &adam,
            &[
                AdMod::Replace("title".into(), vec![text("Boss")]),
                AdMod::Add("proxyAddresses".into(), vec![text("smtp:ADAM@example.com")]),
            ],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with(ADAM), "{e}");
    assert!(e.to_string().contains("proxyAddresses"), "{e}");
    assert_eq!(refusal_code(e), "attributeOrValueExists");
    let e = snap
        .modify_user(
            &adam,
            &[AdMod::Delete(
                "proxyAddresses".into(),
                vec![text("smtp:nope@example.com")],
            )],
        )
        .await
        .unwrap_err();
    assert_eq!(refusal_code(e), "noSuchAttribute");
    let e = snap
        .modify_user(&adam, &[AdMod::Delete("info".into(), vec![])])
        .await
        .unwrap_err();
    assert_eq!(refusal_code(e), "noSuchAttribute");
    let e = snap
        .modify_user(
            &adam,
            &[AdMod::Add("mail".into(), vec![text("second@example.com")])],
        )
        .await
        .unwrap_err();
    assert_eq!(refusal_code(e), "constraintViolation");
    let e = snap
        .modify_user(
            &adam,
            &[AdMod::Replace(
                "userAccountControl".into(),
                vec![text("many")],
            )],
        )
        .await
        .unwrap_err();
    assert_eq!(refusal_code(e), "invalidAttributeSyntax");
    let e = snap
        .modify_user(&adam, &[AdMod::Replace("CN".into(), vec![text("Adam")])])
        .await
        .unwrap_err();
    assert_eq!(refusal_code(e), "notAllowedOnRDN");
    let e = snap
        .modify_user(
            &adam,
            &[AdMod::Replace("uSNChanged".into(), vec![text("1")])],
        )
        .await
        .unwrap_err();
    assert_eq!(refusal_code(e), "constraintViolation");
    let e = snap
        .modify_user(
            &adam,
            &[AdMod::Replace(
                "userPrincipalName".into(),
                vec![text("JKOENIG@corp.local")],
            )],
        )
        .await
        .unwrap_err();
    assert_eq!(refusal_code(e), "constraintViolation");
    assert_eq!(snap.ldif().render(), before);

    let missing = dn("CN=Nobody,DC=corp,DC=example,DC=com");
    assert!(matches!(
        snap.modify_user(&missing, &[AdMod::Replace("title".into(), vec![])])
            .await,
        Err(DirectoryError::NotFound { .. })
    ));

    // Untouched entries stay byte for byte; the edited one keeps its untouched lines.
    snap.flush().await.unwrap();
    let written = fs::read_to_string(&path).unwrap();
    let jurgen_start = EXPORT.find("# Jürgen König").unwrap();
    assert!(written.ends_with(&EXPORT[jurgen_start..]));
    assert!(written.contains(
        "distinguishedName: CN=Adam Anderson,OU=Sales,OU=Office365,DC=corp,DC=example\n ,DC=com\n"
    ));
    assert!(written.contains("objectSid:: AQUAAAAAAAUVAAAAs8zP1xZ9Zx2a2YXUUAQAAA==\n"));
    assert!(written.contains("mS-DS-ConsistencyGuid:: BwcHBwcHBwcHBwcHBwcHBw==\n"));
}

#[tokio::test]
async fn move_renames_and_delete_removes() {
    let (_d, path, mut snap) = open(EXPORT);
    let adam = dn(ADAM);
    let target = dn("CN=Adam Andersen,OU=Marketing,OU=Office365,DC=corp,DC=example,DC=com");
    snap.move_user(&adam, &target).await.unwrap();
    let guid = Guid::parse("3ab39606-c642-489b-84b6-58c038d3ef39").unwrap();
    let user = snap.read_user(&guid).await.unwrap().unwrap();
    assert_eq!(user.dn, target);
    assert_eq!(user.attr("cn"), Some("Adam Andersen"));
    assert_eq!(user.attr("distinguishedName"), Some(target.as_str()));
    assert_eq!(user.usn_changed, Some(5001));
    assert!(matches!(
        snap.move_user(&adam, &target).await,
        Err(DirectoryError::NotFound { .. })
    ));
    let jurgen = dn("CN=Jürgen König,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com");
    let e = snap.move_user(&jurgen, &target).await.unwrap_err();
    assert_eq!(refusal_code(e), "entryAlreadyExists");
    let e = snap
        .move_user(&jurgen, &dn("CN=J,OU=X,DC=elsewhere,DC=org"))
        .await
        .unwrap_err();
    assert_eq!(refusal_code(e), "noSuchObject");

    snap.delete_user(&jurgen).await.unwrap();
    assert!(matches!(
        snap.delete_user(&jurgen).await,
        Err(DirectoryError::NotFound { .. })
    ));
    snap.flush().await.unwrap();
    let again = AdSnapshot::open(&path).unwrap();
    assert_eq!(
        sams(&again.users(&office365()).unwrap()),
        ["aanderson", "svc-backup"]
    );
    assert_eq!(again.users(&office365()).unwrap()[0].dn, target);
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains("Jürgen") && !text.contains("S8O2bmln"));
    assert!(text.contains("# WS01, Computers, Office365, corp.example.com\ndn: CN=WS01"));
}

#[tokio::test]
async fn flush_is_atomic_and_only_writes_changes() {
    let (dir, path, mut snap) = open(EXPORT);
    let before = fs::metadata(&path).unwrap().modified().unwrap();
    snap.flush().await.unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), EXPORT);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);

    snap.create_user(&create_alva()).await.unwrap();
    assert!(snap.is_dirty());
    snap.flush().await.unwrap();
    assert!(!snap.is_dirty());
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["ad.ldif"], "no temporary file left behind");
    let reopened = AdSnapshot::open(&path).unwrap();
    assert_eq!(
        reopened.users(&office365()).unwrap(),
        snap.users(&office365()).unwrap()
    );

    // Someone else edited the file meanwhile: refuse rather than lose their change.
    snap.modify(
        &dn(ADAM),
        &[AdMod::Replace(
            "title".into(),
            vec![AdValue::Text("x".into())],
        )],
    )
    .unwrap();
    fs::write(&path, EXPORT).unwrap();
    let e = snap.flush().await.unwrap_err();
    assert!(
        matches!(
            e,
            DirectoryError::Snapshot(SnapshotError::WriteRefused { .. })
        ),
        "{e}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), EXPORT);
}
