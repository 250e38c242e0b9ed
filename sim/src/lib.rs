//! Protocol-faithful simulators of the five platforms, for tests, benchmarks and
//! `chatvault demo`. Never used by the production path.
//!
//! Each module is one platform: a server the connector dials (e-office Socket.IO, Goofish LWP,
//! Yunhu WebSocket + protobuf) or a poster that calls the callback server the way the platform
//! does (WeCom, WorkTool). Every simulator records what it sent and every acknowledgement it
//! received, so tests can check "acked ⇒ archived", and can inject faults.

pub mod corpus;
mod delivery;
pub mod eoffice;
pub mod fake_store;
pub mod goofish;
mod http;
pub mod listen;
pub mod wecom;
pub mod wecom_archive;
pub mod worktool;
pub mod yunhu;
