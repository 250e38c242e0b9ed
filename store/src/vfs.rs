//! The writer's VFS: SQLite's default one, with the WAL file's writes gathered into a few
//! large ones per commit. The store's only module with `unsafe` (SQLite's C VFS interface).
//!
//! **Why.** SQLite appends a WAL frame as two writes, its 24-byte header and then the page, so
//! a page straddles two of the kernel's pages. A Goofish catch-up commit of ~700 messages
//! appended ~860 frames under schema 6: ~1,700 `pwrite` calls. In a profile of that load
//! (`perf`, 499 Hz), 1,928 of the writer thread's 8,537 samples were under `pwrite` and 412
//! under `fsync`; gathered into pieces of 124 KiB, 853 and 171 of 7,331. Gathering as it comes
//! (a piece written as soon as it is full) did less well than gathering the commit: 1,228
//! under `pwrite`. SQLite has no setting that batches these writes and no crate wraps a VFS
//! around the default one; a shim is the documented way (`sqlite3_vfs_register`, as SQLite's
//! own `vfstrace` and `multiplex` do), so it is written here.
//!
//! **What it changes.** Only files SQLite opens as a WAL (`SQLITE_OPEN_WAL`): their writes
//! collect in memory ([`Pending`], up to [`CAP`] bytes) while each one continues the last, and
//! reach the file, in order, when a write does not continue them or would pass [`CAP`], and
//! before anything could look at the file: a sync (every commit under `synchronous=FULL`), a
//! read of a gathered range, the size, a truncation, a file control, a memory map, the close.
//! Every other call goes to the default VFS unchanged, locks and shared memory included.
//!
//! **Why it is safe only with `synchronous=FULL`.** Other connections find committed frames
//! through the WAL index (shared memory), which SQLite updates after the commit's frames are
//! written. Under FULL that update follows the commit's sync, which flushes the gathered bytes
//! first; under NORMAL no call on the WAL file separates the last write from the update, so
//! a reader could look for a frame still in memory. [`crate::open`] uses this VFS only for a
//! FULL writer. A crash loses what is gathered and not synced, as it loses what the kernel
//! has not written: SQLite's frame checksums make an unsynced tail invisible either way.
//!
//! Every file pointer SQLite passes back is one [`x_open`] set up; SQLite calls a file's
//! methods from one thread at a time (the connection's mutex), so [`File`] needs no lock.
#![allow(unsafe_code)]

#[cfg(test)]
use std::cell::Cell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name this VFS is registered under.
pub(crate) const NAME: &str = "chatvault-wal";
const NAME_C: &CStr = c"chatvault-wal";

/// Most bytes gathered before they are passed on: above a Goofish catch-up commit (~860
/// frames, 3.5 MB), so that one is passed on whole at its sync.
const CAP: usize = 4 << 20;

/// Most bytes passed on in one call: the unix VFS writes at most 128 KiB − 1 per call (it
/// masks the length with `0x1ffff`), so a gather goes on in pieces of 31 pages.
const CHUNK: usize = 31 * 4096;

/// Writes to WAL files SQLite asked for on this thread, and writes this VFS made of them
/// (counted in tests only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WalWrites {
    pub asked: u64,
    pub made: u64,
}

#[cfg(test)]
thread_local! {
    // Per thread, so that a test sees its own connection's writes only.
    static WRITES: Cell<WalWrites> = const { Cell::new(WalWrites { asked: 0, made: 0 }) };
}

/// Counts a write in tests; nothing on the writer's path otherwise.
#[cfg_attr(not(test), allow(unused_variables))]
fn count(f: impl FnOnce(&mut WalWrites)) {
    #[cfg(test)]
    WRITES.with(|w| {
        let mut v = w.get();
        f(&mut v);
        w.set(v);
    });
}

/// The WAL writes made on this thread so far.
#[cfg(test)]
pub(crate) fn wal_writes() -> WalWrites {
    WRITES.with(Cell::get)
}

/// Registers the VFS once per process (not as the default) and returns its name, or the
/// SQLite error code if the default VFS is missing or registration failed.
pub(crate) fn register() -> Result<&'static str, c_int> {
    static DONE: OnceLock<Result<(), c_int>> = OnceLock::new();
    (*DONE.get_or_init(register_once)).map(|()| NAME)
}

/// The VFS's `pAppData`: the default VFS every call goes on to.
fn real_vfs(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    // SAFETY: `vfs` is the struct `register_once` leaked; its `pAppData` was set to the
    // default VFS there and never changes.
    unsafe { (*vfs).pAppData.cast() }
}

fn register_once() -> Result<(), c_int> {
    // SAFETY: a null name asks SQLite for the default VFS (initialising SQLite if needed);
    // the pointer it returns stays valid for the process (the default VFS is never freed).
    let real = unsafe { ffi::sqlite3_vfs_find(ptr::null()) };
    if real.is_null() {
        return Err(ffi::SQLITE_ERROR);
    }
    // SAFETY: `real` is a valid, registered VFS (checked non-null above); only plain fields
    // are read.
    let (sz, mx) = unsafe { ((*real).szOsFile, (*real).mxPathname) };
    let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
        iVersion: 2,
        szOsFile: (std::mem::size_of::<File>() as c_int) + sz,
        mxPathname: mx,
        pNext: ptr::null_mut(),
        zName: NAME_C.as_ptr(),
        pAppData: real.cast(),
        xOpen: Some(x_open),
        xDelete: Some(x_delete),
        xAccess: Some(x_access),
        xFullPathname: Some(x_full_pathname),
        xDlOpen: Some(x_dl_open),
        xDlError: Some(x_dl_error),
        xDlSym: Some(x_dl_sym),
        xDlClose: Some(x_dl_close),
        xRandomness: Some(x_randomness),
        xSleep: Some(x_sleep),
        xCurrentTime: Some(x_current_time),
        xGetLastError: Some(x_get_last_error),
        xCurrentTimeInt64: Some(x_current_time_int64),
        xSetSystemCall: None,
        xGetSystemCall: None,
        xNextSystemCall: None,
    }));
    // SAFETY: `vfs` is leaked, so it outlives every connection; its name is a static C
    // string; 0 = not the default VFS.
    let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
    if rc == ffi::SQLITE_OK { Ok(()) } else { Err(rc) }
}

/// What SQLite allocates per open file (`szOsFile` bytes): this header, then the default
/// VFS's own file struct, which `real` points at.
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    /// The gathered writes of a WAL file; null for every other file.
    pending: *mut Pending,
}

/// Bytes written to `[start, start + bytes.len())` and not yet passed on.
#[derive(Default)]
struct Pending {
    start: i64,
    bytes: Vec<u8>,
}

impl Pending {
    fn end(&self) -> i64 {
        self.start + self.bytes.len() as i64
    }

    fn overlaps(&self, off: i64, len: c_int) -> bool {
        !self.bytes.is_empty() && off < self.end() && off + i64::from(len) > self.start
    }

    /// Takes the write into memory if it lands inside the gathered range or right after it
    /// and the range stays within [`CAP`]; false if it must go elsewhere.
    fn absorb(&mut self, data: &[u8], off: i64) -> bool {
        if self.bytes.is_empty() {
            if data.len() > CHUNK {
                return false;
            }
            self.start = off;
        } else if off < self.start || off > self.end() || (off - self.start) as usize + data.len() > CAP {
            return false;
        }
        let at = (off - self.start) as usize;
        let end = at + data.len();
        if end > self.bytes.len() {
            self.bytes.resize(end, 0);
        }
        self.bytes[at..end].copy_from_slice(data);
        true
    }
}

impl File {
    /// The file SQLite handed to a method of this VFS.
    fn of<'a>(f: *mut ffi::sqlite3_file) -> &'a mut File {
        // SAFETY: SQLite passes only files `x_open` initialised (a `File` header at the start
        // of the `szOsFile` bytes it allocated), and calls one file's methods from one thread
        // at a time, so no other reference to it is live.
        unsafe { &mut *f.cast::<File>() }
    }

    /// The default VFS's methods for the real file.
    fn methods(&self) -> &ffi::sqlite3_io_methods {
        // SAFETY: `x_open` installs this VFS's methods only after the default VFS set the
        // real file's method table, which then stays valid until its `xClose`.
        unsafe { &*(*self.real).pMethods }
    }

    fn pending(&mut self) -> Option<&mut Pending> {
        // SAFETY: `pending` is null or the box `x_open` leaked for this file, freed only by
        // `x_close`, and only this file refers to it.
        unsafe { self.pending.as_mut() }
    }

    /// Passes the gathered bytes on to the real file.
    fn flush(&mut self) -> c_int {
        let real = self.real;
        let write = self.methods().xWrite;
        let Some(p) = self.pending() else {
            return ffi::SQLITE_OK;
        };
        if p.bytes.is_empty() {
            return ffi::SQLITE_OK;
        }
        let Some(write) = write else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let mut rc = ffi::SQLITE_OK;
        for (i, chunk) in p.bytes.chunks(CHUNK).enumerate() {
            count(|c| c.made += 1);
            let at = p.start + (i * CHUNK) as i64;
            // SAFETY: the default VFS's write on its own open file, with a buffer of exactly
            // `chunk.len()` (≤ CHUNK, fits c_int) readable bytes.
            rc = unsafe { write(real, chunk.as_ptr().cast(), chunk.len() as c_int, at) };
            if rc != ffi::SQLITE_OK {
                break;
            }
        }
        // On an error SQLite rolls back, and writes these frames again if it retries.
        p.bytes.clear();
        rc
    }

    /// Flushes first if `[off, off + len)` touches what is gathered.
    fn flush_if_overlaps(&mut self, off: i64, len: c_int) -> c_int {
        match self.pending() {
            Some(p) if p.overlaps(off, len) => self.flush(),
            _ => ffi::SQLITE_OK,
        }
    }
}

/// Runs `op` on the file SQLite handed over once what it gathered is passed on; a failed
/// flush is the call's answer.
fn flushed(f: *mut ffi::sqlite3_file, op: impl FnOnce(&mut File) -> c_int) -> c_int {
    let file = File::of(f);
    match file.flush() {
        ffi::SQLITE_OK => op(file),
        rc => rc,
    }
}

/// The default VFS's method `$m`, or `$missing` if it has none (returned from the enclosing
/// function or closure).
macro_rules! real_method {
    ($file:expr, $m:ident, $missing:expr) => {
        match $file.methods().$m {
            Some(m) => m,
            None => return $missing,
        }
    };
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    f: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let real_vfs = real_vfs(vfs);
    // SAFETY: SQLite allocated `szOsFile` bytes at `f`, 8-byte aligned: room for the `File`
    // header and, after it, the default VFS's struct. Nothing else refers to them yet.
    let (file, real) = unsafe {
        let file = f.cast::<File>();
        let real = f
            .cast::<u8>()
            .add(std::mem::size_of::<File>())
            .cast::<ffi::sqlite3_file>();
        file.write(File {
            base: ffi::sqlite3_file { pMethods: ptr::null() },
            real,
            pending: ptr::null_mut(),
        });
        (&mut *file, real)
    };
    // SAFETY: the default VFS opens its own struct in the space reserved for it, with the
    // caller's name, flags and out-pointer unchanged.
    let rc = unsafe {
        match (*real_vfs).xOpen {
            Some(open) => {
                (*real).pMethods = ptr::null();
                open(real_vfs, name, real, flags, out_flags)
            }
            None => ffi::SQLITE_CANTOPEN,
        }
    };
    // SAFETY: reads the field the default VFS's xOpen just set (or left null).
    let opened = unsafe { !(*real).pMethods.is_null() };
    // SQLite calls xClose whenever pMethods is set, even after an error: set it exactly when
    // the real file needs closing.
    if opened {
        if rc == ffi::SQLITE_OK && flags & ffi::SQLITE_OPEN_WAL != 0 {
            file.pending = Box::into_raw(Box::<Pending>::default());
        }
        file.base.pMethods = &METHODS;
    }
    rc
}

unsafe extern "C" fn x_close(f: *mut ffi::sqlite3_file) -> c_int {
    let file = File::of(f);
    let flushed = file.flush();
    if !file.pending.is_null() {
        // SAFETY: the box `x_open` leaked for this file; SQLite calls no method after xClose.
        drop(unsafe { Box::from_raw(file.pending) });
        file.pending = ptr::null_mut();
    }
    let close = real_method!(file, xClose, ffi::SQLITE_OK);
    // SAFETY: closes the default VFS's open file once, as SQLite asked.
    let rc = unsafe { close(file.real) };
    if flushed != ffi::SQLITE_OK { flushed } else { rc }
}

unsafe extern "C" fn x_read(f: *mut ffi::sqlite3_file, buf: *mut c_void, amt: c_int, off: i64) -> c_int {
    let file = File::of(f);
    let rc = file.flush_if_overlaps(off, amt);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    let read = real_method!(file, xRead, ffi::SQLITE_IOERR_READ);
    // SAFETY: forwards SQLite's own buffer and length to the default VFS.
    unsafe { read(file.real, buf, amt, off) }
}

unsafe extern "C" fn x_write(f: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, off: i64) -> c_int {
    let file = File::of(f);
    if file.pending().is_some() {
        count(|c| c.asked += 1);
        // SAFETY: SQLite passes `amt` readable bytes at `buf`, valid for this call only (they
        // are copied).
        let data = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize) };
        if file.pending().is_some_and(|p| p.absorb(data, off)) {
            return ffi::SQLITE_OK;
        }
        let rc = file.flush();
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        if file.pending().is_some_and(|p| p.absorb(data, off)) {
            return ffi::SQLITE_OK;
        }
        count(|c| c.made += 1);
    }
    let write = real_method!(file, xWrite, ffi::SQLITE_IOERR_WRITE);
    // SAFETY: forwards SQLite's own buffer and length to the default VFS.
    unsafe { write(file.real, buf, amt, off) }
}

unsafe extern "C" fn x_truncate(f: *mut ffi::sqlite3_file, size: i64) -> c_int {
    flushed(f, |file| {
        let truncate = real_method!(file, xTruncate, ffi::SQLITE_IOERR_TRUNCATE);
        // SAFETY: forwards the call to the default VFS's open file.
        unsafe { truncate(file.real, size) }
    })
}

unsafe extern "C" fn x_sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    flushed(f, |file| {
        let sync = real_method!(file, xSync, ffi::SQLITE_IOERR_FSYNC);
        // SAFETY: forwards the call to the default VFS's open file.
        unsafe { sync(file.real, flags) }
    })
}

unsafe extern "C" fn x_file_size(f: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    flushed(f, |file| {
        let file_size = real_method!(file, xFileSize, ffi::SQLITE_IOERR_FSTAT);
        // SAFETY: forwards SQLite's out-pointer to the default VFS.
        unsafe { file_size(file.real, size) }
    })
}

unsafe extern "C" fn x_lock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let file = File::of(f);
    let lock = real_method!(file, xLock, ffi::SQLITE_IOERR_LOCK);
    // SAFETY: forwards the call to the default VFS's open file.
    unsafe { lock(file.real, level) }
}

unsafe extern "C" fn x_unlock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let file = File::of(f);
    let unlock = real_method!(file, xUnlock, ffi::SQLITE_IOERR_UNLOCK);
    // SAFETY: forwards the call to the default VFS's open file.
    unsafe { unlock(file.real, level) }
}

unsafe extern "C" fn x_check_reserved_lock(f: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let file = File::of(f);
    let check = real_method!(file, xCheckReservedLock, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK);
    // SAFETY: forwards SQLite's out-pointer to the default VFS.
    unsafe { check(file.real, out) }
}

unsafe extern "C" fn x_file_control(f: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // A file control may look at the file in ways this shim does not know of: let it see
    // every write first.
    flushed(f, |file| {
        let control = real_method!(file, xFileControl, ffi::SQLITE_NOTFOUND);
        // SAFETY: forwards the op and its argument, as SQLite passed them, to the default VFS.
        unsafe { control(file.real, op, arg) }
    })
}

unsafe extern "C" fn x_sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    let file = File::of(f);
    let sector = real_method!(file, xSectorSize, 4096);
    // SAFETY: forwards the call to the default VFS's open file.
    unsafe { sector(file.real) }
}

unsafe extern "C" fn x_device_characteristics(f: *mut ffi::sqlite3_file) -> c_int {
    let file = File::of(f);
    let dc = real_method!(file, xDeviceCharacteristics, 0);
    // SAFETY: forwards the call to the default VFS's open file.
    unsafe { dc(file.real) }
}

unsafe extern "C" fn x_shm_map(
    f: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let file = File::of(f);
    let map = real_method!(file, xShmMap, ffi::SQLITE_IOERR_SHMMAP);
    // SAFETY: forwards SQLite's arguments and out-pointer to the default VFS.
    unsafe { map(file.real, page, size, extend, out) }
}

unsafe extern "C" fn x_shm_lock(f: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    let file = File::of(f);
    let lock = real_method!(file, xShmLock, ffi::SQLITE_IOERR_SHMLOCK);
    // SAFETY: forwards the call to the default VFS's open file.
    unsafe { lock(file.real, offset, n, flags) }
}

unsafe extern "C" fn x_shm_barrier(f: *mut ffi::sqlite3_file) {
    let file = File::of(f);
    if let Some(barrier) = file.methods().xShmBarrier {
        // SAFETY: forwards the call to the default VFS's open file.
        unsafe { barrier(file.real) }
    }
}

unsafe extern "C" fn x_shm_unmap(f: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let file = File::of(f);
    let unmap = real_method!(file, xShmUnmap, ffi::SQLITE_OK);
    // SAFETY: forwards the call to the default VFS's open file.
    unsafe { unmap(file.real, delete) }
}

unsafe extern "C" fn x_fetch(f: *mut ffi::sqlite3_file, off: i64, amt: c_int, out: *mut *mut c_void) -> c_int {
    let file = File::of(f);
    let rc = file.flush_if_overlaps(off, amt);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    let fetch = match file.methods().xFetch {
        Some(m) => m,
        None => {
            // SAFETY: SQLite's out-pointer; null means "no mapping, read instead".
            unsafe { *out = ptr::null_mut() };
            return ffi::SQLITE_OK;
        }
    };
    // SAFETY: forwards SQLite's arguments and out-pointer to the default VFS.
    unsafe { fetch(file.real, off, amt, out) }
}

unsafe extern "C" fn x_unfetch(f: *mut ffi::sqlite3_file, off: i64, p: *mut c_void) -> c_int {
    let file = File::of(f);
    let unfetch = real_method!(file, xUnfetch, ffi::SQLITE_OK);
    // SAFETY: forwards the call to the default VFS's open file.
    unsafe { unfetch(file.real, off, p) }
}

// The VFS-level calls go to the default VFS with its own struct, which its implementation
// may read (its `pAppData`).

unsafe extern "C" fn x_delete(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, sync_dir: c_int) -> c_int {
    let real = real_vfs(vfs);
    // SAFETY: the default VFS, called with SQLite's own arguments.
    unsafe {
        (*real)
            .xDelete
            .map_or(ffi::SQLITE_IOERR_DELETE, |m| m(real, name, sync_dir))
    }
}

unsafe extern "C" fn x_access(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, flags: c_int, out: *mut c_int) -> c_int {
    let real = real_vfs(vfs);
    // SAFETY: the default VFS, called with SQLite's own arguments.
    unsafe {
        (*real)
            .xAccess
            .map_or(ffi::SQLITE_IOERR_ACCESS, |m| m(real, name, flags, out))
    }
}

unsafe extern "C" fn x_full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    let real = real_vfs(vfs);
    // SAFETY: the default VFS, called with SQLite's own arguments.
    unsafe {
        (*real)
            .xFullPathname
            .map_or(ffi::SQLITE_ERROR, |m| m(real, name, n, out))
    }
}

unsafe extern "C" fn x_dl_open(vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    let real = real_vfs(vfs);
    // SAFETY: the default VFS, called with SQLite's own arguments.
    unsafe { (*real).xDlOpen.map_or(ptr::null_mut(), |m| m(real, name)) }
}

unsafe extern "C" fn x_dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    let real = real_vfs(vfs);
    // SAFETY: the default VFS, called with SQLite's own arguments.
    unsafe {
        if let Some(m) = (*real).xDlError {
            m(real, n, out)
        }
    }
}

type DlSym = Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)>;

unsafe extern "C" fn x_dl_sym(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void, sym: *const c_char) -> DlSym {
    let real = real_vfs(vfs);
    // SAFETY: the default VFS, called with SQLite's own arguments.
    unsafe { (*real).xDlSym.and_then(|m| m(real, handle, sym)) }
}

unsafe extern "C" fn x_dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    let real = real_vfs(vfs);
    // SAFETY: the default VFS, called with SQLite's own arguments.
    unsafe {
        if let Some(m) = (*real).xDlClose {
            m(real, handle)
        }
    }
}

unsafe extern "C" fn x_randomness(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let real = real_vfs(vfs);
    // SAFETY: the default VFS, called with SQLite's own arguments.
    unsafe { (*real).xRandomness.map_or(0, |m| m(real, n, out)) }
}

unsafe extern "C" fn x_sleep(vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    let real = real_vfs(vfs);
    // SAFETY: the default VFS, called with SQLite's own arguments.
    unsafe { (*real).xSleep.map_or(0, |m| m(real, micros)) }
}

unsafe extern "C" fn x_current_time(vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    let real = real_vfs(vfs);
    // SAFETY: the default VFS, called with SQLite's own arguments.
    unsafe { (*real).xCurrentTime.map_or(ffi::SQLITE_ERROR, |m| m(real, out)) }
}

unsafe extern "C" fn x_get_last_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let real = real_vfs(vfs);
    // SAFETY: the default VFS, called with SQLite's own arguments.
    unsafe { (*real).xGetLastError.map_or(0, |m| m(real, n, out)) }
}

unsafe extern "C" fn x_current_time_int64(vfs: *mut ffi::sqlite3_vfs, out: *mut i64) -> c_int {
    let real = real_vfs(vfs);
    // SAFETY: the default VFS, called with SQLite's own arguments; it is version 2 or later
    // (SQLite's unix VFS is version 3), so the field exists.
    unsafe { (*real).xCurrentTimeInt64.map_or(ffi::SQLITE_ERROR, |m| m(real, out)) }
}

#[cfg(test)]
mod tests;
