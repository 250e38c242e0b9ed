//! [`pipeline`]: reading on the calling thread, encoding on another, a bounded queue between
//! them. Both tables are exported this way: stepping through SQLite and encoding Parquet each
//! keep a core busy, so on two cores the export goes at the pace of the slower stage instead
//! of their sum, and the queue keeps memory at a few batches whatever the archive's size.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::error::{ExportError, Result};

/// Runs `encode` on a new thread fed by `read` through a queue of `depth` items. The first
/// error wins: when the encoder fails, `read`'s next send fails with [`encoder_gone`] and the
/// encoder's own error is returned; when `read` fails, the encoder sees the queue close, and
/// whatever it staged is dropped (removing the temporaries) with `read`'s error returned.
pub fn pipeline<J: Send, T: Send>(
    depth: usize,
    read: impl FnOnce(&SyncSender<J>) -> Result<()>,
    encode: impl FnOnce(Receiver<J>) -> Result<T> + Send,
) -> Result<T> {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel(depth);
        let encoder = std::thread::Builder::new()
            .name("export-encode".into())
            .spawn_scoped(scope, move || encode(rx))
            .map_err(|e| ExportError::io("", e))?;
        let read = read(&tx);
        // Closing the queue lets the encoder finish, or, after a read error, stop early.
        drop(tx);
        let encoded = match encoder.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        match (read, encoded) {
            (Ok(()), Ok(t)) => Ok(t),
            (_, Err(e)) => Err(e),
            (Err(e), Ok(_)) => Err(e),
        }
    })
}

/// Sends `job`, failing (with a placeholder that [`pipeline`] replaces by the encoder's error)
/// if the encoder has stopped.
pub fn send<J>(tx: &SyncSender<J>, job: J) -> Result<()> {
    tx.send(job).map_err(|_| encoder_gone())
}

fn encoder_gone() -> ExportError {
    ExportError::io("", std::io::Error::other("the Parquet encoder stopped"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_pass_through_in_order() {
        let got = pipeline(
            1,
            |tx| {
                for i in 0..100 {
                    send(tx, i)?;
                }
                Ok(())
            },
            |rx| Ok(rx.into_iter().collect::<Vec<i32>>()),
        );
        assert_eq!(got.ok(), Some((0..100).collect::<Vec<_>>()));
    }

    #[test]
    fn an_encoder_error_stops_the_reader_and_is_returned() {
        let mut sent = 0;
        let got: Result<()> = pipeline(
            1,
            |tx| {
                for i in 0..1_000_000 {
                    send(tx, i)?;
                    sent += 1;
                }
                Ok(())
            },
            |rx| {
                let first = rx.recv().map_err(|_| ExportError::Locked("no job".into()))?;
                Err(ExportError::Locked(format!("failed at {first}").into()))
            },
        );
        assert!(matches!(got, Err(ExportError::Locked(p)) if p.to_string_lossy() == "failed at 0"));
        assert!(sent < 1_000_000, "the reader went on after the encoder failed");
    }

    #[test]
    fn a_read_error_is_returned_after_the_encoder_drains() {
        let got: Result<usize> = pipeline(
            4,
            |tx| {
                send(tx, 1)?;
                Err(ExportError::Locked("read failed".into()))
            },
            |rx| Ok(rx.into_iter().count()),
        );
        assert!(matches!(got, Err(ExportError::Locked(p)) if p.to_string_lossy() == "read failed"));
    }
}
