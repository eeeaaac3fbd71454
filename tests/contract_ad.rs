//! Contract tests for the AD side: every test body is written once, generic over the
//! directory, and runs twice — against `AdSnapshot` (an LDIF file in a temporary folder) and
//! against the live LDAP connector on a Samba DC (one DC for this binary, one OU per test).
//! A fake that drifts from the real thing fails here.
//!
//! Where Samba is laxer than AD (scripts/SAMBA.md, "Where Samba is laxer than AD"), the body
//! encodes AD's rule and skips only that assertion on Samba, saying why.

mod support;

use std::collections::BTreeSet;

use idsync::directory::ldap::LdapDirectory;
use idsync::directory::snapshot::AdSnapshot;
use idsync::directory::{
    AdCreate, AdGroupCreate, AdGroupRead, AdGroupWrite, AdMod, AdQuery, AdRead, AdTakenRead,
    AdUser, AdUserRead, AdUserWrite, AdValue, AdWrite, DirectoryError, Dn, Filter, Flush, Guid,
    TakenQuery,
};
use support::samba::{Entry, base64_encode, parse_ldif, shared_dc};

// --- the two directories ----------------------------------------------------------------------

/// A directory holding one test's objects below the OU `{OU}`, and a reader that looks at the
/// stored objects without going through idsync (ldapsearch; the file itself).
trait World: Sized {
    type Dir: AdRead + AdWrite;
    /// Samba stands in for AD: skip the assertions where it is laxer (see the module doc).
    const SAMBA: bool;
    /// A fresh OU holding `seed` (LDIF, `{OU}` replaced by the OU's DN), and a directory on it.
    async fn open(name: &str, seed: &str) -> Self;
    fn dir(&mut self) -> &mut Self::Dir;
    fn ou(&self) -> Dn;
    /// The object with this sAMAccountName as stored, writes so far included.
    async fn raw(&mut self, sam: &str) -> Option<Entry>;
}

const SNAPSHOT_BASE: &str = "DC=corp,DC=example,DC=com";

struct Snapshot {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    ou: String,
    ad: AdSnapshot,
}

impl World for Snapshot {
    type Dir = AdSnapshot;
    const SAMBA: bool = false;

    async fn open(name: &str, seed: &str) -> Self {
        let ou = format!("OU={name},{SNAPSHOT_BASE}");
        // What an export of a DC holds: every object with its objectGUID and USNs (the DC
        // mints them; here we do).
        let mut usn = 1000;
        let mut text = String::new();
        let ou_record = format!("dn: {ou}\nobjectClass: top\nobjectClass: organizationalUnit\n");
        for record in std::iter::once(ou_record.as_str()).chain(seed.split("\n\n")) {
            let record = record.trim();
            if record.is_empty() {
                continue;
            }
            usn += 1;
            text.push_str(&record.replace("{OU}", &ou));
            text.push_str(&format!(
                "\nobjectGUID:: {}\nuSNCreated: {usn}\nuSNChanged: {usn}\n\n",
                base64_encode(&Guid::new_random().0)
            ));
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ad.ldif");
        std::fs::write(&path, text).expect("write the LDIF");
        let ad = AdSnapshot::open(&path).unwrap_or_else(|e| panic!("{e}"));
        Snapshot {
            _dir: dir,
            path,
            ou,
            ad,
        }
    }

    fn dir(&mut self) -> &mut AdSnapshot {
        &mut self.ad
    }

    fn ou(&self) -> Dn {
        dn(&self.ou)
    }

    async fn raw(&mut self, sam: &str) -> Option<Entry> {
        self.ad.flush().await.expect("flush");
        let text = std::fs::read_to_string(&self.path).expect("read the LDIF");
        parse_ldif(&text).into_iter().find(|e| {
            e.get("sAMAccountName")
                .is_some_and(|s| s.eq_ignore_ascii_case(sam))
        })
    }
}

struct Samba {
    ou: String,
    ad: LdapDirectory,
    _secret: tempfile::TempDir,
}

impl World for Samba {
    type Dir = LdapDirectory;
    const SAMBA: bool = true;

    async fn open(name: &str, seed: &str) -> Self {
        let dc = shared_dc();
        let ou = dc.test_ou(name);
        if !seed.trim().is_empty() {
            ou.seed(seed);
        }
        let (ad, secret) = support::live_ad::connect(dc).await;
        Samba {
            ou: ou.dn().to_owned(),
            ad,
            _secret: secret,
        }
    }

    fn dir(&mut self) -> &mut LdapDirectory {
        &mut self.ad
    }

    fn ou(&self) -> Dn {
        dn(&self.ou)
    }

    async fn raw(&mut self, sam: &str) -> Option<Entry> {
        let found = shared_dc().search(&self.ou, &format!("(sAMAccountName={sam})"), &[]);
        assert!(found.len() <= 1, "{sam}: {found:?}");
        found.into_iter().next()
    }
}

/// Each body runs once per directory: `snapshot::NAME` and `samba::NAME`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod snapshot {
            $(#[tokio::test]
            async fn $name() {
                super::$name::<super::Snapshot>().await
            })*
        }
        mod samba {
            $(#[tokio::test]
            async fn $name() {
                super::$name::<super::Samba>().await
            })*
        }
    };
}

contract!(
    read_scope_is_bases_minus_exclusions_and_filter_users_only,
    anchors_are_the_stored_bytes,
    multi_valued_values_read_in_stored_order,
    find_taken_matches_without_case,
    create_mints_anchors_and_reads_back_by_guid,
    create_refuses_a_dn_or_name_that_exists,
    modify_edits_per_value_and_bumps_usn_changed,
    modify_refusals_change_nothing,
    move_renames_and_delete_removes,
    groups_and_contacts_read_in_scope,
    group_writes_edit_members_per_value,
);

// --- helpers ----------------------------------------------------------------------------------

fn dn(s: &str) -> Dn {
    Dn::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn below(world: &impl World, rdns: &str) -> Dn {
    dn(&format!("{rdns},{}", world.ou()))
}

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
        .map(str::to_owned)
        .collect()
}

async fn guid_of<W: World>(world: &mut W, sam: &str) -> Guid {
    let entry = world
        .raw(sam)
        .await
        .unwrap_or_else(|| panic!("{sam} stored"));
    Guid::from_slice(entry.bytes("objectGUID").expect("objectGUID")).expect("16 bytes")
}

async fn read<W: World>(world: &mut W, guid: &Guid) -> AdUser {
    world
        .dir()
        .read_user(guid)
        .await
        .expect("read_user")
        .expect("the user exists")
}

async fn usn<W: World>(world: &mut W, guid: &Guid) -> u64 {
    read(world, guid).await.usn_changed.expect("uSNChanged")
}

/// uSNChanged grew past `last` (the write is visible to read_user); `last` moves up.
async fn bumped<W: World>(world: &mut W, guid: &Guid, last: &mut u64, what: &str) {
    let now = usn(world, guid).await;
    assert!(
        now > *last,
        "{what}: uSNChanged {now} did not grow past {last}"
    );
    *last = now;
}

fn sorted<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = values.collect();
    v.sort_unstable();
    v
}

// --- the bodies -------------------------------------------------------------------------------

/// What a plan reads: the users below the bases (a base inside another counts once), none
/// below an excluded OU, only those the filter matches (values and the `*` wildcard compared
/// without case), and neither computers (objectClass user too) nor contacts.
async fn read_scope_is_bases_minus_exclusions_and_filter_users_only<W: World>() {
    let mut w = W::open(
        "ct-scope",
        "dn: OU=Sales,{OU}\nobjectClass: organizationalUnit\n\n\
         dn: OU=Sub,OU=Sales,{OU}\nobjectClass: organizationalUnit\n\n\
         dn: OU=Service,OU=Sales,{OU}\nobjectClass: organizationalUnit\n\n\
         dn: OU=Other,{OU}\nobjectClass: organizationalUnit\n\n\
         dn: CN=Ann,OU=Sales,{OU}\nobjectClass: user\nsAMAccountName: ct-sc-ann\ndisplayName: Ann Sales\n\n\
         dn: CN=Cid,OU=Sub,OU=Sales,{OU}\nobjectClass: user\nsAMAccountName: ct-sc-cid\n\n\
         dn: CN=Dee,OU=Other,{OU}\nobjectClass: user\nsAMAccountName: ct-sc-dee\n\n\
         dn: CN=Bob,{OU}\nobjectClass: user\nsAMAccountName: ct-sc-bob\n\n\
         dn: CN=Svc,OU=Service,OU=Sales,{OU}\nobjectClass: user\nsAMAccountName: ct-sc-svc\n\n\
         dn: CN=svc-x,OU=Sales,{OU}\nobjectClass: user\nsAMAccountName: svc-ct-sc-x\n\n\
         dn: CN=Eve,OU=Sales,{OU}\nobjectClass: user\nsAMAccountName: ct-sc-eve\ndescription: Skip me\n\n\
         dn: CN=CTWS01,OU=Sales,{OU}\nobjectClass: computer\nsAMAccountName: CTWS01$\n\n\
         dn: CN=Contact,OU=Sales,{OU}\nobjectClass: contact\n",
    )
    .await;
    let query = AdQuery {
        bases: vec![
            below(&w, "OU=Sales"),
            below(&w, "OU=Other"),
            below(&w, "OU=Sub,OU=Sales"),
        ],
        exclude: vec![below(&w, "OU=Service,OU=Sales")],
        filter: Some(
            Filter::parse("(&(!(sAMAccountName=SVC-*))(!(description=skip ME)))").unwrap(),
        ),
        attributes: vec!["displayName".into()],
    };
    let users = w.dir().read_users(&query).await.unwrap();
    assert_eq!(users.len(), 3, "each user once: {users:#?}");
    assert_eq!(
        sams(&users),
        ["ct-sc-ann", "ct-sc-cid", "ct-sc-dee"]
            .map(String::from)
            .into()
    );
    for user in &users {
        assert!(user.attributes.values("objectClass").any(|c| c == "user"));
    }
    let ann = users.iter().find(|u| u.attr("displayName").is_some());
    assert_eq!(ann.and_then(|u| u.attr("displayName")), Some("Ann Sales"));

    // Without bases: the whole directory, this test's users among it (the OU's seven).
    let everything = w.dir().read_users(&AdQuery::default()).await.unwrap();
    let ours: Vec<&AdUser> = everything
        .iter()
        .filter(|u| u.dn.is_within(&w.ou()))
        .collect();
    assert_eq!(ours.len(), 7, "{ours:#?}");

    // read_user finds a user anywhere, never a computer, nothing for an unknown GUID.
    let bob = guid_of(&mut w, "ct-sc-bob").await;
    assert_eq!(read(&mut w, &bob).await.dn, below(&w, "CN=Bob"));
    let computer = guid_of(&mut w, "CTWS01$").await;
    assert_eq!(w.dir().read_user(&computer).await.unwrap(), None);
    assert_eq!(w.dir().read_user(&Guid::new_random()).await.unwrap(), None);

    // A base that does not exist: the DC refuses the search. The snapshot reads nothing
    // there instead, and the plan says so ("no AD users in scope", tests/unread_exports.rs):
    // an export often leaves containers out, so it cannot always know. A known difference.
    let missing = AdQuery {
        bases: vec![below(&w, "OU=Nope")],
        ..AdQuery::default()
    };
    let read = w.dir().read_users(&missing).await;
    if W::SAMBA {
        let e = read.unwrap_err();
        assert_eq!(code(&e), "noSuchObject", "{e}");
        assert!(e.to_string().contains("OU=Nope"), "{e}");
    } else {
        assert!(read.unwrap().is_empty());
    }
}

/// objectGUID and mS-DS-ConsistencyGuid are raw bytes, exactly as stored — bytes that
/// happen to be valid UTF-8 too.
async fn anchors_are_the_stored_bytes<W: World>() {
    let anchor = b"0123456789abcdef";
    let mut w = W::open(
        "ct-anchor",
        &format!(
            "dn: CN=Ann,{{OU}}\nobjectClass: user\nsAMAccountName: ct-an-ann\n\
             mS-DS-ConsistencyGuid:: {}\n\n\
             dn: CN=Bob,{{OU}}\nobjectClass: user\nsAMAccountName: ct-an-bob\n",
            base64_encode(anchor)
        ),
    )
    .await;
    let query = AdQuery {
        bases: vec![w.ou()],
        ..AdQuery::default()
    };
    let users = w.dir().read_users(&query).await.unwrap();
    assert_eq!(users.len(), 2);
    for user in users {
        let sam = user.sam_account_name().unwrap().to_owned();
        let raw = w.raw(&sam).await.unwrap();
        assert_eq!(
            Some(&user.object_guid.0[..]),
            raw.bytes("objectGUID"),
            "{sam}"
        );
        assert_eq!(
            user.consistency_guid(),
            raw.bytes("mS-DS-ConsistencyGuid"),
            "{sam}"
        );
        assert!(user.usn_changed.is_some(), "{sam}: uSNChanged");
        if sam == "ct-an-ann" {
            assert_eq!(user.consistency_guid(), Some(&anchor[..]));
        } else {
            assert_eq!(user.consistency_guid(), None);
        }
    }
}

/// A multi-valued attribute reads with every value, in the order the directory holds them.
async fn multi_valued_values_read_in_stored_order<W: World>() {
    let mut w = W::open(
        "ct-multi",
        "dn: CN=Ann,{OU}\nobjectClass: user\nsAMAccountName: ct-mv-ann\n\
         proxyAddresses: smtp:zed.mv@example.com\nproxyAddresses: SMTP:ann.mv@example.com\n\
         proxyAddresses: X500:/o=Example/ou=Exchange/cn=Recipients/cn=ann\n\
         proxyAddresses: smtp:abe.mv@example.com\n",
    )
    .await;
    let guid = guid_of(&mut w, "ct-mv-ann").await;
    let user = read(&mut w, &guid).await;
    let raw = w.raw("ct-mv-ann").await.unwrap();
    let read_back: Vec<&str> = user.proxy_addresses().collect();
    assert_eq!(read_back.len(), 4, "{read_back:?}");
    assert_eq!(read_back, raw.get_all("proxyAddresses"));
}

/// Domain-wide, without case; `value` is the query's spelling, `proxyAddresses` count by
/// their `smtp:` address only.
async fn find_taken_matches_without_case<W: World>() {
    let mut w = W::open(
        "ct-taken",
        "dn: CN=Ann,{OU}\nobjectClass: user\nsAMAccountName: ct-Tk-Ann\n\
         userPrincipalName: Ann.Taken@Example.com\nmail: ann.mail.tk@example.com\n\
         proxyAddresses: SMTP:ann.primary.tk@example.com\nproxyAddresses: smtp:Ann.Alias.Tk@example.com\n\
         proxyAddresses: X400:c=US;a= ;p=Example;o=Exchange;s=ann.x400.tk@example.com\n",
    )
    .await;
    let query = TakenQuery {
        upns: vec!["ann.taken@EXAMPLE.com".into(), "free.tk@example.com".into()],
        sam_account_names: vec!["CT-TK-ANN".into()],
        smtp_addresses: vec![
            "ANN.ALIAS.tk@example.com".into(),
            "Ann.Mail.Tk@example.com".into(),
            "ann.x400.tk@example.com".into(),
        ],
    };
    let taken = w.dir().find_taken(&query).await.unwrap();
    let ann = below(&w, "CN=Ann");
    let got: BTreeSet<(&str, &str)> = taken
        .iter()
        .map(|t| {
            assert_eq!(t.dn, ann, "{t:?}");
            (t.attribute, t.value.as_str())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("userPrincipalName", "ann.taken@EXAMPLE.com"),
            ("sAMAccountName", "CT-TK-ANN"),
            ("proxyAddresses", "ANN.ALIAS.tk@example.com"),
            ("mail", "Ann.Mail.Tk@example.com"),
        ]
        .into(),
        "{taken:#?}"
    );
    assert_eq!(taken.len(), 4, "each hit once: {taken:#?}");
}

fn new_user(parent: &Dn, cn: &str, sam: &str, upn: &str) -> AdCreate {
    AdCreate {
        dn: Dn::child("CN", cn, parent),
        attributes: vec![
            ("sAMAccountName".into(), vec![text(sam)]),
            ("userPrincipalName".into(), vec![text(upn)]),
        ],
        password: None,
        user_account_control: 514,
    }
}

/// A create answers with the stored user — objectGUID minted by the directory, uSNChanged,
/// the RDN as `cn` — and that user reads back by GUID, the same.
async fn create_mints_anchors_and_reads_back_by_guid<W: World>() {
    let mut w = W::open("ct-create", "").await;
    let mut create = new_user(&w.ou(), "Alva Wood", "ct-cr-alva", "alva.ct@example.com");
    let anchor = Guid::new_random();
    create.attributes.extend([
        ("givenName".into(), vec![text("Alva")]),
        ("mail".into(), vec![text("alva.ct@example.com")]),
        (
            "proxyAddresses".into(),
            vec![
                text("SMTP:alva.ct@example.com"),
                text("smtp:awood.ct@corp.example.com"),
            ],
        ),
        ("adminDescription".into(), vec![text("idsync:cloud-ct-1")]),
        (
            "mS-DS-ConsistencyGuid".into(),
            vec![AdValue::Binary(anchor.0.to_vec())],
        ),
        ("cn".into(), vec![text("ignored: the DN names it")]),
    ]);
    let user = w.dir().create_user(&create).await.unwrap();
    assert_eq!(user.dn, create.dn);
    assert_eq!(user.user_account_control, Some(514));
    assert!(user.is_disabled());
    assert!(user.usn_changed.is_some());
    assert_eq!(user.attr("cn"), Some("Alva Wood"));
    assert_eq!(user.attr("givenName"), Some("Alva"));
    assert_eq!(user.owner_marker(), Some("cloud-ct-1"));
    assert_eq!(user.consistency_guid(), Some(&anchor.0[..]));
    assert_eq!(
        sorted(user.proxy_addresses()),
        ["SMTP:alva.ct@example.com", "smtp:awood.ct@corp.example.com"]
    );
    assert_ne!(user.object_guid, Guid([0; 16]));
    assert_eq!(user.object_guid, guid_of(&mut w, "ct-cr-alva").await);
    assert_eq!(read(&mut w, &user.object_guid).await, user);
    let raw = w.raw("ct-cr-alva").await.unwrap();
    assert_eq!(raw.bytes("mS-DS-ConsistencyGuid"), Some(&anchor.0[..]));

    // Every create mints a GUID of its own, and a later one has a higher USN.
    let other = new_user(&w.ou(), "Bo Wood", "ct-cr-bo", "bo.ct@example.com");
    let bo = w.dir().create_user(&other).await.unwrap();
    assert_ne!(bo.object_guid, user.object_guid);
    assert!(bo.usn_changed > user.usn_changed);
    let query = AdQuery {
        bases: vec![w.ou()],
        ..AdQuery::default()
    };
    let listed = w.dir().read_users(&query).await.unwrap();
    assert_eq!(
        sams(&listed),
        ["ct-cr-alva", "ct-cr-bo"].map(String::from).into()
    );
}

/// A DN that exists, a sAMAccountName or UPN another account holds (in another case), a
/// parent that does not exist: refused, with LDAP's result name, and nothing created.
async fn create_refuses_a_dn_or_name_that_exists<W: World>() {
    let mut w = W::open(
        "ct-refuse",
        "dn: CN=Held,{OU}\nobjectClass: user\nsAMAccountName: ct-rf-held\n\
         userPrincipalName: held.rf@example.com\n",
    )
    .await;
    let ou = w.ou();

    let same_dn = new_user(&ou, "Held", "ct-rf-other", "other.rf@example.com");
    let e = w.dir().create_user(&same_dn).await.unwrap_err();
    assert_eq!(code(&e), "entryAlreadyExists", "{e}");

    let same_sam = new_user(&ou, "New One", "CT-RF-HELD", "new.rf@example.com");
    let e = w.dir().create_user(&same_sam).await.unwrap_err();
    assert_eq!(code(&e), "entryAlreadyExists", "{e}");
    assert_eq!(w.raw("ct-rf-other").await, None);

    let orphan = new_user(
        &below(&w, "OU=Missing"),
        "Orphan",
        "ct-rf-orphan",
        "orphan.rf@example.com",
    );
    let e = w.dir().create_user(&orphan).await.unwrap_err();
    assert_eq!(code(&e), "noSuchObject", "{e}");
    assert_eq!(w.raw("ct-rf-orphan").await, None);

    // AD keeps UPNs unique in the forest (constraintViolation); Samba accepts a duplicate.
    let same_upn = new_user(&ou, "Upn Twin", "ct-rf-twin", "HELD.rf@example.com");
    let answer = w.dir().create_user(&same_upn).await;
    if !W::SAMBA {
        let e = answer.unwrap_err();
        assert_eq!(code(&e), "constraintViolation", "{e}");
        assert_eq!(w.raw("ct-rf-twin").await, None);
    }
}

/// Multi-valued attributes change per value; single-valued ones are replaced or cleared;
/// binary values are written as bytes; every write bumps uSNChanged.
async fn modify_edits_per_value_and_bumps_usn_changed<W: World>() {
    let mut w = W::open(
        "ct-modify",
        "dn: CN=Mod User,{OU}\nobjectClass: user\nsAMAccountName: ct-md-user\n\
         mail: md.user.ct@example.com\n\
         proxyAddresses: SMTP:md.user.ct@example.com\nproxyAddresses: smtp:md.old.ct@example.com\n\
         department: Sales\ntitle: Old\nuserAccountControl: 512\n",
    )
    .await;
    let user_dn = below(&w, "CN=Mod User");
    let guid = guid_of(&mut w, "ct-md-user").await;
    let mut last = usn(&mut w, &guid).await;

    w.dir()
        .modify_user(
            &user_dn,
            &[
                AdMod::Add(
                    "proxyAddresses".into(),
                    vec![text("smtp:md.new.ct@example.com")],
                ),
                // The stored value in another case: text values compare without case.
                AdMod::Delete(
                    "proxyAddresses".into(),
                    vec![text("smtp:MD.OLD.ct@example.com")],
                ),
            ],
        )
        .await
        .unwrap();
    bumped(&mut w, &guid, &mut last, "proxyAddresses").await;
    let u = read(&mut w, &guid).await;
    assert_eq!(
        sorted(u.proxy_addresses()),
        ["SMTP:md.user.ct@example.com", "smtp:md.new.ct@example.com"]
    );

    w.dir()
        .modify_user(
            &user_dn,
            &[
                AdMod::Replace("title".into(), vec![text("New")]),
                AdMod::Replace("department".into(), vec![]),
            ],
        )
        .await
        .unwrap();
    bumped(&mut w, &guid, &mut last, "replace and clear").await;
    let u = read(&mut w, &guid).await;
    assert_eq!(u.attr("title"), Some("New"));
    assert_eq!(u.attr("department"), None);

    w.dir()
        .modify_user(
            &user_dn,
            &[AdMod::Replace(
                "mS-DS-ConsistencyGuid".into(),
                vec![AdValue::Binary(guid.0.to_vec())],
            )],
        )
        .await
        .unwrap();
    bumped(&mut w, &guid, &mut last, "mS-DS-ConsistencyGuid").await;
    assert_eq!(
        read(&mut w, &guid).await.consistency_guid(),
        Some(&guid.0[..])
    );
    let raw = w.raw("ct-md-user").await.unwrap();
    assert_eq!(raw.bytes("mS-DS-ConsistencyGuid"), Some(&guid.0[..]));

    // A real change: a replace with the value held is no write on Samba (uSNChanged stays).
    assert_eq!(u.user_account_control, Some(512));
    let disabled = 512 | 0x2;
    w.dir()
        .modify_user(
            &user_dn,
            &[AdMod::Replace(
                "userAccountControl".into(),
                vec![text(&disabled.to_string())],
            )],
        )
        .await
        .unwrap();
    bumped(&mut w, &guid, &mut last, "userAccountControl").await;
    assert!(read(&mut w, &guid).await.is_disabled());
}

/// A refused modify names the object and the attribute and applies none of its changes.
async fn modify_refusals_change_nothing<W: World>() {
    let mut w = W::open(
        "ct-modref",
        "dn: CN=Ref User,{OU}\nobjectClass: user\nsAMAccountName: ct-mr-user\n\
         proxyAddresses: SMTP:mr.user.ct@example.com\nproxyAddresses: smtp:mr.alias.ct@example.com\n\
         title: Kept\n",
    )
    .await;
    let user_dn = below(&w, "CN=Ref User");
    let guid = guid_of(&mut w, "ct-mr-user").await;
    let before = read(&mut w, &guid).await;

    let e = w
        .dir()
        .modify_user(
            &user_dn,
            &[
                AdMod::Replace("title".into(), vec![text("Boss")]),
                AdMod::Add(
                    "proxyAddresses".into(),
                    vec![text("smtp:mr.alias.ct@example.com")],
                ),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "attributeOrValueExists", "{e}");
    assert!(e.to_string().starts_with(user_dn.as_str()), "{e}");
    assert!(e.to_string().contains("proxyAddresses"), "{e}");
    assert_eq!(read(&mut w, &guid).await.attr("title"), Some("Kept"));

    // The same value in another case: AD refuses it too; Samba 4.17 compares proxyAddresses
    // byte for byte and adds it (scripts/SAMBA.md).
    if !W::SAMBA {
        let e = w
            .dir()
            .modify_user(
                &user_dn,
                &[AdMod::Add(
                    "proxyAddresses".into(),
                    vec![text("smtp:MR.ALIAS.ct@example.com")],
                )],
            )
            .await
            .unwrap_err();
        assert_eq!(code(&e), "attributeOrValueExists", "{e}");
    }

    let e = w
        .dir()
        .modify_user(
            &user_dn,
            &[AdMod::Delete(
                "proxyAddresses".into(),
                vec![text("smtp:nope.ct@example.com")],
            )],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "noSuchAttribute", "{e}");
    assert!(e.to_string().contains("proxyAddresses"), "{e}");

    let e = w
        .dir()
        .modify_user(
            &user_dn,
            &[AdMod::Replace("cn".into(), vec![text("Renamed")])],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "notAllowedOnRDN", "{e}");

    let nobody = below(&w, "CN=Nobody");
    let e = w
        .dir()
        .modify_user(&nobody, &[AdMod::Replace("title".into(), vec![text("x")])])
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::NotFound { .. }), "{e:?}");

    assert_eq!(read(&mut w, &guid).await, before, "nothing was applied");
}

/// A move renames (the RDN follows) and bumps uSNChanged; a delete removes. Moves to a
/// missing parent or onto an existing DN, and deletes of a missing or non-leaf object, are
/// refused.
async fn move_renames_and_delete_removes<W: World>() {
    let mut w = W::open(
        "ct-move",
        "dn: OU=Target,{OU}\nobjectClass: organizationalUnit\n\n\
         dn: CN=Mover,{OU}\nobjectClass: user\nsAMAccountName: ct-mv-mover\n\n\
         dn: CN=Occupied,OU=Target,{OU}\nobjectClass: user\nsAMAccountName: ct-mv-occupied\n",
    )
    .await;
    let guid = guid_of(&mut w, "ct-mv-mover").await;
    let before = usn(&mut w, &guid).await;
    let from = below(&w, "CN=Mover");
    let target = below(&w, "OU=Target");
    let to = Dn::child("CN", "Mover Renamed", &target);
    w.dir().move_user(&from, &to).await.unwrap();
    let moved = read(&mut w, &guid).await;
    assert_eq!(moved.dn, to);
    assert_eq!(moved.attr("cn"), Some("Mover Renamed"));
    assert!(moved.usn_changed.unwrap() > before);

    let e = w.dir().move_user(&from, &to).await.unwrap_err();
    assert!(matches!(e, DirectoryError::NotFound { .. }), "{e:?}");
    let nowhere = Dn::child("CN", "X", &below(&w, "OU=Nope"));
    let e = w.dir().move_user(&to, &nowhere).await.unwrap_err();
    assert_eq!(code(&e), "noSuchObject", "{e}");
    assert!(e.to_string().contains("OU=Nope"), "{e}");
    let occupied = Dn::child("CN", "Occupied", &target);
    let e = w.dir().move_user(&to, &occupied).await.unwrap_err();
    assert_eq!(code(&e), "entryAlreadyExists", "{e}");
    assert_eq!(
        read(&mut w, &guid).await.dn,
        to,
        "refused moves move nothing"
    );

    w.dir().delete_user(&to).await.unwrap();
    assert_eq!(w.dir().read_user(&guid).await.unwrap(), None);
    assert_eq!(w.raw("ct-mv-mover").await, None);
    let e = w.dir().delete_user(&to).await.unwrap_err();
    assert!(matches!(e, DirectoryError::NotFound { .. }), "{e:?}");
    let e = w.dir().delete_user(&target).await.unwrap_err();
    assert_eq!(code(&e), "notAllowedOnNonLeaf", "{e}");
}

// --- groups and contacts ----------------------------------------------------------------------

fn member_set(members: &[Dn]) -> BTreeSet<String> {
    members
        .iter()
        .map(|m| m.as_str().to_ascii_lowercase())
        .collect()
}

/// Groups and contacts under the bases and not under the exclusions (the users' filter does
/// not apply to them), with their typed fields and every member.
async fn groups_and_contacts_read_in_scope<W: World>() {
    let mut w = W::open(
        "ct-groups",
        "dn: OU=Skip,{OU}\nobjectClass: organizationalUnit\n\n\
         dn: CN=Ann,{OU}\nobjectClass: user\nsAMAccountName: ct-gr-ann\n\n\
         dn: CN=Bob,{OU}\nobjectClass: user\nsAMAccountName: ct-gr-bob\n\n\
         dn: CN=Partner,{OU}\nobjectClass: contact\nmail: partner@fabrikam.example\n\
         displayName: A Partner\n\n\
         dn: CN=Team,{OU}\nobjectClass: group\nsAMAccountName: ct-gr-team\n\
         groupType: -2147483646\nmail: team@example.com\ndescription: The team\n\
         member: CN=Ann,{OU}\nmember: CN=Partner,{OU}\n\n\
         dn: CN=Lists,{OU}\nobjectClass: group\nsAMAccountName: ct-gr-lists\ngroupType: 8\n\n\
         dn: CN=Hidden,OU=Skip,{OU}\nobjectClass: group\nsAMAccountName: ct-gr-hidden\n\n\
         dn: CN=Other,OU=Skip,{OU}\nobjectClass: contact\nmail: other@fabrikam.example\n",
    )
    .await;
    let query = AdQuery {
        bases: vec![w.ou()],
        exclude: vec![below(&w, "OU=Skip")],
        // The users' filter: groups and contacts are read whatever it says.
        filter: Some(Filter::parse("(sAMAccountName=nobody)").unwrap()),
        attributes: vec![],
    };
    let mut groups = w.dir().read_groups(&query).await.unwrap();
    groups.sort_by(|a, b| a.dn.cmp(&b.dn));
    let names: Vec<_> = groups
        .iter()
        .map(|g| g.sam_account_name().unwrap())
        .collect();
    assert_eq!(names, ["ct-gr-lists", "ct-gr-team"]);
    let team = &groups[1];
    assert_eq!(team.group_type, Some(-2147483646));
    assert_eq!(team.is_security(), Some(true));
    assert_eq!(groups[0].is_security(), Some(false));
    assert_eq!(team.mail(), Some("team@example.com"));
    assert_eq!(team.attributes.get("description"), Some("The team"));
    assert!(team.usn_changed.is_some());
    assert_eq!(
        member_set(team.members.as_deref().unwrap()),
        member_set(&[below(&w, "CN=Ann"), below(&w, "CN=Partner")])
    );
    assert_eq!(
        groups[0].members.as_deref(),
        Some(&[][..]),
        "no member: empty"
    );
    assert_eq!(
        w.dir()
            .read_group(&team.object_guid)
            .await
            .unwrap()
            .as_ref(),
        Some(team)
    );

    let contacts = w.dir().read_contacts(&query).await.unwrap();
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    assert_eq!(contacts[0].dn, below(&w, "CN=Partner"));
    assert_eq!(contacts[0].mail(), Some("partner@fabrikam.example"));
    assert_eq!(contacts[0].display_name(), Some("A Partner"));
    // A contact is no group, and no user.
    assert_eq!(
        w.dir().read_group(&contacts[0].object_guid).await.unwrap(),
        None
    );
    assert_eq!(
        w.dir().read_user(&contacts[0].object_guid).await.unwrap(),
        None
    );
}

/// Create, per-value member edits (AD's refusals for a value already there, one that is not,
/// and one naming no object), move and delete.
async fn group_writes_edit_members_per_value<W: World>() {
    let mut w = W::open(
        "ct-gw",
        "dn: OU=Moved,{OU}\nobjectClass: organizationalUnit\n\n\
         dn: CN=Ann,{OU}\nobjectClass: user\nsAMAccountName: ct-gw-ann\n\n\
         dn: CN=Bob,{OU}\nobjectClass: user\nsAMAccountName: ct-gw-bob\n\n\
         dn: CN=Cid,{OU}\nobjectClass: user\nsAMAccountName: ct-gw-cid\n\n\
         dn: CN=Dee,{OU}\nobjectClass: user\nsAMAccountName: ct-gw-dee\n",
    )
    .await;
    let gdn = below(&w, "CN=Crew");
    let created = w
        .dir()
        .create_group(&AdGroupCreate {
            dn: gdn.clone(),
            attributes: vec![
                ("sAMAccountName".into(), vec![text("ct-gw-crew")]),
                ("groupType".into(), vec![text("-2147483644")]),
                ("description".into(), vec![text("made by idsync")]),
            ],
        })
        .await
        .unwrap();
    assert_eq!(created.dn, gdn);
    assert_eq!(created.group_type, Some(-2147483644));
    assert_eq!(created.sam_account_name(), Some("ct-gw-crew"));
    assert_eq!(created.members.as_deref(), Some(&[][..]));
    let e = w
        .dir()
        .create_group(&AdGroupCreate {
            dn: gdn.clone(),
            attributes: vec![("sAMAccountName".into(), vec![text("ct-gw-crew2")])],
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), "entryAlreadyExists", "{e}");

    let ou = w.ou();
    let value = |rdn: &str| text(&format!("{rdn},{ou}"));
    let (ann, bob, cid) = (value("CN=Ann"), value("CN=Bob"), value("CN=Cid"));
    let members = AdMod::Add("member".into(), vec![ann.clone(), bob.clone(), cid.clone()]);
    w.dir().modify_group(&gdn, &[members]).await.unwrap();
    let before = w
        .dir()
        .read_group(&created.object_guid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.members.as_ref().unwrap().len(), 3);

    let e = w
        .dir()
        .modify_group(&gdn, &[AdMod::Add("member".into(), vec![bob.clone()])])
        .await
        .unwrap_err();
    assert_eq!(code(&e), "attributeOrValueExists", "{e}");
    // Not a member (an object that exists, and one that does not).
    let ghost = text(below(&w, "CN=Ghost").as_str());
    for absent in [value("CN=Dee"), ghost.clone()] {
        let e = w
            .dir()
            .modify_group(&gdn, &[AdMod::Delete("member".into(), vec![absent])])
            .await
            .unwrap_err();
        assert_eq!(code(&e), "noSuchAttribute", "{e}");
    }
    let e = w
        .dir()
        .modify_group(&gdn, &[AdMod::Add("member".into(), vec![ghost])])
        .await
        .unwrap_err();
    assert_eq!(code(&e), "noSuchObject", "{e}");

    w.dir()
        .modify_group(&gdn, &[AdMod::Delete("member".into(), vec![bob])])
        .await
        .unwrap();
    let after = w
        .dir()
        .read_group(&created.object_guid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        member_set(after.members.as_deref().unwrap()),
        member_set(&[below(&w, "CN=Ann"), below(&w, "CN=Cid")])
    );
    assert!(after.usn_changed > before.usn_changed);

    let moved = Dn::child("CN", "Crew", &below(&w, "OU=Moved"));
    w.dir().move_group(&gdn, &moved).await.unwrap();
    let read = w
        .dir()
        .read_group(&created.object_guid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.dn, moved);
    assert_eq!(read.members.as_ref().unwrap().len(), 2);
    w.dir().delete_group(&moved).await.unwrap();
    assert_eq!(
        w.dir().read_group(&created.object_guid).await.unwrap(),
        None
    );
    let e = w.dir().delete_group(&moved).await.unwrap_err();
    assert!(matches!(e, DirectoryError::NotFound { .. }), "{e:?}");
}
