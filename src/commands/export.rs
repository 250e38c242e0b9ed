//! `chatvault export [--out DIR|s3://bucket/prefix] [--full]`: one export on demand, with a
//! progress bar (on a terminal) and a summary. Works while `run` is running; the export lock
//! keeps it apart from the scheduled export.
//!
//! Where it goes: `--out` if given, else `[export] target` (object storage) or `[export] dir`.
//! A Parquet export to a folder is the plain local export; object-store targets and Delta
//! tables go through the lake export (staged locally, uploaded, manifest last).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::context::Ctx;

/// Runs the command.
pub fn run(ctx: &Ctx, args: crate::cli::ExportArgs) -> anyhow::Result<()> {
    let out = args.out.map(|p| p.to_string_lossy().into_owned());
    let job = pipeline::ExportJob::from_config(&ctx.config, &ctx.data_dir, out.as_deref(), args.full)?;
    let bar = ProgressBar::new(0);
    let mut stage = None;
    // Without a terminal (cron, a pipe) indicatif draws nothing: the upload is reported as
    // lines instead, at most one every few seconds, so a long upload still shows it moves.
    let tty = std::io::stderr().is_terminal();
    let mut last_line: Option<Instant> = None;
    let mut printed_files = None;
    let mut on_progress = |p: &export::Progress| {
        if stage != Some(p.stage) {
            stage = Some(p.stage);
            let template = match p.stage {
                export::Stage::Scanning => "finding changed partitions…",
                export::Stage::Messages => "messages {bar:30} {pos}/{len} partitions, {msg} rows",
                export::Stage::Events => "events   {bar:30} {pos}/{len} events",
                export::Stage::Finishing => "publishing files and manifest…",
                export::Stage::Uploading => "uploading {bar:30} {bytes}/{total_bytes}, {msg} files sent",
            };
            bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
            bar.reset();
        }
        bar.set_length(p.total);
        bar.set_position(p.done);
        bar.set_message(p.rows.to_string());
        if !tty && p.stage == export::Stage::Uploading && printed_files != Some(p.rows) {
            let finished = p.done == p.total;
            if finished || last_line.is_none_or(|t| t.elapsed() >= UPLOAD_LINE_EVERY) {
                last_line = Some(Instant::now());
                printed_files = Some(p.rows);
                eprintln!(
                    "uploading: {} of {}, {} files sent",
                    bytes(p.done),
                    bytes(p.total),
                    p.rows
                );
            }
        }
    };
    let outcome = job.run(&mut on_progress);
    bar.finish_and_clear();
    let outcome = outcome?;
    let s = outcome.export();
    super::anchor::record(&ctx.data_dir, s.to_seq, &s.head_hash, "export")?;
    match &outcome {
        pipeline::ExportOutcome::Local(s) => println!("{}", render(s)),
        pipeline::ExportOutcome::Lake(s) => println!("{}", render_lake(s)),
    }
    Ok(())
}

/// How often an upload without a terminal prints a progress line.
const UPLOAD_LINE_EVERY: Duration = Duration::from_secs(5);

/// The lake summary: the export into the staging folder, then what was sent.
fn render_lake(s: &export::LakeSummary) -> String {
    let mut out = render(&s.export).replace(&s.export.out_dir.display().to_string(), &s.target);
    out.push_str(&format!(
        "\n  uploaded: {} files, {} ({} already on the target)",
        s.files_uploaded,
        bytes(s.bytes_uploaded),
        s.files_skipped
    ));
    if s.objects_removed > 0 {
        out.push_str(&format!("\n  deleted:  {} objects no longer listed", s.objects_removed));
    }
    for (table, version) in &s.delta_commits {
        out.push_str(&format!("\n  delta:    {table} version {version}"));
    }
    out
}

/// The summary for people.
fn render(s: &export::ExportSummary) -> String {
    let dir = s.out_dir.display();
    if s.up_to_date {
        return format!(
            "export in {dir} is up to date (seq {}): {} messages, {} events in {} files, {}",
            s.to_seq,
            s.total_messages,
            s.total_events,
            s.total_files,
            bytes(s.total_bytes)
        );
    }
    let secs = s.elapsed.as_secs_f64().max(1e-6);
    let rows = s.message_rows_written + s.event_rows_written;
    let mut out = format!(
        "exported seq {}..{}{} to {dir} in {:.2} s\n  messages: {} partitions rewritten, {} rows\n  events:   {} files added, {} rows\n  written:  {} ({:.0} rows/s)",
        s.from_seq,
        s.to_seq,
        if s.full { " (full)" } else { "" },
        secs,
        s.partitions_written,
        s.message_rows_written,
        s.event_files_written,
        s.event_rows_written,
        bytes(s.bytes_written),
        rows as f64 / secs,
    );
    if s.files_removed > 0 {
        out.push_str(&format!("\n  removed:  {} replaced or leftover files", s.files_removed));
    }
    out.push_str(&format!(
        "\n  total:    {} messages, {} events in {} files, {}\n  head:     seq {} {}",
        s.total_messages,
        s.total_events,
        s.total_files,
        bytes(s.total_bytes),
        s.to_seq,
        s.head_hash
    ));
    out
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
