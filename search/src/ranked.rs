//! [`TopRanked`]: the best k matches by score, newer first among equal scores.
//!
//! Collection goes through `Weight::for_each_pruning`, so a query can skip what cannot enter
//! the top k (block-max WAND for terms, the phrase bound in `phrase`). The threshold handed
//! back is just below the k-th score, not at it: a match scoring exactly as much as the k-th
//! can still win on `sent_at`, which is read only for matches that get that far.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

/// One collected match.
#[derive(Debug, Clone, Copy)]
pub struct Ranked {
    /// Relevance.
    pub score: Score,
    /// Sent time (UTC ms).
    pub sent_at: i64,
    /// The document.
    pub addr: DocAddress,
}

impl Ranked {
    /// Best first: higher score, then newer, then lower address (a stable order for equals).
    fn better(&self, other: &Ranked) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(self.sent_at.cmp(&other.sent_at))
            .then(other.addr.cmp(&self.addr))
    }
}

/// Heap entry ordered so that the worst collected match is on top.
struct Worst(Ranked);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.better(&self.0)
    }
}

/// Collects the `limit` best matches (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct TopRanked {
    /// How many.
    pub limit: usize,
}

/// Per-segment part of [`TopRanked`].
pub struct TopRankedSegment {
    limit: usize,
    segment: SegmentOrdinal,
    sent_at: Column<i64>,
    heap: BinaryHeap<Worst>,
}

impl TopRankedSegment {
    fn push(&mut self, doc: DocId, score: Score) {
        if self.heap.len() == self.limit
            && let Some(Worst(w)) = self.heap.peek()
            && score < w.score
        {
            return;
        }
        let r = Ranked {
            score,
            sent_at: self.sent_at.first(doc).unwrap_or(i64::MIN),
            addr: DocAddress::new(self.segment, doc),
        };
        if self.heap.len() < self.limit {
            self.heap.push(Worst(r));
        } else if let Some(mut top) = self.heap.peek_mut()
            && r.better(&top.0) == Ordering::Greater
        {
            *top = Worst(r);
        }
    }

    /// Scores at or below this cannot enter (see the module docs).
    fn threshold(&self) -> Score {
        match self.heap.peek() {
            Some(Worst(w)) if self.heap.len() == self.limit => w.score.next_down(),
            _ => Score::MIN,
        }
    }
}

impl SegmentCollector for TopRankedSegment {
    type Fruit = Vec<Ranked>;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.push(doc, score);
    }

    fn harvest(self) -> Vec<Ranked> {
        self.heap.into_iter().map(|w| w.0).collect()
    }
}

impl Collector for TopRanked {
    type Fruit = Vec<Ranked>;
    type Child = TopRankedSegment;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<TopRankedSegment> {
        Ok(TopRankedSegment {
            limit: self.limit,
            segment,
            sent_at: reader.fast_fields().i64("sent_at")?,
            heap: BinaryHeap::with_capacity(self.limit + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Ranked>>) -> tantivy::Result<Vec<Ranked>> {
        let mut all: Vec<Ranked> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| b.better(a));
        all.truncate(self.limit);
        Ok(all)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<Ranked>> {
        let mut seg = self.for_segment(segment, reader)?;
        if self.limit == 0 {
            return Ok(Vec::new());
        }
        let alive = reader.alive_bitset();
        weight.for_each_pruning(Score::MIN, reader, &mut |doc, score| {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                seg.push(doc, score);
            }
            seg.threshold()
        })?;
        Ok(seg.harvest())
    }
}

#[cfg(test)]
mod tests {
    use super::TopRanked;
    use crate::compile::{self, Filters};
    use crate::{query, testing};

    #[test]
    fn pruned_top_k_equals_the_full_ranking_cut_at_k() {
        let (index, searcher, f) = testing::searched_index(3000, 3);
        let filters = [
            Filters::default(),
            Filters {
                platforms: vec![1],
                ..Default::default()
            },
        ];
        let queries = [
            "邮件",
            "回复邮件",
            "邮",
            "收",
            "邮件 回复",
            "邮件 OR 会议",
            "尽快回复邮件",
            "invoice",
        ];
        for q in queries {
            for filter in &filters {
                let parsed = query::parse(q).unwrap();
                let built = compile::build(&f, &parsed, filter, false).unwrap();
                let full = testing::full_ranking(&index, built.as_ref());
                assert!(full.len() > 40, "{q}: {} matches is too few to prune", full.len());
                for k in [1, 7, 20, 40] {
                    let got: Vec<(f32, i64)> = searcher
                        .search(built.as_ref(), &TopRanked { limit: k })
                        .unwrap()
                        .into_iter()
                        .map(|r| (r.score, r.sent_at))
                        .collect();
                    assert_eq!(got, full[..k], "{q} top {k}");
                }
            }
        }
    }
}
