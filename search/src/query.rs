//! The user's query syntax: words are AND-ed, `"quoted phrase"` (also `“…”`) keeps its spaces,
//! `-word` / `-"phrase"` excludes, `a OR b` matches either (OR binds tighter than the implicit
//! AND: `合同 张三 OR 李四` = 合同 AND (张三 OR 李四)).

use crate::SearchError;

/// A parsed query: every clause must match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedQuery {
    /// AND-ed clauses.
    pub clauses: Vec<Clause>,
}

/// One clause: any of its terms matches; `negated` clauses must not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// Excluded (`-term`).
    pub negated: bool,
    /// OR-ed alternatives (one unless `OR` was used).
    pub any: Vec<String>,
}

impl ParsedQuery {
    /// Every positive term (for highlighting).
    pub fn positive_terms(&self) -> impl Iterator<Item = &str> {
        self.clauses
            .iter()
            .filter(|c| !c.negated)
            .flat_map(|c| c.any.iter().map(String::as_str))
    }
}

#[derive(Debug, PartialEq)]
enum Lexeme {
    Term { text: String, negated: bool, quoted: bool },
    Or,
}

fn is_open_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '＂')
}

fn closes(open: char, c: char) -> bool {
    match open {
        '“' => matches!(c, '”' | '"'),
        _ => c == open,
    }
}

fn lex(input: &str) -> Result<Vec<Lexeme>, SearchError> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut negated = false;
        if c == '-' {
            chars.next();
            match chars.peek() {
                Some(&(_, n)) if !n.is_whitespace() => negated = true,
                // A lone `-` is punctuation, not an operator.
                _ => continue,
            }
        }
        let &(_, c) = chars.peek().expect("peeked above");
        if is_open_quote(c) {
            chars.next();
            let mut text = String::new();
            let mut closed = false;
            for (_, n) in chars.by_ref() {
                if closes(c, n) {
                    closed = true;
                    break;
                }
                text.push(n);
            }
            if !closed {
                return Err(SearchError::Query(format!(
                    "unbalanced quote: the phrase starting at character {} is never closed",
                    input[..start].chars().count() + 1
                )));
            }
            out.push(Lexeme::Term {
                text,
                negated,
                quoted: true,
            });
            continue;
        }
        let mut text = String::new();
        while let Some(&(_, n)) = chars.peek() {
            if n.is_whitespace() || is_open_quote(n) {
                break;
            }
            text.push(n);
            chars.next();
        }
        if text == "OR" && !negated {
            out.push(Lexeme::Or);
        } else {
            out.push(Lexeme::Term {
                text,
                negated,
                quoted: false,
            });
        }
    }
    Ok(out)
}

/// Parses a query string.
pub fn parse(input: &str) -> Result<ParsedQuery, SearchError> {
    let lexemes = lex(input)?;
    let mut clauses: Vec<Clause> = Vec::new();
    let mut pending_or = false;
    for (i, lx) in lexemes.into_iter().enumerate() {
        match lx {
            Lexeme::Or => {
                if i == 0 || pending_or {
                    return Err(SearchError::Query("`OR` needs a term on each side".into()));
                }
                pending_or = true;
            }
            Lexeme::Term { text, negated, quoted } => {
                if text.trim().is_empty() {
                    if quoted {
                        return Err(SearchError::Query("empty quoted phrase \"\"".into()));
                    }
                    continue;
                }
                if pending_or {
                    let last = clauses.last_mut().expect("OR follows a term");
                    if negated || last.negated {
                        return Err(SearchError::Query(
                            "an excluded term (-word) cannot be part of an OR".into(),
                        ));
                    }
                    last.any.push(text);
                    pending_or = false;
                } else {
                    clauses.push(Clause {
                        negated,
                        any: vec![text],
                    });
                }
            }
        }
    }
    if pending_or {
        return Err(SearchError::Query("`OR` needs a term on each side".into()));
    }
    Ok(ParsedQuery { clauses })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(negated: bool, any: &[&str]) -> Clause {
        Clause {
            negated,
            any: any.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn words_phrases_exclusions_and_or() {
        let q = parse(r#"合同 "好的 收到" -草稿 张三 OR 李四"#).unwrap();
        assert_eq!(
            q.clauses,
            vec![
                c(false, &["合同"]),
                c(false, &["好的 收到"]),
                c(true, &["草稿"]),
                c(false, &["张三", "李四"])
            ]
        );
    }

    #[test]
    fn chinese_quotes_and_negated_phrase() {
        let q = parse("“审批 流程” -\"测试 数据\"").unwrap();
        assert_eq!(q.clauses, vec![c(false, &["审批 流程"]), c(true, &["测试 数据"])]);
    }

    #[test]
    fn hyphen_inside_a_word_is_kept() {
        let q = parse("follow-up -").unwrap();
        assert_eq!(q.clauses, vec![c(false, &["follow-up"])]);
    }

    #[test]
    fn bad_syntax_is_a_clear_error() {
        for bad in [
            "\"合同",
            "合同 “审批",
            "OR 合同",
            "合同 OR",
            "a OR OR b",
            "a OR -b",
            "\"\"",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(matches!(e, SearchError::Query(_)), "{bad}: {e}");
        }
        assert!(parse("\"合同").unwrap_err().to_string().contains("unbalanced quote"));
    }

    #[test]
    fn lowercase_or_is_a_word() {
        let q = parse("a or b").unwrap();
        assert_eq!(q.clauses.len(), 3);
    }
}
