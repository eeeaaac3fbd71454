//! `idsync plan` end to end with groups (DESIGN.md's target: 10,000 groups holding 1M
//! memberships in all, one of them with 100,000 members, plan in < 5 s from snapshots).
//!
//!   cargo bench --bench groups_plan                    # 200,000 identities, 10,000 groups, 1M memberships
//!   cargo bench --bench groups_plan -- 20000 1000 100000
//!   IDSYNC_BENCH_DIR=/tmp/g cargo bench --bench groups_plan   # keeps the files in /tmp/g (empty)
//!
//! Writes an LDIF with the users and the groups (members as DNs), an Entra snapshot folder with
//! `users.json` and `groups.json` (members as ids), and a desired state naming every group with
//! `members_from: ad`; one cloud membership in a hundred is missing, so the plan has work. Runs
//! the binary 3 times (after a warm-up) under `/usr/bin/time`, beside the same plan without
//! groups (the users-only baseline from the same files) and `cat` of the files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::{Command, Stdio};

use idsync::synthetic::{self, Mix};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Wall seconds and peak RSS (MiB) of one run, from GNU time.
fn timed(args: &[&str]) -> (f64, f64) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %M"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("/usr/bin/time");
    let text = String::from_utf8_lossy(&out.stderr);
    let last = text.lines().last().unwrap_or_default();
    let mut f = last
        .split_whitespace()
        .map(|x| x.parse::<f64>().unwrap_or(f64::NAN));
    (
        f.next().unwrap_or(f64::NAN),
        f.next().unwrap_or(f64::NAN) / 1024.0,
    )
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(200_000);
    let groups = args.get(1).copied().unwrap_or(10_000);
    let memberships = args.get(2).copied().unwrap_or(1_000_000);
    let big = (memberships / 10).min(n);

    // IDSYNC_BENCH_DIR keeps the files there (an empty or new folder), for profiling.
    let dir = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("IDSYNC_BENCH_DIR").map(std::path::PathBuf::from);
    let root = kept.as_deref().unwrap_or(dir.path());
    std::fs::create_dir_all(root.join("entra")).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (IDSYNC_BENCH_DIR must be an empty folder or new)",
            root.display()
        )
    });
    // Users: the synthetic steady state; members are the linked pairs.
    let mut ad = BufWriter::new(File::create(root.join("ad.ldif")).unwrap());
    let mut cloud = Vec::with_capacity(n);
    let mut pairs: Vec<(String, String)> = Vec::new();
    for i in 0..n {
        let (users, c) = synthetic::identity(i, Mix::SteadyState);
        for u in &users {
            synthetic::write_ldif_entry(&mut ad, u, true).unwrap();
        }
        if let (Some(u), Some(c)) = (users.first(), &c)
            && c.immutable_id().is_some()
        {
            pairs.push((u.dn.to_string(), c.id().to_owned()));
        }
        cloud.extend(c);
    }
    let mut json = BufWriter::new(File::create(root.join("entra/users.json")).unwrap());
    synthetic::write_cloud_json(&mut json, cloud).unwrap();
    json.flush().unwrap();
    drop(json);

    // Groups: group 0 holds `big` members, the others share the rest.
    let mut cloud_groups = BufWriter::new(File::create(root.join("entra/groups.json")).unwrap());
    let mut yaml = String::from("groups:\n");
    write!(cloud_groups, "{{\"value\":[").unwrap();
    let rest = memberships.saturating_sub(big);
    let per = rest / groups.saturating_sub(1).max(1);
    for g in 0..groups {
        let (start, count) = if g == 0 {
            (0, big)
        } else {
            ((g * 7919) % pairs.len().max(1), per)
        };
        let members: Vec<&(String, String)> = (0..count)
            .map(|k| &pairs[(start + k) % pairs.len()])
            .collect();
        let sam = format!("G{g:05}");
        writeln!(
            ad,
            "dn: CN={sam},OU=Groups,{}\nobjectClass: top\nobjectClass: group\ncn: {sam}\nsAMAccountName: {sam}\ngroupType: -2147483646\nuSNChanged: {}\nobjectGUID:: {}",
            synthetic::SCOPE_OU,
            100 + g,
            synthetic::guid(g, 0x9a).to_base64()
        )
        .unwrap();
        for (dn, _) in &members {
            writeln!(ad, "member: {dn}").unwrap();
        }
        writeln!(ad).unwrap();
        if g > 0 {
            write!(cloud_groups, ",").unwrap();
        }
        let id = synthetic::guid(g, 0x9c);
        write!(
            cloud_groups,
            "{{\"id\":\"{id}\",\"displayName\":\"{sam}\",\"mailEnabled\":false,\"securityEnabled\":true,\"groupTypes\":[],\"proxyAddresses\":[],\"members\":["
        )
        .unwrap();
        // One cloud membership in a hundred is missing: the plan adds it.
        let mut first = true;
        for (k, (_, cid)) in members.iter().enumerate() {
            if k % 100 == 99 {
                continue;
            }
            if !first {
                write!(cloud_groups, ",").unwrap();
            }
            first = false;
            write!(cloud_groups, "{{\"id\":\"{cid}\"}}").unwrap();
        }
        write!(cloud_groups, "]}}").unwrap();
        yaml.push_str(&format!(
            "  - name: g{g}\n    ad: {{ sam_account_name: {sam} }}\n    entra: {{ id: {id} }}\n    members_from: ad\n"
        ));
    }
    write!(cloud_groups, "]}}").unwrap();
    cloud_groups.flush().unwrap();
    ad.flush().unwrap();
    drop((ad, cloud_groups));

    let desired = |name: &str, with_groups: bool| {
        let d = root.join(name);
        std::fs::create_dir(&d).unwrap();
        let base =
            synthetic::desired_yaml(n).replace("snapshot: ../entra.json", "snapshot: ../entra");
        std::fs::write(d.join("idsync.yaml"), base).unwrap();
        if with_groups {
            std::fs::write(d.join("groups.yaml"), &yaml).unwrap();
        }
        d
    };
    let with = desired("desired", true);
    let without = desired("users-only", false);
    let size = |f: &str| {
        std::fs::metadata(root.join(f))
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0)
    };
    eprintln!(
        "wrote {n} identities, {groups} groups, {memberships} memberships ({:.0} MB LDIF, {:.0} MB users.json, {:.0} MB groups.json)",
        size("ad.ldif"),
        size("entra/users.json"),
        size("entra/groups.json"),
    );

    let idsync = env!("CARGO_BIN_EXE_idsync");
    let plan = |d: &std::path::Path| {
        [
            idsync.to_owned(),
            "plan".into(),
            "--format".into(),
            "json".into(),
            "--dir".into(),
            d.to_str().unwrap().to_owned(),
        ]
    };
    let (with, without) = (plan(&with), plan(&without));
    let ldif = root.join("ad.ldif");
    let users = root.join("entra/users.json");
    let gjson = root.join("entra/groups.json");
    let cat = [
        "cat",
        ldif.to_str().unwrap(),
        users.to_str().unwrap(),
        gjson.to_str().unwrap(),
    ];
    let (with, without): (Vec<&str>, Vec<&str>) = (
        with.iter().map(String::as_str).collect(),
        without.iter().map(String::as_str).collect(),
    );
    timed(&with);
    let (mut floor, mut base, mut full, mut mem) = (vec![], vec![], vec![], vec![]);
    for _ in 0..3 {
        floor.push(timed(&cat).0);
        base.push(timed(&without).0);
        let (s, m) = timed(&with);
        full.push(s);
        mem.push(m);
    }
    println!("| measurement | `cat` of the files | users only | with groups | memory |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| `idsync plan --format json`, {n} identities, {groups} groups, {memberships} memberships (largest {big}) | {:.2} s | {:.2} s | {:.2} s | {:.0} MiB peak |",
        median(floor),
        median(base),
        median(full),
        median(mem)
    );
}
