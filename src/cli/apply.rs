//! `idsync apply`: carry out a saved plan, or plan now and ask.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::ValueEnum;
use idsync::apply::{self, SavedPlan};
use idsync::connect::{self, Overrides};
use idsync::desired::DesiredState;
use idsync::render;

use super::{Global, output, runtime, validate};

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// A plan saved with `idsync plan --out`. Without it, idsync plans now and asks.
    #[arg(value_name = "PLAN")]
    plan: Option<PathBuf>,
    /// Apply without asking (required when stdin is not a terminal and no PLAN is given).
    #[arg(long)]
    auto_approve: bool,
    /// Format of the outcome report.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

pub fn run(global: &Global, args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let desired = validate::load(global)?;
    let overrides = global.overrides();
    // A damaged, foreign or outdated file is refused before any directory is opened.
    let saved = match &args.plan {
        Some(path) => Some((path, load_saved(global, &desired, &overrides, path)?)),
        None => None,
    };
    let rt = runtime()?;
    rt.block_on(async {
        let (mut ad, mut entra) = connect::open(&desired, &overrides).await?;
        super::progress::attach(global, &mut ad, &mut entra);

        if let Some((path, saved)) = saved {
            // A saved plan is data: plan again, and run only what the fresh plan also holds.
            // (max_deletes, protect, ignore and scope are the fresh plan's, by construction.)
            let fresh = connect::read_and_plan(&desired, &mut ad, &mut entra).await?;
            output::warn_about(global, &fresh.plan);
            let checked = apply::check(&saved.plan, &fresh.plan, &fresh.cloud, &mut ad)
                .await
                .with_context(|| format!("checking {} against a fresh plan", path.display()))?;
            if checked.fresh_only > 0 && !global.quiet {
                eprintln!(
                    "A fresh plan has {} actions that {} does not; they are not applied: plan again to review them.",
                    checked.fresh_only,
                    path.display()
                );
            }
            refuse_unwritable(&checked.plan, &entra)?;
            let runs = checked.verdicts.iter().filter(|v| v.is_none()).count();
            output::info(global, &format!("applying {runs} of the {} saved actions", checked.plan.actions.len()));
            let report = apply::execute_checked(&checked, desired.source_anchor, &mut ad, &mut entra).await;
            return Ok(show_report(global, args, &report));
        }

        let planned = connect::read_and_plan(&desired, &mut ad, &mut entra).await?;
        let plan = planned.plan;
        output::warn_about(global, &plan);
        let shown = render::text(&plan, output::stdout_styler(global));
        if args.format == ReportFormat::Text {
            print!("{shown}");
        } else {
            eprint!("{shown}");
        }
        if !plan.has_changes() {
            return Ok(ExitCode::SUCCESS);
        }
        refuse_unwritable(&plan, &entra)?;
        if !args.auto_approve {
            if !std::io::stdin().is_terminal() {
                bail!("stdin is not a terminal, so idsync cannot ask; nothing applied. Pass --auto-approve, or apply a saved plan (`idsync plan --out FILE`, then `idsync apply FILE`)");
            }
            if !confirm()? {
                eprintln!("Apply cancelled.");
                return Ok(ExitCode::from(1));
            }
        }

        output::info(global, &format!("applying {} actions", plan.actions.len()));
        let report = apply::execute(&plan, desired.source_anchor, &mut ad, &mut entra).await;
        Ok(show_report(global, args, &report))
    })
}

/// An Entra export idsync reads but never writes back (PowerShell, a delta round): a plan that
/// writes to it is refused before anything is written, AD included.
fn refuse_unwritable(
    plan: &idsync::plan::Plan,
    entra: &connect::EntraDirectory,
) -> anyhow::Result<()> {
    if plan
        .actions
        .iter()
        .any(|a| a.directory == idsync::plan::Side::Entra)
        && let Err(e) = entra.writable()
    {
        bail!("{e}; nothing applied");
    }
    Ok(())
}

/// Reads a saved plan and checks it was made from this desired state against these
/// directories (compared by what they resolve to, not by spelling).
fn load_saved(
    global: &Global,
    desired: &DesiredState,
    overrides: &Overrides,
    path: &Path,
) -> anyhow::Result<SavedPlan> {
    let saved = SavedPlan::load(path)?;
    if saved.desired_digest != desired.digest {
        bail!(
            "the desired state in {} changed since {} was planned; nothing applied: run `idsync plan --out` again",
            global.dir.display(),
            path.display()
        );
    }
    let now = [
        (&saved.ad, apply::ad_identity(desired, overrides)),
        (&saved.entra, apply::entra_identity(desired, overrides)),
    ];
    for (planned, now) in now {
        if *planned != now {
            bail!(
                "{} was planned against {planned}, not {now}; nothing applied",
                path.display()
            );
        }
    }
    Ok(saved)
}

/// Prints the outcome; exit 1 unless every action applied (refused and stale ones included).
fn show_report(global: &Global, args: &ApplyArgs, report: &apply::ApplyReport) -> ExitCode {
    match args.format {
        ReportFormat::Text => print!(
            "{}",
            render::report_text(report, output::stdout_styler(global))
        ),
        ReportFormat::Json => print!("{}", render::report_json(report)),
    }
    if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Asks on the terminal; only `yes` applies.
fn confirm() -> anyhow::Result<bool> {
    let mut out = std::io::stderr();
    write!(
        out,
        "\nDo you want to apply these changes?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    )?;
    out.flush()?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer")?;
    Ok(line.trim() == "yes")
}
