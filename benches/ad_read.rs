//! Live AD: the connector's full read of N users against `ldapsearch -E pr=1000/noprompt` of
//! the same attributes from the same Samba DC.
//!
//!   cargo bench --bench ad_read            # 21,000 identities: over 20,000 AD users in scope
//!   cargo bench --bench ad_read -- 5000
//!   cargo bench --bench ad_read -- group 100000   # one group of 100,000 members
//!   cargo bench --bench ad_read -- create 10000   # 10,000 account creates per side
//!
//! The `group` mode reads one group of N members (contacts: cheap to create) with the
//! connector's `read_groups` against `ldapsearch` of the same search and attributes
//! (`schema::GROUP_READ`); its fixture adds every member value in one LDAP modify.
//!
//! The `create` mode creates N enabled accounts (a password and userAccountControl 512) per
//! side, each side into its own OU, with the same attributes: A `ldapadd` over one connection,
//! B the connector's `create_user` (the executor's path for an AD create) over one
//! connection, and A2 / A4 the same as A split over 2 and 4 parallel `ldapadd` processes.
//! Samba slows down as it grows, so the sides run in alternating chunks of 500 (the order
//! rotating every round) and growth weighs on all of them alike.
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
use idsync::directory::ldif::encode_line;
use idsync::directory::{
    AdCreate, AdGroupRead, AdQuery, AdUserRead, AdUserWrite, AdValue, Dn, Secret,
};
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

/// Members per OU in the `group` fixture. Samba keeps one one-level index record per parent
/// and rewrites it on every add below that parent, so one OU of 100,000 contacts slowed the
/// adds to ~35/s (2026-12-02); OUs of this size keep every record small.
const MEMBERS_PER_OU: usize = 1_000;

/// Member values per LDAP modify in the `group` fixture (several modifies, one stream).
const MEMBERS_PER_MODIFY: usize = 10_000;

/// One group of `n` members read live against `ldapsearch` of the same search.
fn group(n: usize) {
    let dc = Dc::start();
    let base = dc.get("IDSYNC_DC_BASE_DN").to_owned();
    let (members_ou, groups_ou) = (format!("OU=Members,{base}"), format!("OU=Groups,{base}"));
    let member_dn = |i: usize| format!("CN=m{i},OU=M{},{members_ou}", i / MEMBERS_PER_OU);
    let mut ous = format!(
        "dn: {members_ou}\nobjectClass: organizationalUnit\n\n\
         dn: {groups_ou}\nobjectClass: organizationalUnit\n\n"
    );
    for o in 0..n.div_ceil(MEMBERS_PER_OU) {
        ous.push_str(&format!(
            "dn: OU=M{o},{members_ou}\nobjectClass: organizationalUnit\n\n"
        ));
    }
    let group_dn = format!("CN=Big,{groups_ou}");
    ous.push_str(&format!(
        "dn: {group_dn}\nobjectClass: group\nsAMAccountName: big\n\n"
    ));
    feed(
        dc.ldap_tool("ldapadd"),
        ous.as_bytes(),
        "ldapadd of the OUs",
    );
    // Two ldapadd streams, each its own half of the OUs, so LDAP encoding and the network
    // overlap Samba's writes.
    let t = Instant::now();
    let streams: Vec<_> = (0..2)
        .map(|half| {
            use std::io::Write as _;
            let mut text = String::new();
            for i in (0..n).filter(|i| (i / MEMBERS_PER_OU) % 2 == half) {
                text.push_str(&format!("dn: {}\nobjectClass: contact\n\n", member_dn(i)));
            }
            let mut child = dc
                .ldap_tool("ldapadd")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()).unwrap());
            (child, writer)
        })
        .collect();
    for (mut child, writer) in streams {
        writer.join().unwrap();
        assert!(
            child.wait().unwrap().success(),
            "ldapadd of the contacts failed"
        );
    }
    eprintln!("added {n} contacts in {:.0} s", t.elapsed().as_secs_f64());
    let mut modify = String::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(MEMBERS_PER_MODIFY) {
        modify.push_str(&format!(
            "dn: {group_dn}\nchangetype: modify\nadd: member\n"
        ));
        for &i in chunk {
            modify.push_str(&format!("member: {}\n", member_dn(i)));
        }
        modify.push_str("-\n\n");
    }
    let t = Instant::now();
    feed(dc.ldap_tool("ldapmodify"), modify.as_bytes(), "ldapmodify");
    eprintln!(
        "added {n} member values in {} modifies in {:.0} s",
        n.div_ceil(MEMBERS_PER_MODIFY),
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

/// The creates' password: AD's complexity rule (three classes, no part of the account's
/// names), the same for every account (Samba hashes each alike).
const CREATE_PASSWORD: &str = "Zq7#Kv-Wx93-Lm";

/// Synthetic AD user `i` as a new account under `ou` (the kinds with ordinary names only):
/// the attributes a create sets, as the executor hands them to `create_user`.
fn new_account(i: usize, ou: &Dn) -> Option<AdCreate> {
    use synthetic::Kind;
    if matches!(
        synthetic::kind_of(i, Mix::SteadyState),
        Kind::CloudOnly | Kind::BadUpn | Kind::DuplicateSmtp
    ) {
        return None;
    }
    let u = synthetic::identity(i, Mix::SteadyState)
        .0
        .into_iter()
        .next()?;
    let cn = u.attr("displayName")?.to_owned();
    let mut attributes: Vec<(idsync::names::AttrName, Vec<AdValue>)> = Vec::new();
    for (name, value) in u.attributes.iter() {
        if name.as_str().eq_ignore_ascii_case("objectClass") {
            continue;
        }
        match attributes.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(AdValue::Text(value.to_owned())),
            None => attributes.push((name, vec![AdValue::Text(value.to_owned())])),
        }
    }
    Some(AdCreate {
        dn: Dn::child("CN", &cn, ou),
        attributes,
        password: Some(Secret::new(CREATE_PASSWORD)),
        user_account_control: 512,
    })
}

/// The same account as one LDIF add: the class chain, the attributes, `unicodePwd` and
/// `userAccountControl` (what `ldapadd` sends in one request).
fn create_ldif(out: &mut Vec<u8>, c: &AdCreate) {
    let eol = b"\n";
    out.extend(encode_line("dn", c.dn.as_str().as_bytes(), eol));
    for class in ["top", "person", "organizationalPerson", "user"] {
        out.extend(encode_line("objectClass", class.as_bytes(), eol));
    }
    for (name, values) in &c.attributes {
        for v in values {
            let AdValue::Text(v) = v else { unreachable!() };
            out.extend(encode_line(name.as_str(), v.as_bytes(), eol));
        }
    }
    let pwd: Vec<u8> = format!("\"{CREATE_PASSWORD}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    // Binary: encode_line writes it base64 (`unicodePwd::`).
    out.extend(encode_line("unicodePwd", &pwd, eol));
    out.extend(encode_line(
        "userAccountControl",
        c.user_account_control.to_string().as_bytes(),
        eol,
    ));
    out.extend_from_slice(eol);
}

/// `n` accounts per side, created in alternating chunks; prints the table.
fn create(n: usize) {
    const CHUNK: usize = 500;
    let dc = Dc::start();
    let base = Dn::parse(dc.get("IDSYNC_DC_BASE_DN")).unwrap();
    // Sides: (label, OU, first synthetic index, ldapadd processes; 0 = the connector).
    let sides: [(&str, &str, usize, usize); 4] = [
        ("A `ldapadd`, 1 connection", "BenchA", 0, 1),
        ("B `create_user`, 1 connection", "BenchB", 1_000_000, 0),
        ("A2 `ldapadd`, 2 connections", "BenchA2", 2_000_000, 2),
        ("A4 `ldapadd`, 4 connections", "BenchA4", 3_000_000, 4),
    ];
    let mut ous = String::new();
    for (_, ou, _, _) in &sides {
        ous.push_str(&format!(
            "dn: OU={ou},{base}\nobjectClass: top\nobjectClass: organizationalUnit\nou: {ou}\n\n"
        ));
    }
    feed(
        dc.ldap_tool("ldapadd"),
        ous.as_bytes(),
        "ldapadd of the OUs",
    );
    // Every side's accounts, generated up front.
    let accounts: Vec<Vec<AdCreate>> = sides
        .iter()
        .map(|(_, ou, first, _)| {
            let ou = Dn::child("OU", ou, &base);
            (*first..)
                .filter_map(|i| new_account(i, &ou))
                .take(n)
                .collect()
        })
        .collect();

    let secret = tempfile::tempdir().unwrap();
    let config = settings(&dc, &secret.path().join("password"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut ad = rt.block_on(LdapDirectory::connect(&config)).unwrap();
    let mut seconds = [0.0f64; 4];
    let rounds = n.div_ceil(CHUNK);
    for round in 0..rounds {
        let range = round * CHUNK..((round + 1) * CHUNK).min(n);
        for k in 0..sides.len() {
            let side = (round + k) % sides.len();
            let chunk = &accounts[side][range.clone()];
            let processes = sides[side].3;
            let t = Instant::now();
            if processes == 0 {
                rt.block_on(async {
                    for c in chunk {
                        let user = ad.create_user(c).await.unwrap();
                        assert_eq!(user.user_account_control, Some(512));
                    }
                });
            } else {
                let per = chunk.len().div_ceil(processes);
                let children: Vec<_> = chunk
                    .chunks(per)
                    .map(|part| {
                        let mut text = Vec::new();
                        for c in part {
                            create_ldif(&mut text, c);
                        }
                        let mut cmd = dc.ldap_tool("ldapadd");
                        let mut child = cmd
                            .stdin(Stdio::piped())
                            .stdout(Stdio::null())
                            .spawn()
                            .unwrap();
                        let mut stdin = child.stdin.take().unwrap();
                        let writer = std::thread::spawn(move || {
                            use std::io::Write as _;
                            stdin.write_all(&text).unwrap();
                        });
                        (child, writer)
                    })
                    .collect();
                for (mut child, writer) in children {
                    writer.join().unwrap();
                    assert!(child.wait().unwrap().success(), "ldapadd failed");
                }
            }
            seconds[side] += t.elapsed().as_secs_f64();
        }
        let done = range.end;
        eprintln!(
            "round {}/{rounds}: {done} per side; so far {}",
            round + 1,
            seconds
                .iter()
                .map(|s| format!("{:.0}/s", done as f64 / s))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let a = seconds[0];
    println!(
        "| AD creates, enabled accounts with a password, chunks of {CHUNK} alternating | entries | seconds | adds/s | ÷ A |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (k, (label, _, _, _)) in sides.iter().enumerate() {
        println!(
            "| {label} | {n} | {:.1} | {:.0} | {:.2} |",
            seconds[k],
            n as f64 / seconds[k],
            seconds[k] / a
        );
    }
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
    if args.iter().any(|a| a == "create") {
        return create(number().unwrap_or(10_000));
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
