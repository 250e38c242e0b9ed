//! Small helpers shared by the benchmarks.

/// Peak resident set size of this process in MiB (Linux `VmHWM`; 0 elsewhere).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Resets the peak RSS counter (Linux: writing 5 to `clear_refs`), so each measured stage
/// reports its own peak.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A working directory: `DIR/<name>` if given (kept), else a temporary one (removed).
pub fn scratch_dir(dir: Option<&std::path::Path>, name: &str) -> anyhow::Result<tempfile::TempDir> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            Ok(tempfile::Builder::new().prefix(&format!("{name}-")).tempdir_in(d)?)
        }
        None => Ok(tempfile::Builder::new().prefix(&format!("chatvault-bench-{name}-")).tempdir()?),
    }
}

/// `123456.7` → `123,457`.
pub fn fmt_rate(x: f64) -> String {
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
