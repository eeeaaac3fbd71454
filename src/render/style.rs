//! Colour for terminal output, on or off as the CLI decides (`--color`, `NO_COLOR`).

use anstyle::{AnsiColor, Style};

/// Paints text with ANSI styles when enabled; returns it unchanged otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct Styler {
    pub enabled: bool,
}

impl Styler {
    pub fn new(enabled: bool) -> Self {
        Styler { enabled }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.enabled {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    pub fn add(&self, t: &str) -> String {
        self.paint(AnsiColor::Green.on_default(), t)
    }
    pub fn change(&self, t: &str) -> String {
        self.paint(AnsiColor::Yellow.on_default(), t)
    }
    pub fn remove(&self, t: &str) -> String {
        self.paint(AnsiColor::Red.on_default(), t)
    }
    pub fn link(&self, t: &str) -> String {
        self.paint(AnsiColor::Cyan.on_default(), t)
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint(Style::new().bold(), t)
    }
    pub fn error(&self, t: &str) -> String {
        self.paint(AnsiColor::Red.on_default().bold(), t)
    }
    pub fn warning(&self, t: &str) -> String {
        self.paint(AnsiColor::Yellow.on_default().bold(), t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint(Style::new().dimmed(), t)
    }
}
