//! `idsync import`: write `identities:` YAML for what is joined today.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::ValueEnum;
use idsync::connect::{open_ad, open_entra, read_both};
use idsync::import::identities_yaml;
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
    if let Some(path) = args.out.as_ref().filter(|p| p.exists()) {
        bail!("{} exists; import never overwrites a file", path.display());
    }
    let rt = runtime()?;
    let (ad, cloud) = rt.block_on(async {
        let overrides = global.overrides();
        let mut ad = open_ad(&desired, &overrides).await?;
        let mut entra = open_entra(&desired, &overrides).await?;
        super::progress::attach(global, &mut ad, &mut entra);
        Ok::<_, anyhow::Error>(read_both(&desired, &mut ad, &mut entra).await?)
    })?;
    let side = match args.from {
        From::Ad => Side::Ad,
        From::Entra => Side::Entra,
    };
    let yaml = identities_yaml(&desired, &ad, &cloud, side);
    match &args.out {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("writing {}", path.display()))?;
            std::io::Write::write_all(&mut tmp, yaml.as_bytes())?;
            tmp.persist_noclobber(path)
                .with_context(|| format!("writing {}", path.display()))?;
            if !global.quiet {
                eprintln!("Wrote {}.", path.display());
            }
        }
        None => print!("{yaml}"),
    }
    Ok(ExitCode::SUCCESS)
}
