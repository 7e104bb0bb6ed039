//! indicatif progress bars behind the library's `Progress` trait.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tfmono::progress::{Progress, Task};

/// One bar per task on stderr, drawn at most ~10 times a second.
pub struct Bars {
    multi: MultiProgress,
}

impl Bars {
    /// Creates an empty set of bars.
    pub fn new() -> Bars {
        Bars {
            multi: MultiProgress::new(),
        }
    }
}

struct Bar(ProgressBar);

impl Task for Bar {
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn message(&self, msg: &str) {
        self.0.set_message(msg.to_string());
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bars {
    fn task(&self, name: &str, total: u64) -> Box<dyn Task + '_> {
        let bar = self.multi.add(ProgressBar::new(total));
        let style = ProgressStyle::with_template(
            "{prefix:>28.bold} [{bar:30}] {pos}/{len} {per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(name.chars().take(28).collect::<String>());
        Box::new(Bar(bar))
    }
}
