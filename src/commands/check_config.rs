//! `chatvault check-config`: validate the config and say what it will do.
//!
//! Loading the config (in [`crate::context::Ctx::load`]) already ran every check of the config
//! crate and turned a failure into exit 2; this adds the export schedule (parsed by the export
//! crate, which owns its meaning) and prints a summary: where data goes, what each connector
//! listens to, and what each platform can and cannot see.

use std::fmt::Write as _;

use config::{Config, ConnectorConfig};

use crate::context::Ctx;
use crate::render;

/// Runs the command.
pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let Some(path) = &ctx.config_path else {
        return Err(crate::exit::usage(
            "no config file: pass -c FILE, or create ./chatvault.toml (see examples/chatvault.toml)",
        ));
    };
    let cfg = &ctx.config;
    if let Some(expr) = &cfg.export.schedule
        && let Err(e) = export::Schedule::parse(expr, cfg.tz)
    {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let line = config::field_line(&text, Some("export"), None, "schedule");
        return Err(crate::exit::usage(format!(
            "{}:{line}: `export.schedule`: {e}",
            path.display()
        )));
    }
    check_wecom_archive(path, cfg)?;
    print!("{}", summary(&path.display().to_string(), cfg, &ctx.data_dir));
    Ok(())
}

/// The file checks of `[[wecom_archive]]`: keys load, the SDK loads in a throwaway worker.
fn check_wecom_archive(path: &std::path::Path, cfg: &Config) -> anyhow::Result<()> {
    if cfg.wecom_archive.is_empty() {
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    for (i, a) in cfg.wecom_archive.iter().enumerate() {
        let worker = finance::WorkerCommand::current_exe(ingest::wecom_archive::WORKER_SUBCOMMAND)?;
        if let Err(e) = rt.block_on(ingest::wecom_archive::check::check(a, worker)) {
            let key = if e.starts_with("sdk_path") { "sdk_path" } else { "pem" };
            let line = if key == "sdk_path" {
                config::field_line(&text, Some("wecom_archive"), Some(i), key)
            } else {
                0
            };
            let at = if line > 0 { format!(":{line}") } else { String::new() };
            return Err(crate::exit::check_failed(format!(
                "{}{at}: wecom_archive[{i}].{e}",
                path.display()
            )));
        }
    }
    Ok(())
}

/// The human summary of a valid config.
fn summary(path: &str, cfg: &Config, data_dir: &std::path::Path) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{path}: valid");
    let _ = writeln!(s, "  time zone:  {}", cfg.tz.name());
    let _ = writeln!(
        s,
        "  data dir:   {} (durability: {})",
        data_dir.display(),
        if cfg.storage.synchronous_full {
            "synchronous=FULL"
        } else {
            "synchronous=NORMAL, may lose the last commits on power loss"
        }
    );
    let callbacks = cfg.wecom.len() + cfg.worktool.len();
    let _ = writeln!(
        s,
        "  server:     http://{} (/healthz, /metrics{})",
        cfg.server.listen,
        if callbacks > 0 {
            format!(", {callbacks} callback route(s)")
        } else {
            String::new()
        }
    );
    let _ = match &cfg.export.schedule {
        Some(expr) => writeln!(s, "  export:     `{expr}` in {}", cfg.tz.name()),
        None => writeln!(s, "  export:     no schedule (run `chatvault export` by hand)"),
    };
    let connectors = cfg.connectors();
    if connectors.is_empty() {
        let _ = writeln!(s, "\nNo connectors configured: `chatvault run` would archive nothing.");
        return s;
    }
    let _ = writeln!(s, "\n{} connector(s):", connectors.len());
    for c in &connectors {
        let _ = writeln!(s, "  {} ({}): {}", c.name(), c.platform(), source(c, cfg));
        let _ = writeln!(s, "      sees: {}", render::coverage(c.platform()));
    }
    s
}

/// Where a connector's messages come from, without any secret.
fn source(c: &ConnectorConfig, cfg: &Config) -> String {
    match c {
        ConnectorConfig::Eoffice(e) => format!(
            "Socket.IO {}{} as user {} ({}){}",
            e.url.trim_end_matches('/'),
            e.path,
            e.user_id,
            e.connect_type.as_str(),
            if e.aes_key.is_some() {
                ", decrypts message_content"
            } else {
                ", plain-text content"
            }
        ),
        ConnectorConfig::Wecom(w) => format!(
            "callback http://{}{} for corp {}{}",
            cfg.server.listen,
            w.path,
            w.corp_id,
            if w.secret.is_some() {
                ", API lookups on"
            } else {
                ", no app secret: no name lookups or media"
            }
        ),
        ConnectorConfig::Goofish(g) => format!(
            "WebSocket {} ({})",
            g.ws_url,
            match (&g.token, &g.cookies) {
                (_, Some(_)) => "cookies: token refreshed automatically",
                _ => "fixed token: re-login needed when it expires",
            }
        ),
        ConnectorConfig::Worktool(w) => format!(
            "callback http://{}{}?key=***{}",
            cfg.server.listen,
            w.path,
            if w.robot_id.is_some() {
                ", robot online status polled"
            } else {
                ""
            }
        ),
        ConnectorConfig::Yunhu(y) => format!("WebSocket {} as user {} ({})", y.ws_url, y.user_id, y.platform),
        ConnectorConfig::WecomArchive(a) => format!(
            "Finance SDK {} for corp {} every {:?}, key version(s) {}{}",
            a.sdk_path.display(),
            a.corp_id,
            a.poll_interval,
            a.private_keys
                .iter()
                .map(|k| k.version.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if a.media {
                ", media downloaded"
            } else {
                ", media not downloaded"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_connectors_and_coverage_without_secrets() {
        let text = "timezone = \"Asia/Shanghai\"\n\
            [[wecom]]\nname = \"corp\"\ncorp_id = \"ww1\"\ntoken = \"tok-SECRET\"\n\
            encoding_aes_key = \"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C\"\npath = \"/cb/wecom\"\n\
            [[worktool]]\nname = \"robot\"\npath = \"/cb/wt\"\nkey = \"key-SECRET\"\n";
        let cfg = config::parse(text, std::path::Path::new("c.toml")).unwrap();
        let s = summary("c.toml", &cfg, std::path::Path::new("/data"));
        assert!(s.starts_with("c.toml: valid\n  time zone:  Asia/Shanghai\n"), "{s}");
        assert!(
            s.contains("corp (wecom): callback http://127.0.0.1:8088/cb/wecom for corp ww1"),
            "{s}"
        );
        assert!(s.contains("NOT employees' chats with each other"), "{s}");
        assert!(
            s.contains("robot (worktool): callback http://127.0.0.1:8088/cb/wt?key=***"),
            "{s}"
        );
        assert!(s.contains("replyAll = 1"), "{s}");
        assert!(!s.contains("SECRET") && !s.contains("jWmYm7"), "{s}");
    }

    #[test]
    fn empty_config_says_nothing_is_archived() {
        let s = summary("c.toml", &Config::default(), std::path::Path::new("/data"));
        assert!(s.contains("No connectors configured"), "{s}");
    }
}
