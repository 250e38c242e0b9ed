//! What `check-config` verifies for a `[[wecom_archive]]` beyond parsing: every private key
//! loads, and `sdk_path` is a shared object exporting the SDK's 17 functions, loaded in a
//! throwaway worker (never in the checking process). No call reaches Tencent.

use std::time::Duration;

use config::WecomArchiveConfig;
use finance::{ClientOptions, FinanceClient, FinanceError, WorkerCommand};

use super::keys::Keys;

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Key versions that loaded.
    pub key_versions: Vec<u32>,
    /// Symbols the worker resolved.
    pub symbols: usize,
}

/// Checks one entry; the error names the field (`private_keys[0].pem`, `sdk_path`).
pub async fn check(cfg: &WecomArchiveConfig, worker: WorkerCommand) -> Result<CheckReport, String> {
    let keys = Keys::load(&cfg.private_keys).map_err(|e| e.to_string())?;
    let mut opts = ClientOptions::new(&cfg.sdk_path);
    opts.call_timeout = Duration::from_secs(10);
    let mut client = FinanceClient::new(worker, opts);
    let result = client.start().await;
    client.shutdown().await;
    let symbols = result.map_err(|e| match e {
        FinanceError::Load(m) => format!(
            "sdk_path: `{}` is not a usable Finance SDK: {m}",
            cfg.sdk_path.display()
        ),
        e => format!("sdk_path: `{}`: {e}", cfg.sdk_path.display()),
    })?;
    Ok(CheckReport {
        key_versions: keys.versions(),
        symbols: symbols.len(),
    })
}
