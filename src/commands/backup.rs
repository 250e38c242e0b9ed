//! `chatvault backup DEST`: consistent copy of the database while `run` runs.

use anyhow::Context as _;

pub fn run(ctx: &crate::context::Ctx, args: crate::cli::BackupArgs) -> anyhow::Result<()> {
    let mut last = -1;
    store::backup(&ctx.data_dir, &args.dest, &mut |remaining, total| {
        let pct = if total > 0 { 100 - remaining * 100 / total } else { 100 };
        if pct / 10 != last / 10 {
            eprint!("\rbackup: {pct:3}%");
            last = pct;
        }
    })
    .with_context(|| format!("backup of `{}` failed", ctx.data_dir.display()))?;
    eprintln!();
    // Prove the copy: same chain, same head.
    let dir = tempfile::tempdir()?;
    std::fs::copy(&args.dest, dir.path().join(store::DB_FILE))?;
    let report = store::StoreReader::open(dir.path())?.verify(&mut |_| {})?;
    if !report.ok {
        return Err(crate::exit::check_failed(format!(
            "the backup at `{}` does not verify",
            args.dest.display()
        )));
    }
    println!(
        "backup written to {} (verified: {} events, head {} {})",
        args.dest.display(),
        report.events,
        report.head.seq,
        report.head.hash
    );
    Ok(())
}
