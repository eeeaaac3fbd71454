//! The group stage on objects built in memory. Entra Connect's group matching rules are from
//! how-to-connect-install-existing-tenant ("Other objects than users"); ObjectTypeMismatch from
//! tshoot-connect-sync-errors.

use crate::desired::{
    AdGroupSelector, DeprovisionAction, DesiredState, EntraGroupSelector, EntraSelector, GroupSpec,
    GroupType, IdentitySpec, MemberRef, Membership,
};
use crate::directory::model::{AdGroup, CloudContact, CloudGroup, GROUP_TYPE_SECURITY};
use crate::directory::{AdUser, CloudUser, Dn};
use crate::engine::tests::{OU, ad, cloud, desired, guid, tenant, with_provision};
use crate::engine::{Groups, PlanInput, plan};
use crate::names::{SamAccountName, SmtpAddress, Upn};
use crate::plan::{
    Action, ActionKind, ConflictKind, ForecastKind, NoteKind, ObjectKind, Plan, Side,
};

fn ad_group(n: u8, sam: &str, members: &[&AdUser]) -> AdGroup {
    let mut g = AdGroup::new(Dn::parse(&format!("CN={sam},{OU}")).unwrap(), guid(100 + n));
    g.attributes.insert("sAMAccountName".into(), vec![sam]);
    g.group_type = Some(GROUP_TYPE_SECURITY | 0x2);
    g.usn_changed = Some(5000 + n as u64);
    g.members = Some(members.iter().map(|u| u.dn.clone()).collect());
    g
}

fn cloud_group(id: &str, name: &str, members: &[&CloudUser]) -> CloudGroup {
    CloudGroup {
        id: id.into(),
        display_name: name.into(),
        security_enabled: true,
        members: Some(members.iter().map(|u| u.id().to_owned()).collect()),
        ..Default::default()
    }
}

fn mail_enabled(mut g: CloudGroup, smtp: &str) -> CloudGroup {
    g.mail_enabled = true;
    g.mail = Some(smtp.into());
    g.proxy_addresses = vec![format!("SMTP:{smtp}")];
    g
}

fn spec(name: &str) -> GroupSpec {
    GroupSpec {
        name: name.into(),
        ad: None,
        entra: None,
        group_type: GroupType::Security,
        members: Membership::Unmanaged,
        ignore: false,
        licenses: None,
        origin: "groups.yaml:1:3".into(),
    }
}

fn pair_spec(name: &str, upn: &str, sam: &str) -> IdentitySpec {
    IdentitySpec {
        name: Some(name.into()),
        ad: Some(crate::desired::AdSelector::SamAccountName(
            SamAccountName::new(sam),
        )),
        entra: Some(EntraSelector::Upn(Upn::new(upn))),
        ignore: false,
        attributes: Default::default(),
        licenses: None,
        origin: "identities.yaml:1:3".into(),
    }
}

struct World {
    ad: Vec<AdUser>,
    cloud: Vec<CloudUser>,
    groups: Vec<AdGroup>,
    cloud_groups: Vec<CloudGroup>,
    contacts: Vec<CloudContact>,
}

fn run(d: &DesiredState, w: &World) -> Plan {
    plan(PlanInput {
        desired: d,
        ad: &w.ad,
        cloud: &w.cloud,
        taken: &[],
        reads: Default::default(),
        tenant: &tenant(),
        groups: Groups {
            ad: &w.groups,
            ad_contacts: &[],
            cloud: &w.cloud_groups,
            cloud_contacts: &w.contacts,
            cloud_unread: None,
        },
    })
    .expect("plan")
}

/// Two linked users: adam (AD 1, cloud c1) and bea (AD 2, cloud c2), hard-matched.
fn two_pairs() -> (Vec<AdUser>, Vec<CloudUser>) {
    let (a1, a2) = (ad(1, "adam"), ad(2, "bea"));
    let mut c1 = cloud("c1", "adam@example.com");
    let mut c2 = cloud("c2", "bea@example.com");
    c1.set_immutable_id(Some(a1.object_guid.to_base64().as_str()));
    c2.set_immutable_id(Some(a2.object_guid.to_base64().as_str()));
    (vec![a1, a2], vec![c1, c2])
}

fn group_actions(p: &Plan) -> Vec<&Action> {
    p.actions
        .iter()
        .filter(|a| a.kind == ObjectKind::Group)
        .collect()
}

#[test]
fn a_cloud_first_security_group_is_created_in_ad_with_its_members_and_forecast_as_duplicated() {
    let (ad_users, cloud_users) = two_pairs();
    let w = World {
        cloud_groups: vec![cloud_group(
            "g1",
            "Engineering",
            &[&cloud_users[0], &cloud_users[1]],
        )],
        ad: ad_users,
        cloud: cloud_users,
        groups: vec![],
        contacts: vec![],
    };
    let mut d = with_provision(desired());
    let mut g = spec("engineering");
    g.entra = Some(EntraGroupSelector::Id("g1".into()));
    g.members = Membership::From(Side::Entra);
    d.groups = vec![g];
    let p = run(&d, &w);
    let actions = group_actions(&p);
    assert_eq!(actions.len(), 2, "{actions:#?}");
    let create = actions
        .iter()
        .find(|a| a.action == ActionKind::Create)
        .unwrap();
    assert_eq!(create.directory, Side::Ad);
    assert!(create.target.starts_with("CN=Engineering,OU=Cloud,"));
    let marker = create
        .changes
        .iter()
        .find(|c| c.attribute == "adminDescription")
        .unwrap();
    assert_eq!(marker.after.as_str(), Some("idsync:g1"));
    let members = actions
        .iter()
        .find(|a| a.action == ActionKind::Update)
        .unwrap();
    assert_eq!(members.depends_on.as_ref(), [create.id]);
    assert_eq!(members.changes[0].attribute, "member");
    assert_eq!(members.changes[0].added().len(), 2);
    // Not mail-enabled: Entra Connect cannot match it, and syncs the new AD group beside it.
    let f: Vec<_> = p
        .forecast
        .iter()
        .filter(|f| f.kind == ForecastKind::Group)
        .collect();
    assert_eq!(f.len(), 1, "{:#?}", p.forecast);
    assert!(
        f[0].message.contains("not mail-enabled"),
        "{}",
        f[0].message
    );
}

#[test]
fn a_mail_enabled_cloud_group_soft_matches_its_ad_twin_and_is_not_forecast() {
    let (ad_users, cloud_users) = two_pairs();
    let mut g = ad_group(1, "Sales", &[&ad_users[0]]);
    g.attributes
        .insert("proxyAddresses".into(), vec!["SMTP:sales@example.com"]);
    let w = World {
        cloud_groups: vec![mail_enabled(
            cloud_group("g1", "Sales", &[&cloud_users[0]]),
            "sales@example.com",
        )],
        groups: vec![g],
        ad: ad_users,
        cloud: cloud_users,
        contacts: vec![],
    };
    let mut d = desired();
    let mut s = spec("sales");
    s.ad = Some(AdGroupSelector::SamAccountName(SamAccountName::new(
        "Sales",
    )));
    s.members = Membership::Exact(vec![MemberRef::Upn(Upn::new("bea@example.com"))]);
    d.groups = vec![s];
    let p = run(&d, &w);
    let actions = group_actions(&p);
    let ad_edit = actions.iter().find(|a| a.directory == Side::Ad).unwrap();
    assert_eq!(ad_edit.changes[0].added(), [w.ad[1].dn.as_str()]);
    assert_eq!(ad_edit.changes[0].removed(), [w.ad[0].dn.as_str()]);
    // Graph refuses member writes on a mail-enabled security group (Exchange Online's); its
    // members follow AD once Entra Connect soft-matches the two.
    assert!(
        actions.iter().all(|a| a.directory == Side::Ad),
        "{actions:#?}"
    );
    assert!(
        p.notes.iter().any(|n| n.kind == NoteKind::PendingSync
            && n.message
                .contains(graph_rules::group::MAIL_ENABLED_MEMBERS_MESSAGE)),
        "{:#?}",
        p.notes
    );
    assert!(
        p.forecast.iter().all(|f| f.kind != ForecastKind::Group),
        "{:#?}",
        p.forecast
    );
}

#[test]
fn a_cloud_security_group_gets_per_value_members_edits() {
    let (ad_users, cloud_users) = two_pairs();
    let w = World {
        groups: vec![ad_group(1, "Ops", &[&ad_users[0]])],
        cloud_groups: vec![cloud_group("g1", "Ops", &[&cloud_users[0]])],
        ad: ad_users,
        cloud: cloud_users,
        contacts: vec![],
    };
    let mut d = desired();
    let mut s = spec("ops");
    s.ad = Some(AdGroupSelector::SamAccountName(SamAccountName::new("Ops")));
    s.entra = Some(EntraGroupSelector::Id("g1".into()));
    s.members = Membership::Exact(vec![MemberRef::Upn(Upn::new("bea@example.com"))]);
    d.groups = vec![s];
    let p = run(&d, &w);
    let cloud_edit = group_actions(&p)
        .into_iter()
        .find(|a| a.directory == Side::Entra)
        .expect("an Entra members edit");
    assert_eq!(cloud_edit.changes[0].attribute, "members");
    assert_eq!(cloud_edit.changes[0].added(), ["c2"]);
    assert_eq!(cloud_edit.changes[0].removed(), ["c1"]);
    assert!(cloud_edit.precondition.is_some());
    // Paired by name only: Entra Connect cannot match a security group without mail.
    assert!(p.forecast.iter().any(|f| f.kind == ForecastKind::Group));
}

#[test]
fn a_synced_group_is_paired_by_sid_and_its_cloud_members_converge_through_ad() {
    let (ad_users, cloud_users) = two_pairs();
    let mut g = ad_group(1, "Staff", &[&ad_users[0]]);
    g.object_sid = Some("S-1-5-21-1-2-3-1105".into());
    let mut c = cloud_group("g1", "Staff", &[&cloud_users[0]]);
    c.sync_enabled = true;
    c.on_premises_sid = Some("S-1-5-21-1-2-3-1105".into());
    let w = World {
        groups: vec![g],
        cloud_groups: vec![c],
        ad: ad_users,
        cloud: cloud_users,
        contacts: vec![],
    };
    let mut d = desired();
    let mut s = spec("staff");
    s.ad = Some(AdGroupSelector::SamAccountName(SamAccountName::new(
        "Staff",
    )));
    s.members = Membership::Exact(vec![
        MemberRef::Upn(Upn::new("adam@example.com")),
        MemberRef::Upn(Upn::new("bea@example.com")),
    ]);
    d.groups = vec![s];
    let p = run(&d, &w);
    let actions = group_actions(&p);
    assert_eq!(actions.len(), 1, "only AD is written: {actions:#?}");
    assert_eq!(actions[0].directory, Side::Ad);
    assert!(
        p.notes
            .iter()
            .any(|n| n.kind == NoteKind::PendingSync && n.message.contains("from AD")),
        "{:#?}",
        p.notes
    );
}

#[test]
fn one_member_removed_from_a_1600_member_group_is_one_member_delete() {
    let users: Vec<AdUser> = (0..1600u32)
        .map(|n| {
            let mut u = ad(0, &format!("u{n}"));
            u.object_guid.0[1] = (n >> 8) as u8;
            u.object_guid.0[2] = n as u8;
            u
        })
        .collect();
    let refs: Vec<&AdUser> = users.iter().collect();
    let g = ad_group(1, "Big", &refs);
    let w = World {
        groups: vec![g],
        ad: users.clone(),
        cloud: vec![],
        cloud_groups: vec![],
        contacts: vec![],
    };
    let mut d = desired();
    let mut s = spec("big");
    s.ad = Some(AdGroupSelector::SamAccountName(SamAccountName::new("Big")));
    s.members = Membership::Exact(
        (1..1600)
            .map(|n| MemberRef::Upn(Upn::new(format!("u{n}@example.com"))))
            .collect(),
    );
    d.groups = vec![s];
    let p = run(&d, &w);
    let actions = group_actions(&p);
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].changes[0].removed(), [users[0].dn.as_str()]);
    assert!(actions[0].changes[0].added().is_empty());
}

#[test]
fn a_member_the_plan_creates_waits_for_its_create() {
    let ad_users = vec![ad(1, "adam")];
    let mut c1 = cloud("c1", "adam@example.com");
    c1.set_immutable_id(Some(ad_users[0].object_guid.to_base64().as_str()));
    let mut alva = cloud("c9", "alva.wood@example.com");
    alva.set_mail_nickname(Some("alva.wood"));
    let w = World {
        groups: vec![ad_group(1, "Staff", &[&ad_users[0]])],
        ad: ad_users,
        cloud: vec![c1, alva],
        cloud_groups: vec![],
        contacts: vec![],
    };
    let mut d = with_provision(desired());
    let mut s = spec("staff");
    s.ad = Some(AdGroupSelector::SamAccountName(SamAccountName::new(
        "Staff",
    )));
    s.members = Membership::Exact(vec![
        MemberRef::Upn(Upn::new("adam@example.com")),
        MemberRef::Upn(Upn::new("alva.wood@example.com")),
    ]);
    d.groups = vec![s];
    let p = run(&d, &w);
    let create = p
        .actions
        .iter()
        .find(|a| a.action == ActionKind::Create && a.kind == ObjectKind::User)
        .expect("alva is provisioned");
    let edit = group_actions(&p)[0];
    assert_eq!(edit.changes[0].added(), [create.target.as_str()]);
    assert_eq!(edit.depends_on.as_ref(), [create.id]);
}

#[test]
fn a_user_whose_address_a_cloud_group_holds_is_an_object_type_mismatch() {
    let mut u = ad(1, "tax");
    u.set_proxy_addresses(["SMTP:tax@example.com"]);
    let w = World {
        ad: vec![u],
        cloud: vec![],
        groups: vec![],
        cloud_groups: vec![mail_enabled(
            cloud_group("g1", "Tax", &[]),
            "tax@example.com",
        )],
        contacts: vec![],
    };
    let mut d = desired();
    d.provision_entra = true;
    let p = run(&d, &w);
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert_eq!(p.conflicts.len(), 1);
    assert_eq!(p.conflicts[0].kind, ConflictKind::ObjectTypeMismatch);
    assert!(
        p.conflicts[0].message.contains("Tax"),
        "{}",
        p.conflicts[0].message
    );

    // A contact holding it, alike.
    let w = World {
        cloud_groups: vec![],
        contacts: vec![CloudContact {
            id: "k1".into(),
            display_name: "Tax office".into(),
            mail: Some("tax@example.com".into()),
            ..Default::default()
        }],
        ..w
    };
    let p = run(&d, &w);
    assert_eq!(p.conflicts[0].kind, ConflictKind::ObjectTypeMismatch);
}

#[test]
fn a_group_that_is_not_there_is_a_missing_object_and_nothing_else() {
    let w = World {
        ad: vec![],
        cloud: vec![],
        groups: vec![],
        cloud_groups: vec![],
        contacts: vec![],
    };
    let mut d = desired();
    let mut s = spec("ghost");
    s.entra = Some(EntraGroupSelector::Mail(SmtpAddress::new(
        "ghost@example.com",
    )));
    d.groups = vec![s];
    let p = run(&d, &w);
    assert_eq!(p.conflicts[0].kind, ConflictKind::MissingObject);
    assert!(p.conflicts[0].message.contains("groups.yaml:1:3"));
    assert!(p.actions.is_empty());
}

#[test]
fn unread_members_plan_no_membership() {
    let (ad_users, cloud_users) = two_pairs();
    let mut g = ad_group(1, "Staff", &[]);
    g.members = None;
    let w = World {
        groups: vec![g],
        ad: ad_users,
        cloud: cloud_users,
        cloud_groups: vec![],
        contacts: vec![],
    };
    let mut d = desired();
    let mut s = spec("staff");
    s.ad = Some(AdGroupSelector::SamAccountName(SamAccountName::new(
        "Staff",
    )));
    s.members = Membership::Exact(vec![MemberRef::Upn(Upn::new("adam@example.com"))]);
    d.groups = vec![s];
    let p = run(&d, &w);
    assert!(group_actions(&p).is_empty());
    assert!(p.notes.iter().any(|n| n.kind == NoteKind::Assumption));
}

#[test]
fn nested_groups_name_each_other_and_wait_for_creates() {
    let (ad_users, cloud_users) = two_pairs();
    let w = World {
        groups: vec![ad_group(1, "All", &[])],
        cloud_groups: vec![cloud_group("g2", "Managers", &[&cloud_users[0]])],
        ad: ad_users,
        cloud: cloud_users,
        contacts: vec![],
    };
    let mut d = with_provision(desired());
    let mut all = spec("all");
    all.ad = Some(AdGroupSelector::SamAccountName(SamAccountName::new("All")));
    all.members = Membership::Exact(vec![MemberRef::Group("managers".into())]);
    let mut managers = spec("managers");
    managers.entra = Some(EntraGroupSelector::Id("g2".into()));
    d.groups = vec![all, managers];
    let p = run(&d, &w);
    let create = group_actions(&p)
        .into_iter()
        .find(|a| a.action == ActionKind::Create)
        .unwrap();
    let edit = group_actions(&p)
        .into_iter()
        .find(|a| a.identity.as_ref() == "all")
        .unwrap();
    assert_eq!(edit.changes[0].added(), [create.target.as_str()]);
    assert_eq!(edit.depends_on.as_ref(), [create.id]);
}

#[test]
fn groups_idsync_made_whose_cloud_group_is_gone_are_deleted_within_max_deletes() {
    let mut orphan = ad_group(1, "Old", &[]);
    orphan
        .attributes
        .insert("adminDescription".into(), vec!["idsync:gone"]);
    let w = World {
        groups: vec![orphan],
        cloud_groups: vec![cloud_group("g1", "Other", &[])],
        ad: vec![],
        cloud: vec![],
        contacts: vec![],
    };
    let mut d = with_provision(desired());
    d.groups = vec![spec("other")];
    d.groups[0].entra = Some(EntraGroupSelector::Id("g1".into()));
    d.deprovision_action = DeprovisionAction::Delete;
    let p = run(&d, &w);
    let delete = p
        .actions
        .iter()
        .find(|a| a.action == ActionKind::Delete)
        .expect("delete");
    assert_eq!(delete.kind, ObjectKind::Group);
    d.max_deletes = 0;
    let err = plan(PlanInput {
        desired: &d,
        ad: &w.ad,
        cloud: &w.cloud,
        taken: &[],
        reads: Default::default(),
        tenant: &tenant(),
        groups: Groups {
            ad: &w.groups,
            ad_contacts: &[],
            cloud: &w.cloud_groups,
            cloud_contacts: &[],
            cloud_unread: None,
        },
    });
    assert!(err.is_err(), "max_deletes covers groups");
}

#[test]
fn graph_cannot_create_a_distribution_list_so_it_is_a_diagnostic() {
    let mut g = ad_group(1, "News", &[]);
    g.group_type = Some(0x8);
    let w = World {
        groups: vec![g],
        ad: vec![],
        cloud: vec![],
        cloud_groups: vec![],
        contacts: vec![],
    };
    let mut d = desired();
    d.provision_entra = true;
    let mut s = spec("news");
    s.ad = Some(AdGroupSelector::SamAccountName(SamAccountName::new("News")));
    s.group_type = GroupType::Distribution;
    d.groups = vec![s];
    let p = run(&d, &w);
    assert!(group_actions(&p).is_empty());
    assert!(p.diagnostics.iter().any(|x| x.rule == "exchange_owned"));
}

#[test]
fn a_protected_group_gets_nothing() {
    let (ad_users, cloud_users) = two_pairs();
    let w = World {
        groups: vec![ad_group(1, "Admins", &[])],
        ad: ad_users,
        cloud: cloud_users,
        cloud_groups: vec![],
        contacts: vec![],
    };
    let mut d = desired();
    d.protect = vec![crate::desired::Selector::Ad(
        crate::desired::AdSelector::SamAccountName(SamAccountName::new("admins")),
    )];
    let mut s = spec("admins");
    s.ad = Some(AdGroupSelector::SamAccountName(SamAccountName::new(
        "Admins",
    )));
    s.members = Membership::Exact(vec![MemberRef::Upn(Upn::new("adam@example.com"))]);
    d.groups = vec![s];
    d.identities = vec![pair_spec("adam", "adam@example.com", "adam")];
    let p = run(&d, &w);
    assert!(group_actions(&p).is_empty());
    assert!(p.notes.iter().any(|n| n.kind == NoteKind::Protected));
}

#[test]
fn a_group_idsync_made_follows_the_provisioning_ou() {
    let mut g = ad_group(1, "Eng", &[]);
    g.attributes
        .insert("adminDescription".into(), vec!["idsync:g1"]);
    let w = World {
        groups: vec![g],
        cloud_groups: vec![cloud_group("g1", "Eng", &[])],
        ad: vec![],
        cloud: vec![],
        contacts: vec![],
    };
    let mut d = with_provision(desired());
    let mut s = spec("eng");
    s.entra = Some(EntraGroupSelector::Id("g1".into()));
    d.groups = vec![s];
    let p = run(&d, &w);
    let moves: Vec<_> = group_actions(&p)
        .into_iter()
        .filter(|a| a.action == ActionKind::Move)
        .collect();
    assert_eq!(moves.len(), 1, "{:#?}", p.actions);
    assert!(
        moves[0].changes[0]
            .after
            .as_str()
            .unwrap()
            .starts_with("CN=Eng,OU=Cloud,"),
        "{:?}",
        moves[0].changes
    );
}
