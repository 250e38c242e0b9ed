//! `chatvault audit`: every changed message (edited, withdrawn, deleted for everyone or for
//! one user) with its original text, current text (and its markup as sent), each revision and
//! when, and who withdrew or deleted it; with `--gaps`,
//! the periods a connector was not archiving. Human output shows the configured zone; `--json`
//! writes JSON Lines with RFC 3339 UTC times.

use std::io::Write;

use chrono_tz::Tz;
use serde_json::{Value, json};
use store::{AuditEntry, AuditFilter, Gap};

use crate::context::Ctx;
use crate::{render, timearg};

/// Runs the command.
pub fn run(ctx: &Ctx, args: crate::cli::AuditArgs) -> anyhow::Result<()> {
    let tz = ctx.tz();
    let now = chrono::Utc::now();
    let since = timearg::flag("since", args.since.as_deref(), tz, now)?;
    let until = timearg::flag("until", args.until.as_deref(), tz, now)?;
    let platform = args.platform.as_deref().map(render::platform_arg).transpose()?;
    let reader = ctx.reader()?;

    let mut out = std::io::stdout().lock();
    // `--gaps` alone lists only gaps; with a message flag it lists both.
    let messages = !args.gaps || args.withdrawn || args.edited || args.deleted;
    if messages {
        let chats = args.chat.as_deref().map(|spec| chats(&reader, spec)).transpose()?;
        let filter = AuditFilter {
            withdrawn: args.withdrawn,
            edited: args.edited,
            deleted: args.deleted,
            since,
            until,
            platform,
            chats,
        };
        let mut count = 0usize;
        let mut io_err = None;
        let scan = reader.audit(&filter, &mut |entry| {
            count += 1;
            let res = if args.json {
                render::json_line(&mut out, &entry_json(&entry))
            } else {
                out.write_all(entry_human(&entry, tz).as_bytes())
            };
            // A closed pipe stops the scan; the error is reported after it unwinds.
            if let Err(e) = res {
                io_err = Some(e);
                return Err(store::StoreError::Corrupt("output closed".into()));
            }
            Ok(())
        });
        if let Some(e) = io_err {
            return Err(e.into());
        }
        scan?;
        if count == 0 && !args.json {
            writeln!(out, "no {} messages{}", kinds(&args), range(since, until, tz))?;
        }
    }
    if args.gaps {
        let gaps = reader.gaps(since, until, platform)?;
        let now_ms = now.timestamp_millis();
        if !args.json && messages {
            writeln!(out)?;
        }
        for g in &gaps {
            if args.json {
                render::json_line(&mut out, &gap_json(g))?;
            } else {
                writeln!(out, "{}", gap_human(g, tz, now_ms))?;
            }
        }
        if gaps.is_empty() && !args.json {
            writeln!(out, "no connector downtime recorded{}", range(since, until, tz))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `--chat`: the chats with that id, else every chat with a recorded name containing it (a
/// renamed group is found by its old and new names; WorkTool groups that share a remark are
/// all found by it). Several matches are all audited and listed on stderr.
fn chats(reader: &store::StoreReader, spec: &str) -> anyhow::Result<Vec<(proto::Platform, String, String)>> {
    let found = reader.chats_named(spec)?;
    if found.is_empty() {
        return Err(crate::exit::usage(format!(
            "--chat `{spec}`: no chat has that id or a name containing it"
        )));
    }
    if found.len() > 1 {
        eprintln!("--chat `{spec}` matches {} chats (auditing all of them):", found.len());
        for c in &found {
            let names = if c.names.is_empty() {
                "(no name)".to_string()
            } else {
                c.names.join(" / ")
            };
            eprintln!("  {names}  [{} {}]", c.platform, c.chat_id);
        }
    }
    Ok(found.into_iter().map(|c| (c.platform, c.account, c.chat_id)).collect())
}

fn kinds(args: &crate::cli::AuditArgs) -> String {
    let mut k = Vec::new();
    if args.edited {
        k.push("edited");
    }
    if args.withdrawn {
        k.push("withdrawn");
    }
    if args.deleted {
        k.push("deleted");
    }
    if k.is_empty() {
        "edited, withdrawn or deleted".into()
    } else {
        k.join(", ")
    }
}

fn range(since: Option<i64>, until: Option<i64>, tz: Tz) -> String {
    match (since, until) {
        (None, None) => String::new(),
        (Some(a), None) => format!(" since {}", render::local(a, tz)),
        (None, Some(b)) => format!(" before {}", render::local(b, tz)),
        (Some(a), Some(b)) => format!(" between {} and {}", render::local(a, tz), render::local(b, tz)),
    }
}

fn entry_json(e: &AuditEntry) -> Value {
    let r = &e.record;
    let revisions = render::revisions_json(&e.revisions);
    json!({
        "type": "message",
        "platform": r.key.platform,
        "account": r.key.account,
        "chat_id": r.key.chat_id,
        "chat_name": r.chat_name,
        "msg_id": r.key.msg_id,
        "sender_id": r.sender_id,
        "sender_name": r.sender_name,
        "sent_at": render::utc(r.sent_at),
        "state": r.state,
        "original_text": e.original_text,
        "current_text": r.text,
        "text_format": r.text_format,
        "source_text": r.source_text,
        "revisions": revisions,
        "edited_at": render::utc_opt(r.edited_at),
        "withdrawn_at": render::utc_opt(r.withdrawn_at),
        "withdrawn_by": r.withdrawn_by,
        "deleted_at": render::utc_opt(r.deleted_at),
        "deleted_by": r.deleted_by,
        "deleted_for": r.deleted_for.iter().map(|d| json!({"user": d.user, "at": render::utc(d.at)})).collect::<Vec<_>>(),
    })
}

fn entry_human(e: &AuditEntry, tz: Tz) -> String {
    let r = &e.record;
    let mut s = String::new();
    let chat = r.chat_name.as_deref().map(|n| format!("「{n}」 ")).unwrap_or_default();
    let sender = r.sender_name.as_deref().map(|n| format!("{n} ")).unwrap_or_default();
    s.push_str(&format!(
        "{}/{} {chat}({}) msg {}: {}\n",
        r.key.platform, r.key.account, r.key.chat_id, r.key.msg_id, r.state
    ));
    s.push_str(&format!(
        "  sent {} by {sender}({})\n",
        render::local(r.sent_at, tz),
        r.sender_id
    ));
    s.push_str("  original:\n");
    s.push_str(&render::indent(&e.original_text, "    "));
    s.push('\n');
    for v in e.revisions.iter().filter(|v| v.revision > 0) {
        s.push_str(&format!("  revision {} at {}:\n", v.revision, render::local(v.at, tz)));
        s.push_str(&render::indent(&v.text, "    "));
        s.push('\n');
    }
    if r.revision > 0 || r.text != e.original_text {
        s.push_str("  current:\n");
        s.push_str(&render::indent(&r.text, "    "));
        s.push('\n');
    }
    if let Some(src) = render::source_text(r, "  ") {
        s.push_str(&src);
        s.push('\n');
    }
    for l in render::lifecycle(r, tz).iter().filter(|l| !l.starts_with("edited")) {
        s.push_str(&format!("  {l}\n"));
    }
    s.push('\n');
    s
}

fn gap_json(g: &Gap) -> Value {
    json!({
        "type": "gap",
        "platform": g.platform,
        "account": g.account,
        "status": g.status,
        "detail": g.detail,
        "from": render::utc(g.from),
        "to": render::utc_opt(g.to),
        "duration_ms": g.to.map(|t| t - g.from),
    })
}

fn gap_human(g: &Gap, tz: Tz, now_ms: i64) -> String {
    let detail = g.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
    match g.to {
        Some(to) => format!(
            "{}/{} not archiving from {} to {} ({}), {}{detail}",
            g.platform,
            g.account,
            render::local(g.from, tz),
            render::local(to, tz),
            render::duration(to - g.from),
            g.status
        ),
        None => format!(
            "{}/{} not archiving since {} ({} ago, or the archive stopped while it was down), {}{detail}",
            g.platform,
            g.account,
            render::local(g.from, tz),
            render::duration(now_ms - g.from),
            g.status
        ),
    }
}
