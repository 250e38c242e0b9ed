//! `chatvault export [--out DIR|s3://bucket/prefix] [--full]`: one export on demand, with a
//! progress bar (on a terminal) and a summary. Works while `run` is running; the export lock
//! keeps it apart from the scheduled export.
//!
//! Where it goes: `--out` if given, else `[export] target` (object storage) or `[export] dir`.
//! A Parquet export to a folder is the plain local export; object-store targets and Delta
//! tables go through the lake export (staged locally, uploaded, manifest last).

use indicatif::{ProgressBar, ProgressStyle};

use crate::context::Ctx;

/// Runs the command.
pub fn run(ctx: &Ctx, args: crate::cli::ExportArgs) -> anyhow::Result<()> {
    let cfg = &ctx.config.export;
    let out = args.out.map(|p| p.to_string_lossy().into_owned());
    let target = match &out {
        Some(o) if export::LakeTarget::is_remote(o) => Some(o.clone()),
        Some(_) => None,
        None => cfg.target.clone(),
    };
    let out_dir = match (&out, &target) {
        (Some(o), None) => std::path::PathBuf::from(o),
        _ => export::ExportOptions::resolve_out_dir(&ctx.data_dir, cfg.dir.as_deref()),
    };
    let bar = ProgressBar::new(0);
    let mut stage = None;
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
    };
    // indicatif draws only when stderr is a terminal, so piped output stays clean.
    if target.is_some() || cfg.format == config::ExportFormat::Delta {
        let lake_target = match &target {
            Some(t) => export::LakeTarget::parse(t)?,
            None => export::LakeTarget::Dir(out_dir),
        };
        let opts = lake_options(ctx, lake_target, args.full);
        let summary = export::run_lake_export(&opts, &mut on_progress);
        bar.finish_and_clear();
        let s = summary?;
        println!("{}", render_lake(&s));
        return Ok(());
    }
    let opts = export::ExportOptions {
        data_dir: ctx.data_dir.clone(),
        out_dir,
        tz: ctx.tz(),
        full: args.full,
        file_mode: cfg.parsed_file_mode().unwrap_or(export::DEFAULT_FILE_MODE),
    };
    let summary = export::run_export(&opts, &mut on_progress);
    bar.finish_and_clear();
    let s = summary?;
    super::anchor::record(&ctx.data_dir, s.to_seq, &s.head_hash, "export")?;
    println!("{}", render(&s));
    Ok(())
}

/// The lake export's options from `[export]`: credentials from the config's `${ENV}` values,
/// else from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (read by the S3 client itself).
pub fn lake_options(ctx: &Ctx, target: export::LakeTarget, full: bool) -> export::LakeOptions {
    let cfg = &ctx.config.export;
    let cred = |s: &Option<config::Secret>| {
        s.as_ref()
            .filter(|s| !s.is_empty())
            .map(|s| export::Credential::new(s.expose()))
    };
    export::LakeOptions {
        data_dir: ctx.data_dir.clone(),
        target,
        s3: export::S3Settings {
            endpoint: cfg.endpoint.clone(),
            region: cfg.region.clone(),
            path_style: cfg.path_style,
            allow_http: cfg.allow_http,
            access_key_id: cred(&cfg.access_key_id),
            secret_access_key: cred(&cfg.secret_access_key),
        },
        format: match cfg.format {
            config::ExportFormat::Parquet => export::LakeFormat::Parquet,
            config::ExportFormat::Delta => export::LakeFormat::Delta,
        },
        tz: ctx.tz(),
        full,
        fail_after_uploads: None,
    }
}

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
