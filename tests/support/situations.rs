//! The field situations of the plan engine as snapshot fixtures, shared by the apply tests
//! on snapshots, on the Graph emulator and on Samba.
#![allow(dead_code)]

use serde_json::json;

use super::fixtures::*;

pub fn provisioning(extra: &str) -> String {
    format!(
        "{DESIRED}provision:\n  ad:\n    enabled: true\n    ou: {CLOUD_OU}\n    sam_account_name: \"{{mailNickname}}\"\n{extra}"
    )
}

pub fn s1_cloud_first() -> Fixture {
    Fixture::new(
        &provisioning(""),
        &[],
        &[
            cloud(
                1,
                "alva.wood@example.com",
                json!({"mail": "alva.wood@example.com", "proxyAddresses": ["SMTP:alva.wood@example.com", "smtp:alva@example.com"], "displayName": "Alva Wood", "givenName": "Alva", "surname": "Wood"}),
            ),
            cloud(2, "bob@example.com", json!({})),
        ],
    )
}

pub fn s2_local_suffix() -> Fixture {
    Fixture::new(
        DESIRED,
        &[AdUser::new(1, "John Doe", "jdoe").upn("jdoe@corp.local")],
        &[cloud(
            1,
            "jdoe@example.com",
            json!({"mail": "jdoe@example.com", "proxyAddresses": ["SMTP:jdoe@example.com"]}),
        )],
    )
}

pub fn s3_hard_match() -> Fixture {
    let done = AdUser::new(1, "Sara Smith", "ssmith").upn("sara@example.com");
    let todo = AdUser::new(2, "Mike Miller", "mmiller").upn("mike@example.com");
    let desired = DESIRED.to_owned() + "matching:\n  source_anchor: objectGUID\n";
    Fixture::new(
        &desired,
        &[done.clone(), todo.clone()],
        &[
            cloud(
                1,
                "sara@example.com",
                json!({"onPremisesImmutableId": done.immutable_id(), "displayName": "Sara Smith"}),
            ),
            cloud(2, "mike@example.com", json!({})),
        ],
    )
}

pub fn s4_consistency_guid() -> Fixture {
    Fixture::new(
        DESIRED,
        &[AdUser::new(1, "Kim Lee", "klee")
            .upn("kim@example.com")
            .smtp("kim@example.com")],
        &[cloud(
            1,
            "kim@example.com",
            json!({"mail": "kim@example.com"}),
        )],
    )
}

pub fn s5_conflicts() -> Fixture {
    let desired = format!(
        "{DESIRED}identities:\n  - name: gone\n    ad: {{ sam_account_name: nobody }}\n    entra: {{ upn: gone@example.com }}\n"
    );
    Fixture::new(
        &desired,
        &[
            AdUser::new(1, "Pat White", "pwhite")
                .upn("pwhite@corp.local")
                .smtp("pat@example.com"),
            AdUser::new(2, "Tom A", "toma").smtp("tom@example.com"),
            AdUser::new(3, "Tom B", "tomb").smtp("tom@example.com"),
            AdUser::new(4, "Dup One", "dup1").upn("dup@example.com"),
            AdUser::new(5, "Dup Two", "dup2").upn("dup@corp.local"),
            AdUser::new(6, "Chris A", "chrisa").smtp("chris@example.com"),
            AdUser::new(7, "Chris B", "chrisb").upn("chris@corp.local"),
            AdUser::new(8, "Fine", "fine").upn("fine@example.com"),
        ],
        &[
            cloud(
                1,
                "pat@example.com",
                json!({"mail": "pat@example.com", "onPremisesImmutableId": "b3RoZXI="}),
            ),
            cloud(2, "chris@example.com", json!({"mail": "chris@example.com"})),
            cloud(3, "gone@example.com", json!({})),
            cloud(4, "fine@example.com", json!({})),
        ],
    )
}

pub fn s6_scope() -> Fixture {
    let desired = DESIRED.replace(
        "scope:\n  ous: [ \"OU=Office365,DC=corp,DC=example,DC=com\" ]\n",
        "scope:\n  ous: [ \"OU=Office365,DC=corp,DC=example,DC=com\" ]\n  exclude_ous: [ \"OU=Service,OU=Office365,DC=corp,DC=example,DC=com\" ]\n  ldap_filter: \"(!(sAMAccountName=svc-*))\"\n",
    );
    Fixture::new(
        &desired,
        &[
            AdUser::new(1, "Other", "other")
                .ou(&format!("OU=Legacy,{BASE}"))
                .upn("other@corp.local"),
            AdUser::new(2, "Excluded", "excluded")
                .ou(&format!("OU=Service,{OU}"))
                .upn("excluded@corp.local"),
            AdUser::new(3, "svc-backup", "svc-backup").upn("svc-backup@corp.local"),
            AdUser::new(4, "Inside", "inside").upn("inside@corp.local"),
        ],
        &[
            cloud(1, "other@example.com", json!({})),
            cloud(2, "excluded@example.com", json!({})),
            cloud(3, "svc-backup@example.com", json!({})),
            cloud(4, "inside@example.com", json!({})),
        ],
    )
}

pub fn s7_synced_protected_ignored() -> Fixture {
    let kate = AdUser::new(1, "Kate Clark", "kclark")
        .upn("kate@example.com")
        .consistency_guid();
    let desired = provisioning(
        "attributes:\n  displayName: ad\nprotect:\n  - upn: breakglass@example.com\nidentities:\n  - entra: { upn: room@example.com }\n    ignore: true\n",
    );
    Fixture::new(
        &desired,
        std::slice::from_ref(&kate),
        &[
            cloud(
                1,
                "kate@example.com",
                json!({"onPremisesImmutableId": kate.immutable_id(), "onPremisesSyncEnabled": true, "displayName": "Old Name"}),
            ),
            cloud(2, "breakglass@example.com", json!({})),
            cloud(3, "room@example.com", json!({})),
        ],
    )
}

pub fn s8_threshold() -> Fixture {
    let desired = provisioning("deprovision:\n  action: delete\n  max_deletes: 2\n");
    let owned: Vec<AdUser> = (1..=3)
        .map(|n| {
            AdUser::new(n, &format!("Owned {n}"), &format!("owned{n}"))
                .upn(&format!("owned{n}@example.com"))
                .ou(CLOUD_OU)
                .with("adminDescription", &format!("idsync:gone-{n}"))
        })
        .collect();
    Fixture::new(&desired, &owned, &[cloud(9, "keep@example.com", json!({}))])
}

pub fn s9_diagnostics() -> Fixture {
    Fixture::new(
        DESIRED,
        &[
            AdUser::new(1, "Rob Brown", "rbrown").upn("rbrown@corp.lan"),
            AdUser::new(2, "Eve Adams", "e*adams").upn("eve@example.com"),
            AdUser::new(3, "Good", "good").upn("good@corp.local"),
        ],
        &[
            cloud(1, "rbrown@corp.lan", json!({})),
            cloud(2, "eve@example.com", json!({})),
            cloud(3, "good@example.com", json!({})),
        ],
    )
}
