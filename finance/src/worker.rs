//! The worker: the child process that holds the SDK. It reads [`Request`] frames on stdin and
//! writes [`Reply`] frames on the descriptor that was fd 1 when it started (fd 1 itself is
//! pointed at stderr first, because the SDK prints). It ends at end of input, and with its
//! parent.

use std::io::{BufReader, BufWriter};

use base64::Engine;

use crate::ffi::{self, Failure, Sdk};
use crate::protocol::{Decrypted, Reply, Request, read_frame, write_frame};

/// Runs the worker loop; returns the process exit code.
pub fn main() -> i32 {
    ffi::die_with_parent();
    let reply = match ffi::take_stdout() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("finance worker: cannot set up the reply pipe: {e}");
            return 2;
        }
    };
    let mut out = BufWriter::new(reply);
    let mut input = BufReader::new(std::io::stdin().lock());
    let mut sdk: Option<Sdk> = None;
    loop {
        let req: Request = match read_frame(&mut input) {
            Ok(Some(r)) => r,
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("finance worker: unreadable request: {e}");
                return 2;
            }
        };
        let reply = handle(&mut sdk, req);
        if let Err(e) = write_frame(&mut out, &reply) {
            eprintln!("finance worker: cannot answer: {e}");
            return 2;
        }
    }
}

fn handle(sdk: &mut Option<Sdk>, req: Request) -> Reply {
    if let Request::Load { path } = &req {
        return match Sdk::load(path) {
            Ok(s) => {
                *sdk = Some(s);
                Reply::Loaded {
                    symbols: crate::SYMBOLS.iter().map(|s| s.to_string()).collect(),
                }
            }
            Err(message) => Reply::Failed { message },
        };
    }
    let Some(sdk) = sdk.as_mut() else {
        return Reply::Failed {
            message: "no library loaded".into(),
        };
    };
    let result = match req {
        Request::Load { .. } => unreachable!("handled above"),
        Request::Init { corp_id, secret } => sdk.init(&corp_id, &secret).map(|()| Reply::Ready),
        Request::ChatData {
            seq,
            limit,
            proxy,
            passwd,
            timeout,
        } => sdk
            .chat_data(seq, limit, &proxy, &passwd, timeout)
            .and_then(|b| text(b).map(|json| Reply::ChatData { json })),
        Request::Decrypt { key, msg } => sdk
            .decrypt(&key, &msg)
            .and_then(|b| text(b).map(|json| Reply::Decrypted { json })),
        Request::DecryptMany { items } => Ok(Reply::DecryptedMany {
            results: items
                .iter()
                .map(|(key, msg)| match sdk.decrypt(key, msg).and_then(text) {
                    Ok(json) => Decrypted::Json(json),
                    Err(Failure::Sdk(code)) => Decrypted::SdkError(code.0),
                    Err(Failure::Other(message)) => Decrypted::Failed(message),
                })
                .collect(),
        }),
        Request::Media {
            index,
            file_id,
            proxy,
            passwd,
            timeout,
        } => sdk
            .media(&index, &file_id, &proxy, &passwd, timeout)
            .map(|c| Reply::Media {
                index: c.index,
                data: base64::engine::general_purpose::STANDARD.encode(&c.data),
                finished: c.finished,
            }),
    };
    match result {
        Ok(r) => r,
        Err(Failure::Sdk(code)) => Reply::SdkError { code: code.0 },
        Err(Failure::Other(message)) => Reply::Failed { message },
    }
}

fn text(bytes: Vec<u8>) -> Result<String, Failure> {
    String::from_utf8(bytes).map_err(|_| Failure::Other("the SDK answered bytes that are not UTF-8".into()))
}
