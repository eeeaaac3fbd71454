//! Groups on a real Samba AD DC through the live connector: a group created and given 1,600
//! members (more than Windows AD's 1,500-value range; Samba answers it whole) reads whole,
//! and removing one member is exactly one `member` value deleted. One DC for this binary, one OU per test.

mod support;

use std::collections::BTreeSet;

use idsync::directory::{AdGroupCreate, AdGroupRead, AdGroupWrite, AdMod, AdQuery, AdValue, Dn};
use support::live_ad::{connect, dn};
use support::samba::shared_dc;

const MEMBERS: usize = 1600;

fn folded(dns: &[Dn]) -> BTreeSet<String> {
    dns.iter()
        .map(|d| d.as_str().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn a_1600_member_group_reads_whole_and_loses_exactly_one_member() {
    let dc = shared_dc();
    let ou = dc.test_ou("big-group");
    // Contacts make cheap members (no account, no RID).
    let mut seed = String::new();
    for i in 0..MEMBERS {
        seed.push_str(&format!("dn: CN=m{i},{{OU}}\nobjectClass: contact\n\n"));
    }
    ou.seed(&seed);
    let members: Vec<String> = (0..MEMBERS)
        .map(|i| format!("CN=m{i},{}", ou.dn()))
        .collect();

    // Made and filled by idsync: a create, then every member value in one modify.
    let (mut ad, _secret) = connect(dc).await;
    let created = ad
        .create_group(&AdGroupCreate {
            dn: dn(&format!("CN=Big,{}", ou.dn())),
            attributes: vec![(
                "sAMAccountName".into(),
                vec![AdValue::Text("big-group-1600".into())],
            )],
        })
        .await
        .unwrap();
    let values = members.iter().map(|m| AdValue::Text(m.clone())).collect();
    ad.modify_group(&created.dn, &[AdMod::Add("member".into(), values)])
        .await
        .unwrap();
    let query = AdQuery {
        bases: vec![dn(ou.dn())],
        ..AdQuery::default()
    };
    let groups = ad.read_groups(&query).await.unwrap();
    assert_eq!(groups.len(), 1);
    let big = &groups[0];
    assert_eq!(big.object_guid, created.object_guid);
    let expected: Vec<Dn> = members.iter().map(|m| dn(m)).collect();
    assert_eq!(big.members.as_ref().unwrap().len(), MEMBERS);
    assert_eq!(folded(big.members.as_deref().unwrap()), folded(&expected));
    assert!(
        big.object_sid
            .as_deref()
            .is_some_and(|s| s.starts_with("S-1-5-21-")),
        "{:?}",
        big.object_sid
    );
    assert_eq!(
        big.group_type,
        Some(-2147483646),
        "Samba's default: global security"
    );
    let contacts = ad.read_contacts(&query).await.unwrap();
    assert_eq!(contacts.len(), MEMBERS);

    let gone = &members[700];
    ad.modify_group(
        &big.dn,
        &[AdMod::Delete(
            "member".into(),
            vec![AdValue::Text(gone.clone())],
        )],
    )
    .await
    .unwrap();
    let after = ad.read_group(&big.object_guid).await.unwrap().unwrap();
    let mut remaining = expected.clone();
    remaining.remove(700);
    assert_eq!(after.members.as_ref().unwrap().len(), MEMBERS - 1);
    assert_eq!(
        folded(after.members.as_deref().unwrap()),
        folded(&remaining)
    );
    assert!(after.usn_changed > big.usn_changed);
    // What the DC itself holds, read without idsync.
    let stored = dc.search(&big.dn.to_string(), "(objectClass=group)", &["member"]);
    assert_eq!(stored[0].get_all("member").len(), MEMBERS - 1);
}
