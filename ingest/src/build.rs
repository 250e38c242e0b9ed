//! Config → connector: the one place that knows every platform.

use std::sync::Arc;

use config::ConnectorConfig;

use crate::Connector;

/// Builds the connector for one configured entry.
pub fn build(cfg: &ConnectorConfig) -> Arc<dyn Connector> {
    match cfg {
        ConnectorConfig::Eoffice(c) => Arc::new(crate::eoffice::EofficeConnector::new(c.clone())),
        ConnectorConfig::Wecom(c) => Arc::new(crate::wecom::WecomConnector::new(c.clone())),
        ConnectorConfig::Goofish(c) => Arc::new(crate::goofish::GoofishConnector::new(c.clone())),
        ConnectorConfig::Worktool(c) => Arc::new(crate::worktool::WorktoolConnector::new(c.clone())),
        ConnectorConfig::Yunhu(c) => Arc::new(crate::yunhu::YunhuConnector::new(c.clone())),
        ConnectorConfig::WecomArchive(c) => Arc::new(crate::wecom_archive::WecomArchiveConnector::new(c.clone())),
    }
}
