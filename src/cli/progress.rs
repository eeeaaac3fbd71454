//! Progress bars on stderr for long directory reads and writes, drawn from the library's
//! [`ProgressEvent`]s: one bar per directory (they are read at the same time), only on a
//! terminal and without `-q`; pipelines and CI logs see nothing.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use idsync::connect::{AdDirectory, EntraDirectory};
use idsync::directory::{NoProgress, ProgressEvent, ProgressSink};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Global;

/// Gives each directory its own sink; all bars share one terminal region.
pub fn attach(global: &Global, ad: &mut AdDirectory, entra: &mut EntraDirectory) {
    if global.quiet || !std::io::stderr().is_terminal() {
        ad.set_progress(Arc::new(NoProgress));
        entra.set_progress(Arc::new(NoProgress));
        return;
    }
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    ad.set_progress(Arc::new(Bars::new(multi.clone())));
    entra.set_progress(Arc::new(Bars::new(multi)));
}

/// A sink for a command that reads one directory.
pub fn sink(global: &Global) -> Arc<dyn ProgressSink> {
    if global.quiet || !std::io::stderr().is_terminal() {
        return Arc::new(NoProgress);
    }
    Arc::new(Bars::new(MultiProgress::with_draw_target(
        ProgressDrawTarget::stderr(),
    )))
}

/// One directory's bar: each phase's `Start` replaces the previous bar.
struct Bars {
    multi: MultiProgress,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn new(multi: MultiProgress) -> Self {
        Bars {
            multi,
            bar: Mutex::new(None),
        }
    }
}

impl ProgressSink for Bars {
    fn event(&self, event: ProgressEvent<'_>) {
        let mut current = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            ProgressEvent::Start { what, total } => {
                if let Some(old) = current.take() {
                    old.finish_and_clear();
                }
                let style = match total {
                    Some(_) => ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
                        .map(|s| s.progress_chars("=> "))
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    None => {
                        ProgressStyle::with_template("{spinner} {msg}: {human_pos} ({elapsed})")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner())
                    }
                };
                let bar = self
                    .multi
                    .add(ProgressBar::new(total.unwrap_or(0)).with_style(style));
                if total.is_none() {
                    bar.unset_length();
                }
                bar.set_message(what.to_owned());
                bar.enable_steady_tick(Duration::from_millis(120));
                *current = Some(bar);
            }
            ProgressEvent::Advance(n) => {
                if let Some(bar) = current.as_ref() {
                    bar.inc(n);
                }
            }
            ProgressEvent::Finish => {
                if let Some(bar) = current.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}
