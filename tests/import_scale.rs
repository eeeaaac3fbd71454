//! `idsync import` stays loadable at size: its output for more pairs than serde-saphyr's
//! default budget holds (250,000 nodes: about 27,000 imported pairs) validates and loads.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::Command;

use idsync::synthetic::{self, Mix, identity};

fn idsync(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_idsync"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn an_import_of_60000_identities_validates() {
    const N: usize = 60_000;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("desired")).unwrap();
    std::fs::write(root.join("desired/idsync.yaml"), synthetic::desired_yaml(N)).unwrap();
    let mut ldif = BufWriter::new(File::create(root.join("ad.ldif")).unwrap());
    let mut cloud = Vec::with_capacity(N);
    for i in 0..N {
        let (ad, c) = identity(i, Mix::SteadyState);
        for u in &ad {
            synthetic::write_ldif_entry(&mut ldif, u, true).unwrap();
        }
        cloud.extend(c);
    }
    ldif.flush().unwrap();
    let mut json = BufWriter::new(File::create(root.join("entra.json")).unwrap());
    synthetic::write_cloud_json(&mut json, cloud).unwrap();
    json.flush().unwrap();

    let out = idsync(
        root,
        &[
            "import",
            "--from",
            "ad",
            "--dir",
            "desired",
            "--out",
            "desired/imported.yaml",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(root.join("desired/imported.yaml")).unwrap();
    let pairs = yaml.matches("\n  - ").count();
    // Well past the ~27,000 pairs that broke the old budget.
    assert!(pairs > 45_000, "{pairs} pairs");

    let out = idsync(root, &["validate", "--dir", "desired"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
