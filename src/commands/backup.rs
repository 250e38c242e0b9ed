//! `chatvault backup DEST`: consistent copy of the database while `run` runs, with progress;
//! the copy is then verified on its own and its head checked to be on the archive's chain.

use anyhow::Context as _;

pub fn run(ctx: &crate::context::Ctx, args: crate::cli::BackupArgs) -> anyhow::Result<()> {
    let mut last = -1;
    let head = store::backup(&ctx.data_dir, &args.dest, &mut |remaining, total| {
        let pct = if total > 0 { 100 - remaining * 100 / total } else { 100 };
        if pct != last {
            eprint!("\rbackup: {pct:3}% of {} MiB", (i64::from(total) * 4096) >> 20);
            last = pct;
        }
    })
    .with_context(|| format!("backup of `{}` failed", ctx.data_dir.display()))?;
    eprintln!();
    // Prove the copy: its own chain and projections verify, to the head found on the source.
    let dir = tempfile::tempdir()?;
    std::fs::copy(&args.dest, dir.path().join(store::DB_FILE))?;
    let report = store::StoreReader::open(dir.path())?.verify(&mut |_| {})?;
    if !report.ok || report.head != head {
        return Err(crate::exit::check_failed(format!(
            "the backup at `{}` does not verify",
            args.dest.display()
        )));
    }
    println!(
        "backup written to {} (verified: {} events, head {} {}, on the archive's chain)",
        args.dest.display(),
        report.events,
        report.head.seq,
        report.head.hash
    );
    Ok(())
}
