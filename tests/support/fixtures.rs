//! Field situations as files: a desired-state folder, an AD LDIF export and a Graph JSON
//! export in a temporary folder, and the `idsync` command pointed at them.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

pub const BASE: &str = "DC=corp,DC=example,DC=com";
pub const OU: &str = "OU=Office365,DC=corp,DC=example,DC=com";
pub const CLOUD_OU: &str = "OU=Cloud,OU=Office365,DC=corp,DC=example,DC=com";

/// The raw objectGUID bytes of test user `n`.
pub fn guid(n: u8) -> [u8; 16] {
    let mut g = [0x5a; 16];
    g[0] = n;
    g
}

pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// One AD user as LDIF lines.
#[derive(Clone)]
pub struct AdUser {
    pub n: u8,
    pub cn: String,
    pub ou: String,
    pub lines: Vec<String>,
}

impl AdUser {
    pub fn new(n: u8, cn: &str, sam: &str) -> Self {
        AdUser {
            n,
            cn: cn.into(),
            ou: OU.into(),
            lines: vec![
                format!("sAMAccountName: {sam}"),
                format!("displayName: {cn}"),
                "userAccountControl: 512".into(),
                format!("uSNChanged: {}", 1000 + u32::from(n)),
            ],
        }
    }
    pub fn ou(mut self, ou: &str) -> Self {
        self.ou = ou.into();
        self
    }
    pub fn with(mut self, attr: &str, value: &str) -> Self {
        self.lines.push(format!("{attr}: {value}"));
        self
    }
    pub fn upn(self, upn: &str) -> Self {
        self.with("userPrincipalName", upn)
    }
    pub fn smtp(self, addr: &str) -> Self {
        self.with("proxyAddresses", &format!("SMTP:{addr}"))
    }
    pub fn consistency_guid(mut self) -> Self {
        self.lines
            .push(format!("mS-DS-ConsistencyGuid:: {}", b64(&guid(self.n))));
        self
    }
    pub fn dn(&self) -> String {
        format!("CN={},{}", self.cn, self.ou)
    }
    pub fn immutable_id(&self) -> String {
        b64(&guid(self.n))
    }
    fn ldif(&self) -> String {
        let mut s = format!(
            "dn: {}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\ncn: {}\nobjectGUID:: {}\n",
            self.dn(),
            self.cn,
            b64(&guid(self.n))
        );
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

/// One cloud user as Graph JSON, as `GET /users?$select=…` gives it: every property the plan
/// reads is present (null where unset), since an absent property is unknown, not null.
pub fn cloud(n: u8, upn: &str, extra: Value) -> Value {
    let mut u = json!({
        "id": format!("00000000-0000-4000-8000-0000000000{n:02x}"),
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
    merge_as_graph(&mut u, &extra);
    u
}

/// Sets `extra`'s properties on the Graph user `u` as Graph would hold them: setting `mail`
/// adds it to proxyAddresses as the primary SMTP address (soft match reads proxyAddresses,
/// not mail), unless `extra` gives proxyAddresses itself.
pub fn merge_as_graph(u: &mut Value, extra: &Value) {
    if let (Some(u), Some(e)) = (u.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            u.insert(k.clone(), v.clone());
        }
        if let Some(mail) = e.get("mail").and_then(Value::as_str)
            && !e.contains_key("proxyAddresses")
        {
            u.insert("proxyAddresses".into(), json!([format!("SMTP:{mail}")]));
        }
    }
}

pub const DESIRED: &str = "version: 1
directories:
  ad: { snapshot: ../ad.ldif }
  entra: { snapshot: ../entra.json }
scope:
  ous: [ \"OU=Office365,DC=corp,DC=example,DC=com\" ]
upn_suffixes:
  corp.local: example.com
";

/// A situation on disk.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// `desired` is the YAML of `desired/idsync.yaml` (see [`DESIRED`]).
    pub fn new(desired: &str, ad: &[AdUser], cloud: &[Value]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("desired")).unwrap();
        std::fs::write(dir.path().join("desired/idsync.yaml"), desired).unwrap();
        let ldif: Vec<String> = ad.iter().map(AdUser::ldif).collect();
        std::fs::write(dir.path().join("ad.ldif"), ldif.join("\n")).unwrap();
        std::fs::write(
            dir.path().join("entra.json"),
            serde_json::to_string_pretty(&json!({ "value": cloud })).unwrap(),
        )
        .unwrap();
        Fixture { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn desired_dir(&self) -> PathBuf {
        self.path("desired")
    }

    /// `idsync ARGS --dir <desired>` run in the fixture's folder.
    pub fn idsync(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_idsync"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .arg("--dir")
            .arg(self.desired_dir());
        cmd.env_remove("NO_COLOR").env_remove("IDSYNC_PLAN_KEY");
        cmd
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    pub fn cloud_users(&self) -> Vec<Value> {
        let v: Value = serde_json::from_str(&self.read("entra.json")).unwrap();
        v["value"].as_array().cloned().unwrap_or_default()
    }

    pub fn cloud_user(&self, upn: &str) -> Value {
        self.cloud_users()
            .into_iter()
            .find(|u| u["userPrincipalName"] == upn)
            .unwrap_or_else(|| panic!("no cloud user {upn}"))
    }

    /// The LDIF entry (text) whose DN starts with `CN=<cn>,`.
    pub fn ad_entry(&self, cn: &str) -> Option<String> {
        let text = self.read("ad.ldif");
        text.split("\n\n")
            .find(|e| {
                e.lines()
                    .next()
                    .is_some_and(|l| l.starts_with(&format!("dn: CN={cn},")))
            })
            .map(str::to_owned)
    }

    /// Runs `idsync plan --detailed-exitcode` and returns its exit code and stdout.
    pub fn plan_code(&self) -> (i32, String) {
        let out = self
            .idsync(&["plan", "--detailed-exitcode"])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    pub fn apply(&self) -> std::process::Output {
        self.idsync(&["apply", "--auto-approve"]).output().unwrap()
    }
}

/// The value of `attr` in an LDIF entry's text (first one; base64 values stay encoded).
pub fn ldif_value<'a>(entry: &'a str, attr: &str) -> Option<&'a str> {
    entry.lines().find_map(|l| {
        l.strip_prefix(&format!("{attr}: "))
            .or_else(|| l.strip_prefix(&format!("{attr}:: ")))
    })
}

/// The environment variable holding the emulator's client secret in tests.
pub const ENTRA_SECRET_VAR: &str = "IDSYNC_TEST_ENTRA_SECRET";

impl Fixture {
    /// Moves the fixture's cloud users into a running Graph emulator and points the desired
    /// state at it (Entra live, AD still from the LDIF snapshot).
    pub fn with_live_entra(&self) -> graph_emulator::RunningEmulator {
        let tenant: Value = serde_json::from_str(&self.read("entra.json")).unwrap();
        let config = graph_emulator::Config::default()
            .with_tenant_json(tenant)
            .unwrap();
        let emu = graph_emulator::Emulator::start_blocking(config).unwrap();
        let yaml = self.read("desired/idsync.yaml").replace(
            "  entra: { snapshot: ../entra.json }\n",
            &format!(
                "  entra:\n    tenant_id: {}\n    client_id: {}\n    client_secret: {{ env: {ENTRA_SECRET_VAR} }}\n    login_url: {}\n    graph_url: {}\n",
                emu.tenant_id(),
                emu.client_id(),
                emu.base_url(),
                emu.base_url()
            ),
        );
        assert!(
            yaml.contains("client_secret"),
            "the fixture's desired state has no entra snapshot line"
        );
        std::fs::write(self.path("desired/idsync.yaml"), yaml).unwrap();
        std::fs::remove_file(self.path("entra.json")).unwrap();
        emu
    }
}

/// The emulator's copy of a user, by UPN.
pub fn live_user(emu: &graph_emulator::RunningEmulator, upn: &str) -> Value {
    emu.user(upn)
        .unwrap_or_else(|| panic!("no cloud user {upn} in the emulator"))
}

/// Copies the embedded example (desired state and snapshot files) under `into`, so a test can
/// apply it or edit it without touching the repository.
pub fn copy_example(into: &std::path::Path) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["desired-state", "examples/contoso"] {
        copy_tree(&root.join(sub), &into.join(sub));
    }
}

/// Serves a copied example's Entra snapshot folder from a Graph emulator and points its desired
/// state at it (AD stays the LDIF); run idsync with [`ENTRA_SECRET_VAR`] set to the emulator's
/// client secret.
pub fn example_with_live_entra(root: &std::path::Path) -> graph_emulator::RunningEmulator {
    let folder = root.join("examples/contoso/entra");
    let config = graph_emulator::Config::default()
        .with_tenant_file(&folder)
        .unwrap();
    let emu = graph_emulator::Emulator::start_blocking(config).unwrap();
    let yaml_path = root.join("desired-state/idsync.yaml");
    let yaml = std::fs::read_to_string(&yaml_path).unwrap().replace(
        "    snapshot: ../examples/contoso/entra",
        &format!(
            "    tenant_id: {}\n    client_id: {}\n    client_secret: {{ env: {ENTRA_SECRET_VAR} }}\n    login_url: {}\n    graph_url: {}\n    # snapshot: ../examples/contoso/entra",
            emu.tenant_id(),
            emu.client_id(),
            emu.base_url(),
            emu.base_url()
        ),
    );
    assert!(
        yaml.contains("client_secret"),
        "the example names no Entra snapshot folder"
    );
    std::fs::write(&yaml_path, yaml).unwrap();
    emu
}

/// Copies a folder with its subfolders (the Entra snapshot of the example is a folder).
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
