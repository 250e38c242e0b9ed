//! The Delta tables read by Python `deltalake` (delta-rs, from PyPI, installed into
//! `.venv/lake` by `.ci/test`), on SeaweedFS and in a local folder: after an incremental
//! export the latest snapshot shows the edit, version 0 still shows the table before it, and
//! the partition columns come back.

use crate::common::*;
use crate::seaweed::*;
use export::{LakeFormat, LakeOptions, LakeTarget, run_lake_export};

/// Runs `script` with `deltalake` imported as `dl` and `table(name)` opening
/// `<root>/<name>` (an `s3://` URL with the test server's storage options, or a folder).
fn deltalake(root: &str, script: &str) -> String {
    deltalake_at(&seaweed().endpoint, root, script)
}

/// Ends every script: the `deltalake` reader at times aborts in the interpreter's own
/// teardown ("terminate called without an active exception", a native thread still joinable
/// after its last S3 request) once the answer is already printed. What the test checks is that
/// answer, so the script flushes it and leaves without the teardown.
const EXIT: &str = "import os, sys\nsys.stdout.flush()\nsys.stderr.flush()\nos._exit(0)";

/// [`deltalake`] against the S3 server at `endpoint`.
pub fn deltalake_at(endpoint: &str, root: &str, script: &str) -> String {
    let prelude = format!(
        r#"
import deltalake as dl
ROOT = {root:?}
OPTS = {{
    "AWS_ENDPOINT_URL": "{endpoint}",
    "AWS_ACCESS_KEY_ID": "{ACCESS_KEY}",
    "AWS_SECRET_ACCESS_KEY": "{SECRET_KEY}",
    "AWS_REGION": "us-east-1",
    "AWS_ALLOW_HTTP": "true",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
}}
def table(name, version=None):
    opts = OPTS if ROOT.startswith("s3://") else None
    return dl.DeltaTable(ROOT + "/" + name, version=version, storage_options=opts)
def rows(t, where=None):
    data = t.to_pyarrow_table()
    if where is None:
        return data.num_rows
    col, value = where
    return sum(1 for v in data.column(col).to_pylist() if v == value)
"#
    );
    lake_python("deltalake", &format!("{prelude}\n{script}\n{EXIT}"))
}

const CHECKS: &str = r#"
m = table("messages")
print("version", m.version())
print("latest", rows(m), rows(m, ("text", "改过的报告")))
v0 = table("messages", version=0)
print("v0", rows(v0), rows(v0, ("text", "改过的报告")))
print("partitions", ",".join(m.metadata().partition_columns))
print("platforms", ",".join(sorted(set(m.to_pyarrow_table().column("platform").to_pylist()))))
print("events", rows(table("events")), table("events").version())
"#;

/// Exports `a` to `target` as Delta, edits one message, exports again.
fn two_versions(a: &mut Archive, target: LakeTarget) {
    let opts = LakeOptions {
        target,
        ..lake_options(a, seaweed(), "unused", LakeFormat::Delta)
    };
    run_lake_export(&opts, &mut |_| {}).unwrap();
    a.edit_the_report();
    let second = run_lake_export(&opts, &mut |_| {}).unwrap();
    assert_eq!(second.delta_commits.len(), 2, "{second:?}");
}

fn assert_checks(out: &str) {
    assert_has_lines(
        out,
        &[
            "version 1",
            "latest 5 1",
            "v0 5 0",
            "partitions platform,date",
            "platforms goofish,wecom",
            "events 7 1",
        ],
    );
}

#[test]
fn python_deltalake_reads_the_s3_tables_latest_and_by_version() {
    let mut a = two_platform_archive();
    let prefix = unique_prefix("deltalake");
    two_versions(&mut a, LakeTarget::parse(&format!("s3://{BUCKET}/{prefix}")).unwrap());
    assert_checks(&deltalake(&format!("s3://{BUCKET}/{prefix}"), CHECKS));
}

#[test]
fn python_deltalake_reads_the_local_tables_latest_and_by_version() {
    let mut a = two_platform_archive();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    two_versions(&mut a, LakeTarget::Dir(root.clone()));
    assert_checks(&deltalake(&root.display().to_string(), CHECKS));
}
