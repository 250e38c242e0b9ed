//! The store failing under a running `chatvault run` is never silent: while its transactions
//! fail (here a file-size limit that SQLite's writes run into and that is not lifted for a
//! while), `/healthz` answers 503, the log says so, and no callback is answered 200 unless its
//! message was committed; when the disk takes writes again (the log's file included, which
//! could not be written meanwhile), health returns and archiving resumes in place. A writer
//! that dies outright (an injected panic in its commit thread) stops the process with a
//! non-zero exit.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// `chatvault run` with the file-size limit `kib` (KiB or `unlimited`) (SIGXFSZ ignored, so a write past it fails
/// with EFBIG like a full disk instead of killing the process), stderr to `log`.
fn run_limited(cfg: &std::path::Path, log: &std::path::Path, kib: &str, envs: &[(&str, &str)]) -> KillOnDrop {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg("trap '' XFSZ; ulimit -S -f \"$3\"; exec \"$0\" -c \"$1\" run 2> \"$2\"")
        .arg(env!("CARGO_BIN_EXE_chatvault"))
        .arg(cfg)
        .arg(log)
        .arg(kib)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null());
    for (k, v) in envs {
        c.env(k, v);
    }
    KillOnDrop(c.spawn().unwrap())
}

async fn wait_for_server(port: u16) -> bool {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The status code of `GET /healthz`.
async fn health_status(port: u16) -> u16 {
    let answer = http_get(port, "/healthz").await;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_disk_fails_health_and_acknowledges_only_what_it_committed() {
    use sim::wecom;
    let RunDir { dir, data, port, cfg } = RunDir::new(&[wecom::config_toml("corp", wecom::DEFAULT_PATH, None)]);
    let log_path = dir.path().join("run.log");
    let mut child = run_limited(&cfg, &log_path, "400", &[]);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(wait_for_server(port).await, "no server; log:\n{}", log());
    assert_eq!(health_status(port).await, 200, "healthy at start; log:\n{}", log());
    let poster = wecom_poster(port).with_retry_pause(Duration::from_millis(20));
    let text = "磁盘将满时的消息，".repeat(20);
    let cb = |id: u64| lisi_text(id, id, &text);

    // Archive until every commit fails. The limit is per file, a full disk is not: a WAL
    // that reaches the limit is written again from its start, within the limit, once the
    // checkpoint thread has copied all of it into the database (a commit there is durable).
    // Once a checkpoint has failed because the database file cannot grow, the WAL can no
    // longer be copied in full and so is never written from its start again: from the next
    // commit that fails on, every commit fails, as on a full disk.
    let stuck = || {
        let l = log();
        matches!((l.find("WAL checkpoint failed"), l.rfind("store commit failed")), (Some(c), Some(f)) if f > c)
    };
    let mut next = 1u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !stuck() && Instant::now() < deadline {
        let round: Vec<_> = (next..next + 40).map(cb).collect();
        next += 40;
        poster.burst(&round, 8).await;
    }
    assert!(stuck(), "the limit was never hit; log:\n{}", log());
    let acked_before = acked_wecom_ids(&poster).len();
    assert!(acked_before > 0, "nothing was archived before the limit");

    // The failure is visible from outside: /healthz turns 503, the log says why.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = health_status(port).await;
    while status != 503 && Instant::now() < deadline {
        // Another callback makes the writer try (and fail) again.
        poster.deliver(&cb(next)).await;
        next += 1;
        status = health_status(port).await;
    }
    assert_eq!(status, 503, "/healthz while every commit fails; log:\n{}", log());
    assert!(
        http_get(port, "/healthz").await.contains("\"ready\":false"),
        "the body says the store is not ready"
    );
    assert!(log().contains("store commits are failing"), "log:\n{}", log());

    // While the disk refuses writes, callbacks are refused, and none is answered 200 unless
    // its message was committed. A transaction can still commit in this phase (in one run one
    // did, 3.6 s after a checkpoint had failed; likely one small enough for what was left of
    // the WAL's allowance, as the limit is per file), and is then rightly acknowledged: so the
    // check is "acknowledged ⇒ archived", not "nothing acknowledged".
    // And the disk is full for the log too: from here no line can be written to it.
    set_file_size_limit(child.id(), Some(log().len() as u64));
    let acked_at_failure = acked_wecom_ids(&poster);
    let failing: Vec<_> = (next..next + 10).map(cb).collect();
    next += 10;
    let acked_during = poster.burst(&failing, 4).await;
    assert!(
        acked_during < failing.len(),
        "every callback was answered 200 while the store failed; log:\n{}",
        log()
    );
    let archived = message_ids(&data, "wecom");
    for id in acked_wecom_ids(&poster) {
        assert!(
            archived.contains_key(&id),
            "callback {id} was answered 200 but is not in the archive (acknowledged at the failure: {}); log:\n{}",
            acked_at_failure.contains(&id),
            log()
        );
    }

    // Space returns: the next callback is archived and health recovers, without a restart.
    lift_file_size_limit(child.id());
    let a = poster.deliver(&cb(next)).await;
    assert!(a.acked(), "answered {} after recovery; log:\n{}", a.status, log());
    // Readiness follows the writer's "committing" signal in a task of its own, so it may turn
    // a moment after the acknowledgement (under load, after the next /healthz request).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = health_status(port).await;
    while status != 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = health_status(port).await;
    }
    assert_eq!(status, 200, "healthy again; log:\n{}", log());
    assert!(log().contains("store commits again"), "log:\n{}", log());

    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status:?}; log:\n{}", log());
    let archived = message_ids(&data, "wecom");
    for id in acked_wecom_ids(&poster) {
        assert!(
            archived.contains_key(&id),
            "callback {id} was answered 200 but is not in the archive"
        );
    }
    cv_ok(&cfg, &["verify"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_writer_stops_run_non_zero_and_nothing_after_it_is_acknowledged() {
    use sim::wecom;
    let RunDir { dir, data, port, cfg } = RunDir::new(&[wecom::config_toml("corp", wecom::DEFAULT_PATH, None)]);
    let log_path = dir.path().join("run.log");
    // The commit thread panics at its 20th transaction.
    let mut child = run_limited(
        &cfg,
        &log_path,
        "unlimited",
        &[("CHATVAULT_FAULT_WRITER_PANIC_AT_COMMIT", "20")],
    );
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(wait_for_server(port).await, "no server; log:\n{}", log());
    let poster = wecom_poster(port).with_retry_pause(Duration::from_millis(20));
    let cb = |id: u64| lisi_text(id, id, "写入线程死前后");

    // Callbacks one after another (one transaction each) until the process is gone.
    let started = Instant::now();
    let mut next = 1u64;
    let mut died_at = None;
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(st) = child.try_wait().unwrap() {
            died_at = Some((st, Instant::now()));
            break;
        }
        poster.deliver(&cb(next)).await;
        next += 1;
    }
    let Some((status, _)) = died_at else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("chatvault run kept running after its writer died; log:\n{}", log());
    };
    let text = log();
    assert!(
        !status.success(),
        "a dead writer exits non-zero: {status:?}; log:\n{text}"
    );
    assert!(text.contains("store writer died"), "the log says why; log:\n{text}");
    let acked = acked_wecom_ids(&poster);
    assert!(acked.len() >= 5, "{} callbacks archived before the fault", acked.len());
    assert!(
        (acked.len() as u64) < next - 1,
        "the callback that met the dead writer was not acknowledged"
    );
    let archived = message_ids(&data, "wecom");
    for id in &acked {
        assert!(
            archived.contains_key(id),
            "callback {id} was answered 200 but is not in the archive"
        );
    }
    cv_ok(&cfg, &["verify"]);
}
