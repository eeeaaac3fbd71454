//! Writes a synthetic hybrid directory of N identities (see `idsync::synthetic`):
//!
//!   cargo run --release --example generate -- N OUT_DIR [steady|first-run]
//!
//! OUT_DIR gets `ad.ldif` (snapshot, with objectGUIDs), `ad-load.ldif` (for `ldapadd` into a
//! DC: OUs first, no objectGUIDs), `entra.json` (snapshot and Graph-emulator tenant) and
//! `desired/idsync.yaml`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use idsync::synthetic::{self, identity};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: generate N OUT_DIR [steady|first-run]";
    let n: usize = args
        .next()
        .and_then(|s| s.replace('_', "").parse().ok())
        .expect(usage);
    let out = PathBuf::from(args.next().expect(usage));
    let mix: synthetic::Mix = args
        .next()
        .as_deref()
        .unwrap_or("steady")
        .parse()
        .expect(usage);
    std::fs::create_dir_all(out.join("desired"))?;

    let mut snap = BufWriter::new(File::create(out.join("ad.ldif"))?);
    let mut load = BufWriter::new(File::create(out.join("ad-load.ldif"))?);
    let mut cloud = Vec::with_capacity(n);
    synthetic::write_ous_ldif(&mut load)?;
    let mut ad_count = 0;
    for i in 0..n {
        let (ad, c) = identity(i, mix);
        for u in &ad {
            synthetic::write_ldif_entry(&mut snap, u, true)?;
            synthetic::write_ldif_entry(&mut load, u, false)?;
            ad_count += 1;
        }
        cloud.extend(c);
    }
    snap.flush()?;
    load.flush()?;
    let cloud_count = cloud.len();
    let mut json = BufWriter::new(File::create(out.join("entra.json"))?);
    synthetic::write_cloud_json(&mut json, cloud)?;
    json.flush()?;
    std::fs::write(out.join("desired/idsync.yaml"), synthetic::desired_yaml(n))?;
    eprintln!(
        "{n} identities: {ad_count} AD users, {cloud_count} cloud users in {}",
        out.display()
    );
    Ok(())
}
