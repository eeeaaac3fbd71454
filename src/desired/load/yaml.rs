//! Reading one YAML file: bounded, UTF-8, parsed within a node budget, errors as located
//! plain text.

use super::*;

/// Reads a YAML file as UTF-8. Invalid UTF-8 is a located issue (`Ok(None)`), not an I/O error.
pub(super) fn read_text(path: &Path, issues: &mut Vec<Issue>) -> Result<Option<String>, LoadError> {
    let bytes =
        crate::files::read::read_regular_file(path, crate::files::read::DESIRED_STATE_FILE_LIMIT)
            .map_err(|e| LoadError::Io {
            path: path.to_owned(),
            source: e.into_io_error(),
        })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some(text)),
        Err(e) => {
            let bytes = e.as_bytes();
            let at = e.utf8_error().valid_up_to();
            // The prefix is valid UTF-8 by definition; count characters for the column.
            let before = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
            let line = before.matches('\n').count() as u64 + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() as u64 + 1;
            issues.push(Issue {
                file: path.to_owned(),
                line,
                column,
                message: format!(
                    "invalid UTF-8 (byte 0x{:02x}); YAML files must be UTF-8",
                    bytes.get(at).copied().unwrap_or_default()
                ),
            });
            Ok(None)
        }
    }
}

/// Parses one YAML document; an empty file (or only comments) is the default value.
pub(super) fn parse_yaml<T: serde::de::DeserializeOwned + Default>(
    text: &str,
) -> Result<T, (u64, u64, String)> {
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(T::default());
    }
    parse_within(text, budget())
}

/// What one file may hold. serde-saphyr's defaults (250,000 nodes, 1M events) stop at about
/// 27,000 identities as `import` writes them (9 nodes, 12 events, ~75 scalar bytes each); these
/// hold a million such identities several times over and still bound a hostile file. Aliases
/// and anchors keep the defaults: they are what guards against billion-laughs expansion.
pub(super) fn budget() -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = 32_000_000;
    budget.max_events = 64_000_000;
    budget.max_total_scalar_bytes = 1 << 30;
    budget
}

/// Parses one YAML document within `budget`; a breach is a plain message at its location.
pub(super) fn parse_within<T: serde::de::DeserializeOwned>(
    text: &str,
    budget: serde_saphyr::Budget,
) -> Result<T, (u64, u64, String)> {
    let limits = budget.clone();
    // Comments are never read back (no `Commented<T>`): not emitting them keeps them out of
    // the event count, so a heavily commented `import` file costs no more than a bare one.
    let options = serde_saphyr::options! { budget: Some(budget), emit_comments: false };
    serde_saphyr::from_str_with_options::<T>(text, options).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        let plain = e.without_snippet();
        if let serde_saphyr::Error::Budget { breach, .. } = plain {
            return (line.max(1), column.max(1), too_big(breach, &limits));
        }
        use serde_saphyr::MessageFormatter as _;
        let message = plain_text(&serde_saphyr::UserMessageFormatter.format_message(plain));
        (line, column, message)
    })
}

/// A message as one plain line: quotes stay quotes; control characters — raw, or as the
/// `\u{0}` the YAML parser writes for them — are shown as `U+0000`.
pub(super) fn plain_text(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(c) = rest.chars().next() {
        let escaped = rest.strip_prefix("\\u{").and_then(|r| {
            let (hex, tail) = r.split_once('}')?;
            let code = u32::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() <= 6)?;
            Some((code, tail))
        });
        if let Some((code, tail)) = escaped {
            out.push_str(&format!("U+{code:04X}"));
            rest = tail;
            continue;
        }
        if c.is_control() {
            out.push_str(&format!("U+{:04X}", u32::from(c)));
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A budget breach in words: which limit, and what to do about it.
pub(super) fn too_big(
    breach: &serde_saphyr::budget::BudgetBreach,
    limits: &serde_saphyr::Budget,
) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    let what = match breach {
        B::Nodes { .. } => format!("more than {} YAML nodes", limits.max_nodes),
        B::Events { .. } => format!("more than {} YAML events", limits.max_events),
        B::ScalarBytes { .. } => format!(
            "more than {} MiB of values",
            limits.max_total_scalar_bytes >> 20
        ),
        B::Depth { .. } => {
            return format!(
                "nested deeper than {} levels; a desired state needs a handful",
                limits.max_depth
            );
        }
        B::Aliases { .. } | B::Anchors { .. } | B::AliasAnchorRatio { .. } => {
            return "too many YAML aliases or anchors (refused: they can expand without bound)"
                .to_owned();
        }
        B::Documents { .. } => format!("more than {} YAML documents", limits.max_documents),
        _ => "more YAML than idsync reads in one file".to_owned(),
    };
    format!(
        "this file is too big: {what} (enough for about a million identities); split `identities` across several files in the folder"
    )
}
