//! `chatvault show [--account A] PLATFORM CHAT_ID MSG_ID [--json]`: one message with its
//! current state, every revision, its full event history and the raw payloads it came from
//! (as text when they are printable UTF-8, else base64). Several accounts may hold a copy of
//! the same message; each copy is shown unless `--account` picks one.

use std::io::Write;

use chrono_tz::Tz;
use serde_json::{Value, json};
use store::MessageHistory;

use crate::context::Ctx;
use crate::render;

/// Runs the command.
pub fn run(ctx: &Ctx, args: crate::cli::ShowArgs) -> anyhow::Result<()> {
    let platform = render::platform_arg(&args.platform)?;
    let reader = ctx.reader()?;
    let keys = reader.find_keys(platform, &args.chat_id, &args.msg_id, args.account.as_deref())?;
    if keys.is_empty() {
        let account = args
            .account
            .as_deref()
            .map(|a| format!(" of account `{a}`"))
            .unwrap_or_default();
        anyhow::bail!(
            "no message `{}` in chat `{}` on {platform}{account} in the archive at `{}`",
            args.msg_id,
            args.chat_id,
            ctx.data_dir.display()
        );
    }
    let mut out = std::io::stdout().lock();
    for (i, key) in keys.iter().enumerate() {
        let Some(h) = reader.message(key)? else {
            continue;
        };
        if args.json {
            render::json_line(&mut out, &to_json(key, &h))?;
        } else {
            if i > 0 {
                out.write_all(b"\n")?;
            }
            out.write_all(human(key, &h, ctx.tz()).as_bytes())?;
        }
    }
    out.flush()?;
    Ok(())
}

fn to_json(key: &proto::MessageKey, h: &MessageHistory) -> Value {
    let events: Vec<Value> = h
        .events
        .iter()
        .map(|e| {
            json!({
                "seq": e.seq,
                "kind": e.kind,
                "occurred_at": render::utc(e.occurred_at),
                "received_at": render::utc(e.received_at),
                "raw_id": e.raw_id,
                "hash": e.hash,
                "event": e.event().ok(),
            })
        })
        .collect();
    let raws: Vec<Value> = h
        .raws
        .iter()
        .map(|r| {
            let t = render::raw_text(&r.bytes);
            json!({
                "id": r.id,
                "media_type": r.media_type,
                "received_at": render::utc(r.received_at),
                "size": r.bytes.len(),
                "encoding": t.encoding,
                "data": t.data,
            })
        })
        .collect();
    let revisions = render::revisions_json(&h.revisions);
    json!({
        "key": key,
        "record": h.record.as_ref().map(render::record_json),
        "revisions": revisions,
        "events": events,
        "raw": raws,
    })
}

fn human(key: &proto::MessageKey, h: &MessageHistory, tz: Tz) -> String {
    let mut s = String::new();
    let mut line = |l: String| {
        s.push_str(&l);
        s.push('\n');
    };
    line(format!("{key}"));
    match &h.record {
        Some(r) => {
            let chat = r.chat_name.as_deref().map(|n| format!(" 「{n}」")).unwrap_or_default();
            line(format!("  chat:     {} ({}){chat}", r.key.chat_id, r.chat_type));
            let name = r.sender_name.as_deref().map(|n| format!("{n} ")).unwrap_or_default();
            line(format!("  from:     {name}({})", r.sender_id));
            line(format!("  sent:     {}", render::local(r.sent_at, tz)));
            line(format!("  received: {}", render::local(r.received_at, tz)));
            line(format!("  type:     {} ({})", r.content_type, r.text_format));
            let life: String = render::lifecycle(r, tz).iter().map(|l| format!(", {l}")).collect();
            line(format!("  state:    {}{life}", r.state));
            line("  text:".into());
            line(render::indent(&r.text, "    "));
            if let Some(src) = render::source_text(r, "  ") {
                line(src);
            }
            for a in &r.attachments {
                let name = a.name.as_deref().unwrap_or("(unnamed)");
                let stored = a
                    .sha256
                    .as_deref()
                    .map_or("metadata only".to_string(), |h| format!("blob {h}"));
                line(format!("  attachment: {name} ({})", stored));
            }
        }
        None => line("  (the message itself has not arrived; only later events about it are archived)".into()),
    }
    if h.revisions.len() > 1 {
        line(format!("revisions ({}):", h.revisions.len()));
        for r in &h.revisions {
            line(format!(
                "  #{} at {} (seq {}):",
                r.revision,
                render::local(r.at, tz),
                r.seq
            ));
            line(render::indent(&r.text, "    "));
        }
    }
    line(format!("events ({}):", h.events.len()));
    for e in &h.events {
        line(format!(
            "  seq {}  {}  {}  (received {}, raw #{})",
            e.seq,
            e.kind,
            render::local(e.occurred_at, tz),
            render::local(e.received_at, tz),
            e.raw_id
        ));
        let body = match e.event() {
            Ok(ev) => serde_json::to_string(&ev).unwrap_or_default(),
            Err(err) => format!("(does not decode: {err})"),
        };
        line(format!("    {body}"));
        line(format!("    hash {}", e.hash));
    }
    line(format!("raw payloads ({}):", h.raws.len()));
    for r in &h.raws {
        let t = render::raw_text(&r.bytes);
        line(format!(
            "  #{}  {}  {} bytes  received {}{}",
            r.id,
            r.media_type,
            r.bytes.len(),
            render::local(r.received_at, tz),
            if t.encoding == "base64" {
                "  (binary, base64)"
            } else {
                ""
            }
        ));
        line(render::indent(&t.data, "    "));
    }
    s
}
