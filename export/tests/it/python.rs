//! The export read by the tools analysts use: DuckDB (`read_parquet(…, hive_partitioning =
//! true)`) and pyarrow, from the workspace's `.venv` (created by `.ci/run`). A missing venv
//! fails the test: skipping would let an unreadable export pass CI.

use std::path::PathBuf;
use std::process::Command;

use crate::common::*;

fn python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let py = root.join(".venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: create it with `python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt` \
         in the workspace root (.ci/run does this)",
        py.display()
    );
    py
}

fn run_python(script: &str, out: &std::path::Path) -> String {
    stdout_of("python", Command::new(python()).arg("-c").arg(script).arg(out))
}

fn archive() -> Archive {
    let a = two_platform_archive();
    a.export(chrono_tz::Asia::Shanghai, false);
    a
}

#[test]
fn duckdb_reads_the_hive_partitioned_export_with_types() {
    let a = archive();
    let script = format!("import sys, duckdb\nroot = sys.argv[1]\ncon = duckdb.connect()\n{DUCKDB_READS}");
    assert_has_lines(&run_python(&script, &a.out_dir()), DUCKDB_SEES);
}

#[test]
fn pyarrow_reads_the_dataset_with_partition_columns() {
    let a = archive();
    let script = r#"
import sys, pyarrow.dataset as ds
out = sys.argv[1]
t = ds.dataset(out + "/messages", format="parquet", partitioning="hive").to_table()
print("rows", t.num_rows)
print("sent_at", t.schema.field("sent_at").type)
print("platforms", ",".join(sorted(set(t.column("platform").to_pylist()))))
print("dates", ",".join(sorted(set(str(d) for d in t.column("date").to_pylist()))))
"#;
    let stdout = run_python(script, &a.out_dir());
    assert!(stdout.contains("rows 5\n"), "{stdout}");
    assert!(stdout.contains("sent_at timestamp[ms, tz=UTC]\n"), "{stdout}");
    assert!(stdout.contains("platforms goofish,wecom\n"), "{stdout}");
    // Sent at 00:00 UTC = 08:00 in Shanghai: dates in the configured zone.
    assert!(stdout.contains("dates 2026-03-01,2026-03-02,2026-03-03\n"), "{stdout}");
}
