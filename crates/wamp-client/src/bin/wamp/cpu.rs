//! CPU time of the current thread, from Linux's `/proc/thread-self`.

use std::time::Duration;

/// CPU time (user + system) the calling thread has used so far, or `None` where `/proc` does not
/// tell. Prefers `schedstat` (nanoseconds); falls back to `stat` (clock ticks of 10 ms).
pub fn thread_cpu_time() -> Option<Duration> {
    if let Ok(text) = std::fs::read_to_string("/proc/thread-self/schedstat")
        && let Some(ns) = parse_schedstat(&text)
    {
        return Some(Duration::from_nanos(ns));
    }
    let text = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    parse_stat_ticks(&text).map(|ticks| Duration::from_millis(ticks * 10))
}

/// The first field of `schedstat`: time spent on the CPU, in nanoseconds.
fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// `utime + stime` (fields 14 and 15) of a `stat` line, in clock ticks (USER_HZ, 100 on Linux).
fn parse_stat_ticks(text: &str) -> Option<u64> {
    // The command name (field 2) may contain spaces; fields after it start past the last ')'.
    let after_comm = &text[text.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_formats() {
        assert_eq!(parse_schedstat("123456789 2000 31\n"), Some(123_456_789));
        assert_eq!(parse_schedstat(""), None);
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 37 5 0 0 20 0 1 0";
        assert_eq!(parse_stat_ticks(stat), Some(42));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn cpu_time_grows_with_work() {
        let before = thread_cpu_time().expect("/proc/thread-self is readable on Linux");
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let after = thread_cpu_time().unwrap();
        assert!(after > before, "{before:?} -> {after:?}");
    }
}
