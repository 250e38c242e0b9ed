//! `chatvault verify [--expect-head HASH]`: recompute the hash chain, re-fold every message and
//! compare with the projections; print the head. Any difference exits 3 naming the first bad
//! `seq` (or the differing messages), so a cron job or an auditor can rely on the exit code.

use indicatif::{ProgressBar, ProgressStyle};
use store::VerifyReport;

use crate::context::Ctx;

/// Logs shorter than this verify in about a second; a bar would only flicker.
const PROGRESS_FROM: u64 = 200_000;

/// Runs the command.
pub fn run(ctx: &Ctx, args: crate::cli::VerifyArgs) -> anyhow::Result<()> {
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
    let report = reader.verify(&mut |seq| bar.set_position(seq))?;
    bar.finish_and_clear();
    let (text, failure) = outcome(&report, args.expect_head.as_deref());
    println!("{text}");
    match failure {
        Some(f) => Err(crate::exit::check_failed(f)),
        None => Ok(()),
    }
}

/// The report for people, and the failure message if the check failed.
fn outcome(r: &VerifyReport, expect: Option<&str>) -> (String, Option<String>) {
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
    if !r.projection_mismatches.is_empty() {
        let list: Vec<String> = r.projection_mismatches.iter().map(|m| format!("  {m}")).collect();
        failures.push(format!(
            "current state differs from the fold of the event log:\n{}",
            list.join("\n")
        ));
    }
    if let Some(want) = expect {
        let want = want.trim();
        if !want.eq_ignore_ascii_case(&r.head.hash) {
            failures.push(format!(
                "head hash is {} (seq {}), expected {want}: events were removed, added or changed \
                 since that head was recorded",
                r.head.hash, r.head.seq
            ));
        }
    }
    if failures.is_empty() {
        text.push_str("\nok: hash chain intact, projections equal the fold of the log");
        if expect.is_some() {
            text.push_str(", head as expected");
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

    fn report(first_bad: Option<u64>, mismatches: Vec<String>) -> VerifyReport {
        VerifyReport {
            events: 10,
            messages: 4,
            head: ChainHead {
                seq: 10,
                hash: "ab".repeat(32),
            },
            ok: first_bad.is_none() && mismatches.is_empty(),
            first_bad_seq: first_bad,
            projection_mismatches: mismatches,
        }
    }

    #[test]
    fn clean_log_passes_and_prints_head() {
        let (text, fail) = outcome(&report(None, vec![]), Some(&"AB".repeat(32)));
        assert!(fail.is_none());
        assert!(text.contains(&format!("head: seq 10 {}", "ab".repeat(32))), "{text}");
        assert!(text.ends_with("head as expected"), "{text}");
    }

    #[test]
    fn tamper_names_the_first_bad_seq() {
        let (_, fail) = outcome(&report(Some(7), vec![]), None);
        assert!(fail.unwrap().contains("breaks at seq 7"));
        let (_, fail) = outcome(&report(None, vec!["message yunhu/team/c/m differs".into()]), None);
        assert!(fail.unwrap().contains("  message yunhu/team/c/m differs"));
    }

    #[test]
    fn unexpected_head_fails() {
        let (_, fail) = outcome(&report(None, vec![]), Some("00ff"));
        assert!(fail.unwrap().contains("expected 00ff"));
    }
}
