//! `idsync drift`: the comparison of `plan`, phrased for a scheduled job. Exit 0 no drift,
//! 2 drift, 1 error.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use clap::ValueEnum;
use idsync::connect;
use idsync::desired::{self, DesiredState};
use idsync::drift;
use idsync::engine::{PlanInput, plan};
use idsync::files::write::{Existing, write};
use idsync::render;

use super::{Global, output, runtime, validate};

#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = DriftFormat::Text)]
    format: DriftFormat,
    /// Write the report (in --format) to FILE; stdout then shows the text report.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Git ref of the desired state last applied (e.g. a tag the apply job moves), to tell a
    /// directory that changed from a desired state that is not applied yet.
    #[arg(long, value_name = "REF")]
    baseline: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriftFormat {
    Text,
    Json,
    Markdown,
    Junit,
}

pub fn run(global: &Global, args: &DriftArgs) -> anyhow::Result<ExitCode> {
    let desired = validate::load(global)?;
    let baseline = match &args.baseline {
        Some(r) => Some((r.clone(), load_baseline(global, r)?)),
        None => None,
    };
    let rt = runtime()?;
    let planned = rt.block_on(async {
        let overrides = global.overrides();
        let (mut ad, mut entra) = connect::open_to_read(&desired, &overrides).await?;
        super::progress::attach(global, &mut ad, &mut entra);
        Ok::<_, anyhow::Error>(connect::read_and_plan(&desired, &mut ad, &mut entra).await?)
    })?;
    output::warn_about(global, &planned.plan);
    let base_plan = match &baseline {
        Some((name, state)) => {
            let input = PlanInput {
                desired: state,
                ad: &planned.ad,
                cloud: &planned.cloud,
                taken: &[],
                reads: Default::default(),
                tenant: &planned.tenant,
                groups: planned.groups.input(),
            };
            let p = plan(input).with_context(|| format!("planning the baseline {name}"))?;
            Some((name.clone(), p))
        }
        None => None,
    };
    let report = drift::assess(
        planned.plan,
        base_plan.as_ref().map(|(n, p)| (n.as_str(), p)),
    );

    let rendered = match args.format {
        DriftFormat::Text => render::drift_text(&report, output::stdout_styler(global)),
        DriftFormat::Json => render::drift_json(&report),
        DriftFormat::Markdown => render::drift_markdown(&report),
        DriftFormat::Junit => render::drift_junit(&report),
    };
    match &args.report {
        Some(path) => {
            write(path, rendered.as_bytes(), Existing::Replace)?;
            print!(
                "{}",
                render::drift_text(&report, output::stdout_styler(global))
            );
        }
        None => print!("{rendered}"),
    }
    Ok(if report.drifted {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("running git (needed for --baseline)")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// The desired state as it was at a git ref: its YAML files copied to a temporary folder.
/// Its `directories:` are never used (the baseline is only planned against what was read).
fn load_baseline(global: &Global, reference: &str) -> anyhow::Result<DesiredState> {
    let dir = &global.dir;
    let text = |v: Vec<u8>| String::from_utf8_lossy(&v).trim().to_owned();
    let top = PathBuf::from(text(git(dir, &["rev-parse", "--show-toplevel"])?));
    let prefix = text(git(dir, &["rev-parse", "--show-prefix"])?);
    git(
        &top,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{reference}^{{commit}}"),
        ],
    )
    .with_context(|| {
        format!(
            "--baseline {reference} is not a commit in {}",
            top.display()
        )
    })?;
    let listing = text(git(
        &top,
        &[
            "ls-tree",
            "--name-only",
            reference,
            "--",
            &format!("{prefix}."),
        ],
    )?);
    let tmp = tempfile::tempdir()?;
    let mut found = 0;
    for path in listing
        .lines()
        .filter(|p| p.ends_with(".yaml") || p.ends_with(".yml"))
    {
        let content = git(&top, &["show", &format!("{reference}:{path}")])?;
        let name = Path::new(path).file_name().context("file name")?;
        std::fs::write(tmp.path().join(name), content)?;
        found += 1;
    }
    if found == 0 {
        bail!(
            "--baseline {reference}: {} holds no desired-state files at that commit",
            dir.display()
        );
    }
    desired::load_with(tmp.path(), global.directories().as_deref())
        .map(|l| l.state)
        .map_err(|e| anyhow::anyhow!("the desired state at {reference} does not load:\n{e}"))
}
