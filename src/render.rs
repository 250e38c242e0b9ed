//! Shared human-output helpers: times in the configured zone, RFC 3339 UTC for JSON, raw bytes.
