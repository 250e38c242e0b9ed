//! Binding the listener of a simulator the connectors dial (e-office, Goofish), and the error
//! that names the address asked for.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// A simulator's listener could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address asked for (port 0 for any free port).
    pub addr: SocketAddr,
    /// Cause.
    pub source: std::io::Error,
}

/// A listener on `addr` and the address it got.
pub(crate) async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), BindError> {
    let bound = async {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok((listener, local))
    };
    bound.await.map_err(|source| BindError { addr, source })
}
