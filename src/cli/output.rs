//! Where the CLI writes, and with what colour.

use anstream::AutoStream;
use anstream::stream::RawStream;
use idsync::render::Styler;

use super::{ColorChoice, Global};

/// Colour for a stream: `--color always|never`, else anstream's rules for `auto` — none when
/// `NO_COLOR` is set or the stream is not a terminal (also `CLICOLOR=0`, `TERM=dumb`;
/// `CLICOLOR_FORCE` forces it).
pub fn styler<S: RawStream>(global: &Global, stream: &S) -> Styler {
    let enabled = match global.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => AutoStream::choice(stream) != anstream::ColorChoice::Never,
    };
    Styler::new(enabled)
}

pub fn stdout_styler(global: &Global) -> Styler {
    styler(global, &std::io::stdout())
}

pub fn stderr_styler(global: &Global) -> Styler {
    styler(global, &std::io::stderr())
}

/// Prints an error and its causes on stderr.
pub fn error(global: &Global, e: &anyhow::Error) {
    let s = stderr_styler(global);
    let top = e.to_string();
    eprintln!("{} {top}", s.error("error:"));
    // Our errors usually name their cause already; show a cause only when it adds something.
    let mut shown = top;
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !shown.contains(&text) {
            eprintln!("  caused by: {text}");
            shown.push_str(&text);
        }
    }
}

/// Progress and timing lines, shown with -v.
pub fn info(global: &Global, message: &str) {
    if global.verbose > 0 && !global.quiet {
        eprintln!("{message}");
    }
}

/// Warnings on stderr that every format must show: a directory with no users in scope
/// (DESIGN.md: said out loud, whatever the output format).
/// Shown with -q too: a plan that compared nothing must never pass unnoticed.
pub fn warn_about(global: &Global, plan: &idsync::plan::Plan) {
    let s = stderr_styler(global);
    for n in plan
        .notes
        .iter()
        .filter(|n| n.kind == idsync::plan::NoteKind::EmptyScope)
    {
        eprintln!("{} {}", s.warning("warning:"), n.message);
    }
}
