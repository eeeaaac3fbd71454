//! The plan core in process: join + plan of N synthetic identities, no I/O.
//!
//!   cargo bench --bench plan_core                          # 10k, 100k, 1M, steady state
//!   cargo bench --bench plan_core -- 10000 50000           # chosen sizes
//!   cargo bench --bench plan_core -- --mix first-run 100000  # a first plan: much to do
//!
//! Each size runs in its own process so its peak memory (VmHWM after its first plan) is its
//! own. Prints a table: median wall time of 3 plans, time per identity, peak memory, and the
//! growth ratio against the previous size (linear cost: time ratio ≈ size ratio).

use std::process::Command;
use std::time::Instant;

use idsync::engine::{PlanInput, plan};
use idsync::synthetic;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// How many plans each size's median is of (`PLAN_CORE_RUNS`, default 3).
fn runs() -> usize {
    std::env::var("PLAN_CORE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// Child mode: one size, prints `N SECONDS MIB ACTIONS`.
fn one(n: usize, mix: synthetic::Mix) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("idsync.yaml"), synthetic::desired_yaml(n)).unwrap();
    let desired = idsync::desired::load(dir.path()).unwrap();
    let (ad, cloud) = synthetic::generate(n, mix);
    if std::env::var_os("PLAN_CORE_BREAKDOWN").is_some() {
        eprintln!("after generating: {:.0} MiB peak", peak_rss_mib());
    }
    let mut times = Vec::new();
    let mut actions = 0;
    // Peak memory of one plan, as idsync makes one per process: read after the first run,
    // before later runs allocate into a heap the earlier plan left fragmented.
    let mut peak = f64::NAN;
    for _ in 0..runs() {
        let start = Instant::now();
        let p = plan(PlanInput {
            desired: &desired,
            ad: &ad,
            cloud: &cloud,
            taken: &[],
            reads: Default::default(),
            tenant: &Default::default(),
            groups: Default::default(),
        })
        .unwrap();
        times.push(start.elapsed().as_secs_f64());
        actions = p.actions.len();
        drop(p);
        if peak.is_nan() {
            peak = peak_rss_mib();
        }
    }
    times.sort_by(f64::total_cmp);
    if std::env::var_os("PLAN_CORE_BREAKDOWN").is_some() {
        let start = Instant::now();
        let tenant = idsync::directory::Tenant::default();
        let context = idsync::engine::join::JoinContext {
            tenant: &tenant,
            ad_unread: &[],
        };
        let j = idsync::engine::join::join(&desired, &ad, &cloud, context);
        eprintln!(
            "join alone: {:.3} s ({} joints)",
            start.elapsed().as_secs_f64(),
            j.joints.len()
        );
    }
    println!("{n} {} {peak} {actions}", times[times.len() / 2]);
}

fn main() {
    let mut args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut mix = "steady".to_owned();
    if let Some(at) = args.iter().position(|a| a == "--mix") {
        mix = args.get(at + 1).cloned().expect("--mix steady|first-run");
        args.drain(at..=at + 1);
    }
    if args.first().map(String::as_str) == Some("--one") {
        one(args[1].parse().unwrap(), mix.parse().unwrap());
        return;
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        args.iter()
            .filter_map(|a| a.replace('_', "").parse().ok())
            .collect()
    };
    let exe = std::env::current_exe().unwrap();
    println!("Mix: {mix}\n");
    println!(
        "| identities | plan (median of {}) | per identity | peak memory | time ratio vs previous | size ratio |",
        runs()
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut previous: Option<(usize, f64)> = None;
    for n in sizes {
        let out = Command::new(&exe)
            .args(["--mix", &mix, "--one", &n.to_string()])
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            eprintln!("size {n} failed: {}", String::from_utf8_lossy(&out.stderr));
            continue;
        }
        let secs: f64 = f[1].parse().unwrap();
        let mib: f64 = f[2].parse().unwrap();
        let (ratio, size_ratio) = match previous {
            Some((pn, ps)) => (
                format!("{:.2}", secs / ps),
                format!("{:.0}", n as f64 / pn as f64),
            ),
            None => ("".into(), "".into()),
        };
        println!(
            "| {n} | {secs:.3} s | {:.2} µs | {mib:.0} MiB | {ratio} | {size_ratio} |",
            secs / n as f64 * 1e6
        );
        previous = Some((n, secs));
    }
}
