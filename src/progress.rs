//! Progress reporting as a trait, so library code can report without knowing about terminals.
//!
//! The CLI implements [`Progress`] with indicatif bars; tests and quiet runs pass
//! [`NoProgress`]. Long operations also take an `&AtomicBool` that is set on Ctrl-C.

/// Something that can show the progress of named tasks (one bar per task).
pub trait Progress: Sync {
    /// Starts a task called `name` with `total` units of work (0 when unknown).
    fn task(&self, name: &str, total: u64) -> Box<dyn Task + '_>;
}

/// One running task; it is finished when dropped.
pub trait Task: Send + Sync {
    /// Records `n` more units done.
    fn inc(&self, n: u64);
    /// Sets a short message shown beside the bar.
    fn message(&self, _msg: &str) {}
}

/// Progress that shows nothing: for tests, `--quiet` and non-terminals.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

/// A task that counts nothing: for callers that report no progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTask;

impl Task for NoTask {
    fn inc(&self, _n: u64) {}
}

impl Progress for NoProgress {
    fn task(&self, _name: &str, _total: u64) -> Box<dyn Task + '_> {
        Box::new(NoTask)
    }
}

/// The process's resident memory (anonymous and mapped files) and its peak, for trace lines, read
/// from `/proc/self/status`; empty where that file is not there.
pub fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return String::new();
    };
    let mb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    format!(
        "rss {} MB (anon {}, files {}), peak {} MB, cpu {} ms",
        mb("VmRSS:"),
        mb("RssAnon:"),
        mb("RssFile:"),
        mb("VmHWM:"),
        cpu_ms()
    )
}

/// The CPU time (user and system, every thread) this process used so far, in ms (to the
/// kernel's clock tick); 0 when `/proc` cannot tell.
fn cpu_ms() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // The fields after the command name (which may hold spaces): utime and stime are the
    // 14th and 15th of the line, the 12th and 13th after the name's closing parenthesis.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    // Linux reports these in USER_HZ, 100 per second on every platform it runs on.
    ticks * 10
}
