//===- Importer.cpp - RWKV-7 checkpoint to `rwkv` IR ----------------------===//

#include "modrwkv/Checkpoint/Importer.h"
#include "modrwkv/Dialect/Mm/MmDialect.h"
#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <set>

using namespace mlir;
using namespace modrwkv;
using namespace modrwkv::rwkv;

namespace modrwkv::checkpoint {
namespace {

class ModuleBuilder {
public:
  ModuleBuilder(MLIRContext &ctx, const ModelConfig &cfg, TensorMap &tensors,
                const std::map<std::string, std::string> &variants,
                bool keepBf16, std::set<std::string> f32Only,
                int32_t placeholder, bool batchDecode)
      : cfg(cfg), tensors(tensors), variants(variants), keepBf16(keepBf16),
        f32Only(std::move(f32Only)), placeholder(placeholder),
        batchDecode(batchDecode), b(&ctx), loc(UnknownLoc::get(&ctx)) {}

  OwningOpRef<ModuleOp> build();

private:
  /// The entry `name`: prefill/decode of one sequence, or (`batched`) one
  /// token for each of B sequences whose states are rows of [L, B, ...].
  void buildEntry(ModuleOp module, StringRef name, bool batched);

  /// The weight `name` as a constant of `shape` (the checkpoint's element
  /// order; shapes differ only by unit dims), or transposed for LoRA; f32,
  /// or, for the matrix of a `product` (linear or embedding), bf16 as read
  /// when keepBf16 and `name` is not in f32Only.
  Value weight(StringRef name, ArrayRef<int64_t> shape, bool transpose = false,
               bool product = false);
  Value vec(StringRef name) { return weight(name, {cfg.width}); }
  Value mat(StringRef name) {
    const Tensor &t = tensors.find(name.str())->second;
    return weight(name, t.shape, /*transpose=*/false, /*product=*/true);
  }
  /// The Bone adapters of a block's projections (`prefix` + name +
  /// ".weight"): operands, targets and variants for the block op.
  struct BlockAdapters {
    SmallVector<Value> values;
    SmallVector<StringRef> targets, variants;
  };
  BlockAdapters adaptersOf(StringRef prefix, ArrayRef<StringRef> projections) {
    BlockAdapters out;
    for (StringRef projection : projections) {
      std::string weightName = (prefix + projection + ".weight").str();
      auto it = variants.find(weightName);
      if (it == variants.end())
        continue;
      std::string name = adapterTensorName(weightName);
      out.values.push_back(mat(name));
      out.targets.push_back(projection);
      out.variants.push_back(it->second);
    }
    return out;
  }
  ArrayAttr strings(ArrayRef<StringRef> values) {
    return values.empty() ? ArrayAttr() : b.getStrArrayAttr(values);
  }
  Value lora(StringRef name) {
    const Tensor &t = tensors.find(name.str())->second;
    return weight(name, {t.shape[1], t.shape[0]}, /*transpose=*/true,
                  /*product=*/true);
  }
  RankedTensorType act(int64_t width) {
    return RankedTensorType::get({ShapedType::kDynamic, width}, b.getF32Type());
  }
  Value layerNorm(Value x, StringRef prefix) {
    return LayerNormOp::create(b, loc, x.getType(), x,
                               vec((prefix + ".weight").str()),
                               vec((prefix + ".bias").str()), APFloat(1e-5f));
  }
  /// state[layer] as a tensor of `sliceType`, and its write-back.
  Value sliceOf(Value state, int64_t layer, RankedTensorType sliceType);
  Value updateSlice(Value state, int64_t layer, Value slice);

  const ModelConfig &cfg;
  TensorMap &tensors;
  const std::map<std::string, std::string> &variants; ///< weight -> variant
  bool keepBf16; ///< products' matrices stay bf16 as read
  /// What the adapter math reads or the runtime may swap: always f32.
  std::set<std::string> f32Only;
  int32_t placeholder; ///< token replaced by modality rows, or -1
  bool batchDecode;    ///< also build kBatchEntryName
  /// Weights already in blobs, by key: every entry shares them.
  llvm::StringMap<DenseResourceElementsAttr> blobs;
  OpBuilder b;
  Location loc;
};

Value ModuleBuilder::weight(StringRef name, ArrayRef<int64_t> shape,
                            bool transpose, bool product) {
  std::string key = transpose ? (name + ".T").str() : name.str();
  auto it = blobs.find(key);
  if (it != blobs.end())
    return arith::ConstantOp::create(b, loc, it->second);
  Tensor &t = tensors.find(name.str())->second;
  Value v = tensorConstant(b, loc, t, shape, key, transpose,
                           product && keepBf16 && !f32Only.count(name.str()));
  blobs[key] = cast<DenseResourceElementsAttr>(
      v.getDefiningOp<arith::ConstantOp>().getValue());
  return v;
}

/// Offsets, sizes and strides of `state[layer]`, a slice of `slice`'s type
/// (its dynamic sizes those of `state` past the layer dim).
struct LayerSlice {
  SmallVector<OpFoldResult> offsets, sizes, strides;
  LayerSlice(OpBuilder &b, Location loc, Value state, int64_t layer,
             RankedTensorType slice)
      : offsets(slice.getRank() + 1, b.getIndexAttr(0)),
        strides(slice.getRank() + 1, b.getIndexAttr(1)) {
    offsets[0] = b.getIndexAttr(layer);
    sizes.push_back(b.getIndexAttr(1));
    for (auto [d, size] : llvm::enumerate(slice.getShape()))
      sizes.push_back(
          ShapedType::isDynamic(size)
              ? OpFoldResult(tensor::DimOp::create(b, loc, state, d + 1))
              : b.getIndexAttr(size));
  }
};

Value ModuleBuilder::sliceOf(Value state, int64_t layer,
                             RankedTensorType sliceType) {
  LayerSlice s(b, loc, state, layer, sliceType);
  return tensor::ExtractSliceOp::create(b, loc, sliceType, state, s.offsets,
                                        s.sizes, s.strides);
}

Value ModuleBuilder::updateSlice(Value state, int64_t layer, Value slice) {
  LayerSlice s(b, loc, state, layer, cast<RankedTensorType>(slice.getType()));
  return tensor::InsertSliceOp::create(b, loc, slice, state, s.offsets, s.sizes,
                                       s.strides);
}

OwningOpRef<ModuleOp> ModuleBuilder::build() {
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  int64_t L = cfg.layers, C = cfg.width, H = cfg.heads, V = cfg.vocab;
  NamedAttribute config[] = {
      b.getNamedAttr("layers", b.getI64IntegerAttr(L)),
      b.getNamedAttr("width", b.getI64IntegerAttr(C)),
      b.getNamedAttr("heads", b.getI64IntegerAttr(H)),
      b.getNamedAttr("head_size", b.getI64IntegerAttr(cfg.headSize)),
      b.getNamedAttr("vocab", b.getI64IntegerAttr(V)),
      b.getNamedAttr("ffn", b.getI64IntegerAttr(cfg.ffn)),
      b.getNamedAttr("rank_decay", b.getI64IntegerAttr(cfg.rankDecay)),
      b.getNamedAttr("rank_iclr", b.getI64IntegerAttr(cfg.rankIclr)),
      b.getNamedAttr("rank_value", b.getI64IntegerAttr(cfg.rankValue)),
      b.getNamedAttr("rank_gate", b.getI64IntegerAttr(cfg.rankGate))};
  (*module)->setAttr(kConfigAttrName, b.getDictionaryAttr(config));
  if (cfg.initialState) {
    SmallVector<Attribute> states;
    for (int64_t l = 0; l < L; ++l) {
      std::string name = initialStateName(l);
      states.push_back(tensorResource(b, tensors.find(name)->second,
                                      {H, kHeadSize, kHeadSize}, name));
    }
    (*module)->setAttr(rwkv::kInitialStateAttrName, b.getArrayAttr(states));
  }
  buildEntry(*module, kEntryName, /*batched=*/false);
  if (batchDecode)
    buildEntry(*module, kBatchEntryName, /*batched=*/true);
  return module;
}

void ModuleBuilder::buildEntry(ModuleOp module, StringRef name, bool batched) {
  int64_t L = cfg.layers, C = cfg.width, H = cfg.heads, V = cfg.vocab;
  int64_t dyn = ShapedType::kDynamic;
  Type f32 = b.getF32Type();
  // Batched: state rows [L, B, ...], B = the number of tokens.
  SmallVector<int64_t> outer = {L};
  if (batched)
    outer.push_back(dyn);
  auto stateType = [&](ArrayRef<int64_t> inner) {
    SmallVector<int64_t> shape = outer;
    shape.append(inner.begin(), inner.end());
    return RankedTensorType::get(shape, f32);
  };
  auto shiftType = stateType({C});
  auto wkvType = stateType({H, kHeadSize, kHeadSize});
  auto tokensType = RankedTensorType::get({dyn}, b.getI32Type());
  auto logitsType = act(V);
  SmallVector<RankedTensorType> argTypes = {tokensType, shiftType, shiftType,
                                            wkvType, logitsType};
  bool splice = placeholder >= 0 && !batched;
  if (splice)
    argTypes.insert(argTypes.begin() + 1, act(C));
  SmallVector<Type> memrefTypes;
  for (RankedTensorType t : argTypes)
    memrefTypes.push_back(MemRefType::get(t.getShape(), t.getElementType()));
  b.setInsertionPointToEnd(module.getBody());
  auto func =
      func::FuncOp::create(b, loc, name, b.getFunctionType(memrefTypes, {}));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  // Caller-owned buffers that do not alias: state is updated in place.
  SmallVector<Value> args;
  for (auto [type, buffer] : llvm::zip(argTypes, entry->getArguments()))
    args.push_back(bufferization::ToTensorOp::create(
        b, loc, type, buffer, b.getUnitAttr(), b.getUnitAttr()));
  Value tokens = args[0];
  Value x;
  if (splice) {
    x = mm::SpliceOp::create(b, loc, act(C), tokens, mat("emb.weight"), args[1],
                             b.getI32IntegerAttr(placeholder));
    args.erase(args.begin() + 1);
  } else {
    x = EmbeddingOp::create(b, loc, act(C), tokens, mat("emb.weight"));
  }
  Value attShift = args[1], ffnShift = args[2], wkv = args[3];

  x = layerNorm(x, "blocks.0.ln0");
  // One layer's carries: per sequence when batched.
  auto vecType = batched ? act(C) : RankedTensorType::get({C}, f32);
  SmallVector<int64_t> headShape = {H, kHeadSize, kHeadSize};
  if (batched)
    headShape.insert(headShape.begin(), dyn);
  auto headStateType = RankedTensorType::get(headShape, f32);
  Value vFirst;
  for (int64_t l = 0; l < L; ++l) {
    std::string p = "blocks." + std::to_string(l) + ".";
    auto w = [&](StringRef n) { return p + n.str(); };
    Value xa = layerNorm(x, w("ln1"));
    SmallVector<Value> residual;
    if (l > 0)
      residual = {vec(w("att.v0")), lora(w("att.v1")), lora(w("att.v2"))};
    BlockAdapters att =
        adaptersOf(p + "att.", {"receptance", "key", "value", "output"});
    auto tm = TimeMixOp::create(
        b, loc, TypeRange{act(C), vecType, headStateType, act(C)}, xa,
        sliceOf(attShift, l, vecType), sliceOf(wkv, l, headStateType), vFirst,
        vec(w("att.x_r")), vec(w("att.x_w")), vec(w("att.x_k")),
        vec(w("att.x_v")), vec(w("att.x_a")), vec(w("att.x_g")),
        vec(w("att.w0")), lora(w("att.w1")), lora(w("att.w2")),
        vec(w("att.a0")), lora(w("att.a1")), lora(w("att.a2")),
        lora(w("att.g1")), lora(w("att.g2")), vec(w("att.k_k")),
        vec(w("att.k_a")), weight(w("att.r_k"), {C}),
        mat(w("att.receptance.weight")), mat(w("att.key.weight")),
        mat(w("att.value.weight")), mat(w("att.output.weight")),
        vec(w("att.ln_x.weight")), vec(w("att.ln_x.bias")), residual,
        att.values, strings(att.targets), strings(att.variants));
    attShift = updateSlice(attShift, l, tm.getShiftOut());
    wkv = updateSlice(wkv, l, tm.getStateOut());
    vFirst = tm.getVFirstOut();
    x = arith::AddFOp::create(b, loc, x, tm.getResult());

    Value xb = layerNorm(x, w("ln2"));
    BlockAdapters ffn = adaptersOf(p + "ffn.", {"key", "value"});
    auto cm = ChannelMixOp::create(
        b, loc, TypeRange{act(C), vecType}, xb, sliceOf(ffnShift, l, vecType),
        vec(w("ffn.x_k")), mat(w("ffn.key.weight")), mat(w("ffn.value.weight")),
        ffn.values, strings(ffn.targets), strings(ffn.variants));
    ffnShift = updateSlice(ffnShift, l, cm.getShiftOut());
    x = arith::AddFOp::create(b, loc, x, cm.getResult());
  }
  // Layer 0's value-residual weights exist in checkpoints but are unused.
  // The head runs for the last R tokens only, R = the logits buffer's rows
  // (1 <= R <= tokens): a prompt's prefill skips the V x C products of the
  // tokens whose logits nobody reads.
  Value logitsBuffer = args[4];
  Value count = tensor::DimOp::create(b, loc, x, 0);
  Value rows = tensor::DimOp::create(b, loc, logitsBuffer, 0);
  Value first = arith::SubIOp::create(b, loc, count, rows);
  SmallVector<OpFoldResult> offsets = {first, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {rows, b.getIndexAttr(C)};
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  x = tensor::ExtractSliceOp::create(b, loc, act(C), x, offsets, sizes,
                                     strides);
  x = layerNorm(x, "ln_out");
  Value logits = LinearOp::create(b, loc, act(V), x, mat("head.weight"),
                                  Value(), StringAttr());
  Value results[] = {attShift, ffnShift, wkv, logits};
  for (auto [result, buffer] :
       llvm::zip(results, entry->getArguments().drop_front(splice ? 2 : 1)))
    bufferization::MaterializeInDestinationOp::create(
        b, loc, Type(), result, buffer, b.getUnitAttr(), b.getUnitAttr());
  func::ReturnOp::create(b, loc);
}

} // namespace

namespace {
/// A blob that owns `elements` (emptied), transposed when asked.
template <typename T>
AsmResourceBlob takeBlob(std::vector<T> &elements, ArrayRef<int64_t> shape,
                         bool transpose) {
  auto owned = std::make_unique<std::vector<T>>();
  if (transpose) {
    owned->resize(elements.size());
    checkpoint::transpose(elements.data(), shape[0], shape[1], owned->data());
    std::vector<T>().swap(elements);
  } else {
    owned->swap(elements); // no copy: a model's weights are most of its memory
  }
  ArrayRef<char> bytes(reinterpret_cast<const char *>(owned->data()),
                       owned->size() * sizeof(T));
  return AsmResourceBlob(
      bytes, alignof(T),
      [owner = owned.release()](void *, size_t, size_t) { delete owner; },
      /*dataIsMutable=*/true);
}
} // namespace

DenseResourceElementsAttr tensorResource(Builder &b, Tensor &t,
                                         ArrayRef<int64_t> shape, StringRef key,
                                         bool transpose, bool keepBf16) {
  bool bf16 = keepBf16 && !t.bf16.empty();
  AsmResourceBlob blob = bf16 ? takeBlob(t.bf16, t.shape, transpose)
                              : takeBlob(t.values(), t.shape, transpose);
  auto type = RankedTensorType::get(shape, bf16 ? Type(b.getBF16Type())
                                                : Type(b.getF32Type()));
  return DenseResourceElementsAttr::get(type, key, std::move(blob));
}

Value tensorConstant(OpBuilder &b, Location loc, Tensor &t,
                     ArrayRef<int64_t> shape, StringRef key, bool transpose,
                     bool keepBf16) {
  return arith::ConstantOp::create(
      b, loc, tensorResource(b, t, shape, key, transpose, keepBf16));
}

OwningOpRef<ModuleOp> importRwkv7(MLIRContext &context,
                                  const ModelConfig &config,
                                  TensorMap &&tensors, AdapterSet *adapters,
                                  int32_t placeholder, bool batchDecode,
                                  bool keepBf16) {
  context.loadDialect<RwkvDialect, mm::MmDialect, arith::ArithDialect,
                      func::FuncDialect, tensor::TensorDialect,
                      memref::MemRefDialect,
                      bufferization::BufferizationDialect>();
  TensorMap owned = std::move(tensors);
  std::map<std::string, std::string> variants;
  Builder builder(&context);
  SmallVector<NamedAttribute> provided;
  if (adapters) {
    for (auto &[name, tensor] : adapters->replacements) {
      owned.find(name)->second = std::move(tensor);
      provided.push_back(
          builder.getNamedAttr(name, builder.getStringAttr("replaces")));
    }
    for (auto &[weightName, adapter] : adapters->adapters) {
      std::string name = adapterTensorName(weightName);
      variants[weightName] = adapter.variant;
      provided.push_back(
          builder.getNamedAttr(name, builder.getStringAttr(adapter.variant)));
      owned.insert({name, std::move(adapter.tensor)});
    }
  }
  // Adapted weights (the adapter math reads them in f32) and what the
  // adapter provides (swappable at run time, as f32) stay f32.
  std::set<std::string> f32Only;
  for (auto &[name, variant] : variants)
    f32Only.insert(name);
  for (NamedAttribute a : provided)
    f32Only.insert(a.getName().str());
  OwningOpRef<ModuleOp> module =
      ModuleBuilder(context, config, owned, variants, keepBf16,
                    std::move(f32Only), placeholder, batchDecode)
          .build();
  if (!provided.empty())
    (*module)->setAttr(kAdapterAttrName, builder.getDictionaryAttr(provided));
  return module;
}

} // namespace modrwkv::checkpoint
