//! Export files get the configured permissions exactly, whatever the process's umask (which
//! would otherwise leave them world-readable as 0644 under the usual 022).

use std::os::unix::fs::PermissionsExt;

use proto::Platform;

use crate::common::*;

fn modes(out: &std::path::Path) -> Vec<(String, u32)> {
    all_files(out)
        .into_iter()
        .filter(|f| f.ends_with(".parquet") || f.ends_with("_manifest.json"))
        .map(|f| {
            let mode = std::fs::metadata(out.join(&f)).unwrap().permissions().mode() & 0o777;
            (f, mode)
        })
        .collect()
}

fn export_with(a: &Archive, mode: u32, full: bool) {
    let opts = export::ExportOptions {
        file_mode: mode,
        ..a.export_options(chrono_tz::UTC, full)
    };
    export::run_export(&opts, &mut |_| {}).unwrap();
}

#[test]
fn files_get_the_configured_mode_not_the_umask() {
    let mut a = Archive::new();
    a.append_text(Platform::Wecom, "corp", "c1", "m1", DAY0, "季度报表已经发到群里");
    export_with(&a, export::DEFAULT_FILE_MODE, false);
    let got = modes(&a.out_dir());
    assert!(got.len() >= 3, "{got:?}");
    assert!(got.iter().all(|(_, m)| *m == 0o640), "{got:?}");

    export_with(&a, 0o600, true);
    let got = modes(&a.out_dir());
    assert!(got.iter().all(|(_, m)| *m == 0o600), "{got:?}");
}
