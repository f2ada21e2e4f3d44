//===- WeightDtype.cpp - bf16 / f16 storage for matrix weights ------------===//

#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Passes/Passes.h"

#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/SymbolTable.h"
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

/// Symmetric int8 rows: scale = max |w| / 127 (1 for a zero row), q = w /
/// scale rounded to nearest even. False on a non-finite weight.
bool quantizeRows(const float *w, int64_t rows, int64_t cols, int8_t *q,
                  float *scale) {
  for (int64_t n = 0; n < rows; ++n, w += cols, q += cols) {
    float largest = 0;
    for (int64_t k = 0; k < cols; ++k) {
      if (!std::isfinite(w[k]))
        return false;
      largest = std::max(largest, std::fabs(w[k]));
    }
    scale[n] = largest > 0 ? largest / 127.0f : 1.0f;
    for (int64_t k = 0; k < cols; ++k)
      q[k] =
          int8_t(std::clamp(std::nearbyint(w[k] / scale[n]), -127.0f, 127.0f));
  }
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

/// The f32 dense_resource (with its data) that `value` is a constant of.
DenseResourceElementsAttr f32Resource(Value value) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  auto attr = constant
                  ? dyn_cast<DenseResourceElementsAttr>(constant.getValue())
                  : nullptr;
  if (!attr || !attr.getElementType().isF32() ||
      !attr.getRawHandle().getBlob() ||
      attr.getRawHandle().getBlob()->getData().size() !=
          size_t(cast<ShapedType>(attr.getType()).getNumElements()) *
              sizeof(float))
    return nullptr;
  return attr;
}

struct RwkvWeightDtypePass
    : public modrwkv::impl::RwkvWeightDtypeBase<RwkvWeightDtypePass> {
  using Base::Base;

  void runOnOperation() override {
    if (dtype == "f32")
      return;
    MLIRContext *ctx = &getContext();
    quantize = dtype == "i8";
    storage = dtype == "bf16" || quantize ? Type(BFloat16Type::get(ctx))
              : dtype == "f16"            ? Type(Float16Type::get(ctx))
                                          : Type();
    if (!storage || (quantize && i8MinSize < 1)) {
      getOperation().emitError("rwkv-weight-dtype: unsupported dtype '")
          << dtype << "' (f32, bf16, f16, i8 with i8-min-size >= 1)";
      return signalPassFailure();
    }
    converted.clear();
    quantized.clear();
    // Weights that reach their products as arguments of a shared layer
    // function (rwkv-outline-blocks) are narrowed at the call sites.
    llvm::SetVector<BlockArgument> arguments;
    SmallVector<LinearOp> linears; // to quantize, after the walk
    WalkResult result = getOperation().walk([&](Operation *op) {
      OpOperand *weight = narrowableWeight(op);
      if (!weight)
        return WalkResult::advance();
      if (auto argument = dyn_cast<BlockArgument>(weight->get())) {
        if (argument.getOwner()->isEntryBlock() &&
            isa<func::FuncOp>(argument.getOwner()->getParentOp()))
          arguments.insert(argument);
        return WalkResult::advance();
      }
      if (quantizable(*weight) && f32Resource(weight->get())) {
        linears.push_back(cast<LinearOp>(op));
        return WalkResult::advance();
      }
      return WalkResult(narrow(*weight, op));
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    for (LinearOp linear : linears) {
      auto constants = quantizedConstants(linear.getWeight(), linear);
      if (failed(constants))
        return signalPassFailure();
      OpBuilder b(linear);
      replaceLinear(b, linear, constants->first, constants->second);
    }
    for (BlockArgument argument : arguments)
      if (failed(quantizeArgument(argument)) ||
          failed(narrowArgument(argument)))
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

  /// The int8 weight and scale constants (before `user`) of the f32
  /// resource `weight` is a constant of; fails on a non-finite weight.
  FailureOr<std::pair<Value, Value>> quantizedConstants(Value weight,
                                                        Operation *user) {
    DenseResourceElementsAttr attr = f32Resource(weight);
    auto &[q, scale] = quantized[attr];
    if (!q) {
      auto type = cast<ShapedType>(attr.getType());
      int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
      AsmResourceBlob qBlob =
          HeapAsmResourceBlob::allocate(rows * cols, alignof(int8_t), true);
      AsmResourceBlob scaleBlob =
          HeapAsmResourceBlob::allocate(rows * 4, alignof(float), true);
      StringRef key = attr.getRawHandle().getKey();
      if (!quantizeRows(
              reinterpret_cast<const float *>(
                  attr.getRawHandle().getBlob()->getData().data()),
              rows, cols,
              reinterpret_cast<int8_t *>(qBlob.getMutableData().data()),
              reinterpret_cast<float *>(scaleBlob.getMutableData().data())))
        return user->emitError("rwkv-weight-dtype: weight '")
               << key << "' holds a non-finite value; it cannot be stored "
               << "as int8";
      q = DenseResourceElementsAttr::get(
          type.clone(IntegerType::get(&getContext(), 8)), (key + ".i8").str(),
          std::move(qBlob));
      scale = DenseResourceElementsAttr::get(
          RankedTensorType::get({rows}, Float32Type::get(&getContext())),
          (key + ".scale").str(), std::move(scaleBlob));
    }
    OpBuilder b(user);
    return std::pair<Value, Value>{
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
  /// passes an f32 resource constant, the callers pass int8 weights and a
  /// new last argument carries the scales.
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
      auto constants = quantizedConstants(call.getOperand(index), call);
      if (failed(constants))
        return failure();
      call->setOperand(index, constants->first);
      call.getOperandsMutable().append(constants->second);
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

  /// The calls of `function`, when all of them pass an f32 resource
  /// constant as argument `index`.
  bool callersPassResources(func::FuncOp function, unsigned index,
                            SmallVectorImpl<func::CallOp> &calls) {
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(function, getOperation());
    if (!uses)
      return false;
    for (const SymbolTable::SymbolUse &use : *uses) {
      auto call = dyn_cast<func::CallOp>(use.getUser());
      if (!call || !f32Resource(call.getOperand(index)))
        return false;
      calls.push_back(call);
    }
    return true;
  }

  /// Replaces the f32 resource constant `weight` holds (if it does) by its
  /// narrow copy; fails on an f16 overflow, reported at `user`.
  LogicalResult narrow(OpOperand &weight, Operation *user) {
    DenseResourceElementsAttr attr = f32Resource(weight.get());
    if (!attr)
      return success();
    Attribute &narrowed = converted[attr];
    if (!narrowed) {
      ArrayRef<char> bytes = attr.getRawHandle().getBlob()->getData();
      auto type = cast<ShapedType>(attr.getType());
      size_t n = type.getNumElements();
      AsmResourceBlob blob =
          HeapAsmResourceBlob::allocate(n * 2, alignof(uint16_t), true);
      auto *out = reinterpret_cast<uint16_t *>(blob.getMutableData().data());
      const auto *in = reinterpret_cast<const float *>(bytes.data());
      StringRef key = attr.getRawHandle().getKey();
      if (storage.isBF16()) {
        for (size_t i = 0; i < n; ++i)
          out[i] = toBf16(in[i]);
      } else {
        bool overflow = false;
        for (size_t i = 0; i < n; ++i)
          out[i] = toF16(in[i], overflow);
        // An infinity in place of a large weight would be a silently
        // wrong model.
        if (overflow) {
          float largest = 0;
          for (size_t i = 0; i < n; ++i)
            largest = std::max(largest, std::fabs(in[i]));
          std::string text;
          llvm::raw_string_ostream(text) << llvm::format("%g", largest);
          return user->emitError("rwkv-weight-dtype: weight '")
                 << key << "' holds " << text
                 << ", beyond f16's range (65504); store it as bf16 or f32";
        }
      }
      narrowed = DenseResourceElementsAttr::get(
          type.clone(storage),
          (key + (storage.isBF16() ? ".bf16" : ".f16")).str(), std::move(blob));
    }
    OpBuilder b(user);
    weight.set(arith::ConstantOp::create(b, user->getLoc(),
                                         cast<TypedAttr>(narrowed)));
    return success();
  }

  /// Narrows a private function's argument when it only feeds narrowable
  /// weight operands and every caller passes an f32 resource constant;
  /// otherwise leaves it (and its callers) f32.
  LogicalResult narrowArgument(BlockArgument argument) {
    auto function = cast<func::FuncOp>(argument.getOwner()->getParentOp());
    SmallVector<func::CallOp> calls;
    if (!function.isPrivate() ||
        !llvm::all_of(argument.getUses(),
                      [](OpOperand &use) {
                        return narrowableWeight(use.getOwner()) == &use;
                      }) ||
        !callersPassResources(function, argument.getArgNumber(), calls))
      return success();
    for (func::CallOp call : calls)
      if (failed(narrow(call->getOpOperand(argument.getArgNumber()), call)))
        return failure();
    argument.setType(cast<ShapedType>(argument.getType()).clone(storage));
    function.setType(FunctionType::get(&getContext(),
                                       function.getBody().getArgumentTypes(),
                                       function.getResultTypes()));
    return success();
  }

  Type storage;
  bool quantize = false; ///< i8: large linear weights become int8
  /// One converted copy per f32 resource, however many ops use it.
  llvm::DenseMap<Attribute, Attribute> converted;
  /// i8: the int8 weight and scale resources of an f32 resource.
  llvm::DenseMap<Attribute, std::pair<Attribute, Attribute>> quantized;
};

} // namespace
