//! The live AD connector against a real Samba AD DC: reads, every write kind, the domain-wide
//! name check, escaping, paging, and connection errors. One DC for this binary, one OU per test.

mod support;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use idsync::directory::ldap::LdapDirectory;
use idsync::directory::{
    AdCreate, AdMod, AdQuery, AdTakenRead, AdUser, AdUserRead, AdUserWrite, AdValue,
    DirectoryError, Dn, Filter, Guid, Secret, TakenQuery,
};
use support::live_ad::{Recorder, config, config_with_password, connect, dn, other_ca};
use support::samba::{base64_encode, shared_dc};

fn text(s: &str) -> AdValue {
    AdValue::Text(s.to_owned())
}

fn code(e: &DirectoryError) -> String {
    match e {
        DirectoryError::Refused { code, .. } => code.clone().unwrap_or_default(),
        DirectoryError::NotFound { .. } => "NotFound".into(),
        other => format!("{other:?}"),
    }
}

fn sams(users: &[AdUser]) -> BTreeSet<String> {
    users
        .iter()
        .filter_map(|u| u.sam_account_name())
        .map(|s| s.to_string())
        .collect()
}

fn guid_of(dc: &support::samba::SambaDc, sam: &str) -> Guid {
    let found = dc.search(
        dc.base_dn(),
        &format!("(sAMAccountName={sam})"),
        &["objectGUID"],
    );
    assert_eq!(found.len(), 1, "{sam}: {found:?}");
    Guid::from_slice(found[0].bytes("objectGUID").expect("objectGUID")).expect("16 bytes")
}

async fn usn(ad: &mut LdapDirectory, guid: &Guid) -> u64 {
    ad.read_user(guid)
        .await
        .unwrap()
        .expect("user exists")
        .usn_changed
        .expect("uSNChanged")
}

const ATTID_UNICODE_PWD: u32 = 0x0009_005a;
const ATTID_USER_ACCOUNT_CONTROL: u32 = 0x0009_0008;

/// The local USN at which each attribute of a user was last written, from its
/// replPropertyMetaData (MS-DRSR REPLPROPERTYMETADATA: a 16-byte header, then 48-byte
/// entries of attid, version, time, invocation id, originating USN, local USN).
fn local_usns(dc: &support::samba::SambaDc, sam: &str) -> impl Fn(u32) -> u64 {
    let found = dc.search(
        dc.base_dn(),
        &format!("(sAMAccountName={sam})"),
        &["replPropertyMetaData"],
    );
    let blob = found[0]
        .bytes("replPropertyMetaData")
        .expect("replPropertyMetaData")
        .to_vec();
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let count = u32_at(&blob, 8) as usize;
    let entries: Vec<(u32, u64)> = (0..count)
        .map(|n| {
            let e = &blob[16 + 48 * n..16 + 48 * (n + 1)];
            (
                u32_at(e, 0),
                u64::from_le_bytes(e[40..48].try_into().unwrap()),
            )
        })
        .collect();
    move |attid| {
        entries
            .iter()
            .find(|(a, _)| *a == attid)
            .map(|(_, usn)| *usn)
            .unwrap_or_else(|| panic!("attribute {attid:#x} never written"))
    }
}

/// Asserts that uSNChanged grew since `last` (read_user sees the write), and updates `last`.
async fn bumped(ad: &mut LdapDirectory, guid: &Guid, last: &mut u64, what: &str) {
    let now = usn(ad, guid).await;
    assert!(
        now > *last,
        "{what}: uSNChanged {now} did not grow past {last}"
    );
    *last = now;
}

#[tokio::test]
async fn reads_return_in_scope_users_only_with_raw_anchors() {
    let dc = shared_dc();
    let ou = dc.test_ou("scope");
    // Bytes that are valid UTF-8 on purpose: they must still come back as bytes.
    let anchor = b"0123456789abcdef";
    ou.seed(&format!(
        "dn: OU=Sales,{{OU}}\nobjectClass: organizationalUnit\n\n\
         dn: OU=Sub,OU=Sales,{{OU}}\nobjectClass: organizationalUnit\n\n\
         dn: OU=Service,OU=Sales,{{OU}}\nobjectClass: organizationalUnit\n\n\
         dn: OU=Other,{{OU}}\nobjectClass: organizationalUnit\n\n\
         dn: CN=Ann,OU=Sales,{{OU}}\nobjectClass: user\nsAMAccountName: sc-ann\n\
         displayName: Ann Sales\nmS-DS-ConsistencyGuid:: {}\n\n\
         dn: CN=Cid,OU=Sub,OU=Sales,{{OU}}\nobjectClass: user\nsAMAccountName: sc-cid\n\n\
         dn: CN=Dee,OU=Other,{{OU}}\nobjectClass: user\nsAMAccountName: sc-dee\n\n\
         dn: CN=Bob,{{OU}}\nobjectClass: user\nsAMAccountName: sc-bob\n\n\
         dn: CN=Svc,OU=Service,OU=Sales,{{OU}}\nobjectClass: user\nsAMAccountName: sc-svc\n\n\
         dn: CN=svc-x,OU=Sales,{{OU}}\nobjectClass: user\nsAMAccountName: svc-sc-x\n\n\
         dn: CN=SCWS01,OU=Sales,{{OU}}\nobjectClass: computer\nsAMAccountName: SCWS01$\n\n\
         dn: CN=Contact,OU=Sales,{{OU}}\nobjectClass: contact\n",
        base64_encode(anchor)
    ));
    let (mut ad, _dir) = connect(dc).await;
    let recorder = Arc::new(Recorder::default());
    ad.set_progress(recorder.clone());
    let base = |s: &str| dn(&format!("{s},{}", ou.dn()));
    let query = AdQuery {
        // Sub is inside Sales: its users must still come back once.
        bases: vec![base("OU=Sales"), base("OU=Other"), base("OU=Sub,OU=Sales")],
        exclude: vec![base("OU=Service,OU=Sales")],
        filter: Some(Filter::parse("(!(sAMAccountName=svc-*))").unwrap()),
        attributes: vec!["displayName".into()],
    };
    let users = ad.read_users(&query).await.unwrap();
    assert_eq!(users.len(), 3, "{users:#?}");
    assert_eq!(
        sams(&users),
        ["sc-ann", "sc-cid", "sc-dee"].map(String::from).into()
    );
    assert_eq!(
        recorder.events(),
        ["start reading AD users", "advance 3", "finish"]
    );

    // objectGUID and mS-DS-ConsistencyGuid are the bytes ldapsearch shows.
    let raw = ou.users();
    for user in &users {
        let entry = raw
            .iter()
            .find(|e| dn(&e.dn) == user.dn)
            .unwrap_or_else(|| panic!("{} not in {raw:?}", user.dn));
        assert_eq!(Some(&user.object_guid.0[..]), entry.bytes("objectGUID"));
        assert_eq!(
            user.consistency_guid(),
            entry.bytes("mS-DS-ConsistencyGuid")
        );
        assert!(user.usn_changed.is_some() && user.user_account_control.is_some());
        assert!(user.attributes.values("objectClass").any(|c| c == "user"));
    }
    let ann = users
        .iter()
        .find(|u| u.attr("displayName").is_some())
        .unwrap();
    assert_eq!(ann.attr("displayName"), Some("Ann Sales"));
    assert_eq!(ann.consistency_guid(), Some(&anchor[..]));

    // read_user finds a user anywhere in the domain, and nothing for an unknown GUID.
    let bob = guid_of(dc, "sc-bob");
    let found = ad.read_user(&bob).await.unwrap().expect("Bob");
    assert_eq!(found.dn, dn(&format!("CN=Bob,{}", ou.dn())));
    assert_eq!(ad.read_user(&Guid::new_random()).await.unwrap(), None);
    // A computer is not a user.
    assert_eq!(ad.read_user(&guid_of(dc, "SCWS01$")).await.unwrap(), None);

    // A scope OU that does not exist is an error, never an empty read.
    let missing = AdQuery {
        bases: vec![base("OU=Nope")],
        ..AdQuery::default()
    };
    let e = ad.read_users(&missing).await.unwrap_err();
    assert_eq!(code(&e), "noSuchObject", "{e}");
    assert!(e.to_string().contains("OU=Nope"), "{e}");
}

#[tokio::test]
async fn create_with_a_password_enables_the_account_and_without_stays_disabled() {
    let dc = shared_dc();
    let ou = dc.test_ou("create");
    let (mut ad, _dir) = connect(dc).await;
    let parent = dn(ou.dn());
    let password = "Zq4-idsync-Rand0m!pw";
    let create = AdCreate {
        dn: Dn::child("CN", "Alva Wood", &parent),
        attributes: vec![
            ("sAMAccountName".into(), vec![text("cr-awood")]),
            (
                "userPrincipalName".into(),
                vec![text("alva.wood.cr@example.com")],
            ),
            ("givenName".into(), vec![text("Alva")]),
            ("sn".into(), vec![text("Wood")]),
            ("displayName".into(), vec![text("Alva Wood")]),
            ("mail".into(), vec![text("alva.wood.cr@example.com")]),
            (
                "proxyAddresses".into(),
                vec![
                    text("SMTP:alva.wood.cr@example.com"),
                    text("smtp:awood.cr@corp.example.com"),
                ],
            ),
            ("adminDescription".into(), vec![text("idsync:cloud-1")]),
            ("cn".into(), vec![text("ignored: the DN names it")]),
        ],
        password: Some(Secret::new(password)),
        user_account_control: 512,
    };
    let user = ad.create_user(&create).await.unwrap();
    assert_eq!(user.dn, create.dn);
    assert_eq!(user.user_account_control, Some(512));
    assert!(!user.is_disabled());
    assert!(user.usn_changed.is_some());
    assert_eq!(user.owner_marker(), Some("cloud-1"));
    assert_eq!(user.attr("cn"), Some("Alva Wood"));
    let mut proxies: Vec<&str> = user.proxy_addresses().collect();
    proxies.sort();
    assert_eq!(
        proxies,
        [
            "SMTP:alva.wood.cr@example.com",
            "smtp:awood.cr@corp.example.com"
        ]
    );
    assert_eq!(user.object_guid, guid_of(dc, "cr-awood"));
    assert_eq!(
        ad.read_user(&user.object_guid).await.unwrap().as_ref(),
        Some(&user)
    );
    assert!(dc.can_bind("alva.wood.cr@example.com", password));
    // Signing in is a write too (lastLogonTimestamp): uSNChanged moves.
    let after = ad.read_user(&user.object_guid).await.unwrap().unwrap();
    assert!(after.usn_changed > user.usn_changed);

    // Real AD refuses to enable an account without a password (Samba does not): the
    // replication metadata shows userAccountControl was not written before unicodePwd (both
    // come with the one add, so the account never existed enabled without a password).
    let usn_of = local_usns(dc, "cr-awood");
    assert!(
        usn_of(ATTID_UNICODE_PWD) <= usn_of(ATTID_USER_ACCOUNT_CONTROL),
        "the password must be set no later than the account is enabled"
    );

    // Without a password: created disabled, and nobody can sign in with it.
    let disabled = AdCreate {
        dn: Dn::child("CN", "Dora Disabled", &parent),
        attributes: vec![
            ("sAMAccountName".into(), vec![text("cr-dora")]),
            (
                "userPrincipalName".into(),
                vec![text("dora.cr@example.com")],
            ),
        ],
        password: None,
        user_account_control: 514,
    };
    let dora = ad.create_user(&disabled).await.unwrap();
    assert_eq!(dora.user_account_control, Some(514));
    assert!(dora.is_disabled());
    assert!(!dc.can_bind("dora.cr@example.com", password));

    // A password the domain policy refuses: a clear error without the password, and no
    // account made (the add itself is refused).
    let weak = AdCreate {
        dn: Dn::child("CN", "Walt Weak", &parent),
        attributes: vec![("sAMAccountName".into(), vec![text("cr-walt")])],
        password: Some(Secret::new("Qq1")),
        user_account_control: 512,
    };
    let e = ad.create_user(&weak).await.unwrap_err();
    let message = e.to_string();
    assert_eq!(code(&e), "constraintViolation", "{message}");
    assert!(message.contains("password policy"), "{message}");
    assert!(!message.contains("deleted again"), "{message}");
    assert!(!message.contains("Qq1"), "{message}");
    assert!(!format!("{e:?}").contains("Qq1"));
    assert!(
        dc.search(dc.base_dn(), "(sAMAccountName=cr-walt)", &["dn"])
            .is_empty()
    );

    // The same DN again: entryAlreadyExists.
    let e = ad.create_user(&disabled).await.unwrap_err();
    assert_eq!(code(&e), "entryAlreadyExists", "{e}");
    // A missing parent: noSuchObject.
    let mut orphan = disabled.clone();
    orphan.dn = Dn::child("CN", "Orphan", &dn(&format!("OU=Missing,{}", ou.dn())));
    orphan.attributes = vec![("sAMAccountName".into(), vec![text("cr-orphan")])];
    let e = ad.create_user(&orphan).await.unwrap_err();
    assert_eq!(code(&e), "noSuchObject", "{e}");
}

#[tokio::test]
async fn every_modify_kind_applies_per_value_and_bumps_usn_changed() {
    let dc = shared_dc();
    let ou = dc.test_ou("modify");
    ou.seed(
        "dn: CN=Mod User,{OU}\nobjectClass: user\nsAMAccountName: md-user\n\
         userPrincipalName: md.user@example.com\nmail: md.user@example.com\n\
         proxyAddresses: SMTP:md.user@example.com\nproxyAddresses: smtp:md.old@example.com\n\
         department: Sales\ntitle: Old\n",
    );
    let user_dn = dn(&format!("CN=Mod User,{}", ou.dn()));
    let guid = guid_of(dc, "md-user");
    let (mut ad, _dir) = connect(dc).await;
    let mut last = usn(&mut ad, &guid).await;

    // proxyAddresses: one value added, one removed, the rest untouched.
    ad.modify_user(
        &user_dn,
        &[
            AdMod::Add(
                "proxyAddresses".into(),
                vec![text("smtp:md.new@example.com")],
            ),
            AdMod::Delete(
                "proxyAddresses".into(),
                vec![text("smtp:md.old@example.com")],
            ),
        ],
    )
    .await
    .unwrap();
    bumped(&mut ad, &guid, &mut last, "proxyAddresses").await;
    let u = ad.read_user(&guid).await.unwrap().unwrap();
    let mut proxies: Vec<&str> = u.proxy_addresses().collect();
    proxies.sort();
    assert_eq!(
        proxies,
        ["SMTP:md.user@example.com", "smtp:md.new@example.com"]
    );

    // Single-valued replace and clear.
    ad.modify_user(
        &user_dn,
        &[
            AdMod::Replace("title".into(), vec![text("New")]),
            AdMod::Replace("department".into(), vec![]),
        ],
    )
    .await
    .unwrap();
    bumped(&mut ad, &guid, &mut last, "replace and clear").await;
    let u = ad.read_user(&guid).await.unwrap().unwrap();
    assert_eq!(u.attr("title"), Some("New"));
    assert_eq!(u.attr("department"), None);

    // The anchor: binary, written as bytes.
    ad.modify_user(
        &user_dn,
        &[AdMod::Replace(
            "mS-DS-ConsistencyGuid".into(),
            vec![AdValue::Binary(guid.0.to_vec())],
        )],
    )
    .await
    .unwrap();
    bumped(&mut ad, &guid, &mut last, "mS-DS-ConsistencyGuid").await;
    let u = ad.read_user(&guid).await.unwrap().unwrap();
    assert_eq!(u.consistency_guid(), Some(&guid.0[..]));
    let raw = dc.search(
        ou.dn(),
        "(sAMAccountName=md-user)",
        &["mS-DS-ConsistencyGuid"],
    );
    assert_eq!(raw[0].bytes("mS-DS-ConsistencyGuid"), Some(&guid.0[..]));

    // Enable (password + 512 through the harness), then disable with the UAC bit.
    dc.set_password(user_dn.as_str(), "Zq4-idsync-Rand0m!pw")
        .unwrap();
    dc.enable(user_dn.as_str()).unwrap();
    assert!(dc.can_bind("md.user@example.com", "Zq4-idsync-Rand0m!pw"));
    last = usn(&mut ad, &guid).await;
    let uac = u.user_account_control.unwrap_or(512) & !0x20 | 0x2;
    ad.modify_user(
        &user_dn,
        &[AdMod::Replace(
            "userAccountControl".into(),
            vec![text(&uac.to_string())],
        )],
    )
    .await
    .unwrap();
    bumped(&mut ad, &guid, &mut last, "disable").await;
    assert!(ad.read_user(&guid).await.unwrap().unwrap().is_disabled());
    assert!(!dc.can_bind("md.user@example.com", "Zq4-idsync-Rand0m!pw"));

    // Refusals name the object and the attribute; nothing is applied. (The same value: AD
    // would also refuse it in another case, Samba 4.17 does not.)
    let e = ad
        .modify_user(
            &user_dn,
            &[
                AdMod::Replace("title".into(), vec![text("Boss")]),
                AdMod::Add(
                    "proxyAddresses".into(),
                    vec![text("smtp:md.new@example.com")],
                ),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "attributeOrValueExists", "{e}");
    assert!(e.to_string().starts_with(user_dn.as_str()), "{e}");
    assert!(e.to_string().contains("proxyAddresses"), "{e}");
    let u = ad.read_user(&guid).await.unwrap().unwrap();
    assert_eq!(
        u.attr("title"),
        Some("New"),
        "a refused modify changes nothing"
    );

    let e = ad
        .modify_user(
            &user_dn,
            &[AdMod::Delete(
                "proxyAddresses".into(),
                vec![text("smtp:nope@example.com")],
            )],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "noSuchAttribute", "{e}");
    assert!(e.to_string().contains("proxyAddresses"), "{e}");

    let e = ad
        .modify_user(
            &user_dn,
            &[AdMod::Replace("cn".into(), vec![text("Renamed")])],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "notAllowedOnRDN", "{e}");

    let nobody = dn(&format!("CN=Nobody,{}", ou.dn()));
    let e = ad
        .modify_user(&nobody, &[AdMod::Replace("title".into(), vec![text("x")])])
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::NotFound { .. }), "{e:?}");
    let e = ad.modify_user(&nobody, &[]).await.unwrap_err();
    assert!(matches!(e, DirectoryError::NotFound { .. }), "{e:?}");
}

#[tokio::test]
async fn move_renames_and_delete_removes() {
    let dc = shared_dc();
    let ou = dc.test_ou("move");
    ou.seed(
        "dn: OU=Target,{OU}\nobjectClass: organizationalUnit\n\n\
         dn: CN=Mover,{OU}\nobjectClass: user\nsAMAccountName: mv-mover\n\n\
         dn: CN=Occupied,OU=Target,{OU}\nobjectClass: user\nsAMAccountName: mv-occupied\n",
    );
    let (mut ad, _dir) = connect(dc).await;
    let guid = guid_of(dc, "mv-mover");
    let before = usn(&mut ad, &guid).await;
    let from = dn(&format!("CN=Mover,{}", ou.dn()));
    let target = dn(&format!("OU=Target,{}", ou.dn()));
    let to = Dn::child("CN", "Mover Renamed", &target);
    ad.move_user(&from, &to).await.unwrap();
    let moved = ad.read_user(&guid).await.unwrap().unwrap();
    assert_eq!(moved.dn, to);
    assert_eq!(moved.attr("cn"), Some("Mover Renamed"));
    assert!(moved.usn_changed.unwrap() > before);

    let e = ad.move_user(&from, &to).await.unwrap_err();
    assert!(matches!(e, DirectoryError::NotFound { .. }), "{e:?}");
    let e = ad
        .move_user(
            &to,
            &Dn::child("CN", "X", &dn(&format!("OU=Nope,{}", ou.dn()))),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "noSuchObject", "{e}");
    assert!(e.to_string().contains("OU=Nope"), "{e}");
    let e = ad
        .move_user(&to, &Dn::child("CN", "Occupied", &target))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "entryAlreadyExists", "{e}");

    ad.delete_user(&to).await.unwrap();
    assert_eq!(ad.read_user(&guid).await.unwrap(), None);
    let e = ad.delete_user(&to).await.unwrap_err();
    assert!(matches!(e, DirectoryError::NotFound { .. }), "{e:?}");
    // An OU with objects below it is not a leaf.
    let e = ad.delete_user(&target).await.unwrap_err();
    assert_eq!(code(&e), "notAllowedOnNonLeaf", "{e}");
}

#[tokio::test]
async fn find_taken_looks_domain_wide_and_hostile_values_match_nothing() {
    let dc = shared_dc();
    let ou = dc.test_ou("taken");
    ou.seed(
        "dn: CN=Taken User,{OU}\nobjectClass: user\nsAMAccountName: tk-user\n\
         userPrincipalName: taken.user@example.com\nmail: taken.mail@example.com\n\
         proxyAddresses: SMTP:taken.proxy@example.com\n\n\
         dn: CN=Taken Contact,{OU}\nobjectClass: contact\n\
         proxyAddresses: smtp:contact.proxy@example.com\n",
    );
    let (mut ad, _dir) = connect(dc).await;
    let query = TakenQuery {
        upns: vec!["TAKEN.USER@example.com".into(), "free@example.com".into()],
        sam_account_names: vec!["TK-USER".into(), "Administrator".into(), "free".into()],
        smtp_addresses: vec![
            "taken.mail@example.com".into(),
            "Taken.Proxy@Example.com".into(),
            "contact.proxy@example.com".into(),
            "free2@example.com".into(),
        ],
    };
    let found: BTreeSet<(String, String, String)> = ad
        .find_taken(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.attribute.to_owned(), t.value, t.dn.to_string()))
        .collect();
    let user = format!("CN=Taken User,{}", ou.dn());
    let contact = format!("CN=Taken Contact,{}", ou.dn());
    let admin = dc.admin_dn().to_owned();
    let expected: BTreeSet<(String, String, String)> = [
        ("userPrincipalName", "TAKEN.USER@example.com", &user),
        ("sAMAccountName", "TK-USER", &user),
        ("sAMAccountName", "Administrator", &admin),
        ("mail", "taken.mail@example.com", &user),
        ("proxyAddresses", "Taken.Proxy@Example.com", &user),
        ("proxyAddresses", "contact.proxy@example.com", &contact),
    ]
    .into_iter()
    .map(|(a, v, d)| (a.to_owned(), v.to_owned(), d.clone()))
    .collect();
    assert_eq!(found, expected);

    // Values that would widen a spliced filter are only values.
    let hostile = TakenQuery {
        upns: vec!["*".into(), "*)(userPrincipalName=*".into()],
        sam_account_names: vec![
            "*)(objectClass=*".into(),
            "tk-user)(|(sAMAccountName=*".into(),
            "tk-*".into(),
            "\\2a".into(),
        ],
        smtp_addresses: vec!["*".into(), "*)(mail=*".into()],
    };
    assert_eq!(ad.find_taken(&hostile).await.unwrap(), vec![]);
    assert_eq!(ad.find_taken(&TakenQuery::default()).await.unwrap(), vec![]);
    // A GUID whose bytes spell a filter is only bytes.
    let spelled = Guid(*b"*)(objectClass=*");
    assert_eq!(ad.read_user(&spelled).await.unwrap(), None);
}

#[tokio::test]
async fn special_characters_round_trip_through_create_read_modify_and_move() {
    let dc = shared_dc();
    let ou = dc.test_ou("escape");
    let parent = dn(ou.dn());
    let names = [
        "Smith, John",
        "Plus+Sign",
        "Quote \"Q\"",
        "Back\\slash",
        "<Angle>",
        "Semi;colon",
        "#Hash",
        " Leading Space",
        "Zoë Ærø-Jürgen 日本",
        "All ,+\"\\<>;= of them",
    ];
    let (mut ad, _dir) = connect(dc).await;
    let mut created = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let create = AdCreate {
            dn: Dn::child("CN", name, &parent),
            attributes: vec![
                ("sAMAccountName".into(), vec![text(&format!("esc-{i}"))]),
                ("displayName".into(), vec![text(name)]),
                ("description".into(), vec![text(&format!("{name} *)(x=*"))]),
            ],
            password: None,
            user_account_control: 514,
        };
        let user = ad
            .create_user(&create)
            .await
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert_eq!(user.dn.leaf_value().as_deref(), Some(*name));
        assert_eq!(user.attr("displayName"), Some(*name));
        created.push(user);
    }
    // ldapsearch agrees on every DN.
    for (i, user) in created.iter().enumerate() {
        let raw = dc.search(ou.dn(), &format!("(sAMAccountName=esc-{i})"), &["cn"]);
        assert_eq!(dn(&raw[0].dn), user.dn, "{:?}", names[i]);
        assert_eq!(raw[0].get("cn").as_deref(), Some(names[i]));
    }
    let users = ad
        .read_users(&AdQuery {
            bases: vec![parent.clone()],
            attributes: vec!["displayName".into(), "description".into()],
            ..AdQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(users.len(), names.len());
    for name in names {
        let user = users
            .iter()
            .find(|u| u.dn.leaf_value().as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name:?} not read back"));
        assert_eq!(user.attr("displayName"), Some(name));
        assert_eq!(
            user.attr("description"),
            Some(format!("{name} *)(x=*").as_str())
        );
    }
    // Modify by the DN as read, then move to another awkward name.
    for (user, name) in created.iter().zip(names) {
        ad.modify_user(
            &user.dn,
            &[AdMod::Replace(
                "displayName".into(),
                vec![text(&format!("{name}; changed"))],
            )],
        )
        .await
        .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        let new_dn = Dn::child("CN", &format!("#{name}, moved"), &parent);
        ad.move_user(&user.dn, &new_dn)
            .await
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        let again = ad.read_user(&user.object_guid).await.unwrap().unwrap();
        assert_eq!(again.dn, new_dn);
        assert_eq!(
            again.dn.leaf_value().as_deref(),
            Some(format!("#{name}, moved").as_str())
        );
        assert_eq!(
            again.attr("displayName"),
            Some(format!("{name}; changed").as_str())
        );
    }
    // Filter values are escaped too: a name with filter syntax finds only itself.
    let taken = ad
        .find_taken(&TakenQuery {
            sam_account_names: vec!["esc-*".into(), "esc-0".into()],
            ..TakenQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0].value, "esc-0");
}

#[tokio::test]
async fn paged_read_returns_every_user_exactly_once() {
    let dc = shared_dc();
    let ou = dc.test_ou("paging");
    const N: usize = 1_100;
    let mut ldif = String::new();
    for i in 0..N {
        ldif.push_str(&format!(
            "dn: CN=Page User {i:04},{}\nobjectClass: user\nsAMAccountName: pg-{i:04}\n\n",
            ou.dn()
        ));
    }
    dc.ldapadd(&ldif);
    let (mut ad, _dir) = connect(dc).await;
    let recorder = Arc::new(Recorder::default());
    ad.set_progress(recorder.clone());
    let users = ad
        .read_users(&AdQuery {
            bases: vec![dn(ou.dn())],
            ..AdQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(users.len(), N);
    let guids: HashSet<Guid> = users.iter().map(|u| u.object_guid).collect();
    assert_eq!(guids.len(), N, "each user once");
    let expected: BTreeSet<String> = (0..N).map(|i| format!("pg-{i:04}")).collect();
    assert_eq!(sams(&users), expected);
    assert_eq!(recorder.advanced(), N as u64);
    assert_eq!(
        recorder.events(),
        [
            "start reading AD users",
            "advance 1000",
            "advance 100",
            "finish"
        ]
    );
}

#[tokio::test]
async fn a_wrong_password_is_a_clean_error() {
    let dc = shared_dc();
    let dir = tempfile::tempdir().unwrap();
    let wrong = "Not-The-Pa55word-4711";
    let e = LdapDirectory::connect(&config_with_password(dc, dir.path(), wrong))
        .await
        .unwrap_err();
    let message = e.to_string();
    assert_eq!(code(&e), "invalidCredentials", "{message}");
    assert!(message.contains("wrong user name or password"), "{message}");
    assert!(message.contains(dc.admin_upn()), "{message}");
    for shown in [message, format!("{e:?}")] {
        assert!(!shown.contains(wrong), "{shown}");
        assert!(!shown.contains(dc.password()), "{shown}");
    }
    // An empty password would be an anonymous bind: refused before connecting.
    let e = LdapDirectory::connect(&config_with_password(dc, dir.path(), ""))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_with_a_clear_message() {
    let dc = shared_dc();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dc, dir.path());
    cfg.ca_file = Some(other_ca(dir.path()));
    let e = LdapDirectory::connect(&cfg).await.unwrap_err();
    let message = e.to_string();
    assert!(message.contains("certificate was not trusted"), "{message}");
    assert!(message.contains("ca_file"), "{message}");
    assert!(message.contains(dc.url()), "{message}");

    // The system trust store does not know the test CA either.
    cfg.ca_file = None;
    let e = LdapDirectory::connect(&cfg).await.unwrap_err();
    let message = e.to_string();
    assert!(message.contains("certificate was not trusted"), "{message}");
    assert!(message.contains("set directories.ad.ca_file"), "{message}");
}

#[tokio::test]
async fn start_tls_plain_loopback_and_bind_by_dn() {
    let dc = shared_dc();
    let ou = dc.test_ou("transport");
    ou.seed("dn: CN=Tess,{OU}\nobjectClass: user\nsAMAccountName: tr-tess\n");
    let dir = tempfile::tempdir().unwrap();
    let query = AdQuery {
        bases: vec![dn(ou.dn())],
        ..AdQuery::default()
    };

    // ldap:// upgraded with StartTLS, verified against the CA, bound by DN.
    let mut cfg = config(dc, dir.path());
    cfg.url = dc.ldap_url().to_owned();
    cfg.start_tls = true;
    cfg.bind_dn = dc.admin_dn().to_owned();
    let mut ad = LdapDirectory::connect(&cfg).await.unwrap();
    assert_eq!(sams(&ad.read_users(&query).await.unwrap()).len(), 1);
    let password = "Zq4-idsync-Rand0m!pw";
    let tls_create = AdCreate {
        dn: Dn::child("CN", "Sam StartTLS", &dn(ou.dn())),
        attributes: vec![
            ("sAMAccountName".into(), vec![text("tr-sam")]),
            ("userPrincipalName".into(), vec![text("tr.sam@example.com")]),
        ],
        password: Some(Secret::new(password)),
        user_account_control: 512,
    };
    ad.create_user(&tls_create).await.unwrap();
    assert!(dc.can_bind("tr.sam@example.com", password));

    // StartTLS with the wrong CA is refused like LDAPS.
    cfg.ca_file = Some(other_ca(dir.path()));
    let e = LdapDirectory::connect(&cfg).await.unwrap_err();
    assert!(e.to_string().contains("not trusted"), "{e}");

    // Plain ldap:// (loopback only) reads, but never sends a password over it.
    let mut cfg = config(dc, dir.path());
    cfg.url = dc.ldap_url().to_owned();
    cfg.ca_file = None;
    let mut plain = LdapDirectory::connect(&cfg).await.unwrap();
    assert_eq!(sams(&plain.read_users(&query).await.unwrap()).len(), 2);
    let mut create = tls_create.clone();
    create.dn = Dn::child("CN", "Pat Plain", &dn(ou.dn()));
    create.attributes = vec![("sAMAccountName".into(), vec![text("tr-pat")])];
    let e = plain.create_user(&create).await.unwrap_err();
    assert_eq!(code(&e), "confidentialityRequired", "{e}");
    assert!(
        dc.search(dc.base_dn(), "(sAMAccountName=tr-pat)", &["dn"])
            .is_empty()
    );
}
