//! Hits → the messages they name, as the store holds them now: the index stores no text, so
//! every caller that shows results reads them back this way.

use std::collections::HashMap;

use proto::MessageRecord;
use store::StoreReader;

use crate::Hit;

/// Each hit with its message's current record, in hit order. A hit the store returns no
/// record for is left out: results show only what can be read back.
pub fn with_records(reader: &StoreReader, hits: Vec<Hit>) -> store::Result<Vec<(Hit, MessageRecord)>> {
    let keys: Vec<_> = hits.iter().map(|h| h.key.clone()).collect();
    let mut records: HashMap<_, _> = reader
        .messages_by_keys(&keys)?
        .into_iter()
        .map(|r| (r.key.clone(), r))
        .collect();
    Ok(hits
        .into_iter()
        .filter_map(|h| records.remove(&h.key).map(|r| (h, r)))
        .collect())
}
