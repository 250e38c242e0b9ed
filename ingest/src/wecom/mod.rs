//! Wecom connector (not implemented yet).

use std::sync::Arc;

use config::WecomConfig;
use proto::Platform;

use crate::{Connector, ConnectorContext, ConnectorError};

/// The wecom connector.
pub struct WecomConnector {
    cfg: WecomConfig,
}

impl WecomConnector {
    /// From its config.
    pub fn new(cfg: WecomConfig) -> Self {
        WecomConnector { cfg }
    }
}

#[async_trait::async_trait]
impl Connector for WecomConnector {
    fn platform(&self) -> Platform {
        Platform::Wecom
    }
    fn name(&self) -> &str {
        &self.cfg.name
    }
    async fn run(self: Arc<Self>, _cx: ConnectorContext) -> Result<(), ConnectorError> {
        Err(ConnectorError::Config("the wecom connector is not implemented yet".into()))
    }
}
