//! 会话存档: the message codec against golden messages, the RSA key step, name lookups.

mod codec;
mod keys;
mod names;
mod notify;
