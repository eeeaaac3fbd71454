//! `idsync validate`: check the desired state; errors as `FILE:LINE:COL: message`.

use std::process::ExitCode;

use idsync::desired::{self, LoadError};

use super::Global;

pub fn run(global: &Global) -> anyhow::Result<ExitCode> {
    match load_and_warn(global) {
        Ok(state) => {
            if !global.quiet {
                println!(
                    "{}: valid ({} file{}, {} identities)",
                    global.dir.display(),
                    state.files.len(),
                    if state.files.len() == 1 { "" } else { "s" },
                    state.identities.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(LoadError::Invalid { issues }) => {
            for issue in &issues {
                eprintln!("{issue}");
            }
            eprintln!(
                "{}: {} problem{}",
                global.dir.display(),
                issues.len(),
                if issues.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

/// Loads the desired state for commands that need it, printing located problems one per line.
pub fn load(global: &Global) -> anyhow::Result<desired::DesiredState> {
    match load_and_warn(global) {
        Ok(s) => Ok(s),
        Err(LoadError::Invalid { issues }) => {
            for issue in &issues {
                eprintln!("{issue}");
            }
            anyhow::bail!(
                "the desired state in {} has {} problem{}; run `idsync validate`",
                global.dir.display(),
                issues.len(),
                if issues.len() == 1 { "" } else { "s" }
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Loads with `--directories`, printing its warnings (a `directories:` block that is not used).
fn load_and_warn(global: &Global) -> Result<desired::DesiredState, LoadError> {
    let loaded = desired::load_with(&global.dir, global.directories().as_deref())?;
    if !global.quiet {
        for warning in &loaded.warnings {
            eprintln!("{warning}");
        }
    }
    Ok(loaded.state)
}
