//! [`ConfigError`].

use std::path::PathBuf;

/// Why a config could not be used. Messages name the file, the line, the field and the valid
/// choices; they never contain a secret's value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file `{path}`: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A `${VAR}` reference names an unset environment variable.
    #[error("{path}:{line}: environment variable `{var}` is not set (referenced as `${{{var}}}`)")]
    MissingEnv {
        /// File.
        path: PathBuf,
        /// Line (1-based).
        line: usize,
        /// Variable name.
        var: String,
    },
    /// TOML syntax or type error.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// Line (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A value is present but invalid.
    #[error("{path}:{line}: `{field}`: {message}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// Line (1-based; 0 if unknown).
        line: usize,
        /// Dotted field path, e.g. `eoffice[0].connect_type`.
        field: String,
        /// What is wrong and what is valid.
        message: String,
    },
    /// More than one value is invalid; each is listed on its own line.
    #[error("{}", list(.0))]
    Several(Vec<ConfigError>),
}

fn list(errors: &[ConfigError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}
