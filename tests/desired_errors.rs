//! Invalid desired states in many shapes: each error names file, line and column, and
//! `idsync validate` exits 1.

use std::process::Command;

use assert_cmd::assert::OutputAssertExt;

/// Writes the files into a fresh folder, runs `idsync validate` there, returns stderr.
fn validate(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_idsync"))
        .args(["validate", "--dir", "."])
        .current_dir(dir.path())
        .assert()
        .code(1);
    String::from_utf8(out.get_output().stderr.clone()).unwrap()
}

const BASE: &str = "version: 1\nscope:\n  ous: [\"OU=Staff,DC=x\"]\n";

#[test]
fn yaml_syntax_error() {
    let err = validate(&[("a.yaml", "version: 1\nscope:\n  ous: [\"OU=a,DC=x\"\n")]);
    assert!(err.starts_with("./a.yaml:"), "{err}");
    assert!(!err.contains("is required"), "follow-on noise: {err}");
}

#[test]
fn unknown_top_level_key() {
    let err = validate(&[("a.yaml", "version: 1\nscop:\n  ous: [a]\n")]);
    assert!(err.contains("./a.yaml:2:1: unknown field `scop`"), "{err}");
}

#[test]
fn unknown_nested_key() {
    let err = validate(&[(
        "a.yml",
        &format!("{BASE}identities:\n  - name: a\n    entra: {{ upn: a@x.com, idd: 3 }}\n"),
    )]);
    assert!(err.contains("./a.yml:6:28: unknown field `idd`"), "{err}");
}

#[test]
fn wrong_type() {
    let err = validate(&[("a.yaml", "version: x\nscope:\n  ous: [\"OU=a,DC=x\"]\n")]);
    assert!(err.contains("./a.yaml:1:10: invalid u32"), "{err}");
    let err = validate(&[(
        "a.yaml",
        &format!("{BASE}deprovision:\n  max_deletes: many\n"),
    )]);
    assert!(err.contains("./a.yaml:5:16:"), "{err}");
}

#[test]
fn missing_required_keys() {
    let err = validate(&[("a.yaml", "version: 1\n")]);
    assert!(err.contains("./a.yaml:1:1: `scope` is required"), "{err}");
    let err = validate(&[(
        "a.yaml",
        &format!("{BASE}provision:\n  ad:\n    enabled: true\n"),
    )]);
    assert!(
        err.contains("./a.yaml:6:5: provision.ad.ou is required"),
        "{err}"
    );
    assert!(
        err.contains("./a.yaml:6:5: provision.ad.sam_account_name is required"),
        "{err}"
    );
    let err = validate(&[("a.yaml", &format!("{BASE}identities:\n  - name: a\n"))]);
    assert!(
        err.contains("./a.yaml:5:5: an identity needs `ad:`, `entra:` or both"),
        "{err}"
    );
}

#[test]
fn a_key_defined_in_two_files_names_both() {
    let err = validate(&[
        ("a.yaml", BASE),
        ("b.yaml", "scope:\n  ous: [\"OU=b,DC=x\"]\n"),
    ]);
    assert!(
        err.contains("./b.yaml:2:3: `scope` is already defined at ./a.yaml:3:3"),
        "{err}"
    );
}

#[test]
fn identities_from_several_files_are_concatenated_but_names_stay_unique() {
    let err = validate(&[
        (
            "a.yaml",
            &format!("{BASE}identities:\n  - name: x\n    entra: {{ upn: x@example.com }}\n"),
        ),
        (
            "b.yaml",
            "identities:\n  - name: x\n    ad: { sam_account_name: x }\n",
        ),
    ]);
    assert!(
        err.contains("./b.yaml:2:5: identity name `x` is already used at ./a.yaml:5:5"),
        "{err}"
    );
}

#[test]
fn literal_secrets_are_refused_without_echoing_them() {
    let err = validate(&[(
        "a.yaml",
        &format!(
            "{BASE}directories:\n  ad:\n    url: ldaps://dc\n    base_dn: DC=x\n    bind_dn: svc\n    password: hunter2secret\n"
        ),
    )]);
    assert!(
        err.contains("./a.yaml:9:15: secrets are never written in the YAML"),
        "{err}"
    );
    assert!(!err.contains("hunter2secret"), "{err}");
}

#[test]
fn bad_dn_filter_attribute_and_reference() {
    let err = validate(&[(
        "a.yaml",
        "version: 1\nscope:\n  ous: [\"OU=a,,DC=x\"]\n  ldap_filter: \"(&(a=b)\"\nattributes:\n  jobtitle: ad\nidentities:\n  - entra: { upn: a@x.com, id: \"1\" }\n",
    )]);
    assert!(
        err.contains("./a.yaml:3:9: scope.ous: empty relative name"),
        "{err}"
    );
    assert!(err.contains("./a.yaml:4:16: scope.ldap_filter:"), "{err}");
    assert!(
        err.contains("./a.yaml:6:13: unknown attribute `jobtitle`"),
        "{err}"
    );
    assert!(
        err.contains("./a.yaml:8:12: identities[].entra: give exactly one of `upn`, `id`"),
        "{err}"
    );
}

#[test]
fn plain_ldap_and_http_only_on_loopback() {
    let err = validate(&[(
        "a.yaml",
        &format!(
            "{BASE}directories:\n  ad:\n    url: ldap://dc01.corp\n    base_dn: DC=x\n    bind_dn: svc\n    password: {{ env: P }}\n  entra:\n    tenant_id: t\n    client_id: c\n    client_secret: {{ env: S }}\n    graph_url: http://graph.example.com\n"
        ),
    )]);
    assert!(
        err.contains("./a.yaml:6:10: ldap:// sends the password in clear"),
        "{err}"
    );
    assert!(
        err.contains("./a.yaml:14:16: directories.entra.graph_url must be https://"),
        "{err}"
    );
}

#[test]
fn provisioning_ou_outside_scope() {
    let err = validate(&[(
        "a.yaml",
        &format!(
            "{BASE}provision:\n  ad:\n    enabled: true\n    ou: OU=Elsewhere,DC=x\n    sam_account_name: \"{{mailNickname\"\n"
        ),
    )]);
    assert!(
        err.contains("./a.yaml:7:9: provision.ad.ou `OU=Elsewhere,DC=x` is outside scope"),
        "{err}"
    );
    assert!(
        err.contains("provision.ad.sam_account_name: unclosed `{`"),
        "{err}"
    );
}

#[test]
fn a_deeply_nested_ldap_filter_is_an_error_not_a_crash() {
    // 10,000 levels overflowed the stack of `idsync validate` (exit 134).
    let deep = format!("{}(cn=a){}", "(!".repeat(10_000), ")".repeat(10_000));
    let err = validate(&[("a.yaml", &format!("{BASE}  ldap_filter: \"{deep}\"\n"))]);
    assert!(
        err.contains("./a.yaml:4:16: scope.ldap_filter:") && err.contains("nested more than 100"),
        "{err}"
    );
}

// --- groups[] -------------------------------------------------------------------------------

/// BASE, two identities (one named, one known by its defaulted sAMAccountName), then `groups:`
/// from line 8.
fn with_groups(groups: &str) -> String {
    format!(
        "{BASE}identities:\n  - name: adam\n    entra: {{ upn: adam@x.com }}\n  - ad: {{ sam_account_name: jdoe }}\ngroups:\n{groups}"
    )
}

#[test]
fn a_group_needs_a_side() {
    let err = validate(&[("a.yaml", &with_groups("  - name: sales\n"))]);
    assert!(
        err.contains("./a.yaml:9:5: group `sales` needs `ad:`, `entra:` or both"),
        "{err}"
    );
}

#[test]
fn a_group_named_twice_by_name_or_by_side() {
    let err = validate(&[(
        "a.yaml",
        &with_groups(
            "  - name: sales\n    ad: { sam_account_name: Sales }\n  - name: SALES\n    entra: { mail: sales@x.com }\n  - name: sales2\n    ad: { sam_account_name: sales }\n  - name: sales3\n    entra: { mail: Sales@X.com }\n",
        ),
    )]);
    assert!(
        err.contains("./a.yaml:11:11: group name `SALES` is already used at ./a.yaml:9:5"),
        "{err}"
    );
    assert!(
        err.contains(
            "./a.yaml:14:9: group `sales2` names the same AD group as the entry at ./a.yaml:9:5"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "./a.yaml:16:12: group `sales3` names the same cloud group as the entry at ./a.yaml:11:5"
        ),
        "{err}"
    );
}

#[test]
fn unknown_members_are_located_with_the_closest_names() {
    let err = validate(&[(
        "a.yaml",
        &with_groups(
            "  - name: managers\n    entra: { display_name: Managers }\n  - name: sales\n    ad: { sam_account_name: Sales }\n    members:\n      - adam\n      - jdoe\n      - someone@x.com\n      - \"group:managers\"\n      - adma\n      - \"group:manager\"\n      - managers\n      - not an@upn\n      - adam\n",
        ),
    )]);
    let lines = located(&err);
    assert_eq!(lines.len(), 5, "{err}");
    assert!(
        lines[0].starts_with(
            "./a.yaml:18:9: member `adma` is neither an identity name in identities[], nor a UPN, nor \"group:NAME\"; did you mean `adam`?"
        ),
        "{err}"
    );
    assert_eq!(
        lines[1],
        "./a.yaml:19:9: member `group:manager`: no group named `manager` in groups[]; did you mean `managers`?"
    );
    assert!(
        lines[2].starts_with("./a.yaml:20:9: member `managers` is neither")
            && lines[2].ends_with("; for the group, write \"group:managers\""),
        "{err}"
    );
    assert_eq!(
        lines[3],
        "./a.yaml:21:9: member `not an@upn` is not a UPN (local@domain)"
    );
    assert_eq!(lines[4], "./a.yaml:22:9: member `adam` is listed twice");
}

#[test]
fn a_group_that_contains_itself_names_the_path() {
    let err = validate(&[(
        "a.yaml",
        &with_groups(
            "  - name: a\n    entra: { display_name: A }\n    members: [ adam, \"group:b\" ]\n  - name: b\n    entra: { display_name: B }\n    members: [ \"group:c\" ]\n  - name: c\n    entra: { display_name: C }\n    members: [ \"group:A\" ]\n  - name: d\n    entra: { display_name: D }\n    members: [ \"group:d\" ]\n  - name: e\n    entra: { display_name: E }\n    members: [ \"group:a\" ]\n",
        ),
    )]);
    let lines = located(&err);
    assert_eq!(
        lines,
        [
            "./a.yaml:11:22: group `a` contains itself: a -> b -> c -> a",
            "./a.yaml:20:16: group `d` contains itself: d -> d",
        ],
        "{err}"
    );
}

#[test]
fn members_and_members_from_together() {
    let err = validate(&[(
        "a.yaml",
        &with_groups(
            "  - name: all\n    entra: { mail: all@x.com }\n    members: [ adam ]\n    members_from: entra\n  - name: quiet\n    entra: { mail: quiet@x.com }\n    ignore: true\n    members_from: ad\n",
        ),
    )]);
    assert!(
        err.contains("./a.yaml:12:19: give `members` (the exact set) or `members_from` (mirror one side), not both"),
        "{err}"
    );
    assert!(
        err.contains("./a.yaml:13:5: an ignored group cannot carry `members` or `members_from`"),
        "{err}"
    );
}

#[test]
fn malformed_group_keys() {
    let err = validate(&[(
        "a.yaml",
        &with_groups(
            "  - name: a\n    ad: { dn: \"OU=x,,DC=y\" }\n  - name: b\n    ad: { object_guid: nope }\n  - name: c\n    entra: { mail: not-mail }\n  - name: d\n    entra: { id: \"\" }\n  - name: e\n    ad: { sam_account_name: e, dn: \"CN=e,DC=x\" }\n",
        ),
    )]);
    for expected in [
        "./a.yaml:10:15: groups[].ad.dn:",
        "./a.yaml:12:24: groups[].ad.object_guid `nope` is not a GUID",
        "./a.yaml:14:20: groups[].entra.mail `not-mail` is not an SMTP address",
        "./a.yaml:16:18: groups[].entra.id must not be empty",
        "./a.yaml:18:9: groups[].ad: give exactly one of `sam_account_name`, `dn`, `object_guid` (got `sam_account_name`, `dn`)",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
    // Keys of a user reference are not group keys; `type` is security or distribution.
    let err = validate(&[(
        "a.yaml",
        &with_groups("  - name: f\n    entra: { upn: f@x.com }\n"),
    )]);
    assert!(err.contains("./a.yaml:10:14: unknown field `upn`"), "{err}");
    let err = validate(&[(
        "a.yaml",
        &with_groups("  - name: g\n    type: mail\n    entra: { mail: g@x.com }\n"),
    )]);
    assert!(err.contains("./a.yaml:10:11:"), "{err}");
}

/// The located lines of `validate`'s output (not its summary).
fn located(err: &str) -> Vec<&str> {
    err.lines().filter(|l| l.starts_with("./")).collect()
}

#[test]
fn groups_from_several_files_are_concatenated() {
    let err = validate(&[
        (
            "a.yaml",
            &with_groups(
                "  - name: sales\n    entra: { mail: sales@x.com }\n    members: [ \"group:emea\", nobody ]\n",
            ),
        ),
        (
            "b.yaml",
            "groups:\n  - name: emea\n    ad: { sam_account_name: EMEA }\n    members: [ jdoe ]\n  - name: Sales\n    ad: { sam_account_name: Sales }\n",
        ),
    ]);
    let lines = located(&err);
    assert_eq!(lines.len(), 2, "{err}");
    assert_eq!(
        lines[0],
        "./b.yaml:5:11: group name `Sales` is already used at ./a.yaml:9:5"
    );
    assert!(
        lines[1].starts_with("./a.yaml:11:30: member `nobody` is neither"),
        "{err}"
    );
}
