//! Each forecast rule on a small case, citing the Microsoft page that documents it
//! (MicrosoftDocs/entra-docs, `docs/identity/hybrid/connect/<page>.md`).

use serde_json::json;

use super::super::tests::{OU, ad, cloud, desired, run, run_in, tenant, with_provision};
use crate::desired::{AdSelector, IdentitySpec, SoftMatchKey};
use crate::directory::Tenant;
use crate::directory::model::{Part, SyncFeatures};
use crate::plan::{Forecast, ForecastKind, ForecastSeverity, Plan, Value};

fn of(p: &Plan, kind: ForecastKind) -> Vec<&Forecast> {
    p.forecast.iter().filter(|f| f.kind == kind).collect()
}

fn with_features(f: impl FnOnce(&mut SyncFeatures)) -> Tenant {
    let mut t = tenant();
    let mut features = SyncFeatures::ASSUMED;
    f(&mut features);
    t.sync = Part::Read(features);
    t
}

/// A cloud-managed user and its AD twin, soft-matching on the UPN.
fn pair() -> (crate::directory::AdUser, crate::directory::CloudUser) {
    let mut a = ad(1, "jdoe");
    a.attributes.insert("title".into(), ["Engineer"]);
    a.attributes.insert("department".into(), ["R&D"]);
    let mut c = cloud("c1", "jdoe@example.com");
    c.properties.insert("jobTitle", json!("Senior Engineer"));
    c.properties.insert("department", json!("R&D"));
    (a, c)
}

// how-to-connect-install-existing-tenant, "Sync with existing users in Microsoft Entra ID":
// "All attributes in Microsoft Entra ID with a value in on-premises AD are overwritten".
#[test]
fn a_cloud_managed_user_taken_over_gets_ads_values() {
    let (a, c) = pair();
    let p = run(&desired(), &[a], &[c]);
    let over = of(&p, ForecastKind::Overwrite);
    let titles: Vec<_> = over
        .iter()
        .filter(|f| f.attribute.as_deref() == Some("jobTitle"))
        .collect();
    assert_eq!(titles.len(), 1, "{:#?}", p.forecast);
    let f = titles[0];
    assert_eq!(f.severity, ForecastSeverity::Info);
    assert_eq!(f.before, Some(Value::from("Senior Engineer")));
    assert_eq!(f.after, Some(Value::from("Engineer")));
    assert!(f.message.contains("jobTitle"), "{}", f.message);
    // Equal values are not foreseen; displayName idsync converges itself is not either.
    assert!(
        over.iter()
            .all(|f| f.attribute.as_deref() != Some("department")),
        "{over:#?}"
    );
    // A synced user is no takeover: its attributes already flow from AD.
    let (a, mut c) = pair();
    c.sync_enabled = true;
    c.set_immutable_id(crate::engine::anchor::immutable_id(&a, Default::default()).as_str());
    let p = run(&desired(), &[a], &[c]);
    assert!(
        of(&p, ForecastKind::Overwrite).is_empty(),
        "{:#?}",
        p.forecast
    );
}

// Same page, and reference-connect-sync-attributes-synchronized: an attribute idsync
// converges under `attributes:` is no surprise (the plan sets it first).
#[test]
fn an_attribute_the_plan_converges_is_not_foreseen() {
    let (a, c) = pair();
    let mut d = desired();
    d.attributes
        .insert("jobTitle".into(), crate::desired::Authority::Ad);
    let p = run(&d, &[a], &[c]);
    assert!(
        of(&p, ForecastKind::Overwrite)
            .iter()
            .all(|f| f.attribute.as_deref() != Some("jobTitle")),
        "{:#?}",
        p.forecast
    );
}

// reference-connect-sync-attributes-synchronized: accountEnabled is synchronized from AD, so
// a disabled AD account disables its cloud twin.
#[test]
fn a_disabled_ad_twin_disables_the_cloud_account() {
    let (mut a, c) = pair();
    a.user_account_control = Some(514);
    let p = run(&desired(), &[a], &[c]);
    let d = of(&p, ForecastKind::Disable);
    assert_eq!(d.len(), 1, "{:#?}", p.forecast);
    assert_eq!(d[0].severity, ForecastSeverity::Warning);
    assert_eq!(d[0].after, Some(Value::Bool(false)));
    assert!(d[0].message.contains("disabled in AD"), "{}", d[0].message);
    // Forecasts never change what is planned.
    assert!(!p.actions.is_empty());
}

// how-to-connect-install-existing-tenant (password hash sync replaces the cloud password with
// the on-premises one): linked pairs get one summary entry; each account idsync creates with
// a random password a warning; with password hash sync off, nothing.
#[test]
fn password_hash_sync_replaces_cloud_passwords() {
    let (a, c) = pair();
    let mut alva = cloud("c2", "alva.wood@example.com");
    alva.set_mail_nickname("alva.wood");
    let d = with_provision(desired());
    let p = run(&d, std::slice::from_ref(&a), &[c.clone(), alva.clone()]);
    let pw = of(&p, ForecastKind::Password);
    assert_eq!(pw.len(), 2, "{:#?}", p.forecast);
    let created: Vec<_> = pw
        .iter()
        .filter(|f| f.severity == ForecastSeverity::Warning)
        .collect();
    assert_eq!(created.len(), 1);
    assert!(
        created[0].message.contains("random password"),
        "{}",
        created[0].message
    );
    assert!(created[0].message.contains("alva.wood@example.com"));
    let summary: Vec<_> = pw
        .iter()
        .filter(|f| f.severity == ForecastSeverity::Info)
        .collect();
    assert!(
        summary[0].message.contains("1 user"),
        "{}",
        summary[0].message
    );

    let off = with_features(|f| f.password_sync = false);
    let p = run_in(
        &d,
        std::slice::from_ref(&a),
        &[c.clone(), alva.clone()],
        &off,
    );
    assert!(
        of(&p, ForecastKind::Password).is_empty(),
        "{:#?}",
        p.forecast
    );

    // Unknown features: assumed on, and said so.
    let mut unknown = tenant();
    unknown.sync = Part::Unknown("not read".into());
    let p = run_in(&d, &[a], &[c, alva], &unknown);
    let pw = of(&p, ForecastKind::Password);
    assert_eq!(pw.len(), 2);
    assert!(pw.iter().all(|f| f.message.contains("assumed on")));
}

// plan-connect-userprincipalname, "Nonverified UPN suffix": Entra calculates
// <MailNickName>@<initial domain>; the warning there: invalid characters do the same.
#[test]
fn an_unverified_suffix_or_an_invalid_upn_becomes_the_moera() {
    let mut a = ad(1, "jdoe");
    a.set_upn("jdoe@unverified.example");
    a.attributes.insert("mailNickname".into(), ["john.doe"]);
    let mut b = ad(2, "ann");
    b.set_upn("ann smith@example.com");
    let p = run(&desired(), &[a, b], &[]);
    let upn = of(&p, ForecastKind::Upn);
    assert_eq!(upn.len(), 2, "{:#?}", p.forecast);
    let jdoe = upn
        .iter()
        .find(|f| f.identity == "jdoe@unverified.example")
        .unwrap();
    assert_eq!(
        jdoe.after,
        Some(Value::from("john.doe@example.onmicrosoft.com"))
    );
    assert!(
        jdoe.message.contains("not a verified domain"),
        "{}",
        jdoe.message
    );
    let ann = upn
        .iter()
        .find(|f| f.identity == "ann smith@example.com")
        .unwrap();
    assert!(
        ann.message.contains("invalid character ' '"),
        "{}",
        ann.message
    );
    // Without the domains read, the initial domain is named as a placeholder.
    let mut t = with_features(|_| {});
    t.domains = Part::Read(vec![]);
    let mut a = ad(1, "jdoe");
    a.set_upn("jdoe@unverified.example");
    let p = run_in(&desired(), &[a], &[], &t);
    assert_eq!(
        of(&p, ForecastKind::Upn)[0].after,
        Some(Value::from("jdoe@<initial>.onmicrosoft.com"))
    );
}

// how-to-connect-syncservice-features, "Synchronize userPrincipalName updates": with the
// feature off, the UPN of a licensed managed user is not updated from AD.
#[test]
fn a_upn_change_of_a_managed_user_waits_for_synchronize_upn() {
    let mut a = ad(1, "jdoe");
    a.set_upn("john.doe@example.com");
    let mut c = cloud("c1", "jdoe@example.com");
    c.sync_enabled = true;
    c.set_immutable_id(crate::engine::anchor::immutable_id(&a, Default::default()).as_str());
    // AD masters the UPN, so the plan leaves the cloud's to Entra Connect (pending_sync).
    let mut d = desired();
    d.attributes
        .insert("userPrincipalName".into(), crate::desired::Authority::Ad);
    let p = run(&d, &[a.clone()], &[c.clone()]);
    let upn = of(&p, ForecastKind::Upn);
    assert_eq!(upn.len(), 1, "{:#?}", p.forecast);
    assert!(
        upn[0]
            .message
            .contains("synchronizeUpnForManagedUsersEnabled is off")
    );
    let on = with_features(|f| f.synchronize_upn_for_managed_users = true);
    let p = run_in(&d, &[a], &[c], &on);
    assert!(of(&p, ForecastKind::Upn).is_empty(), "{:#?}", p.forecast);
}

// how-to-connect-install-existing-tenant, "Sync with existing users": Entra soft-matches on
// the primary SMTP address, then the UPN (how-to-connect-syncservice-features,
// SoftMatchOnUpn) — whatever idsync's matching.soft_match or `ignore` say.
#[test]
fn entra_connect_soft_matches_what_idsync_leaves_apart() {
    let mut a = ad(1, "jdoe");
    a.set_proxy_addresses(["SMTP:john@example.com"]);
    let mut c = cloud("c1", "other@example.com");
    c.set_proxy_addresses(["SMTP:john@example.com"]);
    let mut d = desired();
    d.soft_match = vec![SoftMatchKey::Upn];
    let p = run(&d, &[a.clone()], &[c.clone()]);
    let sm = of(&p, ForecastKind::SoftMatch);
    assert_eq!(sm.len(), 1, "{:#?}", p.forecast);
    assert!(
        sm[0].message.contains("primary SMTP address"),
        "{}",
        sm[0].message
    );
    assert!(
        sm[0].message.contains("matching.soft_match"),
        "{}",
        sm[0].message
    );

    // An ignored AD user is still synced, and soft-matched by its UPN.
    let mut d = desired();
    d.identities.push(IdentitySpec {
        name: None,
        ad: Some(AdSelector::SamAccountName("jdoe".into())),
        entra: None,
        licenses: None,
        origin: "identities.yaml:1:3".into(),
        ignore: true,
        attributes: Default::default(),
    });
    let p = run(&d, &[ad(1, "jdoe")], &[cloud("c1", "jdoe@example.com")]);
    let sm = of(&p, ForecastKind::SoftMatch);
    assert_eq!(sm.len(), 1, "{:#?}", p.forecast);
    assert!(sm[0].message.contains("ignore: true"), "{}", sm[0].message);
    assert!(p.actions.is_empty());

    // Soft match blocked: nothing to foresee there.
    let blocked = with_features(|f| f.block_soft_match = true);
    let p = run_in(
        &d,
        &[ad(1, "jdoe")],
        &[cloud("c1", "jdoe@example.com")],
        &blocked,
    );
    assert!(
        of(&p, ForecastKind::SoftMatch).is_empty(),
        "{:#?}",
        p.forecast
    );
}

// how-to-connect-syncservice-duplicate-attribute-resiliency: an object with a duplicate UPN is
// created with it quarantined, <prefix>+NNNN@<initial domain>; and a cloud user that already
// is such a twin carries it in onPremisesProvisioningErrors.
#[test]
fn duplicates_are_quarantined_and_twins_are_named() {
    // The cloud user carries another anchor: no match (invalid_soft_match), a second user.
    let a = ad(1, "jdoe");
    let mut c = cloud("c1", "jdoe@example.com");
    c.set_immutable_id("c29tZW9uZSBlbHNlIGVudGlyZWx5");
    let p = run(&desired(), &[a], &[c]);
    let dup = of(&p, ForecastKind::Duplicate);
    assert_eq!(dup.len(), 1, "{:#?}", p.forecast);
    assert_eq!(
        dup[0].after,
        Some(Value::from("jdoe+NNNN@example.onmicrosoft.com"))
    );

    let mut twin = cloud("c2", "jdoe+1234@example.onmicrosoft.com");
    twin.properties.insert(
        "onPremisesProvisioningErrors",
        json!([{"category": "PropertyConflict", "propertyCausingError": "UserPrincipalName",
                "value": "jdoe@example.com", "occurredDateTime": "2026-01-01T00:00:00Z"}]),
    );
    let p = run(&desired(), &[], &[twin]);
    let dup = of(&p, ForecastKind::Duplicate);
    assert_eq!(dup.len(), 1, "{:#?}", p.forecast);
    assert!(
        dup[0]
            .message
            .contains("quarantined the duplicate UserPrincipalName jdoe@example.com")
    );
}

// The common case: synced, converged pairs foresee nothing.
#[test]
fn a_converged_synced_directory_foresees_nothing() {
    let a = ad(1, "jdoe");
    let mut c = cloud("c1", "jdoe@example.com");
    c.sync_enabled = true;
    c.set_immutable_id(crate::engine::anchor::immutable_id(&a, Default::default()).as_str());
    let p = run(&desired(), &[a], &[c]);
    assert!(p.forecast.is_empty(), "{:#?}", p.forecast);
    let _ = OU;
}
