//! Every field situation applied to a live Samba AD (Entra from a snapshot file) converges,
//! and a second plan is empty; a saved plan goes stale when the AD object changes.

mod support;

use serde_json::json;
use support::live_fixture::*;
use support::samba::shared_dc;

fn provisioning(f: &LiveFixture<'_>, extra: &str) -> String {
    format!(
        "provision:\n  ad:\n    enabled: true\n    ou: \"{}\"\n    sam_account_name: \"{{mailNickname}}\"\n{extra}",
        f.cloud_ou()
    )
}

#[test]
fn cloud_first_tenant_gets_enabled_ad_accounts_with_anchors() {
    let f = LiveFixture::new(shared_dc(), "cloudfirst");
    let entra = f.snapshot_entra(&[
        cloud_user(1, "cf-alva.wood@example.com", json!({"mail": "cf-alva.wood@example.com", "proxyAddresses": ["SMTP:cf-alva.wood@example.com", "smtp:cf-alva@example.com"], "displayName": "Alva Wood", "givenName": "Alva", "surname": "Wood"})),
        cloud_user(2, "cf-bob@example.com", json!({"displayName": "Bob, Jr. <B+>"})),
    ]);
    f.desired(&entra, &provisioning(&f, ""));
    f.converges();

    let alva = f.user("cf-alva.wood").expect("created");
    assert!(alva.dn.starts_with("CN=Alva Wood,OU=Cloud,"), "{}", alva.dn);
    assert_eq!(
        alva.get("userPrincipalName").as_deref(),
        Some("cf-alva.wood@example.com")
    );
    assert_eq!(
        alva.get("mail").as_deref(),
        Some("cf-alva.wood@example.com")
    );
    let mut proxies = alva.get_all("proxyAddresses");
    proxies.sort();
    assert_eq!(
        proxies,
        ["SMTP:cf-alva.wood@example.com", "smtp:cf-alva@example.com"]
    );
    assert_eq!(
        alva.get("userAccountControl").as_deref(),
        Some("512"),
        "enabled: the password was set first"
    );
    assert_eq!(
        alva.bytes("mS-DS-ConsistencyGuid"),
        alva.bytes("objectGUID")
    );
    assert!(
        alva.get("adminDescription")
            .unwrap()
            .starts_with("idsync:c0ffee00")
    );
    let cloud = f.cloud_file();
    assert_eq!(
        in_file(&cloud, "cf-alva.wood@example.com")["onPremisesImmutableId"],
        f.anchor("cf-alva.wood")
    );
    // A display name with DN specials became a correctly escaped CN.
    let bob = f.user("cf-bob").expect("created");
    assert!(
        bob.dn.starts_with("CN=Bob\\, Jr. \\<B\\+\\>,OU=Cloud,"),
        "{}",
        bob.dn
    );
}

#[test]
fn local_suffix_is_prepared_for_soft_match() {
    let f = LiveFixture::new(shared_dc(), "localsuffix");
    f.seed("dn: CN=John Doe,{OU}\nobjectClass: user\nsAMAccountName: ls-jdoe\nuserPrincipalName: ls-jdoe@corp.local\n");
    let entra = f.snapshot_entra(&[cloud_user(
        1,
        "ls-jdoe@example.com",
        json!({"mail": "ls-jdoe@example.com", "proxyAddresses": ["SMTP:ls-jdoe@example.com"]}),
    )]);
    f.desired(&entra, "");
    f.converges();
    let u = f.user("ls-jdoe").unwrap();
    assert_eq!(
        u.get("userPrincipalName").as_deref(),
        Some("ls-jdoe@example.com")
    );
    assert_eq!(u.get("mail").as_deref(), Some("ls-jdoe@example.com"));
    assert_eq!(u.get_all("proxyAddresses"), ["SMTP:ls-jdoe@example.com"]);
    assert_eq!(
        in_file(&f.cloud_file(), "ls-jdoe@example.com")["onPremisesImmutableId"],
        f.anchor("ls-jdoe")
    );
}

#[test]
fn hard_match_of_existing_pairs() {
    let f = LiveFixture::new(shared_dc(), "hardmatch");
    f.seed("dn: CN=Sara Smith,{OU}\nobjectClass: user\nsAMAccountName: hm-ssmith\nuserPrincipalName: hm-sara@example.com\ndisplayName: Sara Smith\n\ndn: CN=Mike Miller,{OU}\nobjectClass: user\nsAMAccountName: hm-mike\nuserPrincipalName: hm-mike@example.com\n");
    let sara = f.anchor("hm-ssmith");
    let entra = f.snapshot_entra(&[
        cloud_user(
            1,
            "hm-sara@example.com",
            json!({"onPremisesImmutableId": sara, "displayName": "Sara Smith"}),
        ),
        cloud_user(2, "hm-mike@example.com", json!({})),
    ]);
    f.desired(&entra, "matching:\n  source_anchor: objectGUID\n");
    let before = f.user("hm-ssmith").unwrap();
    let out = f.converges();
    // No action for her; the forecast may still say what Entra Connect will do to her.
    let actions = out
        .split("After apply, Entra Connect")
        .next()
        .unwrap_or_default();
    assert!(!actions.contains("Sara Smith"), "{out}");
    assert_eq!(
        f.user("hm-ssmith").unwrap().get("uSNChanged"),
        before.get("uSNChanged"),
        "a matched pair is left alone"
    );
    assert_eq!(
        in_file(&f.cloud_file(), "hm-mike@example.com")["onPremisesImmutableId"],
        f.anchor("hm-mike")
    );
}

#[test]
fn consistency_guid_is_written_back_and_is_the_immutable_id() {
    let f = LiveFixture::new(shared_dc(), "consistency");
    f.seed("dn: CN=Kim Lee,{OU}\nobjectClass: user\nsAMAccountName: cg-kim\nuserPrincipalName: cg-kim@example.com\nproxyAddresses: SMTP:cg-kim@example.com\n");
    let entra = f.snapshot_entra(&[cloud_user(
        1,
        "cg-kim@example.com",
        json!({"mail": "cg-kim@example.com"}),
    )]);
    f.desired(&entra, "");
    f.converges();
    let u = f.user("cg-kim").unwrap();
    assert_eq!(u.bytes("mS-DS-ConsistencyGuid"), u.bytes("objectGUID"));
    assert_eq!(
        in_file(&f.cloud_file(), "cg-kim@example.com")["onPremisesImmutableId"],
        f.anchor("cg-kim")
    );
}

#[test]
fn conflicts_are_left_alone_and_the_rest_converges() {
    let f = LiveFixture::new(shared_dc(), "conflicts");
    f.seed(concat!(
        "dn: CN=Pat White,{OU}\nobjectClass: user\nsAMAccountName: cx-pat\nuserPrincipalName: cx-pat@corp.local\nproxyAddresses: SMTP:cx-pat@example.com\n\n",
        "dn: CN=Tom A,{OU}\nobjectClass: user\nsAMAccountName: cx-toma\nuserPrincipalName: cx-toma@example.com\nproxyAddresses: SMTP:cx-tom@example.com\n\n",
        "dn: CN=Tom B,{OU}\nobjectClass: user\nsAMAccountName: cx-tomb\nuserPrincipalName: cx-tomb@example.com\nproxyAddresses: SMTP:CX-Tom@example.com\n\n",
        "dn: CN=Chris A,{OU}\nobjectClass: user\nsAMAccountName: cx-chrisa\nuserPrincipalName: cx-chrisa@example.com\nproxyAddresses: SMTP:cx-chris@example.com\n\n",
        "dn: CN=Chris B,{OU}\nobjectClass: user\nsAMAccountName: cx-chrisb\nuserPrincipalName: cx-chris@corp.local\n\n",
        "dn: CN=Fine,{OU}\nobjectClass: user\nsAMAccountName: cx-fine\nuserPrincipalName: cx-fine@example.com\n",
    ));
    let entra = f.snapshot_entra(&[
        cloud_user(
            1,
            "cx-pat@example.com",
            json!({"mail": "cx-pat@example.com", "onPremisesImmutableId": "b3RoZXI="}),
        ),
        cloud_user(
            2,
            "cx-chris@example.com",
            json!({"mail": "cx-chris@example.com"}),
        ),
        cloud_user(3, "cx-gone@example.com", json!({})),
        cloud_user(4, "cx-fine@example.com", json!({})),
    ]);
    f.desired(&entra, "identities:\n  - ad: { sam_account_name: cx-nobody }\n    entra: { upn: cx-gone@example.com }\n");
    let (_, plan) = f.run(&["plan"]);
    for kind in [
        "invalid_soft_match",
        "duplicate_smtp",
        "ambiguous_match",
        "missing_object",
    ] {
        assert!(plan.contains(kind), "{kind} missing:\n{plan}");
    }
    let conflicted = |f: &LiveFixture<'_>| {
        ["cx-pat", "cx-toma", "cx-tomb", "cx-chrisa", "cx-chrisb"]
            .map(|s| f.user(s).unwrap().get("uSNChanged"))
    };
    let before = conflicted(&f);
    f.converges();
    assert_eq!(conflicted(&f), before);
    assert_eq!(
        in_file(&f.cloud_file(), "cx-fine@example.com")["onPremisesImmutableId"],
        f.anchor("cx-fine")
    );
}

#[test]
fn only_in_scope_users_change() {
    let dc = shared_dc();
    let f = LiveFixture::new(dc, "scope");
    let other = dc.test_ou("scope-other");
    other.seed("dn: CN=Other,{OU}\nobjectClass: user\nsAMAccountName: sc-other\nuserPrincipalName: sc-other@corp.local\n");
    f.seed(concat!(
        "dn: CN=Excluded,OU=Service,{OU}\nobjectClass: user\nsAMAccountName: sc-excluded\nuserPrincipalName: sc-excluded@corp.local\n\n",
        "dn: CN=svc-backup,{OU}\nobjectClass: user\nsAMAccountName: svc-sc-backup\nuserPrincipalName: svc-sc-backup@corp.local\n\n",
        "dn: CN=Inside,{OU}\nobjectClass: user\nsAMAccountName: sc-inside\nuserPrincipalName: sc-inside@corp.local\n",
    ));
    let entra = f.snapshot_entra(&[
        cloud_user(1, "sc-other@example.com", json!({})),
        cloud_user(2, "sc-excluded@example.com", json!({})),
        cloud_user(3, "svc-sc-backup@example.com", json!({})),
        cloud_user(4, "sc-inside@example.com", json!({})),
    ]);
    f.desired(&entra, "");
    // exclude_ous and ldap_filter go under scope: rewrite the scope block.
    let path = f.path("desired/idsync.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap().replace(
        &format!("scope:\n  ous: [ \"{}\" ]\n", f.ou_dn()),
        &format!("scope:\n  ous: [ \"{0}\" ]\n  exclude_ous: [ \"OU=Service,{0}\" ]\n  ldap_filter: \"(!(sAMAccountName=svc-*))\"\n", f.ou_dn()),
    );
    std::fs::write(&path, yaml).unwrap();
    let outside = |f: &LiveFixture<'_>| {
        ["sc-excluded", "svc-sc-backup"].map(|s| f.user(s).unwrap().get("uSNChanged"))
    };
    let before = outside(&f);
    let other_before = other.users()[0].get("uSNChanged");
    f.converges();
    assert_eq!(outside(&f), before);
    assert_eq!(other.users()[0].get("uSNChanged"), other_before);
    assert_eq!(
        f.user("sc-inside")
            .unwrap()
            .get("userPrincipalName")
            .as_deref(),
        Some("sc-inside@example.com")
    );
}

#[test]
fn synced_protected_and_ignored_objects_are_not_written() {
    let f = LiveFixture::new(shared_dc(), "protect");
    f.seed("dn: CN=Kate Clark,{OU}\nobjectClass: user\nsAMAccountName: pr-kate\nuserPrincipalName: pr-kate@example.com\ndisplayName: Kate Clark-Lewis\n");
    let kate = f.anchor("pr-kate");
    let entra = f.snapshot_entra(&[
        cloud_user(1, "pr-kate@example.com", json!({"onPremisesImmutableId": kate, "onPremisesSyncEnabled": true, "displayName": "Kate Clark"})),
        cloud_user(2, "pr-breakglass@example.com", json!({})),
        cloud_user(3, "pr-room@example.com", json!({})),
    ]);
    f.desired(&entra, &provisioning(&f, "matching:\n  source_anchor: objectGUID\nattributes:\n  displayName: ad\nprotect:\n  - upn: pr-breakglass@example.com\nidentities:\n  - entra: { upn: pr-room@example.com }\n    ignore: true\n"));
    let (_, plan) = f.run(&["plan"]);
    assert!(plan.contains("pending_sync pr-kate@example.com"), "{plan}");
    assert!(
        plan.contains("protected pr-breakglass@example.com"),
        "{plan}"
    );
    let cloud_before = std::fs::read_to_string(f.path("entra.json")).unwrap();
    f.converges();
    assert_eq!(
        std::fs::read_to_string(f.path("entra.json")).unwrap(),
        cloud_before
    );
    assert!(f.user("pr-breakglass").is_none() && f.user("pr-room").is_none());
}

#[test]
fn max_deletes_stops_apply_before_any_write() {
    let f = LiveFixture::new(shared_dc(), "threshold");
    for n in 1..=3 {
        f.seed(&format!("dn: CN=Owned {n},OU=Cloud,{{OU}}\nobjectClass: user\nsAMAccountName: th-owned{n}\nuserPrincipalName: th-owned{n}@example.com\nadminDescription: idsync:gone-{n}\n"));
    }
    let entra = f.snapshot_entra(&[cloud_user(9, "th-keep@example.com", json!({}))]);
    f.desired(
        &entra,
        &provisioning(&f, "deprovision:\n  action: delete\n  max_deletes: 2\n"),
    );
    let before = f.ad_state();
    let (code, out) = f.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("max_deletes"), "{out}");
    assert_eq!(f.ad_state(), before);
}

#[test]
fn diagnostics_block_only_their_identity() {
    let f = LiveFixture::new(shared_dc(), "diagnostics");
    f.seed(concat!(
        "dn: CN=Rob Brown,{OU}\nobjectClass: user\nsAMAccountName: dg-rob\nuserPrincipalName: dg-rob@corp.lan\n\n",
        "dn: CN=Good,{OU}\nobjectClass: user\nsAMAccountName: dg-good\nuserPrincipalName: dg-good@corp.local\n",
    ));
    let entra = f.snapshot_entra(&[
        cloud_user(1, "dg-rob@corp.lan", json!({})),
        cloud_user(2, "dg-good@example.com", json!({})),
    ]);
    f.desired(&entra, "");
    let (_, plan) = f.run(&["plan"]);
    assert!(plan.contains("topleveldomain"), "{plan}");
    let rob = f.user("dg-rob").unwrap().get("uSNChanged");
    f.converges();
    assert_eq!(f.user("dg-rob").unwrap().get("uSNChanged"), rob);
    assert_eq!(
        f.user("dg-good")
            .unwrap()
            .get("userPrincipalName")
            .as_deref(),
        Some("dg-good@example.com")
    );
}

#[test]
fn a_saved_plan_goes_stale_when_the_ad_object_changes() {
    let dc = shared_dc();
    let f = LiveFixture::new(dc, "stale");
    f.seed("dn: CN=John Doe,{OU}\nobjectClass: user\nsAMAccountName: st-jdoe\nuserPrincipalName: st-jdoe@corp.local\n");
    let entra = f.snapshot_entra(&[cloud_user(
        1,
        "st-jdoe@example.com",
        json!({"mail": "st-jdoe@example.com"}),
    )]);
    f.desired(&entra, "");
    let (code, out) = f.run(&["plan", "--out", "plan.json"]);
    assert_eq!(code, 0, "{out}");
    let dn = f.user("st-jdoe").unwrap().dn;
    dc.ldapmodify(&format!(
        "dn: {dn}\nchangetype: modify\nreplace: title\ntitle: Changed meanwhile\n"
    ));
    let (code, out) = f.run(&["apply", "plan.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("STALE") && out.contains("stale: CN=John Doe"),
        "{out}"
    );
    assert_eq!(
        f.user("st-jdoe")
            .unwrap()
            .get("userPrincipalName")
            .as_deref(),
        Some("st-jdoe@corp.local")
    );
    // Plan again, apply: converges.
    f.converges();
}
