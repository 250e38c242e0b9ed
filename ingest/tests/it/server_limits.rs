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

/// The echo route served with the default limits as `limits` changes them.
struct Server {
    addr: SocketAddr,
    token: CancellationToken,
    handle: ingest::server::ServerHandle,
}

impl Server {
    async fn start(limits: impl FnOnce(&mut Limits)) -> Server {
        let token = CancellationToken::new();
        let mut opts = ServerOptions::new("127.0.0.1:0".parse().unwrap(), 1 << 20);
        limits(&mut opts.limits);
        let handle = serve(opts, vec![echo_len()], health(), token.clone()).await.unwrap();
        Server {
            addr: handle.local_addr(),
            token,
            handle,
        }
    }

    async fn stop(self) {
        self.token.cancel();
        self.handle.join().await.unwrap();
    }
}

/// A connection that has sent `bytes`.
async fn sent(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    s
}

/// A connection that has sent its headers and 3 of the 1000 body bytes they announce.
async fn half_sent_request(addr: SocketAddr) -> TcpStream {
    sent(
        addr,
        b"POST /cb/len HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc",
    )
    .await
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
    let server = Server::start(|l| l.header_timeout = Duration::from_millis(500)).await;
    let mut s = sent(server.addr, b"POST /cb/len HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(closed, "connection still open after 5 s");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_too_slowly_is_cut_at_the_body_deadline() {
    let server = Server::start(|l| l.body_timeout = Duration::from_millis(600)).await;
    let mut s = half_sent_request(server.addr).await;
    let started = Instant::now();
    let (answer, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_holds_new_clients_until_one_closes() {
    let server = Server::start(|l| l.max_connections = 1).await;
    let first = sent(
        server.addr,
        b"POST /cb/len HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut second = sent(
        server.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (early, _) = read_until_closed(&mut second, Duration::from_millis(500)).await;
    assert!(early.is_empty(), "answered past the cap: {early}");
    drop(first);
    let (answer, _) = read_until_closed(&mut second, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_not_held_by_a_half_sent_request() {
    let server = Server::start(|l| {
        l.shutdown_grace = Duration::from_millis(500);
        l.body_timeout = Duration::from_secs(600);
    })
    .await;
    let mut s = half_sent_request(server.addr).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.token.cancel();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), server.handle.join())
        .await
        .expect("the server waited for the half-sent request")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // The server is gone: the connection is closed.
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(2)).await;
    assert!(closed);
}
