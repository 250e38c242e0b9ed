//! The shared HTTP server: callback routes of WeCom / WorkTool connectors, `/healthz`,
//! `/metrics`, body limits, and the durable spool of design §3.2.

pub mod body;
