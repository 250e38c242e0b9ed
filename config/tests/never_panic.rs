//! Bad config text never panics the loader: arbitrary text, and the example config with
//! arbitrary edits (bytes replaced, inserted or removed, lines dropped or repeated, TOML
//! punctuation and `${` spliced in), either parses or gives an error naming a line of the
//! file. The CI side of the `config_parse` fuzz target (see docs/fuzzing.md).

use std::path::Path;

use chatvault_config::{ConfigError, parse_with_env};
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../examples/chatvault.toml");

fn env(var: &str) -> Option<String> {
    match var {
        "EOFFICE_AES_KEY" => Some("0123456789abcdef".into()),
        "EOFFICE_AES_IV" => Some("fedcba9876543210".into()),
        "WECOM_AES_KEY" => Some("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C".into()),
        // Values that need escaping in every kind of TOML string.
        v if v.ends_with("TOKEN") => Some("t'o\"k\\e\nn'''\"\"\"".into()),
        v if v.starts_with('Z') => None,
        v => Some(format!("value-of-{v}")),
    }
}

/// Parses; every error must name a line inside the text (0 when no line applies).
fn check(text: &str) {
    match parse_with_env(text, Path::new("chatvault.toml"), &env) {
        Ok(cfg) => {
            let _ = cfg.connectors();
        }
        Err(e) => {
            let lines = text.matches('\n').count() + 1;
            let mut all = vec![&e];
            if let ConfigError::Several(list) = &e {
                all.extend(list);
            }
            for e in all {
                if let ConfigError::Parse { line, .. }
                | ConfigError::MissingEnv { line, .. }
                | ConfigError::Invalid { line, .. } = e
                {
                    assert!(*line <= lines, "line {line} of {lines}: {e}");
                }
            }
            assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn the_example_parses() {
    parse_with_env(EXAMPLE, Path::new("chatvault.toml"), &env).unwrap();
}

#[derive(Debug, Clone)]
enum Edit {
    Byte(usize, u8),
    Remove(usize),
    Splice(usize, &'static str),
    DropLine(usize),
    RepeatLine(usize),
}

const SPLICES: &[&str] = &[
    "${",
    "${X}",
    "${ZZ}",
    "$${",
    "}",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "\\",
    "\\u",
    "#",
    "=",
    "[",
    "]]",
    "[[eoffice]]",
    "\n",
    "\r\n",
    "中",
    "😀",
    "\u{2028}",
    "0x",
    "1e999",
    "-",
    ".",
];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Byte(i, b)),
        any::<usize>().prop_map(Edit::Remove),
        (any::<usize>(), prop::sample::select(SPLICES)).prop_map(|(i, s)| Edit::Splice(i, s)),
        any::<usize>().prop_map(Edit::DropLine),
        any::<usize>().prop_map(Edit::RepeatLine),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut b = text.as_bytes().to_vec();
    for e in edits {
        let n = b.len();
        match *e {
            Edit::Byte(i, x) if n > 0 => b[i % n] = x,
            Edit::Remove(i) if n > 0 => {
                b.remove(i % n);
            }
            Edit::Splice(i, s) => {
                let at = i % (n + 1);
                b.splice(at..at, s.bytes());
            }
            Edit::DropLine(i) | Edit::RepeatLine(i) => {
                let s = String::from_utf8_lossy(&b).into_owned();
                let mut lines: Vec<&str> = s.split('\n').collect();
                let k = i % lines.len();
                if matches!(e, Edit::DropLine(_)) {
                    lines.remove(k);
                } else {
                    lines.insert(k, lines[k]);
                }
                b = lines.join("\n").into_bytes();
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text(s in "\\PC{0,400}") {
        check(&s);
    }

    #[test]
    fn toml_shaped_text(s in "([a-z_]{1,8} = (\"[^\"]{0,12}\"|[0-9]{1,4}|true|\\[\\])\n|\\[\\[?(eoffice|wecom|goofish|worktool|yunhu|storage|server|export)\\]\\]?\n|\\$\\{[A-Z]{0,3}\\}?|'''|\"\"\"|#.*\n){0,30}") {
        check(&s);
    }

    #[test]
    fn edited_example(edits in prop::collection::vec(edit(), 1..10)) {
        check(&apply(EXAMPLE, &edits));
    }
}
