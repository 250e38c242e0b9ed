//! `chatvault verify [--expect-head SEQ:HASH | HASH]`: recompute the hash chain, check that it
//! still passes through every anchor (`chatvault anchor`, every export) and the given position,
//! re-fold every message, chat and member list and compare with the projections, check the
//! dedup entries and cursors against the log; print the head. Any difference exits 3 naming
//! what differs, so a cron job or an auditor can rely on the exit code.
//!
//! `--expect-head` means "the event at seq N still has hash H": it holds after any number of
//! legitimate appends and fails once anything up to seq N was rewritten or removed. A bare
//! hash takes its seq from the export manifest (which records both), else from the anchors
//! file, else from the event whose stored hash it is.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use store::anchors::{self, Anchor};
use store::{Expectation, VerifyReport};

use crate::context::Ctx;

/// Logs shorter than this verify in about a second; a bar would only flicker.
const PROGRESS_FROM: u64 = 200_000;

/// Runs the command.
pub fn run(ctx: &Ctx, args: crate::cli::VerifyArgs) -> anyhow::Result<()> {
    let expect = match args.expect_head.as_deref() {
        Some(s) => vec![expectation(ctx, s, args.manifest.as_deref())?],
        None => Vec::new(),
    };
    let reader = ctx.reader()?;
    let total = reader.head()?.seq;
    // indicatif draws only when stderr is a terminal, so piped output stays clean.
    let bar = if total >= PROGRESS_FROM {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("verifying {bar:40} {pos}/{len} events ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = reader.verify_with(&expect, &mut |seq| bar.set_position(seq))?;
    bar.finish_and_clear();
    let (text, mut failure) = outcome(&report, !expect.is_empty());
    println!("{text}");
    // The reviewer UI's access log has a chain of its own, in its own file.
    if let Some(db) = store::access::AccessDb::open_existing(&ctx.data_dir)? {
        let log = db.verify_log()?;
        println!("access log: {} entries, head {}", log.entries, log.head);
        if let Some(p) = log.problem {
            let p = format!("the access log was altered: {p}");
            failure = Some(failure.map_or(p.clone(), |f| format!("{f}\n{p}")));
        }
    }
    match failure {
        Some(f) => Err(crate::exit::check_failed(f)),
        None => Ok(()),
    }
}

/// `--expect-head`'s value as a chain position to check.
fn expectation(ctx: &Ctx, value: &str, manifest: Option<&Path>) -> anyhow::Result<Expectation> {
    if let Some(a) = Anchor::parse(value) {
        return Ok(Expectation::at(&a, "--expect-head"));
    }
    let Some(hash) = anchors::parse_hash(value) else {
        return Err(crate::exit::usage(format!(
            "--expect-head takes SEQ:HASH or a 64-digit hex HASH, not `{}`",
            value.chars().take(80).collect::<String>()
        )));
    };
    let manifest_dir = match manifest {
        Some(p) if p.is_file() => p.parent().map(Path::to_path_buf).unwrap_or_default(),
        Some(p) => p.to_path_buf(),
        None => export::ExportOptions::resolve_out_dir(&ctx.data_dir, ctx.config.export.dir.as_deref()),
    };
    let from_manifest = export::Manifest::load(&manifest_dir)
        .ok()
        .flatten()
        .filter(|m| m.head.hash.eq_ignore_ascii_case(&hash))
        .map(|m| m.head.seq);
    if let Some(seq) = from_manifest {
        return Ok(Expectation {
            seq: Some(seq),
            hash,
            source: format!("--expect-head (seq {seq} from the export manifest)"),
        });
    }
    let from_anchors = anchors::read(&ctx.data_dir)?
        .into_iter()
        .filter_map(|(_, a)| a.ok())
        .find(|a| a.hash == hash);
    Ok(match from_anchors {
        Some(a) => Expectation::at(&a, format!("--expect-head (seq {} from the anchors file)", a.seq)),
        None => Expectation {
            seq: None,
            hash,
            source: "--expect-head".into(),
        },
    })
}

/// The report for people, and the failure message if the check failed.
fn outcome(r: &VerifyReport, expected: bool) -> (String, Option<String>) {
    let mut text = format!(
        "checked {} events and {} messages\nhead: seq {} {}",
        r.events, r.messages, r.head.seq, r.head.hash
    );
    let mut failures = Vec::new();
    if let Some(seq) = r.first_bad_seq {
        failures.push(format!(
            "the event log was altered: the hash chain breaks at seq {seq} (that row or the raw \
             payload it points to differs from what was appended)"
        ));
    }
    let listed = |title: &str, list: &[String]| {
        let lines: Vec<String> = list.iter().map(|m| format!("  {m}")).collect();
        format!("{title}:\n{}", lines.join("\n"))
    };
    if !r.position_failures.is_empty() {
        failures.push(listed(
            "the log no longer passes through a recorded position",
            &r.position_failures,
        ));
    }
    if !r.projection_mismatches.is_empty() {
        failures.push(listed(
            "current state differs from the fold of the event log",
            &r.projection_mismatches,
        ));
    }
    if !r.bookkeeping_mismatches.is_empty() {
        failures.push(listed(
            "the writer's bookkeeping disagrees with the event log",
            &r.bookkeeping_mismatches,
        ));
    }
    if failures.is_empty() {
        text.push_str("\nok: hash chain intact, projections equal the fold of the log");
        let anchored = r.positions_checked - u64::from(expected);
        if anchored > 0 {
            text.push_str(&format!(", {anchored} anchors on the chain"));
        }
        if expected {
            text.push_str(", expected position on the chain");
        }
        (text, None)
    } else {
        (text, Some(failures.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::ChainHead;

    fn report(first_bad: Option<u64>, mismatches: Vec<String>, positions: Vec<String>) -> VerifyReport {
        VerifyReport {
            events: 10,
            messages: 4,
            head: ChainHead {
                seq: 10,
                hash: "ab".repeat(32),
            },
            ok: first_bad.is_none() && mismatches.is_empty() && positions.is_empty(),
            first_bad_seq: first_bad,
            projection_mismatches: mismatches,
            bookkeeping_mismatches: Vec::new(),
            positions_checked: 3,
            position_failures: positions,
        }
    }

    #[test]
    fn clean_log_passes_and_prints_head() {
        let (text, fail) = outcome(&report(None, vec![], vec![]), true);
        assert!(fail.is_none());
        assert!(text.contains(&format!("head: seq 10 {}", "ab".repeat(32))), "{text}");
        assert!(
            text.ends_with("2 anchors on the chain, expected position on the chain"),
            "{text}"
        );
    }

    #[test]
    fn tamper_names_the_first_bad_seq() {
        let (_, fail) = outcome(&report(Some(7), vec![], vec![]), false);
        assert!(fail.unwrap().contains("breaks at seq 7"));
        let (_, fail) = outcome(
            &report(None, vec!["message yunhu/team/c/m differs".into()], vec![]),
            false,
        );
        assert!(fail.unwrap().contains("  message yunhu/team/c/m differs"));
    }

    #[test]
    fn a_position_off_the_chain_fails() {
        let (_, fail) = outcome(&report(None, vec![], vec!["seq 12 is past the end".into()]), true);
        assert!(fail.unwrap().contains("no longer passes through"));
    }
}
