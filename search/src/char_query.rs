//! [`CharQuery`]: the messages containing one CJK character, from the bigram field.
//!
//! Every occurrence of the character is in a bigram of its CJK run (starting or ending it) or
//! is a run of one, so the union of the postings of those terms is exactly the set of messages
//! containing it. The summed frequency of those terms (how many bigrams of the text contain
//! the character) is scored with BM25 like one term.
//!
//! The terms are found with a Levenshtein automaton of distance 1 around the character, which
//! walks the term dictionary to every one- and two-character term holding it (and other
//! single characters, which are dropped): terms ending with the character are not a range of
//! the sorted dictionary, and a full scan would cost as much as the dictionary is large.

use std::collections::BTreeMap;

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings, TermInfo};
use tantivy::query::{Bm25Weight, EnableScoring, Explanation, FuzzyTermQuery, Query, Scorer, Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, InvertedIndexReader, Score, SegmentReader, TERMINATED, Term};

/// Matches the messages whose `field` contains `ch` (a CJK character).
#[derive(Debug, Clone)]
pub struct CharQuery {
    field: Field,
    ch: char,
}

impl CharQuery {
    /// The query for `ch` on a bigram-tokenized field.
    pub fn new(field: Field, ch: char) -> CharQuery {
        CharQuery { field, ch }
    }
}

/// The term infos of every term of one segment holding `ch`: `ch` alone and the bigrams
/// starting or ending with it.
fn term_infos(inv: &InvertedIndexReader, field: Field, ch: char) -> tantivy::Result<Vec<(Vec<u8>, TermInfo)>> {
    let automaton = FuzzyTermQuery::new(Term::from_field_text(field, &ch.to_string()), 1, false).automaton()?;
    let mut stream = inv.terms().search(automaton).into_stream()?;
    let mut out = Vec::new();
    while stream.advance() {
        let Ok(term) = std::str::from_utf8(stream.key()) else {
            continue;
        };
        let mut cs = term.chars();
        let holds = match (cs.next(), cs.next(), cs.next()) {
            (Some(a), None, None) => a == ch,
            (Some(a), Some(b), None) => a == ch || b == ch,
            _ => false,
        };
        if holds {
            out.push((stream.key().to_vec(), stream.value().clone()));
        }
    }
    Ok(out)
}

impl Query for CharQuery {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let bm25 = match enable_scoring {
            EnableScoring::Enabled {
                statistics_provider,
                searcher,
            } => {
                let total_docs = statistics_provider.total_num_docs()?;
                let mut by_term: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
                for seg in searcher.segment_readers() {
                    let inv = seg.inverted_index(self.field)?;
                    for (term, info) in term_infos(&inv, self.field, self.ch)? {
                        *by_term.entry(term).or_default() += u64::from(info.doc_freq);
                    }
                }
                let dfs: Vec<u64> = by_term.into_values().collect();
                let tokens = statistics_provider.total_num_tokens(self.field)?;
                let avg_fieldnorm = tokens as Score / total_docs.max(1) as Score;
                Some(Bm25Weight::for_one_term(
                    union_doc_freq(&dfs, total_docs),
                    total_docs,
                    avg_fieldnorm,
                ))
            }
            EnableScoring::Disabled { .. } => None,
        };
        Ok(Box::new(CharWeight {
            field: self.field,
            ch: self.ch,
            bm25,
        }))
    }
}

/// Estimated number of documents in the union of terms with document frequencies `dfs`
/// across all segments. It is not stored, and
/// counting it would cost as much as the query. The estimate takes the terms as independent,
/// kept between the largest term's count and the sum. Only how much the character weighs
/// against other clauses depends on it, not the order of one character's matches.
fn union_doc_freq(dfs: &[u64], total_docs: u64) -> u64 {
    if total_docs == 0 {
        return 0;
    }
    let n = total_docs as f64;
    let absent: f64 = dfs.iter().map(|&d| 1.0 - (d as f64 / n).min(1.0)).product();
    let estimate = (n * (1.0 - absent)).round() as u64;
    let max = dfs.iter().copied().max().unwrap_or(0);
    let sum: u64 = dfs.iter().sum();
    estimate.clamp(max, sum.min(total_docs).max(max))
}

struct CharWeight {
    field: Field,
    ch: char,
    bm25: Option<Bm25Weight>,
}

impl CharWeight {
    fn char_scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<CharScorer> {
        let inv = reader.inverted_index(self.field)?;
        let mut postings = Vec::new();
        for (_, info) in term_infos(&inv, self.field, self.ch)? {
            let p = inv.read_postings_from_terminfo(&info, IndexRecordOption::WithFreqs)?;
            if p.doc() != TERMINATED {
                postings.push(p);
            }
        }
        let fieldnorms = match reader.fieldnorms_readers().get_field(self.field)? {
            Some(f) => f,
            None => FieldNormReader::constant(reader.max_doc(), 1),
        };
        let mut s = CharScorer {
            postings,
            window_start: 0,
            tf: vec![0; WINDOW as usize].into_boxed_slice(),
            cursor: 0,
            doc: 0,
            fieldnorms,
            bm25: self.bm25.as_ref().map(|w| w.boost_by(boost)),
        };
        s.refill(0);
        Ok(s)
    }
}

impl Weight for CharWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(self.char_scorer(reader, boost)?))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut s = self.char_scorer(reader, 1.0)?;
        if s.seek(doc) != doc {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not contain {}",
                self.ch
            )));
        }
        let tf = s.tf[s.cursor];
        Ok(match &self.bm25 {
            Some(w) => w.explain(s.fieldnorms.fieldnorm_id(doc), tf),
            None => Explanation::new("character occurs", 1.0),
        })
    }
}

/// Documents per window of the union: every posting list is drained into the window's
/// term-frequency array, so any number of terms costs one pass over their postings.
const WINDOW: DocId = 4096;

struct CharScorer {
    postings: Vec<SegmentPostings>,
    window_start: DocId,
    /// Summed term frequency per document of the window (0 = no match).
    tf: Box<[u32]>,
    /// Index of the current document in the window.
    cursor: usize,
    doc: DocId,
    fieldnorms: FieldNormReader,
    bm25: Option<Bm25Weight>,
}

impl CharScorer {
    /// Fills the window starting at the first document ≥ `target` and moves to its first match.
    fn refill(&mut self, target: DocId) {
        self.postings.retain_mut(|p| {
            if p.doc() < target {
                p.seek(target);
            }
            p.doc() != TERMINATED
        });
        let Some(start) = self.postings.iter().map(|p| p.doc()).min() else {
            self.doc = TERMINATED;
            return;
        };
        self.window_start = start;
        let end = start.saturating_add(WINDOW);
        for p in &mut self.postings {
            let mut d = p.doc();
            while d < end {
                self.tf[(d - start) as usize] += p.term_freq();
                d = p.advance();
            }
        }
        self.cursor = 0;
        self.doc = start;
    }
}

impl DocSet for CharScorer {
    fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED {
            return TERMINATED;
        }
        self.tf[self.cursor] = 0;
        let next = self.tf[self.cursor + 1..].iter().position(|&t| t != 0);
        match next {
            Some(i) => {
                self.cursor += 1 + i;
                self.doc = self.window_start + self.cursor as DocId;
            }
            None => {
                let after = self.window_start.saturating_add(WINDOW);
                self.refill(after);
            }
        }
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        if target >= self.window_start.saturating_add(WINDOW) {
            self.tf.fill(0);
            self.refill(target);
            return self.doc;
        }
        while self.doc < target {
            self.advance();
        }
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.postings.iter().fold(0u32, |n, p| n.saturating_add(p.size_hint()))
    }
}

impl Scorer for CharScorer {
    fn score(&mut self) -> Score {
        match &self.bm25 {
            Some(w) => w.score(self.fieldnorms.fieldnorm_id(self.doc), self.tf[self.cursor]),
            None => 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::union_doc_freq;

    #[test]
    fn union_estimate_stays_between_the_largest_term_and_the_sum() {
        assert_eq!(union_doc_freq(&[], 100), 0);
        assert_eq!(union_doc_freq(&[40], 100), 40);
        // Independent halves cover three quarters.
        assert_eq!(union_doc_freq(&[50, 50], 100), 75);
        assert_eq!(union_doc_freq(&[1, 1], 1_000_000), 2);
        assert_eq!(union_doc_freq(&[100, 100], 100), 100);
        assert_eq!(union_doc_freq(&[5], 0), 0);
    }
}

#[cfg(test)]
mod matches {
    use tantivy::collector::DocSetCollector;
    use tantivy::query::RegexQuery;

    use super::CharQuery;
    use crate::testing;

    #[test]
    fn matches_every_document_with_a_bigram_holding_the_char() {
        let (_index, searcher, f) = testing::searched_index(2000, 2);
        for c in ['邮', '件', '收', '室', '请'] {
            let ours = searcher.search(&CharQuery::new(f.text, c), &DocSetCollector).unwrap();
            let regex = RegexQuery::from_pattern(&format!("{c}.?|.{c}"), f.text).unwrap();
            let want = searcher.search(&regex, &DocSetCollector).unwrap();
            assert!(!want.is_empty());
            assert_eq!(ours, want, "{c}");
        }
    }
}
