use super::secrets::{env_refusal, secret_file_refusal};
use super::*;

#[test]
fn hosts_and_loopback() {
    assert_eq!(host_of("http://127.0.0.1:8080/x"), "127.0.0.1");
    assert_eq!(
        host_of("ldaps://dc01.corp.example.com"),
        "dc01.corp.example.com"
    );
    assert_eq!(host_of("http://[::1]:80"), "::1");
    assert!(is_loopback("127.0.0.7"));
    assert!(is_loopback("::1"));
    assert!(!is_loopback("10.0.0.1"));
}

#[test]
fn messages_are_quoted_plainly() {
    assert_eq!(
        plain_text("unexpected character: `\\u{0}'"),
        "unexpected character: `U+0000'"
    );
    assert_eq!(
        plain_text("expected ':'\u{1b}[31m"),
        "expected ':'U+001B[31m"
    );
    assert_eq!(plain_text("keep \\u{zz} and \\n"), "keep \\u{zz} and \\n");
}

#[test]
fn only_idsync_variables_hold_secrets() {
    assert_eq!(env_refusal("IDSYNC_AD_PASSWORD"), None);
    for name in [
        "IDSYNC_PLAN_KEY",
        "GITHUB_TOKEN",
        "IDSYNC_",
        "idsync_x",
        "IDSYNC_A-B",
        "",
    ] {
        assert!(env_refusal(name).is_some(), "{name}");
    }
}

#[cfg(unix)]
#[test]
fn obvious_non_secret_files_are_refused() {
    for p in [
        "/proc/self/environ",
        "/dev/zero",
        "/sys/kernel/x",
        "repo/.git/config",
    ] {
        assert!(secret_file_refusal(Path::new(p)).is_some(), "{p}");
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(secret_file_refusal(dir.path()).is_some(), "a directory");
    let link = dir.path().join("secret");
    std::os::unix::fs::symlink("/proc/self/environ", &link).unwrap();
    let why = secret_file_refusal(&link).unwrap();
    assert!(why.contains("/proc"), "{why}");
    let real = dir.path().join("real");
    std::fs::write(&real, "s3cr3t").unwrap();
    assert_eq!(secret_file_refusal(&real), None);
    assert_eq!(secret_file_refusal(&dir.path().join("not-yet")), None);
    assert_eq!(
        secret_file_refusal(Path::new("/dev/shm/idsync-not-yet")),
        None
    );
}

#[test]
fn a_file_past_the_budget_is_a_located_plain_error() {
    let mut small = budget();
    small.max_nodes = 20;
    let text = "identities:\n".to_owned()
        + &"  - ad: { sam_account_name: a }\n    entra: { id: b }\n".repeat(5);
    assert!(parse_within::<DesiredFile>(&text, budget()).is_ok());
    let (line, column, message) = parse_within::<DesiredFile>(&text, small)
        .map(|_| ())
        .unwrap_err();
    // Located where the file outgrew the budget, not at its start.
    assert!(line > 1 && column >= 1, "{line}:{column}");
    assert!(
        message.starts_with("this file is too big: more than 20 YAML nodes")
            && message.contains("split `identities`"),
        "{message}"
    );
    assert!(!message.contains("Nodes {"), "{message}");
}

#[test]
fn domains() {
    assert!(is_domain("example.com"));
    assert!(is_domain("corp.local"));
    assert!(!is_domain("exa mple.com"));
    assert!(!is_domain("-x.com"));
}

#[test]
fn groups_load_into_checked_specs() {
    use crate::desired::{AdGroupSelector, EntraGroupSelector, GroupType, MemberRef, Membership};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        "version: 1\nscope:\n  ous: [\"OU=Staff,DC=x\"]\nidentities:\n  - name: Adam\n    entra: { upn: adam@x.com }\n  - ad: { sam_account_name: jdoe }\ngroups:\n  - name: sales\n    ad: { sam_account_name: Sales }\n    entra: { mail: sales@x.com }\n    members: [ adam, JDOE, eve@x.com, \"group:Managers\" ]\n  - name: managers\n    ad: { dn: \"CN=Managers,OU=Staff,DC=x\" }\n    type: distribution\n    members_from: ad\n  - name: quiet\n    entra: { display_name: Quiet }\n    ignore: true\n",
    )
    .unwrap();
    let d = load(dir.path()).unwrap();
    assert_eq!(d.groups.len(), 3);
    let sales = &d.groups[0];
    assert_eq!(sales.name, "sales");
    assert_eq!(
        sales.ad,
        Some(AdGroupSelector::SamAccountName(SamAccountName::new(
            "Sales"
        )))
    );
    assert!(
        matches!(&sales.entra, Some(EntraGroupSelector::Mail(m)) if m.as_str() == "sales@x.com")
    );
    assert_eq!(sales.group_type, GroupType::Security, "the default");
    assert_eq!(
        sales.members,
        Membership::Exact(vec![
            MemberRef::Identity("Adam".into()),
            MemberRef::Identity("jdoe".into()),
            MemberRef::Upn(Upn::new("eve@x.com")),
            MemberRef::Group("managers".into()),
        ])
    );
    assert!(sales.origin.ends_with("a.yaml:9:5"), "{}", sales.origin);
    let managers = &d.groups[1];
    assert_eq!(managers.group_type, GroupType::Distribution);
    assert_eq!(managers.members, Membership::From(crate::plan::Side::Ad));
    assert!(matches!(managers.ad, Some(AdGroupSelector::Dn(_))));
    let quiet = &d.groups[2];
    assert!(quiet.ignore && quiet.members == Membership::Unmanaged);
    assert_eq!(
        quiet.entra,
        Some(EntraGroupSelector::DisplayName("Quiet".into()))
    );
}
