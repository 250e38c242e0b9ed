//! `chatvault export [--out DIR] [--full]`: one Parquet export on demand, with a progress bar
//! (on a terminal) and a summary. Works while `run` is running; the export lock keeps it apart
//! from the scheduled export.

use indicatif::{ProgressBar, ProgressStyle};

use crate::context::Ctx;

/// Runs the command.
pub fn run(ctx: &Ctx, args: crate::cli::ExportArgs) -> anyhow::Result<()> {
    let out_dir = match args.out {
        Some(p) => p,
        None => export::ExportOptions::resolve_out_dir(&ctx.data_dir, ctx.config.export.dir.as_deref()),
    };
    let opts = export::ExportOptions {
        data_dir: ctx.data_dir.clone(),
        out_dir,
        tz: ctx.tz(),
        full: args.full,
    };
    // indicatif draws only when stderr is a terminal, so piped output stays clean.
    let bar = ProgressBar::new(0);
    let mut stage = None;
    let summary = export::run_export(&opts, &mut |p| {
        if stage != Some(p.stage) {
            stage = Some(p.stage);
            let template = match p.stage {
                export::Stage::Scanning => "finding changed partitions…",
                export::Stage::Messages => "messages {bar:30} {pos}/{len} partitions, {msg} rows",
                export::Stage::Events => "events   {bar:30} {pos}/{len} events",
                export::Stage::Finishing => "publishing files and manifest…",
            };
            bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
            bar.reset();
        }
        bar.set_length(p.total);
        bar.set_position(p.done);
        bar.set_message(p.rows.to_string());
    });
    bar.finish_and_clear();
    let s = summary?;
    super::anchor::record(&ctx.data_dir, s.to_seq, &s.head_hash, "export")?;
    println!("{}", render(&s));
    Ok(())
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
