//! `chatvault.toml` parsing and validation on arbitrary text. Errors point at lines of the
//! input, so the line lookup runs on every rejected document too. `${VAR}` expansion runs
//! first, with values full of quotes, backslashes and line breaks.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Variables starting with an upper-case letter are set, to values that need escaping in
    // every kind of TOML string; the others are unset.
    let lookup = |var: &str| {
        var.starts_with(|c: char| c.is_ascii_uppercase())
            .then(|| format!("v'\"\\{var}\u{2028}'''\"\"\"\n"))
    };
    match config::parse_with_env(text, Path::new("chatvault.toml"), &lookup) {
        Ok(cfg) => {
            let _ = cfg.connectors();
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
