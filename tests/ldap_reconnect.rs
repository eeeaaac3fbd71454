//! The live AD connector when the DC goes away and comes back: a clear error while it is
//! down (after bounded retries), and a reconnect with a new bind once it is back. A DC of
//! its own, since this stops it.

mod support;

use std::time::{Duration, Instant};

use idsync::directory::{AdMod, AdQuery, AdUserRead, AdUserWrite, AdValue};
use support::live_ad::{connect, dn};
use support::samba::SambaDc;

#[tokio::test]
async fn reconnects_after_the_dc_restarts() {
    let dc = SambaDc::launch();
    let ou = dc.test_ou("restart");
    ou.seed("dn: CN=Rita Restart,{OU}\nobjectClass: user\nsAMAccountName: rs-rita\n");
    let (mut ad, _dir) = connect(&dc).await;
    let query = AdQuery {
        bases: vec![dn(ou.dn())],
        ..AdQuery::default()
    };
    assert_eq!(ad.read_users(&query).await.unwrap().len(), 1);

    dc.stop();
    let started = Instant::now();
    let e = ad.read_users(&query).await.unwrap_err();
    let waited = started.elapsed();
    assert!(e.to_string().contains(dc.url()), "{e}");
    assert!(e.to_string().contains("cannot connect"), "{e}");
    assert!(
        matches!(
            e,
            idsync::directory::DirectoryError::Unavailable {
                directory: "AD",
                ..
            }
        ),
        "an unreachable DC is Unavailable, so apply stops writing to it: {e:?}"
    );
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(20),
        "retries are bounded: {waited:?}"
    );

    dc.start();
    let users = ad.read_users(&query).await.unwrap();
    assert_eq!(users.len(), 1);
    // Writes work on the new connection too.
    ad.modify_user(
        &users[0].dn,
        &[AdMod::Replace(
            "title".into(),
            vec![AdValue::Text("Back".into())],
        )],
    )
    .await
    .unwrap();
    let again = ad.read_user(&users[0].object_guid).await.unwrap().unwrap();
    assert_eq!(again.attr("title"), Some("Back"));
}
