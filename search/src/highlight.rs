//! Hit highlighting for display: where the query's terms occur in a message text, and a
//! snippet around the first hit for long texts.
//!
//! Matching folds case and full-width forms the way the index does, char for char, so byte
//! ranges point into the original text. Each searchable unit of a term (CJK run, word, digit
//! run, emoji) is highlighted wherever it occurs.

use std::ops::Range;

use crate::tokenizer::{fold, units};

/// A piece of text to display; `hit` pieces are highlighted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The text, from the original.
    pub text: String,
    /// Whether it matched.
    pub hit: bool,
}

/// Byte ranges of `text` matched by `terms`, sorted and merged.
pub fn hit_ranges<'a>(text: &str, terms: impl IntoIterator<Item = &'a str>) -> Vec<Range<usize>> {
    let hay: Vec<(usize, char)> = text.char_indices().map(|(o, c)| (o, fold(c))).collect();
    let mut ranges = Vec::new();
    for term in terms {
        for unit in units(term) {
            let needle: Vec<char> = unit.chars.iter().map(|&(_, c)| c).collect();
            if needle.is_empty() || needle.len() > hay.len() {
                continue;
            }
            for start in 0..=hay.len() - needle.len() {
                if hay[start..start + needle.len()]
                    .iter()
                    .map(|&(_, c)| c)
                    .eq(needle.iter().copied())
                {
                    let end_idx = start + needle.len();
                    let end = hay.get(end_idx).map_or(text.len(), |&(o, _)| o);
                    ranges.push(hay[start].0..end);
                }
            }
        }
    }
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<Range<usize>> = Vec::new();
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// `text` cut to about `max_chars` around the first hit (with `…` where cut), split into
/// highlighted and plain segments. Line breaks become spaces (one result per line).
pub fn highlight<'a>(text: &str, terms: impl IntoIterator<Item = &'a str>, max_chars: usize) -> Vec<Segment> {
    let ranges = hit_ranges(text, terms);
    let total = text.chars().count();
    let (from, to) = if total <= max_chars {
        (0, text.len())
    } else {
        let first = ranges.first().map_or(0, |r| text[..r.start].chars().count());
        let start_char = first.saturating_sub(max_chars / 4).min(total - max_chars);
        let byte = |n: usize| text.char_indices().nth(n).map_or(text.len(), |(o, _)| o);
        (byte(start_char), byte(start_char + max_chars))
    };
    let mut out = Vec::new();
    let clean = |s: &str| s.replace(['\n', '\r'], " ");
    if from > 0 {
        out.push(Segment {
            text: "…".into(),
            hit: false,
        });
    }
    let mut pos = from;
    for r in ranges.iter().filter(|r| r.end > from && r.start < to) {
        let (s, e) = (r.start.max(from), r.end.min(to));
        if s > pos {
            out.push(Segment {
                text: clean(&text[pos..s]),
                hit: false,
            });
        }
        out.push(Segment {
            text: clean(&text[s..e]),
            hit: true,
        });
        pos = e;
    }
    if pos < to {
        out.push(Segment {
            text: clean(&text[pos..to]),
            hit: false,
        });
    }
    if to < text.len() {
        out.push(Segment {
            text: "…".into(),
            hit: false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(text: &str, terms: &[&str], max: usize) -> String {
        highlight(text, terms.iter().copied(), max)
            .into_iter()
            .map(|s| if s.hit { format!("[{}]", s.text) } else { s.text })
            .collect()
    }

    #[test]
    fn marks_cjk_latin_and_full_width() {
        assert_eq!(marked("中国农业发展银行", &["农业"], 100), "中国[农业]发展银行");
        assert_eq!(marked("New iPhone15 到货", &["iphone15"], 100), "New [iPhone15] 到货");
        assert_eq!(marked("ＡＢＣ合同", &["abc"], 100), "[ＡＢＣ]合同");
    }

    #[test]
    fn overlapping_hits_merge() {
        assert_eq!(marked("待处理中", &["处理", "理中"], 100), "待[处理中]");
    }

    #[test]
    fn long_texts_are_cut_around_the_first_hit() {
        let text = format!("{}合同{}", "前".repeat(100), "后".repeat(100));
        let m = marked(&text, &["合同"], 20);
        assert!(m.starts_with('…') && m.ends_with('…'), "{m}");
        assert!(m.contains("[合同]"), "{m}");
        assert_eq!(m.chars().filter(|&c| c != '[' && c != ']').count(), 22);
    }
}
