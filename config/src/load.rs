//! Reading, `${ENV}` expansion, parsing and validation.

use std::path::Path;

use crate::env::{self, EnvError};
use crate::{Config, ConfigError, locate, validate};

/// Reads and validates `path`, expanding `${VAR}` from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses and validates config text; `path` is only used in error messages.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    parse_with_env(text, path, &|var| std::env::var(var).ok())
}

/// [`parse`] with `${VAR}` looked up in `lookup` instead of the process environment.
pub fn parse_with_env(text: &str, path: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let path = path.to_path_buf();
    let text = env::expand(text, lookup).map_err(|e| match e {
        EnvError::Missing { line, var } => ConfigError::MissingEnv {
            path: path.clone(),
            line,
            var,
        },
        EnvError::Syntax { line } => ConfigError::Parse {
            path: path.clone(),
            line,
            message: "`${` must be followed by a variable name and `}`, as in `${EOFFICE_TOKEN}` \
                      (write `$${` for a literal `${`)"
                .into(),
        },
        EnvError::Unquotable { line, var } => ConfigError::Parse {
            path: path.clone(),
            line,
            message: format!(
                "the value of `{var}` contains a quote or line break and cannot go into a \
                 '…' string; use a \"…\" string"
            ),
        },
    })?;

    let mut cfg: Config = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(0, |s| locate::line_at_offset(&text, s.start));
        let message = e.message().trim_end().to_string();
        let message = match locate::field_at(&text, line) {
            // serde's socket address error does not say what it wants.
            Some(field) if field == "server.listen" => {
                format!("`{field}`: {message}; expected IP:port such as 127.0.0.1:8088 or [::1]:8088")
            }
            Some(field) => format!("`{field}`: {message}"),
            None => message,
        };
        ConfigError::Parse {
            path: path.clone(),
            line,
            message,
        }
    })?;

    let mut errors = Vec::new();
    match cfg.timezone.parse() {
        Ok(tz) => cfg.tz = tz,
        Err(_) => errors.push(ConfigError::Invalid {
            path: path.clone(),
            line: locate::line_of(
                &text,
                locate::FieldPath {
                    section: None,
                    index: None,
                    key: "timezone",
                },
            ),
            field: "timezone".into(),
            message: format!(
                "unknown time zone `{}`; use an IANA name such as Asia/Shanghai or UTC",
                cfg.timezone
            ),
        }),
    }
    for issue in validate::check(&cfg) {
        errors.push(ConfigError::Invalid {
            path: path.clone(),
            line: locate::line_of(&text, issue.path()),
            field: issue.path().display(),
            message: issue.message,
        });
    }
    match errors.len() {
        0 => Ok(cfg),
        1 => Err(errors.remove(0)),
        _ => Err(ConfigError::Several(errors)),
    }
}
