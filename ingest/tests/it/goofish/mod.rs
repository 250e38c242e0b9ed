//! Goofish: the codec against golden frames, the connector against `sim goofish`.

mod codec;
mod connector;
