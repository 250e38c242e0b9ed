//! The disk's share of a page's time, for `bench ui`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Latency;
use crate::BenchError;

/// One small write and `fdatasync` in the data directory, sampled between the search rows'
/// runs: the disk's share of a page's time. Every page view commits its access-log entry
/// (WAL, `synchronous=FULL`: one sync per commit) before the page is sent; the CLI writes
/// nothing.
pub(super) struct Fsync {
    path: PathBuf,
    file: std::fs::File,
    samples: Vec<Duration>,
}

impl Fsync {
    pub(super) fn open(data: &Path) -> Result<Fsync, BenchError> {
        let path = data.join("bench-fsync-probe");
        let file = std::fs::File::create(&path)?;
        Ok(Fsync {
            path,
            file,
            samples: Vec::new(),
        })
    }

    pub(super) fn sample(&mut self) -> Result<(), BenchError> {
        use std::io::{Seek, Write};
        let started = Instant::now();
        self.file.seek(std::io::SeekFrom::Start(0))?;
        self.file.write_all(&[0x5a; 128])?;
        self.file.sync_data()?;
        self.samples.push(started.elapsed());
        Ok(())
    }

    pub(super) fn finish(self) -> Result<Latency, BenchError> {
        drop(self.file);
        std::fs::remove_file(&self.path)?;
        Ok(Latency::of(&self.samples))
    }
}
