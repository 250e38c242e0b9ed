//! `chatvault reindex`: rebuild the search index from the archive's event log.
//!
//! Refuses while another process (`run`, or a `search` catching up) holds the index writer,
//! naming its pid. Searchers keep the old index until the rebuild commits.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use search::{Indexer, IndexerOptions};

use crate::commands::search::cli_error;
use crate::context::Ctx;

/// Runs the command.
pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let store = ctx.reader()?;
    let started = Instant::now();
    let mut ix = Indexer::open_for_rebuild(&ctx.data_dir, IndexerOptions::bulk()).map_err(cli_error)?;
    let head = store.head()?.seq;
    // indicatif draws only when stderr is a terminal, so piped output stays clean.
    let bar = ProgressBar::new(head);
    bar.set_style(
        ProgressStyle::with_template("indexing {bar:40} {pos}/{len} events ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // One commit at the end: a search meanwhile sees the old index, never a half-built one.
    ix.catch_up(&store, usize::MAX, &mut |seq, _| bar.set_position(seq))
        .map_err(cli_error)?;
    let seq = ix.seq();
    let index = ix.index().clone();
    ix.finish().map_err(cli_error)?;
    bar.finish_and_clear();
    let docs = search::Searcher::new(index).map_err(cli_error)?.num_docs();
    println!(
        "indexed {docs} messages from {seq} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
