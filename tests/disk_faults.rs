//! Disk full: `chatvault run` with a file-size limit so SQLite writes fail mid-stream. The
//! failure is a clear error in the log, nothing is acknowledged that was not committed, and
//! once space "returns" (the limit is lifted on the running process) archiving resumes and
//! everything the platform sent ends up in the archive exactly once.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_fails_commits_acks_nothing_and_recovers() {
    use sim::goofish;
    let n = 4000;
    let mut opts = goofish::SimOptions::new(goofish::Script::Bulk(n));
    opts.live_interval = Duration::from_millis(1);
    // Every push must end acknowledged: the server redelivers what a killed or failed client
    // never acked (recovery without it is covered by the connector's own tests).
    opts.server_replays = true;
    let gf = goofish::GoofishSim::start(opts).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), &data, free_port(), &[gf.config_section("shop")]);
    // Create the archive first so the limit hits growth, not creation.
    let ok = cv(&cfg, &["verify"]);
    assert!(!ok.status.success(), "no archive yet");
    let log_path = dir.path().join("run.log");
    // 600 KiB per file; SIGXFSZ ignored so the write fails with EFBIG instead of killing us.
    let mut child = KillOnDrop(
        Command::new("bash")
            .arg("-c")
            .arg("trap '' XFSZ; ulimit -S -f 600; exec \"$0\" -c \"$1\" run 2> \"$2\"")
            .arg(env!("CARGO_BIN_EXE_chatvault"))
            .arg(&cfg)
            .arg(&log_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log().contains("store commit failed") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = log();
    assert!(
        text.contains("store commit failed"),
        "the size limit was never hit; log:\n{text}"
    );
    assert!(
        text.contains("File too large") || text.contains("disk is full") || text.contains("disk I/O error"),
        "the error says what happened; log:\n{text}"
    );
    // While full: whatever the platform saw acknowledged is committed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let acked_while_full: Vec<String> = gf.acked_ids();
    let archived = message_ids(&data, "goofish");
    for id in &acked_while_full {
        assert!(
            archived.contains_key(id),
            "{id} was acknowledged while the disk was full but is not committed"
        );
    }
    assert!(
        acked_while_full.len() < n,
        "the fault stopped acknowledgements ({} of {n})",
        acked_while_full.len()
    );
    // Space returns.
    lift_file_size_limit(child.id());
    let deadline = Instant::now() + Duration::from_secs(120);
    while message_ids(&data, "goofish").len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit after recovery; log:\n{}", log());
    let archived = message_ids(&data, "goofish");
    assert_eq!(
        archived.len(),
        n,
        "every message archived after recovery; log tail:\n{}",
        log().lines().rev().take(20).collect::<Vec<_>>().join("\n")
    );
    assert!(archived.values().all(|c| *c == 1), "no duplicates");
    cv_ok(&cfg, &["verify"]);
}
