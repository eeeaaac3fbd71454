//! Test support: a real Samba AD domain controller per test binary.
//!
//! Every call shells out: `scripts/samba-dc` starts and stops DCs, and ldap-utils
//! (`ldapadd`, `ldapmodify`, `ldapsearch`) talk to them over LDAPS, verifying the server
//! certificate against the DC's own test CA. Needs root (the DC gets its own loopback
//! address) and the Debian packages `samba samba-ad-dc ldap-utils`. See `scripts/SAMBA.md`.
//!
//! ```ignore
//! mod support;
//! use support::samba::shared_dc;
//!
//! let dc = shared_dc();                       // one DC per test binary, started on first use
//! let ou = dc.test_ou("join");                // a fresh OU that only this test uses
//! ou.seed("dn: CN=Ann,{OU}\nobjectClass: user\nsAMAccountName: ann\n");
//! assert_eq!(ou.users().len(), 1);
//! ```
//!
//! No DC outlives its test binary: `scripts/samba-dc start --watch-pid <this process>` leaves
//! a detached watchdog that stops the DC and removes its folder once this process is gone,
//! whether it exited, panicked or was killed with SIGKILL.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// `scripts/samba-dc` of this crate; `IDSYNC_SAMBA_DC_SCRIPT` overrides it.
pub fn script_path() -> PathBuf {
    match std::env::var_os("IDSYNC_SAMBA_DC_SCRIPT") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/samba-dc")),
    }
}

static SHARED: OnceLock<Result<SambaDc, String>> = OnceLock::new();

/// The DC shared by every test of this test binary, started on first use (~1.5 s with a
/// cached template, ~9 s the very first time on a machine). Tests must not `stop()` it: use
/// [`SambaDc::launch`] for a DC of your own. Isolate tests from each other with
/// [`SambaDc::test_ou`].
pub fn shared_dc() -> &'static SambaDc {
    let dc = SHARED.get_or_init(|| SambaDc::launch_with(&[]).map(SambaDc::into_shared));
    match dc {
        Ok(dc) => dc,
        Err(e) => panic!("{e}"),
    }
}

/// One running Samba AD DC, as `scripts/samba-dc start` described it.
#[derive(Debug)]
pub struct SambaDc {
    dir: PathBuf,
    ip: String,
    url: String,
    ldap_url: String,
    realm: String,
    base_dn: String,
    admin_dn: String,
    admin_upn: String,
    password: String,
    ca_file: PathBuf,
    /// Stop the DC and remove its folder when this value is dropped.
    stop_on_drop: bool,
}

impl SambaDc {
    /// Starts a DC of its own (not the shared one), stopped and removed on drop, or by the
    /// watchdog when the test process dies. Panics with the script's error output on failure.
    pub fn launch() -> SambaDc {
        Self::launch_with(&[]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`SambaDc::launch`], with extra `scripts/samba-dc start` arguments, e.g.
    /// `["--relax-password-policy"]`, `["--realm", "CORP.LOCAL"]` or `["--seed", "a.ldif"]`.
    pub fn launch_with(args: &[&str]) -> Result<SambaDc, String> {
        let pid = std::process::id().to_string();
        let mut all = vec!["start", "--watch-pid", pid.as_str()];
        all.extend_from_slice(args);
        let out = run_script(&all)?;
        Self::from_summary(&out)
    }

    fn into_shared(mut self) -> SambaDc {
        // A static is never dropped; the watchdog stops the shared DC when the process ends.
        self.stop_on_drop = false;
        self
    }

    fn from_summary(summary: &str) -> Result<SambaDc, String> {
        let vars: BTreeMap<&str, &str> =
            summary.lines().filter_map(|l| l.split_once('=')).collect();
        let get = |k: &str| {
            vars.get(k)
                .map(|v| v.to_string())
                .ok_or_else(|| format!("scripts/samba-dc printed no {k}; it printed:\n{summary}"))
        };
        Ok(SambaDc {
            dir: PathBuf::from(get("IDSYNC_DC_DIR")?),
            ip: get("IDSYNC_DC_IP")?,
            url: get("IDSYNC_DC_URL")?,
            ldap_url: get("IDSYNC_DC_LDAP_URL")?,
            realm: get("IDSYNC_DC_REALM")?,
            base_dn: get("IDSYNC_DC_BASE_DN")?,
            admin_dn: get("IDSYNC_DC_ADMIN_DN")?,
            admin_upn: get("IDSYNC_DC_ADMIN_UPN")?,
            password: get("IDSYNC_DC_PASSWORD")?,
            ca_file: PathBuf::from(get("IDSYNC_DC_CA")?),
            stop_on_drop: true,
        })
    }

    /// `ldaps://127.0.0.N`: the certificate's subjectAltName holds this IP.
    pub fn url(&self) -> &str {
        &self.url
    }
    /// `ldap://127.0.0.N` (simple binds allowed: `ldap server require strong auth = no`).
    pub fn ldap_url(&self) -> &str {
        &self.ldap_url
    }
    pub fn ip(&self) -> &str {
        &self.ip
    }
    /// e.g. `CORP.EXAMPLE.COM`.
    pub fn realm(&self) -> &str {
        &self.realm
    }
    /// e.g. `DC=corp,DC=example,DC=com`.
    pub fn base_dn(&self) -> &str {
        &self.base_dn
    }
    /// `CN=Administrator,CN=Users,<base>`.
    pub fn admin_dn(&self) -> &str {
        &self.admin_dn
    }
    /// `administrator@corp.example.com`: binds as a UPN work too.
    pub fn admin_upn(&self) -> &str {
        &self.admin_upn
    }
    /// The Administrator password.
    pub fn password(&self) -> &str {
        &self.password
    }
    /// PEM of the test CA that issued the DC's certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }
    /// The DC's folder (smb.conf in `etc/`, database in `private/`, logs in `log/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the DC's processes and keeps its folder, address, certificate and database.
    pub fn stop(&self) {
        let dir = self.dir.to_string_lossy();
        run_script(&["stop", "--dir", &dir, "--keep"]).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts the DC again after [`SambaDc::stop`], with its data, and waits for LDAPS.
    pub fn start(&self) {
        let dir = self.dir.to_string_lossy();
        run_script(&["start", "--dir", &dir]).unwrap_or_else(|e| panic!("{e}"));
    }

    /// `ldapadd` as Administrator over LDAPS; panics on failure. Returns ldap-utils' stdout.
    pub fn ldapadd(&self, ldif: &str) -> String {
        self.try_ldap_tool("ldapadd", &[], ldif)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `ldapmodify` as Administrator over LDAPS (records need `changetype:`); panics on failure.
    pub fn ldapmodify(&self, ldif: &str) -> String {
        self.try_ldapmodify(ldif).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `ldapmodify`, returning the error (with the server's diagnostic) instead of panicking.
    pub fn try_ldapmodify(&self, ldif: &str) -> Result<String, String> {
        self.try_ldap_tool("ldapmodify", &[], ldif)
    }

    /// `ldapadd`, returning the error instead of panicking.
    pub fn try_ldapadd(&self, ldif: &str) -> Result<String, String> {
        self.try_ldap_tool("ldapadd", &[], ldif)
    }

    /// `ldapsearch -LLL -o ldif-wrap=no` (subtree) as Administrator over LDAPS; panics on
    /// failure. Search references (`# ref...` lines) are left out. `attrs` empty = all
    /// user attributes.
    pub fn ldapsearch(&self, base: &str, filter: &str, attrs: &[&str]) -> String {
        let mut args = vec!["-LLL", "-o", "ldif-wrap=no", "-b", base, filter];
        args.extend_from_slice(attrs);
        let out = self
            .try_ldap_tool("ldapsearch", &args, "")
            .unwrap_or_else(|e| panic!("{e}"));
        out.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// [`SambaDc::ldapsearch`], parsed.
    pub fn search(&self, base: &str, filter: &str, attrs: &[&str]) -> Vec<Entry> {
        parse_ldif(&self.ldapsearch(base, filter, attrs))
    }

    /// Sets `unicodePwd` (an administrative reset) over LDAPS. The domain policy applies
    /// (complexity on, at least 7 characters, unless the DC was started with
    /// `--relax-password-policy`).
    pub fn set_password(&self, dn: &str, password: &str) -> Result<String, String> {
        self.try_ldapmodify(&format!(
            "dn: {dn}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n-\n",
            unicode_pwd(password)
        ))
    }

    /// `userAccountControl: 512` (NORMAL_ACCOUNT, enabled).
    pub fn enable(&self, dn: &str) -> Result<String, String> {
        self.try_ldapmodify(&format!(
            "dn: {dn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 512\n-\n"
        ))
    }

    /// True when a simple bind as `who` (UPN or DN) with `password` succeeds over LDAPS.
    pub fn can_bind(&self, who: &str, password: &str) -> bool {
        let out = self.ldap_command(
            "ldapsearch",
            &self.url,
            who,
            password,
            &["-LLL", "-b", "", "-s", "base", "dnsHostName"],
        );
        matches!(out, Ok(ref o) if o.status.success())
    }

    /// A fresh OU `OU=<name>-<counter>-<pid>,<base>` for one test: tests of one binary run
    /// in parallel on the shared DC and see only their own OU's objects.
    pub fn test_ou(&self, name: &str) -> TestOu<'_> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let clean: String = name
            .chars()
            .take(40)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let rdn = format!("{clean}-{n}-{}", std::process::id());
        let dn = format!("OU={rdn},{}", self.base_dn);
        self.ldapadd(&format!(
            "dn: {dn}\nobjectClass: organizationalUnit\nou: {rdn}\n"
        ));
        TestOu { dc: self, dn }
    }

    /// Environment for running ldap-utils (or anything using libldap) against this DC:
    /// the test CA, certificate checks on.
    pub fn ldap_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "LDAPTLS_CACERT",
                self.ca_file.to_string_lossy().into_owned(),
            ),
            ("LDAPTLS_REQCERT", "demand".to_string()),
        ]
    }

    fn ldap_command(
        &self,
        tool: &str,
        url: &str,
        who: &str,
        password: &str,
        args: &[&str],
    ) -> std::io::Result<Output> {
        Command::new(tool)
            .args([
                "-x",
                "-H",
                url,
                "-D",
                who,
                "-w",
                password,
                "-o",
                "nettimeout=10",
            ])
            .args(args)
            .envs(self.ldap_env())
            .stdin(Stdio::null())
            .output()
    }

    fn try_ldap_tool(&self, tool: &str, args: &[&str], stdin: &str) -> Result<String, String> {
        let mut child = Command::new(tool)
            .args([
                "-x",
                "-H",
                &self.url,
                "-D",
                &self.admin_upn,
                "-w",
                &self.password,
            ])
            .args(["-o", "nettimeout=10"])
            .args(args)
            .envs(self.ldap_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {tool} (apt-get install ldap-utils): {e}"))?;
        let mut input = child.stdin.take().expect("piped stdin");
        let data = stdin.as_bytes().to_vec();
        // Write from a thread: a large LDIF would otherwise fill the pipe while the tool's
        // own output fills the other one.
        let writer = std::thread::spawn(move || input.write_all(&data));
        let out = child
            .wait_with_output()
            .map_err(|e| format!("{tool} failed to run: {e}"))?;
        let _ = writer.join();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "{tool} {args:?} against {} failed ({}):\n{}{}\n--- input:\n{}",
                self.url,
                out.status,
                String::from_utf8_lossy(&out.stderr),
                stdout,
                truncate(stdin, 2000)
            ))
        }
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        if self.stop_on_drop {
            let dir = self.dir.to_string_lossy().into_owned();
            if let Err(e) = run_script(&["stop", "--dir", &dir]) {
                eprintln!("samba-dc stop failed: {e}");
            }
        }
    }
}

/// An OU of its own for one test; see [`SambaDc::test_ou`]. Left in place at the end (the
/// DC is thrown away anyway).
pub struct TestOu<'a> {
    dc: &'a SambaDc,
    dn: String,
}

impl TestOu<'_> {
    pub fn dn(&self) -> &str {
        &self.dn
    }

    pub fn dc(&self) -> &SambaDc {
        self.dc
    }

    /// Replaces `{OU}` with this OU's DN and `{BASE}` with the domain's base DN, then applies
    /// the LDIF with `ldapmodify -a` (plain entries are added; `changetype:` records work
    /// too). Panics on failure.
    pub fn seed(&self, ldif_template: &str) -> String {
        let ldif = self.expand(ldif_template);
        self.dc
            .ldapmodify_add(&ldif)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`TestOu::seed`] returning the error instead of panicking.
    pub fn try_seed(&self, ldif_template: &str) -> Result<String, String> {
        self.dc.ldapmodify_add(&self.expand(ldif_template))
    }

    /// The template with `{OU}` and `{BASE}` replaced.
    pub fn expand(&self, ldif_template: &str) -> String {
        ldif_template
            .replace("{OU}", &self.dn)
            .replace("{BASE}", self.dc.base_dn())
    }

    /// Every user below this OU, all user attributes (objectGUID and
    /// mS-DS-ConsistencyGuid as raw bytes), sorted by DN.
    pub fn users(&self) -> Vec<Entry> {
        self.entries("(&(objectCategory=person)(objectClass=user))", &[])
    }

    /// Objects below this OU matching `filter` (subtree, the OU itself included if it matches).
    pub fn entries(&self, filter: &str, attrs: &[&str]) -> Vec<Entry> {
        let mut v = self.dc.search(&self.dn, filter, attrs);
        v.sort_by(|a, b| a.dn.cmp(&b.dn));
        v
    }
}

impl SambaDc {
    fn ldapmodify_add(&self, ldif: &str) -> Result<String, String> {
        self.try_ldap_tool("ldapmodify", &["-a"], ldif)
    }
}

/// One LDIF entry: the DN and its attributes in the order read; values as raw bytes (`::`
/// base64 values decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub attrs: Vec<(String, Vec<Vec<u8>>)>,
}

impl Entry {
    /// The values of `attr` (case-insensitive name), raw.
    pub fn values(&self, attr: &str) -> &[Vec<u8>] {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(attr))
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }
    /// The first value of `attr` as text (lossy UTF-8).
    pub fn get(&self, attr: &str) -> Option<String> {
        self.values(attr)
            .first()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
    /// Every value of `attr` as text.
    pub fn get_all(&self, attr: &str) -> Vec<String> {
        self.values(attr)
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    }
    /// The first value of `attr`, raw (objectGUID, mS-DS-ConsistencyGuid).
    pub fn bytes(&self, attr: &str) -> Option<&[u8]> {
        self.values(attr).first().map(|v| v.as_slice())
    }
}

/// Parses `ldapsearch -LLL` output (folded lines and `::` base64 values included; `:<` URLs
/// and comments are skipped).
pub fn parse_ldif(text: &str) -> Vec<Entry> {
    // Unfold continuation lines first.
    let mut lines: Vec<String> = Vec::new();
    for raw in text.lines() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let (Some(cont), Some(last)) = (raw.strip_prefix(' '), lines.last_mut()) {
            last.push_str(cont);
            continue;
        }
        lines.push(raw.to_string());
    }
    let mut entries = Vec::new();
    let mut cur: Option<Entry> = None;
    for line in lines {
        if line.is_empty() {
            entries.extend(cur.take());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let value: Vec<u8> = if let Some(b64) = rest.strip_prefix(':') {
            base64_decode(b64.trim()).unwrap_or_default()
        } else if rest.starts_with('<') {
            continue;
        } else {
            rest.strip_prefix(' ').unwrap_or(rest).as_bytes().to_vec()
        };
        if name.eq_ignore_ascii_case("dn") {
            entries.extend(cur.take());
            cur = Some(Entry {
                dn: String::from_utf8_lossy(&value).into_owned(),
                attrs: Vec::new(),
            });
            continue;
        }
        if let Some(e) = cur.as_mut() {
            match e
                .attrs
                .iter_mut()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
            {
                Some((_, vals)) => vals.push(value),
                None => e.attrs.push((name.to_string(), vec![value])),
            }
        }
    }
    entries.extend(cur);
    entries
}

/// The LDIF value for `unicodePwd::`: base64 of the password in double quotes, UTF-16LE.
pub fn unicode_pwd(password: &str) -> String {
    let quoted = format!("\"{password}\"");
    let bytes: Vec<u8> = quoted
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    base64_encode(&bytes)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (padding optional); None on a character outside the alphabet.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn run_script(args: &[&str]) -> Result<String, String> {
    let script = script_path();
    let out = Command::new("bash")
        .arg(&script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} {} failed ({}). Samba AD tests need root and the Debian packages \
             samba samba-ad-dc ldap-utils.\n{}",
            script.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
