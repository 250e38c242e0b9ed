//! Goofish connector (not implemented yet).

use std::sync::Arc;

use config::GoofishConfig;
use proto::Platform;

use crate::{Connector, ConnectorContext, ConnectorError};

/// The goofish connector.
pub struct GoofishConnector {
    cfg: GoofishConfig,
}

impl GoofishConnector {
    /// From its config.
    pub fn new(cfg: GoofishConfig) -> Self {
        GoofishConnector { cfg }
    }
}

#[async_trait::async_trait]
impl Connector for GoofishConnector {
    fn platform(&self) -> Platform {
        Platform::Goofish
    }
    fn name(&self) -> &str {
        &self.cfg.name
    }
    async fn run(self: Arc<Self>, _cx: ConnectorContext) -> Result<(), ConnectorError> {
        Err(ConnectorError::Config("the goofish connector is not implemented yet".into()))
    }
}
