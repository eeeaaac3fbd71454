//! `idsync explain` output: text for people, JSON for tools.

use std::fmt::Write as _;

use crate::engine::explain::{Explanation, Step};

pub fn explain_json(e: &Explanation) -> String {
    // Cannot fail: the explanation holds strings, numbers and lists only.
    let mut s = serde_json::to_string_pretty(e).expect("an explanation serializes");
    s.push('\n');
    s
}

pub fn explain_text(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} object{}",
        e.query,
        e.objects.len(),
        if e.objects.len() == 1 { "" } else { "s" }
    );
    for t in &e.objects {
        let id = if t.directory == "ad" {
            "objectGUID"
        } else {
            "id"
        };
        let _ = writeln!(out, "\n{} {} ({id} {})", t.directory, t.object, t.id);
        let _ = writeln!(out, "  scope: {}", if t.in_scope { "in" } else { "out" });
        steps(&mut out, &t.scope);
        if !t.matching.is_empty() {
            let _ = writeln!(out, "  matching, in Entra's order:");
            steps(&mut out, &t.matching);
        }
        if let Some(p) = &t.paired_with {
            let _ = writeln!(
                out,
                "  paired with {p}{}",
                t.matched.map(|m| format!(" ({m})")).unwrap_or_default()
            );
        }
    }
    if !e.actions.is_empty() {
        let _ = writeln!(out, "\nPlanned actions:");
        for a in &e.actions {
            let _ = writeln!(
                out,
                "  {} {} {} {}{}",
                a.id,
                a.action.as_str(),
                a.directory.as_str(),
                a.target,
                a.changes
                    .iter()
                    .map(|c| format!(" {}", c.attribute))
                    .collect::<String>()
            );
        }
    }
    for c in &e.conflicts {
        let _ = writeln!(out, "\nConflict {}: {}", c.kind.as_str(), c.message);
    }
    for d in &e.diagnostics {
        let _ = writeln!(
            out,
            "\nDiagnostic {} {} {}: {}",
            d.severity.as_str(),
            d.rule,
            d.attribute,
            d.message
        );
    }
    for n in &e.notes {
        let _ = writeln!(out, "\nNote {}: {}", n.kind.as_str(), n.message);
    }
    if !e.forecast.is_empty() {
        let _ = writeln!(out, "\nAfter apply, Entra Connect's next sync will:");
        for f in &e.forecast {
            let _ = writeln!(out, "  - {} {}", f.kind.as_str(), f.message);
        }
    }
    out
}

fn steps(out: &mut String, steps: &[Step]) {
    let width = steps.iter().map(|s| s.rule.len()).max().unwrap_or(0);
    for s in steps {
        let _ = writeln!(out, "    {:width$}  {:7}  {}", s.rule, s.outcome, s.detail);
    }
}
