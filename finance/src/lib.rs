//! WeCom 会话存档 through Tencent's closed Finance SDK, run in a worker process.
//!
//! The SDK (`libWeWorkFinanceSdk_C.so`) is closed C++ with its own bundled OpenSSL and its own
//! network I/O: a crash or a hang inside it must not take the archive down. So every SDK call
//! runs in a child process (the same executable, started with a hidden subcommand) that loads
//! the library and answers framed requests on a pipe; the parent replaces a worker that died
//! or did not answer in time.
//!
//! # Layout
//! - [`protocol`]: the frames between parent and worker (length-prefixed JSON).
//! - [`codes`]: the SDK's return codes, what they mean and which are worth a retry.
//! - `ffi`: the only module with `unsafe`: loading the library, the 17 symbols, and
//!   moving fd 1 out of the protocol's way.
//! - [`worker`]: the child's loop ([`worker::main`]).
//! - [`client`]: the parent's side ([`FinanceClient`]): spawn, call with a deadline, restart
//!   with backoff.
//! - [`standin`]: a stand-in SDK (C, compiled by the build script and embedded) that serves a
//!   scripted world, for tests and the demo, with the encryption helpers that write it.
//!
//! This crate knows nothing of the archive: no events, no store.

pub mod client;
pub mod codes;
mod ffi;
pub mod protocol;
pub mod standin;
pub mod worker;

pub use client::{ClientOptions, FinanceClient, MediaChunk, WorkerCommand};
pub use codes::SdkCode;

/// The 17 functions of `WeWorkFinanceSdk_C.h`, in header order.
pub const SYMBOLS: [&str; 17] = [
    "NewSdk",
    "Init",
    "GetChatData",
    "DecryptData",
    "GetMediaData",
    "DestroySdk",
    "NewSlice",
    "FreeSlice",
    "GetContentFromSlice",
    "GetSliceLen",
    "NewMediaData",
    "FreeMediaData",
    "GetOutIndexBuf",
    "GetData",
    "GetIndexLen",
    "GetDataLen",
    "IsMediaDataFinish",
];

/// What went wrong with an SDK call. Messages never contain the secret or keys.
#[derive(Debug, thiserror::Error)]
pub enum FinanceError {
    /// The SDK returned a non-zero code.
    #[error("{op}: {code}")]
    Sdk {
        /// Which call.
        op: &'static str,
        /// Its return code.
        code: SdkCode,
    },
    /// The library could not be loaded or lacks a symbol.
    #[error("cannot load the Finance SDK: {0}")]
    Load(String),
    /// The worker died, hung, or spoke nonsense; it has been stopped and the next call starts
    /// a new one.
    #[error("finance worker lost: {0}")]
    WorkerLost(String),
    /// The worker could not be started.
    #[error("cannot start the finance worker: {0}")]
    Spawn(String),
    /// The SDK answered something unreadable (e.g. GetChatData's JSON).
    #[error("unreadable SDK answer: {0}")]
    Answer(String),
}

impl FinanceError {
    /// The SDK code, when the SDK returned one.
    pub fn code(&self) -> Option<SdkCode> {
        match self {
            FinanceError::Sdk { code, .. } => Some(*code),
            _ => None,
        }
    }
}
