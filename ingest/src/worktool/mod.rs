//! Worktool connector (not implemented yet).

use std::sync::Arc;

use config::WorktoolConfig;
use proto::Platform;

use crate::{Connector, ConnectorContext, ConnectorError};

/// The worktool connector.
pub struct WorktoolConnector {
    cfg: WorktoolConfig,
}

impl WorktoolConnector {
    /// From its config.
    pub fn new(cfg: WorktoolConfig) -> Self {
        WorktoolConnector { cfg }
    }
}

#[async_trait::async_trait]
impl Connector for WorktoolConnector {
    fn platform(&self) -> Platform {
        Platform::Worktool
    }
    fn name(&self) -> &str {
        &self.cfg.name
    }
    async fn run(self: Arc<Self>, _cx: ConnectorContext) -> Result<(), ConnectorError> {
        Err(ConnectorError::Config("the worktool connector is not implemented yet".into()))
    }
}
