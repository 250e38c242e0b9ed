//! Helpers for the end-to-end tests: the compiled binary, config files, process control.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The compiled `chatvault` binary.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chatvault"));
    c.env("RUST_LOG", "info");
    c
}

/// Runs `chatvault -c CONFIG ARGS…` to completion.
pub fn cv(config: &Path, args: &[&str]) -> Output {
    bin().arg("-c").arg(config).args(args).output().expect("run chatvault")
}

/// Runs `chatvault -c CONFIG ARGS…`, which must succeed (a failure shows both its outputs);
/// its stdout.
pub fn cv_ok(config: &Path, args: &[&str]) -> String {
    let o = cv(config, args);
    assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

/// A poster of WeCom callbacks to the server of `chatvault run` on `port`, at the default path.
pub fn wecom_poster(port: u16) -> sim::wecom::WecomPoster {
    sim::wecom::WecomPoster::sim(&format!("http://127.0.0.1:{port}{}", sim::wecom::DEFAULT_PATH))
}

/// A WeCom text callback from `lisi`: message `msg_id`, sent `after_ms` into the demo day.
pub fn lisi_text(after_ms: u64, msg_id: u64, content: &str) -> sim::wecom::Callback {
    use sim::wecom;
    wecom::text(
        wecom::CORP_ID,
        "lisi",
        wecom::DEMO_DAY_START + after_ms as i64,
        msg_id,
        content,
    )
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Writes a config file with `data_dir` and the given sections; returns its path.
pub fn write_config(dir: &Path, data_dir: &Path, listen_port: u16, sections: &[String]) -> PathBuf {
    let mut s = format!(
        "timezone = \"Asia/Shanghai\"\n\n[storage]\ndata_dir = \"{}\"\ngroup_commit_ms = 2\n\n[server]\nlisten = \"127.0.0.1:{listen_port}\"\n\n",
        data_dir.display()
    );
    for sec in sections {
        s.push_str(sec);
        s.push('\n');
    }
    let path = dir.join("chatvault.toml");
    std::fs::write(&path, s).unwrap();
    path
}

/// A temporary directory holding the data directory and a config (see [`write_config`]) whose
/// callback server listens on a free loopback port: what `chatvault run` is started with.
pub struct RunDir {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub port: u16,
    pub cfg: PathBuf,
}

impl RunDir {
    pub fn new(sections: &[String]) -> RunDir {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let port = free_port();
        let cfg = write_config(dir.path(), &data, port, sections);
        RunDir { dir, data, port, cfg }
    }
}

/// The message ids of the WeCom callbacks the archive answered 200, sorted, each once (WeCom
/// retries, so one id may have been posted several times).
pub fn acked_wecom_ids(poster: &sim::wecom::WecomPoster) -> Vec<String> {
    let mut ids: Vec<String> = poster
        .log()
        .into_iter()
        .filter(|a| a.acked())
        .filter_map(|a| a.msg_id)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process that is killed when dropped: a test that fails half-way leaves no
/// `chatvault` behind it, holding a port and a deleted archive.
pub struct KillOnDrop(pub Child);

impl std::ops::Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `chatvault run` in the background, logs captured to a file.
pub struct Running {
    pub child: KillOnDrop,
    pub log: PathBuf,
}

impl Running {
    pub fn start(config: &Path, log_dir: &Path) -> Running {
        let log = log_dir.join("run.log");
        let f = std::fs::File::create(&log).unwrap();
        let child = bin()
            .arg("-c")
            .arg(config)
            .arg("run")
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .expect("spawn chatvault run");
        Running {
            child: KillOnDrop(child),
            log,
        }
    }

    /// Sends a signal by name (TERM, KILL).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for exit; panics after `timeout`.
    pub fn wait(mut self, timeout: Duration) -> (std::process::ExitStatus, String) {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                return (st, log);
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!("chatvault run did not exit within {timeout:?}; log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the log contains `needle` (e.g. the pipeline is up and handles signals).
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.log_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        false
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Counts rows in the archive with a plain SQLite query (read-only).
pub fn count(data_dir: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        data_dir.join("chatvault.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// `(msg_id → rows)` of one platform's messages, in one query.
pub fn message_ids(data_dir: &Path, platform: &str) -> std::collections::HashMap<String, i64> {
    let conn = rusqlite::Connection::open_with_flags(
        data_dir.join("chatvault.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut st = conn
        .prepare("SELECT msg_id, count(*) FROM messages WHERE platform = ?1 AND has_message = 1 GROUP BY msg_id")
        .unwrap();
    st.query_map([platform], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// Appends `items` to `store` as one batch from the connector `account` of `platform`.
pub fn append_batch(store: &mut store::Store, platform: proto::Platform, account: &str, items: Vec<proto::Ingested>) {
    let (batch, _rx) = proto::EventBatch::new(platform, account, items, None);
    store.append(&[&batch]).unwrap();
}

/// A temporary data directory and a config in Asia/Shanghai pointing at it: what the read
/// commands (`search`, `audit`, `show`, `export`…) run against.
pub struct ArchiveDir {
    _tmp: tempfile::TempDir,
    /// The data directory (the archive is created by [`ArchiveDir::open_store`]).
    pub data: PathBuf,
    /// The config file.
    pub config: PathBuf,
}

impl ArchiveDir {
    pub fn new() -> ArchiveDir {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let config = tmp.path().join("chatvault.toml");
        std::fs::write(
            &config,
            format!(
                "timezone = \"Asia/Shanghai\"\n\n[storage]\ndata_dir = \"{}\"\n",
                data.display().to_string().replace('\\', "\\\\")
            ),
        )
        .unwrap();
        ArchiveDir {
            _tmp: tmp,
            data,
            config,
        }
    }

    /// Opens (creating) the archive without an fsync per commit: these tests never pull the plug.
    pub fn open_store(&self) -> store::Store {
        store::Store::open(
            &self.data,
            store::StoreOptions {
                synchronous_full: false,
                cache_mib: 8,
            },
        )
        .unwrap()
    }

    /// Runs `chatvault -c CONFIG ARGS…` (see [`cv_isolated`]).
    pub fn cv(&self, args: &[&str]) -> Output {
        cv_isolated(Some(&self.config), args)
    }

    /// [`ArchiveDir::cv`], which must exit with `code` (a mismatch shows both its outputs).
    pub fn cv_exit(&self, args: &[&str], code: i32) -> Output {
        let o = self.cv(args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}{}", stdout(&o), stderr(&o));
        o
    }

    /// [`ArchiveDir::cv`], which must succeed (a failure shows both its outputs).
    pub fn cv_ok(&self, args: &[&str]) -> Output {
        let o = self.cv(args);
        assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
        o
    }
}

/// Runs `chatvault [-c CONFIG] ARGS…` from an empty directory, so no stray `./chatvault.toml`
/// is picked up, logging warnings only and never forcing colour.
pub fn cv_isolated(config: Option<&Path>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chatvault"));
    if let Some(config) = config {
        c.arg("-c").arg(config);
    }
    let cwd = tempfile::tempdir().unwrap();
    c.args(args)
        .current_dir(cwd.path())
        .env("RUST_LOG", "warn")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .unwrap()
}

/// stderr as text.
/// Lifts the file size limit of running process `pid` (the disk "has space again" for a
/// process started under `RLIMIT_FSIZE`).
pub fn lift_file_size_limit(pid: u32) {
    set_file_size_limit(pid, None);
}

/// Sets the file-size limit of the running process `pid` (bytes; `None`: none). A write at or
/// past the limit fails, whatever the file's size.
pub fn set_file_size_limit(pid: u32, bytes: Option<u64>) {
    let soft = bytes.map_or_else(|| "unlimited".to_string(), |b| b.to_string());
    let st = Command::new("prlimit")
        .arg("--pid")
        .arg(pid.to_string())
        .arg(format!("--fsize={soft}:unlimited"))
        .status()
        .unwrap();
    assert!(st.success());
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that the standard output of `o` contains `want` (showing it when not).
pub fn assert_stdout_has(o: &Output, want: &str) {
    let out = stdout(o);
    assert!(out.contains(want), "{want:?} missing from stdout:\n{out}");
}

/// Asserts that the standard error of `o` contains `want` (showing it when not).
pub fn assert_stderr_has(o: &Output, want: &str) {
    let err = stderr(o);
    assert!(err.contains(want), "{want:?} missing from stderr:\n{err}");
}

/// Asserts each `(field, value)` of a JSON line, naming the field that differs.
pub fn assert_fields(v: &serde_json::Value, want: &[(&str, &str)]) {
    for (field, value) in want {
        assert_eq!(v[field], *value, "field `{field}` of {v}");
    }
}

/// stdout as one JSON value per line.
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A plain HTTP/1.1 GET on loopback (the root package has no HTTP client of its own).
pub async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// A connector's timers for tests run in process: reconnects after 50–200 ms, no jitter.
pub fn quick_tuning(platform: proto::Platform) -> ingest::runtime::Tuning {
    ingest::runtime::Tuning::for_platform(platform)
        .backoff(ingest::backoff::Backoff::new(Duration::from_millis(50), Duration::from_millis(200)).with_jitter(0.0))
}

/// The real store writer on a new archive in `dir`, and the channel connectors send it
/// batches through.
pub fn real_writer(dir: &Path) -> (tokio::sync::mpsc::Sender<proto::EventBatch>, store::WriterHandle) {
    let store = store::Store::open(dir, store::StoreOptions::default()).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    (tx, store::spawn_writer(store, rx, store::WriterOptions::default()))
}
