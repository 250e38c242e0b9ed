//! [`ExportJob`]: one export as `[export]` (or `chatvault export --out`) describes it — the
//! plain local export, or the lake export to S3 (Parquet or Delta) or to a local Delta table —
//! run the same way by `chatvault export` and by the schedule inside `chatvault run`, and
//! counted in `/metrics` per target.
//!
//! Metrics (label `target` = the destination as [`ExportJob::target`] prints it: a folder or
//! `s3://bucket/prefix`, never an endpoint or a credential):
//! - `chatvault_export_runs_total`, `chatvault_export_failures_total`;
//! - `chatvault_export_bytes_total`, `chatvault_export_files_total`: what reached the target
//!   (uploaded objects for a lake target, written files for a folder);
//! - `chatvault_export_seconds` (histogram), `chatvault_export_last_success_timestamp_seconds`.

use std::path::Path;
use std::time::Instant;

/// What kind of export, with its options.
#[derive(Debug, Clone)]
enum Kind {
    Local(export::ExportOptions),
    Lake(export::LakeOptions),
}

/// One configured export.
#[derive(Debug, Clone)]
pub struct ExportJob {
    kind: Kind,
    target: String,
}

/// What a finished export did.
#[derive(Debug, Clone)]
pub enum ExportOutcome {
    /// The plain local export.
    Local(export::ExportSummary),
    /// The lake export (staged, then uploaded).
    Lake(export::LakeSummary),
}

impl ExportOutcome {
    /// The export of the archive (for a lake target: into its staging folder).
    pub fn export(&self) -> &export::ExportSummary {
        match self {
            ExportOutcome::Local(s) => s,
            ExportOutcome::Lake(s) => &s.export,
        }
    }

    /// Bytes that reached the target in this run.
    pub fn bytes_sent(&self) -> u64 {
        match self {
            ExportOutcome::Local(s) => s.bytes_written,
            ExportOutcome::Lake(s) => s.bytes_uploaded,
        }
    }

    /// Files that reached the target in this run.
    pub fn files_sent(&self) -> u64 {
        match self {
            ExportOutcome::Local(s) => (s.partitions_written + s.event_files_written) as u64,
            ExportOutcome::Lake(s) => s.files_uploaded as u64,
        }
    }
}

impl ExportJob {
    /// The export `[export]` describes, or the one `--out` names (a folder or
    /// `s3://bucket/prefix`, overriding `dir` and `target`). Delta tables and object-store
    /// targets go through the lake export; a Parquet export to a folder is the local export.
    pub fn from_config(
        cfg: &config::Config,
        data_dir: &Path,
        out: Option<&str>,
        full: bool,
    ) -> Result<ExportJob, export::ExportError> {
        let e = &cfg.export;
        let target = match out {
            Some(o) if export::LakeTarget::is_remote(o) => Some(o.to_string()),
            Some(_) => None,
            None => e.target.clone(),
        };
        let out_dir = match (out, &target) {
            (Some(o), None) => std::path::PathBuf::from(o),
            _ => export::ExportOptions::resolve_out_dir(data_dir, e.dir.as_deref()),
        };
        if target.is_none() && e.format == config::ExportFormat::Parquet {
            return Ok(ExportJob {
                target: out_dir.display().to_string(),
                kind: Kind::Local(export::ExportOptions {
                    data_dir: data_dir.to_path_buf(),
                    out_dir,
                    tz: cfg.tz,
                    full,
                    file_mode: e.parsed_file_mode().unwrap_or(export::DEFAULT_FILE_MODE),
                }),
            });
        }
        let lake_target = match &target {
            Some(t) => export::LakeTarget::parse(t)?,
            None => export::LakeTarget::Dir(out_dir),
        };
        // Credentials from the config's `${ENV}` values, else from `AWS_ACCESS_KEY_ID` /
        // `AWS_SECRET_ACCESS_KEY` (read by the S3 client itself).
        let cred = |s: &Option<config::Secret>| {
            s.as_ref()
                .filter(|s| !s.is_empty())
                .map(|s| export::Credential::new(s.expose()))
        };
        Ok(ExportJob {
            target: lake_target.to_string(),
            kind: Kind::Lake(export::LakeOptions {
                data_dir: data_dir.to_path_buf(),
                target: lake_target,
                s3: export::S3Settings {
                    endpoint: e.endpoint.clone(),
                    region: e.region.clone(),
                    path_style: e.path_style,
                    allow_http: e.allow_http,
                    access_key_id: cred(&e.access_key_id),
                    secret_access_key: cred(&e.secret_access_key),
                },
                format: match e.format {
                    config::ExportFormat::Parquet => export::LakeFormat::Parquet,
                    config::ExportFormat::Delta => export::LakeFormat::Delta,
                },
                tz: cfg.tz,
                full,
                fail_after_uploads: None,
            }),
        })
    }

    /// The destination, for people and for the metrics' `target` label: a folder or
    /// `s3://bucket/prefix` (no endpoint, no credential).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The archive's data directory.
    pub fn data_dir(&self) -> &Path {
        match &self.kind {
            Kind::Local(o) => &o.data_dir,
            Kind::Lake(o) => &o.data_dir,
        }
    }

    /// Runs the export (blocking) and counts it in the metrics.
    pub fn run(&self, progress: &mut dyn FnMut(&export::Progress)) -> Result<ExportOutcome, export::ExportError> {
        let started = Instant::now();
        let result = match &self.kind {
            Kind::Local(o) => export::run_export(o, progress).map(ExportOutcome::Local),
            Kind::Lake(o) => export::run_lake_export(o, progress).map(ExportOutcome::Lake),
        };
        let target = self.target.clone();
        metrics::counter!("chatvault_export_runs_total", "target" => target.clone()).increment(1);
        metrics::histogram!("chatvault_export_seconds", "target" => target.clone())
            .record(started.elapsed().as_secs_f64());
        match &result {
            Ok(o) => {
                metrics::counter!("chatvault_export_bytes_total", "target" => target.clone()).increment(o.bytes_sent());
                metrics::counter!("chatvault_export_files_total", "target" => target.clone()).increment(o.files_sent());
                metrics::gauge!("chatvault_export_last_success_timestamp_seconds", "target" => target)
                    .set(chrono::Utc::now().timestamp() as f64);
            }
            Err(_) => metrics::counter!("chatvault_export_failures_total", "target" => target).increment(1),
        }
        result
    }
}
