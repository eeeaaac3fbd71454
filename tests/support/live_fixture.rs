//! A field situation against a live directory: a test OU on the shared Samba DC (AD live),
//! a desired-state folder in a temporary directory, and Entra either from a snapshot JSON file
//! or (with `entra_url`) from a Graph emulator.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use super::samba::{Entry, SambaDc, TestOu};

pub const PASSWORD_VAR: &str = "IDSYNC_TEST_AD_PASSWORD";
pub const SECRET_VAR: &str = "IDSYNC_TEST_ENTRA_SECRET";

/// One entry: DN and sorted attributes with raw values.
pub type AdState = (String, Vec<(String, Vec<Vec<u8>>)>);

pub struct LiveFixture<'d> {
    pub dc: &'d SambaDc,
    pub ou: TestOu<'d>,
    pub dir: tempfile::TempDir,
    /// Extra environment for idsync (the Entra secret when the tenant is live).
    pub env: Vec<(String, String)>,
}

impl<'d> LiveFixture<'d> {
    /// A fresh OU named after the test, with `OU=Cloud` and `OU=Service` inside it.
    pub fn new(dc: &'d SambaDc, name: &str) -> Self {
        let ou = dc.test_ou(name);
        ou.seed("dn: OU=Cloud,{OU}\nobjectClass: organizationalUnit\n\ndn: OU=Service,{OU}\nobjectClass: organizationalUnit\n");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("desired")).unwrap();
        std::fs::copy(dc.ca_file(), dir.path().join("desired/ca.pem")).unwrap();
        LiveFixture {
            dc,
            ou,
            dir,
            env: Vec::new(),
        }
    }

    pub fn ou_dn(&self) -> String {
        self.ou.dn().to_owned()
    }

    pub fn cloud_ou(&self) -> String {
        format!("OU=Cloud,{}", self.ou.dn())
    }

    /// Seeds LDIF (`{OU}` is the test OU).
    pub fn seed(&self, ldif: &str) {
        self.ou.seed(ldif);
    }

    /// The `directories.ad` block for the live DC.
    pub fn ad_yaml(&self) -> String {
        format!(
            "  ad:\n    url: {}\n    base_dn: \"{}\"\n    bind_dn: {}\n    password: {{ env: {PASSWORD_VAR} }}\n    ca_file: ca.pem\n",
            self.dc.url(),
            self.dc.base_dn(),
            self.dc.admin_upn()
        )
    }

    /// Writes `desired/idsync.yaml`: live AD, Entra as given, scope = the test OU, then `extra`.
    pub fn desired(&self, entra_yaml: &str, extra: &str) {
        let yaml = format!(
            "version: 1\ndirectories:\n{}{entra_yaml}scope:\n  ous: [ \"{}\" ]\nupn_suffixes:\n  corp.local: example.com\n{extra}",
            self.ad_yaml(),
            self.ou.dn()
        );
        std::fs::write(self.dir.path().join("desired/idsync.yaml"), yaml).unwrap();
    }

    /// Entra from `entra.json` beside the desired folder.
    pub fn snapshot_entra(&self, users: &[Value]) -> String {
        std::fs::write(
            self.path("entra.json"),
            serde_json::to_string_pretty(&serde_json::json!({ "value": users })).unwrap(),
        )
        .unwrap();
        "  entra:\n    snapshot: ../entra.json\n".into()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn idsync(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_idsync"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .args(["--color", "never", "--dir"])
            .arg(self.path("desired"))
            .env(PASSWORD_VAR, self.dc.password())
            .env_remove("IDSYNC_PLAN_KEY");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> (i32, String) {
        let out: Output = self.idsync(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    /// Applies (auto-approved) and checks a second plan has nothing left to do.
    pub fn converges(&self) -> String {
        let (code, out) = self.run(&["apply", "--auto-approve"]);
        assert_eq!(code, 0, "apply failed:\n{out}");
        let (code, plan) = self.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "second plan is not empty:\n{plan}");
        out
    }

    /// The user with this sAMAccountName, anywhere under the test OU.
    pub fn user(&self, sam: &str) -> Option<Entry> {
        self.ou
            .entries(
                &format!("(sAMAccountName={sam})"),
                &["*", "objectGUID", "mS-DS-ConsistencyGuid", "uSNChanged"],
            )
            .into_iter()
            .next()
    }

    /// base64 of a user's objectGUID (the immutableId a hard match needs).
    pub fn anchor(&self, sam: &str) -> String {
        let u = self.user(sam).unwrap_or_else(|| panic!("no user {sam}"));
        B64.encode(u.bytes("objectGUID").expect("objectGUID"))
    }

    /// Everything under the test OU, for before/after comparisons.
    pub fn ad_state(&self) -> Vec<AdState> {
        let mut all: Vec<_> = self
            .ou
            .entries("(objectClass=*)", &["*"])
            .into_iter()
            .map(|e| {
                let mut attrs: Vec<_> = e
                    .attrs
                    .into_iter()
                    .filter(|(k, _)| !k.eq_ignore_ascii_case("lastLogonTimestamp"))
                    .collect();
                attrs.sort();
                (e.dn, attrs)
            })
            .collect();
        all.sort();
        all
    }

    pub fn cloud_file(&self) -> Vec<Value> {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(self.path("entra.json")).unwrap())
                .unwrap();
        v["value"].as_array().cloned().unwrap_or_default()
    }
}

/// A cloud user as Graph JSON, every property a plan selects present (null where unset: an
/// absent property is unknown, not null); `extra` overrides or adds properties.
pub fn cloud_user(id_n: u32, upn: &str, extra: Value) -> Value {
    let mut u = serde_json::json!({
        "id": format!("c0ffee00-0000-4000-8000-{id_n:012x}"),
        "userPrincipalName": upn,
        "displayName": upn.split('@').next().unwrap(),
        "mailNickname": upn.split('@').next().unwrap(),
        "accountEnabled": true,
        "mail": null,
        "proxyAddresses": [],
        "onPremisesImmutableId": null,
        "onPremisesSyncEnabled": null,
        "userType": "Member",
    });
    super::fixtures::merge_as_graph(&mut u, &extra);
    u
}

pub fn in_file<'a>(users: &'a [Value], upn: &str) -> &'a Value {
    users
        .iter()
        .find(|u| u["userPrincipalName"] == upn)
        .unwrap_or_else(|| panic!("no cloud user {upn}"))
}

/// `Path` helper for messages.
pub fn show(p: &Path) -> String {
    p.display().to_string()
}
