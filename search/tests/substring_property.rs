//! Property: for random Chinese texts and random substrings of 2–4 characters, search returns
//! exactly the messages whose text contains the substring (`str::contains`).

mod support;

use proptest::prelude::*;
use proto::Platform;
use support::{Archive, Msg, ids};

/// A small alphabet so substrings repeat across texts and straddle every boundary; with
/// punctuation, a space and a Latin letter so runs are cut in different places.
const ALPHABET: &[char] = &['农', '业', '局', '处', '理', '中', '报', '销', '，', ' ', 'a'];

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(ALPHABET), 0..24).prop_map(|v| v.into_iter().collect())
}

fn needle() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(&ALPHABET[..8]), 2..=4).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn search_equals_str_contains(texts in proptest::collection::vec(text(), 1..40), needles in proptest::collection::vec(needle(), 1..8)) {
        let mut a = Archive::new();
        let msgs: Vec<Msg> = texts.iter().enumerate().map(|(i, t)| Msg::text(format!("m{i:03}"), t.clone())).collect();
        a.append(Platform::Yunhu, msgs.iter().map(Msg::event).collect());
        let s = a.index();
        for n in &needles {
            let want: Vec<String> = msgs.iter().filter(|m| m.text.contains(n.as_str())).map(|m| m.id.clone()).collect();
            prop_assert_eq!(ids(&s, n), want, "needle {}", n);
        }
        // Single characters: the union of the bigrams holding them.
        for c in ['农', '理'] {
            let want: Vec<String> = msgs.iter().filter(|m| m.text.contains(c)).map(|m| m.id.clone()).collect();
            prop_assert_eq!(ids(&s, &c.to_string()), want, "char {}", c);
        }
    }
}
