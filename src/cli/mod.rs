//! Command-line interface: argument parsing, renderer choice, exit codes.

mod apply;
mod drift;
mod explain;
mod import;
mod output;
mod plan;
mod progress;
mod schema;
mod shell;
mod snapshot;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use idsync::connect::Overrides;

/// Hybrid identity as code: plan and converge Active Directory and Entra ID from YAML in git.
#[derive(Debug, Parser)]
#[command(name = "idsync", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

#[derive(Debug, clap::Args)]
pub struct Global {
    /// Folder of desired-state YAML files.
    #[arg(long, global = true, default_value = "desired-state", value_name = "D")]
    dir: PathBuf,
    /// Read AD from this LDIF file instead of the configured directory.
    #[arg(long, global = true, value_name = "FILE")]
    ad_snapshot: Option<PathBuf>,
    /// Read Entra from this Graph JSON file or snapshot folder instead of the configured tenant.
    #[arg(long, global = true, value_name = "PATH")]
    entra_snapshot: Option<PathBuf>,
    /// Connection settings owned by the pipeline: a YAML file with `ad:` and `entra:` at its
    /// top level. Replaces the desired state's `directories:`, which a pull request can edit.
    /// Default: $IDSYNC_DIRECTORIES.
    #[arg(long, global = true, value_name = "FILE")]
    directories: Option<PathBuf>,
    /// More detail on stderr (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Colour in text output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    color: ColorChoice,
}

impl Global {
    /// `--directories`, else `IDSYNC_DIRECTORIES` (read here rather than by clap, so an empty
    /// variable means unset instead of an error).
    fn directories(&self) -> Option<PathBuf> {
        self.directories.clone().or_else(|| {
            std::env::var_os(DIRECTORIES_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    }

    fn overrides(&self) -> Overrides {
        Overrides {
            ad_snapshot: self.ad_snapshot.clone(),
            entra_snapshot: self.entra_snapshot.clone(),
        }
    }
}

/// The variable that gives `--directories` in pipelines.
const DIRECTORIES_ENV: &str = "IDSYNC_DIRECTORIES";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the desired state against the schema and its own rules.
    Validate,
    /// Print the JSON Schema of desired-state files.
    Schema,
    /// Read both directories and show what apply would change.
    Plan(plan::PlanArgs),
    /// Apply a saved plan, or plan now and ask for `yes`.
    Apply(apply::ApplyArgs),
    /// Tell a scheduled job whether the directories still match git (exit 2 on drift).
    Drift(drift::DriftArgs),
    /// Write `identities:` YAML for what is joined in the directories today.
    Import(import::ImportArgs),
    /// Export a directory as the snapshot files idsync reads (AD: LDIF; Entra: a folder).
    Snapshot(snapshot::SnapshotArgs),
    /// Trace one identity: scope, every match rule in Entra's order, conflicts, planned actions.
    Explain(explain::ExplainArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), subcommands included.
    Man,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Validate => validate::run(&cli.global),
        Command::Schema => schema::run(),
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Apply(args) => apply::run(&cli.global, args),
        Command::Drift(args) => drift::run(&cli.global, args),
        Command::Import(args) => import::run(&cli.global, args),
        Command::Snapshot(args) => snapshot::run(&cli.global, args),
        Command::Explain(args) => explain::run(&cli.global, args),
        Command::Completions { shell } => shell::completions(*shell),
        Command::Man => shell::man(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            output::error(&cli.global, &e);
            ExitCode::from(1)
        }
    }
}

/// A current-thread runtime: directory reads are joined on one task, not spawned.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
