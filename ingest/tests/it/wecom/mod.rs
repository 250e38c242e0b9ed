//! WeCom: the codec against golden XML, the API client, the callback receiver, and the
//! published crypto vectors.

mod api;
mod codec;
mod receiver;
mod vectors;
