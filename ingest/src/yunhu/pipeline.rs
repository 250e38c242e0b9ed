//! Batches in flight: sent to the store writer without waiting, their commit notices
//! settled strictly in order, so the connector keeps reading frames while earlier batches
//! commit and always knows the last position the store has committed.

use std::collections::VecDeque;

use proto::{CommitError, CommitInfo, Ingested};
use tokio::sync::oneshot;

use super::cursor::Position;
use crate::state::StateReporter;
use crate::{ConnectorError, EventSender};

type Notice = oneshot::Receiver<Result<CommitInfo, CommitError>>;

/// Commit notices in send order, each with the position its batch carries.
pub struct Pipeline {
    pending: VecDeque<(Notice, Position)>,
    committed: Position,
    max_in_flight: usize,
    account: String,
}

impl Pipeline {
    /// Starts from the last committed position; at most `max_in_flight` batches unsettled.
    pub fn new(account: &str, committed: Position, max_in_flight: usize) -> Self {
        Pipeline {
            pending: VecDeque::new(),
            committed,
            max_in_flight: max_in_flight.max(1),
            account: account.into(),
        }
    }

    /// The position of the last batch the store confirmed.
    pub fn committed(&self) -> &Position {
        &self.committed
    }

    /// Sends a batch carrying `pos` (waits for a channel slot, and for the oldest notice when
    /// too many are in flight).
    pub async fn send(
        &mut self,
        out: &EventSender,
        state: &StateReporter,
        items: Vec<Ingested>,
        pos: &Position,
    ) -> Result<(), ConnectorError> {
        while self.pending.len() >= self.max_in_flight {
            self.settle_one(state).await?;
        }
        let rx = out.send(items, Some(pos.to_cursor())).await?;
        self.pending.push_back((rx, pos.clone()));
        Ok(())
    }

    /// Waits for the oldest notice; pending forever when nothing is in flight (for `select!`).
    pub async fn settle_one(&mut self, state: &StateReporter) -> Result<(), ConnectorError> {
        let Some((rx, _)) = self.pending.front_mut() else {
            return std::future::pending().await;
        };
        let result = rx.await;
        let (_, pos) = self.pending.pop_front().expect("front exists");
        let info = result.map_err(|_| ConnectorError::Closed)??;
        crate::metrics::committed(&self.account, &info);
        state.touch();
        self.committed = pos;
        Ok(())
    }

    /// Settles everything in flight.
    pub async fn drain(&mut self, state: &StateReporter) -> Result<(), ConnectorError> {
        while !self.pending.is_empty() {
            self.settle_one(state).await?;
        }
        Ok(())
    }

    /// Forgets unsettled batches (after a failure the caller resumes from [`Self::committed`]).
    pub fn abandon(&mut self) {
        self.pending.clear();
    }
}
