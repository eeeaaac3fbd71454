//! The desired state is untrusted input: a pull request edits it while the pipeline that plans
//! the pull request holds credentials. It must never choose which secret is sent where, and no
//! error repeats a literal secret. Also: the smaller located errors of the loader.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

const PLAN_KEY: &str = "plan-key-7f3Qz81";
const GITHUB_TOKEN: &str = "ghp_Fake0Token9Xy";
const AD_PASSWORD: &str = "ad-pass-Wq4r8";

/// The example desired state in `root/desired-state`, with its `directories:` block replaced,
/// and the example snapshots in `root/pipeline/` beside a pipeline-owned directories file.
fn setup(root: &Path, directories: &str) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(root.join("desired-state")).unwrap();
    std::fs::create_dir_all(root.join("pipeline")).unwrap();
    std::fs::copy(
        repo.join("desired-state/identities.yaml"),
        root.join("desired-state/identities.yaml"),
    )
    .unwrap();
    let main = std::fs::read_to_string(repo.join("desired-state/idsync.yaml")).unwrap();
    let (start, end) = (
        main.find("directories:").unwrap(),
        main.find("scope:").unwrap(),
    );
    let main = format!("{}{directories}\n{}", &main[..start], &main[end..]);
    std::fs::write(root.join("desired-state/idsync.yaml"), main).unwrap();
    for (from, to) in [("ad.ldif", "ad.ldif"), ("entra/users.json", "entra.json")] {
        std::fs::copy(
            repo.join("examples/contoso").join(from),
            root.join("pipeline").join(to),
        )
        .unwrap();
    }
    std::fs::write(
        root.join("pipeline/directories.yaml"),
        "# owned by the pipeline (protected branch)\nad:\n  snapshot: ad.ldif\nentra:\n  snapshot: entra.json\n",
    )
    .unwrap();
}

fn idsync(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_idsync"))
        .current_dir(root)
        .args(args)
        .env("IDSYNC_PLAN_KEY", PLAN_KEY)
        .env("GITHUB_TOKEN", GITHUB_TOKEN)
        .env("IDSYNC_AD_PASSWORD", AD_PASSWORD)
        .env_remove("IDSYNC_DIRECTORIES")
        .output()
        .unwrap()
}

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A loopback listener standing in for an attacker's LDAP or token endpoint.
fn attacker() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    (l, port)
}

/// Any connection made (even one closed since) waits in the accept queue.
fn assert_untouched(l: &TcpListener) {
    match l.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, from)) => panic!("idsync connected to the attacker's listener from {from}"),
        Err(e) => panic!("{e}"),
    }
}

fn assert_no_secret(text: &str) {
    for secret in [PLAN_KEY, GITHUB_TOKEN, AD_PASSWORD] {
        assert!(!text.contains(secret), "a secret leaked:\n{text}");
    }
}

fn ad_block(port: u16, var: &str) -> String {
    format!(
        "directories:\n  ad:\n    url: ldap://127.0.0.1:{port}\n    base_dn: DC=corp,DC=example,DC=com\n    bind_dn: svc@corp.example.com\n    password: {{ env: {var} }}\n  entra:\n    snapshot: ../pipeline/entra.json\n"
    )
}

fn entra_block(port: u16, var: &str) -> String {
    format!(
        "directories:\n  ad:\n    snapshot: ../pipeline/ad.ldif\n  entra:\n    tenant_id: t\n    client_id: c\n    client_secret: {{ env: {var} }}\n    login_url: http://127.0.0.1:{port}\n    graph_url: http://127.0.0.1:{port}\n"
    )
}

#[test]
fn a_desired_state_cannot_send_the_plan_key_or_a_ci_token_anywhere() {
    for var in ["IDSYNC_PLAN_KEY", "GITHUB_TOKEN"] {
        for (side, block, at) in [
            (
                "ad",
                ad_block as fn(u16, &str) -> String,
                "directories.ad.password",
            ),
            ("entra", entra_block, "directories.entra.client_secret"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let (listener, port) = attacker();
            setup(dir.path(), &block(port, var));
            let text =
                std::fs::read_to_string(dir.path().join("desired-state/idsync.yaml")).unwrap();
            let line = text.lines().position(|l| l.contains("{ env:")).unwrap() + 1;
            for command in ["validate", "plan"] {
                let out = idsync(dir.path(), &[command]);
                let all = all_output(&out);
                assert_eq!(out.status.code(), Some(1), "{side} {var} {command}: {all}");
                assert!(
                    all.contains(&format!("desired-state/idsync.yaml:{line}:")) && all.contains(at),
                    "{side} {var} {command}: not located:\n{all}"
                );
                assert_no_secret(&all);
                assert_untouched(&listener);
            }
        }
    }
}

#[test]
fn with_directories_the_pull_requests_directories_are_ignored() {
    // Even a variable idsync may read is never sent where the pull request says.
    for var in ["IDSYNC_AD_PASSWORD", "GITHUB_TOKEN"] {
        let dir = tempfile::tempdir().unwrap();
        let (listener, port) = attacker();
        setup(dir.path(), &ad_block(port, var));
        for how in ["flag", "env"] {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_idsync"));
            cmd.current_dir(dir.path())
                .arg("plan")
                .env("IDSYNC_PLAN_KEY", PLAN_KEY)
                .env("GITHUB_TOKEN", GITHUB_TOKEN)
                .env("IDSYNC_AD_PASSWORD", AD_PASSWORD);
            if how == "flag" {
                cmd.args(["--directories", "pipeline/directories.yaml"])
                    .env_remove("IDSYNC_DIRECTORIES");
            } else {
                cmd.env("IDSYNC_DIRECTORIES", "pipeline/directories.yaml");
            }
            let out = cmd.output().unwrap();
            let all = all_output(&out);
            assert!(out.status.success(), "{var} {how}: {all}");
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("Plan: 2 to create"),
                "{all}"
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("desired-state/idsync.yaml:")
                    && stderr.contains("warning: `directories:` is not used")
                    && stderr.contains("directories.ad.url")
                    && stderr.contains("directories.ad.password"),
                "{var} {how}: {stderr}"
            );
            assert!(
                !stderr.contains(&port.to_string()),
                "the warning shows values: {stderr}"
            );
            assert_no_secret(&all);
            assert_untouched(&listener);
        }
    }
}

#[test]
fn the_same_directories_in_both_places_give_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    setup(
        dir.path(),
        "directories:\n  ad:\n    snapshot: ad.ldif\n  entra:\n    snapshot: entra.json\n",
    );
    // Relative paths are compared as written (each is relative to its own file).
    let out = idsync(
        dir.path(),
        &["validate", "--directories", "pipeline/directories.yaml"],
    );
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(
        !all_output(&out).contains("warning"),
        "{}",
        all_output(&out)
    );
    // A broken directories file is located, and the desired state's block is not used instead.
    std::fs::write(
        dir.path().join("pipeline/directories.yaml"),
        "ad:\n  snapshot: ad.ldif\nentra:\n  snapshot: entra.json\n  colour: blue\n",
    )
    .unwrap();
    let out = idsync(
        dir.path(),
        &["plan", "--directories", "pipeline/directories.yaml"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        all_output(&out).contains("pipeline/directories.yaml:5:3: unknown field `colour`"),
        "{}",
        all_output(&out)
    );
}

/// Writes `a.yaml` with `text`, runs `idsync validate` (exit 1 expected), returns all output.
fn validate(text: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), text).unwrap();
    let out = idsync(dir.path(), &["validate", "--dir", "."]);
    let all = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    all
}

const BASE: &str = "version: 1\nscope:\n  ous: [\"OU=Staff,DC=x\"]\n";

#[test]
fn literal_secrets_of_any_yaml_type_are_refused_and_never_repeated() {
    // (YAML value, text that must not appear)
    let cases = [
        ("3.1415926535", "1415926"),
        ("123456789012345678901234567890", "12345678901"),
        ("-98765432109876543210987", "9876543210"),
        ("{Hunter2FlowMap}", "Hunter2FlowMap"),
        ("{ S3cretAsKey: 1 }", "S3cretAsKey"),
        ("{ env: IDSYNC_X, Extra9Key: 2 }", "Extra9Key"),
        ("[ Hunter2Seq ]", "Hunter2Seq"),
        ("!!binary SHVudGVyMkJpbg==", "SHVudGVyMkJpbg"),
        ("0x5EC7E7", "5EC7E7"),
        ("'Quoted9Secret'", "Quoted9Secret"),
        ("{ env: 271828.1828 }", "271828"),
        ("{ env: Pasted9Password }", "Pasted9Password"),
        ("{ file: [ Seq9File ] }", "Seq9File"),
    ];
    for (value, text) in cases {
        for block in [
            format!(
                "directories:\n  ad:\n    url: ldaps://dc\n    base_dn: DC=x\n    bind_dn: svc\n    password: {value}\n"
            ),
            format!(
                "directories:\n  entra:\n    tenant_id: t\n    client_id: c\n    client_secret: {value}\n"
            ),
        ] {
            let all = validate(format!("{BASE}{block}").as_bytes());
            assert!(all.contains("./a.yaml:"), "not located: {all}");
            assert!(!all.contains(text), "{value} repeated:\n{all}");
        }
    }
}

#[test]
fn secret_files_that_are_obviously_not_secrets_are_refused() {
    for path in ["/proc/self/environ", "/dev/zero", "../.git/config"] {
        let all = validate(
            format!(
                "{BASE}directories:\n  entra:\n    tenant_id: t\n    client_id: c\n    client_secret: {{ file: {path} }}\n"
            )
            .as_bytes(),
        );
        assert!(
            all.contains("./a.yaml:8:20: directories.entra.client_secret:"),
            "{path}: {all}"
        );
    }
    let all = validate(
        format!(
            "{BASE}directories:\n  entra:\n    tenant_id: t\n    client_id: c\n    federated_token_file: /proc/self/environ\n"
        )
        .as_bytes(),
    );
    assert!(
        all.contains("./a.yaml:8:27: directories.entra.federated_token_file: a file under /proc"),
        "{all}"
    );
}

#[test]
fn upn_suffixes_differing_only_in_case_are_located() {
    let all = validate(
        format!("{BASE}upn_suffixes:\n  corp.local: example.com\n  Corp.Local: example.org\n")
            .as_bytes(),
    );
    assert!(
        all.contains("./a.yaml:6:15: upn_suffixes: `Corp.Local` is `corp.local` (line 5)"),
        "{all}"
    );
}

#[test]
fn unknown_template_placeholders_are_located_and_name_the_known_ones() {
    let all = validate(
        format!(
            "{BASE}provision:\n  ad:\n    enabled: true\n    ou: OU=Staff,DC=x\n    sam_account_name: \"ad-{{mailNick}}\"\n"
        )
        .as_bytes(),
    );
    // Line 8; the value's quote is column 23, so `{` is column 27.
    assert!(
        all.contains("./a.yaml:8:27: provision.ad.sam_account_name: unknown placeholder `{mailNick}`; known: id, onPremisesImmutableId,"),
        "{all}"
    );
    assert!(all.contains("mailNickname"), "{all}");
}

#[test]
fn invalid_utf8_is_located() {
    let all = validate(b"version: 1\nscope:\n  ous: [\"OU=Caf\xc3\xa9,DC=x\"]\n# r\xe9sum\xe9\n");
    assert!(
        all.contains("./a.yaml:4:4: invalid UTF-8 (byte 0xe9)"),
        "{all}"
    );
}

#[test]
fn yaml_errors_quote_plainly() {
    let all = validate(b"version: 1\nscope\n  ous: x\n");
    assert!(
        all.contains("./a.yaml:2:1: simple key expected ':'"),
        "{all}"
    );
    let all = validate(b"version: 1\nscope:\n  ous: [\"a\x00b\"]\n");
    assert!(all.contains("U+0000"), "{all}");
    assert!(!all.contains("\\'") && !all.contains("\\u{"), "{all}");
}

#[test]
fn the_example_pipelines_directories_file_loads() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = idsync(
        repo,
        &[
            "validate",
            "--directories",
            "examples/pipelines/directories.yaml",
        ],
    );
    assert!(out.status.success(), "{}", all_output(&out));
}
