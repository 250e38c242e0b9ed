//! `chatvault bench archive`: N 会话存档 items pulled from the stand-in Finance SDK through the
//! real path — the `[[wecom_archive]]` connector in the pipeline, its worker process (this
//! binary's hidden subcommand: GetChatData, DecryptData), RSA of each item's random key,
//! decoding, and the store writer — beside `bench store` on the same number of corpus messages
//! in the same run. Peak RSS is reported for the parent and for the worker separately (the
//! worker holds the stand-in's world in memory, which the real SDK would not).
//!
//! The items carry the corpus texts (the same generator `bench store` uses), as text messages
//! in the corpus chats, each with its own random key encrypted for key version 1, as
//! Tencent's servers would. The world is built before the clock.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sim::corpus::Corpus;

use super::util::{announced_scratch_dir, cpu_secs, fmt_rate, peak_rss_mib, reset_peak_rss, runtime};
use crate::BenchError;
use crate::running;

pub fn run(args: &crate::BenchArgs) -> Result<(), BenchError> {
    let n = args.n;
    let dir = announced_scratch_dir(
        args,
        "archive",
        format_args!("{n} 会话存档 items from the stand-in SDK,"),
    )?;
    let built = Instant::now();
    let now = proto::time::now_ms();
    let messages = Corpus::new(42).take(n).map(move |r| {
        json!({"msgid": r.msg_id, "action": "send", "from": r.sender, "tolist": ["zhangsan", "lisi"],
               "roomid": r.chat_id, "msgtime": now - 86_400_000 + r.i as i64, "msgtype": "text",
               "text": {"content": r.text}})
    });
    let inst = sim::wecom_archive::install_bulk(&dir.path().join("sdk"), messages)?;
    let world_bytes = std::fs::metadata(finance_world(&inst.sdk_path))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "  world of {n} items ({:.0} MiB) built in {:.1} s",
        world_bytes as f64 / (1024.0 * 1024.0),
        built.elapsed().as_secs_f64()
    );

    reset_peak_rss();
    let cpu0 = cpu_secs();
    let rt = runtime()?;
    let r = rt.block_on(archive(&dir.path().join("data"), &inst, n))?;
    drop(rt);
    let parent_cpu = cpu_secs() - cpu0;
    let parent_rss = peak_rss_mib();

    reset_peak_rss();
    let cpu1 = cpu_secs();
    let (store_secs, store_rss, _) = super::store::store_append(&dir.path().join("store"), n)?;
    let store_cpu = cpu_secs() - cpu1;

    let rsa_rate = connector_rsa_per_second(2000)?;
    let rsa_crate_rate = sim::wecom_archive::rsa_decrypts_per_second(2000);
    let archive_rate = n as f64 / r.secs;
    let store_rate = n as f64 / store_secs;
    println!("| path | messages | time | rate | CPU time | peak RSS |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| chatvault 会话存档: stand-in SDK → worker process (GetChatData, DecryptData) → RSA + decode → store | {n} | {:.1} s | {} msgs/s | parent {parent_cpu:.1} s, worker {:.1} s | parent {parent_rss:.0} MiB, worker {:.0} MiB |",
        r.secs,
        fmt_rate(archive_rate),
        r.worker_cpu,
        r.worker_rss_mib
    );
    println!(
        "| bench store: the store alone (writer task, group commit) on {n} corpus messages | {n} | {store_secs:.1} s | {} events/s | {store_cpu:.1} s | {store_rss:.0} MiB |",
        fmt_rate(store_rate)
    );
    println!(
        "| RSA-2048 PKCS#1 v1.5 decryption of a random key alone, one core, the connector's step (AWS-LC; every item needs one) | 2000 | | {} keys/s | | |",
        fmt_rate(rsa_rate)
    );
    println!(
        "| the same with the `rsa` crate (the connector's step before AWS-LC) | 2000 | | {} keys/s | | |",
        fmt_rate(rsa_crate_rate)
    );
    println!();
    println!("archive / store = {:.2}x", archive_rate / store_rate);
    println!(
        "worker processes seen: {} (a replaced worker counts twice); world file {:.0} MiB",
        r.workers_seen,
        world_bytes as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}

fn finance_world(sdk_path: &Path) -> std::path::PathBuf {
    let mut p = sdk_path.as_os_str().to_owned();
    p.push(".world");
    p.into()
}

struct Run {
    secs: f64,
    worker_rss_mib: f64,
    worker_cpu: f64,
    workers_seen: usize,
}

async fn archive(data: &Path, inst: &sim::wecom_archive::Installed, n: usize) -> Result<Run, BenchError> {
    let section = sim::wecom_archive::config_toml(
        "audit",
        inst,
        &[1],
        "poll_interval = \"100ms\"\nbatch_limit = 1000\ntimeout = \"30s\"\nmedia = false",
    );
    let run = running::start(data, &section, false, Duration::from_millis(20)).await?;
    let mut workers = Workers::default();
    let secs = run
        .wait_archived(
            n,
            Duration::from_millis(50),
            || workers.sample(),
            ("the 会话存档 connector", "items"),
        )
        .await?;
    workers.sample();
    let (reader, _) = run.stop().await?;
    let rejects = reader.rejects(10)?;
    if !rejects.is_empty() {
        return Err(BenchError::Failed(format!(
            "{} items were rejected, e.g. {}",
            rejects.len(),
            rejects[0].reason
        )));
    }
    Ok(Run {
        secs,
        worker_rss_mib: workers.peak_rss_kib as f64 / 1024.0,
        worker_cpu: workers.cpu_secs(),
        workers_seen: workers.seen.len(),
    })
}

/// The worker processes (children of this process), sampled while they run: the peak of
/// their `VmHWM` and their CPU time (`/proc/<pid>/stat` utime + stime).
#[derive(Default)]
struct Workers {
    /// (pid, last CPU ticks seen)
    seen: Vec<(u32, u64)>,
    peak_rss_kib: u64,
}

impl Workers {
    fn sample(&mut self) {
        for pid in children() {
            if let Some(kib) = status_kib(pid, "VmHWM:") {
                self.peak_rss_kib = self.peak_rss_kib.max(kib);
            }
            let ticks = cpu_ticks(pid);
            match self.seen.iter_mut().find(|(p, _)| *p == pid) {
                Some(s) => s.1 = s.1.max(ticks),
                None => self.seen.push((pid, ticks)),
            }
        }
    }

    fn cpu_secs(&self) -> f64 {
        self.seen.iter().map(|(_, t)| *t as f64 / 100.0).sum()
    }
}

/// Children of this process: every `/proc/<pid>/stat` whose parent field is this process
/// (works without `/proc/*/task/*/children`, which some kernels leave out).
fn children() -> Vec<u32> {
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.to_string()))
                .and_then(|r| r.split_whitespace().nth(1)?.parse::<u32>().ok())
                == Some(me)
        })
        .collect()
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn cpu_ticks(pid: u32) -> u64 {
    crate::cpu::stat_ticks(&format!("/proc/{pid}/stat")).map_or(0, |(_, t)| t)
}

/// The connector's own RSA step ([`Keys::random_key`](ingest::wecom_archive::keys::Keys)) on
/// `n` items' random keys, on one core.
fn connector_rsa_per_second(n: usize) -> Result<f64, BenchError> {
    let keys = ingest::wecom_archive::keys::Keys::load(&[config::PrivateKeyConfig {
        version: 1,
        pem: config::Secret::new(sim::wecom_archive::KEY_V1.to_string()),
    }])
    .map_err(|e| BenchError::Failed(e.to_string()))?;
    let cts = sim::wecom_archive::encrypted_random_keys(n);
    let started = Instant::now();
    let ok = cts.iter().filter(|ct| keys.random_key(1, ct).is_ok()).count();
    Ok(ok as f64 / started.elapsed().as_secs_f64())
}
