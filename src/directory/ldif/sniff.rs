//! Files that are not LDIF: named by what they are, with the commands that make an export.

use super::*;

/// An error on a file's first content line, restated as what the file is when it is a
/// well-known other format (admins pass whatever export they have).
pub(super) fn explain_non_ldif(text: &[u8], error: LdifError) -> LdifError {
    let at = text
        .split(|&b| b == b'\n')
        .nth(error.line.saturating_sub(1))
        .unwrap_or_default();
    if let Some(message) = ldapsearch_error(at.trim_ascii()) {
        return LdifError {
            column: 1,
            message: format!(
                "\"{message}\" is ldapsearch's error message (its stderr saved into the file): the search stopped early and the export is incomplete; {COMPLETE_EXPORT}"
            ),
            ..error
        };
    }
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l));
    let mut export_csv = false;
    let first = lines.by_ref().find(|(_, l)| {
        export_csv |= l.starts_with(b"#TYPE ");
        !(l.trim_ascii().is_empty() || l.starts_with(b"#"))
    });
    let Some((first_no, first)) = first else {
        return error;
    };
    if first_no != error.line {
        return error;
    }
    let next = lines
        .map(|(_, l)| l)
        .find(|l| !l.trim_ascii().is_empty())
        .unwrap_or_default();
    let Some(what) = identify(first, next, export_csv) else {
        return LdifError {
            message: format!(
                "{}; an AD snapshot is an LDIF export: make one with {EXPORT_COMMANDS}",
                error.message
            ),
            ..error
        };
    };
    LdifError {
        line: error.line,
        column: 1,
        message: format!(
            "this is {what}, not LDIF: an AD snapshot is an LDIF export, made with {EXPORT_COMMANDS}"
        ),
    }
}

/// An ldapsearch error as it prints it, `Size limit exceeded (4)`: text, then the result code.
pub(super) fn ldapsearch_error(line: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(line).ok()?;
    let (message, code) = text.strip_suffix(')')?.rsplit_once(" (")?;
    let plausible = !message.contains(':')
        && message.starts_with(|c: char| c.is_ascii_alphabetic())
        && !code.is_empty()
        && code.bytes().all(|b| b.is_ascii_digit());
    plausible.then_some(text)
}

/// Names the format of a file from its first two content lines.
pub(super) fn identify(first: &[u8], next: &[u8], export_csv: bool) -> Option<&'static str> {
    let line = first.trim_ascii();
    let colon = line.iter().position(|&b| b == b':');
    let comma = line.iter().position(|&b| b == b',');
    let word_end = line
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-'))
        .unwrap_or(line.len());
    let after_word = &line[word_end..];
    if line.starts_with(b"SASL") || line.starts_with(b"ldap_") {
        Some(
            "ldapsearch's messages (its stderr) saved into the file: redirect only its output (`ldapsearch … > ad.ldif`)",
        )
    } else if line.starts_with(b"{") || line.starts_with(b"[") {
        Some("a JSON file (Entra snapshots are Graph JSON: pass one with --entra-snapshot)")
    } else if line.starts_with(b"<") {
        Some("an XML or HTML file (PowerShell's Export-Clixml writes XML)")
    } else if line.starts_with(b">> Dn:")
        || line.first().is_some_and(u8::is_ascii_digit) && after_word.starts_with(b"> ")
    {
        Some("ldp.exe output")
    } else if word_end > 0
        && after_word.starts_with(b" ")
        && after_word.trim_ascii_start().starts_with(b":")
    {
        Some("PowerShell Format-List output (`Get-ADUser … | Format-List`)")
    } else if !next.is_empty() && next.iter().all(|&b| b == b'-' || b == b' ') {
        Some("PowerShell table output (`Format-Table`)")
    } else if export_csv {
        Some("a CSV file (PowerShell's Export-Csv)")
    } else if comma.is_some_and(|c| colon.is_none_or(|k| c < k)) {
        Some("a CSV file (a `csvde -f` or Export-Csv export)")
    } else {
        None
    }
}
