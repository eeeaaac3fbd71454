//! `idsync schema`: the JSON Schema of desired-state files.

use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    print!("{}", idsync::desired::schema_json());
    Ok(ExitCode::SUCCESS)
}
