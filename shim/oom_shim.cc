// oom_shim.cc: the only part of node-oom-heapdump that speaks V8's C++ API.
//
// V8 APIs used, and why:
// - v8::Isolate::GetCurrent(): at install, the isolate of the thread that loads the addon (Node's
//   main thread), whose heap we watch; at OOM, to tell whether V8 called us on that thread.
// - v8::Isolate::SetOOMErrorHandler(): V8 calls the handler on every fatal heap exhaustion ("Reached
//   heap limit", "Ineffective mark-compacts near heap limit", ...), in place of Node's own handler.
//   It must not return: the Rust side ends the process.
// - v8::Isolate::AddNearHeapLimitCallback(): added only while the OOM snapshot is being taken, to
//   raise the heap limit so that the snapshot's own allocations do not re-enter the OOM path. It is
//   not added earlier because V8 only calls the most recently added callback, which would shadow
//   Node's own (--heapsnapshot-near-heap-limit, worker resource limits).
// - v8::HeapProfiler::TakeHeapSnapshot(): only V8 can walk its heap, so the snapshot is taken in the
//   dying process (and, for on-request captures without an inspector, in the running one), with a
//   v8::ActivityControl that forwards V8's progress (done, total) to Rust.
// - v8::HeapSnapshot::Serialize() with a v8::OutputStream: V8 produces the JSON in chunks of the size
//   we ask for and hands each to a Rust callback (to the helper's pipe, or a file) before producing
//   the next, so the serialized snapshot is never held in memory.
// - v8::HeapSnapshot::Delete(): the snapshot graph lives in malloc memory; freed after writing.
//
// Everything else (paths, the helper process, files, messages) is Rust: see src/shim.rs, which
// declares these functions in its one extern "C" block.

#include <cstddef>
#include <cstdint>

#include <node_version.h>
#include <v8-profiler.h>
#include <v8.h>

#if NODE_MAJOR_VERSION < 20
#error "node-oom-heapdump supports Node.js 20 and later"
#endif

extern "C" {

// Must match `OomEvent` in src/shim.rs.
struct ohd_oom_event {
  const char* location;       // V8's name for the failing site, e.g. "Reached heap limit"
  const char* detail;         // V8's extra detail, may be null
  int32_t is_heap_oom;        // 1: the JS heap is exhausted; 0: a malloc inside V8 failed
  int32_t on_watched_thread;  // 1: called on the thread (and isolate) that installed the handler
};

typedef void (*ohd_oom_callback)(const ohd_oom_event* event);
// Returns 0 to continue, anything else to abort serialization.
typedef int32_t (*ohd_chunk_sink)(void* ctx, const char* data, size_t len);
// Receives V8's snapshot progress; returns 0 to continue, anything else to abort the snapshot.
typedef int32_t (*ohd_progress_sink)(void* ctx, uint32_t done, uint32_t total);

}  // extern "C"

namespace {

v8::Isolate* g_isolate = nullptr;
ohd_oom_callback g_on_oom = nullptr;

void OnOOMError(const char* location, const v8::OOMDetails& details) {
  ohd_oom_event event;
  event.location = location != nullptr ? location : "(unknown)";
  event.detail = details.detail;
  event.is_heap_oom = details.is_heap_oom ? 1 : 0;
  event.on_watched_thread = v8::Isolate::GetCurrent() == g_isolate ? 1 : 0;
  g_on_oom(&event);
  // The callback ends the process; V8 must never see this handler return.
  __builtin_trap();
}

size_t RaiseHeapLimit(void* /*data*/, size_t current_heap_limit, size_t /*initial*/) {
  // Half again plus 64 MiB: room for the allocations of the snapshot generator itself.
  return current_heap_limit + current_heap_limit / 2 + (size_t{64} << 20);
}

class ProgressControl final : public v8::ActivityControl {
 public:
  ProgressControl(ohd_progress_sink sink, void* ctx) : sink_(sink), ctx_(ctx) {}
  ControlOption ReportProgressValue(uint32_t done, uint32_t total) override {
    return sink_(ctx_, done, total) == 0 ? kContinue : kAbort;
  }

 private:
  ohd_progress_sink sink_;
  void* ctx_;
};

class ChunkStream final : public v8::OutputStream {
 public:
  ChunkStream(ohd_chunk_sink sink, void* ctx, int chunk_size)
      : sink_(sink), ctx_(ctx), chunk_size_(chunk_size) {}
  int GetChunkSize() override { return chunk_size_; }
  void EndOfStream() override { ended_ = true; }
  WriteResult WriteAsciiChunk(char* data, int size) override {
    return sink_(ctx_, data, static_cast<size_t>(size)) == 0 ? kContinue : kAbort;
  }
  bool ended() const { return ended_; }

 private:
  ohd_chunk_sink sink_;
  void* ctx_;
  int chunk_size_;
  bool ended_ = false;
};

}  // namespace

extern "C" {

// Installs the OOM handler on the current thread's isolate. Returns 0, or -1 without an isolate.
int32_t ohd_install_oom_handler(ohd_oom_callback on_oom) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr || on_oom == nullptr) return -1;
  g_isolate = isolate;
  g_on_oom = on_oom;
  isolate->SetOOMErrorHandler(OnOOMError);
  return 0;
}

// Takes a heap snapshot of the current thread's isolate. With `raise_limit` (the OOM path), the heap
// limit is raised meanwhile. `progress` may be null. Returns null if V8 gave none.
const void* ohd_take_heap_snapshot(int32_t raise_limit, ohd_progress_sink progress, void* ctx) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr) return nullptr;
  v8::HandleScope scope(isolate);
  if (raise_limit) isolate->AddNearHeapLimitCallback(RaiseHeapLimit, nullptr);
  ProgressControl control(progress, ctx);
  v8::HeapProfiler::HeapSnapshotOptions options;
  if (progress != nullptr) options.control = &control;
  const v8::HeapSnapshot* snapshot = isolate->GetHeapProfiler()->TakeHeapSnapshot(options);
  if (raise_limit) isolate->RemoveNearHeapLimitCallback(RaiseHeapLimit, 0);
  return snapshot;
}

// Streams the snapshot's JSON to `sink` in chunks of `chunk_size` bytes.
// Returns 1 when V8 reached the end of the stream, 0 when the sink aborted.
int32_t ohd_serialize_heap_snapshot(const void* snapshot, ohd_chunk_sink sink, void* ctx,
                                    int32_t chunk_size) {
  ChunkStream stream(sink, ctx, chunk_size);
  static_cast<const v8::HeapSnapshot*>(snapshot)->Serialize(&stream, v8::HeapSnapshot::kJSON);
  return stream.ended() ? 1 : 0;
}

void ohd_delete_heap_snapshot(const void* snapshot) {
  const_cast<v8::HeapSnapshot*>(static_cast<const v8::HeapSnapshot*>(snapshot))->Delete();
}

}  // extern "C"
