//! e-office: the decoding path against golden frames, the connector against `sim eoffice`,
//! and interop with the reference npm `socket.io` server.

mod codec;
mod connector;
mod interop;
