//! An in-memory index for unit tests of the query types and the collector, with scores that
//! tie often (a small vocabulary), several segments, and send times that do not follow the
//! document order.

use tantivy::collector::TopDocs;
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue};
use tantivy::query::Query;
use tantivy::{Index, IndexWriter, Order, Searcher, TantivyDocument};

use crate::schema::{self, Fields, SEP};

const PIECES: [&str; 8] = [
    "邮件",
    "回复邮件",
    "请尽快回复邮件",
    "好的收到",
    "收到邮件了",
    "invoice sent",
    "邮件邮件，回复",
    "会议室",
];

/// [`index`] and a searcher of it.
pub fn searched_index(n: u64, segments: u64) -> (Index, Searcher, Fields) {
    let (index, f) = self::index(n, segments);
    let searcher = index.reader().expect("reader").searcher();
    (index, searcher, f)
}

/// `n` documents in `segments` commits.
pub fn index(n: u64, segments: u64) -> (Index, Fields) {
    let (schema, f) = schema::schema();
    let index = Index::create_in_ram(schema);
    schema::register_tokenizers(&index);
    let mut w: IndexWriter = index.writer_with_num_threads(1, 15_000_000).expect("writer");
    let mut rng = 7u64;
    let mut next = |m: u64| {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 33) % m
    };
    for i in 0..n {
        let text: Vec<&str> = (0..1 + next(4)).map(|_| PIECES[next(8) as usize]).collect();
        let mut d = TantivyDocument::default();
        d.add_text(f.key, format!("yunhu{SEP}a{SEP}c{SEP}m{i}"));
        d.add_text(f.text, text.join("，"));
        d.add_text(f.chat, format!("yunhu{SEP}a{SEP}c{}{SEP}", i % 3));
        d.add_text(f.sender, format!("yunhu{SEP}u{SEP}"));
        d.add_u64(f.platform, i % 2);
        d.add_u64(f.content_type, 0);
        d.add_u64(f.state, 0);
        // Distinct times in an order unrelated to the documents'.
        d.add_i64(f.sent_at, ((i * 7919) % n) as i64);
        w.add_document(d).expect("add");
        if (i + 1) % n.div_ceil(segments) == 0 {
            w.commit().expect("commit");
        }
    }
    w.commit().expect("commit");
    (index, f)
}

/// Every match of `q` as `(score, sent_at)`, best first (BM25, then newer), computed without
/// any pruning.
pub fn full_ranking(index: &Index, q: &dyn Query) -> Vec<(f32, i64)> {
    let searcher = index.reader().expect("reader").searcher();
    let collector = TopDocs::with_limit(1_000_000).order_by((
        (SortBySimilarityScore, Order::Desc),
        (SortByStaticFastValue::<i64>::for_field("sent_at"), Order::Desc),
    ));
    searcher
        .search(q, &collector)
        .expect("search")
        .into_iter()
        .map(|((s, t), _)| (s, t.expect("sent_at")))
        .collect()
}
