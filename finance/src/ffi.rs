//! The only module with `unsafe`: the Finance SDK's C ABI (`WeWorkFinanceSdk_C.h`, summarised
//! in protocols.md §2.5), loaded with `libloading`, and the two process tweaks the worker needs.
//!
//! Rules kept by every call here: a slice's or media object's content is read only after the
//! call returned 0 and only as `len` bytes from a non-null pointer; every `NewSlice` /
//! `NewMediaData` is freed on every path (a guard frees it); C strings are built from Rust
//! strings that cannot contain NUL (refused first). The struct layouts are never read
//! directly: the SDK's accessor functions are used, as its header asks.
#![allow(unsafe_code)]

use std::ffi::{CString, c_char, c_int, c_uint, c_ulonglong, c_void};
use std::fs::File;
use std::os::fd::AsFd;

use libloading::os::unix::Library;

use crate::codes::SdkCode;

type NewSdkFn = unsafe extern "C" fn() -> *mut c_void;
type InitFn = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char) -> c_int;
type GetChatDataFn =
    unsafe extern "C" fn(*mut c_void, c_ulonglong, c_uint, *const c_char, *const c_char, c_int, *mut c_void) -> c_int;
type DecryptDataFn = unsafe extern "C" fn(*const c_char, *const c_char, *mut c_void) -> c_int;
type GetMediaDataFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    c_int,
    *mut c_void,
) -> c_int;
type DestroySdkFn = unsafe extern "C" fn(*mut c_void);
type NewFn = unsafe extern "C" fn() -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type BufFn = unsafe extern "C" fn(*mut c_void) -> *mut c_char;
type LenFn = unsafe extern "C" fn(*mut c_void) -> c_int;

/// The resolved functions. Plain function pointers copied out of the library, valid while
/// `_lib` is loaded (it is dropped last, after `sdk` is destroyed).
struct Api {
    new_sdk: NewSdkFn,
    init: InitFn,
    get_chat_data: GetChatDataFn,
    decrypt_data: DecryptDataFn,
    get_media_data: GetMediaDataFn,
    destroy_sdk: DestroySdkFn,
    new_slice: NewFn,
    free_slice: FreeFn,
    get_content_from_slice: BufFn,
    get_slice_len: LenFn,
    new_media_data: NewFn,
    free_media_data: FreeFn,
    get_out_index_buf: BufFn,
    get_data: BufFn,
    get_index_len: LenFn,
    get_data_len: LenFn,
    is_media_data_finish: LenFn,
}

/// A loaded SDK and, once `Init` succeeded, its instance.
pub(crate) struct Sdk {
    api: Api,
    sdk: Option<*mut c_void>,
    _lib: Library,
}

/// One media chunk.
pub(crate) struct Chunk {
    pub index: String,
    pub data: Vec<u8>,
    pub finished: bool,
}

impl Sdk {
    /// Loads `path` with `RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND` (the real library exports its
    /// bundled OpenSSL without `-Bsymbolic`: its own calls must bind to its own copy) and
    /// resolves all 17 functions.
    pub fn load(path: &str) -> Result<Sdk, String> {
        let flags = libc::RTLD_NOW | libc::RTLD_LOCAL | libc::RTLD_DEEPBIND;
        // SAFETY: loading a shared object runs its initialisers; that is the point of the
        // worker process, which exists so that whatever they do cannot harm the archive.
        let lib = unsafe { Library::open(Some(path), flags) }.map_err(|e| format!("dlopen {path}: {e}"))?;
        macro_rules! sym {
            ($name:literal, $ty:ty) => {{
                // SAFETY: the symbol is declared with this exact signature in
                // WeWorkFinanceSdk_C.h; the pointer is copied out and used only while `lib`
                // lives in the same struct.
                let s = unsafe { lib.get::<$ty>(concat!($name, "\0").as_bytes()) }
                    .map_err(|e| format!("symbol {}: {e}", $name))?;
                *s
            }};
        }
        let api = Api {
            new_sdk: sym!("NewSdk", NewSdkFn),
            init: sym!("Init", InitFn),
            get_chat_data: sym!("GetChatData", GetChatDataFn),
            decrypt_data: sym!("DecryptData", DecryptDataFn),
            get_media_data: sym!("GetMediaData", GetMediaDataFn),
            destroy_sdk: sym!("DestroySdk", DestroySdkFn),
            new_slice: sym!("NewSlice", NewFn),
            free_slice: sym!("FreeSlice", FreeFn),
            get_content_from_slice: sym!("GetContentFromSlice", BufFn),
            get_slice_len: sym!("GetSliceLen", LenFn),
            new_media_data: sym!("NewMediaData", NewFn),
            free_media_data: sym!("FreeMediaData", FreeFn),
            get_out_index_buf: sym!("GetOutIndexBuf", BufFn),
            get_data: sym!("GetData", BufFn),
            get_index_len: sym!("GetIndexLen", LenFn),
            get_data_len: sym!("GetDataLen", LenFn),
            is_media_data_finish: sym!("IsMediaDataFinish", LenFn),
        };
        Ok(Sdk {
            api,
            sdk: None,
            _lib: lib,
        })
    }

    /// `NewSdk` + `Init`. A second call replaces the instance.
    pub fn init(&mut self, corp_id: &str, secret: &str) -> Result<(), Failure> {
        let corp = cstring(corp_id)?;
        let secret = cstring(secret)?;
        self.destroy();
        // SAFETY: NewSdk takes nothing and returns an owned instance or NULL (checked).
        let sdk = unsafe { (self.api.new_sdk)() };
        if sdk.is_null() {
            return Err(Failure::Other("NewSdk returned NULL".into()));
        }
        // SAFETY: `sdk` is a live instance from NewSdk; both strings are NUL-terminated and
        // outlive the call.
        let rc = unsafe { (self.api.init)(sdk, corp.as_ptr(), secret.as_ptr()) };
        if rc != 0 {
            // SAFETY: `sdk` came from NewSdk and is destroyed exactly once, here.
            unsafe { (self.api.destroy_sdk)(sdk) };
            return Err(Failure::Sdk(SdkCode(rc)));
        }
        self.sdk = Some(sdk);
        Ok(())
    }

    /// `GetChatData` → its JSON.
    pub fn chat_data(
        &mut self,
        seq: u64,
        limit: u32,
        proxy: &str,
        passwd: &str,
        timeout: i32,
    ) -> Result<Vec<u8>, Failure> {
        let sdk = self
            .sdk
            .ok_or_else(|| Failure::Other("Init has not succeeded".into()))?;
        let (proxy, passwd) = (cstring(proxy)?, cstring(passwd)?);
        let slice = SliceGuard::new(&self.api)?;
        // SAFETY: `sdk` is the live instance from Init, the strings are NUL-terminated and
        // outlive the call, `slice` is a live Slice_t from NewSlice.
        let rc =
            unsafe { (self.api.get_chat_data)(sdk, seq, limit, proxy.as_ptr(), passwd.as_ptr(), timeout, slice.ptr) };
        if rc != 0 {
            return Err(Failure::Sdk(SdkCode(rc)));
        }
        Ok(slice.content())
    }

    /// `DecryptData` → the plaintext. Needs no `Init` (the C function takes no instance).
    pub fn decrypt(&self, key: &str, msg: &str) -> Result<Vec<u8>, Failure> {
        let (key, msg) = (cstring(key)?, cstring(msg)?);
        let slice = SliceGuard::new(&self.api)?;
        // SAFETY: both strings are NUL-terminated and outlive the call; `slice` is live.
        let rc = unsafe { (self.api.decrypt_data)(key.as_ptr(), msg.as_ptr(), slice.ptr) };
        if rc != 0 {
            return Err(Failure::Sdk(SdkCode(rc)));
        }
        Ok(slice.content())
    }

    /// One `GetMediaData` call.
    pub fn media(
        &mut self,
        index: &str,
        file_id: &str,
        proxy: &str,
        passwd: &str,
        timeout: i32,
    ) -> Result<Chunk, Failure> {
        let sdk = self
            .sdk
            .ok_or_else(|| Failure::Other("Init has not succeeded".into()))?;
        let (index, file_id) = (cstring(index)?, cstring(file_id)?);
        let (proxy, passwd) = (cstring(proxy)?, cstring(passwd)?);
        // SAFETY: NewMediaData takes nothing and returns an owned object or NULL (checked).
        let media = unsafe { (self.api.new_media_data)() };
        if media.is_null() {
            return Err(Failure::Other("NewMediaData returned NULL".into()));
        }
        let guard = FreeGuard {
            free: self.api.free_media_data,
            ptr: media,
        };
        // SAFETY: live instance, NUL-terminated strings that outlive the call, live media
        // object.
        let rc = unsafe {
            (self.api.get_media_data)(
                sdk,
                index.as_ptr(),
                file_id.as_ptr(),
                proxy.as_ptr(),
                passwd.as_ptr(),
                timeout,
                guard.ptr,
            )
        };
        if rc != 0 {
            return Err(Failure::Sdk(SdkCode(rc)));
        }
        // SAFETY: the call returned 0, so the accessors describe buffers owned by `media`,
        // which stays alive (the guard frees it after these copies).
        let (index, data, finished) = unsafe {
            (
                copy_out(
                    (self.api.get_out_index_buf)(guard.ptr),
                    (self.api.get_index_len)(guard.ptr),
                ),
                copy_out((self.api.get_data)(guard.ptr), (self.api.get_data_len)(guard.ptr)),
                (self.api.is_media_data_finish)(guard.ptr) != 0,
            )
        };
        Ok(Chunk {
            index: String::from_utf8_lossy(&index).into_owned(),
            data,
            finished,
        })
    }

    fn destroy(&mut self) {
        if let Some(sdk) = self.sdk.take() {
            // SAFETY: `sdk` came from NewSdk and `take` makes this the only destroy.
            unsafe { (self.api.destroy_sdk)(sdk) };
        }
    }
}

impl Drop for Sdk {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// Why a call failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The SDK's return code.
    Sdk(SdkCode),
    /// Anything else.
    Other(String),
}

fn cstring(s: &str) -> Result<CString, Failure> {
    CString::new(s).map_err(|_| Failure::Other("argument contains a NUL byte".into()))
}

/// Frees a `NewSlice` / `NewMediaData` object on every path.
struct FreeGuard {
    free: FreeFn,
    ptr: *mut c_void,
}

impl Drop for FreeGuard {
    fn drop(&mut self) {
        // SAFETY: `ptr` is the non-null object its constructor returned, freed only here.
        unsafe { (self.free)(self.ptr) };
    }
}

struct SliceGuard<'a> {
    api: &'a Api,
    ptr: *mut c_void,
    _free: FreeGuard,
}

impl<'a> SliceGuard<'a> {
    fn new(api: &'a Api) -> Result<Self, Failure> {
        // SAFETY: NewSlice takes nothing and returns an owned slice or NULL (checked).
        let ptr = unsafe { (api.new_slice)() };
        if ptr.is_null() {
            return Err(Failure::Other("NewSlice returned NULL".into()));
        }
        Ok(SliceGuard {
            api,
            ptr,
            _free: FreeGuard {
                free: api.free_slice,
                ptr,
            },
        })
    }

    /// The content; call only after the filling call returned 0.
    fn content(&self) -> Vec<u8> {
        // SAFETY: the filling call returned 0 (callers check first), so content and length
        // describe a buffer owned by the live slice; it is copied before the guard frees it.
        unsafe {
            copy_out(
                (self.api.get_content_from_slice)(self.ptr),
                (self.api.get_slice_len)(self.ptr),
            )
        }
    }
}

/// Copies `len` bytes from `ptr`; NULL or a non-positive length is empty.
///
/// # Safety
/// When `ptr` is non-null and `len > 0`, `ptr` must point to at least `len` readable bytes.
unsafe fn copy_out(ptr: *const c_char, len: c_int) -> Vec<u8> {
    if ptr.is_null() || len <= 0 {
        return Vec::new();
    }
    // SAFETY: guaranteed by the caller (see the function's contract).
    unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len as usize) }.to_vec()
}

/// Keeps the protocol off fd 1: returns a new descriptor for what fd 1 was (the pipe to the
/// parent) and points fd 1 at fd 2, so anything the SDK prints lands in the log instead of in
/// the middle of a frame.
pub(crate) fn take_stdout() -> std::io::Result<File> {
    let reply = File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    // SAFETY: dup2 on two descriptors this process owns (0–2 are always open in a worker the
    // parent started); it only changes what fd 1 refers to.
    let rc = unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(reply)
}

/// Asks the kernel to kill this worker when its parent dies, so a worker hung inside the SDK
/// never outlives the archive (a `kill -9` of the parent runs no cleanup).
pub(crate) fn die_with_parent() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
}
