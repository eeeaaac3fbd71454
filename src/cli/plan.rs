//! `idsync plan`: read both directories and show what apply would change.

use std::process::ExitCode;

use clap::ValueEnum;
use idsync::apply::{self, SavedPlan};
use idsync::connect;
use idsync::render::{self, Format};

use super::{Global, output, progress, runtime, validate};

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,
    /// Exit 2 when apply would change something, 0 when not (1 on error).
    #[arg(long)]
    detailed_exitcode: bool,
    /// Save the plan for `idsync apply PLAN`.
    #[arg(long, value_name = "PLAN")]
    out: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

impl From<PlanFormat> for Format {
    fn from(f: PlanFormat) -> Format {
        match f {
            PlanFormat::Text => Format::Text,
            PlanFormat::Json => Format::Json,
            PlanFormat::Markdown => Format::Markdown,
        }
    }
}

pub fn run(global: &Global, args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let desired = validate::load(global)?;
    let rt = runtime()?;
    let overrides = global.overrides();
    // What the directories resolve to, however spelled: apply compares these.
    let directories = (
        apply::ad_identity(&desired, &overrides),
        apply::entra_identity(&desired, &overrides),
    );
    let planned = rt.block_on(async {
        let (mut ad, mut entra) = connect::open_to_read(&desired, &overrides).await?;
        progress::attach(global, &mut ad, &mut entra);
        let (ad_name, entra_name) = (ad.describe(), entra.describe());
        output::info(global, &format!("reading {ad_name} and {entra_name}"));
        let planned = connect::read_and_plan(&desired, &mut ad, &mut entra).await?;
        Ok::<_, anyhow::Error>(planned)
    })?;
    output::info(
        global,
        &format!(
            "read {} AD users and {} cloud users",
            planned.ad.len(),
            planned.cloud.len()
        ),
    );
    // The directories as read are not needed from here: at 1M identities they are most of
    // the memory the command holds, in millions of allocations that take a third of a second
    // to free. Another thread frees them while the plan is written.
    let connect::Planned {
        plan,
        ad,
        cloud,
        tenant,
        groups,
    } = planned;
    let freeing = std::thread::spawn(move || drop((ad, cloud, tenant, groups)));
    output::warn_about(global, &plan);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    render::write(
        &plan,
        args.format.into(),
        output::stdout_styler(global),
        &mut out,
    )
    .and_then(|()| std::io::Write::flush(&mut out))
    .map_err(|e| anyhow::anyhow!("writing the plan: {e}"))?;
    drop(out);
    if let Some(path) = &args.out {
        let (ad, entra) = directories;
        SavedPlan::new(plan.clone(), desired.digest.clone(), ad, entra).save(path)?;
        if !global.quiet {
            eprintln!(
                "Saved the plan to {}; apply it with `idsync apply {}`.",
                path.display(),
                path.display()
            );
        }
    }
    let code = if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    };
    // A panic while freeing would be a bug in a destructor, and the plan is written already.
    let _ = freeing.join();
    // The process ends here: freeing the plan's million actions one by one would only delay it.
    std::mem::forget(plan);
    Ok(code)
}
