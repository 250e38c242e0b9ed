//! `chatvault run` under hostile traffic: floods of large unsigned posts cost little disk and
//! memory, slow clients do not block real callbacks, and SIGTERM is not held by a client that
//! never finishes its request.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Bytes under `dir`, recursively.
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_size(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

async fn wait_for_server(port: u16) -> bool {
    for _ in 0..400 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The address floods come from: another peer than the platform's (loopback takes all of
/// 127/8), as on the internet, so the server's per-peer budget of refusals does not touch the
/// platform's callbacks.
/// `chatvault run` with one WeCom receiver, `corp`, once its server answers: its directory
/// (kept while the test runs), data directory, port, and the process.
async fn run_wecom() -> (tempfile::TempDir, std::path::PathBuf, u16, Running) {
    let RunDir { dir, data, port, cfg } =
        RunDir::new(&[sim::wecom::config_toml("corp", sim::wecom::DEFAULT_PATH, None)]);
    let run = Running::start(&cfg, dir.path());
    assert!(wait_for_server(port).await, "no server; log:\n{}", run.log_text());
    (dir, data, port, run)
}

const FLOODER: &str = "127.0.0.2";

/// POSTs `body` to `path_and_query` without a signature from [`FLOODER`] and returns the
/// answer's status, if one came (the server may close the connection before the body is sent
/// whole).
async fn post_raw(port: u16, path_and_query: &str, body: &[u8]) -> Option<u16> {
    let sock = tokio::net::TcpSocket::new_v4().ok()?;
    sock.bind(format!("{FLOODER}:0").parse().unwrap()).ok()?;
    let mut s = sock.connect(([127, 0, 0, 1], port).into()).await.ok()?;
    let head = format!(
        "POST {path_and_query} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.ok()?;
    let _ = s.write_all(body).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).split_whitespace().nth(1)?.parse().ok()
}

/// An incompressible 9 MiB body (the archive compresses what it stores).
fn noise(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    (0..9 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_floods_cost_little_and_a_valid_callback_gets_through() {
    use sim::wecom;
    let (_dir, data, port, run) = run_wecom().await;
    let poster = wecom_poster(port);
    // One callback first, so the archive exists and its size is the baseline.
    let warm = lisi_text(0, 1, "开始");
    assert!(poster.deliver(&warm).await.acked(), "log:\n{}", run.log_text());
    let before = dir_size(&data);

    let bodies: Vec<std::sync::Arc<Vec<u8>>> = (0..20).map(|i| std::sync::Arc::new(noise(i))).collect();
    let path = format!("{}?timestamp=1", wecom::DEFAULT_PATH);
    let mut flood = Vec::new();
    for b in &bodies {
        let (b, path) = (b.clone(), path.clone());
        flood.push(tokio::spawn(async move {
            post_raw(port, &path, &b).await;
        }));
    }
    // A real callback in the middle of the flood is archived and answered in time.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cb = wecom::text(wecom::CORP_ID, "zhangsan", wecom::DEMO_DAY_START + 5, 2, "洪水中的消息");
    let a = poster.deliver(&cb).await;
    assert!(a.acked(), "answered {} {}; log:\n{}", a.status, a.body, run.log_text());
    assert!(a.answered_at - a.sent_at < wecom::DEADLINE);
    for f in flood {
        f.await.unwrap();
    }
    // 200 more, 50 at a time: memory stays bounded.
    let mut rest = Vec::new();
    for i in 0..200usize {
        let (b, path) = (bodies[i % bodies.len()].clone(), path.clone());
        rest.push(tokio::spawn(async move {
            post_raw(port, &path, &b).await;
        }));
        if rest.len() == 50 {
            for f in rest.drain(..) {
                f.await.unwrap();
            }
        }
    }
    for f in rest {
        f.await.unwrap();
    }
    let peak = peak_rss_kib(run.child.id()).expect("/proc/<pid>/status");
    tokio::time::sleep(Duration::from_secs(1)).await;
    run.signal("TERM");
    let (status, log) = run.wait(Duration::from_secs(30));
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    let grown = dir_size(&data).saturating_sub(before);
    eprintln!("data dir grew by {grown} bytes; peak RSS {peak} KiB");
    assert!(
        grown < 20 * 1024 * 1024,
        "220 refused 9 MiB posts grew the data dir by {grown} bytes"
    );
    assert!(peak < 512 * 1024, "peak RSS {peak} KiB");
    let rejects = count(&data, "SELECT count(*) FROM rejects");
    assert!(rejects >= 20, "{rejects} reject rows");
    assert_eq!(
        count(
            &data,
            "SELECT count(*) FROM messages WHERE platform = 'wecom' AND msg_id = '2' AND has_message = 1"
        ),
        1
    );
}

/// Opens a connection that sends a POST's headers and then one body byte per second.
async fn trickle(port: u16, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_block_a_worktool_callback() {
    use sim::worktool;
    let RunDir { dir, data, port, cfg } = RunDir::new(&[worktool::config_toml("robot1", worktool::DEFAULT_PATH, None)]);
    let run = Running::start(&cfg, dir.path());
    assert!(wait_for_server(port).await, "no server; log:\n{}", run.log_text());
    let mut slow = Vec::new();
    for _ in 0..64 {
        slow.push(trickle(port, worktool::DEFAULT_PATH).await);
    }
    let keep_sending = tokio::spawn(async move {
        loop {
            for s in &mut slow {
                let _ = s.write_all(b" ").await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let poster = worktool::WorktoolPoster::sim(&format!("http://127.0.0.1:{port}{}", worktool::DEFAULT_PATH));
    let cb = worktool::Callback::group_text("测试群", worktool::room::INTERNAL_GROUP, "张三", "慢客户端之间的消息");
    let started = Instant::now();
    let a = poster.deliver(&cb).await;
    let took = started.elapsed();
    keep_sending.abort();
    assert!(a.acked(), "answered {} {}; log:\n{}", a.status, a.body, run.log_text());
    assert!(took < Duration::from_secs(3), "took {took:?}");
    run.signal("TERM");
    let (status, log) = run.wait(Duration::from_secs(30));
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert_eq!(
        count(&data, "SELECT count(*) FROM messages WHERE platform = 'worktool'"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_promptly_with_a_half_sent_request_open() {
    use sim::wecom;
    let (_dir, data, port, run) = run_wecom().await;
    let poster = wecom_poster(port);
    let mut acked = Vec::new();
    for i in 0..5u64 {
        let cb = lisi_text(i, 100 + i, "关机前");
        if poster.deliver(&cb).await.acked() {
            acked.push(100 + i);
        }
    }
    assert_eq!(acked.len(), 5, "log:\n{}", run.log_text());
    // A client that sends half a request and then nothing.
    let mut held = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let now = proto::time::now_ms() / 1000;
    let head = format!(
        "POST {}?msg_signature=ab&timestamp={now}&nonce=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n<xml><Encrypt>",
        wecom::DEFAULT_PATH
    );
    held.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    run.signal("TERM");
    let (status, log) = run.wait(Duration::from_secs(15));
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(started.elapsed() < Duration::from_secs(15));
    drop(held);
    for id in acked {
        assert_eq!(
            count(
                &data,
                &format!("SELECT count(*) FROM messages WHERE platform = 'wecom' AND msg_id = '{id}'")
            ),
            1,
            "acknowledged message {id} not committed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refused_requests_is_throttled_per_peer_while_another_peer_is_served() {
    use sim::wecom;
    let (_dir, data, port, run) = run_wecom().await;
    let started = Instant::now();
    // 400 small requests with a forged signature, 8 at a time, from one peer.
    let path = format!(
        "{}?msg_signature=0000&timestamp={}&nonce=1",
        wecom::DEFAULT_PATH,
        proto::time::now_ms() / 1000
    );
    let body = b"<xml><ToUserName>x</ToUserName><Encrypt>AAAA</Encrypt></xml>".to_vec();
    let flood = tokio::spawn(async move {
        let mut answers = Vec::new();
        for _ in 0..50 {
            let round: Vec<_> = (0..8)
                .map(|_| {
                    let (path, body) = (path.clone(), body.clone());
                    tokio::spawn(async move { post_raw(port, &path, &body).await })
                })
                .collect();
            for r in round {
                answers.push(r.await.unwrap());
            }
        }
        answers
    });
    // Meanwhile the platform, from another address, delivers twenty callbacks.
    let poster = wecom_poster(port);
    for i in 0..20u64 {
        let cb = lisi_text(i, 500 + i, "洪水旁的消息");
        let a = poster.deliver(&cb).await;
        assert!(
            a.acked(),
            "callback {i} answered {} {}; log:\n{}",
            a.status,
            a.body,
            run.log_text()
        );
        assert!(a.answered_at - a.sent_at < wecom::DEADLINE);
    }
    let answers = flood.await.unwrap();
    let elapsed = started.elapsed().as_secs();
    let refused = answers
        .iter()
        .filter(|a| **a == Some(403) || **a == Some(401) || **a == Some(400))
        .count();
    let throttled = answers.iter().filter(|a| **a == Some(429)).count();
    run.signal("TERM");
    let (status, log) = run.wait(Duration::from_secs(30));
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    eprintln!("flood of 400 over {elapsed} s: {refused} refused by the handler, {throttled} throttled (429)");
    // The budget: 20 at once, then one a second; a request is charged when answered, so up to
    // the 8 in flight pass while the last token is being spent.
    assert!(
        refused <= 20 + elapsed as usize + 1 + 8,
        "{refused} of 400 forged requests reached the handler in {elapsed} s"
    );
    assert!(
        throttled >= 400 - refused - 8,
        "{throttled} answered 429; answers: {answers:?}"
    );
    let rejects = count(&data, "SELECT count(*) FROM rejects") as usize;
    assert!(
        rejects >= 20 && rejects <= refused,
        "{rejects} reject rows for {refused} refused requests"
    );
    assert!(
        log.matches("too many refused requests from one peer").count() <= 1 + elapsed as usize / 60,
        "the throttle logs once a minute per peer; log:\n{log}"
    );
    assert_eq!(
        count(
            &data,
            "SELECT count(*) FROM messages WHERE platform = 'wecom' AND has_message = 1"
        ),
        20
    );
}
