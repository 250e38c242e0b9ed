//! `[alerts] webhook` through the binary: a connector's gap opening and closing is posted to a
//! local HTTP receiver as a WeCom group-robot text message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

/// A minimal HTTP receiver that records every request body and answers `{"errcode":0}`.
async fn receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let len: usize = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                        seen.lock().unwrap().push(body);
                        let answer = "{\"errcode\":0}";
                        let _ = s
                            .write_all(
                                format!(
                                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                                    answer.len()
                                )
                                .as_bytes(),
                            )
                            .await;
                        return;
                    }
                }
            });
        }
    });
    (port, bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_opening_and_closing_is_posted_to_the_webhook() {
    use sim::worktool;
    let (hook_port, bodies) = receiver().await;
    let RunDir { dir, port, cfg, .. } = RunDir::new(&[
        worktool::config_toml("robot1", worktool::DEFAULT_PATH, None),
        format!("[alerts]\nwebhook = \"http://127.0.0.1:{hook_port}/cgi-bin/webhook/send?key=robot-key\"\n"),
    ]);
    let run = Running::start(&cfg, dir.path());
    let mut up = false;
    for _ in 0..400 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "no server; log:\n{}", run.log_text());
    assert!(run.wait_for_log("connector state", Duration::from_secs(10)));
    let poster = worktool::WorktoolPoster::sim(&format!("http://127.0.0.1:{port}{}", worktool::DEFAULT_PATH));
    assert!(poster.deliver(&worktool::Callback::robot_state(false)).await.acked());
    let got = |n: usize| {
        let bodies = bodies.clone();
        async move {
            for _ in 0..200 {
                if bodies.lock().unwrap().len() >= n {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        }
    };
    assert!(got(1).await, "no alert for the gap; log:\n{}", run.log_text());
    assert!(poster.deliver(&worktool::Callback::robot_state(true)).await.acked());
    assert!(
        got(2).await,
        "no alert for the end of the gap; log:\n{}",
        run.log_text()
    );
    run.signal("TERM");
    let (status, log) = run.wait(Duration::from_secs(30));
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(!log.contains("robot-key"), "the webhook URL's key was logged");
    let bodies = bodies.lock().unwrap().clone();
    let alerts: Vec<serde_json::Value> = bodies.iter().map(|b| serde_json::from_str(b).unwrap()).collect();
    assert_eq!(alerts[0]["msgtype"], "text");
    let first = alerts[0]["text"]["content"].as_str().unwrap();
    let second = alerts[1]["text"]["content"].as_str().unwrap();
    assert!(
        first.contains("robot1") && first.contains("stopped archiving") && first.contains("robot_offline"),
        "{first}"
    );
    assert!(
        second.contains("robot1") && second.contains("archiving again"),
        "{second}"
    );
}
