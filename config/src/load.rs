//! Reading, `${ENV}` expansion, parsing and validation.

use std::path::Path;

use crate::{Config, ConfigError};

/// Reads and validates `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    parse(&text, path)
}

/// Parses and validates config text; `path` is only used in error messages.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        line: 0,
        message: e.message().to_string(),
    })?;
    cfg.tz = cfg.timezone.parse().map_err(|_| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: 0,
        field: "timezone".into(),
        message: format!("unknown time zone `{}` (use an IANA name such as Asia/Shanghai or UTC)", cfg.timezone),
    })?;
    Ok(cfg)
}
