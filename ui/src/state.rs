//! [`UiOptions`] and [`AppState`], shared by every handler.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store::access::AccessDb;

/// How the UI runs.
#[derive(Debug, Clone)]
pub struct UiOptions {
    /// The data directory (archive, index, blobs, `access.db`).
    pub data_dir: PathBuf,
    /// Mark cookies `Secure` (behind TLS).
    pub secure_cookies: bool,
    /// A session unused for this long ends.
    pub idle_timeout: Duration,
    /// Time zone times are shown in.
    pub tz: chrono_tz::Tz,
}

/// What handlers share.
pub struct AppState {
    /// Options.
    pub opts: UiOptions,
    /// Users, sessions, access log. One connection: every use is a few short statements.
    pub access: Mutex<AccessDb>,
    /// The search index reader, opened on first use (the index may not exist yet).
    pub(crate) searcher: Mutex<Option<Arc<search::Searcher>>>,
    /// Run before each request's work (see [`AppState::set_work_hook`]).
    work_hook: Mutex<Option<WorkHook>>,
}

/// See [`AppState::set_work_hook`].
type WorkHook = Arc<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("opts", &self.opts).finish()
    }
}

impl AppState {
    /// Opens the access database under the data directory.
    pub fn new(opts: UiOptions) -> Result<Arc<AppState>, store::access::AccessError> {
        let access = AccessDb::open(&opts.data_dir)?;
        Ok(Arc::new(AppState {
            opts,
            access: Mutex::new(access),
            searcher: Mutex::new(None),
            work_hook: Mutex::new(None),
        }))
    }

    /// Sets a function every request runs, on the thread doing its work, before that work:
    /// tests use it to hold one request and show that others are still answered.
    #[doc(hidden)]
    pub fn set_work_hook(&self, hook: impl Fn() + Send + Sync + 'static) {
        *self.work_hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(hook));
    }

    /// Runs the work hook, if one is set.
    pub(crate) fn before_work(&self) {
        let hook = self.work_hook.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(h) = hook {
            h();
        }
    }

    /// The access database (a poisoned lock only means another request panicked mid-use;
    /// SQLite's own transactions keep the file consistent).
    pub(crate) fn db(&self) -> std::sync::MutexGuard<'_, AccessDb> {
        self.access.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The searcher, reloaded to the latest commit.
    pub(crate) fn searcher(&self) -> Result<Arc<search::Searcher>, search::SearchError> {
        let mut slot = self.searcher.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(Arc::new(search::Searcher::open(&self.opts.data_dir)?));
        }
        let s = slot.as_ref().map(Arc::clone).expect("set above");
        s.reload()?;
        Ok(s)
    }

    /// A reader on the archive, per request (it is not shareable between threads).
    pub(crate) fn reader(&self) -> Result<store::StoreReader, store::StoreError> {
        store::StoreReader::open(&self.opts.data_dir)
    }

    /// Now in UTC ms.
    pub(crate) fn now(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    /// Appends to the access log; a failure is logged, not shown (the page was already
    /// decided) — but see `errors.rs`: pages that show data are only sent after their entry is
    /// written.
    pub(crate) fn record(&self, e: &store::access::NewAccess<'_>) -> Result<u64, store::access::AccessError> {
        let now = self.now();
        self.db().record(e, now)
    }
}
