//===- ResizeOps.cpp - Resize and Upsample: nearest, linear, cubic --------===//
//
// Each output coordinate maps back to a fractional input coordinate by the
// coordinate_transformation_mode; nearest picks one neighbour by
// nearest_mode, linear blends two neighbours and cubic four (Keys' kernel,
// cubic_coeff_a, exclude_outside) along every resized axis. Neighbours past
// the edge are clamped, as ONNX's reference does.
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
  double roiStart = 0, roiEnd = 1; ///< tf_crop_and_resize only
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
  if (mode == "tf_crop_and_resize") {
    double start = axis.roiStart * (axis.in - 1);
    if (length <= 1)
      return f.constant(0.5 * (axis.roiStart + axis.roiEnd) * (axis.in - 1));
    return f.add(f.constant(start),
                 f.mul(xf, f.constant((axis.roiEnd - axis.roiStart) *
                                      (axis.in - 1) / (length - 1))));
  }
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
  if (mode != "nearest" && mode != "linear" && mode != "cubic")
    return ctx.unsupported("mode '" + mode + "'");
  double a = ctx.attrFloat("cubic_coeff_a", -0.75);
  bool excludeOutside = ctx.attrInt("exclude_outside", 0);
  bool crop = transform == "tf_crop_and_resize";
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
  if (crop) {
    auto roi = ctx.constLiteral(1);
    if (!roi)
      return failure();
    if (roi->size() != 2 * rank)
      return ctx.invalid("roi must hold 2 x rank values");
    for (int64_t d = 0; d < rank; ++d) {
      axes[d].roiStart = roi->f(d);
      axes[d].roiEnd = roi->f(d + rank);
    }
  }
  SmallVector<int64_t> resized;
  for (int64_t d = 0; d < rank; ++d)
    if (axes[d].resized())
      resized.push_back(d);
  if (mode != "nearest" && resized.size() > 3)
    return ctx.unsupported(mode + " resize of more than 3 axes");

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
    // Per resized axis: the neighbours read and their weights ("taps");
    // nearest reads one neighbour.
    SmallVector<Value> nearestAt(pos);
    SmallVector<SmallVector<std::pair<Value, Value>>> taps;
    // tf_crop_and_resize: positions outside the input take a fixed value.
    Value outside = arith::ConstantOp::create(b, loc, b.getBoolAttr(false));
    for (int64_t d : resized) {
      Value c = sourceCoordinate(b, loc, pos[d], axes[d], transform);
      if (crop)
        outside = arith::OrIOp::create(
            b, loc, outside,
            arith::OrIOp::create(
                b, loc, f.compare("lt", c, f.constant(0)),
                f.compare("gt", c, f.constant(axes[d].in - 1))));
      Value fl = math::FloorOp::create(b, loc, c);
      Value t = f.sub(c, fl);
      Value i0 = toIndex(b, loc, fl);
      auto shifted = [&](int64_t o) -> Value {
        return arith::AddIOp::create(b, loc, i0,
                                     arith::ConstantIndexOp::create(b, loc, o));
      };
      if (mode == "nearest") {
        Value up;
        if (nearest == "floor")
          up = arith::ConstantOp::create(b, loc, b.getBoolAttr(false));
        else if (nearest == "ceil")
          up = f.compare("gt", t, f.constant(0));
        else if (nearest == "round_prefer_ceil")
          up = f.compare("ge", t, f.constant(0.5));
        else
          up = f.compare("gt", t, f.constant(0.5));
        nearestAt[d] = clampIndex(
            b, loc, arith::SelectOp::create(b, loc, up, shifted(1), i0),
            axes[d].in);
        continue;
      }
      SmallVector<std::pair<Value, Value>> axisTaps;
      if (mode == "linear") {
        axisTaps = {
            {clampIndex(b, loc, i0, axes[d].in), f.sub(f.constant(1), t)},
            {clampIndex(b, loc, shifted(1), axes[d].in), t}};
      } else {
        // Keys' cubic convolution with parameter a, neighbours -1 .. 2 at
        // distances 1 + t, t, 1 - t, 2 - t.
        auto near = [&](Value x) { // |x| <= 1
          Value ca = f.constant(a);
          return f.add(f.mul(f.sub(f.mul(f.add(ca, f.constant(2)), x),
                                   f.add(ca, f.constant(3))),
                             f.mul(x, x)),
                       f.constant(1));
        };
        auto far = [&](Value x) { // 1 < |x| < 2
          Value ca = f.constant(a);
          Value p =
              f.add(f.mul(f.sub(f.mul(ca, x), f.mul(f.constant(5), ca)), x),
                    f.mul(f.constant(8), ca));
          return f.sub(f.mul(p, x), f.mul(f.constant(4), ca));
        };
        Value one = f.constant(1), two = f.constant(2);
        Value weights[] = {far(f.add(one, t)), near(t), near(f.sub(one, t)),
                           far(f.sub(two, t))};
        Value total = f.constant(0);
        for (int64_t o = -1; o <= 2; ++o) {
          Value idx = shifted(o), w = weights[o + 1];
          if (excludeOutside) {
            Value inside = arith::AndIOp::create(
                b, loc,
                arith::CmpIOp::create(
                    b, loc, arith::CmpIPredicate::sge, idx,
                    arith::ConstantIndexOp::create(b, loc, 0)),
                arith::CmpIOp::create(
                    b, loc, arith::CmpIPredicate::slt, idx,
                    arith::ConstantIndexOp::create(b, loc, axes[d].in)));
            w = arith::SelectOp::create(b, loc, inside, w, f.constant(0));
            total = f.add(total, w);
          }
          axisTaps.push_back({clampIndex(b, loc, idx, axes[d].in), w});
        }
        if (excludeOutside)
          for (auto &tap : axisTaps)
            tap.second = f.div(tap.second, total);
      }
      taps.push_back(std::move(axisTaps));
    }
    Value result;
    if (mode == "nearest") {
      result = tensor::ExtractOp::create(b, loc, input, nearestAt);
    } else {
      // Sum over every combination of taps of the product of their weights.
      int64_t combinations = 1;
      for (const auto &axisTaps : taps)
        combinations *= axisTaps.size();
      Value acc = f.constant(0);
      for (int64_t combo = 0; combo < combinations; ++combo) {
        SmallVector<Value> at(pos);
        Value w = f.constant(1);
        for (size_t k = 0, rest = combo; k < resized.size(); ++k) {
          const auto &tap = taps[k][rest % taps[k].size()];
          rest /= taps[k].size();
          at[resized[k]] = tap.first;
          w = f.mul(w, tap.second);
        }
        Value v =
            ctx.castScalar(b, loc, tensor::ExtractOp::create(b, loc, input, at),
                           dtype, kFloat);
        acc = f.add(acc, f.mul(w, v));
      }
      result = ctx.castScalar(b, loc, acc, kFloat, dtype);
    }
    if (crop)
      result =
          arith::SelectOp::create(b, loc, outside,
                                  ScalarOps{b, loc, dtype}.constant(
                                      ctx.attrFloat("extrapolation_value", 0)),
                                  result);
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
