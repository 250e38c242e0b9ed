//! `${VAR}` expansion inside the string values of the config text.
//!
//! Expansion happens on the text, before parsing, so TOML errors still point at the lines the
//! user wrote; an expanded value never adds a line. Only string values are expanded (comments
//! may mention `${VAR}` freely), and the value is escaped for the kind of string it lands in,
//! so a secret containing `"` or `\` cannot break the file. `$${` writes a literal `${`.
//!
//! No crate does this (env-expansion crates work on plain strings and know nothing of TOML
//! quoting or comments), hence the small scanner below.

/// Why expansion failed; `load` turns it into a [`crate::ConfigError`] with the file name.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EnvError {
    /// `${var}` names an unset variable.
    Missing { line: usize, var: String },
    /// A `${` not followed by `NAME}`.
    Syntax { line: usize },
    /// The value cannot be written into a single-quoted string.
    Unquotable { line: usize, var: String },
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    Comment,
    Basic,
    MultiBasic,
    Literal,
    MultiLiteral,
}

/// Expands every `${NAME}` in string values of `text`, looking names up with `lookup`.
pub(crate) fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, EnvError> {
    let mut out = String::with_capacity(text.len());
    let mut mode = Mode::Normal;
    let mut line = 1;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let c = rest.chars().next().unwrap_or('\0');
        if c == '\n' {
            line += 1;
            if matches!(mode, Mode::Comment | Mode::Basic | Mode::Literal) {
                mode = Mode::Normal;
            }
            out.push(c);
            i += 1;
            continue;
        }
        let in_string = matches!(
            mode,
            Mode::Basic | Mode::MultiBasic | Mode::Literal | Mode::MultiLiteral
        );
        if in_string && rest.starts_with("$${") {
            out.push_str("${");
            i += 3;
            continue;
        }
        if in_string && rest.starts_with("${") {
            let Some(end) = rest.find('}') else {
                return Err(EnvError::Syntax { line });
            };
            let var = &rest[2..end];
            if !is_var_name(var) {
                return Err(EnvError::Syntax { line });
            }
            let value = lookup(var).ok_or_else(|| EnvError::Missing {
                line,
                var: var.to_string(),
            })?;
            match mode {
                Mode::Basic | Mode::MultiBasic => escape_basic(&value, &mut out),
                Mode::Literal if value.contains(['\'', '\n', '\r']) => {
                    return Err(EnvError::Unquotable {
                        line,
                        var: var.to_string(),
                    });
                }
                Mode::MultiLiteral if value.contains("'''") => {
                    return Err(EnvError::Unquotable {
                        line,
                        var: var.to_string(),
                    });
                }
                _ => out.push_str(&value),
            }
            i += end + 1;
            continue;
        }
        let step = match mode {
            Mode::Normal if c == '#' => {
                mode = Mode::Comment;
                1
            }
            Mode::Normal if rest.starts_with("\"\"\"") => {
                mode = Mode::MultiBasic;
                3
            }
            Mode::Normal if rest.starts_with("'''") => {
                mode = Mode::MultiLiteral;
                3
            }
            Mode::Normal if c == '"' => {
                mode = Mode::Basic;
                1
            }
            Mode::Normal if c == '\'' => {
                mode = Mode::Literal;
                1
            }
            // An escape and the character it escapes are copied together, so `\"` does not end
            // the string (a `\` before a newline still lets the newline be counted above).
            Mode::Basic | Mode::MultiBasic if c == '\\' => {
                let next = rest[1..]
                    .chars()
                    .next()
                    .filter(|&n| n != '\n')
                    .map_or(0, char::len_utf8);
                1 + next
            }
            Mode::Basic if c == '"' => {
                mode = Mode::Normal;
                1
            }
            Mode::MultiBasic if rest.starts_with("\"\"\"") => {
                mode = Mode::Normal;
                3
            }
            Mode::Literal if c == '\'' => {
                mode = Mode::Normal;
                1
            }
            Mode::MultiLiteral if rest.starts_with("'''") => {
                mode = Mode::Normal;
                3
            }
            _ => c.len_utf8(),
        };
        out.push_str(&rest[..step]);
        i += step;
    }
    Ok(out)
}

fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn escape_basic(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(var: &str) -> Option<String> {
        match var {
            "TOKEN" => Some("abc".into()),
            "QUOTE" => Some("a\"b\\c\nd".into()),
            "APOS" => Some("it's".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_in_strings_only() {
        let text = "# uses ${NOPE}\na = \"${TOKEN}-x\" # ${NOPE}\nb = '${TOKEN}'\n";
        assert_eq!(
            expand(text, &env).unwrap(),
            "# uses ${NOPE}\na = \"abc-x\" # ${NOPE}\nb = 'abc'\n"
        );
    }

    #[test]
    fn escapes_for_basic_strings() {
        let out = expand("a = \"${QUOTE}\"\n", &env).unwrap();
        assert_eq!(out, "a = \"a\\\"b\\\\c\\nd\"\n");
        let v: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(v["a"].as_str(), Some("a\"b\\c\nd"));
    }

    #[test]
    fn missing_variable_names_it_and_the_line() {
        let e = expand("a = 1\n\nb = \"${GONE}\"\n", &env).unwrap_err();
        assert_eq!(
            e,
            EnvError::Missing {
                line: 3,
                var: "GONE".into()
            }
        );
    }

    #[test]
    fn escaped_quote_does_not_end_the_string() {
        let out = expand("a = \"x\\\"${TOKEN}\" # ${NOPE}\n", &env).unwrap();
        assert_eq!(out, "a = \"x\\\"abc\" # ${NOPE}\n");
    }

    #[test]
    fn bad_syntax_and_literal_escapes() {
        assert_eq!(
            expand("a = \"${TOKEN\"\n", &env).unwrap_err(),
            EnvError::Syntax { line: 1 }
        );
        assert_eq!(
            expand("a = \"${1X}\"\n", &env).unwrap_err(),
            EnvError::Syntax { line: 1 }
        );
        assert_eq!(expand("a = \"$${TOKEN}\"\n", &env).unwrap(), "a = \"${TOKEN}\"\n");
        assert_eq!(
            expand("a = '${APOS}'\n", &env).unwrap_err(),
            EnvError::Unquotable {
                line: 1,
                var: "APOS".into()
            }
        );
    }

    #[test]
    fn multiline_strings_count_lines() {
        let text = "a = \"\"\"\nx\n\"\"\"\nb = \"${GONE}\"\n";
        assert_eq!(
            expand(text, &env).unwrap_err(),
            EnvError::Missing {
                line: 4,
                var: "GONE".into()
            }
        );
    }
}
