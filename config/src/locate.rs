//! Maps between lines of the config text and dotted field paths (`eoffice[1].aes_key`).
//!
//! Validation runs on the typed config, which has no positions; error messages still name a
//! line, found by scanning the text's table headers and keys. This understands the layout a
//! config is written in (`[table]`, `[[array]]`, `key = value`), not all of TOML; when it
//! cannot place a field it falls back to the table's header, then to line 0.

/// Where a field lives: `section` is `None` for top-level keys, `index` is set for `[[array]]`
/// tables.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldPath<'a> {
    pub section: Option<&'a str>,
    pub index: Option<usize>,
    pub key: &'a str,
}

impl FieldPath<'_> {
    /// Dotted display form.
    pub fn display(&self) -> String {
        match (self.section, self.index) {
            (None, _) => self.key.to_string(),
            (Some(s), Some(i)) => format!("{s}[{i}].{}", self.key),
            (Some(s), None) => format!("{s}.{}", self.key),
        }
    }
}

/// One line as seen by the scanner.
struct Scan<'a> {
    line: usize,
    section: Option<&'a str>,
    index: Option<usize>,
    header: bool,
    key: Option<&'a str>,
}

fn scan(text: &str) -> Vec<Scan<'_>> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    let mut section: Option<&str> = None;
    let mut index = None;
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let l = raw.trim();
        let mut header = false;
        let mut key = None;
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim();
            let slot = match counts.iter_mut().find(|(k, _)| *k == name) {
                Some((_, c)) => {
                    *c += 1;
                    *c
                }
                None => {
                    counts.push((name, 0));
                    0
                }
            };
            section = Some(name);
            index = Some(slot);
            header = true;
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            section = Some(name.trim());
            index = None;
            header = true;
        } else if !l.starts_with('#') {
            key = l.split_once('=').map(|(k, _)| k.trim().trim_matches(['"', '\'']));
        }
        out.push(Scan {
            line: n + 1,
            section,
            index,
            header,
            key,
        });
    }
    out
}

/// The line of `field`: its key's line, else its table's header line, else 0.
pub(crate) fn line_of(text: &str, field: FieldPath<'_>) -> usize {
    let lines = scan(text);
    let in_table = |s: &&Scan<'_>| s.section == field.section && s.index == field.index;
    lines
        .iter()
        .filter(in_table)
        .find(|s| s.key == Some(field.key))
        .or_else(|| lines.iter().filter(in_table).find(|s| s.header))
        .map_or(0, |s| s.line)
}

/// The line of `key` in `section` (`[[section]]` element `index`), for checks made outside this
/// crate (e.g. the export schedule); 0 when it cannot be placed.
pub fn field_line(text: &str, section: Option<&str>, index: Option<usize>, key: &str) -> usize {
    line_of(text, FieldPath { section, index, key })
}

/// The dotted field path written on `line`, if it holds a key (for TOML errors, which come
/// with a position but not a name).
pub(crate) fn field_at(text: &str, line: usize) -> Option<String> {
    let lines = scan(text);
    let s = lines.iter().find(|s| s.line == line)?;
    if s.header {
        return s.section.map(|sec| match s.index {
            Some(i) => format!("{sec}[{i}]"),
            None => sec.to_string(),
        });
    }
    let key = s.key?;
    Some(
        FieldPath {
            section: s.section,
            index: s.index,
            key,
        }
        .display(),
    )
}

/// 1-based line of a byte offset.
pub(crate) fn line_at_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "timezone = \"UTC\"\n\n[[eoffice]]\nname = \"a\"\n\n[[eoffice]]\nname = \"b\"\naes_key = \"x\"\n[server]\nlisten = \"x\"\n";

    #[test]
    fn finds_keys_in_the_right_array_element() {
        let f = |section, index, key| line_of(TEXT, FieldPath { section, index, key });
        assert_eq!(f(None, None, "timezone"), 1);
        assert_eq!(f(Some("eoffice"), Some(0), "name"), 4);
        assert_eq!(f(Some("eoffice"), Some(1), "name"), 7);
        assert_eq!(f(Some("eoffice"), Some(1), "aes_key"), 8);
        // Missing key: the table header.
        assert_eq!(f(Some("eoffice"), Some(0), "aes_key"), 3);
        assert_eq!(f(Some("server"), None, "listen"), 10);
        assert_eq!(f(Some("wecom"), Some(0), "path"), 0);
    }

    #[test]
    fn names_the_field_on_a_line() {
        assert_eq!(field_at(TEXT, 8).as_deref(), Some("eoffice[1].aes_key"));
        assert_eq!(field_at(TEXT, 1).as_deref(), Some("timezone"));
        assert_eq!(field_at(TEXT, 6).as_deref(), Some("eoffice[1]"));
        assert_eq!(field_at(TEXT, 2), None);
        assert_eq!(line_at_offset(TEXT, 0), 1);
        assert_eq!(line_at_offset(TEXT, TEXT.find("[server]").unwrap()), 9);
    }
}
