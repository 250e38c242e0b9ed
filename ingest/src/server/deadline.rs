//! A total deadline on receiving a request body.
//!
//! hyper bounds the time to receive the headers (`header_read_timeout`) but nothing bounds the
//! body: a client may send one byte a second for ever and hold its connection, a handler and,
//! for a callback, a concurrency permit. The server wraps every request body in
//! [`DeadlineBody`], which fails the read with [`BodyTimeout`] once the deadline (counted from
//! the moment the headers were read) has passed. Hand-written because tower-http's timeout body
//! restarts its timer on every frame, which a one-byte-a-second sender always satisfies.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// The body was not received in time.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within {0:?}")]
pub struct BodyTimeout(pub Duration);

/// A body that fails with [`BodyTimeout`] after its deadline.
pub struct DeadlineBody {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl DeadlineBody {
    /// Wraps `inner`; the deadline runs from now.
    pub fn new(inner: Body, limit: Duration) -> Self {
        DeadlineBody {
            inner,
            sleep: Box::pin(tokio::time::sleep(limit)),
            limit,
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimeout(this.limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether a body read failed because of [`BodyTimeout`].
pub fn is_timeout(e: &axum::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyTimeout>() {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_ends_fails_at_its_deadline() {
        let (mut tx, rx) = futures_channel_like();
        tx.push(Bytes::from_static(b"a"));
        let body = Body::new(DeadlineBody::new(rx, Duration::from_secs(5)));
        let mut stream = body.into_data_stream();
        assert_eq!(stream.next().await.unwrap().unwrap(), Bytes::from_static(b"a"));
        let err = stream.next().await.unwrap().unwrap_err();
        assert!(is_timeout(&err), "{err}");
    }

    /// A body yielding what was pushed and then pending for ever (the slow client).
    fn futures_channel_like() -> (Pusher, Body) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
        let stream = tokio_stream_like(rx);
        (Pusher(tx), Body::from_stream(stream))
    }

    struct Pusher(tokio::sync::mpsc::UnboundedSender<Bytes>);
    impl Pusher {
        fn push(&mut self, b: Bytes) {
            let _ = self.0.send(b);
        }
    }

    fn tokio_stream_like(
        rx: tokio::sync::mpsc::UnboundedReceiver<Bytes>,
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok(b), rx)) })
    }
}
