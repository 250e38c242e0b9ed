//! [`ExactPhrase`]: terms at given offsets, scored like tantivy's `PhraseQuery`
//! (BM25 of the phrase frequency, idf summed over the terms), with top-k pruning.
//!
//! Reading positions is most of a phrase query's cost. A phrase cannot occur more often in a
//! message than its rarest term does there, so BM25 of that bound is an upper bound of the
//! message's score, known from the postings alone. When collecting the best k, a message whose
//! bound does not beat the k-th score so far is skipped without reading its positions.

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::query::{Bm25Weight, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, Term};

/// Matches the documents where `terms` occur at their offsets from one another (one field).
#[derive(Debug, Clone)]
pub struct ExactPhrase {
    /// `(offset, term)`, offsets increasing.
    terms: Vec<(usize, Term)>,
}

impl ExactPhrase {
    /// A phrase of two or more terms of one field, with increasing offsets.
    pub fn new(terms: Vec<(usize, Term)>) -> ExactPhrase {
        assert!(terms.len() >= 2, "a phrase has at least two terms");
        assert!(terms.windows(2).all(|w| w[0].0 < w[1].0), "offsets increase");
        ExactPhrase { terms }
    }
}

impl Query for ExactPhrase {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let bm25 = match enable_scoring {
            EnableScoring::Enabled {
                statistics_provider, ..
            } => {
                let terms: Vec<Term> = self.terms.iter().map(|(_, t)| t.clone()).collect();
                Some(Bm25Weight::for_terms(statistics_provider, &terms)?)
            }
            EnableScoring::Disabled { .. } => None,
        };
        Ok(Box::new(PhraseWeight {
            terms: self.terms.clone(),
            bm25,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for (_, t) in &self.terms {
            visitor(t, true);
        }
    }
}

struct PhraseWeight {
    terms: Vec<(usize, Term)>,
    bm25: Option<Bm25Weight>,
}

impl PhraseWeight {
    fn phrase_scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Option<PhraseScorer>> {
        let field = self.terms[0].1.field();
        let inv = reader.inverted_index(field)?;
        let end = self.terms.last().map_or(0, |(o, _)| *o);
        let mut terms = Vec::with_capacity(self.terms.len());
        for (offset, t) in &self.terms {
            let Some(p) = inv.read_postings(t, IndexRecordOption::WithFreqsAndPositions)? else {
                return Ok(None);
            };
            // Shifting each term's positions by its distance to the phrase end makes the
            // positions of one occurrence equal.
            terms.push((p, (end - offset) as u32));
        }
        // The rarest term leads the intersection; the others seek to its documents.
        terms.sort_by_key(|(p, _)| p.doc_freq());
        let fieldnorms = match reader.fieldnorms_readers().get_field(field)? {
            Some(f) if self.bm25.is_some() => f,
            _ => FieldNormReader::constant(reader.max_doc(), 1),
        };
        let mut s = PhraseScorer {
            terms,
            doc: 0,
            phrase_freq: 0,
            left: Vec::new(),
            right: Vec::new(),
            fieldnorms,
            bm25: self.bm25.as_ref().map(|w| w.boost_by(boost)),
        };
        s.next_match(s.terms[0].0.doc());
        Ok(Some(s))
    }
}

impl Weight for PhraseWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(match self.phrase_scorer(reader, boost)? {
            Some(s) => Box::new(s),
            None => Box::new(tantivy::query::EmptyScorer),
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let no_match = || tantivy::TantivyError::InvalidArgument(format!("document {doc} does not match the phrase"));
        let mut s = self.phrase_scorer(reader, 1.0)?.ok_or_else(no_match)?;
        if s.seek(doc) != doc {
            return Err(no_match());
        }
        Ok(match &self.bm25 {
            Some(w) => w.explain(s.fieldnorms.fieldnorm_id(doc), s.phrase_freq),
            None => Explanation::new("phrase matches", 1.0),
        })
    }

    fn for_each_pruning(
        &self,
        mut threshold: Score,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) -> tantivy::Result<()> {
        let Some(mut s) = self.phrase_scorer(reader, 1.0)? else {
            return Ok(());
        };
        let Some(bm25) = s.bm25.clone() else {
            // Unscored: nothing to prune on.
            while s.doc != TERMINATED {
                if 1.0 > threshold {
                    threshold = callback(s.doc, 1.0);
                }
                s.advance();
            }
            return Ok(());
        };
        let mut doc = s.terms[0].0.doc();
        while doc != TERMINATED {
            doc = s.next_candidate(doc);
            if doc == TERMINATED {
                break;
            }
            let fieldnorm_id = s.fieldnorms.fieldnorm_id(doc);
            let bound = s.terms.iter().map(|(p, _)| p.term_freq()).min().unwrap_or(0);
            if bm25.score(fieldnorm_id, bound) > threshold {
                let freq = s.phrase_freq_here();
                if freq > 0 {
                    let score = bm25.score(fieldnorm_id, freq);
                    if score > threshold {
                        threshold = callback(doc, score);
                    }
                }
            }
            doc = s.terms[0].0.advance();
        }
        Ok(())
    }
}

struct PhraseScorer {
    /// Postings (rarest first) with the shift that aligns their positions.
    terms: Vec<(SegmentPostings, u32)>,
    doc: DocId,
    phrase_freq: u32,
    left: Vec<u32>,
    right: Vec<u32>,
    fieldnorms: FieldNormReader,
    bm25: Option<Bm25Weight>,
}

impl PhraseScorer {
    /// The first document ≥ `target` that contains every term (the lead is positioned on it).
    fn next_candidate(&mut self, mut target: DocId) -> DocId {
        'outer: loop {
            let lead = seek_forward(&mut self.terms[0].0, target);
            if lead == TERMINATED {
                return TERMINATED;
            }
            for (p, _) in &mut self.terms[1..] {
                let d = seek_forward(p, lead);
                if d > lead {
                    target = d;
                    continue 'outer;
                }
            }
            return lead;
        }
    }

    /// How often the phrase occurs in the current candidate.
    fn phrase_freq_here(&mut self) -> u32 {
        let (first, rest) = self.terms.split_first_mut().expect("two or more terms");
        first.0.positions_with_offset(first.1, &mut self.left);
        for (p, shift) in rest {
            if self.left.is_empty() {
                break;
            }
            p.positions_with_offset(*shift, &mut self.right);
            intersect(&mut self.left, &self.right);
        }
        self.left.len() as u32
    }

    /// Moves to the first matching document ≥ `target`.
    fn next_match(&mut self, mut target: DocId) -> DocId {
        loop {
            let doc = self.next_candidate(target);
            if doc == TERMINATED {
                self.doc = TERMINATED;
                return TERMINATED;
            }
            let freq = self.phrase_freq_here();
            if freq > 0 {
                self.doc = doc;
                self.phrase_freq = freq;
                return doc;
            }
            target = doc + 1;
        }
    }
}

/// Seeks to `target` unless already there or past it (postings only move forward).
fn seek_forward(p: &mut SegmentPostings, target: DocId) -> DocId {
    if p.doc() < target { p.seek(target) } else { p.doc() }
}

/// Keeps in `left` (sorted) the values also in `right` (sorted).
fn intersect(left: &mut Vec<u32>, right: &[u32]) {
    let (mut i, mut j, mut kept) = (0, 0, 0);
    while i < left.len() && j < right.len() {
        match left[i].cmp(&right[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                left[kept] = left[i];
                kept += 1;
                i += 1;
                j += 1;
            }
        }
    }
    left.truncate(kept);
}

impl DocSet for PhraseScorer {
    fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED {
            return TERMINATED;
        }
        self.next_match(self.doc + 1)
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        self.next_match(target)
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.terms[0].0.size_hint()
    }
}

impl Scorer for PhraseScorer {
    fn score(&mut self) -> Score {
        match &self.bm25 {
            Some(w) => w.score(self.fieldnorms.fieldnorm_id(self.doc), self.phrase_freq),
            None => 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::intersect;

    #[test]
    fn intersect_keeps_common_values() {
        let mut l = vec![1, 3, 5, 9];
        intersect(&mut l, &[0, 3, 4, 5, 10]);
        assert_eq!(l, [3, 5]);
        intersect(&mut l, &[]);
        assert!(l.is_empty());
    }
}

#[cfg(test)]
mod same_as_tantivy {
    use tantivy::Term;
    use tantivy::collector::DocSetCollector;
    use tantivy::query::PhraseQuery;

    use super::ExactPhrase;
    use crate::testing;

    #[test]
    fn matches_and_scores_like_tantivy_phrase_query() {
        let (index, searcher, f) = testing::searched_index(2000, 2);
        let phrases: [&[(usize, &str)]; 5] = [
            &[(0, "回复"), (1, "复邮"), (2, "邮件")],
            &[(0, "邮件"), (2, "邮件")],
            &[(0, "收到"), (1, "到邮")],
            &[(0, "invoice"), (1, "sent")],
            // Across the gap between two CJK runs.
            &[(0, "邮件"), (2, "回复")],
        ];
        for phrase in phrases {
            let terms: Vec<(usize, Term)> = phrase
                .iter()
                .map(|&(o, t)| (o, Term::from_field_text(f.text, t)))
                .collect();
            let ours = ExactPhrase::new(terms.clone());
            let theirs = PhraseQuery::new_with_offset(terms);
            assert_eq!(
                testing::full_ranking(&index, &ours),
                testing::full_ranking(&index, &theirs),
                "{phrase:?}"
            );
            let a = searcher.search(&ours, &DocSetCollector).unwrap();
            let b = searcher.search(&theirs, &DocSetCollector).unwrap();
            assert!(!a.is_empty(), "{phrase:?} matches nothing");
            assert_eq!(a, b, "{phrase:?} unscored");
        }
    }
}
