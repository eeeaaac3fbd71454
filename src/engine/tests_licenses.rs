//! Licenses on objects built in memory. Graph's preconditions: a user needs a usageLocation
//! (user-assignlicense: "License assignment cannot be done for user with invalid usage
//! location"), and a SKU needs free units (subscribedSku: prepaidUnits.enabled less
//! consumedUnits); inherited licenses (licenseAssignmentStates[].assignedByGroup) are the
//! group's to remove.

use serde_json::json;

use super::tests::{cloud, desired, tenant};
use super::{PlanError, PlanInput, plan};
use crate::desired::{DesiredState, LicenseSpec};
use crate::directory::model::{Part, Sku};
use crate::directory::{CloudUser, Tenant};
use crate::plan::{NoteKind, Plan};

const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
const EMS: &str = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e";

fn skus(free_e3: u64) -> Tenant {
    let mut t = tenant();
    t.skus = Part::Read(vec![
        Sku {
            sku_id: E3.into(),
            sku_part_number: "ENTERPRISEPACK".into(),
            enabled_units: 10,
            consumed_units: 10 - free_e3,
            service_plans: vec![],
        },
        Sku {
            sku_id: EMS.into(),
            sku_part_number: "EMS".into(),
            enabled_units: 10,
            consumed_units: 0,
            service_plans: vec![(
                "c1ec4a95-1f05-45b3-a911-aa3fa01094f5".into(),
                "INTUNE_A".into(),
            )],
        },
    ]);
    t
}

fn license(sku: &str) -> LicenseSpec {
    LicenseSpec {
        sku: sku.into(),
        disabled_plans: vec![],
        origin: "idsync.yaml:40:7".into(),
    }
}

fn user(
    id: &str,
    upn: &str,
    location: Option<&str>,
    licenses: serde_json::Value,
    states: serde_json::Value,
) -> CloudUser {
    let mut c = cloud(id, upn);
    c.properties.insert("usageLocation", json!(location));
    c.properties.insert("assignedLicenses", licenses);
    c.properties.insert("licenseAssignmentStates", states);
    c
}

fn run(d: &DesiredState, cloud: &[CloudUser], t: &Tenant) -> Result<Plan, PlanError> {
    plan(PlanInput {
        desired: d,
        ad: &[],
        cloud,
        taken: &[],
        reads: Default::default(),
        tenant: t,
        groups: Default::default(),
    })
}

fn with_default(sku: &str) -> DesiredState {
    let mut d = desired();
    d.default_licenses = Some(vec![license(sku)]);
    d
}

#[test]
fn the_default_license_is_added_where_it_is_missing() {
    let u = user("c1", "ann@example.com", Some("DE"), json!([]), json!([]));
    let p = run(&with_default("enterprisepack"), &[u], &skus(5)).unwrap();
    let a = &p.actions[0];
    assert_eq!(a.changes[0].attribute, "assignedLicenses");
    assert_eq!(
        a.changes[0].added(),
        [format!("ENTERPRISEPACK ({E3})").as_str()]
    );
    assert_eq!(
        crate::engine::parse_license_value(&a.changes[0].added()[0]),
        Some((E3.to_owned(), vec![]))
    );
    // Listed as unlicensed until the plan is applied.
    assert!(
        p.notes
            .iter()
            .any(|n| n.kind == NoteKind::Unlicensed && n.message.contains("ann@example.com"))
    );
}

#[test]
fn no_usage_location_is_an_error_and_no_license() {
    let u = user("c1", "ann@example.com", None, json!([]), json!([]));
    let p = run(&with_default("ENTERPRISEPACK"), &[u], &skus(5)).unwrap();
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert!(p.diagnostics.iter().any(|x| x.rule == "usage_location"));
}

#[test]
fn inherited_licenses_are_never_removed_per_user_and_direct_ones_are() {
    let u = user(
        "c1",
        "ann@example.com",
        Some("DE"),
        json!([{"skuId": E3, "disabledPlans": []}, {"skuId": EMS, "disabledPlans": []}]),
        json!([{"skuId": E3, "disabledPlans": [], "assignedByGroup": "g1"},
               {"skuId": EMS, "disabledPlans": [], "assignedByGroup": null}]),
    );
    let mut d = desired();
    d.default_licenses = Some(vec![]);
    let p = run(&d, &[u], &skus(5)).unwrap();
    let a = &p.actions[0];
    assert_eq!(a.changes[0].removed(), [format!("EMS ({EMS})").as_str()]);
    assert!(a.changes[0].added().is_empty());
}

#[test]
fn too_few_free_units_is_a_seats_error_and_no_assignment_of_that_sku() {
    let users: Vec<CloudUser> = (0..3)
        .map(|n| {
            user(
                &format!("c{n}"),
                &format!("u{n}@example.com"),
                Some("DE"),
                json!([]),
                json!([]),
            )
        })
        .collect();
    let p = run(&with_default("ENTERPRISEPACK"), &users, &skus(2)).unwrap();
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    let seats = p.diagnostics.iter().find(|x| x.rule == "seats").unwrap();
    assert!(
        seats.message.contains("2 free") && seats.message.contains("assigns 3"),
        "{}",
        seats.message
    );
    // Enough units: all three.
    let p = run(&with_default("ENTERPRISEPACK"), &users, &skus(3)).unwrap();
    assert_eq!(p.actions.len(), 3);
}

#[test]
fn an_unknown_sku_or_plan_is_an_error_at_its_line_with_the_closest_names() {
    let u = user("c1", "ann@example.com", Some("DE"), json!([]), json!([]));
    let Err(PlanError::Licenses(e)) = run(
        &with_default("ENTERPRISEPAK"),
        std::slice::from_ref(&u),
        &skus(5),
    ) else {
        panic!("an unknown SKU must fail the plan");
    };
    assert!(e[0].starts_with("idsync.yaml:40:7: "), "{e:?}");
    assert!(e[0].contains("did you mean ENTERPRISEPACK"), "{e:?}");
    let mut d = desired();
    d.default_licenses = Some(vec![LicenseSpec {
        disabled_plans: vec!["INTUNE_B".into()],
        ..license("EMS")
    }]);
    let Err(PlanError::Licenses(e)) = run(&d, &[u], &skus(5)) else {
        panic!("an unknown plan must fail the plan");
    };
    assert!(e[0].contains("INTUNE_A"), "{e:?}");
}

#[test]
fn unknown_subscriptions_plan_no_license_and_say_so() {
    let u = user("c1", "ann@example.com", Some("DE"), json!([]), json!([]));
    let p = run(&with_default("ENTERPRISEPACK"), &[u], &tenant()).unwrap();
    assert!(p.actions.is_empty());
    assert!(
        p.notes
            .iter()
            .any(|n| n.kind == NoteKind::Assumption && n.message.contains("subscriptions"))
    );
}

#[test]
fn a_group_gets_its_licenses_and_its_members_count_as_units() {
    use crate::desired::{EntraGroupSelector, GroupSpec, GroupType, Membership};
    use crate::directory::model::CloudGroup;
    let group = CloudGroup {
        id: "g1".into(),
        display_name: "Sales".into(),
        security_enabled: true,
        members: Some(vec!["a".into(), "b".into(), "c".into()]),
        assigned_licenses: Some(vec![]),
        ..Default::default()
    };
    let mut d = desired();
    d.groups = vec![GroupSpec {
        name: "sales".into(),
        ad: None,
        entra: Some(EntraGroupSelector::Id("g1".into())),
        group_type: GroupType::Security,
        members: Membership::Unmanaged,
        ignore: false,
        licenses: Some(vec![license("ENTERPRISEPACK")]),
        origin: "groups.yaml:1:3".into(),
    }];
    let run_with = |free: u64| {
        plan(PlanInput {
            desired: &d,
            ad: &[],
            cloud: &[],
            taken: &[],
            reads: Default::default(),
            tenant: &skus(free),
            groups: crate::engine::Groups {
                cloud: std::slice::from_ref(&group),
                ..Default::default()
            },
        })
        .unwrap()
    };
    let p = run_with(3);
    let a = p
        .actions
        .iter()
        .find(|a| a.changes[0].attribute == "assignedLicenses")
        .expect("a group license");
    assert_eq!(a.kind, crate::plan::ObjectKind::Group);
    assert_eq!(
        a.changes[0].added(),
        [format!("ENTERPRISEPACK ({E3})").as_str()]
    );
    // Three members need three units.
    let p = run_with(2);
    assert!(p.diagnostics.iter().any(|x| x.rule == "seats"));
}
