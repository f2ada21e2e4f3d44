//===- WeightDtype.cpp - bf16 / f16 storage for matrix weights ------------===//

#include "Blobs.h"
#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Passes/Passes.h"

#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/Format.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace modrwkv {
#define GEN_PASS_DEF_RWKVWEIGHTDTYPE
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using namespace modrwkv::rwkv;

namespace {

/// Round to nearest even; NaN stays NaN.
uint16_t toBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffff) > 0x7f800000)
    return uint16_t((bits >> 16) | 0x40);
  bits += 0x7fff + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

/// Round to nearest even; NaN stays NaN. Past f16's largest finite value
/// (65504) the result is infinity: `overflow` tells the caller.
uint16_t toF16(float f, bool &overflow) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000);
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude >= 0x7f800000) // inf, or NaN made quiet
    return sign | (magnitude > 0x7f800000 ? 0x7e00 : 0x7c00);
  if (magnitude < 0x38800000) {
    // Below 2^-14: f16 subnormals are multiples of 2^-24. Adding 0.5 (a
    // float whose last mantissa bit weighs 2^-24) makes the FPU round the
    // magnitude to that grid, to nearest even; the low mantissa bits are
    // then the f16 bits.
    float scaled, half = 0.5f;
    std::memcpy(&scaled, &magnitude, 4);
    scaled += half;
    uint32_t rounded;
    std::memcpy(&rounded, &scaled, 4);
    return sign | uint16_t(rounded - 0x3f000000);
  }
  // Normal range: rebias the exponent (127 -> 15) and drop 13 mantissa
  // bits, rounding to nearest even; a carry may reach infinity.
  magnitude -= (127 - 15) << 23;
  magnitude += 0xfff + ((magnitude >> 13) & 1);
  uint32_t h = magnitude >> 13;
  overflow |= h >= 0x7c00;
  return sign | uint16_t(std::min<uint32_t>(h, 0x7c00));
}

/// Symmetric int8 row: scale = max |w| / 127 (1 for a zero row), q = w /
/// scale rounded to nearest even. False on a non-finite weight.
bool quantizeRow(const float *w, int64_t cols, int8_t *q, float &scale) {
  float largest = 0;
  for (int64_t k = 0; k < cols; ++k) {
    if (!std::isfinite(w[k]))
      return false;
    largest = std::max(largest, std::fabs(w[k]));
  }
  scale = largest > 0 ? largest / 127.0f : 1.0f;
  for (int64_t k = 0; k < cols; ++k)
    q[k] = int8_t(std::clamp(std::nearbyint(w[k] / scale), -127.0f, 127.0f));
  return true;
}

/// The weight operand of a product or embedding that may be narrowed: not
/// one with an unmerged Bone adapter (the adapter math reads it in f32).
OpOperand *narrowableWeight(Operation *op) {
  if (auto linear = dyn_cast<LinearOp>(op))
    return linear.getAdapter() ? nullptr : &linear.getWeightMutable();
  if (auto embedding = dyn_cast<EmbeddingOp>(op))
    return &embedding.getTableMutable();
  return nullptr;
}

/// The f32 or bf16 dense_resource (with its data) that `value` is a constant
/// of: what this pass converts (the importer keeps a bf16 checkpoint's
/// product weights bf16).
DenseResourceElementsAttr sourceResource(Value value) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  auto attr = constant
                  ? dyn_cast<DenseResourceElementsAttr>(constant.getValue())
                  : nullptr;
  if (!attr ||
      !(attr.getElementType().isF32() || attr.getElementType().isBF16()))
    return nullptr;
  size_t width = attr.getElementType().isF32() ? 4 : 2;
  const AsmResourceBlob *blob = attr.getRawHandle().getBlob();
  if (!blob ||
      blob->getData().size() !=
          size_t(cast<ShapedType>(attr.getType()).getNumElements()) * width)
    return nullptr;
  return attr;
}

/// Elements [at, at + count) of a sourceResource, as f32 (exactly).
void widen(DenseResourceElementsAttr attr, size_t at, size_t count,
           float *out) {
  const char *data = attr.getRawHandle().getBlob()->getData().data();
  if (attr.getElementType().isF32()) {
    std::memcpy(out, data + at * 4, count * 4);
    return;
  }
  const auto *in = reinterpret_cast<const uint16_t *>(data) + at;
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits = uint32_t(in[i]) << 16;
    std::memcpy(&out[i], &bits, 4);
  }
}

struct RwkvWeightDtypePass
    : public modrwkv::impl::RwkvWeightDtypeBase<RwkvWeightDtypePass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    quantize = dtype == "i8";
    storage = dtype == "bf16" || quantize ? Type(BFloat16Type::get(ctx))
              : dtype == "f16"            ? Type(Float16Type::get(ctx))
              : dtype == "f32"            ? Type(Float32Type::get(ctx))
                                          : Type();
    if (!storage || (quantize && i8MinSize < 1)) {
      getOperation().emitError("rwkv-weight-dtype: unsupported dtype '")
          << dtype << "' (f32, bf16, f16, i8 with i8-min-size >= 1)";
      return signalPassFailure();
    }
    converted.clear();
    quantized.clear();
    fills.clear();
    releaser.emplace(getOperation());
    // Weights that reach their products as arguments of a shared layer
    // function (rwkv-outline-blocks) are narrowed at the call sites.
    llvm::SetVector<BlockArgument> arguments;
    SmallVector<Operation *> users; // narrowed after the walk, which erases
    getOperation().walk([&](Operation *op) {
      OpOperand *weight = narrowableWeight(op);
      if (!weight)
        return;
      if (auto argument = dyn_cast<BlockArgument>(weight->get())) {
        if (argument.getOwner()->isEntryBlock() &&
            isa<func::FuncOp>(argument.getOwner()->getParentOp()))
          arguments.insert(argument);
        return;
      }
      users.push_back(op);
    });
    for (Operation *op : users) {
      OpOperand &weight = *narrowableWeight(op);
      Value original = weight.get();
      if (quantizable(weight) && sourceResource(original)) {
        auto linear = cast<LinearOp>(op);
        auto [q, scale] = quantizedConstants(original, linear);
        OpBuilder b(linear);
        replaceLinear(b, linear, q, scale);
      } else {
        narrow(weight, op);
      }
      releaser->eraseIfUnused(original);
    }
    for (BlockArgument argument : arguments) {
      if (failed(quantizeArgument(argument)))
        return signalPassFailure();
      narrowArgument(argument);
    }
    if (failed(fillCopies()))
      return signalPassFailure();
  }

private:
  /// An rwkv.linear weight that i8 mode stores as int8.
  bool quantizable(OpOperand &weight) {
    auto type = cast<ShapedType>(weight.get().getType());
    return quantize && isa<LinearOp>(weight.getOwner()) &&
           type.hasStaticShape() && type.getDimSize(0) >= i8MinSize &&
           type.getDimSize(1) >= i8MinSize;
  }

  /// The int8 weight and scale constants (before `user`) of the resource
  /// `weight` is a constant of (their data written by fillCopies).
  std::pair<Value, Value> quantizedConstants(Value weight, Operation *user) {
    DenseResourceElementsAttr attr = sourceResource(weight);
    auto &[q, scale] = quantized[attr];
    if (!q) {
      auto type = cast<ShapedType>(attr.getType());
      StringRef key = attr.getRawHandle().getKey();
      q = pendingCopy(type.clone(IntegerType::get(&getContext(), 8)),
                      (key + ".i8").str());
      scale =
          pendingCopy(RankedTensorType::get({type.getDimSize(0)},
                                            Float32Type::get(&getContext())),
                      (key + ".scale").str());
      addFill(attr, user);
    }
    OpBuilder b(user);
    return {
        arith::ConstantOp::create(b, user->getLoc(), cast<TypedAttr>(q)),
        arith::ConstantOp::create(b, user->getLoc(), cast<TypedAttr>(scale))};
  }

  static void replaceLinear(OpBuilder &b, LinearOp linear, Value weight,
                            Value scale) {
    b.setInsertionPoint(linear);
    Value y = QuantizedLinearOp::create(b, linear.getLoc(), linear.getType(),
                                        linear.getX(), weight, scale);
    linear.replaceAllUsesWith(y);
    linear.erase();
  }

  /// The private-function argument counterpart of quantizedConstants: when
  /// the argument only feeds quantizable linear weights and every caller
  /// passes a resource constant this pass converts, the callers pass int8
  /// weights and a new last argument carries the scales.
  LogicalResult quantizeArgument(BlockArgument argument) {
    auto function = cast<func::FuncOp>(argument.getOwner()->getParentOp());
    SmallVector<func::CallOp> calls;
    if (!quantize || !function.isPrivate() || argument.use_empty() ||
        !llvm::all_of(argument.getUses(),
                      [&](OpOperand &use) {
                        return narrowableWeight(use.getOwner()) == &use &&
                               quantizable(use);
                      }) ||
        !callersPassResources(function, argument.getArgNumber(), calls))
      return success();
    unsigned index = argument.getArgNumber();
    for (func::CallOp call : calls) {
      Value original = call.getOperand(index);
      auto [q, scale] = quantizedConstants(original, call);
      call->setOperand(index, q);
      call.getOperandsMutable().append(scale);
      releaser->eraseIfUnused(original);
    }
    auto type = cast<ShapedType>(argument.getType());
    if (failed(function.insertArgument(
            function.getNumArguments(),
            RankedTensorType::get({type.getDimSize(0)},
                                  Float32Type::get(&getContext())),
            DictionaryAttr::get(&getContext()), function.getLoc())))
      return function.emitError("cannot add a scale argument");
    argument.setType(type.clone(IntegerType::get(&getContext(), 8)));
    Value scale = function.getArguments().back();
    for (OpOperand &use : llvm::make_early_inc_range(argument.getUses())) {
      auto linear = cast<LinearOp>(use.getOwner());
      OpBuilder b(linear);
      replaceLinear(b, linear, argument, scale);
    }
    function.setType(FunctionType::get(&getContext(),
                                       function.getBody().getArgumentTypes(),
                                       function.getResultTypes()));
    return success();
  }

  /// The calls of `function`, when all of them pass a resource constant
  /// this pass converts as argument `index`.
  bool callersPassResources(func::FuncOp function, unsigned index,
                            SmallVectorImpl<func::CallOp> &calls) {
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(function, getOperation());
    if (!uses)
      return false;
    for (const SymbolTable::SymbolUse &use : *uses) {
      auto call = dyn_cast<func::CallOp>(use.getUser());
      if (!call || !sourceResource(call.getOperand(index)))
        return false;
      calls.push_back(call);
    }
    return true;
  }

  /// Replaces the resource constant `weight` holds (if it does) by its copy
  /// in `storage` (its data written by fillCopies).
  void narrow(OpOperand &weight, Operation *user) {
    DenseResourceElementsAttr attr = sourceResource(weight.get());
    if (!attr || attr.getElementType() == storage)
      return;
    Attribute &narrowed = converted[attr];
    if (!narrowed) {
      std::string key;
      llvm::raw_string_ostream(key)
          << attr.getRawHandle().getKey() << "." << storage;
      narrowed =
          pendingCopy(cast<ShapedType>(attr.getType()).clone(storage), key);
      addFill(attr, user);
    }
    OpBuilder b(user);
    weight.set(arith::ConstantOp::create(b, user->getLoc(),
                                         cast<TypedAttr>(narrowed)));
  }

  /// A resource `key` of `type` whose data fillCopies writes.
  Attribute pendingCopy(ShapedType type, StringRef key) {
    return DenseResourceElementsAttr::get(
        type, DenseResourceElementsHandle::getManagerInterface(&getContext())
                  .insert(key));
  }

  /// Notes that `source`'s copies (errors reported at `user`) are to be
  /// written, and keeps its data until then.
  void addFill(DenseResourceElementsAttr source, Operation *user) {
    fills.insert({source, user});
    releaser->hold(source);
  }

  /// Writes every copy, source by source, and frees each source's data as
  /// soon as no op names it: the weights are then never held twice, even
  /// though every entry function has its own constants of each of them.
  LogicalResult fillCopies() {
    for (auto [source, user] : fills) {
      auto attr = cast<DenseResourceElementsAttr>(source);
      if (Attribute narrowed = converted.lookup(attr))
        if (failed(fillNarrowed(attr, cast<DenseResourceElementsAttr>(narrowed),
                                user)))
          return failure();
      if (auto it = quantized.find(attr); it != quantized.end())
        if (failed(fillQuantized(
                attr, cast<DenseResourceElementsAttr>(it->second.first),
                cast<DenseResourceElementsAttr>(it->second.second), user)))
          return failure();
      releaser->release(attr);
    }
    return success();
  }

  /// `source` rounded to `storage` into `copy`; fails on an f16 overflow.
  LogicalResult fillNarrowed(DenseResourceElementsAttr source,
                             DenseResourceElementsAttr copy, Operation *user) {
    size_t n = cast<ShapedType>(source.getType()).getNumElements();
    size_t width = storage.isF32() ? 4 : 2;
    AsmResourceBlob blob =
        HeapAsmResourceBlob::allocate(n * width, width, true);
    char *out = blob.getMutableData().data();
    bool overflow = false;
    float largest = 0;
    // In chunks: a widened copy of the whole weight would add to the peak.
    constexpr size_t kChunk = 1 << 16;
    std::vector<float> chunk(storage.isF32() ? 0 : std::min(n, kChunk));
    for (size_t at = 0; at < n; at += kChunk) {
      size_t count = std::min(kChunk, n - at);
      if (storage.isF32()) {
        widen(source, at, count, reinterpret_cast<float *>(out) + at);
        continue;
      }
      widen(source, at, count, chunk.data());
      auto *half = reinterpret_cast<uint16_t *>(out) + at;
      for (size_t i = 0; i < count; ++i) {
        if (storage.isBF16()) {
          half[i] = toBf16(chunk[i]);
        } else {
          half[i] = toF16(chunk[i], overflow);
          largest = std::max(largest, std::fabs(chunk[i]));
        }
      }
    }
    // An infinity in place of a large weight would be a silently wrong
    // model.
    if (overflow) {
      std::string text;
      llvm::raw_string_ostream(text) << llvm::format("%g", largest);
      return user->emitError("rwkv-weight-dtype: weight '")
             << source.getRawHandle().getKey() << "' holds " << text
             << ", beyond f16's range (65504); store it as bf16 or f32";
    }
    copy.getRawHandle().getResource()->setBlob(std::move(blob));
    return success();
  }

  /// `source` as int8 rows and their scales; fails on a non-finite weight.
  LogicalResult fillQuantized(DenseResourceElementsAttr source,
                              DenseResourceElementsAttr q,
                              DenseResourceElementsAttr scale,
                              Operation *user) {
    auto type = cast<ShapedType>(source.getType());
    int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
    AsmResourceBlob qBlob =
        HeapAsmResourceBlob::allocate(rows * cols, alignof(int8_t), true);
    AsmResourceBlob scaleBlob =
        HeapAsmResourceBlob::allocate(rows * 4, alignof(float), true);
    auto *qData = reinterpret_cast<int8_t *>(qBlob.getMutableData().data());
    auto *scales = reinterpret_cast<float *>(scaleBlob.getMutableData().data());
    std::vector<float> row(cols);
    for (int64_t n = 0; n < rows; ++n) {
      widen(source, n * cols, cols, row.data());
      if (!quantizeRow(row.data(), cols, qData + n * cols, scales[n]))
        return user->emitError("rwkv-weight-dtype: weight '")
               << source.getRawHandle().getKey()
               << "' holds a non-finite value; it cannot be stored as int8";
    }
    q.getRawHandle().getResource()->setBlob(std::move(qBlob));
    scale.getRawHandle().getResource()->setBlob(std::move(scaleBlob));
    return success();
  }

  /// Converts a private function's argument when it only feeds narrowable
  /// weight operands and every caller passes a resource constant this pass
  /// converts; otherwise leaves it (and its callers) as they are.
  void narrowArgument(BlockArgument argument) {
    auto function = cast<func::FuncOp>(argument.getOwner()->getParentOp());
    SmallVector<func::CallOp> calls;
    if (!function.isPrivate() ||
        !llvm::all_of(argument.getUses(),
                      [](OpOperand &use) {
                        return narrowableWeight(use.getOwner()) == &use;
                      }) ||
        !callersPassResources(function, argument.getArgNumber(), calls))
      return;
    for (func::CallOp call : calls) {
      OpOperand &operand = call->getOpOperand(argument.getArgNumber());
      Value original = operand.get();
      narrow(operand, call);
      releaser->eraseIfUnused(original);
    }
    argument.setType(cast<ShapedType>(argument.getType()).clone(storage));
    function.setType(FunctionType::get(&getContext(),
                                       function.getBody().getArgumentTypes(),
                                       function.getResultTypes()));
  }

  Type storage;
  std::optional<modrwkv::BlobReleaser> releaser;
  bool quantize = false; ///< i8: large linear weights become int8
  /// One converted copy per source resource, however many ops use it.
  llvm::DenseMap<Attribute, Attribute> converted;
  /// i8: the int8 weight and scale resources of a source resource.
  llvm::DenseMap<Attribute, std::pair<Attribute, Attribute>> quantized;
  /// Sources with copies to write, and the first op that asked for them.
  llvm::MapVector<Attribute, Operation *> fills;
};

} // namespace
