//! WeCom: the codec against golden XML, the API client, the callback receiver, and the
//! published crypto vectors.

mod api;
mod codec;
mod media_retry;
mod receiver;
mod vectors;
