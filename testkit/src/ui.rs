//! The archive the reviewer UI is tested on, in the UI crate's tests and in the browser test of
//! the binary: the farm chat (see [`crate::farm`]) with a contract attached to m5; a chat c2
//! outside a reviewer's scope (a secret, a secret attachment, a withdrawn secret); a yunhu
//! outage that ended; a wecom message deleted for everyone two days later, one removed from a
//! single user's view, and a wecom outage still open. Also the blob store that attachment
//! bytes live in, for every test that serves or bundles them, and (feature `ui`) the files of
//! a case bundle read back.

use std::path::Path;

use proto::{
    Attachment, ChatEvent, ConnectorStatus, DeleteScope, EventBatch, EventBody, Ingested, NewMessage, Platform,
};
use sha2::{Digest, Sha256};

use crate::events::{batch, connector_state, delete, message, payload, text, withdraw};
use crate::farm::{farm_chat, farm_text};

/// When the farm chat starts (2025-10-09 16:53:20 in Shanghai).
pub const T0: i64 = 1_760_000_000_000;
/// The bytes of the contract attached to m5 (and to the secret s2).
pub const ATTACHMENT: &[u8] = b"%PDF-1.4 contract bytes";

/// Writes `bytes` into the blob store of data directory `dir` (`blobs/<sha256>`, the name the
/// archive's attachments give); returns the hex sha256.
pub fn store_blob(dir: &Path, bytes: &[u8]) -> String {
    let sha = hex::encode(Sha256::digest(bytes));
    std::fs::create_dir_all(dir.join("blobs")).unwrap();
    std::fs::write(dir.join("blobs").join(&sha), bytes).unwrap();
    sha
}

/// The files of the case bundle `bytes` (a zip) by name.
#[cfg(feature = "ui")]
pub fn bundle_files(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).unwrap();
        out.insert(f.name().unwrap().to_string(), buf);
    }
    out
}

/// The archive described above: a yunhu batch of account `team`, then a wecom one of account
/// `corp`. The attachments name [`ATTACHMENT`] by its sha256 (see [`store_blob`]).
pub fn reviewed_archive() -> Vec<EventBatch> {
    vec![
        batch(Platform::Yunhu, "team", yunhu()),
        batch(Platform::Wecom, "corp", wecom()),
    ]
}

/// A text in c2, the chat the scoped reviewer may not see.
fn secret(t: &str, at: i64) -> NewMessage {
    NewMessage {
        chat_name: Some("机密群".into()),
        ..text(t, at)
    }
}

/// Message `id` of `chat`, received 1 ms after it was sent.
fn sent(chat: &str, id: &str, m: NewMessage) -> Ingested {
    let at = m.sent_at;
    payload(message(chat, id, m), at + 1)
}

/// The connector's state as reported at `at` (received at once).
fn reported(status: ConnectorStatus, detail: &str, at: i64) -> Ingested {
    payload(connector_state(status, detail, at), at)
}

/// `m` with attachment `a`.
fn attached(a: Attachment, m: NewMessage) -> NewMessage {
    NewMessage {
        attachments: vec![a],
        ..m
    }
}

fn yunhu() -> Vec<Ingested> {
    let sha = hex::encode(Sha256::digest(ATTACHMENT));
    let mut items = farm_chat(T0);
    let contract = Attachment {
        name: Some("合同.pdf".into()),
        mime: Some("application/pdf".into()),
        size: Some(ATTACHMENT.len() as u64),
        sha256: Some(sha.clone()),
        ..Default::default()
    };
    let leaked = Attachment {
        name: Some("机密.pdf".into()),
        sha256: Some(sha),
        ..Default::default()
    };
    items.extend([
        sent("c1", "m5", attached(contract, farm_text("附件：合同", T0 + 6000))),
        sent("c2", "s1", secret("农业机密：不该被看到", T0 + 7000)),
        sent("c2", "s2", attached(leaked, secret("机密附件", T0 + 8000))),
        sent("c2", "s3", secret("机密撤回：供应商回扣名单", T0 + 8500)),
        payload(withdraw("c2", "s3", "boss", T0 + 8600), T0 + 8601),
        reported(ConnectorStatus::Disconnected, "yunhu-outage", T0 + 9000),
        reported(ConnectorStatus::Connected, "back", T0 + 9500),
    ]);
    items
}

fn wecom() -> Vec<Ingested> {
    let day = 86_400_000;
    let hidden_from_u9 = ChatEvent::message(
        "w1",
        "x2",
        EventBody::Delete {
            by: Some("u9".into()),
            at: Some(T0 + day + 20),
            scope: DeleteScope::User,
        },
    );
    vec![
        sent("w1", "x1", text("企业微信删除的内容", T0 + day)),
        payload(delete("w1", "x1", "hr", T0 + 2 * day), T0 + 2 * day + 1),
        sent("w1", "x2", text("只对一人隐藏的内容", T0 + day + 10)),
        payload(hidden_from_u9, T0 + day + 21),
        reported(ConnectorStatus::Disconnected, "wecom-outage", T0 + 3 * day),
    ]
}
