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
    let o = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(out)
        .output()
        .expect("python runs");
    assert!(
        o.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn archive() -> Archive {
    let a = two_platform_archive();
    a.export(chrono_tz::Asia::Shanghai, false);
    a
}

#[test]
fn duckdb_reads_the_hive_partitioned_export_with_types() {
    let a = archive();
    let script = r#"
import sys, duckdb
out = sys.argv[1]
con = duckdb.connect()
m = f"read_parquet('{out}/messages/**/*.parquet', hive_partitioning=true)"
e = f"read_parquet('{out}/events/**/*.parquet', hive_partitioning=true)"
print("messages", con.execute(f"SELECT count(*) FROM {m}").fetchone()[0])
print("events", con.execute(f"SELECT count(*) FROM {e}").fetchone()[0])
for row in con.execute(f"SELECT platform, count(*) FROM {m} GROUP BY 1 ORDER BY 1").fetchall():
    print("platform", row[0], row[1])
types = dict((r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {m}").fetchall())
print("sent_at", types["sent_at"])
print("date", types["date"])
print("mentions", types["mentions"])
print("withdrawn", con.execute(f"SELECT count(*) FROM {m} WHERE state = 'withdrawn' AND withdrawn_at IS NOT NULL").fetchone()[0])
print("first", con.execute(f"SELECT strftime(min(sent_at) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') FROM {m}").fetchone()[0])
print("attachment", con.execute(f"SELECT attachments[1].name FROM {m} LIMIT 1").fetchone()[0])
print("kinds", con.execute(f"SELECT string_agg(DISTINCT kind, ',' ORDER BY kind) FROM {e}").fetchone()[0])
"#;
    let stdout = run_python(script, &a.out_dir());
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.contains(&"messages 5"), "{stdout}");
    assert!(lines.contains(&"events 6"), "{stdout}");
    assert!(
        lines.contains(&"platform goofish 2") && lines.contains(&"platform wecom 3"),
        "{stdout}"
    );
    assert!(lines.contains(&"sent_at TIMESTAMP WITH TIME ZONE"), "{stdout}");
    assert!(lines.contains(&"date DATE"), "{stdout}");
    assert!(lines.contains(&"mentions VARCHAR[]"), "{stdout}");
    assert!(lines.contains(&"withdrawn 1"), "{stdout}");
    assert!(lines.contains(&"first 2026-03-01 00:00"), "{stdout}");
    assert!(lines.contains(&"attachment 报告.pdf"), "{stdout}");
    assert!(lines.contains(&"kinds message,withdraw"), "{stdout}");
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
