//! What every command starts from: the config (if any), the data directory, the time zone.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Resolved config and paths.
pub struct Ctx {
    /// The config file used, if any.
    pub config_path: Option<PathBuf>,
    /// The parsed config (defaults when there is no file).
    pub config: config::Config,
    /// The data directory.
    pub data_dir: PathBuf,
}

impl Ctx {
    /// Loads the config named by `-c`, else `./chatvault.toml` if present, else defaults.
    pub fn load(config: Option<&Path>, data_dir: Option<&Path>) -> anyhow::Result<Ctx> {
        let path = match config {
            Some(p) => Some(p.to_path_buf()),
            None => {
                let p = PathBuf::from("chatvault.toml");
                p.exists().then_some(p)
            }
        };
        let cfg = match &path {
            Some(p) => config::load(p).map_err(|e| crate::exit::usage(e.to_string()))?,
            None => config::Config::default(),
        };
        let data_dir = cfg.data_dir(data_dir);
        Ok(Ctx {
            config_path: path,
            config: cfg,
            data_dir,
        })
    }

    /// The configured time zone.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.config.tz
    }

    /// Opens a reader on the archive.
    pub fn reader(&self) -> anyhow::Result<store::StoreReader> {
        store::StoreReader::open(&self.data_dir)
            .with_context(|| format!("cannot open the archive in `{}`", self.data_dir.display()))
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (else `default_level`).
pub fn init_logging(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // When stderr cannot be written (its file on a full disk), the subscriber would report
        // that with `eprintln!`, which panics on the same error: every thread that logged
        // died, and archiving did not resume once the disk had space again. A line that
        // cannot be written is dropped instead.
        .log_internal_errors(false)
        .try_init();
}

/// Events committed so far in `data_dir` (0 if the archive cannot be read yet); for progress.
pub fn count_events(data_dir: &Path) -> u64 {
    store::StoreReader::open(data_dir)
        .and_then(|r| r.head())
        .map(|h| h.seq)
        .unwrap_or(0)
}
