//! Command-line definitions (clap). Each subcommand's work is in `commands/<name>.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// chatvault: archive every message of your company's chat platforms, search it in Chinese,
/// export it as Parquet.
#[derive(Debug, Parser)]
#[command(name = "chatvault", version, about, long_about = None)]
pub struct Cli {
    /// Config file (default: ./chatvault.toml if it exists).
    #[arg(short = 'c', long = "config", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (default: `data_dir` from the config, else ./chatvault-data).
    #[arg(long = "data-dir", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start every configured connector, the callback server, the indexer and the export schedule.
    Run(RunArgs),
    /// Archive a scripted day from the six simulators into ./chatvault-demo and show it.
    Demo(DemoArgs),
    /// Search messages (Chinese substrings, Latin words, filters).
    Search(SearchArgs),
    /// Edited, withdrawn and deleted messages with every revision; connector gaps.
    Audit(AuditArgs),
    /// One message with its full event history and raw payloads.
    Show(ShowArgs),
    /// Write the Parquet export (incremental; --full rewrites everything).
    Export(ExportArgs),
    /// Counts per platform, chat type and state; rejects; connectors.
    Stats(StatsArgs),
    /// Recompute the hash chain and check the projections against the log.
    Verify(VerifyArgs),
    /// Consistent copy of the database while `run` runs.
    Backup(BackupArgs),
    /// Append the current chain head (SEQ:HASH) to the anchors file and print it.
    Anchor,
    /// Rebuild the search index from the archive.
    Reindex,
    /// Validate the config and say what is wrong.
    CheckConfig,
    /// Kept rejects: `retry` re-processes those that can succeed later (会话存档 items once
    /// their key is configured).
    Rejects(RejectsArgs),
    /// Run one platform simulator for manual testing.
    Sim(SimArgs),
    /// Benchmarks (store, search, export, pipeline) beside their baselines.
    Bench(bench::BenchArgs),
    /// The reviewer web UI on its own address (default 127.0.0.1:8090).
    Serve(ServeArgs),
    /// Reviewer UI users: add, passwd, disable, list.
    User(UserArgs),
    /// Read the reviewer UI's access log (who searched, viewed, downloaded what).
    AccessLog(AccessLogArgs),
    /// Check a case bundle from the reviewer UI offline (files, event hashes, message states).
    VerifyBundle(VerifyBundleArgs),
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Backfill history (Goofish conversation history) before going live.
    #[arg(long)]
    pub backfill: bool,
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How long the scripted day runs.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
}

/// `search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Query: words AND-ed, "quoted phrase", -exclude, OR.
    pub query: String,
    /// Only this platform.
    #[arg(long)]
    pub platform: Option<String>,
    /// Chat id (exact) or name (substring).
    #[arg(long)]
    pub chat: Option<String>,
    /// Sender id (exact) or name (substring).
    #[arg(long)]
    pub sender: Option<String>,
    /// Sent at or after: date, RFC 3339, or relative (7d, 12h).
    #[arg(long)]
    pub since: Option<String>,
    /// Sent before: date, RFC 3339, or relative.
    #[arg(long)]
    pub until: Option<String>,
    /// Content type (text, image, file…).
    #[arg(long = "type")]
    pub content_type: Option<String>,
    /// State (active, withdrawn, deleted).
    #[arg(long)]
    pub state: Option<String>,
    /// Also match earlier texts of edited messages.
    #[arg(long)]
    pub all_revisions: bool,
    /// Order: relevance (default) or time (newest first).
    #[arg(long, default_value = "relevance")]
    pub sort: String,
    /// Most results.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// JSON Lines output.
    #[arg(long)]
    pub json: bool,
}

/// `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Withdrawn messages.
    #[arg(long)]
    pub withdrawn: bool,
    /// Edited messages.
    #[arg(long)]
    pub edited: bool,
    /// Deleted messages.
    #[arg(long)]
    pub deleted: bool,
    /// Connector downtime.
    #[arg(long)]
    pub gaps: bool,
    /// From (date, RFC 3339, relative).
    #[arg(long)]
    pub since: Option<String>,
    /// Until (date, RFC 3339, relative).
    #[arg(long)]
    pub until: Option<String>,
    /// Only this platform.
    #[arg(long)]
    pub platform: Option<String>,
    /// Only this chat: its id, else any name it was recorded under (substring).
    #[arg(long)]
    pub chat: Option<String>,
    /// JSON Lines output.
    #[arg(long)]
    pub json: bool,
}

/// `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Only this account (connector name).
    #[arg(long)]
    pub account: Option<String>,
    /// Platform.
    pub platform: String,
    /// Chat id.
    pub chat_id: String,
    /// Message id.
    pub msg_id: String,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output directory (default: [export] dir, else <data_dir>/export).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Rewrite every partition and event file.
    #[arg(long)]
    pub full: bool,
}

/// `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Fail unless the event at SEQ still has HASH (`SEQ:HASH`; a bare HASH takes its seq from
    /// the export manifest or the anchors file).
    #[arg(long)]
    pub expect_head: Option<String>,
    /// Export manifest (`_manifest.json` or its directory) a bare --expect-head HASH is looked
    /// up in (default: the configured export directory's).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
}

/// `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Destination file.
    pub dest: PathBuf,
}

/// `sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// eoffice, wecom, goofish, worktool or yunhu.
    pub platform: String,
    /// Port to listen on (servers) or to post to (callback posters).
    #[arg(long)]
    pub port: Option<u16>,
}

/// `rejects`.
#[derive(Debug, Args)]
pub struct RejectsArgs {
    /// What to do with them.
    #[command(subcommand)]
    pub action: RejectsAction,
}

/// `rejects` subcommands.
#[derive(Debug, Subcommand)]
pub enum RejectsAction {
    /// Re-process kept rejects (refused while `run` writes the archive).
    Retry {
        /// Only this platform's rejects (today only `wecom_archive` can succeed on retry).
        #[arg(long)]
        platform: Option<String>,
    },
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (default: `[ui] listen`, else 127.0.0.1:8090).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
}

/// `user`.
#[derive(Debug, Args)]
pub struct UserArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: UserAction,
}

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Add a user (prompts for the password unless --password-stdin).
    Add {
        /// Login name.
        name: String,
        /// reviewer or admin.
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// What the user may see: platform:PLATFORM or chat:PLATFORM/CHAT_ID (repeatable;
        /// none = everything).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Set a user's password (ends their sessions).
    Passwd {
        /// Login name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user (ends their sessions; --enable undoes it).
    Disable {
        /// Login name.
        name: String,
        /// Enable instead.
        #[arg(long)]
        enable: bool,
    },
    /// List users.
    List {
        /// JSON Lines output.
        #[arg(long)]
        json: bool,
    },
}

/// `access-log`.
#[derive(Debug, Args)]
pub struct AccessLogArgs {
    /// Only this user's entries.
    #[arg(long)]
    pub user: Option<String>,
    /// At or after: date, RFC 3339, or relative (7d, 12h).
    #[arg(long)]
    pub since: Option<String>,
    /// JSON Lines output.
    #[arg(long)]
    pub json: bool,
}

/// `verify-bundle`.
#[derive(Debug, Args)]
pub struct VerifyBundleArgs {
    /// The bundle (a `.zip` downloaded from the reviewer UI).
    pub file: PathBuf,
    /// Fail unless the bundle records HASH at SEQ (its chain head or one of its events);
    /// `SEQ:HASH`, or a bare HASH.
    #[arg(long)]
    pub expect_head: Option<String>,
    /// One JSON object as output.
    #[arg(long)]
    pub json: bool,
}
