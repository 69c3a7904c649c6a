//===- ModelIRBuilder.cpp - A Llama-family model as kvc IR -----------------===//
//
// llama / mistral / qwen2 decoder layers:
//   h = rmsnorm(x); [q|k|v] = h·[Wq|Wk|Wv]ᵀ (+bias: qwen2); rope(q), rope(k)
//   append k,v; o = paged_attention(q); x += o·Woᵀ
//   h = rmsnorm(x); [g|u] = h·[Wg|Wu]ᵀ; x += (silu(g) * u)·Wdᵀ
// then rmsnorm of the rows whose logits are wanted, the LM head, and each
// row's argmax (the greedy token and its logit). Weights and activations have
// the element type of ModelIROptions::dtype (f32, f16 or bf16); the logits
// are f32 whatever it is (the LM head accumulates into f32 and writes f32).
// Stacked weights (weightLayout) make q/k/v one GEMM and gate/up another: 4 GEMMs a layer instead of 7. Every
// `x += ...; h = rmsnorm(x)` pair is one kvc.rms_norm with a residual.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Frontend/ModelIRBuilder.h"

#include "kvcc/Dialect/KVC/IR/KVC.h"
#include "kvcc/Frontend/ModelSource.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <cmath>
#include <map>
#include <tuple>

using namespace mlir;

namespace kvcc {

namespace {
/// Weights that continue the projection before them (ModelSource lists each
/// group in order): wq·wk·wv, bq·bk·bv and w_gate·w_up.
bool continuesGroup(const std::string &name) {
  for (const char *suffix : {".wk", ".wv", ".bk", ".bv", ".w_up"})
    if (llvm::StringRef(name).ends_with(suffix))
      return true;
  return false;
}
} // namespace

std::vector<WeightSlot> weightLayout(const ModelSpec &spec,
                                     int64_t &totalElements) {
  std::vector<WeightSlot> slots;
  int64_t offset = 0;
  for (const WeightSpec &w : expectedWeights(spec)) {
    if (!continuesGroup(w.name))
      offset = (offset + 15) / 16 * 16;
    slots.push_back({w.name, w.shape, offset});
    offset += static_cast<int64_t>(w.numElements());
  }
  totalElements = (offset + 15) / 16 * 16;
  return slots;
}

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

class Builder {
public:
  Builder(ImplicitLocOpBuilder &b, const ModelSpec &spec,
          const std::vector<WeightSlot> &layout, Value weights)
      : b(b), spec(spec), weights(weights),
        act(cast<RankedTensorType>(weights.getType()).getElementType()) {
    for (const WeightSlot &w : layout)
      slots[w.name] = &w;
  }

  bool hasWeight(const std::string &name) const { return slots.count(name); }

  /// The named weight as a static tensor sliced out of the flat argument.
  Value weight(const std::string &name) { return weightGroup({name}); }

  /// Weights laid out back to back (weightLayout) as one tensor: their rows
  /// stacked ([sum of rows, cols]), or one vector for 1-D weights.
  Value weightGroup(ArrayRef<std::string> names) {
    const WeightSlot &first = *slots.at(names.front());
    SmallVector<int64_t> shape(first.shape.begin(), first.shape.end());
    int64_t end = first.offset + numElements(first);
    for (const std::string &name : names.drop_front()) {
      const WeightSlot &w = *slots.at(name);
      assert(w.offset == end && w.shape.size() == shape.size() &&
             "a weight group is contiguous and stacks along rows");
      shape[0] += w.shape[0];
      end = w.offset + numElements(w);
    }
    int64_t n = end - first.offset;
    auto flatType = RankedTensorType::get({n}, act);
    Value flat = tensor::ExtractSliceOp::create(
        b, flatType, weights, ValueRange{}, ValueRange{}, ValueRange{},
        b.getDenseI64ArrayAttr({first.offset}), b.getDenseI64ArrayAttr({n}),
        b.getDenseI64ArrayAttr({1}));
    if (shape.size() == 1)
      return flat;
    auto type = RankedTensorType::get(shape, act);
    return tensor::ExpandShapeOp::create(b, type, flat,
                                         ArrayRef<ReassociationIndices>{{0, 1}});
  }

  static int64_t numElements(const WeightSlot &w) {
    int64_t n = 1;
    for (int64_t d : w.shape)
      n *= d;
    return n;
  }

  /// Columns [start, start + width) of a [rows, cols] tensor: a view, so a
  /// fused projection's parts are read in place.
  Value columns(Value x, int64_t start, int64_t width) {
    Value rows = tensor::DimOp::create(b, x, 0);
    auto type = RankedTensorType::get(
        {kDyn, width}, cast<RankedTensorType>(x.getType()).getElementType());
    return tensor::ExtractSliceOp::create(
        b, type, x, ValueRange{}, ValueRange{rows}, ValueRange{},
        b.getDenseI64ArrayAttr({0, start}), b.getDenseI64ArrayAttr({kDyn, width}),
        b.getDenseI64ArrayAttr({1, 1}));
  }

  /// An empty [rows, cols] tensor of `elem` (default: the activation type)
  /// whose row count is that of `like`.
  Value empty(Value like, ArrayRef<int64_t> trailing, Type elem = {}) {
    Value rows = tensor::DimOp::create(b, like, 0);
    SmallVector<int64_t> shape = {kDyn};
    shape.append(trailing.begin(), trailing.end());
    return tensor::EmptyOp::create(b, shape, elem ? elem : act, ValueRange{rows});
  }

  Value zeros(Value like, ArrayRef<int64_t> trailing, Type elem) {
    Value e = empty(like, trailing, elem);
    Value zero = arith::ConstantOp::create(b, b.getFloatAttr(elem, 0.0));
    return linalg::FillOp::create(b, ValueRange{zero}, ValueRange{e}).getResult(0);
  }

  /// x · wᵀ for x [rows, in] and w [out, in] (+ bias [out]).
  Value linear(Value x, const std::string &w, const std::string &bias = "") {
    return linear(x, weight(w), bias.empty() ? Value() : weight(bias));
  }

  /// x · wtᵀ (+ bias), w a weight tensor (one weight or a stacked group),
  /// with an `out` result (default: the activation type; the products are
  /// accumulated in f32 either way, kvc-matmul-to-blas).
  Value linear(Value x, Value wt, Value bias, Type out = {}) {
    int64_t cols = cast<RankedTensorType>(wt.getType()).getDimSize(0);
    Value acc = zeros(x, {cols}, out ? out : act);
    MLIRContext *ctx = b.getContext();
    AffineExpr m, n, k;
    bindDims(ctx, m, n, k);
    auto maps = b.getAffineMapArrayAttr(
        {AffineMap::get(3, 0, {m, k}, ctx), AffineMap::get(3, 0, {n, k}, ctx),
         AffineMap::get(3, 0, {m, n}, ctx)});
    Value y = linalg::MatmulOp::create(
                  b, TypeRange{acc.getType()}, ValueRange{x, wt},
                  ValueRange{acc},
                  ArrayRef<NamedAttribute>{b.getNamedAttr("indexing_maps", maps)})
                  .getResult(0);
    if (!bias)
      return y;
    return elementwiseRowBroadcast(y, bias,
                                   [&](OpBuilder &nb, Location loc, Value a,
                                       Value c) -> Value {
                                     return arith::AddFOp::create(nb, loc, a, c);
                                   });
  }

  /// f(x[r, c], v[c]) for every element.
  Value elementwiseRowBroadcast(
      Value x, Value v,
      const std::function<Value(OpBuilder &, Location, Value, Value)> &f) {
    auto type = cast<RankedTensorType>(x.getType());
    MLIRContext *ctx = b.getContext();
    auto id = AffineMap::getMultiDimIdentityMap(2, ctx);
    auto col = AffineMap::get(2, 0, {getAffineDimExpr(1, ctx)}, ctx);
    return linalg::GenericOp::create(
               b, TypeRange{type}, ValueRange{x, v},
               ValueRange{empty(x, {type.getDimSize(1)})},
               ArrayRef<AffineMap>{id, col, id},
               ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                             utils::IteratorType::parallel},
               [&](OpBuilder &nb, Location loc, ValueRange args) {
                 linalg::YieldOp::create(nb, loc, f(nb, loc, args[0], args[1]));
               })
        .getResult(0);
  }

  /// f(x, y) elementwise for two [rows, cols] tensors.
  Value elementwise(Value x, Value y,
                    const std::function<Value(OpBuilder &, Location, Value,
                                              Value)> &f) {
    auto type = cast<RankedTensorType>(x.getType());
    auto id = AffineMap::getMultiDimIdentityMap(2, b.getContext());
    return linalg::GenericOp::create(
               b, TypeRange{type}, ValueRange{x, y},
               ValueRange{empty(x, {type.getDimSize(1)})},
               ArrayRef<AffineMap>{id, id, id},
               ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                             utils::IteratorType::parallel},
               [&](OpBuilder &nb, Location loc, ValueRange args) {
                 linalg::YieldOp::create(nb, loc, f(nb, loc, args[0], args[1]));
               })
        .getResult(0);
  }

  Value add(Value x, Value y) {
    return elementwise(x, y, [](OpBuilder &nb, Location loc, Value a, Value c) {
      return Value(arith::AddFOp::create(nb, loc, a, c));
    });
  }

  /// x * rsqrt(mean(x²) + eps) * w, row by row (f32 sum of squares).
  Value rmsNorm(Value x, const std::string &w) {
    return kvc::RMSNormOp::create(b, TypeRange{x.getType()}, x, /*residual=*/Value(),
                                  weight(w), b.getF64FloatAttr(spec.rmsEps))
        .getResult();
  }

  /// x + delta (the residual stream) and its rmsnorm, as one op:
  /// {normed, sum}.
  std::pair<Value, Value> addRmsNorm(Value x, Value delta, const std::string &w) {
    auto op = kvc::RMSNormOp::create(b, TypeRange{x.getType(), x.getType()}, x, delta,
                                     weight(w), b.getF64FloatAttr(spec.rmsEps));
    return {op.getResult(), op.getSum()};
  }

  /// Rows `rows[i]` of `table` [N, cols] (an embedding lookup when `table` is
  /// the embedding and `rows` the token ids).
  Value gatherRows(Value table, Value rowIds) {
    auto tableType = cast<RankedTensorType>(table.getType());
    int64_t cols = tableType.getDimSize(1);
    MLIRContext *ctx = b.getContext();
    auto id = AffineMap::getMultiDimIdentityMap(2, ctx);
    auto row = AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
    Type elem = tableType.getElementType();
    return linalg::GenericOp::create(
               b, TypeRange{RankedTensorType::get({kDyn, cols}, elem)},
               ValueRange{rowIds}, ValueRange{empty(rowIds, {cols}, elem)},
               ArrayRef<AffineMap>{row, id},
               ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                             utils::IteratorType::parallel},
               [&](OpBuilder &nb, Location loc, ValueRange args) {
                 Value r = arith::IndexCastOp::create(nb, loc, nb.getIndexType(),
                                                      args[0]);
                 Value c = linalg::IndexOp::create(nb, loc, 1);
                 Value v = tensor::ExtractOp::create(nb, loc, table,
                                                     ValueRange{r, c});
                 linalg::YieldOp::create(nb, loc, v);
               })
        .getResult(0);
  }

  /// silu(g) * u, computed in f32 (one rounding to a 16-bit activation type
  /// at the end, as the fused kernels of inference engines do).
  Value swiglu(Value g, Value u) {
    return elementwise(g, u, [&](OpBuilder &nb, Location loc, Value a, Value c) {
      Type f32 = nb.getF32Type();
      if (act != f32) {
        a = arith::ExtFOp::create(nb, loc, f32, a);
        c = arith::ExtFOp::create(nb, loc, f32, c);
      }
      Value one = arith::ConstantOp::create(nb, loc, nb.getF32FloatAttr(1.0f));
      Value neg = arith::NegFOp::create(nb, loc, a);
      Value e = math::ExpOp::create(nb, loc, neg);
      Value den = arith::AddFOp::create(nb, loc, one, e);
      Value sig = arith::DivFOp::create(nb, loc, one, den);
      Value silu = arith::MulFOp::create(nb, loc, a, sig);
      Value y = arith::MulFOp::create(nb, loc, silu, c);
      return act == f32 ? y : Value(arith::TruncFOp::create(nb, loc, act, y));
    });
  }

  Value reshapeHeads(Value x, int64_t heads) {
    auto type = RankedTensorType::get({kDyn, heads, spec.headDim}, act);
    Value rows = tensor::DimOp::create(b, x, 0);
    return tensor::ExpandShapeOp::create(
        b, type, x, ArrayRef<ReassociationIndices>{{0}, {1, 2}},
        ArrayRef<OpFoldResult>{OpFoldResult(rows), b.getIndexAttr(heads),
                               b.getIndexAttr(spec.headDim)});
  }

  Value flattenHeads(Value x) {
    return tensor::CollapseShapeOp::create(
        b, x, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  }

  Value rope(Value x, Value positions) {
    auto style = spec.ropeStyle == ModelSpec::RopeStyle::Neox ? kvc::RopeStyle::Neox
                                                              : kvc::RopeStyle::GptJ;
    return kvc::RopeOp::create(b, x.getType(),
                               kvc::RopeStyleAttr::get(b.getContext(), style), x,
                               positions, b.getI64IntegerAttr(spec.rotaryDim),
                               b.getF64FloatAttr(spec.ropeTheta),
                               b.getF64FloatAttr(1.0));
  }

  ImplicitLocOpBuilder &b;
  const ModelSpec &spec;
  Value weights;
  Type act; ///< weights and activations (ModelIROptions::dtype)
  std::map<std::string, const WeightSlot *> slots;
};

} // namespace

OwningOpRef<ModuleOp> buildModelIR(MLIRContext &context, const ModelSpec &spec,
                                   const ModelIROptions &options) {
  context.loadDialect<kvc::KVCDialect, func::FuncDialect, arith::ArithDialect,
                      math::MathDialect, linalg::LinalgDialect,
                      tensor::TensorDialect, LLVM::LLVMDialect>();
  Location loc = FileLineColLoc::get(&context, "model:" + spec.arch, 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  ImplicitLocOpBuilder b(loc, &context);
  b.setInsertionPointToEnd(module->getBody());

  int64_t totalWeights = 0;
  std::vector<WeightSlot> layout = weightLayout(spec, totalWeights);

  Type i32 = b.getI32Type(), i64 = b.getI64Type(), f32 = b.getF32Type();
  auto vec = [&](Type t) { return RankedTensorType::get({kDyn}, t); };
  auto elementType = [&](abi::DType t) -> Type {
    return t == abi::DType::F16 ? b.getF16Type() : t == abi::DType::BF16 ? b.getBF16Type() : f32;
  };
  Type cacheElement = elementType(options.cacheDType);
  auto cacheType = kvc::PagedCacheType::get(&context, options.blockSize,
                                            spec.numKVHeads, spec.headDim, cacheElement,
                                            kvc::CacheLayout::TokenMajor);
  SmallVector<Type> inputs = {vec(i32),  // tokens
                              vec(i64),  // positions
                              vec(i64),  // slots
                              vec(i32),  // query_start
                              vec(i32),  // context_lens
                              RankedTensorType::get({kDyn, kDyn}, i32),
                              vec(i64),  // logit_rows
                              RankedTensorType::get({totalWeights}, elementType(options.dtype))};
  for (int64_t l = 0; l < spec.numLayers; ++l)
    inputs.push_back(cacheType);
  auto logitsType = RankedTensorType::get({kDyn, spec.vocabSize}, f32);
  auto fn = func::FuncOp::create(
      b, "step", b.getFunctionType(inputs, {logitsType, vec(i32), vec(f32)}));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  auto arg = [&](unsigned i) { return entry->getArgument(i); };
  Value tokens = arg(0), positions = arg(1), slotsArg = arg(2),
        queryStart = arg(3), contextLens = arg(4), blockTables = arg(5),
        logitRows = arg(6);

  Builder m(b, spec, layout, arg(7));
  Value x = m.gatherRows(m.weight("embed"), tokens);
  float scale = static_cast<float>(1.0 / std::sqrt(double(spec.headDim)));
  // Each residual add is fused into the norm that follows it; the last
  // layer's MLP output is added on its own (only the logit rows are normed).
  Value h = m.rmsNorm(x, "layers.0.attn_norm");
  for (int64_t l = 0; l < spec.numLayers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    // One GEMM for q, k and v (their weights are stacked in the arena), read
    // back as three column blocks.
    const int64_t qDim = spec.numHeads * spec.headDim, kvDim = spec.numKVHeads * spec.headDim;
    Value qkvWeight = m.weightGroup({p + "wq", p + "wk", p + "wv"});
    Value qkvBias = spec.qkvBias ? m.weightGroup({p + "bq", p + "bk", p + "bv"}) : Value();
    Value qkv = m.linear(h, qkvWeight, qkvBias);
    Value q = m.columns(qkv, 0, qDim);
    Value k = m.columns(qkv, qDim, kvDim);
    Value v = m.columns(qkv, qDim + kvDim, kvDim);
    q = m.rope(m.reshapeHeads(q, spec.numHeads), positions);
    k = m.rope(m.reshapeHeads(k, spec.numKVHeads), positions);
    v = m.reshapeHeads(v, spec.numKVHeads);
    Value cache = arg(8 + l);
    kvc::AppendOp::create(b, k, v, cache, slotsArg);
    IntegerAttr window;
    if (spec.slidingWindow)
      window = b.getI64IntegerAttr(*spec.slidingWindow);
    Value o = kvc::PagedAttentionOp::create(
        b, q.getType(), q, cache, blockTables, contextLens, queryStart,
        b.getF32FloatAttr(scale), b.getUnitAttr(), window, /*softcap=*/nullptr,
        /*num_splits=*/nullptr, /*max_splits=*/nullptr);
    Value attnOut = m.linear(m.flattenHeads(o), p + "wo");
    Value h2;
    std::tie(h2, x) = m.addRmsNorm(x, attnOut, p + "mlp_norm");
    // One GEMM for gate and up; SwiGLU reads both halves in place.
    Value gateUp = m.linear(h2, m.weightGroup({p + "w_gate", p + "w_up"}), Value());
    const int64_t F = spec.intermediateSize;
    Value act = m.swiglu(m.columns(gateUp, 0, F), m.columns(gateUp, F, F));
    Value mlpOut = m.linear(act, p + "w_down");
    if (l + 1 < spec.numLayers)
      std::tie(h, x) = m.addRmsNorm(x, mlpOut, "layers." + std::to_string(l + 1) + ".attn_norm");
    else
      x = m.add(x, mlpOut);
  }
  Value last = m.gatherRows(x, logitRows);
  Value normed = m.rmsNorm(last, "final_norm");
  Value logits = m.linear(normed, m.weight(m.hasWeight("lm_head") ? "lm_head" : "embed"),
                          /*bias=*/Value(), f32);
  // The greedy pick of each row, so that greedy decoding on the GPU copies
  // 8 bytes per sequence back instead of the vocabulary's logits.
  auto greedy = kvc::ArgmaxOp::create(b, TypeRange{vec(i32), vec(f32)}, logits);
  func::ReturnOp::create(b, ValueRange{logits, greedy.getIndex(), greedy.getValue()});

  // The geometry baked into the code, exported so the runtime can refuse a
  // manifest that disagrees (ModelABI.h).
  b.setInsertionPointToEnd(module->getBody());
  for (auto [name, value] :
       {std::pair<const char *, int64_t>{abi::kWeightsSizeSymbol, totalWeights},
        {abi::kBlockSizeSymbol, options.blockSize},
        {abi::kNumLayersSymbol, spec.numLayers},
        {abi::kCacheElementBytesSymbol, abi::dtypeBytes(options.cacheDType)},
        {abi::kWeightElementBytesSymbol, abi::dtypeBytes(options.dtype)}})
    LLVM::GlobalOp::create(b, b.getI64Type(), /*isConstant=*/true,
                           LLVM::Linkage::External, name,
                           b.getI64IntegerAttr(value));
  return module;
}

} // namespace kvcc
