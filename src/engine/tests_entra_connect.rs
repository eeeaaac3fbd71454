//! The planner predicts Entra Connect: each rule here is one Microsoft documents, and each test
//! names its page (MicrosoftDocs/entra-docs, `docs/identity/hybrid/connect/<page>.md`).

use std::collections::BTreeMap;

use super::tests::{OU, ad, cloud, desired, find, run, run_in, tenant};
use crate::desired::{AdSelector, EntraSelector, IdentitySpec, SoftMatchKey};
use crate::directory::model::{Part, SyncFeatures};
use crate::directory::{AdUser, Dn, Tenant};
use crate::plan::{ActionKind, ConflictKind, Match, NoteKind, Plan, Side};

fn with_features(f: impl FnOnce(&mut SyncFeatures)) -> Tenant {
    let mut t = tenant();
    let mut features = SyncFeatures::ASSUMED;
    f(&mut features);
    t.sync = Part::Read(features);
    t
}

fn with_roles(holders: &[(&str, &[&str])]) -> Tenant {
    let mut t = tenant();
    let map: BTreeMap<String, Vec<String>> = holders
        .iter()
        .map(|(id, roles)| {
            (
                (*id).to_owned(),
                roles.iter().map(|r| (*r).to_owned()).collect(),
            )
        })
        .collect();
    t.role_holders = Part::Read(map);
    t
}

fn conflicts_of(p: &Plan, kind: ConflictKind) -> Vec<&crate::plan::Conflict> {
    p.conflicts.iter().filter(|c| c.kind == kind).collect()
}

/// The `link entra` actions (hard-match preparation); `link ad` writes back the ConsistencyGuid.
fn links(p: &Plan) -> Vec<(Side, String, Option<Match>)> {
    p.actions
        .iter()
        .filter(|a| a.action == ActionKind::Link && a.directory == Side::Entra)
        .map(|a| (a.directory, a.identity.to_string(), a.matched))
        .collect()
}

fn excluded_user(n: u8, sam: &str, set: impl FnOnce(&mut AdUser)) -> AdUser {
    let mut u = ad(n, sam);
    set(&mut u);
    u
}

// concept-azure-ad-connect-sync-default-configuration, "User out-of-box rules": the user
// objects that are not synchronized.
#[test]
fn default_exclusions_are_never_paired_and_are_listed_once() {
    let d = desired();
    let admin = excluded_user(1, "Administrator", |u| {
        u.attributes
            .insert("isCriticalSystemObject".into(), ["TRUE"]);
    });
    let msol = ad(2, "MSOL_0123456789ab");
    let aad = ad(3, "AAD_0123456789ab");
    let support = ad(4, "SUPPORT_388945a0");
    let system = excluded_user(5, "SM_0123", |u| {
        u.attributes.insert(
            "mailNickname".into(),
            ["SystemMailbox{1f05a927-0000-0000-0000-000000000000}"],
        );
    });
    let cas = ad(6, "CAS_{0123}");
    // 0x20000000: a discovery mailbox, inside the 0x21C07000 mask.
    let discovery = excluded_user(7, "DiscoverySearch", |u| {
        u.attributes
            .insert("msExchRecipientTypeDetails".into(), ["536870912"]);
    });
    let mut cnf = AdUser::new(
        Dn::parse(&format!(
            "CN=jdoe\\0ACNF:2d3c0b1e-0000-0000-0000-000000000000,{OU}"
        ))
        .unwrap(),
        super::tests::guid(8),
    );
    cnf.set_sam_account_name("$DUPLICATE-1f4");
    cnf.set_upn("jdoe@example.com");
    let jdoe = ad(9, "jdoe");
    // A user mailbox (0x1) is synchronized.
    let mailbox = excluded_user(10, "mary", |u| {
        u.attributes
            .insert("msExchRecipientTypeDetails".into(), ["1"]);
    });
    let cloud_admin = cloud("c-admin", "Administrator@example.com");
    let cloud_jdoe = cloud("c-jdoe", "jdoe@example.com");
    let users = [
        admin, msol, aad, support, system, cas, discovery, cnf, jdoe, mailbox,
    ];
    let p = run(&d, &users, &[cloud_admin, cloud_jdoe]);

    // The built-in Administrator is not linked to its UPN twin, and the CNF copy of jdoe
    // raises no duplicate conflict that would block the real jdoe.
    assert!(p.conflicts.is_empty(), "{:#?}", p.conflicts);
    let linked: Vec<String> = links(&p).into_iter().map(|(_, who, _)| who).collect();
    assert!(
        linked.iter().all(|who| who == "jdoe@example.com"),
        "{linked:?}"
    );
    assert!(!linked.is_empty());
    let excluded: Vec<_> = p
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::SyncExcluded)
        .collect();
    assert_eq!(excluded.len(), 1, "{:#?}", p.notes);
    let m = &excluded[0].message;
    assert!(m.contains("never synchronize 8 in-scope AD objects"), "{m}");
    for why in [
        "isCriticalSystemObject",
        "AAD_/MSOL_",
        "SUPPORT_388945a0",
        "SystemMailbox{",
        "CAS_",
        "msExchRecipientTypeDetails",
        "\\0ACNF:",
    ] {
        assert!(m.contains(why), "{why} in {m}");
    }
    assert!(!m.contains("CN=mary"), "{m}");
    // In scope counts after the exclusions (DESIGN.md, "Plan": inventory).
    assert_eq!(p.inventory.ad.in_scope, 2);
}

// Same page: `IsPresent([sAMAccountName]) = False` — but absent is not null: an export that
// carries no sAMAccountName at all excludes nobody.
#[test]
fn no_sam_account_name_excludes_only_when_the_read_carried_the_attribute() {
    let d = desired();
    let mut nosam = ad(1, "nosam");
    nosam.set_sam_account_name(None);
    let p = run(&d, &[nosam.clone(), ad(2, "other")], &[]);
    assert!(
        p.notes
            .iter()
            .any(|n| n.kind == NoteKind::SyncExcluded && n.message.contains("no sAMAccountName")),
        "{:#?}",
        p.notes
    );
    let p = run(&d, &[nosam], &[]);
    assert!(
        !p.notes.iter().any(|n| n.kind == NoteKind::SyncExcluded),
        "{:#?}",
        p.notes
    );
}

#[test]
fn an_explicit_pair_naming_an_excluded_object_says_why() {
    let mut d = desired();
    d.identities.push(IdentitySpec {
        name: Some("admin".into()),
        ad: Some(AdSelector::SamAccountName("Administrator".into())),
        entra: Some(EntraSelector::Upn("Administrator@example.com".into())),
        licenses: None,
        origin: "identities.yaml:3:3".into(),
        ignore: false,
        attributes: Default::default(),
    });
    let admin = excluded_user(1, "Administrator", |u| {
        u.attributes
            .insert("isCriticalSystemObject".into(), ["TRUE"]);
    });
    let p = run(
        &d,
        &[admin],
        &[cloud("c-admin", "Administrator@example.com")],
    );
    let missing = conflicts_of(&p, ConflictKind::MissingObject);
    assert_eq!(missing.len(), 1, "{:#?}", p.conflicts);
    assert!(
        missing[0]
            .message
            .contains("Entra Connect's default rules never synchronize (isCriticalSystemObject"),
        "{}",
        missing[0].message
    );
    assert!(p.actions.is_empty());
}

// how-to-connect-install-existing-tenant, "Admin role considerations": "Microsoft Entra ID
// won't match on-premises users with cloud users that have an admin role" — soft or hard.
#[test]
fn role_holders_are_never_matched() {
    let d = desired();
    let a = ad(1, "gadmin");
    let b = ad(2, "hadmin");
    let by_upn = cloud("c-ga", "gadmin@example.com");
    let mut by_anchor = cloud("c-ua", "someone@example.com");
    by_anchor.set_immutable_id(b.object_guid.to_base64().as_str());
    let t = with_roles(&[
        ("c-ga", &["Global Administrator"]),
        ("c-ua", &["User Administrator", "Helpdesk Administrator"]),
    ]);
    let p = run_in(&d, &[a, b], &[by_upn, by_anchor], &t);
    let roles = conflicts_of(&p, ConflictKind::AdminRole);
    assert_eq!(roles.len(), 2, "{:#?}", p.conflicts);
    assert!(
        roles
            .iter()
            .any(|c| c.message.contains("Global Administrator"))
    );
    assert!(roles.iter().any(|c| {
        c.message
            .contains("User Administrator, Helpdesk Administrator")
            && c.message.contains("Remove the roles before the first sync")
    }));
    assert!(links(&p).is_empty(), "{:#?}", p.actions);

    // Unknown role holders: the stated assumption, and one note saying so.
    let mut unknown = tenant();
    unknown.role_holders =
        Part::Unknown("Graph answered 403: the app lacks RoleManagement.Read.Directory".into());
    let p = run_in(
        &d,
        &[ad(1, "gadmin")],
        &[cloud("c-ga", "gadmin@example.com")],
        &unknown,
    );
    assert!(conflicts_of(&p, ConflictKind::AdminRole).is_empty());
    let notes: Vec<_> = p
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::Assumption)
        .collect();
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert!(notes[0].message.contains("RoleManagement.Read.Directory"));
    assert!(
        notes[0]
            .message
            .contains("assumed no cloud user holds a directory role")
    );
}

#[test]
fn a_synced_role_holder_is_matched_already() {
    let d = desired();
    let a = ad(1, "gadmin");
    let mut c = cloud("c-ga", "gadmin@example.com");
    c.sync_enabled = true;
    c.set_immutable_id(a.object_guid.to_base64().as_str());
    let p = run_in(
        &d,
        &[a],
        &[c],
        &with_roles(&[("c-ga", &["Global Administrator"])]),
    );
    assert!(p.conflicts.is_empty(), "{:#?}", p.conflicts);
}

// how-to-connect-install-existing-tenant, "Hard-match vs Soft-match": with
// BlockCloudObjectTakeoverThroughHardMatchEnabled, Entra Connect does not take over a cloud
// object by its anchor; idsync then relies on the soft match it prepares.
#[test]
fn with_hard_match_takeover_blocked_no_link_entra_is_planned() {
    let d = desired();
    let mut a = ad(1, "jane");
    a.set_upn("jane@corp.local");
    let mut c = cloud("c-jane", "jane@example.com");
    c.set_proxy_addresses(["SMTP:jane@example.com"]);
    let blocked = with_features(|f| f.block_cloud_object_takeover_through_hard_match = true);
    let p = run_in(
        &d,
        std::slice::from_ref(&a),
        std::slice::from_ref(&c),
        &blocked,
    );
    assert!(p.conflicts.is_empty(), "{:#?}", p.conflicts);
    assert!(links(&p).is_empty(), "{:#?}", p.actions);
    // The soft-match keys are prepared in AD instead.
    let update = find(&p, ActionKind::Update, Side::Ad, "jane@example.com");
    assert!(
        update
            .changes
            .iter()
            .any(|c| c.attribute == "proxyAddresses")
    );

    // Without the block the same pair gets its link.
    let p = run(&d, &[a], &[c]);
    assert_eq!(
        links(&p),
        [(Side::Entra, "jane@example.com".into(), Some(Match::SoftUpn))]
    );
}

#[test]
fn a_pair_only_a_hard_match_could_make_is_match_blocked() {
    // An explicit pair whose soft-match keys stay apart: AD is authoritative for the UPN and
    // has no SMTP address, and UPN soft match is off in the tenant.
    let mut d = desired();
    d.attributes
        .insert("userPrincipalName".into(), crate::desired::Authority::Ad);
    d.attributes
        .insert("mail".into(), crate::desired::Authority::Ad);
    d.identities.push(IdentitySpec {
        name: Some("jane".into()),
        ad: Some(AdSelector::SamAccountName("jane".into())),
        entra: Some(EntraSelector::Id("c-jane".into())),
        licenses: None,
        origin: "identities.yaml:1:3".into(),
        ignore: false,
        attributes: Default::default(),
    });
    let a = ad(1, "jane");
    let c = cloud("c-jane", "jane.doe@example.com");
    let t = with_features(|f| {
        f.block_cloud_object_takeover_through_hard_match = true;
        f.soft_match_on_upn = false;
    });
    let p = run_in(&d, std::slice::from_ref(&a), std::slice::from_ref(&c), &t);
    let blocked = conflicts_of(&p, ConflictKind::MatchBlocked);
    assert_eq!(blocked.len(), 1, "{:#?}", p.conflicts);
    assert!(
        blocked[0].message.contains("only a hard match could pair"),
        "{}",
        blocked[0].message
    );
    assert!(p.actions.is_empty(), "{:#?}", p.actions);

    // A cloud user that already carries the anchor: Entra tries the hard match, which the
    // block refuses (InvalidHardMatch).
    let mut carried = c;
    carried.set_immutable_id(a.object_guid.to_base64().as_str());
    let p = run_in(
        &d,
        &[a],
        &[carried],
        &with_features(|f| {
            f.block_cloud_object_takeover_through_hard_match = true;
        }),
    );
    let blocked = conflicts_of(&p, ConflictKind::MatchBlocked);
    assert_eq!(blocked.len(), 1, "{:#?}", p.conflicts);
    assert!(blocked[0].message.contains("InvalidHardMatch"));
}

// Same page: BlockSoftMatchEnabled blocks soft matching; with hard match blocked too, nothing
// can pair a cloud-managed user.
#[test]
fn both_blocks_leave_no_way_to_pair_and_soft_block_alone_still_links() {
    let d = desired();
    let mut a = ad(1, "jane");
    a.set_proxy_addresses(["SMTP:jane@example.com"]);
    let mut c = cloud("c-jane", "jane@example.com");
    c.set_proxy_addresses(["SMTP:jane@example.com"]);
    let both = with_features(|f| {
        f.block_cloud_object_takeover_through_hard_match = true;
        f.block_soft_match = true;
    });
    let p = run_in(
        &d,
        std::slice::from_ref(&a),
        std::slice::from_ref(&c),
        &both,
    );
    let blocked = conflicts_of(&p, ConflictKind::MatchBlocked);
    assert_eq!(blocked.len(), 1, "{:#?}", p.conflicts);
    assert!(blocked[0].message.contains("blockSoftMatchEnabled"));

    // Soft match blocked alone: idsync's link sets the anchor, and Entra hard-matches.
    let soft_only = with_features(|f| f.block_soft_match = true);
    let p = run_in(&d, &[a], &[c], &soft_only);
    assert!(p.conflicts.is_empty(), "{:#?}", p.conflicts);
    assert_eq!(
        links(&p),
        [(
            Side::Entra,
            "jane@example.com".into(),
            Some(Match::SoftSmtp)
        )]
    );
}

// how-to-connect-syncservice-features ("SoftMatchOnUpn"): UPN soft match is a tenant feature;
// while it is off, only the primary SMTP address soft-matches.
#[test]
fn upn_soft_match_follows_the_tenant_feature() {
    let d = desired();
    let a = ad(1, "x");
    let c = cloud("c-x", "x@example.com");
    let p = run(&d, std::slice::from_ref(&a), std::slice::from_ref(&c));
    assert_eq!(links(&p).len(), 1);
    let off = with_features(|f| f.soft_match_on_upn = false);
    let p = run_in(&d, &[a], &[c], &off);
    assert!(links(&p).is_empty(), "{:#?}", p.actions);
}

// how-to-connect-install-existing-tenant, "Sync with existing users": "For the proxyAddresses
// attribute only the value with SMTP:, that is the primary email address, is used"; `mail` is
// not a key (Graph adds it to proxyAddresses itself).
#[test]
fn cloud_mail_alone_is_not_a_soft_match_key() {
    let mut d = desired();
    d.soft_match = vec![SoftMatchKey::Smtp];
    let mut a = ad(1, "x");
    a.set_proxy_addresses(["SMTP:shared@example.com"]);
    let mut c = cloud("c-x", "other@example.com");
    c.set_mail("shared@example.com");
    let p = run(&d, std::slice::from_ref(&a), std::slice::from_ref(&c));
    assert!(links(&p).is_empty(), "{:#?}", p.actions);
    c.set_proxy_addresses(["SMTP:shared@example.com"]);
    let p = run(&d, &[a], &[c]);
    assert_eq!(links(&p).len(), 1);
}

// DESIGN.md "Matching" 2: an anchor is unique in the tenant. An explicit pair whose anchor
// another cloud user holds is a conflict naming both, not a link Graph refuses next to an
// orphan note about the holder.
#[test]
fn an_explicit_pair_whose_anchor_another_cloud_user_holds_is_duplicate_anchor() {
    let mut d = desired();
    d.identities.push(IdentitySpec {
        name: Some("jane".into()),
        ad: Some(AdSelector::SamAccountName("jane".into())),
        entra: Some(EntraSelector::Id("c-new".into())),
        licenses: None,
        origin: "identities.yaml:1:3".into(),
        ignore: false,
        attributes: Default::default(),
    });
    let a = ad(1, "jane");
    let new = cloud("c-new", "jane.new@example.com");
    let mut holder = cloud("c-old", "jane.old@example.com");
    holder.set_immutable_id(a.object_guid.to_base64().to_lowercase().as_str());
    let p = run(&d, &[a], &[new, holder]);
    let dup = conflicts_of(&p, ConflictKind::DuplicateAnchor);
    assert_eq!(dup.len(), 1, "{:#?}", p.conflicts);
    assert_eq!(dup[0].objects.len(), 3, "{:#?}", dup[0]);
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert!(
        !p.notes.iter().any(|n| n.kind == NoteKind::Orphan),
        "{:#?}",
        p.notes
    );
}

// how-to-connect-syncservice-duplicate-attribute-resiliency: an InvalidSoftMatch no longer
// fails the export; Entra Connect creates the object with the duplicate value quarantined.
#[test]
fn invalid_soft_match_predicts_the_resiliency_twin() {
    let d = desired();
    let a = ad(1, "x");
    let mut c = cloud("c-x", "x@example.com");
    c.set_immutable_id("c29tZW9uZSBlbHNlIGVudGlyZWx5");
    let p = run(&d, &[a], &[c]);
    let invalid = conflicts_of(&p, ConflictKind::InvalidSoftMatch);
    assert_eq!(invalid.len(), 1, "{:#?}", p.conflicts);
    assert!(
        invalid[0].message.contains("create a second cloud user"),
        "{}",
        invalid[0].message
    );
}

#[test]
fn unknown_tenant_parts_each_get_one_assumption_note() {
    let d = desired();
    let p = run_in(&d, &[ad(1, "x")], &[], &Tenant::default());
    let notes: Vec<&str> = p
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::Assumption)
        .map(|n| n.message.as_str())
        .collect();
    assert_eq!(notes.len(), 3, "{notes:#?}");
    assert!(
        notes
            .iter()
            .any(|m| m.contains("sync features") && m.contains("UPN soft match on"))
    );
    assert!(
        notes
            .iter()
            .any(|m| m.contains("domains") && m.contains("verified"))
    );
    assert!(notes.iter().any(|m| m.contains("role holders")));
}

#[test]
fn provisioned_accounts_get_no_anchor_while_hard_match_is_blocked() {
    // The new AD account carries the cloud's UPN and SMTP address, so Entra Connect soft-
    // matches it; setting onPremisesImmutableId would be refused (InvalidHardMatch). With soft
    // match blocked as well, the account would sync as a second cloud user: match_blocked.
    let d = super::tests::with_provision(desired());
    let mut c = cloud("c-new", "new.hire@example.com");
    c.set_mail("new.hire@example.com");
    c.set_mail_nickname("new.hire");
    c.set_proxy_addresses(["SMTP:new.hire@example.com"]);
    let blocked = with_features(|f| f.block_cloud_object_takeover_through_hard_match = true);
    let p = run_in(&d, &[], std::slice::from_ref(&c), &blocked);
    assert!(
        p.actions
            .iter()
            .any(|a| a.action == ActionKind::Create && a.directory == Side::Ad)
    );
    assert!(links(&p).is_empty(), "{:#?}", p.actions);

    let both = with_features(|f| {
        f.block_cloud_object_takeover_through_hard_match = true;
        f.block_soft_match = true;
    });
    let p = run_in(&d, &[], &[c], &both);
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert_eq!(conflicts_of(&p, ConflictKind::MatchBlocked).len(), 1);
}
