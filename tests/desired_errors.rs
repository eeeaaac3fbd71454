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
