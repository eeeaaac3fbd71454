//! `idsync completions SHELL` and `idsync man`: generated from the clap definition, so they
//! cannot drift from the commands and flags.

use std::io::Write as _;
use std::process::ExitCode;

use clap::CommandFactory;

use super::Cli;

/// Shell completion script for `shell` on stdout (`idsync completions bash > /etc/bash_completion.d/idsync`).
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "idsync", &mut out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The man page (roff) on stdout (`idsync man > /usr/local/share/man/man1/idsync.1`).
pub fn man() -> anyhow::Result<ExitCode> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
    // Each subcommand in its own section, after the main page, as `git help` pages read.
    for sub in Cli::command().get_subcommands() {
        // `name` takes a `'static` string; a handful of names, leaked once per `idsync man`.
        let name: &'static str = format!("idsync-{}", sub.get_name()).leak();
        let sub = sub.clone().name(name);
        buf.extend_from_slice(b"\n");
        clap_mangen::Man::new(sub).render(&mut buf)?;
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&buf)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
