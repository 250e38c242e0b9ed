//! `chatvault stats [--json]`: what the archive holds, per platform, chat type and state; the
//! rejects; each connector's cursor, last event and last state; the chain head; and what each
//! platform's connector can and cannot see.

use std::collections::BTreeMap;
use std::io::Write;

use proto::Platform;
use serde_json::{Value, json};
use store::Stats;

use crate::context::Ctx;
use crate::render;

/// Runs the command.
pub fn run(ctx: &Ctx, args: crate::cli::StatsArgs) -> anyhow::Result<()> {
    let stats = ctx.reader()?.stats()?;
    let coverage = coverage(ctx, &stats);
    let mut out = std::io::stdout().lock();
    if args.json {
        render::json_line(&mut out, &to_json(&stats, &coverage))?;
    } else {
        out.write_all(human(&stats, &coverage, ctx.tz()).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// Platforms to explain: every configured one and every one found in the archive, with the
/// connector names seen for each.
fn coverage(ctx: &Ctx, stats: &Stats) -> BTreeMap<Platform, Vec<String>> {
    let mut m: BTreeMap<Platform, Vec<String>> = BTreeMap::new();
    for c in ctx.config.connectors() {
        m.entry(c.platform()).or_default().push(c.name().to_string());
    }
    for c in &stats.connectors {
        if let Ok(p) = c.platform.parse::<Platform>() {
            let names = m.entry(p).or_default();
            if !names.contains(&c.account) {
                names.push(c.account.clone());
            }
        }
    }
    m
}

fn to_json(stats: &Stats, coverage: &BTreeMap<Platform, Vec<String>>) -> Value {
    let counts = |v: &[(String, u64)]| Value::Object(v.iter().map(|(k, n)| (k.clone(), json!(n))).collect());
    let connectors: Vec<Value> = stats
        .connectors
        .iter()
        .map(|c| {
            json!({
                "platform": c.platform,
                "account": c.account,
                "events": c.events,
                "last_event_at": render::utc_opt(c.last_event_at),
                "state": c.state,
                "state_since": render::utc_opt(c.state_since),
                "cursor": c.cursor,
            })
        })
        .collect();
    let coverage: Vec<Value> = coverage
        .iter()
        .map(|(p, accounts)| json!({ "platform": p, "accounts": accounts, "sees": render::coverage(*p) }))
        .collect();
    json!({
        "events": stats.events,
        "messages": stats.messages,
        "raw_payloads": stats.raw_payloads,
        "rejects": stats.rejects,
        "by_platform": counts(&stats.by_platform),
        "by_chat_type": counts(&stats.by_chat_type),
        "by_state": counts(&stats.by_state),
        "by_kind": counts(&stats.by_kind),
        "rejects_by_connector": stats.rejects_by_connector,
        "connectors": connectors,
        "head": stats.head,
        "coverage": coverage,
    })
}

fn human(stats: &Stats, coverage: &BTreeMap<Platform, Vec<String>>, tz: chrono_tz::Tz) -> String {
    let mut s = String::new();
    let mut line = |l: String| {
        s.push_str(&l);
        s.push('\n');
    };
    line(format!(
        "{} messages, {} events, {} raw payloads, rejected payloads: {}",
        stats.messages, stats.events, stats.raw_payloads, stats.rejects
    ));
    match &stats.head {
        Some(h) if h.seq > 0 => line(format!("chain head: seq {} {}", h.seq, h.hash)),
        _ => line("chain head: empty log".into()),
    }
    for (title, rows) in [
        ("messages per platform", &stats.by_platform),
        ("messages per chat type", &stats.by_chat_type),
        ("messages per state", &stats.by_state),
        ("events per kind", &stats.by_kind),
    ] {
        if rows.is_empty() {
            continue;
        }
        line(format!("\n{title}:"));
        let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
        for (k, n) in rows {
            line(format!("  {k:<width$}  {n:>10}"));
        }
    }

    line("\nconnectors:".into());
    if stats.connectors.is_empty() {
        line("  none has written to the archive yet".into());
    }
    for c in &stats.connectors {
        line(format!(
            "  {}/{}: {} events, last event {}",
            c.platform,
            c.account,
            c.events,
            render::local_opt(c.last_event_at, tz)
        ));
        match (&c.state, c.state_since) {
            (Some(st), since) => line(format!("      state: {st} since {}", render::local_opt(since, tz))),
            (None, _) => line("      state: never reported".into()),
        }
        match &c.cursor {
            Some(cur) => line(format!("      cursor: {cur}")),
            None => line("      cursor: none".into()),
        }
    }

    if !stats.rejects_by_connector.is_empty() {
        line("\nrejected payloads (kept in `rejects` with their raw bytes):".into());
        for r in &stats.rejects_by_connector {
            line(format!(
                "  {}/{}: {}, latest: {}",
                r.platform, r.account, r.count, r.last_reason
            ));
        }
    }

    if !coverage.is_empty() {
        line("\nwhat the archive can see:".into());
        for (p, accounts) in coverage {
            line(format!("  {p} ({}): {}", accounts.join(", "), render::coverage(*p)));
        }
        line("  periods a connector was down are listed by `chatvault audit --gaps`".into());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{ChainHead, ConnectorSummary, RejectSummary};

    fn sample() -> Stats {
        Stats {
            events: 5,
            messages: 3,
            raw_payloads: 4,
            rejects: 1,
            by_platform: vec![("yunhu".into(), 3)],
            by_chat_type: vec![("group".into(), 3)],
            by_state: vec![("active".into(), 2), ("withdrawn".into(), 1)],
            by_kind: vec![
                ("message".into(), 3),
                ("withdraw".into(), 1),
                ("connector_state".into(), 1),
            ],
            rejects_by_connector: vec![RejectSummary {
                platform: "yunhu".into(),
                account: "team".into(),
                count: 1,
                last_reason: "truncated protobuf frame".into(),
            }],
            connectors: vec![ConnectorSummary {
                platform: "yunhu".into(),
                account: "team".into(),
                events: 5,
                last_event_at: Some(1_772_373_605_123),
                state: Some("connected".into()),
                state_since: Some(1_772_373_600_000),
                cursor: Some(json!({"seq": 42})),
            }],
            head: Some(ChainHead {
                seq: 5,
                hash: "ab".repeat(32),
            }),
        }
    }

    #[test]
    fn human_output_in_zone_with_coverage() {
        let cov = BTreeMap::from([
            (Platform::Yunhu, vec!["team".to_string()]),
            (Platform::Wecom, vec!["corp".into()]),
        ]);
        let s = human(&sample(), &cov, chrono_tz::Asia::Shanghai);
        assert!(
            s.starts_with("3 messages, 5 events, 4 raw payloads, rejected payloads: 1\n"),
            "{s}"
        );
        assert!(
            s.contains("  yunhu/team: 5 events, last event 2026-03-01 22:00:05 CST"),
            "{s}"
        );
        assert!(s.contains("state: connected since 2026-03-01 22:00:00 CST"), "{s}");
        assert!(s.contains("cursor: {\"seq\":42}"), "{s}");
        assert!(
            s.lines()
                .any(|l| l.trim_start().starts_with("withdrawn ") && l.ends_with(" 1")),
            "{s}"
        );
        assert!(s.contains("yunhu/team: 1, latest: truncated protobuf frame"), "{s}");
        assert!(s.contains("wecom (corp): messages sent to the app"), "{s}");
    }

    #[test]
    fn json_times_are_utc() {
        let v = to_json(&sample(), &BTreeMap::new());
        assert_eq!(v["connectors"][0]["last_event_at"], "2026-03-01T14:00:05.123Z");
        assert_eq!(v["by_state"]["withdrawn"], 1);
        assert_eq!(v["head"]["seq"], 5);
    }
}
