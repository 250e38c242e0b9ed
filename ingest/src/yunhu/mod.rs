//! Yunhu connector (not implemented yet).

use std::sync::Arc;

use config::YunhuConfig;
use proto::Platform;

use crate::{Connector, ConnectorContext, ConnectorError};

/// The yunhu connector.
pub struct YunhuConnector {
    cfg: YunhuConfig,
}

impl YunhuConnector {
    /// From its config.
    pub fn new(cfg: YunhuConfig) -> Self {
        YunhuConnector { cfg }
    }
}

#[async_trait::async_trait]
impl Connector for YunhuConnector {
    fn platform(&self) -> Platform {
        Platform::Yunhu
    }
    fn name(&self) -> &str {
        &self.cfg.name
    }
    async fn run(self: Arc<Self>, _cx: ConnectorContext) -> Result<(), ConnectorError> {
        Err(ConnectorError::Config("the yunhu connector is not implemented yet".into()))
    }
}
