//! `chatvault user add|passwd|disable|list`: the reviewer UI's users, in `data_dir/access.db`.
//! Passwords are read from a terminal prompt (not echoed, asked twice) or as one line of
//! standard input with `--password-stdin`; only their argon2id hash is stored.

use std::io::{BufRead, IsTerminal};

use store::access::{AccessDb, Role, Scope};

use crate::cli::{UserAction, UserArgs};
use crate::context::Ctx;
use crate::exit;

/// Shortest password accepted.
const MIN_PASSWORD_CHARS: usize = 8;

/// Runs the command.
pub fn run(ctx: &Ctx, args: UserArgs) -> anyhow::Result<()> {
    let db = AccessDb::open(&ctx.data_dir)?;
    let now = chrono::Utc::now().timestamp_millis();
    match args.action {
        UserAction::Add {
            name,
            role,
            password_stdin,
            scopes,
        } => {
            let role: Role = role
                .parse()
                .map_err(|e: store::access::AccessError| exit::usage(e.to_string()))?;
            let scopes = scopes
                .iter()
                .map(|s| s.parse::<Scope>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| exit::usage(e.to_string()))?;
            if db.user(&name)?.is_some() {
                return Err(exit::usage(format!("user `{name}` exists already")));
            }
            let hash = password_hash(password_stdin)?;
            db.add_user(&name, &hash, role, &scopes, now).map_err(usage_or)?;
            let what = if scopes.is_empty() {
                "everything".to_string()
            } else {
                scopes.iter().map(Scope::to_string).collect::<Vec<_>>().join(", ")
            };
            eprintln!("added {role} `{name}` (sees {what})");
        }
        UserAction::Passwd { name, password_stdin } => {
            if db.user(&name)?.is_none() {
                return Err(exit::usage(format!("no user `{name}`")));
            }
            let hash = password_hash(password_stdin)?;
            db.set_password(&name, &hash).map_err(usage_or)?;
            eprintln!("password of `{name}` changed; their sessions ended");
        }
        UserAction::Disable { name, enable } => {
            db.set_disabled(&name, !enable).map_err(usage_or)?;
            if enable {
                eprintln!("`{name}` enabled");
            } else {
                eprintln!("`{name}` disabled; their sessions ended");
            }
        }
        UserAction::List { json } => {
            for u in db.users()? {
                let scopes: Vec<String> = u.scopes.iter().map(Scope::to_string).collect();
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "name": u.name, "role": u.role, "disabled": u.disabled,
                            "scopes": scopes, "created_at": crate::render::utc(u.created_at),
                        })
                    );
                } else {
                    let scope = if scopes.is_empty() {
                        "all".to_string()
                    } else {
                        scopes.join(" ")
                    };
                    let state = if u.disabled { "  (disabled)" } else { "" };
                    println!("{}  {}  {scope}{state}", u.name, u.role);
                }
            }
        }
    }
    Ok(())
}

fn usage_or(e: store::access::AccessError) -> anyhow::Error {
    match e {
        store::access::AccessError::NoSuchUser(_)
        | store::access::AccessError::UserExists(_)
        | store::access::AccessError::Invalid(_) => exit::usage(e.to_string()),
        e => e.into(),
    }
}

/// Reads a password (stdin line or terminal prompt) and hashes it.
fn password_hash(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            return Err(exit::usage("the two passwords differ"));
        }
        first
    } else {
        return Err(exit::usage(
            "standard input is not a terminal: pass --password-stdin to read the password from it",
        ));
    };
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(exit::usage(format!(
            "the password is too short (at least {MIN_PASSWORD_CHARS} characters)"
        )));
    }
    ui::hash_password(&password).map_err(anyhow::Error::msg)
}
