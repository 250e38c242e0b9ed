//! The parent's side: [`FinanceClient`] starts the worker, sends one request at a time, and
//! waits at most twice the call's timeout for the answer. A worker that died (crash inside
//! the SDK, `kill -9`) or did not answer in time is killed and reaped, the call fails with
//! [`FinanceError::WorkerLost`], and the next call starts a new worker after a backoff that
//! grows with consecutive losses and resets after an answer.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use base64::Engine;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::FinanceError;
use crate::codes::SdkCode;
use crate::protocol::{Decrypted, Reply, Request, read_frame_async, write_frame_async};

/// How to start a worker: a program and its arguments.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    /// Executable.
    pub program: PathBuf,
    /// Arguments (the hidden subcommand).
    pub args: Vec<String>,
}

impl WorkerCommand {
    /// This executable with a subcommand (what the product does).
    pub fn current_exe(subcommand: &str) -> std::io::Result<Self> {
        Ok(WorkerCommand {
            program: std::env::current_exe()?,
            args: vec![subcommand.to_string()],
        })
    }
}

/// What the worker loads and how calls are made.
#[derive(Clone)]
pub struct ClientOptions {
    /// The SDK's shared object.
    pub sdk_path: PathBuf,
    /// Corp id and 会话存档 secret for `Init`; `None` loads the library only (enough for
    /// `DecryptData` and for checking a library).
    pub credentials: Option<(String, String)>,
    /// Proxy URL for the SDK's own connections (empty = none).
    pub proxy: String,
    /// Proxy credentials `user:pass` (empty = none).
    pub proxy_password: String,
    /// The timeout given to the SDK's calls; the parent waits twice this for an answer.
    pub call_timeout: Duration,
    /// First delay before restarting a lost worker.
    pub backoff_initial: Duration,
    /// Largest delay.
    pub backoff_max: Duration,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("sdk_path", &self.sdk_path)
            .field("corp_id", &self.credentials.as_ref().map(|c| &c.0))
            .field("call_timeout", &self.call_timeout)
            .finish_non_exhaustive()
    }
}

impl ClientOptions {
    /// Options with the defaults: 10 s calls, restarts after 0.5 s doubling to 30 s.
    pub fn new(sdk_path: impl Into<PathBuf>) -> Self {
        ClientOptions {
            sdk_path: sdk_path.into(),
            credentials: None,
            proxy: String::new(),
            proxy_password: String::new(),
            call_timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// One chunk of a media file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaChunk {
    /// Index to pass for the next chunk.
    pub index: String,
    /// The bytes.
    pub data: Vec<u8>,
    /// Whether the file is complete.
    pub finished: bool,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

/// The parent's handle on a (restartable) worker.
pub struct FinanceClient {
    cmd: WorkerCommand,
    opts: ClientOptions,
    worker: Option<Worker>,
    losses: u32,
    restarts: u64,
    started: u64,
}

impl FinanceClient {
    /// A client; the worker starts on the first call.
    pub fn new(cmd: WorkerCommand, opts: ClientOptions) -> Self {
        FinanceClient {
            cmd,
            opts,
            worker: None,
            losses: 0,
            restarts: 0,
            started: 0,
        }
    }

    /// Starts the worker (if none runs), loads the library and calls `Init` when credentials
    /// are configured. Returns the resolved symbols.
    pub async fn start(&mut self) -> Result<Vec<String>, FinanceError> {
        if self.worker.is_some() {
            return Ok(crate::SYMBOLS.iter().map(|s| s.to_string()).collect());
        }
        if self.losses > 0 {
            tokio::time::sleep(self.backoff()).await;
        }
        let mut child = Command::new(&self.cmd.program)
            .args(&self.cmd.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| FinanceError::Spawn(format!("{}: {e}", self.cmd.program.display())))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(FinanceError::Spawn("worker pipes missing".into()));
        };
        if self.started > 0 {
            self.restarts += 1;
        }
        self.started += 1;
        self.worker = Some(Worker { child, stdin, stdout });
        let path = self.opts.sdk_path.to_string_lossy().into_owned();
        let symbols = match self.exchange("Load", Request::Load { path }).await? {
            Reply::Loaded { symbols } => symbols,
            other => return Err(self.unexpected("Load", other).await),
        };
        if let Some((corp_id, secret)) = self.opts.credentials.clone() {
            match self.exchange("Init", Request::Init { corp_id, secret }).await {
                Ok(Reply::Ready) => {}
                Ok(other) => return Err(self.unexpected("Init", other).await),
                Err(e) => {
                    // A refused Init leaves a worker with no instance: start over next time.
                    self.stop().await;
                    return Err(e);
                }
            }
        }
        Ok(symbols)
    }

    /// `GetChatData(seq, limit)` → its JSON text.
    pub async fn chat_data(&mut self, seq: u64, limit: u32) -> Result<String, FinanceError> {
        let req = Request::ChatData {
            seq,
            limit,
            proxy: self.opts.proxy.clone(),
            passwd: self.opts.proxy_password.clone(),
            timeout: self.sdk_timeout(),
        };
        match self.call("GetChatData", req).await? {
            Reply::ChatData { json } => Ok(json),
            other => Err(self.unexpected("GetChatData", other).await),
        }
    }

    /// `DecryptData(key, msg)` → the message JSON.
    pub async fn decrypt(&mut self, key: &str, msg: &str) -> Result<String, FinanceError> {
        let req = Request::Decrypt {
            key: key.into(),
            msg: msg.into(),
        };
        match self.call("DecryptData", req).await? {
            Reply::Decrypted { json } => Ok(json),
            other => Err(self.unexpected("DecryptData", other).await),
        }
    }

    /// `DecryptData` for many items in one round trip, each answer in the items' order. The
    /// outer error is the worker's (lost, hung, a wrong answer): then none was decrypted.
    pub async fn decrypt_many(
        &mut self,
        items: Vec<(String, String)>,
    ) -> Result<Vec<Result<String, FinanceError>>, FinanceError> {
        let n = items.len();
        match self.call("DecryptData", Request::DecryptMany { items }).await? {
            Reply::DecryptedMany { results } if results.len() == n => Ok(results
                .into_iter()
                .map(|r| match r {
                    Decrypted::Json(json) => Ok(json),
                    Decrypted::SdkError(code) => Err(FinanceError::Sdk {
                        op: "DecryptData",
                        code: SdkCode(code),
                    }),
                    Decrypted::Failed(message) => Err(FinanceError::Answer(format!("DecryptData: {message}"))),
                })
                .collect()),
            other => Err(self.unexpected("DecryptData", other).await),
        }
    }

    /// One `GetMediaData` call.
    pub async fn media_chunk(&mut self, index: &str, file_id: &str) -> Result<MediaChunk, FinanceError> {
        let req = Request::Media {
            index: index.into(),
            file_id: file_id.into(),
            proxy: self.opts.proxy.clone(),
            passwd: self.opts.proxy_password.clone(),
            timeout: self.sdk_timeout(),
        };
        match self.call("GetMediaData", req).await? {
            Reply::Media { index, data, finished } => {
                let data = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| FinanceError::Answer(format!("media chunk: {e}")))?;
                Ok(MediaChunk { index, data, finished })
            }
            other => Err(self.unexpected("GetMediaData", other).await),
        }
    }

    /// The running worker's pid.
    pub fn worker_pid(&self) -> Option<u32> {
        self.worker.as_ref().and_then(|w| w.child.id())
    }

    /// How many times a worker was started again after the first.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Stops the worker (end of input, then kill if it does not leave).
    pub async fn shutdown(&mut self) {
        if let Some(mut w) = self.worker.take() {
            drop(w.stdin);
            if tokio::time::timeout(Duration::from_secs(2), w.child.wait())
                .await
                .is_err()
            {
                let _ = w.child.kill().await;
            }
        }
    }

    fn sdk_timeout(&self) -> i32 {
        i32::try_from(self.opts.call_timeout.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    fn backoff(&self) -> Duration {
        let exp = self.losses.saturating_sub(1).min(16);
        self.opts
            .backoff_initial
            .saturating_mul(1u32 << exp)
            .min(self.opts.backoff_max)
    }

    async fn call(&mut self, op: &'static str, req: Request) -> Result<Reply, FinanceError> {
        self.start().await?;
        self.exchange(op, req).await
    }

    /// One request and its answer, within twice the call timeout.
    async fn exchange(&mut self, op: &'static str, req: Request) -> Result<Reply, FinanceError> {
        let deadline = self.opts.call_timeout * 2;
        let Some(w) = self.worker.as_mut() else {
            return Err(FinanceError::WorkerLost("no worker".into()));
        };
        let answer = tokio::time::timeout(deadline, async {
            write_frame_async(&mut w.stdin, &req).await?;
            read_frame_async::<Reply>(&mut w.stdout).await
        })
        .await;
        let reply = match answer {
            Err(_) => return Err(self.lose(format!("no answer to {op} within {deadline:?}")).await),
            Ok(Err(e)) => return Err(self.lose(format!("pipe error during {op}: {e}")).await),
            Ok(Ok(None)) => return Err(self.lose(format!("worker ended during {op}")).await),
            Ok(Ok(Some(r))) => r,
        };
        self.losses = 0;
        match reply {
            Reply::SdkError { code } => Err(FinanceError::Sdk {
                op,
                code: SdkCode(code),
            }),
            Reply::Failed { message } if op == "Load" => {
                self.stop().await;
                Err(FinanceError::Load(message))
            }
            Reply::Failed { message } => Err(FinanceError::Answer(format!("{op}: {message}"))),
            r => Ok(r),
        }
    }

    async fn unexpected(&mut self, op: &'static str, reply: Reply) -> FinanceError {
        self.lose(format!("unexpected answer to {op}: {reply:?}")).await
    }

    /// Kills and reaps the worker and says how it ended.
    async fn lose(&mut self, why: String) -> FinanceError {
        self.losses = self.losses.saturating_add(1);
        let status = self.stop().await;
        let how = status.map(describe).unwrap_or_default();
        tracing::warn!(reason = %why, exit = %how, "finance worker lost; a new one starts on the next call");
        FinanceError::WorkerLost(if how.is_empty() { why } else { format!("{why} ({how})") })
    }

    async fn stop(&mut self) -> Option<ExitStatus> {
        let mut w = self.worker.take()?;
        if let Ok(Some(status)) = w.child.try_wait() {
            return Some(status);
        }
        let _ = w.child.start_kill();
        w.child.wait().await.ok()
    }
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("killed by signal {sig}");
        }
    }
    match status.code() {
        Some(c) => format!("exit code {c}"),
        None => "ended".into(),
    }
}
