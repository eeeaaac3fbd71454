//! Proves the Samba AD DC harness (tests/support/samba.rs, scripts/samba-dc) works: these run
//! against a real Samba DC. Needs root and `samba samba-ad-dc ldap-utils` (see scripts/SAMBA.md).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::samba::{SambaDc, base64_decode, base64_encode, parse_ldif, shared_dc, unicode_pwd};

/// `ldapsearch` of the rootDSE over `url` with the given TLS environment; Ok(stdout) or
/// Err(stderr).
fn root_dse(dc: &SambaDc, url: &str, ca: &Path, reqcert: &str) -> Result<String, String> {
    let out = Command::new("ldapsearch")
        .args(["-x", "-H", url, "-D", dc.admin_upn(), "-w", dc.password()])
        .args([
            "-o",
            "nettimeout=10",
            "-LLL",
            "-b",
            "",
            "-s",
            "base",
            "defaultNamingContext",
        ])
        .env("LDAPTLS_CACERT", ca)
        .env("LDAPTLS_REQCERT", reqcert)
        .stdin(Stdio::null())
        .output()
        .expect("run ldapsearch");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn scratch_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("idsync-samba-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn dc_starts_and_answers_ldaps_and_ldap() {
    let dc = shared_dc();
    assert!(dc.url().starts_with("ldaps://127.0.0."), "{}", dc.url());
    assert_eq!(dc.ldap_url(), format!("ldap://{}", dc.ip()));
    assert_eq!(dc.base_dn(), "DC=corp,DC=example,DC=com");
    assert_eq!(dc.admin_upn(), "administrator@corp.example.com");
    assert_eq!(
        dc.admin_dn(),
        "CN=Administrator,CN=Users,DC=corp,DC=example,DC=com"
    );
    assert!(dc.ca_file().starts_with(dc.dir()));

    let root = root_dse(dc, dc.url(), dc.ca_file(), "demand").expect("LDAPS with the test CA");
    assert!(
        root.contains("defaultNamingContext: DC=corp,DC=example,DC=com"),
        "{root}"
    );

    // Plain ldap:// simple binds are allowed (ldap server require strong auth = no).
    let plain = root_dse(dc, dc.ldap_url(), dc.ca_file(), "demand").expect("ldap:// simple bind");
    assert!(plain.contains("defaultNamingContext"), "{plain}");

    // The admin DN binds as well as the UPN, and a wrong password does not.
    assert!(dc.can_bind(dc.admin_dn(), dc.password()));
    assert!(!dc.can_bind(dc.admin_upn(), "wrong-password"));

    let admin = dc.search(
        dc.base_dn(),
        "(sAMAccountName=Administrator)",
        &["objectGUID"],
    );
    assert_eq!(admin.len(), 1);
    assert_eq!(admin[0].bytes("objectGUID").map(<[u8]>::len), Some(16));
}

#[test]
fn ldaps_certificate_verifies_against_test_ca_and_carries_ip_san() {
    let dc = shared_dc();
    root_dse(dc, dc.url(), dc.ca_file(), "demand").expect("verifies against the test CA");

    let out = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(dc.dir().join("tls/cert.pem"))
        .output()
        .expect("run openssl");
    let san = String::from_utf8_lossy(&out.stdout);
    assert!(san.contains(&format!("IP Address:{}", dc.ip())), "{san}");
}

#[test]
fn ldaps_with_a_wrong_ca_is_refused() {
    let dc = shared_dc();
    let dir = scratch_dir("wrong-ca");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-subj", "/CN=some other CA", "-days", "1", "-keyout"])
        .arg(dir.join("other.key"))
        .arg("-out")
        .arg(dir.join("other.pem"))
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success());

    let err = root_dse(dc, dc.url(), &dir.join("other.pem"), "demand")
        .expect_err("a CA that did not issue the DC's certificate must be refused");
    assert!(err.contains("Can't contact LDAP server"), "{err}");
    // The system bundle does not know the test CA either.
    // (scripts/test installs ca-certificates, so the check always runs.)
    let sys = Path::new("/etc/ssl/certs/ca-certificates.crt");
    assert!(
        sys.exists(),
        "{} is missing: install ca-certificates",
        sys.display()
    );
    assert!(root_dse(dc, dc.url(), sys, "demand").is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn test_ous_are_isolated() {
    let dc = shared_dc();
    let a = dc.test_ou("iso");
    let b = dc.test_ou("iso");
    assert_ne!(a.dn(), b.dn());
    assert!(a.dn().ends_with(dc.base_dn()));

    // The same CN in both OUs (sAMAccountName is domain-wide unique, so it differs).
    a.seed("dn: CN=Same Name,{OU}\nobjectClass: user\nsAMAccountName: iso-a\n");
    b.seed(
        "dn: CN=Same Name,{OU}\nobjectClass: user\nsAMAccountName: iso-b\n\n\
         dn: CN=Other,{OU}\nobjectClass: user\nsAMAccountName: iso-b2\n",
    );
    let ua = a.users();
    let ub = b.users();
    assert_eq!(ua.len(), 1, "{ua:?}");
    assert_eq!(ub.len(), 2, "{ub:?}");
    assert_eq!(ua[0].get("sAMAccountName").as_deref(), Some("iso-a"));
    assert!(ub.iter().all(|u| u.dn.ends_with(b.dn())));
    assert!(ua[0].dn.ends_with(a.dn()));
}

#[test]
fn seed_user_with_sync_attributes() {
    let dc = shared_dc();
    let ou = dc.test_ou("sync-attrs");
    // The anchor from DESIGN.md: GUID 3ab39606-c642-489b-84b6-58c038d3ef39.
    let anchor = "BpazOkLGm0iEtljAONPvOQ==";
    ou.seed(&format!(
        "dn: CN=Adam Anderson,{{OU}}\n\
         objectClass: user\n\
         sAMAccountName: aanderson\n\
         userPrincipalName: adam.anderson@example.com\n\
         mail: adam.anderson@example.com\n\
         givenName: Adam\n\
         sn: Anderson\n\
         displayName: Adam Anderson\n\
         proxyAddresses: SMTP:adam.anderson@example.com\n\
         proxyAddresses: smtp:aanderson@corp.example.com\n\
         mS-DS-ConsistencyGuid:: {anchor}\n"
    ));
    let users = ou.users();
    assert_eq!(users.len(), 1);
    let u = &users[0];
    assert_eq!(
        u.get("userPrincipalName").as_deref(),
        Some("adam.anderson@example.com")
    );
    assert_eq!(u.get("mail").as_deref(), Some("adam.anderson@example.com"));
    let mut proxies = u.get_all("proxyAddresses");
    proxies.sort();
    assert_eq!(
        proxies,
        [
            "SMTP:adam.anderson@example.com",
            "smtp:aanderson@corp.example.com"
        ]
    );
    assert_eq!(
        u.bytes("mS-DS-ConsistencyGuid"),
        base64_decode(anchor).as_deref()
    );
    assert_eq!(u.bytes("objectGUID").map(<[u8]>::len), Some(16));
    // A user added without a password is disabled (ACCOUNTDISABLE | PASSWD_NOTREQD | NORMAL).
    assert_eq!(u.get("userAccountControl").as_deref(), Some("546"));

    // Setting the anchor later (what `link` does on AD) and reading the raw bytes back.
    let guid = u.bytes("objectGUID").unwrap().to_vec();
    dc.ldapmodify(&format!(
        "dn: {}\nchangetype: modify\nreplace: mS-DS-ConsistencyGuid\nmS-DS-ConsistencyGuid:: {}\n-\n",
        u.dn,
        base64_encode(&guid)
    ));
    let again = ou.users();
    assert_eq!(
        again[0].bytes("mS-DS-ConsistencyGuid"),
        Some(guid.as_slice())
    );
}

#[test]
fn unicode_pwd_then_uac_512_enables_the_account() {
    let dc = shared_dc();
    let ou = dc.test_ou("enable");
    ou.seed(
        "dn: CN=Alva Wood,{OU}\nobjectClass: user\nsAMAccountName: awood\n\
         userPrincipalName: alva.wood@example.com\n",
    );
    let dn = format!("CN=Alva Wood,{}", ou.dn());

    // The default domain policy (complexity on, >= 7 characters) applies to resets.
    let weak = dc
        .set_password(&dn, "abc")
        .expect_err("a weak password must be refused");
    assert!(weak.contains("Constraint violation"), "{weak}");

    // unicodePwd: the password in double quotes, UTF-16LE, base64 in LDIF.
    let password = "Zq4-idsync-Rand0m!pw";
    assert_eq!(unicode_pwd("ab"), "IgBhAGIAIgA=");
    dc.ldapmodify(&format!(
        "dn: {dn}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n-\n\n\
         dn: {dn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 512\n-\n",
        unicode_pwd(password)
    ));
    let u = &ou.users()[0];
    assert_eq!(u.get("userAccountControl").as_deref(), Some("512"));
    assert_ne!(u.get("pwdLastSet").as_deref(), Some("0"));
    assert!(dc.can_bind("alva.wood@example.com", password));
    assert!(!dc.can_bind("alva.wood@example.com", "Wrong-Passw0rd"));

    // Disabling again (514) stops binds.
    dc.ldapmodify(&format!(
        "dn: {dn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n-\n"
    ));
    assert!(!dc.can_bind("alva.wood@example.com", password));
}

#[test]
fn stop_and_start_keep_the_data() {
    let dc = SambaDc::launch();
    let dir = dc.dir().to_path_buf();
    let ou = dc.test_ou("restart");
    ou.seed("dn: CN=Kept,{OU}\nobjectClass: user\nsAMAccountName: kept\nmail: kept@example.com\n");

    dc.stop();
    assert!(
        root_dse(&dc, dc.url(), dc.ca_file(), "demand").is_err(),
        "DC still answers"
    );
    assert!(dir.join("private/sam.ldb").exists());

    dc.start();
    let users = ou.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].get("mail").as_deref(), Some("kept@example.com"));
    // Writes work after the restart too.
    ou.seed("dn: CN=After,{OU}\nobjectClass: user\nsAMAccountName: after-restart\n");
    assert_eq!(ou.users().len(), 2);

    drop(ou);
    drop(dc);
    assert!(!dir.exists(), "drop removes the DC's folder");
}

#[test]
fn two_dcs_run_side_by_side() {
    let own = SambaDc::launch();
    let shared = shared_dc();
    assert_ne!(own.ip(), shared.ip());
    let ou = own.test_ou("side");
    ou.seed("dn: CN=Only Here,{OU}\nobjectClass: user\nsAMAccountName: only-here\n");
    assert!(
        shared
            .search(shared.base_dn(), "(sAMAccountName=only-here)", &["dn"])
            .is_empty()
    );
    assert_eq!(
        own.search(own.base_dn(), "(sAMAccountName=only-here)", &["dn"])
            .len(),
        1
    );
    // Each DC's certificate is issued by its own CA.
    assert!(root_dse(&own, own.url(), shared.ca_file(), "demand").is_err());
}

#[test]
fn watchdog_stops_the_dc_when_the_watched_process_dies() {
    // A stand-in for a test binary: the DC watches this child, which we then SIGKILL. `cat` on
    // a pipe from us also ends by itself if this test process dies first.
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn cat");
    let out = Command::new("bash")
        .arg(support::samba::script_path())
        .args(["start", "--watch-pid", &child.id().to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/samba-dc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = String::from_utf8_lossy(&out.stdout).into_owned();
    let dir = env
        .lines()
        .find_map(|l| l.strip_prefix("IDSYNC_DC_DIR="))
        .map(PathBuf::from)
        .expect("IDSYNC_DC_DIR");
    let ip = env
        .lines()
        .find_map(|l| l.strip_prefix("IDSYNC_DC_IP="))
        .unwrap()
        .to_string();
    assert!(dir.join("private/sam.ldb").exists());

    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !dir.exists(),
        "the watchdog did not remove {}",
        dir.display()
    );
    let addrs = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", "lo"])
        .output()
        .unwrap();
    let addrs = String::from_utf8_lossy(&addrs.stdout);
    assert!(
        !addrs.contains(&format!(" {ip}/")),
        "{ip} still on lo: {addrs}"
    );
}

#[test]
fn ldif_helpers_round_trip() {
    assert_eq!(base64_encode(b""), "");
    assert_eq!(base64_encode(b"f"), "Zg==");
    assert_eq!(base64_encode(b"fo"), "Zm8=");
    assert_eq!(base64_encode(b"foo"), "Zm9v");
    for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
        assert_eq!(
            base64_decode(&base64_encode(s.as_bytes())).unwrap(),
            s.as_bytes()
        );
    }
    let e = parse_ldif(
        "dn: CN=A,DC=x\nmail: a@x\nproxyAddresses: SMTP:a@x\nproxyAddresses: smtp:b@x\n\
         objectGUID:: BpazOkLGm0iEtljAONPvOQ==\ndescription: folded \n  value\n\n\
         # refldaps://x/CN=Configuration\n\ndn:: Q049QsOpLERDPXg=\ncn: B\n",
    );
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].get_all("proxyaddresses"), ["SMTP:a@x", "smtp:b@x"]);
    assert_eq!(
        e[0].bytes("objectGUID").unwrap()[..4],
        [0x06, 0x96, 0xb3, 0x3a]
    );
    assert_eq!(e[0].get("description").as_deref(), Some("folded  value"));
    assert_eq!(e[1].dn, "CN=Bé,DC=x");
}
