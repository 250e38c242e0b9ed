//! The worker against the stand-in SDK: loading, the 17 symbols, pulling, decrypting, media,
//! and surviving a crash or a hang inside the SDK.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chatvault_finance::standin::{self, Fault, World};
use chatvault_finance::{ClientOptions, FinanceClient, FinanceError, SdkCode, WorkerCommand};
use serde_json::{Value, json};

const KEY: &str = "0123456789abcdefghijABCDEFGHIJ01";

fn worker() -> WorkerCommand {
    WorkerCommand {
        program: PathBuf::from(env!("CARGO_BIN_EXE_chatvault-finance-worker")),
        args: vec![],
    }
}

fn message(i: u64) -> Value {
    json!({"msgid": format!("m{i}"), "action": "send", "from": "zhangsan", "tolist": ["lisi"],
           "roomid": "", "msgtime": 1_700_000_000_000u64 + i, "msgtype": "text",
           "text": {"content": format!("第{i}条")}})
}

/// A stand-in with `n` items, plus whatever `extra` adds.
fn world(dir: &Path, n: u64, extra: impl FnOnce(&mut World)) -> PathBuf {
    let so = standin::install(dir).unwrap();
    let mut w = World::new();
    for i in 1..=n {
        let plain = message(i).to_string();
        w.item(
            i,
            &json!({"seq": i, "msgid": format!("m{i}"), "publickey_ver": 1,
                    "encrypt_random_key": "not-rsa-in-this-test",
                    "encrypt_chat_msg": standin::encrypt(KEY, plain.as_bytes())}),
        );
    }
    extra(&mut w);
    w.write(&so).unwrap();
    so
}

/// A [`world`] of `n` items whose SDK meets `fault` once, and the file that says it did.
fn faulty_world(dir: &Path, n: u64, fault: Fault) -> (PathBuf, PathBuf) {
    let marker = dir.join("fault.done");
    let so = world(dir, n, |w| {
        w.fault(fault, &marker);
    });
    (so, marker)
}

fn client(so: &Path, timeout: Duration) -> FinanceClient {
    let mut o = ClientOptions::new(so);
    o.credentials = Some(("ww0123".into(), "secret".into()));
    o.call_timeout = timeout;
    o.backoff_initial = Duration::from_millis(50);
    FinanceClient::new(worker(), o)
}

/// A [`client`] with its worker started, and that worker's pid.
async fn started(so: &Path, timeout: Duration) -> (FinanceClient, u32) {
    let mut c = client(so, timeout);
    c.start().await.unwrap();
    let pid = c.worker_pid().unwrap();
    (c, pid)
}

/// `r` is a lost worker, for a reason that mentions `why`.
fn assert_lost<T: std::fmt::Debug>(r: Result<T, FinanceError>, why: &str) {
    match r {
        Err(FinanceError::WorkerLost(reason)) => assert!(reason.contains(why), "{reason}"),
        other => panic!("expected a lost worker, got {other:?}"),
    }
}

fn items(json: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["errcode"], 0);
    v["chatdata"].as_array().unwrap().clone()
}

#[tokio::test]
async fn loads_resolves_every_symbol_pulls_after_seq_and_decrypts() {
    let dir = tempfile::tempdir().unwrap();
    let so = world(dir.path(), 5, |_| {});
    let mut c = client(&so, Duration::from_secs(5));
    let symbols = c.start().await.unwrap();
    assert_eq!(symbols.len(), 17);
    assert_eq!(symbols, chatvault_finance::SYMBOLS.map(String::from).to_vec());

    // The stand-in prints to stdout in Init, as the real SDK does; the protocol is unharmed.
    let all = items(&c.chat_data(0, 1000).await.unwrap());
    assert_eq!(
        all.iter().map(|i| i["seq"].as_u64().unwrap()).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    let after = items(&c.chat_data(3, 1000).await.unwrap());
    assert_eq!(after.len(), 2);
    assert_eq!(after[0]["seq"], 4);
    let page = items(&c.chat_data(0, 2).await.unwrap());
    assert_eq!(page.len(), 2);

    let plain = c
        .decrypt(KEY, all[2]["encrypt_chat_msg"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&plain).unwrap(), message(3));

    // A key that is not a key string, and a well-formed wrong key: the codes a wrong RSA key
    // shows as.
    let bogus = c
        .decrypt("\u{1}garbage", all[0]["encrypt_chat_msg"].as_str().unwrap())
        .await;
    assert_eq!(bogus.unwrap_err().code(), Some(SdkCode::BAD_ENCRYPT_KEY));
    let wrong = c
        .decrypt("ZZZZZZZZZZZZZZZZZZZZ", all[0]["encrypt_chat_msg"].as_str().unwrap())
        .await;
    assert_eq!(wrong.unwrap_err().code(), Some(SdkCode::DECRYPT));
    // A page's items in one round trip: each answer in its item's place, a wrong key failing
    // only its own item.
    let msg = |i: usize| all[i]["encrypt_chat_msg"].as_str().unwrap().to_string();
    let many = c
        .decrypt_many(vec![
            (KEY.into(), msg(0)),
            ("ZZZZZZZZZZZZZZZZZZZZ".into(), msg(1)),
            (KEY.into(), msg(4)),
        ])
        .await
        .unwrap();
    assert_eq!(many.len(), 3);
    assert_eq!(
        serde_json::from_str::<Value>(many[0].as_ref().unwrap()).unwrap(),
        message(1)
    );
    assert_eq!(many[1].as_ref().unwrap_err().code(), Some(SdkCode::DECRYPT));
    assert_eq!(
        serde_json::from_str::<Value>(many[2].as_ref().unwrap()).unwrap(),
        message(5)
    );
    assert!(c.decrypt_many(vec![]).await.unwrap().is_empty());
    // Over the limit of 1000 is the SDK's parameter error, not a lost worker.
    assert_eq!(c.chat_data(0, 1001).await.unwrap_err().code(), Some(SdkCode::PARAM));
    assert_eq!(c.restarts(), 0);
    c.shutdown().await;
}

#[tokio::test]
async fn an_abort_inside_get_chat_data_costs_one_call_and_a_new_worker() {
    let dir = tempfile::tempdir().unwrap();
    let (so, marker) = faulty_world(dir.path(), 3, Fault::ChatAbort);
    let (mut c, first) = started(&so, Duration::from_secs(5)).await;
    assert_lost(c.chat_data(0, 100).await, "signal 6");
    assert!(marker.exists());
    let again = items(&c.chat_data(0, 100).await.unwrap());
    assert_eq!(again.len(), 3);
    assert_ne!(c.worker_pid().unwrap(), first);
    assert_eq!(c.restarts(), 1);
}

#[tokio::test]
async fn a_hung_worker_is_killed_after_twice_the_timeout_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (so, _marker) = faulty_world(dir.path(), 2, Fault::ChatHang);
    let (mut c, hung) = started(&so, Duration::from_millis(700)).await;
    let t = Instant::now();
    assert_lost(c.chat_data(0, 100).await, "no answer to GetChatData");
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // The hung process is gone, not left behind.
    assert!(
        !Path::new(&format!("/proc/{hung}")).exists(),
        "hung worker {hung} still exists"
    );
    assert_eq!(items(&c.chat_data(0, 100).await.unwrap()).len(), 2);
    assert_eq!(c.restarts(), 1);
}

#[tokio::test]
async fn a_killed_worker_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let so = world(dir.path(), 2, |_| {});
    let (mut c, pid) = started(&so, Duration::from_secs(5)).await;
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(matches!(c.chat_data(0, 10).await, Err(FinanceError::WorkerLost(_))));
    assert_eq!(items(&c.chat_data(0, 10).await.unwrap()).len(), 2);
}

#[tokio::test]
async fn media_comes_in_512k_chunks_and_faults_show() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..1_300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = dir.path().join("video.mp4");
    std::fs::write(&file, &bytes).unwrap();
    let (corrupt, network) = (dir.path().join("corrupt.done"), dir.path().join("net.done"));
    let so = world(dir.path(), 1, |w| {
        w.media("FILEID1", &file)
            .fault(Fault::MediaNetwork, &network)
            .fault(Fault::MediaCorrupt, &corrupt);
    });
    let mut c = client(&so, Duration::from_secs(5));
    let err = c.media_chunk("", "FILEID1").await.unwrap_err();
    assert_eq!(err.code(), Some(SdkCode::NETWORK));
    assert!(err.code().unwrap().retryable());
    let corrupted = c.media_chunk("", "FILEID1").await.unwrap();
    assert_ne!(corrupted.data[..], bytes[..corrupted.data.len()]);

    let (mut index, mut got, mut calls) = (String::new(), Vec::new(), 0);
    loop {
        let chunk = c.media_chunk(&index, "FILEID1").await.unwrap();
        assert!(chunk.data.len() <= 512 * 1024);
        got.extend_from_slice(&chunk.data);
        index = chunk.index;
        calls += 1;
        if chunk.finished {
            break;
        }
    }
    assert_eq!(calls, 3);
    assert_eq!(got, bytes);
    assert_eq!(
        c.media_chunk("", "NOPE").await.unwrap_err().code(),
        Some(SdkCode::FILEID)
    );
}

#[tokio::test]
async fn a_library_that_is_not_the_sdk_is_refused_naming_the_symbol() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = FinanceClient::new(worker(), ClientOptions::new(dir.path().join("missing.so")));
    assert!(matches!(c.start().await, Err(FinanceError::Load(_))));
    // libz is a real shared object without the SDK's functions.
    let libz = [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib64/libz.so.1",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists());
    if let Some(libz) = libz {
        let mut c = FinanceClient::new(worker(), ClientOptions::new(libz));
        match c.start().await {
            Err(FinanceError::Load(m)) => assert!(m.contains("NewSdk"), "{m}"),
            other => panic!("expected a load error, got {:?}", other.map(|_| ())),
        }
    }
}
