//! indicatif progress bars behind the library's `Progress` trait.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressState, ProgressStyle};
use tfmono::progress::{Progress, Task};

/// The width the task names are padded to (longer names are shown whole).
const NAME_WIDTH: usize = 32;

/// One bar per task on stderr, drawn at most ~10 times a second: name, bar, counts, a
/// readable rate and the time left.
pub struct Bars {
    multi: MultiProgress,
    /// How many bars are shown: a task started when none is, is a phase of its own.
    live: AtomicUsize,
}

impl Bars {
    /// Creates an empty set of bars.
    pub fn new() -> Bars {
        Bars {
            multi: MultiProgress::new(),
            live: AtomicUsize::new(0),
        }
    }
}

struct Bar<'a> {
    bar: ProgressBar,
    live: &'a AtomicUsize,
}

impl Task for Bar<'_> {
    fn inc(&self, n: u64) {
        self.bar.inc(n);
    }
    fn message(&self, msg: &str) {
        self.bar.set_message(msg.to_string());
    }
}

impl Drop for Bar<'_> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Progress for Bars {
    fn task(&self, name: &str, total: u64) -> Box<dyn Task + '_> {
        let bar = self.multi.add(ProgressBar::new(total));
        let style = ProgressStyle::with_template(&format!(
            "{{prefix:>{NAME_WIDTH}.bold}} [{{bar:30}}] {{human_pos}}/{{human_len}} {{rate}} ETA {{eta}} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&rate(s.per_sec()));
        })
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(name.to_string());
        // A phase (no other bar shown) is drawn at once (0/N), past the refresh limit: it
        // shows even when it ends within the limit's 50 ms. The bars within a phase (one
        // per repo of an import) follow the limit, or a thousand repos would flicker.
        if self.live.fetch_add(1, Ordering::Relaxed) == 0 {
            bar.force_draw();
        } else {
            bar.tick();
        }
        Box::new(Bar {
            bar,
            live: &self.live,
        })
    }
}

/// A rate people read: `1,072/s`, `12.5/s`, `0.3/s`.
pub fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        return "-/s".to_string();
    }
    if per_sec >= 100.0 {
        let n = per_sec.round() as u64;
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        let _ = write!(out, "/s");
        out
    } else if per_sec >= 10.0 {
        format!("{per_sec:.0}/s")
    } else {
        format!("{per_sec:.1}/s")
    }
}

#[cfg(test)]
mod tests {
    use super::rate;

    #[test]
    fn rates_read_without_four_decimals() {
        assert_eq!(rate(1071.6379), "1,072/s");
        assert_eq!(rate(1_234_567.0), "1,234,567/s");
        assert_eq!(rate(42.42), "42/s");
        assert_eq!(rate(2.345), "2.3/s");
        assert_eq!(rate(0.0), "-/s");
    }
}
