//! The chat the reviewer UI is tested on, in the UI crate's tests and in the browser test of
//! the binary: two texts a search for 农业 finds (农业局, 中国农业发展银行), a contract sum
//! edited from 一百万 to 两百万, and a quote its sender withdrew.

use proto::{Ingested, NewMessage};

use crate::events::{edit, message, payload, text, withdraw};

/// The name of chat c1.
pub const CHAT_NAME: &str = "农业项目群";

/// A text from `u1` (张三) in chat c1, sent at `at`.
pub fn farm_text(t: &str, at: i64) -> NewMessage {
    NewMessage {
        chat_name: Some(CHAT_NAME.into()),
        ..text(t, at)
    }
}

/// Messages m1 to m4 of chat c1 and their changes, one a second from `t0`, each received 1 ms
/// after it happened.
pub fn farm_chat(t0: i64) -> Vec<Ingested> {
    vec![
        payload(message("c1", "m1", farm_text("农业局下发了新的补贴通知", t0)), t0 + 1),
        payload(
            message("c1", "m2", farm_text("中国农业发展银行的贷款已批", t0 + 1000)),
            t0 + 1001,
        ),
        payload(message("c1", "m3", farm_text("合同金额是一百万", t0 + 2000)), t0 + 2001),
        payload(edit("c1", "m3", "合同金额是两百万", t0 + 3000), t0 + 3001),
        payload(
            message("c1", "m4", farm_text("这条消息说错了：报价八十万", t0 + 4000)),
            t0 + 4001,
        ),
        payload(withdraw("c1", "m4", "u1", t0 + 5000), t0 + 5001),
    ]
}
