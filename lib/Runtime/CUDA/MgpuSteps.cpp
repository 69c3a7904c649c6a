//===- MgpuSteps.cpp - Steps, their CUDA graphs, and the block cache ------===//
//
// The kvcc_cuda_* entry points of MgpuABI.h beyond the mgpu ABI itself:
// the block cache's controls, a step (one stream, deferred synchronizations)
// and the CUDA graphs recorded from one. Shared state: MgpuRuntime.h.
//
//===----------------------------------------------------------------------===//
#include "MgpuRuntime.h"

#include "kvcc/Runtime/CUDA/MgpuABI.h"

#include <mutex>
#include <string>
#include <utility>
#include <vector>

using namespace kvcc;
using namespace kvcc::cuda;
using namespace kvcc::cuda::detail;

extern "C" void kvcc_cuda_set_caching(int on) { rt().caching.store(on != 0, std::memory_order_release); }

extern "C" int kvcc_cuda_trim(void) {
  Runtime &r = rt();
  std::vector<CUstream> streams;
  std::vector<CUdeviceptr> blocks;
  {
    std::lock_guard<std::mutex> lock(r.cacheMu);
    streams.swap(r.idleStreams);
    auto drain = [&](BlockPool &pool) {
      for (auto &[cls, ptrs] : pool.idle)
        blocks.insert(blocks.end(), ptrs.begin(), ptrs.end());
      pool.idle.clear();
      pool.idleBytes = 0;
    };
    drain(r.eager);
    if (r.liveGraphs == 0 && !r.capturing.load(std::memory_order_acquire))
      drain(r.captured);
  }
  CudaDriver *d = releaseDriver();
  if (!d)
    return streams.empty() && blocks.empty() ? 0 : -1;
  int rc = 0;
  for (CUstream st : streams)
    if (CUresult res = d->cuStreamDestroy(st); res != CUDA_SUCCESS) {
      rc = -1;
      if (!r.failed.load(std::memory_order_acquire))
        record("kvcc_cuda_trim: " + d->check(res, "cuStreamDestroy").message());
    }
  for (CUdeviceptr p : blocks)
    if (CUresult res = d->cuMemFree(p); res != CUDA_SUCCESS) {
      rc = -1;
      if (!r.failed.load(std::memory_order_acquire))
        record("kvcc_cuda_trim: " + d->check(res, "cuMemFree").message());
    }
  return rc;
}

extern "C" uint64_t kvcc_cuda_cached_bytes(void) {
  Runtime &r = rt();
  std::lock_guard<std::mutex> lock(r.cacheMu);
  return r.eager.idleBytes + r.captured.idleBytes;
}

extern "C" void *kvcc_cuda_begin_step(void) {
  Call c("kvcc_cuda_begin_step");
  if (!c)
    return nullptr;
  Runtime &r = rt();
  if (openStep()) {
    c.fail("a step is already open");
    return nullptr;
  }
  // Made once, kept across steps (mgpuResetForTesting destroys them).
  if (!r.stepStream && !c.check(c->cuStreamCreate(&r.stepStream, CU_STREAM_NON_BLOCKING), "cuStreamCreate"))
    return nullptr;
  if (!r.stepReady && !c.check(c->cuEventCreate(&r.stepReady, CU_EVENT_DISABLE_TIMING), "cuEventCreate"))
    return nullptr;
  // The step stream does not wait for the legacy stream by itself (it is
  // non-blocking): order it after what the caller enqueued there (uploads,
  // page fills) with an event rather than a host synchronization. The wait
  // captures the event as recorded now, so the event can be recorded again
  // by the next step.
  if (!c.check(c->cuEventRecord(r.stepReady, nullptr), "cuEventRecord") ||
      !c.check(c->cuStreamWaitEvent(r.stepStream, r.stepReady, 0), "cuStreamWaitEvent"))
    return nullptr;
  r.openStep.store(r.stepStream, std::memory_order_release);
  return r.stepStream;
}

/// Ends an open capture on `st` and drops what it recorded; true if one was open.
static bool abandonCapture(CudaDriver &d, CUstream st) {
  Runtime &r = rt();
  {
    std::lock_guard<std::mutex> lock(r.cacheMu);
    if (!r.capturing.exchange(false, std::memory_order_acq_rel))
      return false;
  }
  CUgraph graph = nullptr;
  if (d.cuStreamEndCapture && d.cuStreamEndCapture(st, &graph) == CUDA_SUCCESS && graph)
    (void)d.cuGraphDestroy(graph);
  return true;
}

extern "C" int kvcc_cuda_end_step(void) {
  Runtime &r = rt();
  CUstream st = r.openStep.exchange(nullptr, std::memory_order_acq_rel);
  if (!st) {
    record("kvcc_cuda_end_step: no step is open");
    return -1;
  }
  // Waited for even after a failure: nothing of the step may still run
  // when the caller reuses its buffers.
  CudaDriver *d = releaseDriver();
  if (!d)
    return -1;
  // A capture left open is abandoned first: the stream must run work again.
  if (abandonCapture(*d, st))
    record("kvcc_cuda_end_step: a capture was still open (abandoned)");
  if (CUresult res = d->cuStreamSynchronize(st); res != CUDA_SUCCESS) {
    record("kvcc_cuda_end_step: " + d->check(res, "cuStreamSynchronize").message());
    return -1;
  }
  return r.failed.load(std::memory_order_acquire) ? -1 : 0;
}

extern "C" int kvcc_cuda_begin_capture(void) {
  Call c("kvcc_cuda_begin_capture");
  if (!c)
    return -1;
  Runtime &r = rt();
  CUstream st = openStep();
  if (!st) {
    c.fail("no step is open");
    return -1;
  }
  if (!r.caching.load(std::memory_order_acquire)) {
    // Without the cache every intermediate is a cuMemAlloc the graph would
    // keep and nobody would free.
    c.fail("capturing a step needs the block cache (kvcc_cuda_set_caching(1))");
    return -1;
  }
  if (r.capturing.load(std::memory_order_acquire)) {
    c.fail("a capture is already open");
    return -1;
  }
  if (!c->cuStreamBeginCapture || !c->cuStreamEndCapture || !c->cuGraphInstantiateWithFlags || !c->cuGraphLaunch ||
      !c->cuGraphExecDestroy || !c->cuGraphDestroy) {
    c.fail("this CUDA driver has no CUDA graphs (cuStreamBeginCapture_v2 ... cuGraphInstantiateWithFlags need 11.4)");
    return -1;
  }
  // Relaxed: the block cache may call cuMemAlloc while the step records (a
  // first capture, or a larger batch); the blocks stay with the graphs.
  if (!c.check(c->cuStreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_RELAXED), "cuStreamBeginCapture"))
    return -1;
  std::lock_guard<std::mutex> lock(r.cacheMu);
  r.capturing.store(true, std::memory_order_release);
  return 0;
}

extern "C" int kvcc_cuda_end_capture(void **exec) {
  Runtime &r = rt();
  if (exec)
    *exec = nullptr;
  {
    std::lock_guard<std::mutex> lock(r.cacheMu);
    if (!r.capturing.exchange(false, std::memory_order_acq_rel)) {
      record("kvcc_cuda_end_capture: no capture is open");
      return -1;
    }
  }
  // Ended even after a failure, so the stream stops recording
  // (kvcc_cuda_end_step abandons a capture left open).
  CudaDriver *d = releaseDriver();
  CUstream st = r.stepStream;
  if (!d || !st) {
    record("kvcc_cuda_end_capture: no step stream");
    return -1;
  }
  CUgraph graph = nullptr;
  CUresult res = d->cuStreamEndCapture(st, &graph);
  if (r.failed.load(std::memory_order_acquire)) { // a call of the captured step failed
    if (graph)
      (void)d->cuGraphDestroy(graph);
    return -1;
  }
  if (res != CUDA_SUCCESS) {
    record("kvcc_cuda_end_capture: " + d->check(res, "cuStreamEndCapture").message());
    return -1;
  }
  if (!exec) {
    (void)d->cuGraphDestroy(graph);
    record("kvcc_cuda_end_capture: null result pointer");
    return -1;
  }
  CUgraphExec e = nullptr;
  res = d->cuGraphInstantiateWithFlags(&e, graph, 0);
  (void)d->cuGraphDestroy(graph); // the executable graph is a copy
  if (res != CUDA_SUCCESS) {
    record("kvcc_cuda_end_capture: " + d->check(res, "cuGraphInstantiateWithFlags").message());
    return -1;
  }
  std::lock_guard<std::mutex> lock(r.cacheMu);
  ++r.liveGraphs;
  *exec = e;
  return 0;
}

extern "C" int kvcc_cuda_launch_graph(void *exec) {
  Call c("kvcc_cuda_launch_graph");
  if (!c)
    return -1;
  CUstream st = openStep();
  if (!st || !exec) {
    c.fail(!st ? "no step is open" : "null graph");
    return -1;
  }
  return c.check(c->cuGraphLaunch(static_cast<CUgraphExec>(exec), st), "cuGraphLaunch") ? 0 : -1;
}

extern "C" void kvcc_cuda_destroy_graph(void *exec) {
  if (!exec)
    return;
  Runtime &r = rt();
  if (CudaDriver *d = releaseDriver()) {
    CUresult res = d->cuGraphExecDestroy(static_cast<CUgraphExec>(exec));
    if (res != CUDA_SUCCESS && !r.failed.load(std::memory_order_acquire))
      record("kvcc_cuda_destroy_graph: " + d->check(res, "cuGraphExecDestroy").message());
  }
  std::lock_guard<std::mutex> lock(r.cacheMu);
  if (r.liveGraphs > 0)
    --r.liveGraphs;
}

extern "C" int kvcc_cuda_live_graphs(void) {
  Runtime &r = rt();
  std::lock_guard<std::mutex> lock(r.cacheMu);
  return r.liveGraphs;
}
