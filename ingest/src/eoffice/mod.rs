//! Eoffice connector (not implemented yet).

use std::sync::Arc;

use config::EofficeConfig;
use proto::Platform;

use crate::{Connector, ConnectorContext, ConnectorError};

/// The eoffice connector.
pub struct EofficeConnector {
    cfg: EofficeConfig,
}

impl EofficeConnector {
    /// From its config.
    pub fn new(cfg: EofficeConfig) -> Self {
        EofficeConnector { cfg }
    }
}

#[async_trait::async_trait]
impl Connector for EofficeConnector {
    fn platform(&self) -> Platform {
        Platform::Eoffice
    }
    fn name(&self) -> &str {
        &self.cfg.name
    }
    async fn run(self: Arc<Self>, _cx: ConnectorContext) -> Result<(), ConnectorError> {
        Err(ConnectorError::Config("the eoffice connector is not implemented yet".into()))
    }
}
