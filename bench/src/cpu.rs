//! CPU time by stage: where a benchmark's cores went, read from Linux `/proc` (`utime +
//! stime` of `stat(5)`, in 10 ms ticks; nothing elsewhere).
//!
//! A stage is a set of threads, known by the names chatvault and its libraries give them.
//! Threads are sampled while the benchmark runs, so one that ends before the last sample (tantivy
//! starts new indexing threads at every index commit) still counts up to when it was last seen;
//! what no sample saw is printed as such, never spread over the stages.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Ticks per second of `/proc/*/stat` (`USER_HZ`, 100 on every Linux ABI).
const TICKS_PER_SEC: f64 = 100.0;

/// `(command name, utime + stime ticks)` of one `/proc/.../stat` file.
pub fn stat_ticks(path: &str) -> Option<(String, u64)> {
    parse_stat(&std::fs::read_to_string(path).ok()?)
}

/// `(command name, utime + stime ticks)` of the text of a `stat` file.
fn parse_stat(stat: &str) -> Option<(String, u64)> {
    // The command name is in parentheses and may hold spaces and parentheses itself; the
    // fields after it start after the last ')'.
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); `rest` starts at field 3.
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Some((comm, t(11) + t(12)))
}

/// CPU seconds `pid` has used, all its threads, ended ones included (0 when unreadable).
pub fn process_secs(pid: u32) -> f64 {
    stat_ticks(&format!("/proc/{pid}/stat")).map_or(0.0, |(_, t)| t as f64 / TICKS_PER_SEC)
}

/// The stage a thread of chatvault's process works for, by its name (at most 15 bytes, as
/// the kernel keeps it).
fn stage(comm: &str) -> &'static str {
    match comm {
        // tokio names its workers and its blocking pool alike, and its pool threads take
        // whichever task is queued first, so the store's commits (blocking pool) cannot be
        // told apart from the connectors by name.
        "tokio-rt-worker" => "connectors and store commits (tokio workers and blocking pool)",
        "search-indexer" => "search: indexer thread (log reads, documents)",
        "chatvault-check" => "store: WAL checkpoints",
        _ if comm.starts_with("chatvault-prep") => "store: prepare threads (hashes, compression, dedup lookups)",
        _ if comm.starts_with("thrd-tantivy") || comm.starts_with("docstore") => {
            "search: tantivy indexing (tokens, postings)"
        }
        _ if comm.starts_with("segment_update") || comm.starts_with("merge_thread") => "search: tantivy segment merges",
        _ => "other threads",
    }
}

/// The stage of thread `tid` named `comm`: the main thread (named after the binary) is the
/// benchmark's own.
fn stage_of(tid: u32, comm: &str) -> &'static str {
    if tid == std::process::id() {
        "benchmark's own thread (polling, sampling)"
    } else {
        stage(comm)
    }
}

/// Per-thread CPU of this process and the whole CPU of one other process (the simulators),
/// from a start to the last [`StageCpu::sample`].
pub struct StageCpu {
    /// tid → (stage, ticks at the start or 0 for a thread born since, ticks last seen)
    threads: BTreeMap<u32, (&'static str, u64, u64)>,
    process_start: f64,
    process_now: f64,
    other: Option<(u32, f64, f64)>,
}

impl StageCpu {
    /// Starts counting now; `other` is a process whose CPU is reported as one stage.
    pub fn start(other: Option<u32>) -> Self {
        let me = std::process::id();
        let mut s = StageCpu {
            threads: BTreeMap::new(),
            process_start: process_secs(me),
            process_now: 0.0,
            other: other.map(|pid| (pid, process_secs(pid), 0.0)),
        };
        for (tid, comm, ticks) in own_threads() {
            s.threads.insert(tid, (stage_of(tid, &comm), ticks, ticks));
        }
        s.sample();
        s
    }

    /// Reads every thread's ticks again (call it often enough to see short-lived threads).
    pub fn sample(&mut self) {
        for (tid, comm, ticks) in own_threads() {
            let e = self.threads.entry(tid).or_insert((stage_of(tid, &comm), 0, 0));
            // A new thread is named from inside itself, so a sample may first see its
            // parent's name: the latest name counts.
            e.0 = stage_of(tid, &comm);
            e.2 = e.2.max(ticks);
        }
        self.process_now = process_secs(std::process::id());
        if let Some((pid, _, now)) = &mut self.other {
            *now = process_secs(*pid).max(*now);
        }
    }

    /// CPU seconds per stage since the start, largest first, `other_name` naming the other
    /// process; with what no thread sample saw (threads that ended between samples), if any.
    pub fn stages(&self, other_name: &str) -> Vec<(String, f64)> {
        let mut by: BTreeMap<&str, f64> = BTreeMap::new();
        for (stage, start, last) in self.threads.values() {
            *by.entry(stage).or_default() += last.saturating_sub(*start) as f64 / TICKS_PER_SEC;
        }
        let seen: f64 = by.values().sum();
        let mut out: Vec<(String, f64)> = by.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let unseen = (self.process_now - self.process_start) - seen;
        if unseen >= 0.01 {
            out.push(("chatvault threads that ended between samples".to_string(), unseen));
        }
        if let Some((_, start, now)) = self.other {
            out.push((other_name.to_string(), now - start));
        }
        out.retain(|(_, secs)| *secs > 0.0);
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }
}

/// `(tid, name, ticks)` of every live thread of this process.
fn own_threads() -> Vec<(u32, String, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let tid: u32 = e.file_name().to_str()?.parse().ok()?;
            let (comm, ticks) = stat_ticks(&format!("/proc/self/task/{tid}/stat"))?;
            Some((tid, comm, ticks))
        })
        .collect()
}

/// A markdown table of `stages` for `messages` messages in `wall_secs` on `cores` cores, with
/// the total and how much of the cores it used.
pub fn table(stages: &[(String, f64)], messages: u64, wall_secs: f64, cores: usize) -> String {
    let total: f64 = stages.iter().map(|(_, s)| s).sum();
    let per_msg = |secs: f64| secs * 1e6 / messages.max(1) as f64;
    let mut t = String::from("| stage (threads) | CPU | µs per message | share |\n|---|---|---|---|\n");
    for (name, secs) in stages {
        let _ = writeln!(
            t,
            "| {name} | {secs:.1} s | {:.1} | {:.0} % |",
            per_msg(*secs),
            100.0 * secs / total.max(f64::MIN_POSITIVE)
        );
    }
    let _ = writeln!(
        t,
        "| all | {total:.1} s | {:.1} | {:.0} % of {cores} cores × {wall_secs:.1} s |",
        per_msg(total),
        100.0 * total / (cores as f64 * wall_secs).max(f64::MIN_POSITIVE)
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_name_with_spaces_and_parentheses_keeps_its_fields() {
        // pid (comm) state ppid … utime (14) stime (15) …
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 30 0 0";
        assert_eq!(parse_stat(stat), Some(("a (b) c".to_string(), 280)));
        assert_eq!(parse_stat("42 no name"), None);
    }

    #[test]
    fn threads_are_grouped_by_the_stage_their_name_says() {
        assert_eq!(stage("chatvault-prepa"), stage("chatvault-prepare-1"));
        assert_eq!(stage("thrd-tantivy-in"), stage("docstore-compre"));
        assert_ne!(stage("search-indexer"), stage("thrd-tantivy-in"));
        assert_eq!(stage("something-else"), "other threads");
        // The main thread goes by the binary's name, whatever the binary is called.
        let me = std::process::id();
        assert_eq!(stage_of(me, "chatvault-copy"), stage_of(me, "chatvault"));
        assert_ne!(stage_of(me, "chatvault"), stage_of(me + 1, "chatvault"));
    }

    #[test]
    fn a_thread_counts_in_its_stage_and_after_it_ends_as_unseen_time() {
        fn spin(ticks: u64) {
            let own = || stat_ticks("/proc/thread-self/stat").map_or(0, |(_, t)| t);
            let start = own();
            while own() - start < ticks {
                std::hint::black_box((0..1000u64).sum::<u64>());
            }
        }
        let (reached, wait_reached) = std::sync::mpsc::channel();
        let (go_on, wait_go_on) = std::sync::mpsc::channel::<()>();
        let mut s = StageCpu::start(None);
        let busy = std::thread::Builder::new()
            .name("search-indexer".into())
            .spawn(move || {
                spin(10);
                let tid = std::fs::read_link("/proc/thread-self").unwrap();
                reached.send(tid).unwrap();
                wait_go_on.recv().unwrap();
                spin(20);
            })
            .unwrap();
        let indexer = |s: &StageCpu| {
            let st = s.stages("elsewhere");
            st.iter()
                .find(|(n, _)| n == stage("search-indexer"))
                .map_or(0.0, |(_, v)| *v)
        };
        // `/proc/thread-self` links to `<pid>/task/<tid>`.
        let task = std::path::Path::new("/proc").join(wait_reached.recv().unwrap());
        s.sample();
        let seen_alive = indexer(&s);
        go_on.send(()).unwrap();
        busy.join().unwrap();
        // `join` returns before the kernel takes the thread off the process's task list.
        let t = std::time::Instant::now();
        while task.exists() && t.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        s.sample();
        let stages = s.stages("elsewhere");
        assert!((0.1..0.2).contains(&seen_alive), "{stages:?}");
        assert_eq!(indexer(&s), seen_alive, "a thread that ended keeps what was seen");
        // What it spent after the last sample that saw it is reported, not lost.
        let unseen = stages
            .iter()
            .find(|(n, _)| n.contains("ended"))
            .map_or(0.0, |(_, v)| *v);
        assert!(unseen >= 0.17, "{stages:?}");
    }
}
