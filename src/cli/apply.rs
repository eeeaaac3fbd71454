//! `idsync apply`: carry out a saved plan, or plan now and ask.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::ValueEnum;
use idsync::apply::{self, SavedPlan};
use idsync::connect::{self, open_ad, open_entra};
use idsync::plan::ActionKind;
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
    let rt = runtime()?;
    rt.block_on(async {
        let overrides = global.overrides();
        let mut ad = open_ad(&desired, &overrides).await?;
        let mut entra = open_entra(&desired, &overrides).await?;
        super::progress::attach(global, &mut ad, &mut entra);

        let plan = match &args.plan {
            Some(path) => {
                let saved = SavedPlan::load(path)?;
                if saved.desired_digest != desired.digest {
                    bail!(
                        "the desired state in {} changed since {} was planned; nothing applied: run `idsync plan --out` again",
                        global.dir.display(),
                        path.display()
                    );
                }
                for (planned, now) in [(&saved.ad, ad.describe()), (&saved.entra, entra.describe())] {
                    if *planned != now {
                        bail!("{} was planned against {planned}, not {now}; nothing applied", path.display());
                    }
                }
                let deletes = saved.plan.actions.iter().filter(|a| matches!(a.action, ActionKind::Disable | ActionKind::Delete)).count();
                if deletes > desired.max_deletes {
                    bail!("{} disables or deletes {deletes} objects, more than deprovision.max_deletes ({}); nothing applied", path.display(), desired.max_deletes);
                }
                saved.plan
            }
            None => {
                let planned = connect::read_and_plan(&desired, &mut ad, &mut entra).await?;
                let plan = planned.plan;
                let shown = render::text(&plan, output::stdout_styler(global));
                if args.format == ReportFormat::Text {
                    print!("{shown}");
                } else {
                    eprint!("{shown}");
                }
                if !plan.has_changes() {
                    return Ok(ExitCode::SUCCESS);
                }
                if !args.auto_approve {
                    if !std::io::stdin().is_terminal() {
                        bail!("stdin is not a terminal, so idsync cannot ask; nothing applied. Pass --auto-approve, or apply a saved plan (`idsync plan --out FILE`, then `idsync apply FILE`)");
                    }
                    if !confirm()? {
                        eprintln!("Apply cancelled.");
                        return Ok(ExitCode::from(1));
                    }
                }
                plan
            }
        };

        output::info(global, &format!("applying {} actions", plan.actions.len()));
        let report = apply::execute(&plan, desired.source_anchor, &mut ad, &mut entra).await;
        match args.format {
            ReportFormat::Text => print!("{}", render::report_text(&report, output::stdout_styler(global))),
            ReportFormat::Json => print!("{}", render::report_json(&report)),
        }
        Ok(if report.succeeded() { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
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
