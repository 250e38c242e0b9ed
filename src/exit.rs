//! Exit codes and human error reports.

/// Exit code for bad usage or input (unknown filter value, unbalanced quote, bad config).
pub const USAGE: i32 = 2;
/// Exit code for a failed check (`verify` found tampering, `check-config` found errors).
pub const CHECK_FAILED: i32 = 3;
/// Exit code for every other failure.
pub const FAILURE: i32 = 1;

/// An error that carries its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Coded {
    /// Exit code.
    pub code: i32,
    /// Message.
    pub message: String,
}

/// A usage error (exit 2).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Coded {
        code: USAGE,
        message: message.into(),
    }
    .into()
}

/// A failed check (exit 3).
pub fn check_failed(message: impl Into<String>) -> anyhow::Error {
    Coded {
        code: CHECK_FAILED,
        message: message.into(),
    }
    .into()
}

/// Prints `e` with its causes and returns the exit code.
pub fn report(e: &anyhow::Error) -> i32 {
    // A closed pipe (`chatvault search … | head`) is not an error.
    if let Some(io) = e.downcast_ref::<std::io::Error>()
        && io.kind() == std::io::ErrorKind::BrokenPipe
    {
        return 0;
    }
    eprintln!("error: {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    e.downcast_ref::<Coded>().map(|c| c.code).unwrap_or(FAILURE)
}
