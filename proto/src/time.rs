//! Timestamps: milliseconds since the Unix epoch, UTC.

/// Milliseconds since 1970-01-01T00:00:00Z. Every time in the model uses this unit.
pub type TimestampMs = i64;

/// Now, in [`TimestampMs`].
pub fn now_ms() -> TimestampMs {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_millis() as TimestampMs
}

/// Earliest time accepted as a real platform timestamp (2000-01-01). Anything earlier is
/// almost certainly seconds mistaken for milliseconds or a zero default.
pub const MIN_PLAUSIBLE_MS: TimestampMs = 946_684_800_000;
/// Latest time accepted (2100-01-01).
pub const MAX_PLAUSIBLE_MS: TimestampMs = 4_102_444_800_000;

/// Whether `ts` looks like a real millisecond timestamp.
pub fn plausible(ts: TimestampMs) -> bool {
    (MIN_PLAUSIBLE_MS..MAX_PLAUSIBLE_MS).contains(&ts)
}
