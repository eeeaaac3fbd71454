//! `idsync explain WHO`: one identity through scope, matching and the plan.

use std::process::ExitCode;

use clap::ValueEnum;
use idsync::connect;
use idsync::directory::{AdQuery, AdUserRead};
use idsync::engine::{PlanInput, explain};
use idsync::render;

use super::{Global, output, progress, runtime, validate};

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// An identity's name, a UPN, sAMAccountName, DN, objectGUID or cloud object id.
    who: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    format: ExplainFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Text,
    Json,
}

pub fn run(global: &Global, args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let desired = validate::load(global)?;
    let rt = runtime()?;
    let overrides = global.overrides();
    let (planned, elsewhere) = rt.block_on(async {
        let (mut ad, mut entra) = connect::open(&desired, &overrides).await?;
        progress::attach(global, &mut ad, &mut entra);
        let planned = connect::read_and_plan(&desired, &mut ad, &mut entra).await?;
        // Not in the scoped read: look domain-wide, to say which scope rule leaves it out.
        let found = planned.ad.iter().any(|u| explain::names_ad(u, &args.who))
            || planned
                .cloud
                .iter()
                .any(|u| explain::names_cloud(u, &args.who));
        let elsewhere = if found {
            Vec::new()
        } else {
            let query = AdQuery {
                attributes: connect::ad_query(&desired).attributes,
                ..AdQuery::default()
            };
            ad.read_users(&query).await?
        };
        Ok::<_, anyhow::Error>((planned, elsewhere))
    })?;
    let input = PlanInput {
        desired: &desired,
        ad: &planned.ad,
        cloud: &planned.cloud,
        taken: &[],
        reads: Default::default(),
        tenant: &planned.tenant,
        groups: planned.groups.input(),
    };
    let e = explain::explain(input, &planned.plan, &elsewhere, &args.who);
    if e.objects.is_empty() {
        let suggestions = explain::closest(input, &elsewhere, &args.who);
        let hint = if suggestions.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", suggestions.join(", "))
        };
        output::error(
            global,
            &anyhow::anyhow!(
                "no identity, AD object or cloud user is named {:?}{hint}",
                args.who
            ),
        );
        return Ok(ExitCode::from(1));
    }
    let text = match args.format {
        ExplainFormat::Text => render::explain_text(&e),
        ExplainFormat::Json => render::explain_json(&e),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
