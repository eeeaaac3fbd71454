//! A progress bar on stderr for long directory reads: only on a terminal and without `-q`,
//! so pipelines and CI logs stay clean.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use idsync::connect::AdDirectory;
use idsync::directory::{ProgressEvent, ProgressSink};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Global;

/// Turns directory progress events into an indicatif bar (a spinner with a count while the
/// total is unknown, as it is for LDAP reads).
struct Bar {
    bar: ProgressBar,
}

impl ProgressSink for Bar {
    fn event(&self, event: ProgressEvent<'_>) {
        match event {
            ProgressEvent::Start { what, total } => {
                let style = match total {
                    Some(n) => {
                        self.bar.set_length(n);
                        ProgressStyle::with_template(
                            "{msg} [{bar:30}] {human_pos}/{human_len} ({elapsed})",
                        )
                    }
                    None => {
                        ProgressStyle::with_template("{spinner} {msg}: {human_pos} ({elapsed})")
                    }
                };
                if let Ok(style) = style {
                    self.bar.set_style(style);
                }
                self.bar.set_message(what.to_owned());
                self.bar.set_position(0);
                self.bar.enable_steady_tick(Duration::from_millis(120));
            }
            ProgressEvent::Advance(n) => self.bar.inc(n),
            ProgressEvent::Finish => self.bar.finish_and_clear(),
        }
    }
}

/// Shows the AD read's progress when stderr is a terminal and `-q` was not given.
pub fn attach(global: &Global, ad: &mut AdDirectory) {
    if global.quiet || !std::io::stderr().is_terminal() {
        return;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    ad.set_progress(Arc::new(Bar { bar }));
}
