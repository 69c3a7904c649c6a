//===- Artifact.cpp - A compiled artifact directory, opened ---------------===//
//
// The manifest is validated completely before model.so is loaded: the compiled
// code checks nothing at run time (ModelABI.h), so a geometry that disagrees
// with what the library was built for would turn into out-of-bounds writes.
// Every error names the file and the field path ("weights[3].offset").
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/Artifact.h"

#include "kvcc/Runtime/CUDA/MgpuABI.h"

#include <algorithm>
#include <cstdlib>
#include <dlfcn.h>
#include <unordered_map>
#include <unordered_set>

namespace kvcc::runtime {
namespace {

using json::Value;

/// Field readers that name the full field path in their errors.
class FieldReader {
public:
  explicit FieldReader(std::string source) : source_(std::move(source)) {}

  Status error(const std::string &msg) const { return Status::error(source_ + ": " + msg); }

  Expected<const Value *> member(const Value &obj, const std::string &path, const char *key,
                                 Value::Kind kind) const {
    std::string field = path.empty() ? key : path + "." + key;
    const Value *v = obj.get(key);
    if (!v)
      return error("missing field '" + field + "'");
    if (v->kind() != kind)
      return error("field '" + field + "' is " + article(v->kind()) + ", expected " + article(kind));
    return v;
  }

  Expected<int64_t> integer(const Value &obj, const std::string &path, const char *key, int64_t lo,
                            int64_t hi) const {
    std::string field = path.empty() ? key : path + "." + key;
    const Value *v = obj.get(key);
    if (!v)
      return error("missing field '" + field + "'");
    Expected<int64_t> i = json::toInt(*v, "field '" + field + "'");
    if (!i)
      return error(i.message());
    if (*i < lo || *i > hi)
      return error("field '" + field + "' is " + std::to_string(*i) + ", expected " + std::to_string(lo) +
                   ".." + std::to_string(hi));
    return *i;
  }

  /// A string member that must equal one of `allowed` (the first is named
  /// as the expectation in the error).
  Expected<std::string> oneOf(const Value &obj, const std::string &path, const char *key,
                              std::initializer_list<const char *> allowed, const char *what) const {
    Expected<const Value *> v = member(obj, path, key, Value::Kind::String);
    if (!v)
      return v.status();
    const std::string &s = (*v)->asString();
    for (const char *a : allowed)
      if (s == a)
        return s;
    std::string field = path.empty() ? key : path + "." + key;
    std::string list;
    for (const char *a : allowed)
      list += (list.empty() ? "'" : ", '") + std::string(a) + "'";
    return error("field '" + field + "' is '" + s + "': " + what + " (expected " + list + ")");
  }

  static std::string article(Value::Kind k) {
    std::string name = json::kindName(k);
    return (k == Value::Kind::Array || k == Value::Kind::Object ? "an " : "a ") + name;
  }

private:
  std::string source_;
};

Status readCache(const FieldReader &r, const Value &root, const ModelSpec &spec, CacheGeometry &c) {
  Expected<const Value *> cache = r.member(root, "", "cache", Value::Kind::Object);
  if (!cache)
    return cache.status();
  struct {
    const char *key;
    int64_t *dst, max;
  } dims[] = {{"layers", &c.layers, 4096},
              {"block_size", &c.blockSize, kMaxBlockSize},
              {"kv_heads", &c.kvHeads, int64_t(1) << 24},
              {"head_dim", &c.headDim, int64_t(1) << 24}};
  for (auto &d : dims) {
    Expected<int64_t> v = r.integer(**cache, "cache", d.key, 1, d.max);
    if (!v)
      return v.status();
    *d.dst = *v;
  }
  Expected<std::string> dtype =
      r.oneOf(**cache, "cache", "dtype", {"f32", "f16", "bf16"}, "not a cache element type of this runtime");
  if (!dtype)
    return dtype.status();
  abi::parseDType(*dtype, c.dtype);
  if (Expected<std::string> s = r.oneOf(**cache, "cache", "layout", {"token_major"},
                                        "ModelABI.h passes token-major pages");
      !s)
    return s.status();
  // The cache is the model's: a disagreement means the manifest was edited or
  // written by a broken compiler, and the kernels would index past the pages.
  struct {
    const char *key;
    int64_t cache, spec;
    const char *specField;
  } agree[] = {{"layers", c.layers, spec.numLayers, "numLayers"},
               {"kv_heads", c.kvHeads, spec.numKVHeads, "numKVHeads"},
               {"head_dim", c.headDim, spec.headDim, "headDim"}};
  for (auto &a : agree)
    if (a.cache != a.spec)
      return r.error("field 'cache." + std::string(a.key) + "' is " + std::to_string(a.cache) + " but model." +
                     a.specField + " is " + std::to_string(a.spec));
  // One page of one layer must be addressable with int64 element offsets
  // even for the largest pool (2^31 pages).
  if (c.pageElements() > (int64_t(1) << 31))
    return r.error("cache pages of " + std::to_string(c.pageElements()) + " elements are too large");
  return Status::success();
}

Status readWeights(const FieldReader &r, const Value &root, const ModelSpec &spec, Manifest &m) {
  Expected<int64_t> size = r.integer(root, "", "weights_size", 1, kMaxWeightsSize);
  if (!size)
    return size.status();
  m.weightsSize = *size;
  Expected<std::string> dtype = r.oneOf(root, "", "weights_dtype", {"f32", "f16", "bf16"},
                                        "not a weight element type of this runtime");
  if (!dtype)
    return dtype.status();
  abi::parseDType(*dtype, m.weightsDType);
  Expected<const Value *> list = r.member(root, "", "weights", Value::Kind::Array);
  if (!list)
    return list.status();

  std::unordered_map<std::string, const WeightSpec *> expected;
  std::vector<WeightSpec> specWeights = expectedWeights(spec);
  for (const WeightSpec &w : specWeights)
    expected.emplace(w.name, &w);
  std::unordered_set<std::string> seen;

  const std::vector<Value> &items = (*list)->asArray();
  for (size_t i = 0; i < items.size(); ++i) {
    std::string path = "weights[" + std::to_string(i) + "]";
    if (!items[i].isObject())
      return r.error("field '" + path + "' is " + FieldReader::article(items[i].kind()) + ", expected an object");
    const Value &item = items[i];
    ManifestWeight w;
    Expected<const Value *> name = r.member(item, path, "name", Value::Kind::String);
    if (!name)
      return name.status();
    w.name = (*name)->asString();
    auto it = expected.find(w.name);
    if (it == expected.end())
      return r.error("field '" + path + ".name' is '" + w.name + "', which is not a weight of this " + spec.arch +
                     " model (see ModelSource.h for the canonical names)");
    if (!seen.insert(w.name).second)
      return r.error("field '" + path + ".name': weight '" + w.name + "' is listed twice");
    Expected<const Value *> shape = r.member(item, path, "shape", Value::Kind::Array);
    if (!shape)
      return shape.status();
    const std::vector<Value> &dims = (*shape)->asArray();
    if (dims.empty() || dims.size() > 8)
      return r.error("field '" + path + ".shape' has rank " + std::to_string(dims.size()) + ", expected 1..8");
    w.numElements = 1;
    for (size_t d = 0; d < dims.size(); ++d) {
      std::string what = "field '" + path + ".shape[" + std::to_string(d) + "]'";
      Expected<int64_t> v = json::toInt(dims[d], what);
      if (!v)
        return r.error(v.message());
      if (*v < 1 || *v > kMaxWeightsSize)
        return r.error(what + " is " + std::to_string(*v) + ", expected 1.." + std::to_string(kMaxWeightsSize));
      w.shape.push_back(*v);
      // Both factors are <= 2^36 and the product is capped at each step, so
      // it never overflows int64.
      w.numElements *= *v;
      if (w.numElements > kMaxWeightsSize)
        return r.error("field '" + path + ".shape' " + shapeString(w.shape) + " has more than " +
                       std::to_string(kMaxWeightsSize) + " elements");
    }
    if (w.shape != it->second->shape)
      return r.error("field '" + path + ".shape' of '" + w.name + "' is " + shapeString(w.shape) +
                     " but the model spec implies " + shapeString(it->second->shape));
    Expected<int64_t> off = r.integer(item, path, "offset", 0, kMaxWeightsSize);
    if (!off)
      return off.status();
    w.offset = *off;
    if (w.offset + w.numElements > m.weightsSize)
      return r.error("field '" + path + ".offset': weight '" + w.name + "' spans [" + std::to_string(w.offset) +
                     ", " + std::to_string(w.offset + w.numElements) + ") but weights_size is " +
                     std::to_string(m.weightsSize));
    m.weights.push_back(std::move(w));
  }
  if (m.weights.empty())
    return r.error("field 'weights' is empty");
  // The arena is allocated before the model is read: a weights_size far
  // beyond the weights listed (more than alignment padding) is refused so a
  // manifest cannot ask for memory the model does not fill.
  int64_t listed = 0;
  for (const ManifestWeight &w : m.weights)
    listed += w.numElements; // each <= weights_size, and they do not overlap
  int64_t slack = 1024 * (static_cast<int64_t>(m.weights.size()) + 1);
  if (m.weightsSize > listed + slack)
    return r.error("field 'weights_size' is " + std::to_string(m.weightsSize) + " but the weights listed hold " +
                   std::to_string(listed) + " elements (at most " + std::to_string(slack) + " of padding allowed)");

  // Overlapping weights would let one tensor's load overwrite another's.
  std::vector<size_t> order(m.weights.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return m.weights[a].offset < m.weights[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const ManifestWeight &prev = m.weights[order[k - 1]], &cur = m.weights[order[k]];
    if (cur.offset < prev.offset + prev.numElements)
      return r.error("weights '" + prev.name + "' [" + std::to_string(prev.offset) + ", " +
                     std::to_string(prev.offset + prev.numElements) + ") and '" + cur.name + "' [" +
                     std::to_string(cur.offset) + ", " + std::to_string(cur.offset + cur.numElements) +
                     ") overlap");
  }
  return Status::success();
}

} // namespace

Expected<Manifest> Manifest::fromJson(const Value &root, const std::string &source) {
  FieldReader r(source);
  if (!root.isObject())
    return r.error("the manifest is " + FieldReader::article(root.kind()) + ", expected an object");
  Manifest m;
  if (Expected<std::string> f = r.oneOf(root, "", "format", {"kvcc-artifact"}, "not a kvcc artifact"); !f)
    return f.status();
  if (Expected<int64_t> v = r.integer(root, "", "version", abi::kManifestVersion, abi::kManifestVersion); !v)
    return Status::error(v.message() + " (this runtime reads manifest version " +
                         std::to_string(abi::kManifestVersion) + ": recompile the artifact with this kvcc)");
  Expected<std::string> target = r.oneOf(root, "", "target", {"cpu", "cuda"}, "this runtime has no backend for it");
  if (!target)
    return target.status();
  m.target = *target;
  Expected<std::string> entry = r.oneOf(root, "", "entry", {abi::kStepSymbol}, "not the entry point of ModelABI.h");
  if (!entry)
    return entry.status();
  m.entry = *entry;

  Expected<const Value *> model = r.member(root, "", "model", Value::Kind::Object);
  if (!model)
    return model.status();
  Expected<ModelSpec> spec = ModelSpec::fromJson(**model);
  if (!spec)
    return r.error("field 'model': " + spec.message());
  m.spec = spec.take();

  if (Status s = readCache(r, root, m.spec, m.cache); !s.ok())
    return s;
  if (Status s = readWeights(r, root, m.spec, m); !s.ok())
    return s;
  return m;
}

namespace {
/// model.so links OpenBLAS, which picks its kernels when it is loaded. Debian's
/// OpenBLAS 0.3.21 does not know recent Xeons and falls back to SSE3
/// ("Prescott") kernels, 2-3x slower on a decode step; name the AVX-512 or AVX2
/// kernels unless the user chose (OPENBLAS_CORETYPE is OpenBLAS's own knob).
void selectBlasKernels() {
  // Everything parallel in a step runs on OpenMP's threads (the shims call
  // OpenBLAS single-threaded, one call per thread), so idle workers should
  // wait out the short serial gaps between parallel loops spinning: 5 ms
  // (libomp's default is 200) against 0, which paid a wake-up per loop:
  // SmolLM2 --dtype=f16 decode 48-53 -> 59-60 tok/s, f32 30-31 -> 34.
  setenv("KMP_BLOCKTIME", "5", /*overwrite=*/0);
  if (std::getenv("OPENBLAS_CORETYPE"))
    return;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
  else if (__builtin_cpu_supports("avx2"))
    setenv("OPENBLAS_CORETYPE", "Haswell", 0);
#endif
}
} // namespace

Expected<std::unique_ptr<Artifact>> Artifact::open(const std::string &dir) {
  std::string manifestPath = dir + "/manifest.json";
  Expected<json::Value> doc = json::parseFile(manifestPath);
  if (!doc)
    return doc.status();
  Expected<Manifest> manifest = Manifest::fromJson(*doc, manifestPath);
  if (!manifest)
    return manifest.status();

  std::unique_ptr<Artifact> a(new Artifact());
  a->dir_ = dir;
  a->manifest_ = manifest.take();
  std::string libPath = dir + "/model.so";
  // A path with a slash makes dlopen load this file rather than search
  // LD_LIBRARY_PATH for a library of the same name.
  if (libPath.find('/') == std::string::npos)
    libPath = "./" + libPath;
  const bool cuda = a->manifest_.target == "cuda";
  if (cuda) {
    // model.so loads its kernels (mgpuModuleLoad) from a constructor that
    // cannot fail: open the device first so that a missing GPU is reported
    // as such, and check the loader's verdict right after dlopen.
    if (kvcc_cuda_init(0) != 0)
      return Status::error(kvcc_cuda_last_error());
    // A step creates a stream per launch and allocates each intermediate:
    // reuse them (MgpuABI.h) rather than paying the driver every time.
    kvcc_cuda_set_caching(1);
  } else {
    selectBlasKernels();
  }
  dlerror();
  a->handle_ = ::dlopen(libPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!a->handle_) {
    const char *why = dlerror();
    return Status::error(libPath + ": cannot load the model library: " + (why ? why : "unknown dlopen error"));
  }
  if (cuda)
    if (Status s = cuda::mgpuStatus(); !s.ok())
      return Status::error(libPath + ": loading its GPU kernels failed: " + s.message());
  dlerror();
  void *sym = ::dlsym(a->handle_, a->manifest_.entry.c_str());
  if (!sym) {
    const char *why = dlerror();
    return Status::error(libPath + ": missing entry point '" + a->manifest_.entry + "' (" +
                         (why ? why : "symbol is null") + ")");
  }
  a->step_ = reinterpret_cast<abi::StepFn>(sym);
  // kvcc compile bakes the weight arena size, the page size and the layer
  // count into model.so; a manifest that disagrees (edited, or from another
  // build) would make the compiled code read past the arena or misplace pages.
  struct Baked {
    const char *symbol;
    int64_t expected;
    const char *field;
  } baked[] = {{abi::kWeightsSizeSymbol, a->manifest_.weightsSize, "weights_size"},
               {abi::kBlockSizeSymbol, a->manifest_.cache.blockSize, "cache.block_size"},
               {abi::kNumLayersSymbol, a->manifest_.cache.layers, "cache.layers"}};
  for (const Baked &b : baked) {
    auto *value = static_cast<const int64_t *>(::dlsym(a->handle_, b.symbol));
    if (value && *value != b.expected)
      return Status::error(manifestPath + ": field '" + b.field + "' is " +
                           std::to_string(b.expected) + " but " + libPath +
                           " was compiled for " + std::to_string(*value));
  }
  // A cache or an arena of the wrong element size would be indexed past its
  // end.
  if (auto *bytes = static_cast<const int64_t *>(::dlsym(a->handle_, abi::kWeightElementBytesSymbol));
      bytes && *bytes != abi::dtypeBytes(a->manifest_.weightsDType))
    return Status::error(manifestPath + ": field 'weights_dtype' is '" + abi::dtypeName(a->manifest_.weightsDType) +
                         "' but " + libPath + " was compiled for " + std::to_string(*bytes) + "-byte weights");
  const CacheGeometry &c = a->manifest_.cache;
  if (auto *bytes = static_cast<const int64_t *>(::dlsym(a->handle_, abi::kCacheElementBytesSymbol));
      bytes && *bytes != c.elementBytes())
    return Status::error(manifestPath + ": field 'cache.dtype' is '" + abi::dtypeName(c.dtype) + "' (" +
                         std::to_string(c.elementBytes()) + "-byte elements) but " + libPath +
                         " was compiled for " + std::to_string(*bytes) + "-byte cache elements");
  return a;
}

void *Artifact::lookup(const std::string &symbol) const {
  dlerror();
  return handle_ ? ::dlsym(handle_, symbol.c_str()) : nullptr;
}

Artifact::~Artifact() {
  if (handle_)
    ::dlclose(handle_);
}

} // namespace kvcc::runtime
