//! The planner against the field situations, on objects built in memory.

use serde_json::json;

use super::{PlanError, PlanInput, plan};
use crate::desired::{
    AdSelector, Authority, DeprovisionAction, DesiredState, EntraSelector, IdentitySpec,
    InitialState, ProvisionAdConfig, Selector, SoftMatchKey, SourceAnchor, Template,
};
use crate::directory::model::{Domain, Part, SyncFeatures};
use crate::directory::{AdUser, CloudUser, Dn, Guid, Taken, Tenant};
use crate::plan::{Action, ActionKind, ConflictKind, NoteKind, ObjectId, Plan, Precondition, Side};

pub(super) const OU: &str = "OU=Office365,DC=corp,DC=example,DC=com";
pub(super) const CLOUD_OU: &str = "OU=Cloud,OU=Office365,DC=corp,DC=example,DC=com";

pub(super) fn guid(n: u8) -> Guid {
    let mut b = [0u8; 16];
    b[0] = n;
    b[15] = 0xaa;
    Guid(b)
}

pub(super) fn ad(n: u8, sam: &str) -> AdUser {
    let mut u = AdUser::new(Dn::parse(&format!("CN={sam},{OU}")).unwrap(), guid(n));
    u.set_sam_account_name(sam);
    u.set_upn(format!("{sam}@example.com").as_str());
    u.user_account_control = Some(512);
    u.usn_changed = Some(1000 + n as u64);
    u.attributes
        .insert("displayName".into(), vec![sam.to_uppercase()]);
    u
}

pub(super) fn cloud(id: &str, upn: &str) -> CloudUser {
    let mut c = CloudUser::new(id, upn);
    c.account_enabled = Some(true);
    c.properties.insert(
        "displayName",
        json!(upn.split('@').next().unwrap().to_uppercase()),
    );
    c
}

pub(super) fn desired() -> DesiredState {
    let mut d = DesiredState::with_scope(&[OU]);
    d.upn_suffixes
        .insert("corp.local".into(), "example.com".into());
    d
}

pub(super) fn with_provision(mut d: DesiredState) -> DesiredState {
    d.provision_ad = Some(ProvisionAdConfig {
        ou: Dn::parse(CLOUD_OU).unwrap(),
        sam_account_name: Template::parse("{mailNickname}").unwrap(),
        initial_state: InitialState::EnabledRandomPassword,
    });
    d
}

/// A tenant whose data was all read: DESIGN.md's assumptions as facts, example.com verified,
/// nobody holding a role. Tests of the tenant rules change one part.
pub(super) fn tenant() -> Tenant {
    Tenant {
        sync: Part::Read(SyncFeatures::ASSUMED),
        domains: Part::Read(vec![
            Domain {
                name: "example.com".into(),
                is_verified: true,
                is_initial: false,
            },
            Domain {
                name: "example.onmicrosoft.com".into(),
                is_verified: true,
                is_initial: true,
            },
        ]),
        role_holders: Part::Read(Default::default()),
        skus: Part::default(),
    }
}

pub(super) fn run(d: &DesiredState, ad: &[AdUser], cloud: &[CloudUser]) -> Plan {
    run_in(d, ad, cloud, &tenant())
}

pub(super) fn run_in(
    d: &DesiredState,
    ad: &[AdUser],
    cloud: &[CloudUser],
    tenant: &Tenant,
) -> Plan {
    plan(PlanInput {
        desired: d,
        ad,
        cloud,
        taken: &[],
        reads: Default::default(),
        tenant,
        groups: Default::default(),
    })
    .expect("plan")
}

pub(super) fn find<'p>(p: &'p Plan, kind: ActionKind, side: Side, identity: &str) -> &'p Action {
    p.actions
        .iter()
        .find(|a| a.action == kind && a.directory == side && *a.identity == *identity)
        .unwrap_or_else(|| panic!("no {kind:?} {side:?} for {identity} in {:#?}", p.actions))
}

pub(super) fn change<'a>(a: &'a Action, attribute: &str) -> &'a crate::plan::Change {
    a.changes
        .iter()
        .find(|c| c.attribute == attribute)
        .unwrap_or_else(|| panic!("no change of {attribute} in {a:#?}"))
}

pub(super) fn kinds(p: &Plan) -> Vec<(ActionKind, Side, String)> {
    p.actions
        .iter()
        .map(|a| (a.action, a.directory, a.identity.to_string()))
        .collect()
}

// 1. cloud-first tenant, AD empty
#[test]
fn cloud_first_tenant_gets_ad_accounts_then_links() {
    let d = with_provision(desired());
    let mut alva = cloud("c1", "alva.wood@example.com");
    alva.set_mail_nickname("alva.wood");
    alva.set_mail("alva.wood@example.com");
    alva.set_proxy_addresses(["SMTP:alva.wood@example.com", "smtp:alva@example.com"]);
    let mut bob = cloud("c2", "bob@example.com");
    bob.set_mail_nickname("bob");
    let p = run(&d, &[], &[alva, bob]);

    assert_eq!(p.summary.create, 2);
    assert_eq!(p.summary.link, 4);
    let create = find(&p, ActionKind::Create, Side::Ad, "alva.wood@example.com");
    assert_eq!(create.target, format!("CN=ALVA.WOOD,{CLOUD_OU}"));
    assert_eq!(change(create, "sAMAccountName").after, json!("alva.wood"));
    assert_eq!(
        change(create, "userPrincipalName").after,
        json!("alva.wood@example.com")
    );
    assert_eq!(change(create, "mail").after, json!("alva.wood@example.com"));
    assert_eq!(
        change(create, "proxyAddresses").after,
        json!(["SMTP:alva.wood@example.com", "smtp:alva@example.com"])
    );
    assert_eq!(change(create, "adminDescription").after, json!("idsync:c1"));
    assert_eq!(change(create, "userAccountControl").after, json!("512"));
    assert_eq!(create.precondition, Some(Precondition::Absent));

    let link = find(&p, ActionKind::Link, Side::Entra, "alva.wood@example.com");
    assert_eq!(*link.depends_on, [create.id]);
    assert_eq!(
        change(link, "onPremisesImmutableId").after,
        json!("(known after apply)")
    );
    let write_back = find(&p, ActionKind::Link, Side::Ad, "alva.wood@example.com");
    assert_eq!(*write_back.depends_on, [create.id]);
    // Creates come first, so the ids of dependencies are lower.
    assert!(
        p.actions.iter().position(|a| a.id == create.id)
            < p.actions.iter().position(|a| a.id == link.id)
    );

    // bob has no mail: the UPN becomes mail and primary SMTP.
    let create = find(&p, ActionKind::Create, Side::Ad, "bob@example.com");
    assert_eq!(
        change(create, "proxyAddresses").after,
        json!(["SMTP:bob@example.com"])
    );
}

#[test]
fn disabled_initial_state_warns() {
    let mut d = with_provision(desired());
    d.provision_ad.as_mut().unwrap().initial_state = InitialState::Disabled;
    let mut c = cloud("c1", "x@example.com");
    c.set_mail_nickname("x");
    let p = run(&d, &[], &[c]);
    let create = find(&p, ActionKind::Create, Side::Ad, "x@example.com");
    assert_eq!(change(create, "userAccountControl").after, json!("514"));
    assert!(
        p.diagnostics
            .iter()
            .any(|d| d.rule == "initial_state" && d.message.contains("disabled in the cloud"))
    );
}

#[test]
fn template_without_value_blocks_only_that_create() {
    let d = with_provision(desired());
    let mut ok = cloud("c1", "ok@example.com");
    ok.set_mail_nickname("ok");
    let missing = cloud("c2", "nonick@example.com");
    let p = run(&d, &[], &[ok, missing]);
    assert_eq!(p.summary.create, 1);
    assert!(
        p.diagnostics
            .iter()
            .any(|d| d.object == "nonick@example.com" && d.rule == "blank")
    );
}

#[test]
fn provisioning_collision_with_an_object_outside_scope_is_a_conflict() {
    let d = with_provision(desired());
    let mut c = cloud("c1", "dup@example.com");
    c.set_mail_nickname("dup");
    let taken = [Taken {
        attribute: "userPrincipalName",
        value: "dup@example.com".into(),
        dn: Dn::parse("CN=Dup,OU=Legacy,DC=corp,DC=example,DC=com").unwrap(),
    }];
    let p = plan(PlanInput {
        desired: &d,
        ad: &[],
        cloud: &[c],
        taken: &taken,
        reads: Default::default(),
        tenant: &tenant(),
        groups: Default::default(),
    })
    .unwrap();
    assert!(p.actions.is_empty());
    assert_eq!(p.conflicts[0].kind, ConflictKind::ProvisionCollision);
    assert!(p.conflicts[0].message.contains("OU=Legacy"));
}

// 2. AD on a .local suffix with no mail or proxyAddresses
#[test]
fn local_suffix_is_prepared_for_soft_match() {
    let d = desired();
    let mut a = ad(1, "jdoe");
    a.set_upn("jdoe@corp.local");
    let mut c = cloud("c1", "jdoe@example.com");
    c.set_mail("jdoe@example.com");
    c.set_proxy_addresses(["SMTP:jdoe@example.com"]);
    let p = run(&d, std::slice::from_ref(&a), &[c]);

    let up = find(&p, ActionKind::Update, Side::Ad, "jdoe@example.com");
    assert_eq!(
        change(up, "userPrincipalName").before,
        json!("jdoe@corp.local")
    );
    assert_eq!(
        change(up, "userPrincipalName").after,
        json!("jdoe@example.com")
    );
    assert_eq!(change(up, "mail").after, json!("jdoe@example.com"));
    let proxies = change(up, "proxyAddresses");
    assert_eq!(proxies.added(), ["SMTP:jdoe@example.com"]);
    assert!(proxies.removed().is_empty());
    let link = find(&p, ActionKind::Link, Side::Entra, "jdoe@example.com");
    assert_eq!(
        change(link, "onPremisesImmutableId").after,
        json!(a.object_guid.to_base64())
    );
    assert!(p.conflicts.is_empty() && p.diagnostics.is_empty(), "{p:#?}");
}

#[test]
fn soft_match_keys_follow_entras_order_and_can_be_disabled() {
    // Entra soft-matches on the primary SMTP address, then the UPN, whatever order the config
    // lists them in (how-to-connect-install-existing-tenant, "Hard-match vs Soft-match":
    // "it tries to use the incoming object's userPrincipalName or primary ProxyAddress";
    // DESIGN.md "Matching" 3 fixes SMTP first). `[upn, smtp]` must not pair the UPN twin.
    let mut d = desired();
    let mut a = ad(1, "x");
    a.set_proxy_addresses(["SMTP:shared@example.com"]);
    let mut by_smtp = cloud("c-smtp", "other@example.com");
    by_smtp.set_proxy_addresses(["SMTP:shared@example.com"]);
    let by_upn = cloud("c-upn", "x@example.com");
    let p = run(&d, &[a.clone()], &[by_smtp.clone(), by_upn.clone()]);
    let link = find(&p, ActionKind::Link, Side::Entra, "other@example.com");
    assert_eq!(link.object, Some(ObjectId::from("c-smtp")));
    assert_eq!(link.matched, Some(crate::plan::Match::SoftSmtp));

    d.soft_match = vec![SoftMatchKey::Upn, SoftMatchKey::Smtp];
    let p = run(&d, &[a.clone()], &[by_smtp.clone(), by_upn.clone()]);
    assert_eq!(
        find(&p, ActionKind::Link, Side::Entra, "other@example.com").object,
        Some(ObjectId::from("c-smtp"))
    );

    // Only the UPN key: it pairs by UPN.
    d.soft_match = vec![SoftMatchKey::Upn];
    let p = run(&d, &[a.clone()], &[by_smtp.clone(), by_upn.clone()]);
    let link = find(&p, ActionKind::Link, Side::Entra, "x@example.com");
    assert_eq!(link.object, Some(ObjectId::from("c-upn")));
    assert_eq!(link.matched, Some(crate::plan::Match::SoftUpn));

    d.soft_match = vec![];
    let p = run(&d, &[a], &[by_smtp, by_upn]);
    assert!(p.actions.is_empty());
    assert_eq!(
        p.notes
            .iter()
            .filter(|n| n.kind == NoteKind::Unmatched)
            .count(),
        3
    );
}

// 3. hard match of existing pairs
#[test]
fn hard_matched_pair_that_is_converged_gets_nothing() {
    let mut d = desired();
    d.source_anchor = SourceAnchor::ObjectGuid;
    d.attributes.insert("displayName".into(), Authority::Ad);
    let a = ad(1, "ssmith");
    let mut c = cloud("c1", "someone.else@example.com");
    c.set_immutable_id(a.object_guid.to_base64().as_str());
    c.properties.insert("displayName", json!("SSMITH"));
    let mut a2 = a.clone();
    a2.set_upn("someone.else@example.com");
    let p = run(&d, &[a2], &[c]);
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert!(p.notes.is_empty() && p.conflicts.is_empty());
}

#[test]
fn hard_match_wins_over_soft_match() {
    let mut d = desired();
    d.source_anchor = SourceAnchor::ObjectGuid;
    let a = ad(1, "x");
    let mut hard = cloud("hard", "renamed@example.com");
    hard.set_immutable_id(a.object_guid.to_base64().as_str());
    let soft = cloud("soft", "x@example.com");
    let p = run(&d, &[a], &[hard, soft]);
    // The AD UPN follows the hard-matched cloud user; the soft candidate stays cloud-only.
    let up = find(&p, ActionKind::Update, Side::Ad, "renamed@example.com");
    assert_eq!(
        change(up, "userPrincipalName").after,
        json!("renamed@example.com")
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.identity == "x@example.com" && n.kind == NoteKind::Unmatched)
    );
}

#[test]
fn guid_example_from_the_design_is_the_immutable_id() {
    let mut d = desired();
    d.source_anchor = SourceAnchor::ObjectGuid;
    let mut a = ad(1, "x");
    a.object_guid = Guid::parse("3ab39606-c642-489b-84b6-58c038d3ef39").unwrap();
    let c = cloud("c1", "x@example.com");
    let p = run(&d, &[a], &[c]);
    let link = find(&p, ActionKind::Link, Side::Entra, "x@example.com");
    assert_eq!(
        change(link, "onPremisesImmutableId").after,
        json!("BpazOkLGm0iEtljAONPvOQ==")
    );
}

// 4. ConsistencyGuid as anchor
#[test]
fn consistency_guid_is_written_back_and_used_as_immutable_id() {
    let d = desired();
    let a = ad(7, "x");
    let c = cloud("c1", "x@example.com");
    let p = run(&d, std::slice::from_ref(&a), &[c]);
    let back = find(&p, ActionKind::Link, Side::Ad, "x@example.com");
    let link = find(&p, ActionKind::Link, Side::Entra, "x@example.com");
    assert_eq!(
        change(back, "mS-DS-ConsistencyGuid").after,
        json!(a.object_guid.to_base64())
    );
    assert_eq!(
        change(link, "onPremisesImmutableId").after,
        change(back, "mS-DS-ConsistencyGuid").after
    );
    assert_eq!(back.precondition, Some(Precondition::UsnChanged(1007)));

    // Once set, the ConsistencyGuid value (not the objectGUID) is the anchor.
    let mut set = a.clone();
    set.consistency_guid = Some(vec![9; 16].into());
    let mut linked = cloud("c1", "x@example.com");
    linked.set_immutable_id("CQkJCQkJCQkJCQkJCQkJCQ==");
    let p = run(&d, &[set], &[linked]);
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
}

// 5. conflicts
#[test]
fn invalid_soft_match_is_a_conflict_and_others_proceed() {
    let d = desired();
    let a = ad(1, "pwhite");
    let mut c = cloud("c1", "pwhite@example.com");
    c.set_immutable_id("c29tZS1vdGhlcg==");
    let ok = ad(2, "fine");
    let okc = cloud("c2", "fine@example.com");
    let p = run(&d, &[a, ok], &[c, okc]);
    assert_eq!(p.conflicts.len(), 1);
    let k = &p.conflicts[0];
    assert_eq!(k.kind, ConflictKind::InvalidSoftMatch);
    assert_eq!(k.objects.len(), 2);
    assert!(p.actions.iter().all(|a| &*a.identity == "fine@example.com"));
    assert!(!p.actions.is_empty());
}

#[test]
fn duplicate_upn_and_smtp_among_ad_users_are_conflicts() {
    let d = desired();
    let mut a = ad(1, "a");
    a.set_upn("same@corp.local");
    let mut b = ad(2, "b");
    b.set_upn("same@example.com"); // the same once corp.local is rewritten
    let mut c = ad(3, "c");
    c.set_proxy_addresses(["SMTP:tom@example.com"]);
    let mut e = ad(4, "e");
    e.set_proxy_addresses(["SMTP:Tom@Example.com"]);
    let mut tom = cloud("t", "tom@example.com");
    tom.set_proxy_addresses(["SMTP:tom@example.com"]);
    let p = run(&d, &[a, b, c, e], &[tom]);
    let kinds: Vec<_> = p.conflicts.iter().map(|c| c.kind).collect();
    assert!(kinds.contains(&ConflictKind::DuplicateUpn));
    assert!(kinds.contains(&ConflictKind::DuplicateSmtp));
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    // The cloud user both would match is held back too, not treated as cloud-only.
    let smtp = p
        .conflicts
        .iter()
        .find(|c| c.kind == ConflictKind::DuplicateSmtp)
        .unwrap();
    assert!(
        smtp.objects.iter().any(|o| o.contains("tom@example.com")),
        "{smtp:#?}"
    );
    assert!(p.diagnostics.iter().any(|d| d.rule == "duplicate"));
}

#[test]
fn two_ad_users_claiming_one_cloud_user_is_a_conflict() {
    let d = desired();
    let mut a = ad(1, "chall");
    a.set_proxy_addresses(["SMTP:chris@example.com"]);
    a.set_upn("chall@corp.local");
    let mut b = ad(2, "chhall");
    b.set_upn("chris@corp.local");
    let mut c = cloud("c1", "chris@example.com");
    c.set_mail("chris@example.com");
    // Graph adds mail to proxyAddresses itself; the proxy address is what Entra matches on.
    c.set_proxy_addresses(["SMTP:chris@example.com"]);
    let p = run(&d, &[a, b], &[c]);
    assert_eq!(p.conflicts.len(), 1);
    assert_eq!(p.conflicts[0].kind, ConflictKind::AmbiguousMatch);
    assert_eq!(p.conflicts[0].objects.len(), 3);
    assert!(p.actions.is_empty());
}

#[test]
fn explicit_pair_naming_a_missing_object_is_a_conflict() {
    let mut d = desired();
    d.identities.push(IdentitySpec {
        name: Some("former".into()),
        ad: Some(AdSelector::SamAccountName("gone".into())),
        entra: Some(EntraSelector::Upn("former@example.com".into())),
        ignore: false,
        attributes: Default::default(),
        licenses: None,
        origin: "ids.yaml:3:5".into(),
    });
    let c = cloud("c1", "former@example.com");
    let p = run(&with_provision(d), &[], &[c]);
    assert_eq!(p.conflicts.len(), 1);
    assert_eq!(p.conflicts[0].kind, ConflictKind::MissingObject);
    assert!(p.conflicts[0].message.contains("ids.yaml:3:5"));
    // The cloud user is part of the conflicted identity: no AD account is provisioned for it.
    assert!(p.actions.is_empty());
}

#[test]
fn explicit_pair_overrides_matching_and_sets_attributes() {
    let mut d = desired();
    d.attributes.insert("department".into(), Authority::Ad);
    d.identities.push(IdentitySpec {
        name: Some("adam".into()),
        ad: Some(AdSelector::SamAccountName("aanderson".into())),
        entra: Some(EntraSelector::Upn("adam.anderson@example.com".into())),
        ignore: false,
        attributes: [("department".to_owned(), "Sales".to_owned())].into(),
        licenses: None,
        origin: "x:1:1".into(),
    });
    let mut a = ad(1, "aanderson");
    a.attributes.insert("department".into(), ["Marketing"]);
    let mut c = cloud("c1", "adam.anderson@example.com");
    c.properties.insert("department", json!("Marketing"));
    let p = run(&d, &[a], &[c]);
    assert_eq!(
        change(find(&p, ActionKind::Update, Side::Ad, "adam"), "department").after,
        json!("Sales")
    );
    assert_eq!(
        change(
            find(&p, ActionKind::Update, Side::Entra, "adam"),
            "department"
        )
        .after,
        json!("Sales")
    );
}

// 6. scope
#[test]
fn objects_outside_scope_or_in_excluded_ous_are_not_touched() {
    let mut d = desired();
    d.scope
        .exclude_ous
        .push(Dn::parse(&format!("OU=Service,{OU}")).unwrap());
    let mut other = ad(1, "other");
    other.dn = Dn::parse("CN=other,OU=Legacy,DC=corp,DC=example,DC=com").unwrap();
    let mut excluded = ad(2, "svc");
    excluded.dn = Dn::parse(&format!("CN=svc,OU=Service,{OU}")).unwrap();
    let inside = ad(3, "inside");
    let p = run(&d, &[other, excluded, inside], &[]);
    let named: Vec<&str> = (p.notes.iter())
        .filter(|n| n.kind != crate::plan::NoteKind::EmptyScope)
        .map(|n| n.identity.as_str())
        .collect();
    assert_eq!(named, vec!["inside@example.com"]);
}

// 7. synced cloud users, protected and ignored accounts
#[test]
fn synced_cloud_users_get_pending_sync_notes_not_writes() {
    let mut d = desired();
    d.attributes.insert("displayName".into(), Authority::Ad);
    let mut a = ad(1, "kclark");
    a.consistency_guid = Some(a.object_guid.0.into());
    let mut c = cloud("c1", "kclark@example.com");
    c.set_immutable_id(a.object_guid.to_base64().as_str());
    c.sync_enabled = true;
    c.properties.insert("displayName", json!("Old Name"));
    let p = run(&d, &[a], &[c]);
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert_eq!(p.notes.len(), 1);
    assert_eq!(p.notes[0].kind, NoteKind::PendingSync);
    assert!(p.notes[0].message.contains("displayName"));
}

#[test]
fn protected_objects_are_never_changed_and_ignored_ones_never_reported() {
    let mut d = with_provision(desired());
    d.protect
        .push(Selector::Upn("breakglass@example.com".into()));
    d.protect
        .push(Selector::Ad(AdSelector::SamAccountName("admin".into())));
    d.identities.push(IdentitySpec {
        name: None,
        ad: None,
        entra: Some(EntraSelector::Upn("room@example.com".into())),
        ignore: true,
        attributes: Default::default(),
        licenses: None,
        origin: "x:1:1".into(),
    });
    let mut bg = cloud("c1", "breakglass@example.com");
    bg.set_mail_nickname("breakglass");
    let mut room = cloud("c2", "room@example.com");
    room.set_mail_nickname("room");
    let admin = ad(1, "admin");
    let admin_cloud = cloud("c3", "admin@example.com");
    let p = run(&d, &[admin], &[bg, room, admin_cloud]);
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    let protected: Vec<&str> = p
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::Protected)
        .map(|n| n.identity.as_str())
        .collect();
    assert_eq!(
        protected,
        vec!["admin@example.com", "breakglass@example.com"]
    );
    assert!(p.notes.iter().all(|n| !n.identity.contains("room")));
}

// 8. the delete threshold, and deprovisioning by ownership
#[test]
fn owned_accounts_whose_cloud_twin_is_gone_are_deprovisioned() {
    let mut d = with_provision(desired());
    d.deprovision_action = DeprovisionAction::Disable;
    let mut owned = ad(1, "gone");
    owned.set_admin_description("idsync:deleted-id");
    let mut unowned = ad(2, "manual");
    unowned.set_admin_description("created by hand");
    let keep = cloud("c9", "keep@example.com");
    let p = run(&d, &[owned, unowned], std::slice::from_ref(&keep));
    let dis = find(&p, ActionKind::Disable, Side::Ad, "gone@example.com");
    assert_eq!(change(dis, "userAccountControl").after, json!("514"));
    assert!(
        p.actions
            .iter()
            .all(|a| &*a.identity != "manual@example.com")
    );

    d.deprovision_action = DeprovisionAction::Report;
    let mut owned = ad(1, "gone");
    owned.set_admin_description("idsync:deleted-id");
    let p = run(&d, &[owned], &[keep]);
    assert!(
        p.actions
            .iter()
            .all(|a| a.directory != Side::Ad || a.action != ActionKind::Disable)
    );
    assert!(p.notes.iter().any(|n| n.kind == NoteKind::Deprovision));
}

#[test]
fn more_deletes_than_max_deletes_fails_the_whole_plan() {
    let mut d = with_provision(desired());
    d.deprovision_action = DeprovisionAction::Delete;
    d.max_deletes = 2;
    let users: Vec<AdUser> = (0..3)
        .map(|n| {
            let mut u = ad(n, &format!("u{n}"));
            u.set_admin_description(format!("idsync:gone-{n}").as_str());
            u
        })
        .collect();
    let keep = cloud("c9", "keep@example.com");
    let err = plan(PlanInput {
        desired: &d,
        ad: &users,
        cloud: std::slice::from_ref(&keep),
        taken: &[],
        reads: Default::default(),
        tenant: &tenant(),
        groups: Default::default(),
    })
    .unwrap_err();
    assert_eq!(err, PlanError::TooManyDeletes { count: 3, max: 2 });
    assert!(err.to_string().contains("max_deletes"));
    d.max_deletes = 3;
    let p = plan(PlanInput {
        desired: &d,
        ad: &users,
        cloud: &[keep],
        taken: &[],
        reads: Default::default(),
        tenant: &tenant(),
        groups: Default::default(),
    })
    .unwrap();
    assert_eq!(p.summary.delete, 3);
}

#[test]
fn an_empty_read_never_causes_deprovisioning() {
    let mut d = with_provision(desired());
    d.deprovision_action = DeprovisionAction::Delete;
    let mut owned = ad(1, "x");
    owned.set_admin_description("idsync:c1");
    let err = plan(PlanInput {
        desired: &d,
        ad: &[owned],
        cloud: &[],
        taken: &[],
        reads: Default::default(),
        tenant: &tenant(),
        groups: Default::default(),
    })
    .unwrap_err();
    assert!(matches!(
        err,
        PlanError::EmptyRead {
            directory: "Entra",
            ..
        }
    ));

    let mut d = desired();
    d.provision_entra = true;
    d.deprovision_action = DeprovisionAction::Delete;
    let mut orphan = cloud("c1", "o@example.com");
    orphan.set_immutable_id("AAAA");
    let err = plan(PlanInput {
        desired: &d,
        ad: &[],
        cloud: &[orphan],
        taken: &[],
        reads: Default::default(),
        tenant: &tenant(),
        groups: Default::default(),
    })
    .unwrap_err();
    assert!(matches!(
        err,
        PlanError::EmptyRead {
            directory: "AD",
            ..
        }
    ));
}

#[test]
fn cloud_disable_follows_to_ad_as_a_disable_action() {
    let mut d = desired();
    d.attributes
        .insert("accountEnabled".into(), Authority::Entra);
    let mut a = ad(1, "ojones");
    a.consistency_guid = Some(a.object_guid.0.into());
    let mut c = cloud("c1", "ojones@example.com");
    c.set_immutable_id(a.object_guid.to_base64().as_str());
    c.account_enabled = Some(false);
    let p = run(&d, &[a], &[c]);
    let dis = find(&p, ActionKind::Disable, Side::Ad, "ojones@example.com");
    assert_eq!(change(dis, "userAccountControl").after, json!("514"));
    assert_eq!(p.summary.disable, 1);
}

#[test]
fn owned_accounts_follow_the_provisioning_ou() {
    let d = with_provision(desired());
    let mut a = ad(1, "lbaker");
    a.set_admin_description("idsync:c1");
    a.consistency_guid = Some(a.object_guid.0.into());
    let mut c = cloud("c1", "lbaker@example.com");
    c.set_immutable_id(a.object_guid.to_base64().as_str());
    let p = run(&d, &[a], &[c]);
    assert_eq!(
        kinds(&p),
        vec![(ActionKind::Move, Side::Ad, "lbaker@example.com".into())]
    );
    assert_eq!(
        change(&p.actions[0], "distinguishedName").after,
        json!(format!("CN=lbaker,{CLOUD_OU}"))
    );
}

// 9. diagnostics block only the identity they concern
#[test]
fn diagnostic_errors_block_only_their_identity() {
    let d = desired();
    let mut bad = ad(1, "bad");
    bad.set_upn("bad@corp.lan");
    let bad_cloud = cloud("c1", "bad@corp.lan");
    let good = ad(2, "good");
    let good_cloud = cloud("c2", "good@example.com");
    let p = run(&d, &[bad, good], &[bad_cloud, good_cloud]);
    assert!(
        p.diagnostics
            .iter()
            .any(|x| x.rule == "topleveldomain" && x.object.starts_with("CN=bad"))
    );
    assert!(p.actions.iter().all(|a| &*a.identity == "good@example.com"));
    assert!(!p.actions.is_empty());
}

#[test]
fn plans_are_deterministic() {
    let d = with_provision(desired());
    let mut users: Vec<CloudUser> = (0..50)
        .map(|n| {
            let mut c = cloud(&format!("c{n}"), &format!("u{n}@example.com"));
            c.set_mail_nickname(format!("u{n}").as_str());
            c
        })
        .collect();
    let a = run(&d, &[], &users);
    users.reverse();
    let b = run(&d, &[], &users);
    assert_eq!(a, b);
}

// 10. absent is not null: nothing is planned from a property a read did not carry (DESIGN.md)

/// A cloud user as an export carries it: exactly the keys given.
fn exported(user: serde_json::Value) -> CloudUser {
    CloudUser::from_graph(user.as_object().unwrap()).unwrap()
}

/// The pair ojones (AD, disabled, country US) and its linked cloud twin with `extra`.
fn linked_pair(extra: serde_json::Value) -> (AdUser, CloudUser) {
    let mut a = ad(1, "ojones");
    a.consistency_guid = Some(a.object_guid.0.into());
    a.user_account_control = Some(514);
    a.attributes.insert("c".into(), ["US"]);
    let mut user = json!({
        "id": "c1", "userPrincipalName": "ojones@example.com",
        "onPremisesImmutableId": a.object_guid.to_base64(),
        "onPremisesSyncEnabled": null, "proxyAddresses": [], "mail": null,
        "displayName": "OJONES"
    });
    for (k, v) in extra.as_object().unwrap() {
        user[k] = v.clone();
    }
    (a, exported(user))
}

fn entra_authority(names: &[&str]) -> DesiredState {
    let mut d = desired();
    for n in names {
        d.attributes.insert((*n).into(), Authority::Entra);
    }
    d
}

#[test]
fn an_unread_account_enabled_never_enables_or_disables() {
    // The field's case: Graph's default GET /users omits accountEnabled; read as null it
    // re-enabled a disabled AD account (userAccountControl 514 -> 512).
    let d = entra_authority(&["accountEnabled"]);
    let (a, c) = linked_pair(json!({}));
    let p = run(&d, &[a], &[c]);
    assert!(p.actions.is_empty(), "{:?}", kinds(&p));
    let note = p
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::Assumption)
        .unwrap();
    assert!(note.message.contains("accountEnabled"), "{}", note.message);
    assert!(note.message.contains("$select="), "{}", note.message);

    // Carried (even disabled), it converges as before.
    let (a, c) = linked_pair(json!({"accountEnabled": true}));
    let p = run(&d, &[a], &[c]);
    assert_eq!(
        change(&p.actions[0], "userAccountControl").after,
        json!("512")
    );
}

#[test]
fn an_unread_property_never_clears_its_twin_but_a_null_one_does() {
    let d = entra_authority(&["usageLocation"]);
    let (a, c) = linked_pair(json!({}));
    assert!(run(&d, &[a], &[c]).actions.is_empty());
    // Present with null is null: AD's country is cleared.
    let (a, c) = linked_pair(json!({"usageLocation": null}));
    let p = run(&d, &[a], &[c]);
    let ch = change(
        find(&p, ActionKind::Update, Side::Ad, "ojones@example.com"),
        "c",
    );
    assert_eq!(ch.before, json!("US"));
    assert_eq!(ch.after, json!(null));
}

#[test]
fn an_unread_ad_attribute_never_clears_the_cloud() {
    let mut d = desired();
    d.attributes.insert("department".into(), Authority::Ad);
    let (a, c) = linked_pair(json!({"department": "Sales"}));
    let department = [crate::names::AttrName::from("department")];
    let p = plan(PlanInput {
        desired: &d,
        ad: std::slice::from_ref(&a),
        cloud: std::slice::from_ref(&c),
        taken: &[],
        reads: super::Reads {
            ad_unread: &department,
            ad_unread_why: "no entry carries it",
            ad_source: "AD snapshot ad.ldif",
            entra_source: "",
        },
        tenant: &tenant(),
        groups: Default::default(),
    })
    .unwrap();
    assert!(p.actions.is_empty(), "{:?}", kinds(&p));
    let note = p.notes.iter().find(|n| n.identity == "(ad)").unwrap();
    assert!(
        note.message
            .contains("AD snapshot ad.ldif does not carry department (no entry carries it)")
    );
    // Read (as absent), AD wins and the cloud value is cleared.
    assert!(!run(&d, &[a], &[c]).actions.is_empty());
}

#[test]
fn cloud_users_whose_sync_state_or_anchor_is_unread_are_not_provisioned_or_paired() {
    let d = with_provision(desired());
    let c = exported(
        json!({"id": "c1", "userPrincipalName": "new@example.com", "mailNickname": "new"}),
    );
    let p = run(&d, &[], &[c]);
    assert!(p.actions.is_empty(), "{:?}", kinds(&p));
    let note = p
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::Assumption)
        .unwrap();
    for name in [
        "onPremisesSyncEnabled",
        "onPremisesImmutableId",
        "proxyAddresses",
    ] {
        assert!(note.message.contains(name), "{}", note.message);
    }
    // A pair whose cloud side's anchor is unread gets no link: it may be bound elsewhere.
    let a = ad(1, "new");
    let c = exported(
        json!({"id": "c1", "userPrincipalName": "new@example.com", "onPremisesSyncEnabled": false}),
    );
    assert!(run(&desired(), &[a], &[c]).actions.is_empty());
}

#[test]
fn an_unread_account_state_is_never_deprovisioned_by_disable() {
    let mut d = desired();
    d.provision_entra = true;
    d.deprovision_action = DeprovisionAction::Disable;
    let orphan = |extra: serde_json::Value| {
        let mut user = json!({
            "id": "c1", "userPrincipalName": "gone@example.com",
            "onPremisesImmutableId": "AAAAAAAAAAAAAAAAAAAAAA==",
            "onPremisesSyncEnabled": false, "proxyAddresses": []
        });
        for (k, v) in extra.as_object().unwrap() {
            user[k] = v.clone();
        }
        exported(user)
    };
    let p = run(&d, &[ad(2, "kept")], &[orphan(json!({}))]);
    assert!(
        !p.actions.iter().any(|a| a.action == ActionKind::Disable),
        "{:?}",
        kinds(&p)
    );
    let p = run(
        &d,
        &[ad(2, "kept")],
        &[orphan(json!({"accountEnabled": true}))],
    );
    assert!(
        p.actions.iter().any(|a| a.action == ActionKind::Disable),
        "{:?}",
        kinds(&p)
    );
}

#[test]
fn inventory_counts_reads_and_scope_and_an_empty_scope_is_said() {
    let mut outside = ad(1, "other");
    outside.dn = Dn::parse("CN=other,OU=Legacy,DC=corp,DC=example,DC=com").unwrap();
    let p = run(&desired(), &[outside], &[cloud("c1", "a@example.com")]);
    assert_eq!((p.inventory.ad.read, p.inventory.ad.in_scope), (1, 0));
    assert_eq!((p.inventory.entra.read, p.inventory.entra.in_scope), (1, 1));
    let empty: Vec<&str> = (p.notes.iter())
        .filter(|n| n.kind == NoteKind::EmptyScope)
        .map(|n| n.identity.as_str())
        .collect();
    assert_eq!(empty, ["(ad)"]);
    assert!(p.notes[0].message.contains(OU) || p.notes.iter().any(|n| n.message.contains(OU)));
}

#[test]
fn an_anchor_held_by_another_cloud_user_without_regard_to_case_is_a_conflict() {
    // Entra keeps onPremisesImmutableId unique without case (so does the emulator, and so
    // apply would fail): the plan must not link a second user to the same anchor.
    let mut a = ad(1, "ojones");
    a.consistency_guid = Some(a.object_guid.0.into());
    let anchor = a.object_guid.to_base64();
    let swapped: String = anchor
        .chars()
        .map(|ch| {
            if ch.is_ascii_lowercase() {
                ch.to_ascii_uppercase()
            } else {
                ch.to_ascii_lowercase()
            }
        })
        .collect();
    assert_ne!(anchor, swapped);
    let mut holder = cloud("c9", "someone.else@example.com");
    holder.set_immutable_id(swapped.as_str());
    let twin = cloud("c1", "ojones@example.com");
    let p = run(&desired(), &[a], &[twin, holder]);
    assert!(
        !p.actions
            .iter()
            .any(|x| x.action == ActionKind::Link && x.directory == Side::Entra),
        "{:?}",
        kinds(&p)
    );
    let c = p
        .conflicts
        .iter()
        .find(|c| c.kind == ConflictKind::DuplicateAnchor)
        .expect("a duplicate_anchor conflict");
    assert!(
        c.message.contains("someone.else@example.com"),
        "{}",
        c.message
    );
}

#[test]
fn a_value_the_desired_state_sets_is_written_even_where_the_old_one_is_unread() {
    // The target's old value is unknown, but the declared one holds whatever it was; a clear
    // is never planned that way (None never differs from an unknown).
    let mut d = desired();
    d.identities.push(IdentitySpec {
        name: Some("ojones".into()),
        ad: Some(AdSelector::SamAccountName("ojones".into())),
        entra: None,
        ignore: false,
        attributes: [("department".to_owned(), "Finance".to_owned())].into(),
        licenses: None,
        origin: "x:1:1".into(),
    });
    let (a, c) = linked_pair(json!({"department": "Sales"}));
    let department = [crate::names::AttrName::from("department")];
    let p = plan(PlanInput {
        desired: &d,
        ad: std::slice::from_ref(&a),
        cloud: std::slice::from_ref(&c),
        taken: &[],
        reads: super::Reads {
            ad_unread: &department,
            ..Default::default()
        },
        tenant: &tenant(),
        groups: Default::default(),
    })
    .unwrap();
    assert_eq!(
        change(
            find(&p, ActionKind::Update, Side::Ad, "ojones"),
            "department"
        )
        .after,
        json!("Finance")
    );
    assert_eq!(
        change(
            find(&p, ActionKind::Update, Side::Entra, "ojones"),
            "department"
        )
        .after,
        json!("Finance")
    );
}

/// The plan's passes split over the cores give the plan one thread gives, byte for byte, and
/// so does its text (in tests, `parallel` splits every pass of more than a few objects in
/// three).
#[test]
fn a_plan_split_over_the_cores_is_the_plan_of_one_thread() {
    use crate::synthetic::{self, Mix};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("idsync.yaml"),
        synthetic::desired_yaml(3_000),
    )
    .unwrap();
    let d = crate::desired::load(dir.path()).unwrap();
    let (ad, cloud) = synthetic::generate(3_000, Mix::FirstRun);
    // The plan, and the text rendering of it (its actions are rendered in parts too).
    let json = |p: &Plan| {
        let text = crate::render::render(p, crate::render::Format::Text, Default::default());
        serde_json::to_string(p).unwrap() + &text
    };
    let split = json(&run(&d, &ad, &cloud));
    crate::parallel::SERIAL.store(true, std::sync::atomic::Ordering::Relaxed);
    let serial = json(&run(&d, &ad, &cloud));
    crate::parallel::SERIAL.store(false, std::sync::atomic::Ordering::Relaxed);
    assert!(split.len() > 100_000, "a plan with much in it");
    assert!(split == serial, "the split plan differs from one thread's");
}
