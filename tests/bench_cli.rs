//! `chatvault bench pipeline` as the compiled binary: the simulators run in a child process of
//! their own, so the peak RSS it prints is chatvault's, with the simulators' figures beside it.
//! (The child shares the command's stderr, so a child left running would keep `output()` from
//! returning.)

use crate::support::*;

#[test]
fn bench_pipeline_measures_chatvault_apart_from_the_simulators() {
    let scratch = tempfile::tempdir().unwrap();
    let o = bin()
        .args([
            "bench",
            "pipeline",
            "--n",
            "300",
            "--connectors",
            "eoffice,yunhu",
            "--dir",
        ])
        .arg(scratch.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "bench pipeline failed: {}", stderr(&o));
    let out = stdout(&o);
    let row = out
        .lines()
        .find(|l| l.starts_with("| chatvault pipeline:"))
        .unwrap_or_else(|| panic!("no pipeline row in:\n{out}"));
    assert!(row.contains("| 300 |"), "every message archived: {row}");
    let figure = |after: &str| -> f64 {
        let rest = row
            .split(after)
            .nth(1)
            .unwrap_or_else(|| panic!("no {after:?} in {row}"));
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    let ours = figure("peak RSS ");
    let sims_built = figure("simulators run in another: ");
    let sims_peak = figure("MiB once their messages were built, ");
    assert!(ours > 0.0 && sims_built > 0.0, "{row}");
    assert!(sims_peak >= sims_built, "{row}");
}
