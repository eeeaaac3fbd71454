//! The plan as a person reads it in a terminal or a pipeline log, like `terraform plan`.

use std::fmt::Write as _;

use super::{Styler, id_list, show_value, summary_line};
use crate::plan::{Action, ActionKind, Change, ForecastSeverity, Plan, Severity};

pub fn text(plan: &Plan, s: Styler) -> String {
    let mut out = String::new();
    if plan.actions.is_empty() {
        out.push_str(&super::no_actions_line(plan));
        out.push('\n');
    } else {
        out.push_str("idsync will perform the following actions:\n");
        // Each action's lines depend on the action alone: rendered on every core, in order.
        let parts = crate::parallel::ranges(plan.actions.len(), |range| {
            let mut part = String::new();
            for a in &plan.actions[range] {
                part.push('\n');
                action(&mut part, a, s);
            }
            part
        });
        out.reserve(parts.iter().map(String::len).sum());
        for part in parts {
            out.push_str(&part);
        }
    }

    if !plan.conflicts.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            s.error("Conflicts (these identities get no actions until resolved):")
        );
        for c in &plan.conflicts {
            let _ = writeln!(
                out,
                "  {} {} {}: {}",
                s.error("!"),
                s.bold(c.kind.as_str()),
                c.identity,
                c.message
            );
            for o in &c.objects {
                let _ = writeln!(out, "      {}", s.dim(o));
            }
        }
    }

    if !plan.diagnostics.is_empty() {
        let _ = writeln!(out, "\n{}", s.bold("Diagnostics:"));
        for d in &plan.diagnostics {
            let sev = match d.severity {
                Severity::Error => s.error("error  "),
                Severity::Warning => s.warning("warning"),
            };
            let _ = writeln!(
                out,
                "  {sev} {} {} {}: {}",
                d.rule, d.object, d.attribute, d.message
            );
        }
    }

    if !plan.notes.is_empty() {
        let _ = writeln!(out, "\n{}", s.bold("Notes:"));
        for n in &plan.notes {
            let _ = writeln!(out, "  - {} {}: {}", n.kind.as_str(), n.identity, n.message);
        }
    }

    if !plan.forecast.is_empty() {
        let _ = writeln!(out, "\n{}", s.bold(super::FORECAST_HEADING));
        for f in &plan.forecast {
            let sev = match f.severity {
                ForecastSeverity::Warning => s.warning("warning"),
                ForecastSeverity::Info => s.dim("info   "),
            };
            let _ = writeln!(
                out,
                "  {sev} {} {}: {}",
                f.kind.as_str(),
                f.identity,
                f.message
            );
        }
    }

    let _ = writeln!(out, "\n{}", s.bold(&summary_line(plan)));
    out
}

fn action(out: &mut String, a: &Action, s: Styler) {
    let (symbol, verb) = match a.action {
        ActionKind::Create => (s.add("+"), "will be created"),
        ActionKind::Update => (s.change("~"), "will be updated in place"),
        ActionKind::Link => (s.link(">"), "will be linked"),
        ActionKind::Move => (s.link(">"), "will be moved"),
        ActionKind::Disable => (s.remove("-"), "will be disabled"),
        ActionKind::Delete => (s.remove("-"), "will be deleted"),
    };
    let mut header = format!("  # {} {} {}", a.directory.as_str(), a.target, verb);
    if let Some(how) = a.matched {
        let _ = write!(header, " (paired by {})", how.as_str());
    }
    if !a.depends_on.is_empty() {
        let _ = write!(header, " (after {})", id_list(&a.depends_on));
    }
    let _ = writeln!(out, "{}", s.bold(&header));
    let _ = writeln!(
        out,
        "  {symbol} {} {}{} \"{}\" [{}]",
        a.action.as_str(),
        a.directory.as_str(),
        a.kind_label(),
        a.identity,
        a.id
    );
    let width = a
        .changes
        .iter()
        .map(|c| c.attribute.as_str().len())
        .max()
        .unwrap_or(0);
    for c in &a.changes {
        change(out, a.action, c, width, s);
    }
}

fn change(out: &mut String, kind: ActionKind, c: &Change, width: usize, s: Styler) {
    if c.is_edit() {
        let _ = writeln!(out, "      {} {}", s.change("~"), c.attribute);
        for v in c.removed() {
            let _ = writeln!(out, "          {} {v:?}", s.remove("-"));
        }
        for v in c.added() {
            let _ = writeln!(out, "          {} {v:?}", s.add("+"));
        }
        return;
    }
    let name = format!("{:width$}", c.attribute);
    if kind == ActionKind::Create || c.before.is_null() {
        let _ = writeln!(
            out,
            "      {} {name} = {}",
            s.add("+"),
            show_value(&c.after)
        );
    } else if c.after.is_null() {
        let _ = writeln!(
            out,
            "      {} {name} = {}",
            s.remove("-"),
            show_value(&c.before)
        );
    } else {
        let _ = writeln!(
            out,
            "      {} {name} = {} -> {}",
            s.change("~"),
            show_value(&c.before),
            show_value(&c.after)
        );
    }
}
