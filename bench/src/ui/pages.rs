//! One conversation-page row of `bench ui`: the page beside the archive read behind it.

use std::time::Instant;

use proto::TimestampMs;

use super::archive::{ACCOUNT, BIG_PLATFORM};
use super::client::Client;
use super::{ChatPages, Latency, PageRow, Prepared, UiBenchOptions};
use crate::BenchError;

/// Messages the conversation page shows on each side of the message it is opened at.
const AROUND: usize = 50;

/// A conversation page: its URL and the timeline read behind it.
pub(super) struct PageSpec {
    pub(super) label: String,
    chat: ChatPages,
    at: Option<(String, TimestampMs)>,
}

pub(super) fn page_specs(p: &Prepared) -> Vec<PageSpec> {
    let spec = |label: &str, chat: &ChatPages, at: Option<&(String, TimestampMs)>| PageSpec {
        label: label.to_string(),
        chat: chat.clone(),
        at: at.cloned(),
    };
    vec![
        spec(
            "large chat, first page (at its first message)",
            &p.big,
            Some(&p.big.first),
        ),
        spec("large chat, middle (at a message mid-way)", &p.big, Some(&p.big.middle)),
        spec("large chat, last page (latest messages)", &p.big, None),
        spec("ordinary chat, last page (latest messages)", &p.small, None),
    ]
}

pub(super) async fn page_row(
    client: &mut Client,
    opts: &UiBenchOptions,
    reader: &store::StoreReader,
    spec: &PageSpec,
) -> Result<PageRow, BenchError> {
    let path = format!("/chat/{}/{ACCOUNT}/{}", BIG_PLATFORM.as_str(), spec.chat.chat_id);
    let query: Vec<(&str, &str)> = spec.at.iter().map(|(id, _)| ("at", id.as_str())).collect();
    let (point, before, after) = match &spec.at {
        Some((_, t)) => (*t, AROUND, AROUND),
        None => (TimestampMs::MAX, 2 * AROUND, 0),
    };
    let (mut ui, mut read) = (Vec::new(), Vec::new());
    let mut shown = 0;
    for run in 0..opts.warmup + opts.reps {
        let page = client.get(&path, &query).await?;
        let started = Instant::now();
        let msgs = reader.chat_timeline(BIG_PLATFORM, ACCOUNT, &spec.chat.chat_id, point, before, after)?;
        let took = started.elapsed();
        let first = msgs.first().map(|m| format!("id=\"m-{}\"", m.key.msg_id));
        if page.status != 200 || !first.is_some_and(|f| page.body.contains(&f)) {
            return Err(BenchError::Failed(format!(
                "{} did not show the chat's timeline (HTTP {})",
                spec.label, page.status
            )));
        }
        shown = msgs.len();
        if run >= opts.warmup {
            ui.push(page.took);
            read.push(took);
        }
    }
    Ok(PageRow {
        page: spec.label.clone(),
        chat_messages: spec.chat.messages,
        shown,
        ui: Latency::of(&ui),
        store_read: Latency::of(&read),
    })
}
