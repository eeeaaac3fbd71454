//! Progress bars on stderr for long directory reads and writes, drawn from the library's
//! [`ProgressEvent`]s: only on a terminal and without `-q`; pipelines see nothing.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use idsync::directory::{NoProgress, ProgressEvent, ProgressSink};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Global;

/// The sink for this run: bars on a terminal, nothing otherwise.
pub fn sink(global: &Global) -> Arc<dyn ProgressSink> {
    if global.quiet || !std::io::stderr().is_terminal() {
        Arc::new(NoProgress)
    } else {
        Arc::new(Bars::default())
    }
}

/// One bar at a time: a phase's `Start` replaces the previous one.
#[derive(Default)]
struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl ProgressSink for Bars {
    fn event(&self, event: ProgressEvent<'_>) {
        let mut current = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            ProgressEvent::Start { what, total } => {
                if let Some(old) = current.take() {
                    old.finish_and_clear();
                }
                let bar = match total {
                    Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr())
                        .with_style(
                            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
                                .unwrap_or_else(|_| ProgressStyle::default_bar())
                                .progress_chars("=> "),
                        ),
                    None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                        .with_style(
                            ProgressStyle::with_template(
                                "{spinner} {msg}: {human_pos} ({elapsed})",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        ),
                };
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
