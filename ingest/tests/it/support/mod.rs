//! What every platform's tests share: the golden-file checker ([`golden`]), polling with a
//! time limit ([`eventually`]) and the connector rig ([`rig`]).

pub mod eventually;
pub mod golden;
pub mod rig;

pub use eventually::eventually;
pub use rig::Rig;
