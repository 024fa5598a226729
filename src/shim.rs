//! The Rust side of the C++ shim (shim/oom_shim.cc): its one `extern "C"` block and safe wrappers.

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

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

pub type OomCallback = extern "C" fn(event: *const OomEvent);
type ChunkSink = extern "C" fn(ctx: *mut c_void, data: *const c_char, len: usize) -> i32;
type ProgressSink = extern "C" fn(ctx: *mut c_void, done: u32, total: u32) -> i32;

extern "C" {
    fn ohd_install_oom_handler(on_oom: OomCallback) -> i32;
    fn ohd_take_heap_snapshot(
        raise_limit: i32,
        progress: Option<ProgressSink>,
        ctx: *mut c_void,
    ) -> *const c_void;
    fn ohd_serialize_heap_snapshot(
        snapshot: *const c_void,
        sink: ChunkSink,
        ctx: *mut c_void,
        chunk_size: i32,
    ) -> i32;
    fn ohd_delete_heap_snapshot(snapshot: *const c_void);
}

/// Sets V8's OOM handler of the current thread's isolate. False if the thread has no isolate.
pub fn install_oom_handler(on_oom: OomCallback) -> bool {
    unsafe { ohd_install_oom_handler(on_oom) == 0 }
}

/// A heap snapshot held by V8's heap profiler; deleted on drop.
pub struct HeapSnapshot(NonNull<c_void>);

impl HeapSnapshot {
    /// Takes a snapshot of the current thread's isolate, at OOM time: the heap limit is raised
    /// while V8 builds it, so that its own allocations do not re-enter the OOM path.
    pub fn take_at_oom() -> Option<HeapSnapshot> {
        let p = unsafe { ohd_take_heap_snapshot(1, None, std::ptr::null_mut()) };
        NonNull::new(p.cast_mut()).map(HeapSnapshot)
    }

    /// Takes a snapshot of the current thread's isolate (a thread that runs JS), reporting V8's
    /// progress (done, total) to `progress` as it goes.
    pub fn take(progress: &mut dyn FnMut(u32, u32)) -> Option<HeapSnapshot> {
        let mut progress = progress;
        let ctx = &mut progress as *mut &mut dyn FnMut(u32, u32) as *mut c_void;
        let p = unsafe { ohd_take_heap_snapshot(0, Some(forward_progress), ctx) };
        NonNull::new(p.cast_mut()).map(HeapSnapshot)
    }

    /// Streams the snapshot's JSON to `sink` in chunks of about `chunk_size` bytes. `sink` returns
    /// false to stop. True when V8 reached the end of the stream.
    pub fn serialize(&self, chunk_size: usize, sink: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        let mut sink = sink;
        let ctx = &mut sink as *mut &mut dyn FnMut(&[u8]) -> bool as *mut c_void;
        let size = chunk_size.min(i32::MAX as usize) as i32;
        unsafe { ohd_serialize_heap_snapshot(self.0.as_ptr(), forward_chunk, ctx, size) == 1 }
    }
}

impl Drop for HeapSnapshot {
    fn drop(&mut self) {
        unsafe { ohd_delete_heap_snapshot(self.0.as_ptr()) }
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
