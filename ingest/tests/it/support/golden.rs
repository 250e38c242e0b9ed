//! One golden-file convention for all five platforms: `tests/fixtures/<platform>/<case>.<ext>`
//! is an input as the platform sends it (`.frames`, `.json`, `.bin`, `.xml`, `.form`) and
//! `<case>.expected.json` is what it must decode to. `CHATVAULT_BLESS=1` rewrites the expected
//! files from what the code produces (review the diff before committing).
//!
//! An expected file may instead hold `{"error_prefix": "…"}` where the exact message comes
//! from a dependency (prost's decode errors): the outcome must then be an `error` starting
//! with it.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

/// The one variable that rewrites expected files.
pub const BLESS: &str = "CHATVAULT_BLESS";

/// One input fixture.
#[derive(Debug, Clone)]
pub struct Case {
    /// `<case>`.
    pub name: String,
    /// `<case>.<ext>`.
    pub path: PathBuf,
}

impl Case {
    /// The input's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap_or_else(|e| panic!("{}: {e}", self.path.display()))
    }

    /// The input as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes()).unwrap_or_else(|e| panic!("{}: {e}", self.path.display()))
    }

    fn expected_path(&self) -> PathBuf {
        self.path.with_file_name(format!("{}.expected.json", self.name))
    }
}

/// `tests/fixtures/<platform>`.
pub fn dir(platform: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(platform)
}

/// The case `<name>.<ext>` of a platform.
pub fn case(platform: &str, name: &str, ext: &str) -> Case {
    Case {
        name: name.to_string(),
        path: dir(platform).join(format!("{name}.{ext}")),
    }
}

/// Every `<case>.<ext>` of a platform (not the expected files), sorted by name.
pub fn cases(platform: &str, ext: &str) -> Vec<Case> {
    let suffix = format!(".{ext}");
    let mut out: Vec<Case> = std::fs::read_dir(dir(platform))
        .unwrap_or_else(|e| panic!("fixtures of {platform}: {e}"))
        .map(|e| e.unwrap().path())
        .filter_map(|path| {
            let file = path.file_name()?.to_str()?.to_string();
            let name = file.strip_suffix(&suffix)?;
            (!name.ends_with(".expected")).then(|| Case {
                name: name.to_string(),
                path: path.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Checks every `<case>.<ext>` of a platform against its expected file, `outcome` giving
/// what a case decodes to; fails unless there are at least `at_least` cases (a fixture
/// directory that went missing must not pass as "nothing to check").
pub fn check_every(platform: &str, ext: &str, at_least: usize, outcome: impl Fn(&Case) -> Value) {
    let all = cases(platform, ext);
    assert!(all.len() >= at_least, "fixtures of {platform} found: {}", all.len());
    for case in &all {
        check(case, &outcome(case));
    }
}

/// The outcome of a decoder that gives events or an error: `{"events": …}` or
/// `{"error": "<message>"}`.
pub fn events_or_error(decoded: Result<impl Serialize, impl Display>) -> Value {
    match decoded {
        Ok(events) => json!({ "events": events }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

/// Checks `got` against the case's expected file (or writes it when blessing).
pub fn check(case: &Case, got: &Value) {
    let path = case.expected_path();
    let pretty = serde_json::to_string_pretty(got).unwrap() + "\n";
    if std::env::var_os(BLESS).is_some() {
        std::fs::write(&path, pretty).unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing; run with {BLESS}=1 once", path.display()));
    let expected: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if let Some(prefix) = expected.get("error_prefix").and_then(Value::as_str) {
        let err = got["error"].as_str().unwrap_or_default();
        assert!(
            err.starts_with(prefix),
            "{}: expected an error starting with {prefix:?}, got {got}",
            case.name
        );
        return;
    }
    if *got != expected {
        let want = serde_json::to_string_pretty(&expected).unwrap() + "\n";
        let line = pretty.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{}: decoded output differs from {} at line {}:\n  got:      {}\n  expected: {}",
            case.name,
            path.display(),
            line + 1,
            pretty.lines().nth(line).unwrap_or(""),
            want.lines().nth(line).unwrap_or("")
        );
    }
}
