//! Live AD: the connector's full read of N users against `ldapsearch -E pr=1000/noprompt` of
//! the same attributes from the same Samba DC.
//!
//!   cargo bench --bench ad_read            # 21,000 identities: over 20,000 AD users in scope
//!   cargo bench --bench ad_read -- 5000
//!   cargo bench --bench ad_read -- group 100000   # one group of 100,000 members
//!
//! The `group` mode reads one group of N members (contacts: cheap to create) with the
//! connector's `read_groups` against `ldapsearch` of the same search and attributes
//! (`schema::GROUP_READ`); its fixture adds every member value in one LDAP modify.
//!
//! Starts a throwaway DC with `scripts/samba-dc` (root; the packages scripts/test installs),
//! loads synthetic users with `ldapadd`, then runs 5 alternating pairs (A ldapsearch, B the
//! connector, each including connect and bind) and prints medians and the ratio B/A.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use idsync::connect::ad_query;
use idsync::directory::ldap::{LdapDirectory, Settings};
use idsync::directory::{AdGroupRead, AdQuery, AdUserRead, Dn};
use idsync::secret::SecretSource;
use idsync::synthetic::{self, Mix};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Dc {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

impl Dc {
    fn start() -> Dc {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/samba-dc");
        let out = Command::new(&script)
            .args(["start", "--dir"])
            .arg(dir.path().join("dc"))
            .arg("--watch-pid")
            .arg(std::process::id().to_string())
            .output()
            .expect("run scripts/samba-dc");
        assert!(
            out.status.success(),
            "samba-dc start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect();
        Dc { dir, env }
    }
    fn get(&self, k: &str) -> &str {
        &self.env[k]
    }
    fn ldap_tool(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        c.env("LDAPTLS_CACERT", self.get("IDSYNC_DC_CA")).args([
            "-x",
            "-H",
            self.get("IDSYNC_DC_URL"),
            "-D",
            self.get("IDSYNC_DC_ADMIN_UPN"),
            "-w",
            self.get("IDSYNC_DC_PASSWORD"),
        ]);
        c
    }
}

impl Drop for Dc {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/samba-dc");
        let _ = Command::new(script)
            .args(["stop", "--dir"])
            .arg(self.dir.path().join("dc"))
            .output();
    }
}

fn settings(dc: &Dc, password: &Path) -> Settings {
    std::fs::write(password, dc.get("IDSYNC_DC_PASSWORD")).unwrap();
    Settings {
        url: dc.get("IDSYNC_DC_URL").to_owned(),
        start_tls: false,
        base_dn: Dn::parse(dc.get("IDSYNC_DC_BASE_DN")).unwrap(),
        bind_dn: dc.get("IDSYNC_DC_ADMIN_UPN").to_owned(),
        password: SecretSource::File(password.to_owned()),
        ca_file: Some(dc.get("IDSYNC_DC_CA").into()),
        timeout_seconds: 300,
    }
}

/// Runs `cmd` with `input` on stdin; panics unless it succeeds.
fn feed(mut cmd: Command, input: &[u8], what: &str) {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    assert!(child.wait().unwrap().success(), "{what} failed");
}

/// One group of `n` members read live against `ldapsearch` of the same search.
fn group(n: usize) {
    let dc = Dc::start();
    let base = dc.get("IDSYNC_DC_BASE_DN").to_owned();
    let (members_ou, groups_ou) = (format!("OU=Members,{base}"), format!("OU=Groups,{base}"));
    let mut text = format!(
        "dn: {members_ou}\nobjectClass: organizationalUnit\n\n\
         dn: {groups_ou}\nobjectClass: organizationalUnit\n\n"
    );
    for i in 0..n {
        text.push_str(&format!(
            "dn: CN=m{i},{members_ou}\nobjectClass: contact\n\n"
        ));
    }
    let group_dn = format!("CN=Big,{groups_ou}");
    text.push_str(&format!(
        "dn: {group_dn}\nobjectClass: group\nsAMAccountName: big\n\n"
    ));
    let t = Instant::now();
    let mut add = dc.ldap_tool("ldapadd");
    add.arg("-c");
    feed(add, text.as_bytes(), "ldapadd");
    eprintln!("added {n} contacts in {:.0} s", t.elapsed().as_secs_f64());
    let mut modify = format!("dn: {group_dn}\nchangetype: modify\nadd: member\n");
    for i in 0..n {
        modify.push_str(&format!("member: CN=m{i},{members_ou}\n"));
    }
    modify.push_str("-\n");
    let t = Instant::now();
    feed(dc.ldap_tool("ldapmodify"), modify.as_bytes(), "ldapmodify");
    eprintln!(
        "added {n} member values in one modify in {:.0} s",
        t.elapsed().as_secs_f64()
    );

    let secret = tempfile::tempdir().unwrap();
    let config = settings(&dc, &secret.path().join("password"));
    let query = AdQuery {
        bases: vec![Dn::parse(&groups_ou).unwrap()],
        ..AdQuery::default()
    };
    let attrs = idsync::directory::schema::GROUP_READ;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ldapsearch = || {
        let t = Instant::now();
        let status = dc
            .ldap_tool("ldapsearch")
            .args(["-LLL", "-o", "ldif-wrap=no", "-E", "pr=1000/noprompt", "-b"])
            .arg(&groups_ou)
            .arg("(&(objectClass=group))")
            .args(attrs)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        t.elapsed().as_secs_f64()
    };
    let ours = || {
        let t = Instant::now();
        let (members, connected) = rt.block_on(async {
            let mut ad = LdapDirectory::connect(&config).await.unwrap();
            let connected = t.elapsed().as_secs_f64();
            let groups = ad.read_groups(&query).await.unwrap();
            (groups[0].members.as_ref().map_or(0, Vec::len), connected)
        });
        assert_eq!(members, n);
        let total = t.elapsed().as_secs_f64();
        eprintln!("read_groups: {total:.3} s, of which connect and bind {connected:.3} s");
        total
    };
    ldapsearch();
    ours();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        a.push(ldapsearch());
        b.push(ours());
    }
    let (a, b) = (median(a), median(b));
    println!("| measurement | baseline (A) | idsync (B) | B/A | target |");
    println!("|---|---:|---:|---:|---|");
    println!(
        "| AD group read, 1 group of {n} members | {a:.2} s `ldapsearch -E pr=1000` | {b:.2} s `read_groups` | {:.2} | ≤ 1.25 |",
        b / a
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = || {
        args.iter()
            .find_map(|a| a.replace('_', "").parse::<usize>().ok())
    };
    if args.iter().any(|a| a == "group") {
        return group(number().unwrap_or(100_000));
    }
    // About 3.5% of synthetic AD users lie outside the scope; 21k puts over 20k in it.
    let n: usize = number().unwrap_or(21_000);
    let dc = Dc::start();

    // Load: OUs, then the synthetic AD users (in scope and out), in one ldapadd.
    let ldif = dc.dir.path().join("load.ldif");
    let mut text = Vec::new();
    synthetic::write_ous_ldif(&mut text).unwrap();
    let mut in_scope = 0;
    for i in 0..n {
        for u in synthetic::identity(i, Mix::SteadyState).0 {
            synthetic::write_ldif_entry(&mut text, &u, false).unwrap();
            if u.dn.is_within(&Dn::parse(synthetic::SCOPE_OU).unwrap()) {
                in_scope += 1;
            }
        }
    }
    std::fs::write(&ldif, text).unwrap();
    let t = Instant::now();
    let status = dc
        .ldap_tool("ldapadd")
        .arg("-c")
        .arg("-f")
        .arg(&ldif)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "ldapadd failed");
    eprintln!(
        "loaded {n} identities ({in_scope} AD users in scope) in {:.0} s",
        t.elapsed().as_secs_f64()
    );

    let desired_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        desired_dir.path().join("d.yaml"),
        synthetic::desired_yaml(n),
    )
    .unwrap();
    let desired = idsync::desired::load(desired_dir.path()).unwrap();
    let query = ad_query(&desired);
    // The same attributes the connector selects, so both sides fetch the same data.
    let attrs = idsync::directory::ldap::attribute_list(&query.attributes);
    let config = settings(&dc, &desired_dir.path().join("password"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ldapsearch = || {
        let t = Instant::now();
        let status = dc
            .ldap_tool("ldapsearch")
            .args([
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-E",
                "pr=1000/noprompt",
                "-b",
                synthetic::SCOPE_OU,
                "(&(objectClass=user)(!(objectClass=computer)))",
            ])
            .args(&attrs)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        t.elapsed().as_secs_f64()
    };
    let ours = || {
        let t = Instant::now();
        let read = rt.block_on(async {
            let mut ad = LdapDirectory::connect(&config).await.unwrap();
            ad.read_users(&query).await.unwrap().len()
        });
        assert_eq!(read, in_scope);
        t.elapsed().as_secs_f64()
    };
    ldapsearch();
    ours();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        a.push(ldapsearch());
        b.push(ours());
    }
    let (a, b) = (median(a), median(b));
    println!("| measurement | baseline (A) | idsync (B) | B/A | target |");
    println!("|---|---:|---:|---:|---|");
    println!(
        "| AD full read, {in_scope} users, paged 1000 | {a:.2} s `ldapsearch -E pr=1000` | {b:.2} s `read_users` | {:.2} | ≤ 1.25 |",
        b / a
    );
}
