//! `chatvault bench stream`: one message built from `--n` stream chunks beside `--n` plain
//! messages, appended the same way (the store's `append`, 100 events per transaction,
//! `synchronous=FULL`) in the same run. A chunk that extends a message's text is applied to
//! its row; were the message re-folded from all its earlier chunks, each chunk would cost more
//! than the last and the chunk rate would fall far below the plain one. The rates of the first
//! and last tenth of the chunks show whether the cost per chunk grows.

use std::time::Instant;

use proto::{ChatEvent, EventBatch, EventBody, Ingested, NewMessage, Platform, RawPayload};

use super::util::{announced_scratch_dir, fmt_rate};
use crate::BenchError;

const PER_TXN: usize = 100;
const T0: i64 = 1_760_000_000_000;

pub fn run(args: &crate::BenchArgs) -> Result<(), BenchError> {
    let n = args.n;
    let dir = announced_scratch_dir(
        args,
        "stream",
        format_args!("{n} chunks of one message beside {n} messages,"),
    )?;
    let plain = append_all(
        &dir.path().join("plain"),
        (0..n).map(|i| message(&format!("m{i}"), i)).collect(),
    )?;
    let mut chunks = vec![message("streamed", 0)];
    chunks.extend((0..n).map(chunk));
    let streamed = append_all(&dir.path().join("stream"), chunks)?;
    let total = |t: &[f64]| t.iter().sum::<f64>();
    let tenth = |t: &[f64], last: bool| {
        let k = (t.len() / 10).max(1);
        let part = if last { &t[t.len() - k..] } else { &t[..k] };
        (k * PER_TXN) as f64 / total(part)
    };
    println!("| events | count | time | rate | rate, first tenth | rate, last tenth |");
    println!("|---|---|---|---|---|---|");
    for (what, count, t) in [
        ("plain messages", n, &plain[..]),
        ("one message and its stream chunks", n + 1, &streamed[..]),
    ] {
        println!(
            "| {what} | {count} | {:.2} s | {} events/s | {} events/s | {} events/s |",
            total(t),
            fmt_rate(count as f64 / total(t)),
            fmt_rate(tenth(t, false)),
            fmt_rate(tenth(t, true))
        );
    }
    println!();
    println!("chunk rate / plain rate = {:.2}x", total(&plain) / total(&streamed));
    Ok(())
}

/// Appends `events` in transactions of [`PER_TXN`]; the seconds of each transaction.
fn append_all(dir: &std::path::Path, events: Vec<ChatEvent>) -> Result<Vec<f64>, BenchError> {
    let mut store = store::Store::open(dir, store::StoreOptions::default())?;
    let mut times = Vec::new();
    for (i, group) in events.chunks(PER_TXN).enumerate() {
        let items = group
            .iter()
            .enumerate()
            .map(|(j, ev)| {
                let bytes = serde_json::to_vec(ev).unwrap_or_default();
                Ingested::Payload {
                    raw: RawPayload {
                        received_at: T0 + (i * PER_TXN + j) as i64,
                        media_type: proto::batch::media::JSON.into(),
                        bytes: bytes.into(),
                    },
                    events: vec![ev.clone()],
                }
            })
            .collect();
        let (batch, _) = EventBatch::new(Platform::Yunhu, "bench", items, None);
        let started = Instant::now();
        store.append(&[&batch])?;
        times.push(started.elapsed().as_secs_f64());
    }
    Ok(times)
}

fn message(id: &str, i: usize) -> ChatEvent {
    ChatEvent::message(
        "bot-chat",
        id,
        EventBody::Message(NewMessage {
            chat_name: Some("机器人".into()),
            sender_name: Some("助手".into()),
            ..NewMessage::plain("bot", T0 + i as i64, format!("第{i}条：今天的会议改到下午三点"))
        }),
    )
}

fn chunk(i: usize) -> ChatEvent {
    ChatEvent::message(
        "bot-chat",
        "streamed",
        EventBody::StreamAppend {
            chunk: format!("第{i}段，"),
            offset: i as u64,
        },
    )
}
