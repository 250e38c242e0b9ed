//! Tampering with a stored archive the way an attacker with write access to the file would,
//! for the tests that prove `verify` notices: the edit is made to the event itself, through
//! whatever compression the store applied, so the test checks the chain and not the codec.

/// Rewrites the stored envelope of event `seq` as `edit` changes its JSON text, keeping its
/// compression (stored as is, zstd, or zstd with its dictionary): a tamper with the event
/// itself, not with how it is stored. Returns the rows changed.
pub fn tamper_payload(conn: &rusqlite::Connection, seq: i64, edit: impl Fn(&str) -> String) -> usize {
    use rusqlite::OptionalExtension;
    let Some((stored, zdict)) = conn
        .query_row("SELECT payload, zdict FROM events WHERE seq = ?1", [seq], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<i64>>(1)?))
        })
        .optional()
        .unwrap()
    else {
        return 0;
    };
    let dict: Vec<u8> = match zdict {
        Some(id) if id > 0 => conn
            .query_row("SELECT bytes FROM dicts WHERE id = ?1", [id], |r| r.get(0))
            .unwrap(),
        _ => Vec::new(),
    };
    let plain = match zdict {
        None => stored,
        Some(_) => zstd::bulk::Decompressor::with_dictionary(&dict)
            .unwrap()
            .decompress(&stored, 1 << 24)
            .unwrap(),
    };
    let text = edit(&String::from_utf8(plain).unwrap());
    let restored = match zdict {
        None => text.into_bytes(),
        Some(_) => zstd::bulk::Compressor::with_dictionary(3, &dict)
            .unwrap()
            .compress(text.as_bytes())
            .unwrap(),
    };
    conn.execute(
        "UPDATE events SET payload = ?2 WHERE seq = ?1",
        rusqlite::params![seq, restored],
    )
    .unwrap()
}
