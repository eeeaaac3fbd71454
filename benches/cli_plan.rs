//! `idsync plan` end to end from snapshot files: read an LDIF and a Graph JSON export of N
//! synthetic identities, plan, render JSON.
//!
//!   cargo bench --bench cli_plan              # 100,000 identities
//!   cargo bench --bench cli_plan -- 20000
//!
//! Runs the built binary 5 times (after a warm-up) under `/usr/bin/time` and prints the median
//! wall time and peak memory, beside `cat` of the same files as the floor for reading them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

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
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.replace('_', "").parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let mut ad = BufWriter::new(File::create(dir.path().join("ad.ldif")).unwrap());
    let mut cloud = Vec::with_capacity(n);
    for i in 0..n {
        let (users, c) = synthetic::identity(i, Mix::SteadyState);
        for u in &users {
            synthetic::write_ldif_entry(&mut ad, u, true).unwrap();
        }
        cloud.extend(c);
    }
    ad.flush().unwrap();
    drop(ad);
    let mut json = BufWriter::new(File::create(dir.path().join("entra.json")).unwrap());
    synthetic::write_cloud_json(&mut json, cloud).unwrap();
    json.flush().unwrap();
    drop(json);
    std::fs::create_dir(dir.path().join("desired")).unwrap();
    std::fs::write(
        dir.path().join("desired/idsync.yaml"),
        synthetic::desired_yaml(n),
    )
    .unwrap();
    let size = |f: &str| {
        std::fs::metadata(dir.path().join(f))
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0)
    };
    eprintln!(
        "wrote {n} identities ({:.0} MB LDIF, {:.0} MB JSON) in {:.1} s",
        size("ad.ldif"),
        size("entra.json"),
        t.elapsed().as_secs_f64()
    );

    let desired = dir.path().join("desired");
    let idsync = env!("CARGO_BIN_EXE_idsync");
    let plan = [
        idsync,
        "plan",
        "--format",
        "json",
        "--dir",
        desired.to_str().unwrap(),
    ];
    let ldif = dir.path().join("ad.ldif");
    let json = dir.path().join("entra.json");
    let cat = ["cat", ldif.to_str().unwrap(), json.to_str().unwrap()];
    timed(&plan);
    let (mut a, mut b, mut mem) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        a.push(timed(&cat).0);
        let (secs, mib) = timed(&plan);
        b.push(secs);
        mem.push(mib);
    }
    println!("| measurement | floor | idsync | memory |");
    println!("|---|---:|---:|---:|");
    println!(
        "| `idsync plan --format json` from snapshots, {n} identities | {:.2} s `cat` of the files | {:.2} s | {:.0} MiB peak |",
        median(a),
        median(b),
        median(mem)
    );
}
