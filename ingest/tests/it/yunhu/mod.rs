//! Yunhu: frame decoding against golden files, the connector against `sim yunhu`.

mod attachments;
mod codec;
mod connector;
mod live_first;
mod names;
mod position;
mod retry;
mod streams;
