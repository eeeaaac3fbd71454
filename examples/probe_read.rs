//! Times one snapshot reader on its own and prints the process's memory after each stage, to
//! see where `idsync plan`'s reading goes (BENCHMARKS.md, issue 18):
//!
//!   cargo run --release --example probe_read -- ldif  DIR/ad.ldif     # the LDIF parse alone
//!   cargo run --release --example probe_read -- ad    DIR/ad.ldif     # AdSnapshot open + users
//!   cargo run --release --example probe_read -- export DIR/ad.ldif    # AdPlanRead (plan's read)
//!   cargo run --release --example probe_read -- each  DIR/ad.ldif     # the streaming parse alone
//!   cargo run --release --example probe_read -- entra DIR/entra.json  # EntraSnapshot open + users
//!   cargo run --release --example probe_read -- entra-plan DIR/entra.json  # EntraPlanRead (plan's read)
//!
//! (`cargo run --release --example generate -- N DIR` writes such files.) Uses the CLI's
//! allocator, so the figures are the CLI's.

use std::time::Instant;

use idsync::directory::AdQuery;
use idsync::directory::ldif::LdifFile;
use idsync::directory::snapshot::{AdPlanRead, AdSnapshot, EntraPlanRead, EntraSnapshot};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Resident now and at most so far (VmRSS, VmHWM), in MiB.
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    format!(
        "{:.0} MiB resident, {:.0} MiB peak",
        field("VmRSS:"),
        field("VmHWM:")
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    // As the CLI does (main.rs): transparent huge pages off.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let usage = "usage: probe_read ldif|each|ad|export|entra|entra-plan FILE";
    let (which, path) = (args.next().expect(usage), args.next().expect(usage));
    let t = Instant::now();
    let stage = |what: &str| {
        eprintln!(
            "{what:<28} {:>6.2} s  {}",
            t.elapsed().as_secs_f64(),
            memory()
        )
    };
    match which.as_str() {
        "ldif" => {
            let bytes = std::fs::read(&path).expect("read");
            stage("read the file");
            let file = LdifFile::parse(&bytes).expect("parse");
            drop(bytes);
            stage(&format!("parsed {} entries", file.len()));
        }
        "each" => {
            let bytes = std::fs::read(&path).expect("read");
            stage("read the file");
            let mut n = 0;
            LdifFile::parse_each(&bytes, &mut |_, _| n += 1).expect("parse");
            drop(bytes);
            stage(&format!("parsed {n} entries, kept none"));
        }
        "export" => {
            let query = AdQuery::default();
            let mut export = AdPlanRead::open(&path, &query).expect("open");
            stage("AdPlanRead::open");
            let users = export.users(&query).expect("users");
            stage(&format!("users: {}", users.len()));
        }
        "entra-plan" => {
            let mut read = EntraPlanRead::open(&path).expect("open");
            stage("EntraPlanRead::open");
            let users = read.users().expect("users");
            stage(&format!("users: {}", users.len()));
        }
        "ad" => {
            let snapshot = AdSnapshot::open(&path).expect("open");
            stage("AdSnapshot::open");
            let query = AdQuery {
                bases: Vec::new(),
                exclude: Vec::new(),
                filter: None,
                attributes: Vec::new(),
            };
            let users = snapshot.users(&query).expect("users");
            stage(&format!("users: {}", users.len()));
        }
        "entra" => {
            let snapshot = EntraSnapshot::open(&path).expect("open");
            stage("EntraSnapshot::open");
            let users = snapshot.users().expect("users");
            stage(&format!("users: {}", users.len()));
        }
        _ => panic!("{usage}"),
    }
}
