//! The mixed Chinese / Latin tokenizer.
//!
//! Text is scanned into *units*: runs of CJK characters, Latin (or other alphabetic) words,
//! digit runs and single emoji. Everything else (spaces, punctuation, full-width punctuation,
//! emoji modifiers) only separates units and takes no position (`ok，好的` and `ok 好的` index
//! alike), with one exception: two CJK runs, which only separators can part, are one position
//! further apart ([`cjk_gap`]). Otherwise the last bigram of one run and the first of the next
//! would sit at consecutive positions like bigrams of one run, and `处中业` would match
//! `处中，中业`.
//!
//! The text field ([`BigramTokenizer`]) gets, with consecutive positions:
//! - overlapping bigrams of every CJK run (`农业局` → `农业`, `业局`), so a query for any run of
//!   two or more CJK characters is the phrase of its bigrams and matches exactly the texts that
//!   contain it (no dictionary, so no word-boundary misses like jieba's `理中`);
//! - the character itself for a CJK run of length one;
//! - lower-cased words and digit runs, letters split from digits (`iPhone15` → `iphone`, `15`);
//! - each emoji as its own token.
//!
//! A one-character query (`报`) is answered from the same field: every occurrence of a CJK
//! character is in a bigram of its run or is a run of one, so the terms starting or ending
//! with it cover every message containing it (see `char_query`). (A separate unigram field
//! cost a fifth of the index size and a second tokenization of every text.)
//!
//! Full-width ASCII (`ＡＢＣ１２３`) is folded to ASCII first; the fold maps one char to one
//! char, so highlight offsets stay valid. It is written here because it is a fixed offset
//! (U+FF01..U+FF5E → U+0021..U+007E) and a normalization crate would bring NFKC tables for it.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Longest word kept, in chars; longer runs (base64, hashes) are cut to a prefix, which a
/// prefix query still finds.
pub const MAX_WORD_CHARS: usize = 64;

/// Name the bigram tokenizer is registered under.
pub const BIGRAM: &str = "cv_bigram";

/// What a scanned unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// A run of CJK characters (Han, kana, hangul, bopomofo).
    Cjk,
    /// A word of letters, lower-cased.
    Word,
    /// A run of digits.
    Digits,
    /// One emoji.
    Emoji,
}

/// One unit of text: its kind and its folded chars with their byte offsets in the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Kind.
    pub kind: UnitKind,
    /// `(byte offset, folded char)`; a folded char may differ from the original
    /// (`Ａ` → `a`), the offset points at the original.
    pub chars: Vec<(usize, char)>,
    /// Byte offset just past the unit in the original text.
    pub end: usize,
}

impl Unit {
    /// The folded text of the unit.
    pub fn text(&self) -> String {
        self.chars.iter().map(|&(_, c)| c).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Cjk,
    Letter,
    Digit,
    Emoji,
    Sep,
}

/// Folds full-width ASCII to ASCII, the ideographic space to a space, and lower-cases chars
/// whose lower case is a single char (the rest stay as they are, keeping offsets 1:1).
pub fn fold(c: char) -> char {
    fold_class(c).0
}

/// The folded char and its class. CJK characters have no case, so the Unicode lower-case
/// lookup (the costliest step of scanning) is skipped for them.
fn fold_class(c: char) -> (char, Class) {
    let c = match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    };
    if c.is_ascii() {
        let c = c.to_ascii_lowercase();
        let class = if c.is_ascii_lowercase() {
            Class::Letter
        } else if c.is_ascii_digit() {
            Class::Digit
        } else {
            Class::Sep
        };
        return (c, class);
    }
    if is_cjk(c) {
        return (c, Class::Cjk);
    }
    let mut lower = c.to_lowercase();
    let c = match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    };
    (c, class(c))
}

/// Whether `c` is a CJK character that is searched by bigrams.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF          // Hangul Jamo
        | 0x2E80..=0x2FDF        // CJK radicals, Kangxi radicals
        | 0x3005..=0x3007        // 々 〆 〇
        | 0x3040..=0x30FF        // Hiragana, Katakana
        | 0x3100..=0x312F        // Bopomofo
        | 0x3130..=0x318F        // Hangul compatibility Jamo
        | 0x31A0..=0x31BF        // Bopomofo extended
        | 0x31F0..=0x31FF        // Katakana phonetic extensions
        | 0x3400..=0x4DBF        // CJK extension A
        | 0x4E00..=0x9FFF        // CJK unified ideographs
        | 0xAC00..=0xD7AF        // Hangul syllables
        | 0xF900..=0xFAFF        // CJK compatibility ideographs
        | 0xFF66..=0xFF9D        // half-width Katakana
        | 0x20000..=0x3134F      // CJK extensions B–G, compatibility supplement
    )
}

fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1F3FA        // mahjong, cards, enclosed, pictographs (before skin tones)
        | 0x1F400..=0x1FAFF      // pictographs, emoticons, transport, supplemental
        | 0x2600..=0x27BF        // misc symbols, dingbats
        | 0x2B50..=0x2B55        // stars, circles
    )
}

fn class(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if is_emoji(c) {
        Class::Emoji
    } else if c.is_alphabetic() {
        Class::Letter
    } else if c.is_numeric() {
        Class::Digit
    } else {
        // Spaces, punctuation, symbols, skin-tone modifiers, ZWJ, variation selectors.
        Class::Sep
    }
}

/// Receives `(kind, chars, end)` for each unit (see [`Unit`]).
pub type UnitSink<'a> = dyn FnMut(UnitKind, &[(usize, char)], usize) + 'a;

/// Splits `text` into units, in order.
pub fn units(text: &str) -> Vec<Unit> {
    let mut out = Vec::new();
    scan(text, &mut |kind, chars, end| {
        out.push(Unit {
            kind,
            chars: chars.to_vec(),
            end,
        })
    });
    out
}

/// Calls `f(kind, chars, end)` for every unit of `text`; `chars` is reused between calls.
pub fn scan(text: &str, f: &mut UnitSink<'_>) {
    let mut buf: Vec<(usize, char)> = Vec::with_capacity(32);
    scan_with(text, &mut buf, f);
}

fn scan_with(text: &str, buf: &mut Vec<(usize, char)>, f: &mut UnitSink<'_>) {
    buf.clear();
    let mut cur = Class::Sep;
    let flush = |cur: Class, buf: &mut Vec<(usize, char)>, end: usize, f: &mut UnitSink<'_>| {
        if buf.is_empty() {
            return;
        }
        let kind = match cur {
            Class::Cjk => UnitKind::Cjk,
            Class::Letter => UnitKind::Word,
            Class::Digit => UnitKind::Digits,
            Class::Emoji => UnitKind::Emoji,
            Class::Sep => unreachable!("separators are never buffered"),
        };
        f(kind, buf, end);
        buf.clear();
    };
    for (off, raw) in text.char_indices() {
        let (c, cl) = fold_class(raw);
        if cl != cur || cl == Class::Emoji {
            flush(cur, buf, off, f);
            cur = cl;
        }
        match cl {
            Class::Sep => {}
            Class::Letter | Class::Digit if buf.len() >= MAX_WORD_CHARS => {}
            _ => buf.push((off, c)),
        }
    }
    flush(cur, buf, text.len(), f);
}

/// A token of the text field: byte range in the original, position, and its text as a range
/// of the tokenizer's text buffer.
#[derive(Debug, Clone, Copy)]
struct Span {
    from: usize,
    to: usize,
    position: usize,
    text_from: usize,
    text_to: usize,
}

/// Positions left empty before a unit of `kind` that follows a unit of kind `prev`: one
/// between two CJK runs (the separators between them), none elsewhere. Queries lay out their
/// phrases with the same rule.
pub fn cjk_gap(prev: Option<UnitKind>, kind: UnitKind) -> usize {
    usize::from(prev == Some(UnitKind::Cjk) && kind == UnitKind::Cjk)
}

/// Appends the text field's tokens for one unit, with positions from `*pos`.
fn unit_tokens(
    kind: UnitKind,
    chars: &[(usize, char)],
    end: usize,
    pos: &mut usize,
    spans: &mut Vec<Span>,
    texts: &mut String,
) {
    let mut push = |from: usize, to: usize, position: usize, text: &[char]| {
        let text_from = texts.len();
        texts.extend(text);
        spans.push(Span {
            from,
            to,
            position,
            text_from,
            text_to: texts.len(),
        });
    };
    match kind {
        UnitKind::Cjk if chars.len() >= 2 => {
            for w in chars.windows(2) {
                push(w[0].0, w[1].0 + w[1].1.len_utf8(), *pos, &[w[0].1, w[1].1]);
                *pos += 1;
            }
        }
        _ => {
            let text_from = texts.len();
            texts.extend(chars.iter().map(|&(_, c)| c));
            spans.push(Span {
                from: chars[0].0,
                to: end,
                position: *pos,
                text_from,
                text_to: texts.len(),
            });
            *pos += 1;
        }
    }
}

/// CJK bigrams + words + digits + emoji, with real positions (see the module docs).
///
/// Tokens are computed up front into buffers the tokenizer keeps between texts (a chat
/// message is short), so indexing allocates nothing per token.
#[derive(Debug, Clone, Default)]
pub struct BigramTokenizer {
    chars: Vec<(usize, char)>,
    spans: Vec<Span>,
    texts: String,
    token: Token,
}

/// The token stream of [`BigramTokenizer`].
#[derive(Debug)]
pub struct BigramTokenStream<'a> {
    spans: &'a [Span],
    texts: &'a str,
    token: &'a mut Token,
    next: usize,
}

impl TokenStream for BigramTokenStream<'_> {
    fn advance(&mut self) -> bool {
        let Some(s) = self.spans.get(self.next) else {
            return false;
        };
        self.next += 1;
        self.token.offset_from = s.from;
        self.token.offset_to = s.to;
        self.token.position = s.position;
        self.token.position_length = 1;
        self.token.text.clear();
        self.token.text.push_str(&self.texts[s.text_from..s.text_to]);
        true
    }
    fn token(&self) -> &Token {
        self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

impl Tokenizer for BigramTokenizer {
    type TokenStream<'a> = BigramTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> BigramTokenStream<'a> {
        self.spans.clear();
        self.texts.clear();
        let mut pos = 0;
        let mut prev = None;
        let (spans, texts) = (&mut self.spans, &mut self.texts);
        scan_with(text, &mut self.chars, &mut |k, c, e| {
            pos += cjk_gap(prev, k);
            prev = Some(k);
            unit_tokens(k, c, e, &mut pos, spans, texts)
        });
        self.token.reset();
        BigramTokenStream {
            spans: &self.spans,
            texts: &self.texts,
            token: &mut self.token,
            next: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<(String, usize)> {
        let mut t = BigramTokenizer::default();
        let mut ts = t.token_stream(s);
        let mut out = Vec::new();
        while ts.advance() {
            out.push((ts.token().text.clone(), ts.token().position));
        }
        out
    }

    fn texts(s: &str) -> Vec<String> {
        toks(s).into_iter().map(|t| t.0).collect()
    }

    #[test]
    fn cjk_runs_become_overlapping_bigrams_with_positions() {
        assert_eq!(toks("农业局"), vec![("农业".into(), 0), ("业局".into(), 1)]);
        assert_eq!(toks("报"), vec![("报".into(), 0)]);
    }

    #[test]
    fn latin_words_are_lowercased_and_split_from_digits() {
        assert_eq!(
            texts("iPhone15到货了 Q3合同 v2.3.1"),
            ["iphone", "15", "到货", "货了", "q", "3", "合同", "v", "2", "3", "1"]
        );
    }

    #[test]
    fn full_width_is_folded_and_emoji_are_tokens() {
        assert_eq!(
            texts("ＡＢＣ１２３　好的👍🏻，收到"),
            ["abc", "123", "好的", "👍", "收到"]
        );
    }

    #[test]
    fn separators_take_no_position_but_part_cjk_runs() {
        assert_eq!(toks("ok，收到"), vec![("ok".into(), 0), ("收到".into(), 1)]);
        assert_eq!(toks("收到 ok"), vec![("收到".into(), 0), ("ok".into(), 1)]);
        assert_eq!(toks("好的，收到"), vec![("好的".into(), 0), ("收到".into(), 2)]);
        assert_eq!(toks("处中，，中业"), vec![("处中".into(), 0), ("中业".into(), 2)]);
        assert_eq!(
            toks("好的👍收到"),
            vec![("好的".into(), 0), ("👍".into(), 1), ("收到".into(), 2)]
        );
    }

    #[test]
    fn offsets_point_into_the_original() {
        let s = "ａ合同";
        let mut t = BigramTokenizer::default();
        let mut ts = t.token_stream(s);
        assert!(ts.advance());
        assert_eq!(&s[ts.token().offset_from..ts.token().offset_to], "ａ");
        assert!(ts.advance());
        assert_eq!(&s[ts.token().offset_from..ts.token().offset_to], "合同");
    }

    #[test]
    fn long_words_are_cut() {
        let long = "x".repeat(500);
        let t = toks(&long);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].0.chars().count(), MAX_WORD_CHARS);
    }

    #[test]
    fn the_tokenizer_is_reused_across_texts() {
        let mut t = BigramTokenizer::default();
        for (text, want) in [("农业局 ok", 3), ("报", 1), ("", 0), ("a b", 2)] {
            let mut ts = t.token_stream(text);
            let mut n = 0;
            while ts.advance() {
                n += 1;
            }
            assert_eq!(n, want, "{text}");
        }
    }

    #[test]
    fn fold_matches_the_scan() {
        for c in ['Ａ', 'É', 'ß', '農', '报', '１', '\u{3000}', 'ǅ'] {
            let mut seen = Vec::new();
            scan(&c.to_string(), &mut |_, chars, _| {
                seen.extend(chars.iter().map(|&(_, c)| c))
            });
            if let Some(&s) = seen.first() {
                assert_eq!(s, fold(c));
            }
        }
    }
}
