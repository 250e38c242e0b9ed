//! The lake export: the same Parquet layout on S3-compatible object storage, or as Delta Lake
//! tables (on object storage or a local folder).
//!
//! - `target.rs`: [`LakeTarget`] (`s3://bucket/prefix` or a folder) and [`S3Settings`].
//! - `objects.rs`: the `object_store` client and the operations used (streamed multipart
//!   uploads with the sha256 in the object's metadata, conditional creates).
//! - `run.rs`: [`run_lake_export`]: stage locally, upload, manifest last, resume.
//! - `delta.rs`: the Delta transaction log.

mod delta;
mod objects;
mod run;
mod target;

pub use run::{LakeFormat, LakeOptions, LakeSummary, run_lake_export};
pub use target::{Credential, LakeTarget, S3Settings};
