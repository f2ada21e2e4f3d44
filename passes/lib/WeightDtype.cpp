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
    storage = dtype == "bf16"  ? Type(BFloat16Type::get(ctx))
              : dtype == "f16" ? Type(Float16Type::get(ctx))
                               : Type();
    if (!storage) {
      getOperation().emitError("rwkv-weight-dtype: unsupported dtype '")
          << dtype << "' (f32, bf16, f16)";
      return signalPassFailure();
    }
    converted.clear();
    // Weights that reach their products as arguments of a shared layer
    // function (rwkv-outline-blocks) are narrowed at the call sites.
    llvm::SetVector<BlockArgument> arguments;
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
      return WalkResult(narrow(*weight, op));
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    for (BlockArgument argument : arguments)
      if (failed(narrowArgument(argument)))
        return signalPassFailure();
  }

private:
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
          type.clone(storage), (key + "." + dtype).str(), std::move(blob));
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
    if (!function.isPrivate() ||
        !llvm::all_of(argument.getUses(), [](OpOperand &use) {
          return narrowableWeight(use.getOwner()) == &use;
        }))
      return success();
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(function, getOperation());
    if (!uses)
      return success();
    SmallVector<func::CallOp> calls;
    for (const SymbolTable::SymbolUse &use : *uses) {
      auto call = dyn_cast<func::CallOp>(use.getUser());
      if (!call || !f32Resource(call.getOperand(argument.getArgNumber())))
        return success();
      calls.push_back(call);
    }
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
  /// One converted copy per f32 resource, however many ops use it.
  llvm::DenseMap<Attribute, Attribute> converted;
};

} // namespace
