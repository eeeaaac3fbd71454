//! The outcome of `idsync apply`, action by action.

use std::fmt::Write as _;

use super::Styler;
use crate::apply::{ApplyReport, Status};

pub fn report_text(report: &ApplyReport, s: Styler) -> String {
    let mut out = String::new();
    for o in &report.outcomes {
        let label = match o.status {
            Status::Applied => s.add("applied      "),
            Status::Failed => s.error("FAILED       "),
            Status::Stale => s.warning("STALE        "),
            Status::NotAttempted => s.dim("not attempted"),
            Status::Refused => s.error("REFUSED      "),
        };
        let _ = write!(
            out,
            "  {label} {} {} {} \"{}\" {}",
            o.id,
            o.action.as_str(),
            o.directory.as_str(),
            o.identity,
            o.target
        );
        if let Some(m) = &o.message {
            let _ = write!(out, "\n                {m}");
        }
        out.push('\n');
    }
    let applied = report.count(Status::Applied);
    let failed = report.count(Status::Failed);
    let stale = report.count(Status::Stale);
    let skipped = report.count(Status::NotAttempted);
    let refused = report.count(Status::Refused);
    let mut line = format!(
        "{}: {applied} applied, {failed} failed, {stale} stale (skipped: changed since the plan), {skipped} not attempted",
        if report.succeeded() {
            "Apply complete"
        } else {
            "Apply incomplete"
        }
    );
    if refused > 0 {
        let _ = write!(line, ", {refused} refused (not as a fresh plan has them)");
    }
    line.push('.');
    let _ = writeln!(
        out,
        "\n{}",
        if report.succeeded() {
            s.bold(&line)
        } else {
            s.error(&line)
        }
    );
    if stale > 0 {
        out.push_str("Stale actions were skipped because their objects changed after the plan was made: run `idsync plan` again.\n");
    }
    if refused > 0 {
        out.push_str("Refused actions of the saved plan were not carried out: a plan made now does not contain them as saved. Run `idsync plan` again and review it.\n");
    }
    if failed + skipped > 0 {
        out.push_str("Re-running apply (or plan + apply) finishes the remaining work; nothing applied is done twice.\n");
    }
    out
}

pub fn report_json(report: &ApplyReport) -> String {
    let summary = serde_json::json!({
        "applied": report.count(Status::Applied),
        "failed": report.count(Status::Failed),
        "stale": report.count(Status::Stale),
        "not_attempted": report.count(Status::NotAttempted),
        "refused": report.count(Status::Refused),
    });
    let mut s = serde_json::to_string_pretty(&serde_json::json!({
        "format_version": 1,
        "summary": summary,
        "outcomes": report.outcomes,
    // Cannot fail: reports are structs with string keys, which always serialize.
    }))
    .expect("reports serialize");
    s.push('\n');
    s
}
