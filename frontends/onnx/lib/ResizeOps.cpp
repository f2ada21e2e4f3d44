//===- ResizeOps.cpp - Resize (and Upsample): nearest and n-linear --------===//
//
// Each output coordinate maps back to a fractional input coordinate by the
// coordinate_transformation_mode; nearest picks one neighbour by
// nearest_mode, linear blends the two neighbours along every resized axis
// (neighbours past the edge are clamped, as ONNX's reference does).
//
//===----------------------------------------------------------------------===//

#include "Lowering.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;

namespace modrwkv::onnxfe {
namespace {

struct AxisMap {
  int64_t in, out;
  double scale;
  bool resized() const { return in != out || scale != 1.0; }
};

/// The fractional input coordinate of output index `x` (f32).
Value sourceCoordinate(OpBuilder &b, Location loc, Value x, const AxisMap &axis,
                       StringRef mode) {
  ScalarOps f{b, loc, kFloat};
  Value xf = arith::UIToFPOp::create(
      b, loc, b.getF32Type(),
      arith::IndexCastUIOp::create(b, loc, b.getI64Type(), x));
  Value scale = f.constant(axis.scale), half = f.constant(0.5);
  // ONNX uses the unrounded output length in * scale here.
  double length = axis.in * axis.scale;
  if (mode == "align_corners")
    return length == 1 ? f.constant(0)
                       : f.mul(xf, f.constant((axis.in - 1) / (length - 1)));
  if (mode == "asymmetric")
    return f.div(xf, scale);
  if (mode == "tf_half_pixel_for_nn")
    return f.div(f.add(xf, half), scale);
  if (mode == "pytorch_half_pixel" && length <= 1)
    return f.constant(0);
  return f.sub(f.div(f.add(xf, half), scale), half); // half_pixel
}

Value clampIndex(OpBuilder &b, Location loc, Value i, int64_t size) {
  Value lo = arith::ConstantIndexOp::create(b, loc, 0);
  Value hi = arith::ConstantIndexOp::create(b, loc, size - 1);
  return arith::MinSIOp::create(b, loc, arith::MaxSIOp::create(b, loc, i, lo),
                                hi);
}

Value toIndex(OpBuilder &b, Location loc, Value f) {
  return arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      arith::FPToSIOp::create(b, loc, b.getI64Type(), f));
}

LogicalResult lowerResize(OpContext &ctx) {
  TV &x = ctx.in(0);
  if (!isFloatType(x.dtype))
    return ctx.unsupported("element type " + dtypeName(x.dtype));
  std::string mode = ctx.attrString("mode", "nearest");
  std::string transform =
      ctx.opset < 11
          ? "asymmetric"
          : ctx.attrString("coordinate_transformation_mode", "half_pixel");
  // Upsample and Resize-10 take the floor.
  std::string nearest =
      ctx.opset < 11 ? "floor"
                     : ctx.attrString("nearest_mode", "round_prefer_floor");
  if (mode != "nearest" && mode != "linear")
    return ctx.unsupported("mode '" + mode + "'");
  if (transform == "tf_crop_and_resize")
    return ctx.unsupported("coordinate_transformation_mode '" + transform +
                           "'");
  if (ctx.hasAttr("axes"))
    return ctx.unsupported("the axes attribute");
  // Scales: input 1 (opset 10, Upsample) or 2; sizes: input 3.
  size_t scalesInput = ctx.opset < 11 ? 1 : 2;
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (ctx.has(3) && ctx.in(3).numElements() > 0) {
    auto s = ctx.constInts(3);
    if (!s)
      return failure();
    sizes = *s;
  } else if (ctx.has(scalesInput)) {
    auto s = ctx.constLiteral(scalesInput);
    if (!s)
      return failure();
    for (int64_t k = 0; k < s->size(); ++k)
      scales.push_back(s->f(k));
  }
  int64_t rank = x.rank();
  if ((sizes.empty() && int64_t(scales.size()) != rank) ||
      (!sizes.empty() && int64_t(sizes.size()) != rank))
    return ctx.invalid("needs one scale or size per dim");
  SmallVector<AxisMap> axes;
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    AxisMap a;
    a.in = x.shape[d];
    if (!sizes.empty()) {
      a.out = sizes[d];
      a.scale = a.in ? double(a.out) / a.in : 1.0;
    } else {
      a.scale = scales[d];
      a.out = int64_t(std::floor(a.in * a.scale));
    }
    if (a.out < 0 || a.scale <= 0)
      return ctx.invalid("non-positive scale or size");
    axes.push_back(a);
    shape.push_back(a.out);
  }
  SmallVector<int64_t> resized;
  for (int64_t d = 0; d < rank; ++d)
    if (axes[d].resized())
      resized.push_back(d);
  if (mode == "linear" && resized.size() > 3)
    return ctx.unsupported("linear resize of more than 3 axes");

  int32_t dtype = x.dtype;
  Value input = ctx.val(0);
  Value init = ctx.empty(shape, dtype);
  SmallVector<AffineMap> maps = {ctx.b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto body = [&](OpBuilder &b, Location loc, ValueRange) {
    ScalarOps f{b, loc, kFloat};
    SmallVector<Value> pos;
    for (int64_t d = 0; d < rank; ++d)
      pos.push_back(linalg::IndexOp::create(b, loc, d));
    // Per resized axis: the lower neighbour, the upper one, the weight of
    // the upper one.
    SmallVector<Value> lower(pos), upper(pos), weight(rank);
    for (int64_t d : resized) {
      Value c = sourceCoordinate(b, loc, pos[d], axes[d], transform);
      Value fl = math::FloorOp::create(b, loc, c);
      Value ratio = f.sub(c, fl);
      Value i0 = toIndex(b, loc, fl);
      Value i1 = arith::AddIOp::create(
          b, loc, i0, arith::ConstantIndexOp::create(b, loc, 1));
      if (mode == "nearest") {
        Value up;
        if (nearest == "floor")
          up = arith::ConstantOp::create(b, loc, b.getBoolAttr(false));
        else if (nearest == "ceil")
          up = f.compare("gt", ratio, f.constant(0));
        else if (nearest == "round_prefer_ceil")
          up = f.compare("ge", ratio, f.constant(0.5));
        else
          up = f.compare("gt", ratio, f.constant(0.5));
        lower[d] = clampIndex(
            b, loc, arith::SelectOp::create(b, loc, up, i1, i0), axes[d].in);
        continue;
      }
      lower[d] = clampIndex(b, loc, i0, axes[d].in);
      upper[d] = clampIndex(b, loc, i1, axes[d].in);
      weight[d] = ratio;
    }
    Value result;
    if (mode == "nearest") {
      result = tensor::ExtractOp::create(b, loc, input, lower);
    } else {
      // Sum over the 2^k corners of the product of the 1-D weights.
      Value acc = f.constant(0);
      for (unsigned corner = 0; corner < (1u << resized.size()); ++corner) {
        SmallVector<Value> at(pos);
        Value w = f.constant(1);
        for (size_t k = 0; k < resized.size(); ++k) {
          int64_t d = resized[k];
          bool hi = corner >> k & 1;
          at[d] = hi ? upper[d] : lower[d];
          w = f.mul(w, hi ? weight[d] : f.sub(f.constant(1), weight[d]));
        }
        Value v =
            ctx.castScalar(b, loc, tensor::ExtractOp::create(b, loc, input, at),
                           dtype, kFloat);
        acc = f.add(acc, f.mul(w, v));
      }
      result = ctx.castScalar(b, loc, acc, kFloat, dtype);
    }
    linalg::YieldOp::create(b, loc, result);
  };
  Value out =
      linalg::GenericOp::create(ctx.b, ctx.loc, init.getType(), ValueRange{},
                                init, maps, iterators, body)
          .getResult(0);
  ctx.set(0, out, dtype);
  return success();
}

} // namespace

void addResizeLowerings(LoweringTable &t) {
  t["Resize"] = lowerResize;
  t["Upsample"] = lowerResize;
}

} // namespace modrwkv::onnxfe
