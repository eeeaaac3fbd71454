//! `idsync validate`: check the desired state; errors as `FILE:LINE:COL: message`.

use std::process::ExitCode;

use idsync::desired::{self, LoadError};

use super::Global;

pub fn run(global: &Global) -> anyhow::Result<ExitCode> {
    match load_and_warn(global) {
        Ok(state) => {
            let problems = license_problems(global, &state)?;
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!(
                    "{}: {} problem{}",
                    global.dir.display(),
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
                return Ok(ExitCode::from(1));
            }
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

/// The licenses the desired state names that the tenant does not have, when the tenant's
/// subscriptions are known without a connection: an Entra snapshot folder holding
/// `subscribedSkus.json`. A live tenant is not contacted (validate needs no credentials); a
/// plan checks the same against it.
fn license_problems(global: &Global, state: &desired::DesiredState) -> anyhow::Result<Vec<String>> {
    use idsync::directory::model::Part;
    use idsync::directory::snapshot::EntraSnapshot;
    if !idsync::engine::licenses_managed(state) {
        return Ok(Vec::new());
    }
    let path = match (&global.overrides().entra_snapshot, &state.entra) {
        (Some(p), _) => p.clone(),
        (None, Some(desired::EntraConfig::Snapshot(p))) => p.clone(),
        _ => return Ok(Vec::new()),
    };
    if !path.is_dir() {
        return Ok(Vec::new());
    }
    let tenant = EntraSnapshot::open(&path)?
        .read_tenant_docs()?
        .tenant()
        .map_err(|(source, e)| {
            anyhow::anyhow!("{}: object #{}: {}", source.file, e.index + 1, e.message)
        })?;
    Ok(match &tenant.skus {
        Part::Read(skus) => idsync::engine::check_licenses(state, skus),
        Part::Unknown(_) => Vec::new(),
    })
}
