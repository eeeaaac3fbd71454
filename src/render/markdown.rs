//! The plan as a pull-request comment: a summary table, then each action folded in a
//! `<details>` block, then conflicts, diagnostics and notes.

use std::fmt::Write as _;

use super::{id_list, show_value, summary_line};
use crate::plan::{Forecast, ForecastKind, ForecastSeverity, Plan, Severity};

/// GitHub refuses comments over 65,536 characters; stop adding details well before that.
const BUDGET: usize = 60_000;

/// Forecasts listed one by one up to this many; above, grouped per kind.
const FORECAST_FLAT: usize = 20;
/// Entries shown per kind when grouped.
const FORECAST_PER_KIND: usize = 5;
/// The forecast section's own share of the budget: a first run foresees an entry per user.
const FORECAST_BUDGET: usize = 12_000;

pub fn markdown(plan: &Plan) -> String {
    let forecast = forecast_section(plan);
    let mut out = String::new();
    let s = &plan.summary;
    out.push_str("### idsync plan\n\n");
    out.push_str("| create | update | link | move | disable | delete | conflict |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|\n");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} |\n",
        s.create, s.update, s.link, s.move_, s.disable, s.delete, s.conflict
    );
    let _ = writeln!(out, "**{}**\n", summary_line(plan));

    if plan.actions.is_empty() {
        out.push_str(&super::no_actions_line(plan));
        out.push('\n');
    } else {
        out.push_str("#### Actions\n\n");
        for (n, a) in plan.actions.iter().enumerate() {
            if out.len() + forecast.len() > BUDGET {
                let _ = writeln!(
                    out,
                    "_…and {} more actions; the pipeline log has the full plan._\n",
                    plan.actions.len() - n
                );
                break;
            }
            let mut deps = match a.matched {
                Some(how) => format!(" (paired by {})", how.as_str()),
                None => String::new(),
            };
            if !a.depends_on.is_empty() {
                let _ = write!(deps, " (after {})", id_list(&a.depends_on));
            }
            let _ = writeln!(
                out,
                "<details><summary><code>{}</code> <b>{}</b> {}{} <code>{}</code> — {}{}</summary>\n",
                a.id,
                a.action.as_str(),
                a.directory.as_str(),
                a.kind_label(),
                cell(&a.identity),
                cell(&a.target),
                deps
            );
            if !a.changes.is_empty() {
                out.push_str("| attribute | before | after |\n|---|---|---|\n");
                for c in &a.changes {
                    let (before, after) = if c.is_edit() {
                        (
                            c.removed()
                                .iter()
                                .map(|v| format!("−`{}`", cell(v)))
                                .collect::<Vec<_>>()
                                .join("<br>"),
                            c.added()
                                .iter()
                                .map(|v| format!("+`{}`", cell(v)))
                                .collect::<Vec<_>>()
                                .join("<br>"),
                        )
                    } else {
                        (code(&show_value(&c.before)), code(&show_value(&c.after)))
                    };
                    let _ = writeln!(
                        out,
                        "| {} | {before} | {after} |",
                        cell(c.attribute.as_str())
                    );
                }
                out.push('\n');
            }
            out.push_str("</details>\n\n");
        }
    }

    if !plan.conflicts.is_empty() {
        out.push_str("#### Conflicts\n\nThese identities get no actions until resolved.\n\n| kind | identity | message |\n|---|---|---|\n");
        for c in &plan.conflicts {
            let _ = writeln!(
                out,
                "| {} | {} | {}<br>{} |",
                c.kind.as_str(),
                cell(&c.identity),
                cell(&c.message),
                c.objects
                    .iter()
                    .map(|o| format!("`{}`", cell(o)))
                    .collect::<Vec<_>>()
                    .join("<br>")
            );
        }
        out.push('\n');
    }

    if !plan.diagnostics.is_empty() {
        out.push_str("#### Diagnostics\n\n| severity | rule | object | attribute | message |\n|---|---|---|---|---|\n");
        for d in &plan.diagnostics {
            let sev = match d.severity {
                Severity::Error => "🛑 error",
                Severity::Warning => "⚠️ warning",
            };
            let _ = writeln!(
                out,
                "| {sev} | {} | `{}` | {} | {} |",
                d.rule,
                cell(&d.object),
                cell(&d.attribute),
                cell(&d.message)
            );
        }
        out.push('\n');
    }

    if !plan.notes.is_empty() {
        out.push_str("#### Notes\n\n");
        for n in &plan.notes {
            let _ = writeln!(
                out,
                "- **{}** {}: {}",
                n.kind.as_str(),
                cell(&n.identity),
                cell(&n.message)
            );
        }
    }
    if !forecast.is_empty() {
        while !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(&forecast);
    }
    out
}

/// "After apply, Entra Connect's next sync will:" — every entry when few, else per kind with
/// counts and the first entries, within its own budget (the JSON plan keeps every entry).
fn forecast_section(plan: &Plan) -> String {
    let all = &plan.forecast;
    let mut out = String::new();
    if all.is_empty() {
        return out;
    }
    let _ = writeln!(out, "#### {}\n", super::FORECAST_HEADING);
    let line = |out: &mut String, f: &Forecast| {
        let sev = match f.severity {
            ForecastSeverity::Warning => "⚠️",
            ForecastSeverity::Info => "ℹ️",
        };
        let _ = writeln!(
            out,
            "- {sev} **{}** `{}`: {}",
            f.kind.as_str(),
            cell(&f.identity).replace('`', "'"),
            cell(&f.message)
        );
    };
    if all.len() <= FORECAST_FLAT {
        for f in all {
            line(&mut out, f);
        }
        return out;
    }
    let _ = writeln!(
        out,
        "{} entries; the first {FORECAST_PER_KIND} of each kind (the JSON plan has every one):\n",
        all.len()
    );
    // The planner sorts forecasts by kind, so each kind is one run.
    for kind in ForecastKind::ALL {
        let of_kind: Vec<&Forecast> = all.iter().filter(|f| f.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let warnings = of_kind
            .iter()
            .filter(|f| f.severity == ForecastSeverity::Warning)
            .count();
        let _ = writeln!(
            out,
            "**{}**: {} ({warnings} warning{})\n",
            kind.as_str(),
            of_kind.len(),
            if warnings == 1 { "" } else { "s" }
        );
        let mut shown = 0;
        for f in of_kind.iter().take(FORECAST_PER_KIND) {
            if out.len() > FORECAST_BUDGET {
                break;
            }
            line(&mut out, f);
            shown += 1;
        }
        if of_kind.len() > shown {
            let _ = writeln!(
                out,
                "- _…and {} more {}_",
                of_kind.len() - shown,
                kind.as_str()
            );
        }
        out.push('\n');
    }
    out
}

/// Text safe inside a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn code(s: &str) -> String {
    if s == "null" {
        String::new()
    } else {
        format!("`{}`", cell(&s.replace('`', "'")))
    }
}
