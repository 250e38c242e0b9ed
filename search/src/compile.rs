//! Turns a parsed query and filters into a tantivy query.
//!
//! A term is scanned into units exactly as the index is (see `tokenizer`), then:
//! - one CJK character alone → every term holding it ([`CharQuery`]);
//! - one Latin word alone → that word (ranked) or any word starting with it (`ship` finds
//!   `shipping`);
//! - otherwise the phrase of its tokens at consecutive positions, which for CJK bigrams is
//!   exact substring semantics. At the phrase's edges a lone CJK character may be part of a
//!   longer run in the text, so the first position also accepts a bigram ending with it and
//!   the last one a bigram starting with it (`3合` finds `Q3合同`); a Latin word at the end is a
//!   prefix.
//!
//! A query that is one clause and no filter is returned as it is, not inside a boolean query:
//! that is what lets a term use block-max WAND and a phrase its bound when ranking.

use std::ops::Bound;

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, Query, RangeQuery, RegexPhraseQuery,
    RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use crate::SearchError;
use crate::char_query::CharQuery;
use crate::materialize::Materialized;
use crate::phrase::ExactPhrase;
use crate::query::ParsedQuery;
use crate::schema::{Fields, SEP};
use crate::tokenizer::{UnitKind, cjk_gap, units};

/// Limits a term's regex expansions; past it the query fails loudly rather than missing hits.
const MAX_EXPANSIONS: u32 = 1 << 16;

/// Filters applied besides the text query; empty lists mean "any".
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Platform ordinals.
    pub platforms: Vec<u64>,
    /// Chat keys (`platform␟account␟chat_id`, see [`crate::schema::chat_key`]).
    pub chats: Vec<String>,
    /// Sender keys (`platform␟sender_id`, see [`crate::schema::sender_key`]).
    pub senders: Vec<String>,
    /// Sent at or after (UTC ms).
    pub since: Option<i64>,
    /// Sent before (UTC ms).
    pub until: Option<i64>,
    /// Content type ordinals.
    pub content_types: Vec<u64>,
    /// State ordinals.
    pub states: Vec<u64>,
}

/// One position of a phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pos {
    Exact(String),
    Regex(String),
}

/// How one term is searched on a text field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    Char(char),
    Word(String),
    /// Positions with their offsets in the phrase (CJK runs are one apart, as in the index).
    Phrase(Vec<(usize, Pos)>),
    Nothing,
}

fn plan(term: &str) -> Plan {
    let us = units(term);
    if us.is_empty() {
        return Plan::Nothing;
    }
    if us.len() == 1 {
        let u = &us[0];
        match u.kind {
            UnitKind::Cjk if u.chars.len() == 1 => return Plan::Char(u.chars[0].1),
            UnitKind::Word => return Plan::Word(u.text()),
            _ => {}
        }
    }
    let last = us.len() - 1;
    let mut positions = Vec::new();
    let mut offset = 0;
    let mut prev = None;
    let mut push = |pos: Pos, offset: &mut usize| {
        positions.push((*offset, pos));
        *offset += 1;
    };
    for (i, u) in us.iter().enumerate() {
        offset += cjk_gap(prev, u.kind);
        prev = Some(u.kind);
        let text = u.text();
        match u.kind {
            UnitKind::Cjk if u.chars.len() >= 2 => {
                for w in u.chars.windows(2) {
                    push(Pos::Exact([w[0].1, w[1].1].iter().collect()), &mut offset);
                }
            }
            UnitKind::Cjk if i == 0 => push(Pos::Regex(format!(".?{}", regex::escape(&text))), &mut offset),
            UnitKind::Cjk if i == last => push(Pos::Regex(format!("{}.?", regex::escape(&text))), &mut offset),
            UnitKind::Word if i == last => push(Pos::Regex(format!("{}.*", regex::escape(&text))), &mut offset),
            _ => push(Pos::Exact(text), &mut offset),
        }
    }
    Plan::Phrase(positions)
}

fn term_query(field: Field, text: &str, record: IndexRecordOption) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, text), record))
}

fn regex_query(field: Field, pattern: &str) -> Result<Box<dyn Query>, SearchError> {
    RegexQuery::from_pattern(pattern, field)
        .map(|q| Box::new(q) as Box<dyn Query>)
        .map_err(|e| SearchError::Query(format!("cannot search for `{pattern}`: {e}")))
}

/// The query for one term on a text field.
fn term_on(term: &str, bigram: Field) -> Result<Box<dyn Query>, SearchError> {
    Ok(match plan(term) {
        Plan::Nothing => Box::new(EmptyQuery),
        Plan::Char(c) => Box::new(CharQuery::new(bigram, c)),
        Plan::Word(w) => {
            let exact = term_query(bigram, &w, IndexRecordOption::WithFreqs);
            let prefix = regex_query(bigram, &format!("{}.+", regex::escape(&w)))?;
            Box::new(BooleanQuery::new(vec![
                (Occur::Should, Box::new(BoostQuery::new(exact, 2.0)) as Box<dyn Query>),
                (Occur::Should, prefix),
            ]))
        }
        Plan::Phrase(ps) if ps.len() == 1 => match &ps[0].1 {
            Pos::Exact(t) => term_query(bigram, t, IndexRecordOption::WithFreqs),
            Pos::Regex(r) => regex_query(bigram, r)?,
        },
        Plan::Phrase(ps) if ps.iter().all(|(_, p)| matches!(p, Pos::Exact(_))) => {
            let terms = ps
                .iter()
                .map(|(o, p)| match p {
                    Pos::Exact(t) => (*o, Term::from_field_text(bigram, t)),
                    Pos::Regex(_) => unreachable!("all exact"),
                })
                .collect();
            Box::new(ExactPhrase::new(terms))
        }
        Plan::Phrase(ps) => {
            let pats = ps
                .into_iter()
                .map(|(o, p)| match p {
                    Pos::Exact(t) => (o, regex::escape(&t)),
                    Pos::Regex(r) => (o, r),
                })
                .collect();
            let mut q = RegexPhraseQuery::new_with_offset(bigram, pats);
            q.set_max_expansions(MAX_EXPANSIONS);
            Box::new(q)
        }
    })
}

/// Whether a term has anything searchable in it (letters, digits, CJK, emoji).
pub fn is_searchable(term: &str) -> bool {
    plan(term) != Plan::Nothing
}

/// Messages whose fast column `field` holds one of `values`.
fn one_of(field: Field, values: &[u64]) -> Box<dyn Query> {
    let qs = values
        .iter()
        .map(|&v| {
            let t = Term::from_field_u64(field, v);
            (
                Occur::Should,
                Box::new(RangeQuery::new(Bound::Included(t.clone()), Bound::Included(t))) as Box<dyn Query>,
            )
        })
        .collect();
    Box::new(BooleanQuery::new(qs))
}

/// Messages whose fast column `field` holds `key␟…` for one of `keys` (the names seen with it
/// follow the key). The values starting with `key␟` are exactly those in `[key␟, key␠)`: no
/// id contains the separator, and the space is the char after it.
fn one_of_keys(field: Field, keys: &[String]) -> Box<dyn Query> {
    let after_sep = char::from_u32(SEP as u32 + 1).expect("the char after the separator");
    let qs = keys
        .iter()
        .map(|k| {
            let lo = Term::from_field_text(field, &format!("{k}{SEP}"));
            let hi = Term::from_field_text(field, &format!("{k}{after_sep}"));
            (
                Occur::Should,
                Box::new(RangeQuery::new(Bound::Included(lo), Bound::Excluded(hi))) as Box<dyn Query>,
            )
        })
        .collect();
    Box::new(BooleanQuery::new(qs))
}

/// Builds the whole query. `all_revisions` also matches earlier texts of edited messages.
pub fn build(
    f: &Fields,
    q: &ParsedQuery,
    filters: &Filters,
    all_revisions: bool,
) -> Result<Box<dyn Query>, SearchError> {
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for clause in &q.clauses {
        let mut alts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for term in &clause.any {
            if !is_searchable(term) {
                return Err(SearchError::Query(format!(
                    "`{term}` has nothing to search for (only punctuation or spaces)"
                )));
            }
            alts.push((Occur::Should, term_on(term, f.text)?));
            if all_revisions {
                alts.push((Occur::Should, term_on(term, f.old_text)?));
            }
        }
        let q: Box<dyn Query> = if alts.len() == 1 {
            alts.pop().expect("one").1
        } else {
            Box::new(BooleanQuery::new(alts))
        };
        if clause.negated {
            must.push((Occur::MustNot, Box::new(Materialized(q))));
        } else {
            must.push((Occur::Must, q));
        }
    }
    // Filters never change the ranking: they score 0, only the text clauses score.
    let mut filter =
        |q: Box<dyn Query>| must.push((Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>));
    if !filters.platforms.is_empty() {
        filter(one_of(f.platform, &filters.platforms));
    }
    if !filters.content_types.is_empty() {
        filter(one_of(f.content_type, &filters.content_types));
    }
    if !filters.states.is_empty() {
        filter(one_of(f.state, &filters.states));
    }
    if !filters.chats.is_empty() {
        filter(one_of_keys(f.chat, &filters.chats));
    }
    if !filters.senders.is_empty() {
        filter(one_of_keys(f.sender, &filters.senders));
    }
    if filters.since.is_some() || filters.until.is_some() {
        let lo = filters.since.map_or(Bound::Unbounded, |v| {
            Bound::Included(Term::from_field_i64(f.sent_at, v))
        });
        let hi = filters.until.map_or(Bound::Unbounded, |v| {
            Bound::Excluded(Term::from_field_i64(f.sent_at, v))
        });
        filter(Box::new(RangeQuery::new(lo, hi)));
    }
    if !must.iter().any(|(o, _)| *o == Occur::Must) {
        must.push((Occur::Must, Box::new(AllQuery)));
    }
    if must.len() == 1 && must[0].0 == Occur::Must {
        return Ok(must.pop().expect("one clause").1);
    }
    Ok(Box::new(BooleanQuery::new(must)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        assert_eq!(plan("报"), Plan::Char('报'));
        assert_eq!(plan("Ship"), Plan::Word("ship".into()));
        assert_eq!(plan("，。"), Plan::Nothing);
        let exact = |o: usize, t: &str| (o, Pos::Exact(t.into()));
        let regex = |o: usize, t: &str| (o, Pos::Regex(t.into()));
        assert_eq!(plan("农业局"), Plan::Phrase(vec![exact(0, "农业"), exact(1, "业局")]));
        assert_eq!(plan("3合"), Plan::Phrase(vec![exact(0, "3"), regex(1, "合.?")]));
        assert_eq!(plan("合3"), Plan::Phrase(vec![regex(0, ".?合"), exact(1, "3")]));
        assert_eq!(plan("iPhone15"), Plan::Phrase(vec![exact(0, "iphone"), exact(1, "15")]));
        // Two CJK runs are one position apart, as the tokenizer lays them out.
        assert_eq!(
            plan("处中，中业"),
            Plan::Phrase(vec![exact(0, "处中"), exact(2, "中业")])
        );
        assert_eq!(
            plan("好的，收到 ok"),
            Plan::Phrase(vec![exact(0, "好的"), exact(2, "收到"), regex(3, "ok.*")])
        );
        assert_eq!(plan("合，同"), Plan::Phrase(vec![regex(0, ".?合"), regex(2, "同.?")]));
    }
}
