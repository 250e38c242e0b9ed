//! Batch bounds: a batch is full at its item count, at its byte count, or once gathering
//! took its time (paused clock: no real waiting).

use std::time::Duration;

use chatvault_ingest::runtime::{Batch, BatchLimits};

use super::payload;

#[test]
fn full_at_the_item_count() {
    let mut b: Batch<u64> = Batch::new(BatchLimits::new(3, 1 << 20, Duration::from_secs(3600)));
    for i in 0..3 {
        assert!(!b.is_full(), "not full after {i} items");
        b.push(payload(10));
        b.ack(i);
    }
    assert!(b.is_full());
    let (items, acks) = b.into_parts();
    assert_eq!((items.len(), acks), (3, vec![0, 1, 2]));
}

#[test]
fn full_at_the_byte_count() {
    let mut b: Batch<()> = Batch::new(BatchLimits::new(1000, 100, Duration::from_secs(3600)));
    b.push(payload(60));
    assert!(!b.is_full());
    assert_eq!(b.bytes(), 60);
    b.push(payload(40));
    assert!(b.is_full(), "100 bytes reached");
    assert_eq!(b.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn full_once_gathering_took_its_time() {
    let b: Batch<()> = Batch::new(BatchLimits::new(1000, 1 << 20, Duration::from_millis(10)));
    assert!(!b.is_full());
    assert!(b.is_empty());
    tokio::time::advance(Duration::from_millis(9)).await;
    assert!(!b.is_full());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(b.is_full());
}

#[test]
fn zero_limits_still_take_one_item() {
    let mut b: Batch<()> = Batch::new(BatchLimits::new(0, 0, Duration::from_secs(3600)));
    b.push(payload(0));
    assert!(b.is_full());
    assert_eq!(b.len(), 1);
}
