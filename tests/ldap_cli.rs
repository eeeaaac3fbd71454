//! `idsync plan` against the live Samba DC (Entra from a snapshot file): the built binary,
//! a desired-state folder in a temporary directory, the password from the environment.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::samba::{SambaDc, shared_dc};

const PASSWORD_VAR: &str = "IDSYNC_TEST_AD_PASSWORD";

/// Writes `idsync.yaml`, `entra.json` and `ca.pem` into `dir` for a scope of `ou`.
fn desired_state(dc: &SambaDc, ou: &str, dir: &Path) {
    std::fs::copy(dc.ca_file(), dir.join("ca.pem")).unwrap();
    std::fs::write(
        dir.join("idsync.yaml"),
        format!(
            "version: 1\n\
             directories:\n\
             \x20 ad:\n\
             \x20   url: {url}\n\
             \x20   base_dn: \"{base}\"\n\
             \x20   bind_dn: {upn}\n\
             \x20   password: {{ env: {PASSWORD_VAR} }}\n\
             \x20   ca_file: ca.pem\n\
             \x20 entra:\n\
             \x20   snapshot: entra.json\n\
             scope:\n\
             \x20 ous: [ \"{ou}\" ]\n\
             attributes:\n\
             \x20 displayName: ad\n",
            url = dc.url(),
            base = dc.base_dn(),
            upn = dc.admin_upn(),
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("entra.json"),
        r#"{"value": [
  {"id": "c1000000-0000-0000-0000-000000000001", "userPrincipalName": "ann.live@example.com",
   "displayName": "Ann (old name)", "mail": "ann.live@example.com",
   "proxyAddresses": ["SMTP:ann.live@example.com"], "accountEnabled": true,
   "givenName": null, "surname": null, "mailNickname": "ann.live", "userType": "Member",
   "onPremisesImmutableId": null, "onPremisesSyncEnabled": null},
  {"id": "c1000000-0000-0000-0000-000000000002", "userPrincipalName": "ben.live@example.com",
   "displayName": "Ben Live", "mail": "ben.live@example.com",
   "proxyAddresses": ["SMTP:ben.live@example.com"], "accountEnabled": true,
   "givenName": null, "surname": null, "mailNickname": "ben.live", "userType": "Member",
   "onPremisesImmutableId": null, "onPremisesSyncEnabled": null}
]}"#,
    )
    .unwrap();
}

fn plan(dir: &Path, password: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_idsync"))
        .args(["plan", "--color", "never", "--dir"])
        .arg(dir)
        .env(PASSWORD_VAR, password)
        .output()
        .expect("run idsync")
}

#[test]
fn plan_reads_the_live_dc_and_a_wrong_password_fails_cleanly() {
    let dc = shared_dc();
    let ou = dc.test_ou("cli");
    ou.seed(
        "dn: CN=Ann Live,{OU}\nobjectClass: user\nsAMAccountName: cli-ann\n\
         userPrincipalName: ann.live@example.com\nmail: ann.live@example.com\n\
         displayName: Ann Live\nproxyAddresses: SMTP:ann.live@example.com\n\n\
         dn: CN=Ben Live,{OU}\nobjectClass: user\nsAMAccountName: cli-ben\n\
         userPrincipalName: ben.live@example.com\nmail: ben.live@example.com\n\
         displayName: Ben Live\nproxyAddresses: SMTP:ben.live@example.com\n",
    );
    let dir = tempfile::tempdir().unwrap();
    desired_state(dc, ou.dn(), dir.path());

    let out = plan(dir.path(), dc.password());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for user in ["Ann Live", "Ben Live"] {
        assert!(
            stdout.contains(&format!("CN={user},{}", ou.dn())),
            "{user} not in the plan:\n{stdout}"
        );
    }
    // Soft-matched by SMTP: both get linked; Ann's display name is updated in Entra.
    assert!(stdout.contains("link entra"), "{stdout}");
    assert!(stdout.contains("\"Ann Live\""), "{stdout}");
    assert!(stdout.contains("Plan:"), "{stdout}");
    // Not a terminal: no progress bar, nothing on stderr.
    assert_eq!(stderr, "", "stderr must stay quiet in a pipeline");

    let wrong = "Wrong-Pa55-for-the-CLI";
    let out = plan(dir.path(), wrong);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("wrong user name or password"), "{stderr}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains(wrong), "password shown: {text}");
        assert!(!text.contains(dc.password()), "password shown: {text}");
    }
}
