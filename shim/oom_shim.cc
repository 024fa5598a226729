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
// - v8::HeapProfiler::StartSamplingHeapProfiler() / GetAllocationProfile(): a sampling heap
//   profiler runs from start-up (one sample per N allocated bytes, a few percent of overhead); at
//   OOM its profile of live sampled allocations is cheap to read and tells where the heap went,
//   even when a full snapshot would not fit in memory. The tree is walked here and handed to Rust
//   node by node (`ohd_profile_node`), so no V8 type crosses the boundary.
// - v8::Isolate::GetHeapStatistics() / GetHeapSpaceStatistics(): the figures of the OOM report,
//   and the used heap from which a snapshot's cost is estimated.
// - v8::Isolate::AddGCEpilogueCallback(): GC_MONITORING decides after garbage collections whether
//   to take a snapshot; the callback only tells Rust that a GC happened (no V8 call, no allocation:
//   Rust queues the decision for the JS thread, where a snapshot may be taken).
// - v8::CpuProfiler::New() / Start() / Stop() / Dispose(), v8::CpuProfile::Serialize(): in-process
//   CPU profiles, with a profiler of our own (Node's inspector keeps its own), serialized by V8 in
//   the `.cpuprofile` JSON that Chrome DevTools loads, through the same chunk stream as snapshots.
//
// Everything else (paths, the helper process, files, messages) is Rust: see src/shim.rs, which
// binds these functions with dlsym. This file is built per Node ABI as its own shared object,
// oom_shim-abi<N>.so (scripts/shim.js), against that Node's headers and libstdc++ ABI; its V8
// symbols resolve against the node executable that loads it. The Rust addon is built once.

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
// Called after every garbage collection of the isolate that added it.
typedef void (*ohd_gc_callback)(void);
// Returns 0 to continue, anything else to abort serialization.
typedef int32_t (*ohd_chunk_sink)(void* ctx, const char* data, size_t len);
// Receives V8's snapshot progress; returns 0 to continue, anything else to abort the snapshot.
typedef int32_t (*ohd_progress_sink)(void* ctx, uint32_t done, uint32_t total);

// One node of the sampling heap profile. Must match `ProfileNode` in src/shim.rs.
struct ohd_profile_node {
  uint32_t id;
  uint32_t parent_id;  // 0 for the root
  const char* function_name;
  size_t function_name_len;
  const char* url;
  size_t url_len;
  int32_t script_id;
  int32_t line_number;    // 1-based, 0 when unknown (V8's kNoLineNumberInfo)
  int32_t column_number;  // 1-based, 0 when unknown
  uint64_t self_size;     // bytes of live sampled allocations made right here
};
typedef void (*ohd_profile_node_sink)(void* ctx, const ohd_profile_node* node);
// One sample: `size` bytes allocated `count` times at node `node_id`.
typedef void (*ohd_profile_sample_sink)(void* ctx, uint32_t node_id, uint64_t size, uint32_t count,
                                        uint64_t ordinal);

// V8 heap figures. Must match `HeapStats` in src/shim.rs.
struct ohd_heap_stats {
  uint64_t total_heap_size;
  uint64_t total_physical_size;
  uint64_t total_available_size;
  uint64_t used_heap_size;
  uint64_t heap_size_limit;
  uint64_t malloced_memory;
  uint64_t external_memory;
  uint64_t number_of_native_contexts;
  uint64_t number_of_detached_contexts;
};

// One heap space. Must match `HeapSpace` in src/shim.rs.
struct ohd_heap_space {
  const char* name;
  uint64_t size;
  uint64_t used_size;
  uint64_t available_size;
  uint64_t physical_size;
};

}  // extern "C"

namespace {

v8::Isolate* g_isolate = nullptr;
ohd_oom_callback g_on_oom = nullptr;
ohd_gc_callback g_on_gc = nullptr;

void OnGcEpilogue(v8::Isolate* /*isolate*/, v8::GCType /*type*/, v8::GCCallbackFlags /*flags*/,
                  void* /*data*/) {
  g_on_gc();
}

// An in-process CPU profile being recorded: the profiler that records it and the profile's id.
struct CpuProfileRun {
  v8::CpuProfiler* profiler;
  v8::ProfilerId id;
};

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

// Depth-first walk of the allocation profile; parents are reported before their children.
void WalkProfileNode(v8::Isolate* isolate, const v8::AllocationProfile::Node* node, uint32_t parent,
                     ohd_profile_node_sink sink, void* ctx) {
  v8::String::Utf8Value name(isolate, node->name);
  v8::String::Utf8Value url(isolate, node->script_name);
  ohd_profile_node out;
  out.id = node->node_id;
  out.parent_id = parent;
  out.function_name = *name != nullptr ? *name : "";
  out.function_name_len = *name != nullptr ? static_cast<size_t>(name.length()) : 0;
  out.url = *url != nullptr ? *url : "";
  out.url_len = *url != nullptr ? static_cast<size_t>(url.length()) : 0;
  out.script_id = node->script_id;
  out.line_number = node->line_number > 0 ? node->line_number : 0;
  out.column_number = node->column_number > 0 ? node->column_number : 0;
  out.self_size = 0;
  for (const auto& a : node->allocations) out.self_size += static_cast<uint64_t>(a.size) * a.count;
  sink(ctx, &out);
  for (const v8::AllocationProfile::Node* child : node->children) {
    WalkProfileNode(isolate, child, node->node_id, sink, ctx);
  }
}

}  // namespace

// The functions src/shim.rs binds with dlsym: the only symbols this shared object exports.
#pragma GCC visibility push(default)
extern "C" {

// Starts V8's sampling heap profiler on the current thread's isolate: one sample per
// `interval_bytes` allocated (on average), stacks up to 64 frames deep. Returns 1 if it runs.
int32_t ohd_start_sampling_heap_profiler(uint64_t interval_bytes) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr) return 0;
  return isolate->GetHeapProfiler()->StartSamplingHeapProfiler(interval_bytes, 64) ? 1 : 0;
}

// Walks the current sampling heap profile: every node, then every sample. With `raise_limit` (the
// OOM path), the heap limit is raised meanwhile. Returns 0 when no sampling profiler runs.
int32_t ohd_read_allocation_profile(int32_t raise_limit, ohd_profile_node_sink on_node,
                                    ohd_profile_sample_sink on_sample, void* ctx) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr) return 0;
  v8::HandleScope scope(isolate);
  if (raise_limit) isolate->AddNearHeapLimitCallback(RaiseHeapLimit, nullptr);
  v8::AllocationProfile* profile = isolate->GetHeapProfiler()->GetAllocationProfile();
  if (profile != nullptr) {
    WalkProfileNode(isolate, profile->GetRootNode(), 0, on_node, ctx);
    for (const v8::AllocationProfile::Sample& s : profile->GetSamples()) {
      on_sample(ctx, s.node_id, static_cast<uint64_t>(s.size), s.count, s.sample_id);
    }
    delete profile;
  }
  if (raise_limit) isolate->RemoveNearHeapLimitCallback(RaiseHeapLimit, 0);
  return profile != nullptr ? 1 : 0;
}

// Fills `out` with the current thread's isolate's heap statistics. Returns 0 without an isolate.
int32_t ohd_heap_statistics(ohd_heap_stats* out) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr) return 0;
  v8::HeapStatistics h;
  isolate->GetHeapStatistics(&h);
  out->total_heap_size = h.total_heap_size();
  out->total_physical_size = h.total_physical_size();
  out->total_available_size = h.total_available_size();
  out->used_heap_size = h.used_heap_size();
  out->heap_size_limit = h.heap_size_limit();
  out->malloced_memory = h.malloced_memory();
  out->external_memory = h.external_memory();
  out->number_of_native_contexts = h.number_of_native_contexts();
  out->number_of_detached_contexts = h.number_of_detached_contexts();
  return 1;
}

// Number of heap spaces, and space `index` into `out` (names are static strings of V8's).
size_t ohd_heap_space_count(void) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  return isolate == nullptr ? 0 : isolate->NumberOfHeapSpaces();
}

int32_t ohd_heap_space(size_t index, ohd_heap_space* out) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  v8::HeapSpaceStatistics s;
  if (isolate == nullptr || !isolate->GetHeapSpaceStatistics(&s, index)) return 0;
  out->name = s.space_name();
  out->size = s.space_size();
  out->used_size = s.space_used_size();
  out->available_size = s.space_available_size();
  out->physical_size = s.physical_space_size();
  return 1;
}

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

// Calls `on_gc` after every garbage collection of the current thread's isolate (once per process:
// a second call only replaces the callback). Returns 0, or -1 without an isolate.
int32_t ohd_on_every_gc(ohd_gc_callback on_gc) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr || on_gc == nullptr) return -1;
  bool first = g_on_gc == nullptr;
  g_on_gc = on_gc;
  if (first) isolate->AddGCEpilogueCallback(OnGcEpilogue, nullptr, v8::kGCTypeAll);
  return 0;
}

// Starts recording a CPU profile of the current thread's isolate, one sample every
// `sampling_interval_us` microseconds, every sample kept. Returns null when it cannot start.
void* ohd_cpu_profile_start(uint32_t sampling_interval_us) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr) return nullptr;
  v8::HandleScope scope(isolate);
  v8::CpuProfiler* profiler = v8::CpuProfiler::New(isolate);
  profiler->SetSamplingInterval(static_cast<int>(sampling_interval_us));
  v8::CpuProfilingResult started = profiler->Start(
      v8::CpuProfilingOptions(v8::kLeafNodeLineNumbers, v8::CpuProfilingOptions::kNoSampleLimit));
  if (started.status != v8::CpuProfilingStatus::kStarted) {
    profiler->Dispose();
    return nullptr;
  }
  return new CpuProfileRun{profiler, started.id};
}

// Stops the profile `run` (from ohd_cpu_profile_start, on the same thread) and streams its JSON to
// `sink` in chunks of `chunk_size` bytes; frees the profile and the profiler. Returns 1 when V8
// reached the end of the stream, 0 when it gave no profile or the sink aborted.
int32_t ohd_cpu_profile_stop(void* run, ohd_chunk_sink sink, void* ctx, int32_t chunk_size) {
  CpuProfileRun* r = static_cast<CpuProfileRun*>(run);
  int32_t ended = 0;
  // Off the isolate's thread (a run dropped elsewhere) V8 must not be touched: the run is leaked.
  if (v8::Isolate::GetCurrent() == nullptr) return 0;
  {
    v8::HandleScope scope(v8::Isolate::GetCurrent());
    v8::CpuProfile* profile = r->profiler->Stop(r->id);
    if (profile != nullptr) {
      ChunkStream stream(sink, ctx, chunk_size);
      profile->Serialize(&stream, v8::CpuProfile::kJSON);
      ended = stream.ended() ? 1 : 0;
      profile->Delete();
    }
  }
  r->profiler->Dispose();
  delete r;
  return ended;
}

}  // extern "C"
#pragma GCC visibility pop
