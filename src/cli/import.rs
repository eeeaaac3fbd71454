//! `idsync import`: write `identities:` YAML for what is joined today, and `groups:` for the
//! groups read.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::ValueEnum;
use idsync::connect::{self, read_with_tenant};
use idsync::files::write::{Existing, write};
use idsync::import::{GroupsInput, groups_yaml, identities_yaml};
use idsync::plan::Side;

use super::{Global, runtime, validate};

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Which directory leads: its objects are listed first and ordered by it.
    #[arg(long, value_enum)]
    from: From,
    /// Write to FILE (refused if it exists) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum From {
    Ad,
    Entra,
}

pub fn run(global: &Global, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let desired = validate::load(global)?;
    // Checked before reading the directories too, so a long read is not wasted.
    if let Some(path) = args.out.as_ref().filter(|p| p.is_file()) {
        bail!("{} exists; import never overwrites a file", path.display());
    }
    let rt = runtime()?;
    let read = rt.block_on(async {
        let overrides = global.overrides();
        let (mut ad, mut entra) = connect::open_to_read(&desired, &overrides).await?;
        super::progress::attach(global, &mut ad, &mut entra);
        Ok::<_, anyhow::Error>(read_with_tenant(&desired, &mut ad, &mut entra).await?)
    })?;
    let side = match args.from {
        From::Ad => Side::Ad,
        From::Entra => Side::Entra,
    };
    let mut yaml = identities_yaml(&desired, &read.ad, &read.cloud, side);
    let groups = GroupsInput {
        ad: &read.groups.ad,
        cloud: &read.groups.cloud,
        ad_contacts: &read.groups.ad_contacts,
        cloud_contacts: &read.groups.cloud_contacts,
    };
    yaml.push_str(&groups_yaml(&desired, &read.ad, &read.cloud, &groups, side));
    match &args.out {
        Some(path) => {
            write(path, yaml.as_bytes(), Existing::Keep)?;
            if !global.quiet {
                eprintln!("Wrote {}.", path.display());
            }
        }
        None => print!("{yaml}"),
    }
    Ok(ExitCode::SUCCESS)
}
