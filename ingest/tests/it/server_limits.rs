//! The callback server's limits against slow and stuck clients: the header-read timeout, the
//! body deadline, the connection cap, and a shutdown that a half-sent request cannot hold.

use chatvault_ingest as ingest;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::post;
use ingest::server::body::{BodyError, read_limited};
use ingest::server::{Health, Limits, ServerOptions, serve};
use ingest::state::StateRegistry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

fn health() -> Health {
    Health::new(
        StateRegistry::new(),
        Arc::new(AtomicBool::new(true)),
        Arc::new(String::new),
    )
}

fn echo_len() -> Router {
    Router::new().route(
        "/cb/len",
        post(|body: Body| async move {
            match read_limited(body, 1 << 20).await {
                Ok(b) => (StatusCode::OK, b.len().to_string()),
                Err(BodyError::TimedOut { head }) => (StatusCode::REQUEST_TIMEOUT, head.len().to_string()),
                Err(e) => (StatusCode::BAD_REQUEST, format!("{e:?}")),
            }
        }),
    )
}

async fn start(limits: Limits) -> (SocketAddr, CancellationToken, ingest::server::ServerHandle) {
    let token = CancellationToken::new();
    let mut opts = ServerOptions::new("127.0.0.1:0".parse().unwrap(), 1 << 20);
    opts.limits = limits;
    let server = serve(opts, vec![echo_len()], health(), token.clone()).await.unwrap();
    (server.local_addr(), token, server)
}

/// A connection that has sent its headers and 3 of the 1000 body bytes they announce.
async fn half_sent_request(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /cb/len HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
        .await
        .unwrap();
    s
}

/// Reads until the server closes the connection or `limit` passes; returns what arrived and
/// whether the connection was closed.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let (addr, token, server) = start(Limits {
        header_timeout: Duration::from_millis(500),
        ..Limits::default()
    })
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /cb/len HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(closed, "connection still open after 5 s");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    token.cancel();
    server.join().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_too_slowly_is_cut_at_the_body_deadline() {
    let (addr, token, server) = start(Limits {
        body_timeout: Duration::from_millis(600),
        ..Limits::default()
    })
    .await;
    let mut s = half_sent_request(addr).await;
    let started = Instant::now();
    let (answer, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    token.cancel();
    server.join().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_holds_new_clients_until_one_closes() {
    let (addr, token, server) = start(Limits {
        max_connections: 1,
        ..Limits::default()
    })
    .await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    first
        .write_all(b"POST /cb/len HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    second
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (early, _) = read_until_closed(&mut second, Duration::from_millis(500)).await;
    assert!(early.is_empty(), "answered past the cap: {early}");
    drop(first);
    let (answer, _) = read_until_closed(&mut second, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    token.cancel();
    server.join().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_not_held_by_a_half_sent_request() {
    let (addr, token, server) = start(Limits {
        shutdown_grace: Duration::from_millis(500),
        body_timeout: Duration::from_secs(600),
        ..Limits::default()
    })
    .await;
    let mut s = half_sent_request(addr).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    token.cancel();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), server.join())
        .await
        .expect("the server waited for the half-sent request")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // The server is gone: the connection is closed.
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(2)).await;
    assert!(closed);
}
