//! Data-driven recall: (documents, query, expected ids), including the substring cases word
//! segmentation misses, mixed Chinese/English, full-width forms and emoji.

mod support;

use chatvault_search as search;

use search::Searcher;
use support::{Archive, Msg, ids};

const DOCS: &[(&str, &str)] = &[
    ("d01", "这个单子待处理"),
    ("d02", "中国农业发展银行的贷款"),
    ("d03", "安装简单，没有复杂的配置"),
    ("d04", "在建工程进度"),
    ("d05", "永永远远是龙的传人"),
    ("d06", "农业局的报告"),
    ("d07", "已经处理好了，请联系管理中心"),
    ("d08", "iPhone15到货了"),
    ("d09", "shipping notice"),
    ("d10", "报销单"),
    ("d11", "Q3合同已签"),
    ("d12", "ＡＢＣ公司的Ｑ３报价"),
    ("d13", "好的👍收到"),
    ("d14", "处理中，请稍候"),
    ("d15", "Invoice #123 sent"),
    ("d16", "会议改到3点 OK?"),
    ("d17", "明天开会，会议室见"),
];

const CASES: &[(&str, &[&str])] = &[
    // Two-character substrings, wherever they fall in a word.
    ("农业", &["d02", "d06"]),
    ("处理", &["d01", "d07", "d14"]),
    ("业局", &["d06"]),
    ("龙的", &["d05"]),
    ("简单", &["d03"]),
    ("工程", &["d04"]),
    ("理中", &["d07", "d14"]),
    // Three and more: exact substrings, no false positive from 处理 + 理中 in d07.
    ("处理中", &["d14"]),
    ("农业发展银行", &["d02"]),
    ("中国农业", &["d02"]),
    // Bigrams of two runs never chain: 开会议 is not in 开会，会议室, which has 开会 and 会议.
    ("开会议", &[]),
    ("开会，会议", &["d17"]),
    ("\"开会 会议\"", &["d17"]),
    // One character.
    ("报", &["d06", "d10", "d12"]),
    ("单", &["d01", "d03", "d10"]),
    // Mixed Chinese / English and digits.
    ("Q3合同", &["d11"]),
    ("q3", &["d11", "d12"]),
    ("3合", &["d11"]),
    ("iPhone15", &["d08"]),
    ("iphone", &["d08"]),
    ("15到货", &["d08"]),
    ("IPHONE15到货了", &["d08"]),
    // Latin words: case-insensitive, prefixes.
    ("invoice", &["d15"]),
    ("INVOICE", &["d15"]),
    ("ship", &["d09"]),
    ("123", &["d15"]),
    ("ok", &["d16"]),
    // Full-width forms fold to ASCII, both ways.
    ("abc公司", &["d12"]),
    ("ＡＢＣ", &["d12"]),
    ("Ｑ３报价", &["d12"]),
    // Emoji are their own tokens and do not glue their neighbours together.
    ("👍", &["d13"]),
    ("好的", &["d13"]),
    ("好的收到", &[]),
    // Syntax: AND, OR, exclusion, phrases.
    ("农业 报告", &["d06"]),
    ("农业 OR 龙的", &["d02", "d05", "d06"]),
    ("处理 -处理中", &["d01", "d07"]),
    ("\"shipping notice\"", &["d09"]),
    ("\"notice shipping\"", &[]),
    ("合同 -已签", &[]),
    ("不存在", &[]),
];

#[test]
fn every_case_finds_exactly_the_expected_messages() {
    let (_a, s) = indexed_docs();
    let mut failures = Vec::new();
    for (q, want) in CASES {
        let got = ids(&s, q);
        if got != *want {
            failures.push(format!("{q}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn results_agree_with_str_contains_for_every_cjk_substring() {
    let (_a, s) = indexed_docs();
    // Every run of 2..=4 CJK characters of every document, checked against str::contains.
    for (_, text) in DOCS {
        let chars: Vec<char> = text.chars().collect();
        for len in 2..=4 {
            for w in chars.windows(len) {
                if !w.iter().all(|&c| search::tokenizer::is_cjk(c)) {
                    continue;
                }
                let sub: String = w.iter().collect();
                let want: Vec<String> = DOCS
                    .iter()
                    .filter(|(_, t)| t.contains(&sub))
                    .map(|(id, _)| id.to_string())
                    .collect();
                assert_eq!(ids(&s, &sub), want, "query {sub}");
            }
        }
    }
}

/// An archive of [`DOCS`], indexed.
fn indexed_docs() -> (Archive, Searcher) {
    let msgs: Vec<Msg> = DOCS.iter().map(|(id, t)| Msg::text(*id, *t)).collect();
    Archive::indexed(&msgs)
}
