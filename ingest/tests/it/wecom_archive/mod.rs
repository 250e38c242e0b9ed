//! 会话存档: the message codec against golden messages, and the RSA key step.

mod codec;
mod keys;
mod notify;
