//! One `chatdata` item of a GetChatData page, kept as the exact bytes the SDK served (that is
//! what `rejects` keeps, so that `rejects retry` can decrypt it later), and the page around it.

use serde::Deserialize;
use serde_json::value::RawValue;

/// A page of GetChatData.
#[derive(Debug)]
pub struct Page {
    /// The items, each as served.
    pub items: Vec<Box<RawValue>>,
}

/// Why a page could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// Not the documented JSON.
    #[error("GetChatData answer is not the documented JSON: {0}")]
    Json(String),
    /// `errcode` ≠ 0 inside the answer.
    #[error("GetChatData answered errcode {code}: {msg}")]
    Errcode {
        /// `errcode`.
        code: i64,
        /// `errmsg`.
        msg: String,
    },
}

/// Reads a GetChatData answer.
pub fn parse_page(json: &str) -> Result<Page, PageError> {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default)]
        errcode: i64,
        #[serde(default)]
        errmsg: String,
        #[serde(default)]
        chatdata: Vec<Box<RawValue>>,
    }
    let raw: Raw = serde_json::from_str(json).map_err(|e| PageError::Json(e.to_string()))?;
    if raw.errcode != 0 {
        return Err(PageError::Errcode {
            code: raw.errcode,
            msg: raw.errmsg,
        });
    }
    Ok(Page { items: raw.chatdata })
}

/// The fields of an item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Item {
    /// Position in the corp's feed; the cursor.
    pub seq: u64,
    /// Message id.
    #[serde(default)]
    pub msgid: String,
    /// Version of the public key the random key was encrypted with.
    pub publickey_ver: u32,
    /// Base64 RSA ciphertext of the random key.
    pub encrypt_random_key: String,
    /// The message, encrypted by the SDK's scheme.
    pub encrypt_chat_msg: String,
}

impl Item {
    /// Reads an item's fields.
    pub fn parse(bytes: &[u8]) -> Result<Item, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("chatdata item is not the documented JSON: {e}"))
    }
}

/// The `seq` of an item, even when the rest is unreadable (so the cursor can pass it).
pub fn seq_of(bytes: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Seq {
        seq: u64,
    }
    serde_json::from_slice::<Seq>(bytes).ok().map(|s| s.seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_keep_their_exact_bytes() {
        let json = r#"{"errcode":0,"errmsg":"ok","chatdata":[{"seq":7, "msgid":"a","publickey_ver":2,"encrypt_random_key":"k","encrypt_chat_msg":"m"}]}"#;
        let page = parse_page(json).unwrap();
        assert_eq!(
            page.items[0].get(),
            r#"{"seq":7, "msgid":"a","publickey_ver":2,"encrypt_random_key":"k","encrypt_chat_msg":"m"}"#
        );
        let item = Item::parse(page.items[0].get().as_bytes()).unwrap();
        assert_eq!((item.seq, item.publickey_ver), (7, 2));
        assert!(matches!(
            parse_page(r#"{"errcode":301052,"errmsg":"expired"}"#),
            Err(PageError::Errcode { code: 301052, .. })
        ));
    }
}
