//! `chatvault search QUERY [filters]`: Chinese substring search over the archive.
//!
//! When `run` is not running, the tail of the event log the index has not seen is indexed
//! first (the writer lock is held only for that); while `run` runs, its indexer keeps the
//! index within a second of the archive and this command only reads. Results are read back
//! from the archive, so they show each message's current state.

use std::io::{IsTerminal, Write};

use proto::{ContentType, MessageRecord, MessageState};
use search::{Filters, IndexerOptions, Named, SearchError, SearchRequest, Searcher, Sort};

use crate::cli::SearchArgs;
use crate::context::Ctx;
use crate::{exit, render, timearg};

/// Characters of a long message shown around the first hit.
const SNIPPET_CHARS: usize = 160;

/// Turns a search error into an exit-coded CLI error (usage errors exit 2).
pub fn cli_error(e: SearchError) -> anyhow::Error {
    if e.is_usage() {
        exit::usage(e.to_string())
    } else {
        anyhow::Error::new(e)
    }
}

/// Runs the command.
pub fn run(ctx: &Ctx, args: SearchArgs) -> anyhow::Result<()> {
    let query = search::parse(&args.query).map_err(cli_error)?;
    let mut filters = Filters::default();
    if let Some(p) = &args.platform {
        for v in list(p) {
            filters
                .platforms
                .push(search::schema::platform_ord(render::platform_arg(v)?));
        }
    }
    let types: Vec<ContentType> = parse_list("type", args.content_type.as_deref())?;
    filters.content_types = types.into_iter().map(search::schema::content_type_ord).collect();
    let states: Vec<MessageState> = parse_list("state", args.state.as_deref())?;
    filters.states = states.into_iter().map(search::schema::state_ord).collect();
    let now = chrono::Utc::now();
    filters.since = timearg::flag("since", args.since.as_deref(), ctx.tz(), now)?;
    filters.until = timearg::flag("until", args.until.as_deref(), ctx.tz(), now)?;
    let sort = match args.sort.as_str() {
        "relevance" => Sort::Relevance,
        "time" => Sort::Time,
        other => {
            return Err(exit::usage(format!("unknown sort `{other}` (valid: relevance, time)")));
        }
    };

    // Refuse before touching anything when the index is missing or unusable.
    let searcher = Searcher::open(&ctx.data_dir).map_err(cli_error)?;
    let store = ctx.reader()?;
    catch_up_tail(ctx, &store)?;
    searcher.reload().map_err(cli_error)?;

    if let Some(spec) = &args.chat {
        let known = searcher.chats_with_archive(&store).map_err(cli_error)?;
        filters.chats = pick("--chat", "chat", &known, spec)?;
    }
    if let Some(spec) = &args.sender {
        let known = searcher.senders().map_err(cli_error)?;
        filters.senders = pick("--sender", "sender", &known, spec)?;
    }

    let req = SearchRequest {
        query,
        filters,
        all_revisions: args.all_revisions,
        sort,
        limit: args.limit,
    };
    let hits = searcher.search(&req).map_err(cli_error)?;
    let none = hits.is_empty();
    let found = search::with_records(&store, hits)?;

    let mut out = std::io::stdout().lock();
    let colour = use_colour();
    let terms: Vec<&str> = req.query.positive_terms().collect();
    for (hit, r) in found {
        if args.json {
            let mut v = render::record_json(&r);
            if let (Some(o), Some(s)) = (v.as_object_mut(), hit.score) {
                o.insert("score".into(), serde_json::json!(s));
            }
            render::json_line(&mut out, &v)?;
        } else {
            writeln!(out, "{}", human_line(&r, &terms, ctx.tz(), colour))?;
        }
    }
    out.flush()?;
    if none && !args.json {
        eprintln!("no messages match");
    }
    Ok(())
}

/// Indexes what the index has not seen yet, unless another process (`run`) holds the writer.
fn catch_up_tail(ctx: &Ctx, store: &store::StoreReader) -> anyhow::Result<()> {
    let Some((mut ix, _)) = search::Indexer::try_open(&ctx.data_dir, IndexerOptions::default()).map_err(cli_error)?
    else {
        return Ok(());
    };
    let behind = store.head()?.seq.saturating_sub(ix.seq());
    if behind > 50_000 {
        eprintln!("indexing {behind} new events first…");
    }
    ix.catch_up(store, 200_000, &mut |_, _| {}).map_err(cli_error)?;
    Ok(())
}

/// Resolves `--chat` / `--sender`: an exact id, else names containing the text; several
/// matches are all kept and listed on stderr.
fn pick(flag: &str, what: &str, known: &[Named], spec: &str) -> anyhow::Result<Vec<String>> {
    let found = search::resolve(known, spec);
    if found.is_empty() {
        return Err(exit::usage(format!(
            "{flag} `{spec}`: no {what} has that id or a name containing it"
        )));
    }
    if found.len() > 1 {
        eprintln!(
            "{flag} `{spec}` matches {} {what}s (searching all of them):",
            found.len()
        );
        for n in &found {
            let platform = n.key.split(search::schema::SEP).next().unwrap_or("");
            let name = if n.names.is_empty() {
                "(no name)".to_string()
            } else {
                n.names.join(" / ")
            };
            eprintln!("  {name}  [{platform} {}]", n.id);
        }
    }
    Ok(found.into_iter().map(|n| n.key.clone()).collect())
}

fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|v| !v.is_empty())
}

/// Every value of a comma-separated `--flag`; an unknown one is a usage error that lists the
/// valid ones.
fn parse_list<T>(flag: &str, values: Option<&str>) -> anyhow::Result<Vec<T>>
where
    T: std::str::FromStr<Err = proto::model::UnknownValue>,
{
    values
        .into_iter()
        .flat_map(list)
        .map(|v| {
            v.parse().map_err(|e: proto::model::UnknownValue| {
                exit::usage(format!("unknown --{flag} `{}` (valid: {})", e.value, e.choices))
            })
        })
        .collect()
}

/// Colour on a terminal, unless `NO_COLOR` is set; `CLICOLOR_FORCE=1` forces it.
fn use_colour() -> bool {
    if std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// `time  platform  chat  sender  [state]  text`, hits in bold red when colour is on.
fn human_line(r: &MessageRecord, terms: &[&str], tz: chrono_tz::Tz, colour: bool) -> String {
    let chat = r
        .chat_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| r.key.chat_id.clone());
    let sender = r
        .sender_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| r.sender_id.clone());
    let mut line = format!(
        "{}  {}  {}  {}  ",
        render::local(r.sent_at, tz),
        r.key.platform,
        chat,
        sender
    );
    if r.state != MessageState::Active {
        line.push_str(&format!("[{}] ", r.state));
    }
    if r.revision > 0 {
        line.push_str("[edited] ");
    }
    for seg in search::highlight::highlight(&r.text, terms.iter().copied(), SNIPPET_CHARS) {
        if seg.hit && colour {
            line.push_str(&format!("\x1b[1;31m{}\x1b[0m", seg.text));
        } else {
            line.push_str(&seg.text);
        }
    }
    line
}
