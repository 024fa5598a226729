//! The Rust side of the C++ shim (shim/oom_shim.cc): its one `extern "C"` block and safe wrappers.

use std::ffi::{c_char, c_void, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::{Mutex, OnceLock};

/// What V8 told us about an out-of-memory failure. Must match `ohd_oom_event` in shim/oom_shim.cc.
#[repr(C)]
pub struct OomEvent {
    location: *const c_char,
    detail: *const c_char,
    is_heap_oom: i32,
    on_watched_thread: i32,
}

impl OomEvent {
    /// V8's name for where the failure happened, e.g. "Reached heap limit".
    pub fn location(&self) -> String {
        cstr(self.location).unwrap_or_else(|| "(unknown)".into())
    }

    /// V8's extra detail, if any.
    pub fn detail(&self) -> Option<String> {
        cstr(self.detail).filter(|s| !s.is_empty())
    }

    /// True when the JS heap is exhausted; false when a native allocation inside V8 failed.
    pub fn is_heap_oom(&self) -> bool {
        self.is_heap_oom != 0
    }

    /// True when V8 called us on the thread and isolate that installed the handler.
    pub fn on_watched_thread(&self) -> bool {
        self.on_watched_thread != 0
    }
}

fn cstr(p: *const c_char) -> Option<String> {
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// One node of the sampling heap profile. Must match `ohd_profile_node` in shim/oom_shim.cc.
#[repr(C)]
pub struct ProfileNode {
    pub id: u32,
    pub parent_id: u32,
    function_name: *const c_char,
    function_name_len: usize,
    url: *const c_char,
    url_len: usize,
    pub script_id: i32,
    pub line_number: i32,
    pub column_number: i32,
    pub self_size: u64,
}

impl ProfileNode {
    pub fn function_name(&self) -> String {
        lossy(self.function_name, self.function_name_len)
    }

    pub fn url(&self) -> String {
        lossy(self.url, self.url_len)
    }
}

fn lossy(p: *const c_char, len: usize) -> String {
    if p.is_null() || len == 0 {
        return String::new();
    }
    String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }).into_owned()
}

/// V8's heap figures. Must match `ohd_heap_stats` in shim/oom_shim.cc.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeapStats {
    pub total_heap_size: u64,
    pub total_physical_size: u64,
    pub total_available_size: u64,
    pub used_heap_size: u64,
    pub heap_size_limit: u64,
    pub malloced_memory: u64,
    pub external_memory: u64,
    pub number_of_native_contexts: u64,
    pub number_of_detached_contexts: u64,
}

/// One V8 heap space. Must match `ohd_heap_space` in shim/oom_shim.cc.
#[repr(C)]
struct RawHeapSpace {
    name: *const c_char,
    size: u64,
    used_size: u64,
    available_size: u64,
    physical_size: u64,
}

/// One V8 heap space, owned.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeapSpace {
    pub name: String,
    pub size: u64,
    pub used_size: u64,
    pub available_size: u64,
    pub physical_size: u64,
}

pub type OomCallback = extern "C" fn(event: *const OomEvent);
pub type GcCallback = extern "C" fn();
type ChunkSink = extern "C" fn(ctx: *mut c_void, data: *const c_char, len: usize) -> i32;
type ProgressSink = extern "C" fn(ctx: *mut c_void, done: u32, total: u32) -> i32;
type ProfileNodeSink = extern "C" fn(ctx: *mut c_void, node: *const ProfileNode);
type ProfileSampleSink =
    extern "C" fn(ctx: *mut c_void, node_id: u32, size: u64, count: u32, ordinal: u64);

/// The shim's functions, bound once by [`load`] from `oom_shim-abi<N>.so`: the shim is built per
/// Node ABI (V8's C++ API changes between majors), this addon once (N-API is stable). Its V8
/// symbols resolve against the node executable that loaded us.
macro_rules! shim_table {
    ($($name:ident: fn($($arg:ty),*) -> $ret:ty;)*) => {
        #[allow(non_snake_case)]
        struct Table {
            $($name: unsafe extern "C" fn($($arg),*) -> $ret,)*
        }

        impl Table {
            /// Binds every function; the first missing symbol is the error.
            fn bind(lib: *mut c_void, path: &Path) -> Result<Table, ShimError> {
                Ok(Table {
                    $($name: unsafe {
                        std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($arg),*) -> $ret>(
                            symbol(lib, path, stringify!($name))?,
                        )
                    },)*
                })
            }
        }
    };
}

shim_table! {
    ohd_install_oom_handler: fn(OomCallback) -> i32;
    ohd_take_heap_snapshot: fn(i32, Option<ProgressSink>, *mut c_void) -> *const c_void;
    ohd_serialize_heap_snapshot: fn(*const c_void, ChunkSink, *mut c_void, i32) -> i32;
    ohd_delete_heap_snapshot: fn(*const c_void) -> ();
    ohd_start_sampling_heap_profiler: fn(u64) -> i32;
    ohd_read_allocation_profile: fn(i32, ProfileNodeSink, ProfileSampleSink, *mut c_void) -> i32;
    ohd_heap_statistics: fn(*mut HeapStats) -> i32;
    ohd_heap_space_count: fn() -> usize;
    ohd_heap_space: fn(usize, *mut RawHeapSpace) -> i32;
    ohd_on_every_gc: fn(GcCallback) -> i32;
    ohd_cpu_profile_start: fn(u32) -> *mut c_void;
    ohd_cpu_profile_stop: fn(*mut c_void, ChunkSink, *mut c_void, i32) -> i32;
}

/// Why the shim could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("cannot load the V8 shim {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("the V8 shim {path} has no symbol {symbol} (it is not a build of this version's shim/oom_shim.cc)")]
    Symbol { path: PathBuf, symbol: &'static str },
    #[error("the V8 shim is already loaded from {loaded}; cannot load {path} as well")]
    Other { loaded: PathBuf, path: PathBuf },
}

static SHIM: OnceLock<(PathBuf, Table)> = OnceLock::new();

/// Loads the shim built for the running Node's ABI and binds its functions. Loading the same file
/// again is a no-op; another file once one is loaded is an error.
pub fn load(path: &Path) -> Result<(), ShimError> {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((loaded, _)) = SHIM.get() {
        return if loaded == path {
            Ok(())
        } else {
            Err(ShimError::Other {
                loaded: loaded.clone(),
                path: path.to_path_buf(),
            })
        };
    }
    let open = |reason: String| ShimError::Open {
        path: path.to_path_buf(),
        reason,
    };
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| open("the path holds a NUL byte".into()))?;
    // RTLD_NOW: a V8 symbol the running node does not have fails here, not at OOM time.
    let lib = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if lib.is_null() {
        return Err(open(dlerror()));
    }
    match Table::bind(lib, path) {
        Ok(table) => {
            let _ = SHIM.set((path.to_path_buf(), table));
            Ok(())
        }
        Err(e) => {
            unsafe { libc::dlclose(lib) };
            Err(e)
        }
    }
}

fn symbol(lib: *mut c_void, path: &Path, name: &'static str) -> Result<*mut c_void, ShimError> {
    let c_name = CString::new(name).expect("symbol names have no NUL");
    let p = unsafe { libc::dlsym(lib, c_name.as_ptr()) };
    if p.is_null() {
        Err(ShimError::Symbol {
            path: path.to_path_buf(),
            symbol: name,
        })
    } else {
        Ok(p)
    }
}

fn dlerror() -> String {
    let e = unsafe { libc::dlerror() };
    cstr(e).unwrap_or_else(|| "unknown dlopen error".into())
}

/// The bound shim. Every entry point of the addon that reaches V8 is called after `loadShim` (the
/// JS loader calls it right after loading the addon); before that, the wrappers below report
/// failure (false, None, empty) as V8 would without an isolate.
fn shim() -> Option<&'static Table> {
    SHIM.get().map(|(_, t)| t)
}

/// Starts V8's sampling heap profiler on the current thread's isolate.
pub fn start_sampling_heap_profiler(interval_bytes: u64) -> bool {
    shim().is_some_and(|s| unsafe { (s.ohd_start_sampling_heap_profiler)(interval_bytes) } == 1)
}

/// One sample of the sampling heap profile.
#[derive(Debug, Clone, Copy)]
pub struct ProfileSample {
    pub node_id: u32,
    pub size: u64,
    pub count: u32,
    pub ordinal: u64,
}

/// Receives the sampling heap profile: every node (parents first), then every sample.
pub trait ProfileVisitor {
    fn node(&mut self, node: &ProfileNode);
    fn sample(&mut self, sample: ProfileSample);
}

/// Reads the current sampling heap profile into `visitor`; false if no sampling profiler runs.
/// `at_oom` raises the heap limit meanwhile.
pub fn read_allocation_profile(at_oom: bool, visitor: &mut dyn ProfileVisitor) -> bool {
    let mut visitor = visitor;
    let ctx = &mut visitor as *mut &mut dyn ProfileVisitor as *mut c_void;
    shim().is_some_and(|s| unsafe { (s.ohd_read_allocation_profile)(i32::from(at_oom), visit_node, visit_sample, ctx) } == 1)
}

extern "C" fn visit_node(ctx: *mut c_void, node: *const ProfileNode) {
    let visitor = unsafe { &mut *(ctx as *mut &mut dyn ProfileVisitor) };
    let _ = catch_unwind(AssertUnwindSafe(|| visitor.node(unsafe { &*node })));
}

extern "C" fn visit_sample(ctx: *mut c_void, node_id: u32, size: u64, count: u32, ordinal: u64) {
    let visitor = unsafe { &mut *(ctx as *mut &mut dyn ProfileVisitor) };
    let sample = ProfileSample {
        node_id,
        size,
        count,
        ordinal,
    };
    let _ = catch_unwind(AssertUnwindSafe(|| visitor.sample(sample)));
}

/// The current thread's isolate's heap statistics.
pub fn heap_statistics() -> Option<HeapStats> {
    let mut stats = HeapStats::default();
    let s = shim()?;
    (unsafe { (s.ohd_heap_statistics)(&mut stats) } == 1).then_some(stats)
}

/// The current thread's isolate's heap spaces.
pub fn heap_spaces() -> Vec<HeapSpace> {
    let Some(s) = shim() else {
        return Vec::new();
    };
    (0..unsafe { (s.ohd_heap_space_count)() })
        .filter_map(|i| {
            let mut raw = RawHeapSpace {
                name: std::ptr::null(),
                size: 0,
                used_size: 0,
                available_size: 0,
                physical_size: 0,
            };
            (unsafe { (s.ohd_heap_space)(i, &mut raw) } == 1).then(|| HeapSpace {
                name: cstr(raw.name).unwrap_or_default(),
                size: raw.size,
                used_size: raw.used_size,
                available_size: raw.available_size,
                physical_size: raw.physical_size,
            })
        })
        .collect()
}

/// Sets V8's OOM handler of the current thread's isolate. False if the thread has no isolate.
pub fn install_oom_handler(on_oom: OomCallback) -> bool {
    shim().is_some_and(|s| unsafe { (s.ohd_install_oom_handler)(on_oom) } == 0)
}

/// Calls `on_gc` after every garbage collection of the current thread's isolate, inside V8's GC
/// epilogue: it must not call into V8. False if the thread has no isolate.
pub fn on_every_gc(on_gc: GcCallback) -> bool {
    shim().is_some_and(|s| unsafe { (s.ohd_on_every_gc)(on_gc) } == 0)
}

/// A CPU profile being recorded by a V8 CPU profiler of our own, on the thread that started it.
/// Not `Send`: V8 wants it stopped on that thread.
pub struct CpuProfileRun(NonNull<c_void>);

impl CpuProfileRun {
    /// Starts recording, one sample every `sampling_interval_us` microseconds. None if V8 could not.
    pub fn start(sampling_interval_us: u32) -> Option<CpuProfileRun> {
        let s = shim()?;
        NonNull::new(unsafe { (s.ohd_cpu_profile_start)(sampling_interval_us) }).map(CpuProfileRun)
    }

    /// Stops recording and streams the profile's `.cpuprofile` JSON, as V8 writes it, to `sink` in
    /// chunks of about `chunk_size` bytes. True when V8 reached the end of the stream.
    pub fn stop(self, chunk_size: usize, sink: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        let run = self.0.as_ptr();
        std::mem::forget(self);
        let mut sink = sink;
        let ctx = &mut sink as *mut &mut dyn FnMut(&[u8]) -> bool as *mut c_void;
        let size = chunk_size.min(i32::MAX as usize) as i32;
        // A run exists only if the shim is loaded.
        shim().is_some_and(
            |s| unsafe { (s.ohd_cpu_profile_stop)(run, forward_chunk, ctx, size) } == 1,
        )
    }
}

impl Drop for CpuProfileRun {
    fn drop(&mut self) {
        // Stopping frees the profiler; a run dropped unstopped (its promise abandoned) is stopped
        // and its profile discarded. Dropped off any JS thread, the shim leaks it rather than
        // touch V8 there.
        if let Some(s) = shim() {
            unsafe {
                (s.ohd_cpu_profile_stop)(
                    self.0.as_ptr(),
                    discard_chunk,
                    std::ptr::null_mut(),
                    1 << 20,
                )
            };
        }
    }
}

extern "C" fn discard_chunk(_: *mut c_void, _: *const c_char, _: usize) -> i32 {
    1
}

/// A heap snapshot held by V8's heap profiler; deleted on drop.
pub struct HeapSnapshot(NonNull<c_void>);

impl HeapSnapshot {
    /// Takes a snapshot of the current thread's isolate, at OOM time: the heap limit is raised
    /// while V8 builds it, so that its own allocations do not re-enter the OOM path.
    pub fn take_at_oom() -> Option<HeapSnapshot> {
        let s = shim()?;
        let p = unsafe { (s.ohd_take_heap_snapshot)(1, None, std::ptr::null_mut()) };
        NonNull::new(p.cast_mut()).map(HeapSnapshot)
    }

    /// Takes a snapshot of the current thread's isolate (a thread that runs JS), reporting V8's
    /// progress (done, total) to `progress` as it goes. Without one V8 is not asked for progress:
    /// it would count the heap's objects first, one more pass over the heap on this thread.
    pub fn take(progress: Option<&mut dyn FnMut(u32, u32)>) -> Option<HeapSnapshot> {
        let s = shim()?;
        let p = match progress {
            Some(mut progress) => {
                let ctx = &mut progress as *mut &mut dyn FnMut(u32, u32) as *mut c_void;
                unsafe { (s.ohd_take_heap_snapshot)(0, Some(forward_progress), ctx) }
            }
            None => unsafe { (s.ohd_take_heap_snapshot)(0, None, std::ptr::null_mut()) },
        };
        NonNull::new(p.cast_mut()).map(HeapSnapshot)
    }

    /// Streams the snapshot's JSON to `sink` in chunks of about `chunk_size` bytes. `sink` returns
    /// false to stop. True when V8 reached the end of the stream.
    pub fn serialize(&self, chunk_size: usize, sink: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        let mut sink = sink;
        let ctx = &mut sink as *mut &mut dyn FnMut(&[u8]) -> bool as *mut c_void;
        let size = chunk_size.min(i32::MAX as usize) as i32;
        shim().is_some_and(|s| unsafe { (s.ohd_serialize_heap_snapshot)(self.0.as_ptr(), forward_chunk, ctx, size) } == 1)
    }
}

impl Drop for HeapSnapshot {
    fn drop(&mut self) {
        if let Some(s) = shim() {
            unsafe { (s.ohd_delete_heap_snapshot)(self.0.as_ptr()) }
        }
    }
}

extern "C" fn forward_chunk(ctx: *mut c_void, data: *const c_char, len: usize) -> i32 {
    let sink = unsafe { &mut *(ctx as *mut &mut dyn FnMut(&[u8]) -> bool) };
    let chunk = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
    match catch_unwind(AssertUnwindSafe(|| sink(chunk))) {
        Ok(true) => 0,
        _ => 1,
    }
}

extern "C" fn forward_progress(ctx: *mut c_void, done: u32, total: u32) -> i32 {
    let progress = unsafe { &mut *(ctx as *mut &mut dyn FnMut(u32, u32)) };
    match catch_unwind(AssertUnwindSafe(|| progress(done, total))) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}
