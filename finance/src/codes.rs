//! The SDK's return codes (protocols.md §2.5) and what an operator should do about each.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A return code of an SDK function (0 = ok).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdkCode(pub i32);

impl SdkCode {
    /// Bad parameter.
    pub const PARAM: SdkCode = SdkCode(10000);
    /// Network error.
    pub const NETWORK: SdkCode = SdkCode(10001);
    /// Parse error.
    pub const PARSE: SdkCode = SdkCode(10002);
    /// System error.
    pub const SYSTEM: SdkCode = SdkCode(10003);
    /// Key error.
    pub const KEY: SdkCode = SdkCode(10004);
    /// Bad file id.
    pub const FILEID: SdkCode = SdkCode(10005);
    /// Decryption failed.
    pub const DECRYPT: SdkCode = SdkCode(10006);
    /// No private key for that version.
    pub const NO_KEY_VERSION: SdkCode = SdkCode(10007);
    /// Bad `encrypt_key`.
    pub const BAD_ENCRYPT_KEY: SdkCode = SdkCode(10008);
    /// This server's IP is not allowed.
    pub const ILLEGAL_IP: SdkCode = SdkCode(10009);
    /// The data has expired on Tencent's side.
    pub const EXPIRED: SdkCode = SdkCode(10010);
    /// Certificate error.
    pub const CERT: SdkCode = SdkCode(10011);

    /// 10001–10003: network, parse and system errors pass; try again after a pause.
    pub fn retryable(self) -> bool {
        (10001..=10003).contains(&self.0)
    }

    /// 10004, 10006–10008: the message key is wrong (a private key that does not match its
    /// `publickey_ver`, or no key).
    pub fn is_key_error(self) -> bool {
        matches!(self.0, 10004 | 10006 | 10007 | 10008)
    }

    /// What the code means and, where one exists, what to do.
    pub fn explain(self) -> &'static str {
        match self.0 {
            0 => "ok",
            10000 => "bad parameter",
            10001 => "network error (retried)",
            10002 => "could not parse the answer (retried)",
            10003 => "system error (retried)",
            10004 => "key error: check the private key configured for this publickey_ver",
            10005 => "bad sdkfileid",
            10006 => "decryption failed: the private key does not match this item's publickey_ver",
            10007 => "no private key for this publickey_ver",
            10008 => "bad encrypt_key: the private key does not match this item's publickey_ver",
            10009 => "illegal IP: add this server's IP to the 会话存档 allowlist in the WeCom admin console",
            10010 => "data expired: Tencent no longer keeps these messages (a gap)",
            10011 => "certificate error: check the secret and the public key uploaded for 会话存档",
            _ => "unknown code",
        }
    }
}

impl fmt::Display for SdkCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error {} ({})", self.0, self.explain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_and_key_codes() {
        assert!(SdkCode::NETWORK.retryable() && SdkCode::SYSTEM.retryable());
        assert!(!SdkCode::ILLEGAL_IP.retryable());
        assert!(SdkCode::BAD_ENCRYPT_KEY.is_key_error() && SdkCode::DECRYPT.is_key_error());
        assert!(SdkCode::ILLEGAL_IP.to_string().contains("allowlist"));
    }
}
