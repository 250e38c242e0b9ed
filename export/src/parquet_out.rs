//! [`ParquetFile`]: an Arrow → Parquet writer on top of an [`AtomicFile`], with the shared
//! writer settings, counting rows and the time spent encoding.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;

use crate::atomic::{AtomicFile, Staged};
use crate::error::{ExportError, Result};
use crate::schema::writer_properties;

/// A Parquet file being written; invisible until [`ParquetFile::finish`].
pub struct ParquetFile {
    path: PathBuf,
    writer: ArrowWriter<AtomicFile>,
    rows: u64,
    encode: Duration,
}

impl ParquetFile {
    /// Starts `path` with `schema`.
    pub fn create(path: &Path, schema: SchemaRef) -> Result<ParquetFile> {
        let file = AtomicFile::create(path)?;
        let props = writer_properties(&schema);
        let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| ExportError::parquet(path, e))?;
        Ok(ParquetFile {
            path: path.to_path_buf(),
            writer,
            rows: 0,
            encode: Duration::ZERO,
        })
    }

    /// Appends a batch (flushed to disk a row group at a time).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let t = Instant::now();
        self.writer
            .write(batch)
            .map_err(|e| ExportError::parquet(&self.path, e))?;
        self.rows += batch.num_rows() as u64;
        self.encode += t.elapsed();
        Ok(())
    }

    /// Memory held by the row group being built (encoded pages waiting for the row group to
    /// be written out, plus the page being filled).
    pub fn buffered_bytes(&self) -> usize {
        self.writer.memory_size()
    }

    /// Ends the row group being built early, writing it out and freeing its memory.
    pub fn flush_row_group(&mut self) -> Result<()> {
        let t = Instant::now();
        self.writer.flush().map_err(|e| ExportError::parquet(&self.path, e))?;
        self.encode += t.elapsed();
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Time spent encoding so far.
    pub fn encode_time(&self) -> Duration {
        self.encode
    }

    /// Writes the footer and stages the file for `final_path` (`None` = the path given at
    /// create); it becomes visible when the returned [`Staged`] is published.
    pub fn finish(self, final_path: Option<&Path>) -> Result<(Staged, Duration)> {
        let t = Instant::now();
        let path = self.path;
        let file = self.writer.into_inner().map_err(|e| ExportError::parquet(&path, e))?;
        let encode = self.encode + t.elapsed();
        let staged = file.stage(final_path.unwrap_or(&path))?;
        Ok((staged, encode))
    }
}
