//! Renderers: a plan as text (like `terraform plan`), JSON (the contract) or Markdown (a
//! pull-request comment). They know the plan, not the directories.

mod drift;
mod explain;
mod markdown;
mod report;
mod style;
mod text;

pub use drift::{drift_json, drift_junit, drift_markdown, drift_text};
pub use explain::{explain_json, explain_text};
pub use markdown::markdown;
pub use report::{report_json, report_text};
pub use style::Styler;
pub use text::text;

use crate::plan::Plan;

/// The output formats the CLI offers with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// The plan as the JSON contract of DESIGN.md, pretty-printed with a final newline.
/// The heading of the forecast section in text and Markdown (DESIGN.md).
pub const FORECAST_HEADING: &str = "After apply, Entra Connect's next sync will:";

pub fn json(plan: &Plan) -> String {
    // Cannot fail: plans are structs with string keys, which always serialize.
    let mut s = serde_json::to_string_pretty(plan).expect("plans serialize");
    s.push('\n');
    s
}

/// Writes the plan in the chosen format to `out`, as [`render`] gives it. JSON is written as
/// it is serialized: a 1M-identity plan is some 200 MB of it.
pub fn write(
    plan: &Plan,
    format: Format,
    styler: Styler,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, plan)?;
            out.write_all(b"\n")
        }
        Format::Text | Format::Markdown => out.write_all(render(plan, format, styler).as_bytes()),
    }
}

/// Renders in the chosen format.
pub fn render(plan: &Plan, format: Format, styler: Styler) -> String {
    match format {
        Format::Text => text(plan, styler),
        Format::Json => json(plan),
        Format::Markdown => markdown(plan),
    }
}

/// The opening line of a plan with no actions. "The directories match" only when nothing else
/// stands: no conflicts, no error diagnostics, and users in scope on both sides.
pub fn no_actions_line(plan: &Plan) -> String {
    let empty = plan
        .notes
        .iter()
        .any(|n| n.kind == crate::plan::NoteKind::EmptyScope);
    let mut standing = Vec::new();
    if !plan.conflicts.is_empty() {
        standing.push(plural(plan.conflicts.len(), "conflict"));
    }
    if plan.error_count() > 0 {
        standing.push(plural(plan.error_count(), "diagnostic error"));
    }
    let assumed = plan
        .notes
        .iter()
        .any(|n| n.kind == crate::plan::NoteKind::Assumption);
    match (standing.is_empty(), empty) {
        (true, false) if assumed => "No changes from what was read, but the reads did not carry everything a plan compares (see the notes): nothing was planned from what is missing.".into(),
        (true, false) => "No changes. The directories match the desired state.".into(),
        (true, true) => "No changes, but a directory has no users in scope (see the notes): nothing was compared.".into(),
        (false, _) => format!(
            "No changes to apply, but the directories do not match the desired state yet: {} to resolve (below).",
            standing.join(" and ")
        ),
    }
}

/// The `Plan: …` summary line.
pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    let mut line = format!(
        "Plan: {} to create, {} to update, {} to link, {} to move, {} to disable, {} to delete.",
        s.create, s.update, s.link, s.move_, s.disable, s.delete
    );
    let mut extra = Vec::new();
    if s.conflict > 0 {
        extra.push(plural(s.conflict, "conflict"));
    }
    let errors = plan.error_count();
    let warnings = plan.diagnostics.len() - errors;
    if errors > 0 {
        extra.push(plural(errors, "diagnostic error"));
    }
    if warnings > 0 {
        extra.push(plural(warnings, "warning"));
    }
    if !plan.notes.is_empty() {
        extra.push(plural(plan.notes.len(), "note"));
    }
    if !extra.is_empty() {
        line.push(' ');
        line.push_str(&extra.join(", "));
        line.push('.');
    }
    line
}

pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A JSON value as the text renderers show it: strings quoted, `null` for nothing, the
/// "(known after apply)" marker bare.
pub(crate) fn show_value(v: &crate::plan::Value) -> String {
    match v {
        crate::plan::Value::Text(s) if s == crate::plan::KNOWN_AFTER_APPLY => s.to_string(),
        crate::plan::Value::Text(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// Action ids as a list: `a1, a2`.
pub(crate) fn id_list(ids: &[crate::plan::ActionId]) -> String {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    ids.join(", ")
}

#[cfg(test)]
mod tests {
    use crate::drift::{Cause, ItemKind};
    use crate::plan::{
        ActionKind, ConflictKind, ForecastKind, ForecastSeverity, NoteKind, Severity, Side,
    };

    /// `serde_json`'s name of `v`: what JSON output and saved plans carry.
    fn serde_name<T: serde::Serialize>(v: T) -> String {
        match serde_json::to_value(v) {
            Ok(serde_json::Value::String(s)) => s,
            other => panic!("not a unit variant: {other:?}"),
        }
    }

    #[test]
    fn as_str_is_the_serde_name_of_every_kind() {
        // The renderers name kinds through `as_str`; JSON through serde. They must agree.
        let mut names: Vec<(String, &str)> = Vec::new();
        names.extend(ConflictKind::ALL.map(|k| (serde_name(k), k.as_str())));
        names.extend(NoteKind::ALL.map(|k| (serde_name(k), k.as_str())));
        names.extend(Severity::ALL.map(|k| (serde_name(k), k.as_str())));
        names.extend(ItemKind::ALL.map(|k| (serde_name(k), k.as_str())));
        names.extend(Cause::ALL.map(|k| (serde_name(k), k.as_str())));
        let actions = [
            ActionKind::Create,
            ActionKind::Link,
            ActionKind::Update,
            ActionKind::Move,
            ActionKind::Disable,
            ActionKind::Delete,
        ];
        names.extend(actions.map(|k| (serde_name(k), k.as_str())));
        names.extend([Side::Ad, Side::Entra].map(|k| (serde_name(k), k.as_str())));
        assert_eq!(names.len(), 12 + 9 + 2 + 3 + 3 + 6 + 2);
        for (serde, as_str) in &names {
            assert_eq!(serde, as_str);
        }
        // ALL lists each variant once (a duplicate would hide a missing one).
        let distinct: std::collections::HashSet<_> = names.iter().map(|(s, _)| s).collect();
        assert_eq!(distinct.len(), names.len());
        // Forecasts share names with diagnostics (`warning`) and actions (`disable`) on
        // purpose: each list is distinct in itself.
        let forecast: Vec<(String, &str)> = ForecastKind::ALL
            .map(|k| (serde_name(k), k.as_str()))
            .into_iter()
            .chain(ForecastSeverity::ALL.map(|k| (serde_name(k), k.as_str())))
            .collect();
        for (serde, as_str) in &forecast {
            assert_eq!(serde, as_str);
        }
        let distinct: std::collections::HashSet<_> = forecast.iter().map(|(s, _)| s).collect();
        assert_eq!(distinct.len(), 7 + 2);
    }
}
