//===- RwkvOps.cpp - verifiers of the `rwkv` operations -------------------===//
//
// Verifiers check what the types alone cannot: that widths agree, that the
// channel count is heads x 64, and that states are [H, 64, 64] (or, batched,
// [T, H, 64, 64] with [T, C] carries). Dynamic dimensions (the token count
// T) match anything.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace modrwkv::rwkv;

#define GET_OP_CLASSES
#include "modrwkv/Dialect/Rwkv/RwkvOps.cpp.inc"

namespace {
/// Collects shape facts for one op and reports the first mismatch.
class ShapeChecker {
public:
  explicit ShapeChecker(Operation *op) : op(op) {}

  /// Checks that dimension `dim` of `value` equals `expected` (either may be
  /// dynamic, in which case anything matches).
  ShapeChecker &dim(Value value, unsigned dim, int64_t expected,
                    StringRef what) {
    if (failed(result))
      return *this;
    int64_t actual = cast<ShapedType>(value.getType()).getDimSize(dim);
    if (ShapedType::isDynamic(actual) || ShapedType::isDynamic(expected) ||
        actual == expected)
      return *this;
    result = op->emitOpError()
             << what << " has size " << actual << " in dimension " << dim
             << ", expected " << expected;
    return *this;
  }

  /// Checks that `value` is a [C] vector.
  ShapeChecker &vec(Value value, int64_t c, StringRef what) {
    return dim(value, 0, c, what);
  }

  /// Checks that `value` is an [out, in] matrix.
  ShapeChecker &mat(Value value, int64_t out, int64_t in, StringRef what) {
    return dim(value, 0, out, what).dim(value, 1, in, what);
  }

  /// Checks that `value` is a [T, C] activation.
  ShapeChecker &act(Value value, int64_t t, int64_t c, StringRef what) {
    return dim(value, 0, t, what).dim(value, 1, c, what);
  }

  /// Checks that `value` is a [C] carry, or [T, C] when `batched`.
  ShapeChecker &carry(Value value, bool batched, int64_t t, int64_t c,
                      StringRef what) {
    if (failed(result))
      return *this;
    if (batched != (cast<ShapedType>(value.getType()).getRank() == 2)) {
      result = op->emitOpError()
               << what << " must be " << (batched ? "[T, C]" : "[C]")
               << ": carried values are per sequence (batched) or not at all";
      return *this;
    }
    return batched ? act(value, t, c, what) : vec(value, c, what);
  }

  /// Checks that `value` is an [H, 64, 64] state for `c` channels, or
  /// [T, H, 64, 64] when `batched`.
  ShapeChecker &state(Value value, bool batched, int64_t t, int64_t c,
                      StringRef what) {
    if (failed(result))
      return *this;
    auto type = cast<ShapedType>(value.getType());
    if (batched != (type.getRank() == 4)) {
      result = op->emitOpError()
               << what << " must be " << (batched ? "[T, H, " : "[H, ")
               << kHeadSize << ", " << kHeadSize
               << "]: carried values are per sequence (batched) or not at all";
      return *this;
    }
    if (!ShapedType::isDynamic(c) && c % kHeadSize != 0) {
      result = op->emitOpError()
               << "channel count " << c
               << " is not a multiple of the head size " << kHeadSize;
      return *this;
    }
    unsigned h = batched ? 1 : 0;
    int64_t heads = ShapedType::isDynamic(c) ? c : c / kHeadSize;
    if (type.getDimSize(h + 1) != kHeadSize ||
        type.getDimSize(h + 2) != kHeadSize) {
      result = op->emitOpError()
               << what << " must be " << (batched ? "[T, H, " : "[H, ")
               << kHeadSize << ", " << kHeadSize << "], got " << type;
      return *this;
    }
    if (batched)
      dim(value, 0, t, what);
    return dim(value, h, heads, what);
  }

  LogicalResult done() const { return result; }

private:
  Operation *op;
  LogicalResult result = success();
};

int64_t rows(Value v) { return cast<ShapedType>(v.getType()).getDimSize(0); }

int64_t cols(Value v) { return cast<ShapedType>(v.getType()).getDimSize(1); }
} // namespace

//===----------------------------------------------------------------------===//
// Bone adapters
//===----------------------------------------------------------------------===//

/// The weight operand a block op's projection name refers to.
static OpOperand *projection(Operation *op, StringRef name) {
  if (auto tm = dyn_cast<TimeMixOp>(op)) {
    if (name == "receptance")
      return &tm.getReceptanceMutable();
    if (name == "key")
      return &tm.getKeyMutable();
    if (name == "value")
      return &tm.getValueMutable();
    if (name == "output")
      return &tm.getOutputMutable();
  }
  if (auto cm = dyn_cast<ChannelMixOp>(op)) {
    if (name == "key")
      return &cm.getKeyMutable();
    if (name == "value")
      return &cm.getValueMutable();
  }
  return nullptr;
}

template <typename BlockOp>
static SmallVector<AdapterSlot> blockSlots(BlockOp op) {
  SmallVector<AdapterSlot> slots;
  ArrayAttr targets = op.getAdapterTargetsAttr(),
            variants = op.getAdapterVariantsAttr();
  for (auto [i, adapter] : llvm::enumerate(op.getAdapters())) {
    StringRef target = cast<StringAttr>(targets[i]).getValue();
    slots.push_back({projection(op, target), adapter,
                     cast<StringAttr>(variants[i]).getValue(), target});
  }
  return slots;
}

SmallVector<AdapterSlot> modrwkv::rwkv::getAdapterSlots(Operation *op) {
  if (auto linear = dyn_cast<LinearOp>(op)) {
    if (!linear.getAdapter())
      return {};
    return {{&linear.getWeightMutable(), linear.getAdapter(),
             *linear.getAdapterVariant(), "linear"}};
  }
  if (auto tm = dyn_cast<TimeMixOp>(op))
    return blockSlots(tm);
  if (auto cm = dyn_cast<ChannelMixOp>(op))
    return blockSlots(cm);
  return {};
}

void modrwkv::rwkv::dropAdapters(Operation *op) {
  if (auto linear = dyn_cast<LinearOp>(op)) {
    linear.getAdapterMutable().clear();
    linear.removeAdapterVariantAttr();
    return;
  }
  auto clear = [](auto block) {
    block.getAdaptersMutable().clear();
    block.removeAdapterTargetsAttr();
    block.removeAdapterVariantsAttr();
  };
  if (auto tm = dyn_cast<TimeMixOp>(op))
    clear(tm);
  else if (auto cm = dyn_cast<ChannelMixOp>(op))
    clear(cm);
}

/// Checks an adapter's shape against the [N, K] weight it modifies.
static LogicalResult verifyAdapter(Operation *op, Value weight, Value adapter,
                                   StringRef variant, StringRef what) {
  auto w = cast<ShapedType>(weight.getType());
  auto a = cast<ShapedType>(adapter.getType());
  if (!w.getElementType().isF32())
    return op->emitOpError() << what << " has an adapter (" << variant
                             << "), so it must be f32, not " << w;
  int64_t n = w.getDimSize(0), k = w.getDimSize(1);
  auto fail = [&]() {
    return op->emitOpError() << what << " adapter (" << variant << ") has type "
                             << a << ", which does not fit the weight " << w;
  };
  if (variant == "bone") {
    if (a.getRank() != 2 || a.getDimSize(1) != n || a.getDimSize(0) <= 0)
      return fail();
    return success();
  }
  if (a.getRank() != 3 || a.getDimSize(1) != a.getDimSize(2))
    return fail();
  int64_t r = a.getDimSize(1);
  if (r <= 0 || n % r != 0 || k % r != 0)
    return op->emitOpError()
           << what << " adapter (" << variant << "): weight " << w
           << " is not divisible into " << r << " x " << r << " blocks";
  int64_t blocks = variant == "bat_in" ? k / r : n / r;
  if (a.getDimSize(0) != blocks)
    return fail();
  return success();
}

/// Adapters of block ops: matching targets/variants lists, known targets,
/// each at most once, shapes that fit.
template <typename BlockOp>
static LogicalResult verifyBlockAdapters(BlockOp op) {
  ArrayAttr targets = op.getAdapterTargetsAttr(),
            variants = op.getAdapterVariantsAttr();
  size_t n = op.getAdapters().size();
  if ((targets ? targets.size() : 0) != n ||
      (variants ? variants.size() : 0) != n)
    return op.emitOpError("needs one adapter_targets and one adapter_variants "
                          "entry per adapter");
  llvm::StringSet<> seen;
  for (auto [i, adapter] : llvm::enumerate(op.getAdapters())) {
    StringRef target = cast<StringAttr>(targets[i]).getValue();
    StringRef variant = cast<StringAttr>(variants[i]).getValue();
    OpOperand *weight = projection(op, target);
    if (!weight)
      return op.emitOpError("unknown adapter target '") << target << "'";
    if (!seen.insert(target).second)
      return op.emitOpError("two adapters for '") << target << "'";
    if (variant != "bone" && variant != "bat_in" && variant != "bat_out")
      return op.emitOpError("unknown adapter variant '") << variant << "'";
    if (failed(verifyAdapter(op, weight->get(), adapter, variant, target)))
      return failure();
  }
  return success();
}

LogicalResult EmbeddingOp::verify() {
  return ShapeChecker(*this)
      .act(getResult(), rows(getTokens()), cols(getTable()), "result")
      .done();
}

LogicalResult LayerNormOp::verify() {
  int64_t c = cols(getX());
  return ShapeChecker(*this)
      .vec(getGamma(), c, "gamma")
      .vec(getBeta(), c, "beta")
      .act(getResult(), rows(getX()), c, "result")
      .done();
}

LogicalResult GroupNormOp::verify() {
  int64_t c = cols(getX());
  if (!ShapedType::isDynamic(c) && c % getGroups() != 0)
    return emitOpError() << "channel count " << c
                         << " is not divisible by groups = " << getGroups();
  return ShapeChecker(*this)
      .vec(getGamma(), c, "gamma")
      .vec(getBeta(), c, "beta")
      .act(getResult(), rows(getX()), c, "result")
      .done();
}

LogicalResult TokenShiftOp::verify() {
  int64_t t = rows(getX()), c = cols(getX());
  bool batched = isBatched(getPrev());
  return ShapeChecker(*this)
      .carry(getPrev(), batched, t, c, "prev")
      .act(getShifted(), t, c, "shifted")
      .carry(getLast(), batched, t, c, "last")
      .done();
}

LogicalResult LerpOp::verify() {
  int64_t t = rows(getX()), c = cols(getX());
  return ShapeChecker(*this)
      .act(getShifted(), t, c, "shifted")
      .vec(getMu(), c, "mu")
      .act(getResult(), t, c, "result")
      .done();
}

LogicalResult LinearOp::verify() {
  if (bool(getAdapter()) != bool(getAdapterVariant()))
    return emitOpError("an adapter needs an adapter_variant and vice versa");
  if (getAdapter() && failed(verifyAdapter(*this, getWeight(), getAdapter(),
                                           *getAdapterVariant(), "weight")))
    return failure();
  return ShapeChecker(*this)
      .dim(getWeight(), 1, cols(getX()), "weight")
      .act(getResult(), rows(getX()), rows(getWeight()), "result")
      .done();
}

LogicalResult QuantizedLinearOp::verify() {
  return ShapeChecker(*this)
      .dim(getWeight(), 1, cols(getX()), "weight")
      .vec(getScale(), rows(getWeight()), "scale")
      .act(getResult(), rows(getX()), rows(getWeight()), "result")
      .done();
}

LogicalResult Wkv7Op::verify() {
  int64_t t = rows(getR()), c = cols(getR());
  ShapeChecker check(*this);
  Value acts[] = {getW(), getK(), getV(), getA(), getB(), getY()};
  StringRef names[] = {"w", "k", "v", "a", "b", "y"};
  for (auto [value, name] : llvm::zip(acts, names))
    check.act(value, t, c, name);
  bool batched = isBatched(getState());
  return check.state(getState(), batched, t, c, "state")
      .state(getStateOut(), batched, t, c, "state_out")
      .done();
}

LogicalResult TimeMixOp::verify() {
  int64_t t = rows(getX()), c = cols(getX());
  ShapeChecker check(*this);
  bool batched = isBatched(getShift());
  check.carry(getShift(), batched, t, c, "shift")
      .state(getState(), batched, t, c, "state");
  Value vectors[] = {getXR(), getXW(),        getXK(),     getXV(), getXA(),
                     getXG(), getW0(),        getA0(),     getKK(), getKA(),
                     getRK(), getLnXWeight(), getLnXBias()};
  StringRef vectorNames[] = {"x_r", "x_w",         "x_k",      "x_v", "x_a",
                             "x_g", "w0",          "a0",       "k_k", "k_a",
                             "r_k", "ln_x_weight", "ln_x_bias"};
  for (auto [value, name] : llvm::zip(vectors, vectorNames))
    check.vec(value, c, name);
  Value projections[] = {getReceptance(), getKey(), getValue(), getOutput()};
  StringRef projectionNames[] = {"receptance", "key", "value", "output"};
  for (auto [value, name] : llvm::zip(projections, projectionNames))
    check.mat(value, c, c, name);
  // LoRA pairs: down [rank, C] then up [C, rank].
  check.mat(getW1(), rows(getW1()), c, "w1")
      .mat(getW2(), c, rows(getW1()), "w2");
  check.mat(getA1(), rows(getA1()), c, "a1")
      .mat(getA2(), c, rows(getA1()), "a2");
  check.mat(getG1(), rows(getG1()), c, "g1")
      .mat(getG2(), c, rows(getG1()), "g2");
  check.act(getResult(), t, c, "result")
      .carry(getShiftOut(), batched, t, c, "shift_out")
      .state(getStateOut(), batched, t, c, "state_out")
      .act(getVFirstOut(), t, c, "v_first_out");
  if (failed(check.done()) || failed(verifyBlockAdapters(*this)))
    return failure();

  ValueRange residual = getVResidual();
  if (!getVFirst()) {
    if (!residual.empty())
      return emitOpError("v_residual needs a v_first operand");
    return success();
  }
  if (residual.size() != 3)
    return emitOpError("with v_first, v_residual must be (v0, v1, v2), got ")
           << residual.size() << " operands";
  int64_t ranks[] = {1, 2, 2};
  for (auto [value, rank] : llvm::zip(residual, ranks))
    if (cast<ShapedType>(value.getType()).getRank() != rank)
      return emitOpError("v_residual must be (v0: [C], v1: [rank, C], "
                         "v2: [C, rank])");
  return check.act(getVFirst(), t, c, "v_first")
      .vec(residual[0], c, "v0")
      .mat(residual[1], rows(residual[1]), c, "v1")
      .mat(residual[2], c, rows(residual[1]), "v2")
      .done();
}

LogicalResult ChannelMixOp::verify() {
  int64_t t = rows(getX()), c = cols(getX()), f = rows(getKey());
  if (failed(verifyBlockAdapters(*this)))
    return failure();
  bool batched = isBatched(getShift());
  return ShapeChecker(*this)
      .carry(getShift(), batched, t, c, "shift")
      .vec(getXK(), c, "x_k")
      .mat(getKey(), f, c, "key")
      .mat(getValue(), c, f, "value")
      .act(getResult(), t, c, "result")
      .carry(getShiftOut(), batched, t, c, "shift_out")
      .done();
}
