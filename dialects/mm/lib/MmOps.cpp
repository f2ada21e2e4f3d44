//===- MmOps.cpp - verifiers of the `mm` operations -----------------------===//
//
// Widths and sequence lengths must agree between the encoder features, the
// compression window, the adapter layers and the model width; dynamic sizes
// match anything.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Dialect/Mm/MmDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

using namespace mlir;
using namespace modrwkv::mm;

#define GET_OP_CLASSES
#include "modrwkv/Dialect/Mm/MmOps.cpp.inc"

int64_t modrwkv::mm::windowOutputLength(int64_t n, int64_t kernel,
                                        int64_t stride, int64_t padding) {
  if (ShapedType::isDynamic(n))
    return n;
  int64_t span = n + 2 * padding - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

namespace {
int64_t dimOf(Value v, unsigned d);
} // namespace

std::optional<int64_t> modrwkv::mm::productFlops(Operation *op) {
  int64_t macs = 0;
  SmallVector<int64_t> sizes;
  if (auto compress = dyn_cast<CompressOp>(op)) {
    Value w = compress.getWeight();
    if (!w)
      return 0; // stacking moves data only
    auto shape = cast<ShapedType>(w.getType()).getShape();
    int64_t rows = dimOf(compress.getResult(), 0);
    if (ShapedType::isDynamic(rows))
      return std::nullopt;
    macs = rows * shape[0] * shape[1] * shape[2];
  } else if (auto adapter = dyn_cast<AdapterOp>(op)) {
    int64_t rows = dimOf(adapter.getResult(), 0);
    if (ShapedType::isDynamic(rows))
      return std::nullopt;
    auto w1 = cast<ShapedType>(adapter.getW1().getType());
    int64_t perRow = w1.getNumElements();
    if (Value conv = adapter.getConv())
      perRow += cast<ShapedType>(conv.getType()).getNumElements();
    perRow += cast<ShapedType>(adapter.getW2().getType()).getNumElements();
    macs = rows * perRow;
  }
  return 2 * macs;
}

namespace {
int64_t dimOf(Value v, unsigned d) {
  return cast<ShapedType>(v.getType()).getDimSize(d);
}

/// Reports the first size that disagrees (dynamic sizes agree with any).
class Sizes {
public:
  explicit Sizes(Operation *op) : op(op) {}
  Sizes &same(int64_t actual, int64_t expected, const Twine &what) {
    if (succeeded(result) && !ShapedType::isDynamic(actual) &&
        !ShapedType::isDynamic(expected) && actual != expected)
      result = op->emitOpError()
               << what << " is " << actual << ", expected " << expected;
    return *this;
  }
  Sizes &check(bool ok, const Twine &message) {
    if (succeeded(result) && !ok)
      result = op->emitOpError() << message;
    return *this;
  }
  LogicalResult done() const { return result; }

private:
  Operation *op;
  LogicalResult result = success();
};

/// The window's output length, checked to be at least one token.
int64_t window(Sizes &sizes, int64_t n, int64_t kernel, int64_t stride,
               int64_t padding) {
  int64_t out = windowOutputLength(n, kernel, stride, padding);
  sizes.check(ShapedType::isDynamic(out) || out >= 1,
              "sequence of " + Twine(n) +
                  " tokens is shorter than the window "
                  "(kernel " +
                  Twine(kernel) + ", padding " + Twine(padding) + ")");
  return out;
}
} // namespace

LogicalResult EncoderCallOp::verifySymbolUses(SymbolTableCollection &table) {
  auto callee = table.lookupNearestSymbolFrom<FunctionOpInterface>(
      *this, getCalleeAttr());
  if (!callee)
    return emitOpError("no function @") << getCallee();
  auto type = dyn_cast<FunctionType>(callee.getFunctionType());
  if (!type || TypeRange(type.getInputs()) != getInputs().getTypes() ||
      TypeRange(type.getResults()) != getResults().getTypes())
    return emitOpError("types do not match those of @")
           << getCallee() << " (" << callee.getFunctionType() << ")";
  return success();
}

LogicalResult CompressOp::verify() {
  Sizes sizes(*this);
  int64_t n = dimOf(getX(), 0), d = dimOf(getX(), 1);
  int64_t k = getKernel(), s = getStride(), p = getPadding();
  if (Value w = getWeight()) {
    sizes.same(dimOf(w, 1), d, "conv weight input width")
        .same(dimOf(w, 2), k, "conv weight kernel size");
    int64_t out = window(sizes, n, k, s, p);
    return sizes.same(dimOf(getResult(), 0), out, "result length")
        .same(dimOf(getResult(), 1), dimOf(w, 0), "result width")
        .done();
  }
  sizes.check(s == k && p == 0,
              "frame stacking needs stride == kernel and padding 0");
  int64_t out = ShapedType::isDynamic(n) ? n : n / k;
  sizes.check(ShapedType::isDynamic(out) || out >= 1,
              "sequence of " + Twine(n) + " frames is shorter than the stack");
  int64_t width = ShapedType::isDynamic(d) ? d : d * k;
  return sizes.same(dimOf(getResult(), 0), out, "result length")
      .same(dimOf(getResult(), 1), width, "result width")
      .done();
}

LogicalResult AdapterOp::verify() {
  Sizes sizes(*this);
  auto w1 = cast<RankedTensorType>(getW1().getType());
  int64_t n = dimOf(getX(), 0), d = dimOf(getX(), 1);
  int64_t hidden = w1.getDimSize(0), width = dimOf(getW2(), 0);
  int64_t s = getStride(), p = getPadding();
  sizes.check(w1.getRank() == 2 || w1.getRank() == 3,
              "w1 must be [hidden, in] or [hidden, in, kernel]");
  int64_t out = n;
  if (w1.getRank() == 3) {
    sizes.check(!getConv(), "a conv operand needs a 2-D w1")
        .same(w1.getDimSize(1), d, "w1 input width");
    out = window(sizes, n, w1.getDimSize(2), s, p);
  } else if (Value conv = getConv()) {
    sizes.same(dimOf(conv, 1), d, "conv input width")
        .same(w1.getDimSize(1), dimOf(conv, 0), "w1 input width");
    out = window(sizes, n, dimOf(conv, 2), s, p);
  } else {
    sizes.same(w1.getDimSize(1), d, "w1 input width")
        .check(s == 1 && p == 0, "a plain first layer needs stride 1 and "
                                 "padding 0");
  }
  sizes.same(dimOf(getB1(), 0), hidden, "b1 size")
      .same(dimOf(getW2(), 1), hidden, "w2 input width")
      .same(dimOf(getB2(), 0), width, "b2 size")
      .check(!getNormWeight() == !getNormBias(),
             "norm needs both weight and bias");
  if (getNormWeight())
    sizes.same(dimOf(getNormWeight(), 0), width, "norm weight size")
        .same(dimOf(getNormBias(), 0), width, "norm bias size");
  return sizes.same(dimOf(getResult(), 0), out, "result length")
      .same(dimOf(getResult(), 1), width, "result width")
      .done();
}

LogicalResult SpliceOp::verify() {
  int64_t width = dimOf(getTable(), 1);
  return Sizes(*this)
      .same(dimOf(getFeatures(), 1), width, "feature width")
      .same(dimOf(getResult(), 0), dimOf(getTokens(), 0), "result length")
      .same(dimOf(getResult(), 1), width, "result width")
      .done();
}
