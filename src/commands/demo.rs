//! `chatvault demo`: the six simulators on loopback → the real pipeline (`run`'s code path)
//! → a demo archive in `./chatvault-demo` → a short tour (stats, searches, audit, export).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::cli::{AuditArgs, DemoArgs, ExportArgs, SearchArgs, StatsArgs};
use crate::context::Ctx;
use pipeline::{Pipeline, PipelineOptions};

/// The demo's config file, written next to the data.
const CONFIG_FILE: &str = "chatvault-demo.toml";

pub fn run(data_dir: Option<&Path>, args: DemoArgs) -> anyhow::Result<()> {
    let dir = data_dir
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("./chatvault-demo"));
    prepare_dir(&dir)?;
    let config_path = dir.join(CONFIG_FILE);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(archive_demo_day(
        &dir,
        &config_path,
        Duration::from_secs(args.seconds.max(5)),
    ))?;
    drop(rt);
    tour(&config_path)
}

/// Where the demo writes the stand-in Finance SDK, its world and keys.
const WECOM_ARCHIVE_SDK_DIR: &str = "wecom-archive-sdk";

/// The demo owns its directory: a previous demo archive is replaced, anything else refused.
fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let is_demo = dir.join(CONFIG_FILE).exists();
        let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !is_demo && !empty {
            return Err(crate::exit::usage(format!(
                "`{}` exists and is not a chatvault demo directory; pass --data-dir with a new or empty directory",
                dir.display()
            )));
        }
        // WorkTool sends no message ids or times, so replaying the same script into an old
        // archive would (correctly) archive the messages again; start from a clean demo.
        for entry in [
            "chatvault.db",
            "chatvault.db-wal",
            "chatvault.db-shm",
            "index",
            "export",
            "blobs",
            "spool",
            WECOM_ARCHIVE_SDK_DIR,
        ] {
            let p = dir.join(entry);
            if p.is_dir() {
                std::fs::remove_dir_all(&p)?;
            } else if p.exists() {
                std::fs::remove_file(&p)?;
            }
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    Ok(())
}

async fn archive_demo_day(dir: &Path, config_path: &Path, limit: Duration) -> anyhow::Result<()> {
    use sim::{eoffice, goofish, wecom, worktool, yunhu};
    eprintln!("starting the six platform simulators on loopback …");
    let eo = eoffice::EofficeSim::start(eoffice::SimOptions::new(eoffice::Script::DemoDay)).await?;
    let gf = goofish::GoofishSim::start(goofish::SimOptions::new(goofish::Script::DemoDay)).await?;
    let yh = yunhu::YunhuSim::start(yunhu::Script::DemoDay).await?;
    let wc_api = wecom::FakeApi::start(0, wecom::SECRET).await?;
    let wt_api = worktool::FakeApi::start(0).await?;
    let wa_names = sim::wecom_archive::NamesApi::start().await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();

    let data_dir = std::fs::canonicalize(dir)?;
    // 会话存档: the binary carries the stand-in Finance SDK and writes it, with its scripted
    // world and throwaway keys, into the demo directory; the worker loads it from there (and
    // `check-config` on the demo's config still finds it afterwards).
    let wa_world = sim::wecom_archive::install(
        &data_dir.join(WECOM_ARCHIVE_SDK_DIR),
        proto::time::now_ms() - 3 * 3_600_000,
        &[],
    )?;
    let mut toml = format!(
        "# Written by `chatvault demo`: the config the demo archived with.\n\
         timezone = \"Asia/Shanghai\"\n\n[storage]\ndata_dir = \"{}\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n",
        data_dir.display()
    );
    for section in [
        eo.config_section("oa"),
        wecom::config_toml("corp", wecom::DEFAULT_PATH, Some(&wc_api.base_url())),
        gf.config_section("shop"),
        worktool::config_toml("robot1", worktool::DEFAULT_PATH, Some(&wt_api.base_url())),
        yh.config_toml("team"),
        sim::wecom_archive::config_toml(
            "audit",
            &wa_world,
            &[1, 2],
            &format!(
                "poll_interval = \"300ms\"\ntimeout = \"5s\"\n{}",
                wa_names.config_lines()
            ),
        ),
    ] {
        toml.push_str(&section);
        toml.push('\n');
    }
    std::fs::write(config_path, toml)?;
    let cfg = config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;

    let shutdown = CancellationToken::new();
    crate::commands::run::spawn_signal_handler(shutdown.clone());
    let pipeline = Pipeline::start(
        PipelineOptions {
            config: cfg,
            data_dir: data_dir.clone(),
            backfill: false,
            drain_timeout: Duration::from_secs(10),
            index: true,
        },
        shutdown.clone(),
    )
    .await?;
    let base = format!("http://127.0.0.1:{port}");
    let wc_poster = wecom::WecomPoster::sim(&format!("{base}{}", wecom::DEFAULT_PATH));
    let wt_poster = worktool::WorktoolPoster::sim(&format!("{base}{}", worktool::DEFAULT_PATH));
    let posters = tokio::spawn(async move {
        let a = wc_poster.run(&wecom::Script::DemoDay.callbacks(wecom::CORP_ID)).await;
        let b = wt_poster.run(&worktool::Script::DemoDay.callbacks()).await;
        (a, b)
    });

    let started = Instant::now();
    let mut posted = None;
    let mut posters = Some(posters);
    loop {
        let events = crate::context::count_events(&data_dir);
        eprint!(
            "\rarchiving a scripted day from e-office, WeCom, Goofish, WorkTool, Yunhu and WeCom 会话存档 … {events} events committed "
        );
        let _ = std::io::stderr().flush();
        if let Some(p) = posters.as_ref()
            && p.is_finished()
        {
            posted = Some(posters.take().expect("present").await?);
        }
        let scripts_done = posted.is_some()
            && eo.pending_offline() == 0
            && eo.live_remaining() == 0
            && gf.live_remaining() == 0
            && yh.wait_done(Duration::ZERO).await;
        if scripts_done || started.elapsed() >= limit || shutdown.is_cancelled() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Let the last live pushes commit, then drain exactly like `run` on SIGTERM.
    tokio::time::sleep(Duration::from_millis(800)).await;
    shutdown.cancel();
    let stats = pipeline.wait().await?;
    eprintln!(
        "\rarchived: {} events appended, {} duplicates recognised (redeliveries), in {:.1} s{:20}",
        stats.appended,
        stats.duplicates,
        started.elapsed().as_secs_f64(),
        ""
    );
    if let Some((wecom_acked, worktool_acked)) = posted {
        eprintln!("callbacks answered after commit: WeCom {wecom_acked}, WorkTool {worktool_acked}");
    }
    eprintln!(
        "e-office offline messages acknowledged after commit: {}",
        eo.acked_ids().len()
    );
    Ok(())
}

fn heading(s: &str) {
    println!("\n━━ {s} ━━");
}

fn tour(config_path: &Path) -> anyhow::Result<()> {
    let ctx = Ctx::load(Some(config_path), None)?;
    heading("chatvault stats");
    crate::commands::stats::run(&ctx, StatsArgs { json: false })?;
    for (q, note) in [
        ("农业", "a 2-character fragment finds 农业局 and 农业局项目"),
        ("合同", "contracts, across platforms"),
    ] {
        heading(&format!("chatvault search {q}   ({note})"));
        crate::commands::search::run(&ctx, search_args(q))?;
    }
    heading("chatvault audit --edited --withdrawn --deleted");
    crate::commands::audit::run(
        &ctx,
        AuditArgs {
            withdrawn: true,
            edited: true,
            deleted: true,
            gaps: false,
            since: None,
            until: None,
            platform: None,
            chat: None,
            json: false,
        },
    )?;
    heading("chatvault export");
    crate::commands::export::run(&ctx, ExportArgs { out: None, full: false })?;
    let export_dir = export::ExportOptions::resolve_out_dir(&ctx.data_dir, ctx.config.export.dir.as_deref());
    println!("\nQuery it with DuckDB:");
    println!(
        "  duckdb -c \"SELECT platform, count(*) AS messages, count(*) FILTER (WHERE state <> 'active') AS changed FROM read_parquet('{}/messages/**/*.parquet', hive_partitioning=true) GROUP BY platform\"",
        export_dir.display()
    );
    println!("\nThe demo's config is {}; try for example:", config_path.display());
    println!(
        "  chatvault -c {} search 报销 --platform worktool",
        config_path.display()
    );
    println!("  chatvault -c {} audit --gaps", config_path.display());
    Ok(())
}

fn search_args(q: &str) -> SearchArgs {
    SearchArgs {
        query: q.to_string(),
        platform: None,
        chat: None,
        sender: None,
        since: None,
        until: None,
        content_type: None,
        state: None,
        all_revisions: false,
        sort: "relevance".into(),
        limit: 5,
        json: false,
    }
}
