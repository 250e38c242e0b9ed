//! Recovery after a reconnect, without relying on the server to replay anything.
//!
//! The seed (`002`) has `register()` call `getSyncStatus()` then `ackDiff()` so that pushes
//! start; no source says the server then redelivers unacknowledged pushes or pushes what
//! arrived while the client was away. So after every reconnect, and on the first connect of a
//! process resuming from a stored cursor, the gap is recovered explicitly: every conversation
//! whose newest message in the conversation list (`listNewestPagination`, protocols.md §3.10)
//! is past its high-water mark (the cursor's `convs`) is paged back through its history
//! (`listUserMessages`, §3.10; the seed has no history request) to that mark. A conversation
//! never seen is paged back as deep as a backfill goes. Messages fetched here and pushed live
//! as well normalize to the same events, so the store records them once.
//!
//! A conversation that cannot be recovered (flow control persisted, or more pages than a
//! recovery reads) keeps its mark, so the next recovery tries again, and is reported: the
//! connector records `history_behind` (a gap in `audit --gaps`) until a recovery is complete.

use super::backfill::{self, Paging, Stop, Throttled};
use super::transport::Socket;
use crate::{ConnectorContext, ConnectorError};

/// What a recovery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Conversations listed.
    pub conversations: usize,
    /// Conversations paged because they were past their mark.
    pub paged: usize,
    /// History messages handed to the store.
    pub messages: usize,
    /// Conversations that could not be recovered.
    pub missed: Vec<String>,
}

/// Recovers every conversation past its mark, committing pages with `cursor` and noting the
/// new marks in it.
pub async fn run(
    socket: &mut Socket,
    cx: &ConnectorContext,
    mut paging: Paging<'_>,
) -> Result<Recovered, ConnectorError> {
    let convs = paging.conversations(socket).await?;
    let Paging {
        depth,
        flow_delays,
        cursor,
    } = paging;
    let mut done = Recovered {
        conversations: convs.len(),
        ..Recovered::default()
    };
    for conv in convs {
        let mark = cursor.mark(&conv.cid);
        let behind = match (conv.last_at, mark) {
            (Some(last), Some(mark)) => last > mark,
            // The list does not say when its newest message was sent: page to the mark.
            (None, Some(_)) => true,
            (_, None) => true,
        };
        if !behind {
            continue;
        }
        done.paged += 1;
        let stop = match mark {
            Some(m) => Stop::Before(m),
            None => Stop::Depth(depth),
        };
        match backfill::history(socket, cx, &conv.cid, stop, flow_delays, cursor).await? {
            Ok(paged) => {
                done.messages += paged.messages;
                if paged.complete {
                    // Only what was fetched moves the mark.
                    if let Some(at) = paged.newest {
                        cursor.saw(&conv.cid, at);
                    }
                } else {
                    done.missed.push(conv.cid);
                }
            }
            Err(Throttled) => done.missed.push(conv.cid),
        }
    }
    Ok(done)
}
