//! `chatvault access-log [--user U] [--since T] [--json]`: the reviewer UI's access log,
//! oldest first, after checking its hash chain (a broken chain is reported, exit 3, after the
//! entries are printed so they can still be read).

use store::access::{AccessDb, AccessFilter};

use crate::cli::AccessLogArgs;
use crate::context::Ctx;
use crate::{exit, render, timearg};

/// Runs the command.
pub fn run(ctx: &Ctx, args: AccessLogArgs) -> anyhow::Result<()> {
    let since = timearg::flag("since", args.since.as_deref(), ctx.tz(), chrono::Utc::now())?;
    let Some(db) = AccessDb::open_existing(&ctx.data_dir)? else {
        eprintln!(
            "no access log in `{}` (no UI user was ever added)",
            ctx.data_dir.display()
        );
        return Ok(());
    };
    let entries = db.entries(&AccessFilter { user: args.user, since })?;
    for e in &entries {
        if args.json {
            let mut v = serde_json::to_value(e)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("time".into(), serde_json::json!(render::utc(e.at)));
            }
            println!("{v}");
        } else {
            let who = if e.user.is_empty() { "(anonymous)" } else { &e.user };
            println!(
                "{}  {who}  {}  {}  {}  {}",
                render::local(e.at, ctx.tz()),
                e.action,
                e.outcome,
                e.target,
                e.detail
            );
        }
    }
    let report = db.verify_log()?;
    match report.problem {
        Some(p) => Err(exit::check_failed(format!("the access log is not intact: {p}"))),
        None => Ok(()),
    }
}
