//! Drift reports: text for a job log, JSON, Markdown, and JUnit XML that CI systems show as
//! test results.

use std::fmt::Write as _;

use super::{Styler, plural};
use crate::drift::{Cause, DriftReport, ItemKind};

fn headline(r: &DriftReport) -> String {
    if !r.drifted {
        let assumed = (r.plan.notes.iter()).any(|n| n.kind == crate::plan::NoteKind::Assumption);
        return if assumed {
            "No drift in what was read; the reads did not carry everything a plan compares (see the notes).".into()
        } else {
            "No drift: the directories match the desired state.".into()
        };
    }
    let mut s = format!(
        "Drift: {} between the directories and the desired state",
        plural(r.items.len(), "difference")
    );
    let parts: Vec<String> = [
        (Cause::DirectoryChanged, "directory changed outside idsync"),
        (Cause::DesiredStateChanged, "git changed, not applied yet"),
        (Cause::Unknown, "cause unknown"),
    ]
    .iter()
    .filter(|(c, _)| r.count(*c) > 0)
    .map(|(c, label)| format!("{} {label}", r.count(*c)))
    .collect();
    let _ = write!(s, " ({})", parts.join(", "));
    s.push('.');
    s
}

fn kind(k: ItemKind) -> &'static str {
    match k {
        ItemKind::Action => "change",
        ItemKind::Conflict => "conflict",
        ItemKind::Diagnostic => "diagnostic",
    }
}

pub fn drift_text(r: &DriftReport, s: Styler) -> String {
    let mut out = String::new();
    let head = headline(r);
    let _ = writeln!(
        out,
        "{}",
        if r.drifted {
            s.warning(&head)
        } else {
            s.bold(&head)
        }
    );
    if let Some(b) = &r.baseline {
        let _ = writeln!(out, "Baseline (last applied desired state): {b}");
    }
    for cause in [
        Cause::DirectoryChanged,
        Cause::DesiredStateChanged,
        Cause::Unknown,
    ] {
        let items: Vec<_> = r.items.iter().filter(|i| i.cause == cause).collect();
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}:", s.bold(&capitalise(cause.explain())));
        for i in items {
            let _ = writeln!(out, "  - [{}] {}: {}", kind(i.kind), i.identity, i.summary);
        }
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

pub fn drift_json(r: &DriftReport) -> String {
    let mut s = serde_json::to_string_pretty(&serde_json::json!({
        "format_version": 1,
        "drifted": r.drifted,
        "baseline": r.baseline,
        "summary": {
            "directory_changed": r.count(Cause::DirectoryChanged),
            "desired_state_changed": r.count(Cause::DesiredStateChanged),
            "unknown": r.count(Cause::Unknown),
        },
        "items": r.items,
        "plan": r.plan,
    // Cannot fail: reports are structs with string keys, which always serialize.
    }))
    .expect("reports serialize");
    s.push('\n');
    s
}

pub fn drift_markdown(r: &DriftReport) -> String {
    let mut out = format!("### idsync drift\n\n**{}**\n\n", headline(r));
    if let Some(b) = &r.baseline {
        let _ = writeln!(out, "Baseline (last applied desired state): `{b}`\n");
    }
    if r.drifted {
        out.push_str("| cause | kind | identity | difference |\n|---|---|---|---|\n");
        for i in &r.items {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                i.cause.explain(),
                kind(i.kind),
                cell(&i.identity),
                cell(&i.summary)
            );
        }
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// JUnit XML: one test case per difference (failed), or one passing case when there is none.
pub fn drift_junit(r: &DriftReport) -> String {
    let failures = r.items.len();
    let tests = failures.max(1);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"idsync drift\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"idsync drift\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">"
    );
    if r.items.is_empty() {
        out.push_str("    <testcase classname=\"idsync.drift\" name=\"directories match the desired state\"/>\n");
    }
    for i in &r.items {
        let class = match i.directory {
            Some(d) => format!("idsync.drift.{}", d.as_str()),
            None => "idsync.drift".into(),
        };
        let _ = writeln!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\">",
            xml(&class),
            xml(&format!("{} {}", kind(i.kind), i.identity))
        );
        let _ = writeln!(
            out,
            "      <failure type=\"{}\" message=\"{}\">{}</failure>",
            xml(&format!("{:?}", i.cause)),
            xml(i.cause.explain()),
            xml(&i.summary)
        );
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_everything_that_breaks_a_document() {
        assert_eq!(xml("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
