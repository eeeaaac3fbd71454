//! The planner against what Entra Connect and Graph do, rule by rule; each test cites the
//! Microsoft page (MicrosoftDocs/entra-docs, `docs/identity/hybrid/connect/<page>.md`) the rule
//! comes from.

use serde_json::json;

use super::{PlanInput, plan};
use crate::desired::{AdSelector, DesiredState, IdentitySpec};
use crate::directory::model::{Domain, Part, SyncFeatures, Tenant};
use crate::directory::{AdUser, CloudUser, Dn, Guid};
use crate::plan::{ActionKind, Note, NoteKind, Plan, Side};

const OU: &str = "OU=Office365,DC=corp,DC=example,DC=com";

fn guid(n: u8) -> Guid {
    let mut b = [0u8; 16];
    b[0] = n;
    b[15] = 0xbb;
    Guid(b)
}

fn ad(n: u8, sam: &str, upn: &str) -> AdUser {
    let mut u = AdUser::new(Dn::parse(&format!("CN={sam},{OU}")).unwrap(), guid(n));
    u.set_sam_account_name(sam);
    u.set_upn(upn);
    u.user_account_control = Some(512);
    u.usn_changed = Some(1000 + n as u64);
    u.attributes
        .insert("displayName".into(), [sam.to_uppercase()]);
    // Anchor written back already: no `link ad` in the plans below.
    u.consistency_guid = Some(u.object_guid.0.into());
    u
}

fn cloud(id: &str, upn: &str) -> CloudUser {
    let mut c = CloudUser::new(id, upn);
    c.account_enabled = Some(true);
    c.properties.insert("displayName", json!(upn));
    c
}

/// A cloud user Entra Connect already syncs from `a`.
fn synced(id: &str, upn: &str, a: &AdUser) -> CloudUser {
    let mut c = cloud(id, upn);
    c.set_immutable_id(a.object_guid.to_base64().as_str());
    c.sync_enabled = true;
    c
}

fn desired() -> DesiredState {
    DesiredState::with_scope(&[OU])
}

/// A tenant whose domains were read: `verified` plus the initial contoso.onmicrosoft.com.
fn tenant(verified: &[&str], features: Option<SyncFeatures>) -> Tenant {
    let mut domains: Vec<Domain> = verified
        .iter()
        .map(|d| Domain {
            name: (*d).into(),
            is_verified: true,
            is_initial: false,
        })
        .collect();
    domains.push(Domain {
        name: "contoso.onmicrosoft.com".into(),
        is_verified: true,
        is_initial: true,
    });
    Tenant {
        sync: features.map_or_else(Part::default, Part::Read),
        domains: Part::Read(domains),
        role_holders: Part::default(),
        skus: Part::default(),
    }
}

fn run_with(d: &DesiredState, ad: &[AdUser], cloud: &[CloudUser], t: &Tenant) -> Plan {
    plan(PlanInput {
        desired: d,
        ad,
        cloud,
        taken: &[],
        reads: Default::default(),
        tenant: t,
        groups: Default::default(),
    })
    .expect("plan")
}

fn run(d: &DesiredState, ad: &[AdUser], cloud: &[CloudUser]) -> Plan {
    run_with(d, ad, cloud, &Tenant::default())
}

fn notes(p: &Plan, kind: NoteKind) -> Vec<&Note> {
    p.notes.iter().filter(|n| n.kind == kind).collect()
}

fn pending(p: &Plan) -> &str {
    let n = notes(p, NoteKind::PendingSync);
    assert_eq!(n.len(), 1, "{:#?}", p.notes);
    &n[0].message
}

fn ad_writes(p: &Plan) -> Vec<&str> {
    p.actions
        .iter()
        .filter(|a| a.directory == Side::Ad)
        .flat_map(|a| a.changes.iter().map(|c| c.attribute.as_str()))
        .collect()
}

fn override_of(a: &AdUser, attrs: &[(&str, &str)]) -> IdentitySpec {
    IdentitySpec {
        name: Some("who".into()),
        ad: Some(AdSelector::SamAccountName(
            a.sam_account_name().unwrap().into(),
        )),
        entra: None,
        ignore: false,
        attributes: attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        licenses: None,
        origin: "x:1:1".into(),
    }
}

// --- Synced pairs' identifiers flow from AD -------------------------------------------------
// reference-connect-sync-attributes-synchronized: userPrincipalName, mail and proxyAddresses
// are synchronized from AD; how-to-connect-syncservice-features ("Synchronize
// userPrincipalName updates"): a managed user's UPN change is carried only with
// SynchronizeUpnForManagedUsers on; "After you have enabled a feature, it can't be disabled".

#[test]
fn synced_pair_renamed_on_premises_is_not_reverted_in_ad() {
    let a = ad(1, "jdoe", "john.doe@example.com");
    let c = synced("c1", "jdoe@example.com", &a);
    let on = SyncFeatures {
        synchronize_upn_for_managed_users: true,
        ..SyncFeatures::ASSUMED
    };
    let p = run_with(&desired(), &[a], &[c], &tenant(&["example.com"], Some(on)));
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert!(
        pending(&p).contains("userPrincipalName will become john.doe@example.com"),
        "{}",
        pending(&p)
    );
}

#[test]
fn synced_upn_change_is_not_promised_while_managed_user_upn_sync_is_off() {
    let a = ad(1, "jdoe", "john.doe@example.com");
    let c = synced("c1", "jdoe@example.com", &a);
    // Unknown features: assumed off, and said so.
    let p = run(
        &desired(),
        std::slice::from_ref(&a),
        std::slice::from_ref(&c),
    );
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    let m = pending(&p);
    assert!(
        m.contains("userPrincipalName stays jdoe@example.com"),
        "{m}"
    );
    assert!(
        m.contains("synchronizeUpnForManagedUsersEnabled is assumed off"),
        "{m}"
    );
    assert!(!m.contains("will become john.doe"), "{m}");
    // Read as off: said as read.
    let off = tenant(&["example.com"], Some(SyncFeatures::ASSUMED));
    let p = run_with(&desired(), &[a], &[c], &off);
    assert!(
        pending(&p).contains("synchronizeUpnForManagedUsersEnabled is off"),
        "{}",
        pending(&p)
    );
}

#[test]
fn synced_upn_on_an_unverified_suffix_becomes_the_moera() {
    // plan-connect-userprincipalname, "Nonverified UPN suffix": <MailNickName>@<initial domain>.
    let a = ad(1, "jdoe", "john.doe@corp.example.org");
    let mut c = synced("c1", "jdoe@example.com", &a);
    c.set_mail_nickname("jdoe");
    let t = tenant(&["example.com"], None);
    let p = run_with(
        &desired(),
        std::slice::from_ref(&a),
        std::slice::from_ref(&c),
        &t,
    );
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    let m = pending(&p);
    assert!(
        m.contains("userPrincipalName will become jdoe@contoso.onmicrosoft.com"),
        "{m}"
    );
    assert!(
        m.contains("corp.example.org is not a verified domain"),
        "{m}"
    );
    // Already the MOERA: nothing will change, nothing is said.
    c.set_upn("jdoe@contoso.onmicrosoft.com");
    let p = run_with(&desired(), &[a], &[c], &t);
    assert!(
        notes(&p, NoteKind::PendingSync).is_empty(),
        "{:#?}",
        p.notes
    );
}

#[test]
fn synced_pair_mail_and_addresses_are_not_copied_into_ad() {
    let mut a = ad(1, "jdoe", "jdoe@example.com");
    a.set_mail("john.doe@example.com");
    a.set_proxy_addresses(["SMTP:john.doe@example.com"]);
    let mut c = synced("c1", "jdoe@example.com", &a);
    c.set_mail("jdoe@example.com");
    c.set_proxy_addresses([
        "SMTP:jdoe@example.com",
        "smtp:jdoe@contoso.mail.onmicrosoft.com",
    ]);
    let p = run(&desired(), &[a], &[c]);
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    let m = pending(&p);
    assert!(m.contains("mail will become john.doe@example.com"), "{m}");
    assert!(
        m.contains("the primary SMTP address will become john.doe@example.com"),
        "{m}"
    );
}

#[test]
fn synced_pair_identity_overrides_are_written_in_ad() {
    // The override is the admin's word: written where the user is mastered, then synced.
    let a = ad(1, "jdoe", "jdoe@example.com");
    let c = synced("c1", "jdoe@example.com", &a);
    let mut d = desired();
    d.identities.push(override_of(
        &a,
        &[
            ("userPrincipalName", "john.doe@example.com"),
            ("mail", "john.doe@example.com"),
        ],
    ));
    let on = SyncFeatures {
        synchronize_upn_for_managed_users: true,
        ..SyncFeatures::ASSUMED
    };
    let p = run_with(&d, &[a], &[c], &tenant(&["example.com"], Some(on)));
    assert_eq!(
        ad_writes(&p),
        ["userPrincipalName", "mail", "proxyAddresses"],
        "{:#?}",
        p.actions
    );
    assert!(p.actions.iter().all(|a| a.directory == Side::Ad));
    assert!(
        pending(&p).contains("userPrincipalName will become john.doe@example.com"),
        "{}",
        pending(&p)
    );
}

#[test]
fn cloud_managed_pair_still_takes_the_cloud_identifiers() {
    // Before the first sync the cloud is the reference: AD is prepared for the soft match.
    let mut a = ad(1, "jdoe", "john.doe@example.com");
    a.set_proxy_addresses(["SMTP:jdoe@example.com"]);
    let mut c = cloud("c1", "jdoe@example.com");
    c.set_proxy_addresses(["SMTP:jdoe@example.com"]);
    let p = run(&desired(), &[a], &[c]);
    let upd = p
        .actions
        .iter()
        .find(|a| a.action == ActionKind::Update && a.directory == Side::Ad)
        .expect("AD update");
    assert_eq!(upd.changes[0].attribute, "userPrincipalName");
    assert_eq!(upd.changes[0].after, json!("jdoe@example.com"));
}

// --- MailNickName in Entra's order ------------------------------------------------------
// plan-connect-userprincipalname, "Microsoft Entra MailNickName attribute value calculation":
// on-premises mailNickname, then the prefix of the primary SMTP address, of mail, of the UPN,
// of a secondary smtp address (the last is pinned in planner::provision's own tests).

#[test]
fn created_cloud_users_get_mail_nickname_in_entras_order() {
    let mut d = desired();
    d.provision_entra = true;
    let mut nick = ad(1, "sam1", "upn1@example.com");
    nick.attributes.insert("mailNickname".into(), ["nick1"]);
    nick.set_proxy_addresses(["SMTP:primary1@example.com"]);
    let mut primary = ad(2, "sam2", "upn2@example.com");
    primary.set_mail("mail2@example.com");
    primary.set_proxy_addresses(["smtp:second2@example.com", "SMTP:primary2@example.com"]);
    let mut mail = ad(3, "sam3", "upn3@example.com");
    mail.set_mail("mail3@example.com");
    let upn = ad(4, "sam4", "upn4@example.com");
    let p = run(&d, &[nick, primary, mail, upn], &[]);
    let nicknames: Vec<(String, String)> = p
        .actions
        .iter()
        .filter(|a| a.action == ActionKind::Create && a.directory == Side::Entra)
        .map(|a| {
            let n = a.changes.iter().find(|c| c.attribute == "mailNickname");
            (
                a.target.to_string(),
                n.and_then(|c| c.after.as_str()).unwrap_or("").to_owned(),
            )
        })
        .collect();
    let want = [
        ("upn1@example.com", "nick1"),
        ("upn2@example.com", "primary2"),
        ("upn3@example.com", "mail3"),
        ("upn4@example.com", "upn4"),
    ];
    assert_eq!(
        nicknames,
        want.map(|(a, b)| (a.to_owned(), b.to_owned())),
        "{:#?}",
        p.actions
    );
}

// --- unverified_domain ----------------------------------------------------------------------
// plan-connect-userprincipalname ("UPN in Microsoft Entra ID", "Nonverified UPN suffix"): a
// cloud UPN can only carry a verified domain; Graph refuses the others outright.

#[test]
fn created_cloud_users_on_unverified_domains_are_errors_that_block_only_them() {
    let mut d = desired();
    d.provision_entra = true;
    let bad = ad(1, "bad", "bad@corp.example.org");
    let mut bad_mail = ad(2, "badmail", "badmail@example.com");
    bad_mail.set_mail("badmail@corp.example.org");
    let good = ad(3, "good", "good@example.com");
    let t = tenant(&["example.com"], None);
    let ads = [bad, bad_mail, good];
    let p = run_with(&d, &ads, &[], &t);
    let targets: Vec<&str> = p
        .actions
        .iter()
        .filter(|a| a.action == ActionKind::Create)
        .map(|a| &*a.target)
        .collect();
    assert_eq!(targets, ["good@example.com"], "{:#?}", p.actions);
    let diags: Vec<(&str, &str, &str)> = p
        .diagnostics
        .iter()
        .filter(|d| d.rule == "unverified_domain")
        .map(|d| (d.object.as_str(), d.attribute.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(diags.len(), 2, "{:#?}", p.diagnostics);
    assert!(diags[0].0.starts_with("CN=bad,"), "{diags:?}");
    assert_eq!(diags[0].1, "userPrincipalName");
    assert!(
        diags[0].2.contains("bad@corp.example.org"),
        "{}",
        diags[0].2
    );
    assert!(
        diags[0]
            .2
            .contains("verified: example.com, contoso.onmicrosoft.com"),
        "{}",
        diags[0].2
    );
    assert!(diags[1].0.starts_with("CN=badmail,"), "{diags:?}");
    assert_eq!(diags[1].1, "mail");
    assert!(
        (p.diagnostics.iter())
            .filter(|d| d.rule == "unverified_domain")
            .all(|d| d.severity == crate::plan::Severity::Error)
    );
    // Domains unknown: every suffix assumed verified (the `assumption` note says so).
    let p = run(&d, &ads, &[]);
    assert_eq!(
        p.actions
            .iter()
            .filter(|a| a.action == ActionKind::Create)
            .count(),
        3
    );
}

#[test]
fn entra_writes_of_identifiers_on_unverified_domains_block_the_pair() {
    let mut d = desired();
    d.attributes
        .insert("userPrincipalName".into(), crate::desired::Authority::Ad);
    let mut a = ad(1, "jdoe", "jdoe@corp.example.org");
    a.set_proxy_addresses(["SMTP:jdoe@example.com"]);
    let mut c = cloud("c1", "jdoe@example.com");
    c.set_proxy_addresses(["SMTP:jdoe@example.com"]);
    let p = run_with(&d, &[a], &[c], &tenant(&["example.com"], None));
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert_eq!(p.diagnostics.len(), 1, "{:#?}", p.diagnostics);
    let diag = &p.diagnostics[0];
    assert_eq!(
        (diag.rule.as_str(), diag.attribute.as_str()),
        ("unverified_domain", "userPrincipalName")
    );
    assert!(diag.object.starts_with("jdoe@example.com (entra c1)"));
    assert!(
        diag.message.contains("jdoe@corp.example.org"),
        "{}",
        diag.message
    );
}

// --- Duplicate attribute resiliency twins ---------------------------------------------------
// how-to-connect-syncservice-duplicate-attribute-resiliency: a duplicate UPN or SMTP
// ProxyAddress is quarantined (listed in DirSyncProvisioningErrors, Graph's
// onPremisesProvisioningErrors) and a required UPN gets the placeholder
// <OriginalPrefix>+<4DigitNumber>@<InitialTenantDomain>.onmicrosoft.com; the timer task
// restores it once the conflict is resolved.

fn quarantine(c: &mut CloudUser, property: &str, value: &str) {
    c.properties.insert(
        "onPremisesProvisioningErrors",
        json!([{
            "category": "PropertyConflict",
            "occurredDateTime": "2024-05-01T10:00:00Z",
            "propertyCausingError": property,
            "value": value,
        }]),
    );
}

#[test]
fn a_resiliency_twin_is_a_conflict_and_its_placeholder_never_reaches_ad() {
    let mut a = ad(1, "john", "john@example.com");
    a.set_mail("john@example.com");
    a.set_proxy_addresses(["SMTP:john@example.com"]);
    let mut twin = synced("c1", "john+4821@contoso.onmicrosoft.com", &a);
    quarantine(&mut twin, "UserPrincipalName", "john@example.com");
    let holder = cloud("c2", "john@example.com");
    let p = run(&desired(), &[a], &[twin, holder]);
    assert!(ad_writes(&p).is_empty(), "{:#?}", p.actions);
    let c = (p.conflicts.iter())
        .find(|c| c.kind == crate::plan::ConflictKind::QuarantinedDuplicate)
        .expect("a quarantined_duplicate conflict");
    assert!(
        c.message.contains("UserPrincipalName john@example.com"),
        "{}",
        c.message
    );
    assert!(
        c.message.contains("held by john@example.com (entra c2)"),
        "{}",
        c.message
    );
    assert!(
        c.message
            .contains("its UPN john+4821@contoso.onmicrosoft.com is the placeholder"),
        "{}",
        c.message
    );
    assert!(
        c.message.contains("Resolve the real holder"),
        "{}",
        c.message
    );
    assert_eq!(c.objects.len(), 3, "{:?}", c.objects);
}

#[test]
fn a_cloud_managed_twin_with_a_quarantined_address_is_not_copied_into_ad() {
    // Without the check, the default identifier preparation would copy its addresses.
    let mut a = ad(1, "ann", "ann@example.com");
    a.set_proxy_addresses(["SMTP:ann@example.com"]);
    let mut c = cloud("c1", "ann@example.com");
    c.set_proxy_addresses(["SMTP:ann@example.com", "smtp:sales@example.com"]);
    quarantine(&mut c, "ProxyAddresses", "SMTP:info@example.com");
    let p = run(&desired(), &[a], &[c]);
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert_eq!(p.conflicts.len(), 1, "{:#?}", p.conflicts);
    assert!(
        p.conflicts[0]
            .message
            .contains("ProxyAddresses SMTP:info@example.com (held by another object"),
        "{}",
        p.conflicts[0].message
    );
}

// --- proxyAddresses authority ---------------------------------------------------------------
// reference-connect-sync-attributes-synchronized: proxyAddresses is synchronized from AD (Exchange
// Online takes it from there once the user is synced); per DESIGN "Plan", addresses are edited
// per value, the primary being the one uppercase `SMTP:`.

fn load_yaml(yaml: &str) -> Result<DesiredState, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), yaml).unwrap();
    crate::desired::load(dir.path()).map_err(|e| e.to_string())
}

#[test]
fn the_authority_table_accepts_proxy_addresses_but_overrides_do_not() {
    let base = format!("version: 1\nscope:\n  ous: [\"{OU}\"]\n");
    for side in ["ad", "entra"] {
        let d = load_yaml(&format!("{base}attributes:\n  proxyAddresses: {side}\n")).unwrap();
        assert!(d.attributes.contains_key("proxyAddresses"));
    }
    // A per-identity value is a single string; a list has none to give.
    let err = load_yaml(&format!(
        "{base}identities:\n  - name: a\n    entra: {{ upn: a@example.com }}\n    attributes: {{ proxyAddresses: x }}\n"
    ))
    .unwrap_err();
    assert!(err.contains("unknown attribute `proxyAddresses`"), "{err}");
}

fn addresses_pair() -> (AdUser, CloudUser) {
    let mut a = ad(1, "ann", "ann@example.com");
    a.set_proxy_addresses(["SMTP:ann.old@example.com"]);
    let mut c = cloud("c1", "ann@example.com");
    c.set_proxy_addresses(["SMTP:ann@example.com", "smtp:sales@example.com"]);
    (a, c)
}

#[test]
fn proxy_addresses_entra_gives_ad_the_clouds_smtp_addresses_per_value() {
    let mut d = desired();
    d.attributes
        .insert("proxyAddresses".into(), crate::desired::Authority::Entra);
    // mail: ad, yet the addresses still come from the cloud.
    d.attributes
        .insert("mail".into(), crate::desired::Authority::Ad);
    let (a, c) = addresses_pair();
    let p = run(&d, &[a], &[c]);
    let change = (p.actions.iter())
        .filter(|a| a.directory == Side::Ad)
        .flat_map(|a| a.changes.iter())
        .find(|c| c.attribute == "proxyAddresses")
        .expect("a proxyAddresses edit");
    assert_eq!(
        change.after,
        json!([
            "smtp:ann.old@example.com",
            "SMTP:ann@example.com",
            "smtp:sales@example.com"
        ])
    );
}

#[test]
fn proxy_addresses_ad_are_never_edited_and_the_note_says_why() {
    let mut d = desired();
    d.attributes
        .insert("proxyAddresses".into(), crate::desired::Authority::Ad);
    let (a, c) = addresses_pair();
    let p = run(&d, &[a], &[c]);
    assert!(
        !ad_writes(&p).contains(&"proxyAddresses"),
        "{:#?}",
        p.actions
    );
    let n = notes(&p, NoteKind::PendingSync);
    assert_eq!(n.len(), 1, "{:#?}", p.notes);
    assert!(
        n[0].message
            .contains("Exchange Online takes its addresses from AD"),
        "{}",
        n[0].message
    );
    assert!(
        n[0].message.contains("ann@example.com, sales@example.com"),
        "{}",
        n[0].message
    );
}
