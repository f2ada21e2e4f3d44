//===- RwkvOps.cpp - verifiers of the `rwkv` operations -------------------===//
//
// Verifiers check what the types alone cannot: that widths agree, that the
// channel count is heads x 64, and that states are [H, 64, 64]. Dynamic
// dimensions (the token count T) match anything.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

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

  /// Checks that `value` is an [H, 64, 64] state for `c` channels.
  ShapeChecker &state(Value value, int64_t c, StringRef what) {
    if (failed(result))
      return *this;
    auto type = cast<ShapedType>(value.getType());
    if (!ShapedType::isDynamic(c) && c % kHeadSize != 0) {
      result = op->emitOpError()
               << "channel count " << c
               << " is not a multiple of the head size " << kHeadSize;
      return *this;
    }
    int64_t heads = ShapedType::isDynamic(c) ? c : c / kHeadSize;
    if (type.getDimSize(1) != kHeadSize || type.getDimSize(2) != kHeadSize) {
      result = op->emitOpError() << what << " must be [H, " << kHeadSize << ", "
                                 << kHeadSize << "], got " << type;
      return *this;
    }
    return dim(value, 0, heads, what);
  }

  LogicalResult done() const { return result; }

private:
  Operation *op;
  LogicalResult result = success();
};

int64_t rows(Value v) { return cast<ShapedType>(v.getType()).getDimSize(0); }
int64_t cols(Value v) { return cast<ShapedType>(v.getType()).getDimSize(1); }
} // namespace

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
  int64_t c = cols(getX());
  return ShapeChecker(*this)
      .vec(getPrev(), c, "prev")
      .act(getShifted(), rows(getX()), c, "shifted")
      .vec(getLast(), c, "last")
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
  return ShapeChecker(*this)
      .dim(getWeight(), 1, cols(getX()), "weight")
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
  return check.state(getState(), c, "state")
      .state(getStateOut(), c, "state_out")
      .done();
}

LogicalResult TimeMixOp::verify() {
  int64_t t = rows(getX()), c = cols(getX());
  ShapeChecker check(*this);
  check.vec(getShift(), c, "shift").state(getState(), c, "state");
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
      .vec(getShiftOut(), c, "shift_out")
      .state(getStateOut(), c, "state_out")
      .act(getVFirstOut(), t, c, "v_first_out");
  if (failed(check.done()))
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
  return ShapeChecker(*this)
      .vec(getShift(), c, "shift")
      .vec(getXK(), c, "x_k")
      .mat(getKey(), f, c, "key")
      .mat(getValue(), c, f, "value")
      .act(getResult(), t, c, "result")
      .vec(getShiftOut(), c, "shift_out")
      .done();
}
