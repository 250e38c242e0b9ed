//! Secret hygiene: the whole pipeline against the five simulators with debug logging, and no
//! configured token, key or cookie appears in the logs, the command outputs, the archive's
//! stored payloads, rejects or the export.

use crate::support::*;

fn secrets() -> Vec<&'static str> {
    vec![
        sim::eoffice::SIM_TOKEN,
        sim::eoffice::SIM_AES_KEY,
        sim::wecom::TOKEN,
        sim::wecom::ENCODING_AES_KEY,
        sim::wecom::SECRET,
        sim::goofish::SIM_TOKEN,
        sim::goofish::SIM_COOKIES,
        sim::goofish::SIM_H5TK,
        sim::worktool::KEY,
        sim::yunhu::TOKEN,
        sim::wecom_archive::ARCHIVE_SECRET,
        sim::wecom_archive::CONTACT_SECRET,
        sim::wecom_archive::USER_SECRET,
    ]
}

fn assert_clean(what: &str, text: &str) {
    for s in secrets() {
        assert!(!text.contains(s), "{what} contains the secret `{s}`");
    }
}

#[test]
fn no_secret_in_logs_outputs_archive_or_export() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = bin()
        .env("RUST_LOG", "debug")
        .args(["demo", "--seconds", "30", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let log = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "demo failed:\n{log}");
    assert!(log.contains("DEBUG"), "debug logging was on");
    assert_clean("demo output with RUST_LOG=debug", &log);

    let cfg = data.join("chatvault-demo.toml");
    let config_text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        config_text.contains(sim::wecom::TOKEN),
        "the test's own config holds the secrets"
    );
    for args in [
        &["stats"][..],
        &["stats", "--json"],
        &["check-config"],
        &["audit", "--json"],
        &["audit", "--gaps"],
        &["verify"],
    ] {
        let o = cv(&cfg, args);
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert_clean(
            &format!("`chatvault {}`", args.join(" ")),
            &format!("{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr)),
        );
    }
    // Errors: a config with a bad value next to secrets does not echo them.
    let bad = config_text.replace("timezone = \"Asia/Shanghai\"", "timezone = \"Mars/Olympus\"");
    let bad_path = dir.path().join("bad.toml");
    std::fs::write(&bad_path, bad).unwrap();
    let o = cv(&bad_path, &["check-config"]);
    assert!(!o.status.success());
    assert_clean("a config error", &String::from_utf8_lossy(&o.stderr));

    // The archive: raw payloads, events, rejects.
    let conn =
        rusqlite::Connection::open_with_flags(data.join("chatvault.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    for s in secrets() {
        for (table, col) in [
            ("raw", "bytes"),
            ("events", "payload"),
            ("rejects", "bytes"),
            ("rejects", "reason"),
            ("cursors", "cursor"),
        ] {
            let n: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM {table} WHERE instr(CAST({col} AS TEXT), ?1) > 0"),
                    [s],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 0, "{table}.{col} contains the secret `{s}`");
        }
    }
    // The export, every column of every row read back as text by DuckDB.
    let ex = cv(&cfg, &["export"]);
    assert!(ex.status.success());
    assert_clean(
        "export output",
        &format!("{}{}", stdout(&ex), String::from_utf8_lossy(&ex.stderr)),
    );
    let manifest = std::fs::read_to_string(data.join("export/_manifest.json")).unwrap();
    assert_clean("export manifest", &manifest);
    let py = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        py.exists(),
        "the Python test peers are missing: run `bash .ci/test` (it creates .venv)"
    );
    let dump = std::process::Command::new(py)
        .args(["-c", "import duckdb,sys; d=sys.argv[1]; [print(r) for r in duckdb.sql(f\"SELECT COLUMNS(*)::VARCHAR FROM read_parquet('{d}/**/*.parquet', hive_partitioning=true, union_by_name=true)\").fetchall()]"])
        .arg(data.join("export"))
        .output()
        .unwrap();
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let rows = stdout(&dump);
    assert!(rows.lines().count() > 100, "the export was read back");
    assert_clean("export rows", &rows);
}
