//! The callback server's request path, query + body → answer, through the real routes of a
//! WeCom and a WorkTool connector (the axum router the server mounts), against an in-process
//! store that commits everything. The first byte picks the route and how the rest is used:
//! 0 WeCom POST with the fuzzed query and body; 1 WeCom POST whose body is the fuzzed inner
//! message, encrypted and signed now (so the fuzzer reaches decoding through the real request
//! path); 2 WeCom GET (URL verification) with the fuzzed query; 3 WorkTool POST with the
//! fuzzed query and body (JSON); 4 the same with the right key; 5 the same as a form.
//! Query and body are split at the first NUL byte.
//!
//! Asserted: every request is answered, never with a 5xx other than 503, and every event a
//! request yields reads back from its store envelope. (The 64 KiB head of a refused body is
//! not at stake here: libFuzzer's inputs stay far below it; `server_limits` tests it.)

#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request};
use chatvault_fuzz::reads_back;
use ingest::wecom::crypto::WecomCrypto;
use ingest::{Connector, ConnectorContext};
use libfuzzer_sys::fuzz_target;
use proto::{Ingested, Platform};

const TOKEN: &str = "QDG6eK";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const CORP_ID: &str = "wx5823bf96d3bd56c7";
const WT_KEY: &str = "fuzz-key";

struct Rig {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    crypto: WecomCrypto,
}

fn rig() -> &'static Rig {
    static RIG: OnceLock<Rig> = OnceLock::new();
    RIG.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let app = rt.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<proto::EventBatch>(64);
            // The store: checks what it is given and commits it.
            tokio::spawn(async move {
                while let Some(b) = rx.recv().await {
                    for item in &b.items {
                        match item {
                            Ingested::Payload { events, .. } => events.iter().for_each(reads_back),
                            Ingested::Rejected { raw, .. } => {
                                assert!(raw.bytes.len() <= 10 << 20, "reject row of {} bytes", raw.bytes.len())
                            }
                        }
                    }
                    let _ = b.committed.send(Ok(proto::CommitInfo::default()));
                }
            });
            let dir = std::env::temp_dir().join(format!("chatvault-fuzz-{}", std::process::id()));
            let mut routers = Vec::new();
            let wecom = ingest::wecom::WecomConnector::new(config::WecomConfig {
                name: "corp".into(),
                corp_id: CORP_ID.into(),
                token: config::Secret::new(TOKEN),
                encoding_aes_key: config::Secret::new(KEY),
                path: "/cb/wecom".into(),
                secret: None,
                api_base: "http://127.0.0.1:9".into(),
                timestamp_window_secs: 3600,
            });
            let cx = ConnectorContext::new(Platform::Wecom, "corp", tx.clone(), &dir);
            routers.push(wecom.router(&cx).expect("wecom routes"));
            let worktool = ingest::worktool::WorktoolConnector::new(config::WorktoolConfig {
                name: "robot".into(),
                robot_id: None,
                path: "/cb/worktool".into(),
                key: config::Secret::new(WT_KEY),
                api_base: "http://127.0.0.1:9".into(),
                api_key: None,
                spool_max_bytes: 64 << 20,
            });
            let cx = ConnectorContext::new(Platform::Worktool, "robot", tx, &dir);
            routers.push(worktool.router(&cx).expect("worktool routes"));
            routers
                .into_iter()
                .fold(axum::Router::new(), |a, r| a.merge(r))
                .layer(axum::extract::DefaultBodyLimit::disable())
        });
        Rig {
            rt,
            app,
            crypto: WecomCrypto::new(TOKEN, KEY, CORP_ID).expect("sample key"),
        }
    })
}

fn now_s() -> i64 {
    proto::time::now_ms() / 1000
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let r = rig();
    let (query, body) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let query = String::from_utf8_lossy(query).replace(['#', ' ', '\r', '\n'], "");
    let (method, uri, body, content_type): (Method, String, Vec<u8>, &str) = match mode % 6 {
        0 => (Method::POST, format!("/cb/wecom?{query}"), body.to_vec(), "text/xml"),
        1 => {
            let encrypt = r.crypto.encrypt_with_random(rest, b"0123456789abcdef");
            let ts = now_s().to_string();
            let sig = r.crypto.signature(&ts, "1", &encrypt);
            let xml = format!(
                "<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
            );
            (
                Method::POST,
                format!("/cb/wecom?msg_signature={sig}&timestamp={ts}&nonce=1"),
                xml.into_bytes(),
                "text/xml",
            )
        }
        2 => (Method::GET, format!("/cb/wecom?{query}"), Vec::new(), "text/plain"),
        3 => (
            Method::POST,
            format!("/cb/worktool?{query}"),
            body.to_vec(),
            "application/json",
        ),
        4 => (
            Method::POST,
            format!("/cb/worktool?key={WT_KEY}&{query}"),
            body.to_vec(),
            "application/json",
        ),
        _ => (
            Method::POST,
            format!("/cb/worktool?key={WT_KEY}"),
            body.to_vec(),
            "application/x-www-form-urlencoded",
        ),
    };
    let Ok(req) = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(Body::from(body))
    else {
        return;
    };
    let status = r.rt.block_on(async {
        let mut app = r.app.clone();
        let resp = tower_service::Service::call(&mut app, req).await.expect("infallible");
        resp.status()
    });
    assert!(!status.is_server_error() || status.as_u16() == 503, "answered {status}");
});
