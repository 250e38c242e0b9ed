//! The mixed Chinese / Latin tokenizer.
//!
//! Text is scanned into *units*: runs of CJK characters, Latin (or other alphabetic) words,
//! digit runs and single emoji. Everything else (spaces, punctuation, full-width punctuation,
//! emoji modifiers) only separates units and takes no position, so `好的👍，收到` and
//! `好的 收到` index the same way around the separators.
//!
//! The text field ([`BigramTokenizer`]) gets, with consecutive positions:
//! - overlapping bigrams of every CJK run (`农业局` → `农业`, `业局`), so a query for any run of
//!   two or more CJK characters is the phrase of its bigrams and matches exactly the texts that
//!   contain it (no dictionary, so no word-boundary misses like jieba's `理中`);
//! - the character itself for a CJK run of length one;
//! - lower-cased words and digit runs, letters split from digits (`iPhone15` → `iphone`, `15`);
//! - each emoji as its own token.
//!
//! The unigram field ([`UnigramTokenizer`]) gets every CJK character alone, for one-character
//! queries (`报`), which bigrams cannot answer.
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
/// Name the unigram tokenizer is registered under.
pub const UNIGRAM: &str = "cv_unigram";

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
    let c = match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    };
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
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
        let c = fold(raw);
        let cl = class(c);
        if cl != cur || cl == Class::Emoji {
            flush(cur, &mut buf, off, f);
            cur = cl;
        }
        match cl {
            Class::Sep => {}
            Class::Letter | Class::Digit if buf.len() >= MAX_WORD_CHARS => {}
            _ => buf.push((off, c)),
        }
    }
    flush(cur, &mut buf, text.len(), f);
}

/// Tokens of the text field for one unit, appended to `out` with positions from `*pos`.
fn bigram_tokens(kind: UnitKind, chars: &[(usize, char)], end: usize, pos: &mut usize, out: &mut Vec<Token>) {
    let mut push = |from: usize, to: usize, text: String, pos: &mut usize| {
        out.push(Token {
            offset_from: from,
            offset_to: to,
            position: *pos,
            text,
            position_length: 1,
        });
        *pos += 1;
    };
    match kind {
        UnitKind::Cjk if chars.len() >= 2 => {
            for w in chars.windows(2) {
                let to = w[1].0 + w[1].1.len_utf8();
                push(w[0].0, to, [w[0].1, w[1].1].iter().collect(), pos);
            }
        }
        _ => push(chars[0].0, end, chars.iter().map(|&(_, c)| c).collect(), pos),
    }
}

/// Every token of the text field for `text` (used by tests and highlighting checks).
pub fn bigram_token_texts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pos = 0;
    scan(text, &mut |k, c, e| bigram_tokens(k, c, e, &mut pos, &mut out));
    out.into_iter().map(|t| t.text).collect()
}

/// A token stream over tokens computed up front (a chat message is short).
pub struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// CJK bigrams + words + digits + emoji, with real positions (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct BigramTokenizer;

impl Tokenizer for BigramTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let mut tokens = Vec::with_capacity(text.len() / 2);
        let mut pos = 0;
        scan(text, &mut |k, c, e| bigram_tokens(k, c, e, &mut pos, &mut tokens));
        VecTokenStream { tokens, next: 0 }
    }
}

/// Every CJK character alone (for one-character queries).
#[derive(Debug, Clone, Default)]
pub struct UnigramTokenizer;

impl Tokenizer for UnigramTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let mut tokens = Vec::new();
        let mut pos = 0;
        scan(text, &mut |kind, chars, _| {
            if kind == UnitKind::Cjk {
                for &(off, c) in chars {
                    tokens.push(Token {
                        offset_from: off,
                        offset_to: off + c.len_utf8(),
                        position: pos,
                        text: c.to_string(),
                        position_length: 1,
                    });
                    pos += 1;
                }
            }
        });
        VecTokenStream { tokens, next: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<(String, usize)> {
        let mut t = BigramTokenizer;
        let mut ts = t.token_stream(s);
        let mut out = Vec::new();
        while ts.advance() {
            out.push((ts.token().text.clone(), ts.token().position));
        }
        out
    }

    #[test]
    fn cjk_runs_become_overlapping_bigrams_with_positions() {
        assert_eq!(toks("农业局"), vec![("农业".into(), 0), ("业局".into(), 1)]);
        assert_eq!(toks("报"), vec![("报".into(), 0)]);
    }

    #[test]
    fn latin_words_are_lowercased_and_split_from_digits() {
        let t: Vec<String> = toks("iPhone15到货了 Q3合同 v2.3.1").into_iter().map(|t| t.0).collect();
        assert_eq!(
            t,
            ["iphone", "15", "到货", "货了", "q", "3", "合同", "v", "2", "3", "1"]
        );
    }

    #[test]
    fn full_width_is_folded_and_emoji_are_tokens() {
        let t: Vec<String> = toks("ＡＢＣ１２３　好的👍🏻，收到").into_iter().map(|t| t.0).collect();
        assert_eq!(t, ["abc", "123", "好的", "👍", "收到"]);
    }

    #[test]
    fn separators_take_no_position() {
        assert_eq!(toks("好的，收到"), vec![("好的".into(), 0), ("收到".into(), 1)]);
    }

    #[test]
    fn offsets_point_into_the_original() {
        let s = "ａ合同";
        let mut t = BigramTokenizer;
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
    fn unigrams_only_cover_cjk() {
        let mut t = UnigramTokenizer;
        let mut ts = t.token_stream("报销 ok 单");
        let mut out = Vec::new();
        while ts.advance() {
            out.push(ts.token().text.clone());
        }
        assert_eq!(out, ["报", "销", "单"]);
    }
}
