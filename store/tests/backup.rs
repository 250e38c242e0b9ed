//! `backup` under a steady writer: the copy is owner-only from its first byte, finishes, shows
//! progress and holds a head of the source's chain.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chatvault_store as store;
use common::*;

/// Text that does not compress away, so the archive spans many pages.
fn noise(i: usize) -> String {
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..48)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{:016x}", x)
        })
        .collect()
}

#[test]
fn a_backup_under_steady_writes_finishes_private_and_on_the_chain() {
    let (dir, mut s) = temp_store();
    for chunk in 0..20 {
        let items = (0..250)
            .map(|i| {
                let n = chunk * 250 + i;
                payload(msg("c1", &format!("m{n}"), &noise(n), T0 + n as i64), T0 + n as i64)
            })
            .collect();
        s.append(&[&batch(items)]).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 10_000;
            while !stop.load(Ordering::Relaxed) {
                s.append(&[&batch(vec![payload(msg("c2", &format!("m{n}"), &noise(n), T0), T0)])])
                    .unwrap();
                n += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            n - 10_000
        })
    };
    let dest = dir.path().join("copy.db");
    let (tx, rx) = std::sync::mpsc::channel();
    let copier = {
        let (src, dest) = (dir.path().to_path_buf(), dest.clone());
        std::thread::spawn(move || {
            let mut first_mode = None;
            let mut calls = 0;
            let head = store::backup(&src, &dest, &mut |_, total| {
                calls += 1;
                assert!(total > 1024, "the archive spans many pages ({total})");
                #[cfg(unix)]
                if first_mode.is_none() {
                    use std::os::unix::fs::PermissionsExt;
                    first_mode = Some(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777);
                }
            });
            let _ = tx.send((head, first_mode, calls));
        })
    };
    let started = Instant::now();
    let outcome = rx.recv_timeout(Duration::from_secs(90));
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    let (head, first_mode, calls) = outcome.expect("the backup finishes while the writer goes on");
    copier.join().unwrap();
    let head = head.unwrap();
    assert!(written > 0, "the writer committed during the backup");
    assert!(calls >= 1, "progress is shown");
    #[cfg(unix)]
    assert_eq!(first_mode, Some(0o600), "the copy is owner-only while it is written");
    assert!(head.seq >= 5000, "{head:?}");
    // The copy's head is the source's event at that seq.
    let at_source = store::StoreReader::open(dir.path())
        .unwrap()
        .events_since(head.seq - 1, 1)
        .unwrap();
    assert_eq!(at_source[0].seq, head.seq);
    let copy_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&dest, copy_dir.path().join(store::DB_FILE)).unwrap();
    let r = store::StoreReader::open(copy_dir.path())
        .unwrap()
        .verify(&mut |_| {})
        .unwrap();
    assert!(r.ok && r.head == head, "{r:?} {:?}", started.elapsed());
}

#[test]
fn a_backup_never_writes_into_an_existing_file() {
    let (dir, mut s) = temp_store();
    s.append(&[&batch(vec![payload(msg("c1", "m1", "一", T0), T0)])])
        .unwrap();
    let dest = dir.path().join("there.db");
    std::fs::write(&dest, b"keep me").unwrap();
    assert!(store::backup(dir.path(), &dest, &mut |_, _| {}).is_err());
    assert_eq!(std::fs::read(&dest).unwrap(), b"keep me");
}
