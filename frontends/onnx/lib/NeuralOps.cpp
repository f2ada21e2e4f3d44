//===- NeuralOps.cpp - products, convolutions, reductions, normalizations -===//

#include "Lowering.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;

namespace modrwkv::onnxfe {
namespace {

SmallVector<utils::IteratorType> iterators(int64_t parallel,
                                           int64_t reduction) {
  SmallVector<utils::IteratorType> it(parallel, utils::IteratorType::parallel);
  it.append(reduction, utils::IteratorType::reduction);
  return it;
}

/// acc += x * y over the loops of `maps` (the last map is the accumulator).
Value contraction(OpContext &ctx, ValueRange operands, Value init,
                  ArrayRef<AffineMap> maps, int64_t parallel, int64_t reduction,
                  int32_t dtype) {
  return linalg::GenericOp::create(
             ctx.b, ctx.loc, init.getType(), operands, init, maps,
             iterators(parallel, reduction),
             [&](OpBuilder &b, Location loc, ValueRange a) {
               ScalarOps s{b, loc, dtype};
               linalg::YieldOp::create(b, loc, s.add(a[2], s.mul(a[0], a[1])));
             })
      .getResult(0);
}

/// Whether `w` is an f32 weight (an initializer): products by it take the
/// form y[t, n] = sum_k x[t, k] * wT[n, k] that the CPU and GPU kernel
/// passes (and cuBLAS) recognize.
bool isWeight(const TV &w) {
  return w.initializer && !w.known && w.dtype == kFloat;
}

/// y [rows, N] = x [rows, K] times wT [N, K] transposed, in f32.
Value productByRows(OpContext &ctx, Value x, Value wT) {
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t rows = xType.getDimSize(0);
  int64_t N = cast<RankedTensorType>(wT.getType()).getDimSize(0);
  MLIRContext *mctx = ctx.b.getContext();
  auto t = getAffineDimExpr(0, mctx), n = getAffineDimExpr(1, mctx),
       k = getAffineDimExpr(2, mctx);
  AffineMap maps[] = {AffineMap::get(3, 0, {t, k}, mctx),
                      AffineMap::get(3, 0, {n, k}, mctx),
                      AffineMap::get(3, 0, {t, n}, mctx)};
  return contraction(ctx, {x, wT},
                     ctx.fill({rows, N}, kFloat, ctx.scalar(kFloat, 0)), maps,
                     2, 1, kFloat);
}

/// x [..., K] times the weight matrix w [K, N] (or wT [N, K] already, with
/// `transposed`; w is stored transposed otherwise): the leading dims of x
/// become the product's rows.
Value weightProduct(OpContext &ctx, Value x, ArrayRef<int64_t> xShape, TV &w,
                    bool transposed) {
  int64_t K = xShape.back(), rows = product(xShape, 0, xShape.size() - 1);
  return productByRows(ctx, ctx.reshape(x, {rows, K}),
                       transposed ? ctx.val(w) : ctx.transposedWeight(w));
}

LogicalResult lowerMatMul(OpContext &ctx) {
  TV &a = ctx.in(0), &bm = ctx.in(1);
  if (a.dtype != bm.dtype)
    return ctx.invalid("operand types differ");
  if (a.rank() == 0 || bm.rank() == 0)
    return ctx.invalid("operands must have rank >= 1");
  int32_t dtype = a.dtype;
  if (isWeight(bm) && bm.rank() == 2) {
    if (a.shape.back() != bm.shape[0])
      return ctx.invalid(
          "inner dimensions differ: " + std::to_string(a.shape.back()) +
          " and " + std::to_string(bm.shape[0]));
    SmallVector<int64_t> shape(a.shape.begin(), a.shape.end() - 1);
    shape.push_back(bm.shape[1]);
    ctx.set(
        0,
        ctx.reshape(weightProduct(ctx, ctx.val(0), a.shape, bm, false), shape),
        dtype);
    return success();
  }
  // 1-D operands are promoted to matrices and the extra dim dropped again.
  Value av = ctx.val(0), bv = ctx.val(1);
  SmallVector<int64_t> as = a.shape, bs = bm.shape;
  if (a.rank() == 1) {
    as.insert(as.begin(), 1);
    av = ctx.reshape(av, as);
  }
  if (bm.rank() == 1) {
    bs.push_back(1);
    bv = ctx.reshape(bv, bs);
  }
  int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  if (bs[bs.size() - 2] != K)
    return ctx.invalid("inner dimensions differ: " + std::to_string(K) +
                       " and " + std::to_string(bs[bs.size() - 2]));
  ArrayRef<int64_t> aBatch = ArrayRef<int64_t>(as).drop_back(2),
                    bBatch = ArrayRef<int64_t>(bs).drop_back(2);
  auto batch = broadcastShapes(aBatch, bBatch);
  if (!batch)
    return ctx.invalid("batch dimensions do not broadcast");
  int64_t nb = batch->size(), loops = nb + 3;
  MLIRContext *mctx = ctx.b.getContext();
  auto dim = [&](int64_t d) { return getAffineDimExpr(d, mctx); };
  auto batchExprs = [&](ArrayRef<int64_t> own) {
    SmallVector<AffineExpr> e;
    for (size_t j = 0; j < own.size(); ++j) {
      int64_t d = nb - own.size() + j;
      e.push_back(own[j] == 1 && (*batch)[d] != 1
                      ? getAffineConstantExpr(0, mctx)
                      : dim(d));
    }
    return e;
  };
  SmallVector<AffineExpr> ae = batchExprs(aBatch), be = batchExprs(bBatch), oe;
  for (int64_t d = 0; d < nb; ++d)
    oe.push_back(dim(d));
  ae.append({dim(nb), dim(nb + 2)});
  oe.append({dim(nb), dim(nb + 1)});
  // Products of two f32 activations with the same batch dims (attention's
  // q k^T and a v) read b transposed, [batch..., N, K]: a product per batch
  // element in the form the kernel passes take (rwkv-split-batched-products).
  if (dtype == kFloat && a.rank() >= 2 && bm.rank() >= 2 && aBatch == bBatch) {
    SmallVector<int64_t> tShape(bBatch.begin(), bBatch.end()), perm;
    tShape.append({N, K});
    for (int64_t d = 0; d < nb; ++d)
      perm.push_back(d);
    perm.append({nb + 1, nb});
    bv = linalg::TransposeOp::create(ctx.b, ctx.loc, bv,
                                     ctx.empty(tShape, dtype), perm)
             .getResult()[0];
    be.append({dim(nb + 1), dim(nb + 2)});
  } else {
    be.append({dim(nb + 2), dim(nb + 1)});
  }
  SmallVector<int64_t> outShape = *batch;
  outShape.append({M, N});
  Value init = ctx.fill(outShape, dtype, ctx.scalar(dtype, 0));
  AffineMap maps[] = {AffineMap::get(loops, 0, ae, mctx),
                      AffineMap::get(loops, 0, be, mctx),
                      AffineMap::get(loops, 0, oe, mctx)};
  Value out = contraction(ctx, {av, bv}, init, maps, nb + 2, 1, dtype);
  SmallVector<int64_t> shape = *batch;
  if (a.rank() > 1)
    shape.push_back(M);
  if (bm.rank() > 1)
    shape.push_back(N);
  ctx.set(0, ctx.reshape(out, shape), dtype);
  return success();
}

LogicalResult lowerGemm(OpContext &ctx) {
  TV &a = ctx.in(0), &bm = ctx.in(1);
  if (a.rank() != 2 || bm.rank() != 2)
    return ctx.invalid("A and B must be matrices");
  bool ta = ctx.attrInt("transA", 0), tb = ctx.attrInt("transB", 0);
  double alpha = ctx.attrFloat("alpha", 1), beta = ctx.attrFloat("beta", 1);
  int64_t M = a.shape[ta ? 1 : 0], K = a.shape[ta ? 0 : 1];
  int64_t N = bm.shape[tb ? 0 : 1];
  if (bm.shape[tb ? 1 : 0] != K)
    return ctx.invalid("inner dimensions differ");
  int32_t dtype = a.dtype;
  Value product;
  if (!ta && isWeight(bm) && bm.rank() == 2 && a.dtype == kFloat) {
    product = weightProduct(ctx, ctx.val(0), a.shape, bm, tb);
  } else {
    MLIRContext *mctx = ctx.b.getContext();
    auto m = getAffineDimExpr(0, mctx), n = getAffineDimExpr(1, mctx),
         k = getAffineDimExpr(2, mctx);
    AffineMap maps[] = {
        AffineMap::get(3, 0, ta ? ArrayRef{k, m} : ArrayRef{m, k}, mctx),
        AffineMap::get(3, 0, tb ? ArrayRef{n, k} : ArrayRef{k, n}, mctx),
        AffineMap::get(3, 0, {m, n}, mctx)};
    product = contraction(ctx, {ctx.val(0), ctx.val(1)},
                          ctx.fill({M, N}, dtype, ctx.scalar(dtype, 0)), maps,
                          2, 1, dtype);
  }
  SmallVector<Value> operands = {product};
  if (ctx.has(2)) {
    auto shape = broadcastShapes({M, N}, ctx.in(2).shape);
    if (!shape || (*shape)[0] != M || (*shape)[1] != N)
      return ctx.invalid("C does not broadcast to [M, N]");
    operands.push_back(ctx.val(2));
  }
  Value out = ctx.broadcastMap(
      {M, N}, dtype, operands, [&](OpBuilder &b, Location loc, ValueRange v) {
        ScalarOps s{b, loc, dtype};
        Value y = alpha == 1 ? v[0] : s.mul(s.constant(alpha), v[0]);
        if (v.size() > 1)
          y = s.add(y, beta == 1 ? v[1] : s.mul(s.constant(beta), v[1]));
        return y;
      });
  ctx.set(0, out, dtype);
  return success();
}

/// The sliding window of Conv and the pools, with auto_pad resolved.
struct Window {
  std::vector<int64_t> kernel, strides, dilations;
  std::vector<int64_t> pads; ///< the begins of every spatial dim, then ends

  int64_t padsEnd(int64_t d) const { return pads[d + kernel.size()]; }
  int64_t extent(int64_t d) const { return (kernel[d] - 1) * dilations[d] + 1; }
  /// Padded length minus the window's extent (>= 0).
  int64_t span(int64_t d, int64_t in) const {
    return in + pads[d] + padsEnd(d) - extent(d);
  }
};

/// Reads strides, dilations, pads and auto_pad for a window `kernel` over
/// the spatial dims of `shape` (N x C x spatial).
std::optional<Window> readWindow(OpContext &ctx, ArrayRef<int64_t> shape,
                                 std::vector<int64_t> kernel) {
  int64_t spatial = kernel.size();
  Window w{kernel, ctx.attrInts("strides"), ctx.attrInts("dilations"),
           ctx.attrInts("pads")};
  if (w.strides.empty())
    w.strides.assign(spatial, 1);
  if (w.dilations.empty())
    w.dilations.assign(spatial, 1);
  if (w.pads.empty())
    w.pads.assign(2 * spatial, 0);
  if (int64_t(w.strides.size()) != spatial ||
      int64_t(w.dilations.size()) != spatial ||
      int64_t(w.pads.size()) != 2 * spatial) {
    (void)ctx.invalid("strides, dilations or pads have the wrong length");
    return std::nullopt;
  }
  std::string autoPad = ctx.attrString("auto_pad", "NOTSET");
  for (int64_t d = 0; d < spatial; ++d) {
    int64_t in = shape[d + 2];
    if (w.strides[d] < 1 || w.dilations[d] < 1) {
      (void)ctx.invalid("non-positive strides or dilations");
      return std::nullopt;
    }
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      int64_t out = (in + w.strides[d] - 1) / w.strides[d];
      int64_t total =
          std::max<int64_t>(0, (out - 1) * w.strides[d] + w.extent(d) - in);
      w.pads[d] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
      w.pads[d + spatial] = total - w.pads[d];
    } else if (autoPad == "VALID") {
      w.pads[d] = w.pads[d + spatial] = 0;
    } else if (autoPad != "NOTSET") {
      (void)ctx.invalid("unknown auto_pad '" + autoPad + "'");
      return std::nullopt;
    }
    if (w.pads[d] < 0 || w.padsEnd(d) < 0 || w.span(d, in) < 0) {
      (void)ctx.invalid("negative pads, or a window larger than the padded "
                        "input");
      return std::nullopt;
    }
  }
  return w;
}

/// A Conv of one group by a weight, as one product: the windows of the
/// padded x [N, C, spatial...] as rows (im2col: [N * positions, C * taps])
/// times w [M, C * taps] transposed, then [N, M, positions...] (+ bias).
Value convByWeight(OpContext &ctx, Value x, ArrayRef<int64_t> padded, TV &w,
                   const Window &window, ArrayRef<int64_t> outSpatial,
                   Value bias) {
  int64_t spatial = outSpatial.size();
  int64_t N = padded[0], C = padded[1], M = w.shape[0];
  int64_t positions = product(outSpatial), taps = product(window.kernel);
  MLIRContext *mctx = ctx.b.getContext();
  auto dim = [&](int64_t d) { return getAffineDimExpr(d, mctx); };
  auto copy = [&](Value in, ArrayRef<int64_t> shape, AffineMap map,
                  bool addBias) {
    int64_t loops = shape.size();
    SmallVector<Value> inputs = {in};
    SmallVector<AffineMap> maps = {map};
    if (addBias) {
      inputs.push_back(bias);
      maps.push_back(AffineMap::get(loops, 0, {dim(1)}, mctx));
    }
    maps.push_back(AffineMap::getMultiDimIdentityMap(loops, mctx));
    Value init = ctx.empty(shape, kFloat);
    return linalg::GenericOp::create(
               ctx.b, ctx.loc, init.getType(), inputs, init, maps,
               iterators(loops, 0),
               [&](OpBuilder &b, Location loc, ValueRange a) {
                 Value v =
                     addBias ? Value(arith::AddFOp::create(b, loc, a[0], a[1]))
                             : a[0];
                 linalg::YieldOp::create(b, loc, v);
               })
        .getResult(0);
  };
  // cols[n, o..., c, k...] = x[n, c, o * stride + k * dilation...]
  int64_t cLoop = 1 + spatial;
  SmallVector<int64_t> colsShape = {N};
  colsShape.append(outSpatial.begin(), outSpatial.end());
  colsShape.push_back(C);
  colsShape.append(window.kernel.begin(), window.kernel.end());
  SmallVector<AffineExpr> xe = {dim(0), dim(cLoop)};
  for (int64_t d = 0; d < spatial; ++d)
    xe.push_back(dim(1 + d) * window.strides[d] +
                 dim(cLoop + 1 + d) * window.dilations[d]);
  Value cols =
      copy(x, colsShape, AffineMap::get(2 + 2 * spatial, 0, xe, mctx), false);
  Value y = productByRows(ctx, ctx.reshape(cols, {N * positions, C * taps}),
                          ctx.reshape(ctx.val(w), {M, C * taps}));
  // out[n, m, o...] = y[n, o..., m] (+ bias[m])
  SmallVector<int64_t> yShape = {N}, outShape = {N, M};
  yShape.append(outSpatial.begin(), outSpatial.end());
  yShape.push_back(M);
  outShape.append(outSpatial.begin(), outSpatial.end());
  SmallVector<AffineExpr> ye = {dim(0)};
  for (int64_t d = 0; d < spatial; ++d)
    ye.push_back(dim(2 + d));
  ye.push_back(dim(1));
  return copy(ctx.reshape(y, yShape), outShape,
              AffineMap::get(2 + spatial, 0, ye, mctx), bool(bias));
}

LogicalResult lowerConv(OpContext &ctx) {
  TV &x = ctx.in(0), &w = ctx.in(1);
  int64_t spatial = x.rank() - 2;
  if (spatial < 1 || w.rank() != x.rank())
    return ctx.invalid("input and weight must have the same rank >= 3");
  if (!isFloatType(x.dtype) || x.dtype != w.dtype)
    return ctx.unsupported("element type " + dtypeName(x.dtype));
  int64_t group = ctx.attrInt("group", 1);
  int64_t N = x.shape[0], C = x.shape[1], M = w.shape[0];
  if (group < 1 || C % group || M % group || w.shape[1] != C / group)
    return ctx.invalid("channels do not match the groups");
  int64_t Cg = C / group, Mg = M / group;
  std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  if (ctx.hasAttr("kernel_shape") && ctx.attrInts("kernel_shape") != kernel)
    return ctx.invalid("kernel_shape disagrees with the weight");
  auto window = readWindow(ctx, x.shape, kernel);
  if (!window)
    return failure();
  std::vector<int64_t> &strides = window->strides,
                       &dilations = window->dilations;
  SmallVector<int64_t> padded = x.shape, outShape = {N, group, Mg};
  SmallVector<int64_t> before(x.rank(), 0);
  for (int64_t d = 0; d < spatial; ++d) {
    before[d + 2] = window->pads[d];
    padded[d + 2] = x.shape[d + 2] + window->pads[d] + window->padsEnd(d);
    outShape.push_back(window->span(d, x.shape[d + 2]) / strides[d] + 1);
  }
  int32_t dtype = x.dtype;
  if (ctx.has(2) && (ctx.in(2).rank() != 1 || ctx.in(2).shape[0] != M))
    return ctx.invalid("bias must have M elements");
  Value input = ctx.val(0);
  if (padded != x.shape) {
    input = ctx.insert(input, ctx.fill(padded, dtype, ctx.scalar(dtype, 0)),
                       before);
  }
  if (group == 1 && isWeight(w)) {
    ctx.set(0,
            convByWeight(ctx, input, padded, w, *window,
                         ArrayRef<int64_t>(outShape).drop_front(3),
                         ctx.has(2) ? ctx.val(2) : Value()),
            dtype);
    return success();
  }
  // Groups become a dim of their own: x [N, G, Cg, ...], w [G, Mg, Cg, ...].
  SmallVector<int64_t> xg = {N, group, Cg}, wg = {group, Mg, Cg};
  xg.append(padded.begin() + 2, padded.end());
  wg.append(kernel.begin(), kernel.end());
  input = ctx.reshape(input, xg);
  Value weight = ctx.reshape(ctx.val(1), wg);
  // Loops: n, g, mg, out spatial..., c, kernel spatial...
  int64_t loops = 4 + 2 * spatial;
  MLIRContext *mctx = ctx.b.getContext();
  auto dim = [&](int64_t d) { return getAffineDimExpr(d, mctx); };
  int64_t cLoop = 3 + spatial;
  SmallVector<AffineExpr> xe = {dim(0), dim(1), dim(cLoop)},
                          we = {dim(1), dim(2), dim(cLoop)},
                          oe = {dim(0), dim(1), dim(2)};
  for (int64_t d = 0; d < spatial; ++d) {
    AffineExpr o = dim(3 + d), k = dim(cLoop + 1 + d);
    xe.push_back(o * strides[d] + k * dilations[d]);
    we.push_back(k);
    oe.push_back(o);
  }
  Value init = ctx.fill(outShape, dtype, ctx.scalar(dtype, 0));
  if (ctx.has(2)) {
    SmallVector<int64_t> biasShape = {group, Mg};
    biasShape.append(spatial, 1);
    init = ctx.broadcastMap(
        outShape, dtype, {ctx.reshape(ctx.val(2), biasShape)},
        [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  }
  AffineMap maps[] = {AffineMap::get(loops, 0, xe, mctx),
                      AffineMap::get(loops, 0, we, mctx),
                      AffineMap::get(loops, 0, oe, mctx)};
  Value out = contraction(ctx, {input, weight}, init, maps, 3 + spatial,
                          1 + spatial, dtype);
  SmallVector<int64_t> shape = {N, M};
  shape.append(outShape.begin() + 3, outShape.end());
  ctx.set(0, ctx.reshape(out, shape), dtype);
  return success();
}

/// `shape` with the `axes` set to 1.
SmallVector<int64_t> keptShape(ArrayRef<int64_t> shape,
                               ArrayRef<int64_t> axes) {
  SmallVector<int64_t> out(shape);
  for (int64_t a : axes)
    out[a] = 1;
  return out;
}

/// Sum / max / ... over `axes`, keeping them as size-1 dims.
Value reduceKeep(OpContext &ctx, Value x, ArrayRef<int64_t> axes, int32_t dtype,
                 double init, StringRef kind) {
  auto shape = cast<RankedTensorType>(x.getType()).getShape();
  Value r = ctx.reduce(x, axes, dtype, ctx.scalar(dtype, init),
                       [&](OpBuilder &b, Location loc, ValueRange a) {
                         ScalarOps s{b, loc, dtype};
                         if (kind == "max")
                           return s.max(a[0], a[1]);
                         if (kind == "min")
                           return s.min(a[0], a[1]);
                         if (kind == "prod")
                           return s.mul(a[0], a[1]);
                         return s.add(a[0], a[1]);
                       });
  return ctx.reshape(r, keptShape(shape, axes));
}

std::optional<SmallVector<int64_t>>
normalizedAxes(OpContext &ctx, ArrayRef<int64_t> axes, int64_t rank) {
  SmallVector<int64_t> out;
  for (int64_t a : axes) {
    auto d = ctx.axis(a, rank);
    if (!d)
      return std::nullopt;
    if (!llvm::is_contained(out, *d))
      out.push_back(*d);
  }
  llvm::sort(out);
  return out;
}

struct ReduceKind {
  StringRef combine; ///< add, max, min, prod
  double init;
  /// Applied to each element before combining / to the result.
  std::function<Value(ScalarOps &, Value)> pre, post;
  bool mean = false;
};

LogicalResult lowerReduce(OpContext &ctx, const ReduceKind &kind,
                          int64_t axesInputSince) {
  TV &x = ctx.in(0);
  int32_t dtype = x.dtype;
  std::vector<int64_t> axesList;
  if (ctx.opset < axesInputSince) {
    axesList = ctx.attrInts("axes");
  } else if (ctx.has(1)) {
    auto a = ctx.constInts(1);
    if (!a)
      return failure();
    axesList = *a;
  }
  bool noop = ctx.attrInt("noop_with_empty_axes", 0);
  if (axesList.empty() && noop) {
    ctx.set(0, ctx.in(0));
    return success();
  }
  if (axesList.empty())
    for (int64_t d = 0; d < x.rank(); ++d)
      axesList.push_back(d);
  auto axes = normalizedAxes(ctx, axesList, x.rank());
  if (!axes)
    return failure();
  Value input = ctx.val(0);
  if (kind.pre)
    input = ctx.broadcastMap(x.shape, dtype, {input},
                             [&](OpBuilder &b, Location loc, ValueRange a) {
                               ScalarOps s{b, loc, dtype};
                               return kind.pre(s, a[0]);
                             });
  Value r = reduceKeep(ctx, input, *axes, dtype, kind.init, kind.combine);
  SmallVector<int64_t> kept = keptShape(x.shape, *axes);
  int64_t count = 1;
  for (int64_t a : *axes)
    count *= x.shape[a];
  if (kind.post || kind.mean)
    r = ctx.broadcastMap(kept, dtype, {r},
                         [&](OpBuilder &b, Location loc, ValueRange a) {
                           ScalarOps s{b, loc, dtype};
                           Value v = a[0];
                           if (kind.mean)
                             v = s.div(v, s.constant(count));
                           return kind.post ? kind.post(s, v) : v;
                         });
  if (!ctx.attrInt("keepdims", 1)) {
    SmallVector<int64_t> shape;
    for (int64_t d = 0; d < x.rank(); ++d)
      if (!llvm::is_contained(*axes, d))
        shape.push_back(x.shape[d]);
    r = ctx.reshape(r, shape);
  }
  ctx.set(0, r, dtype);
  return success();
}

Value mathCall(ScalarOps &s, Value v, StringRef which) {
  return s.viaF32(v, [&](Value w) -> Value {
    if (which == "exp")
      return math::ExpOp::create(s.b, s.loc, w);
    if (which == "log")
      return math::LogOp::create(s.b, s.loc, w);
    return math::SqrtOp::create(s.b, s.loc, w);
  });
}

/// Softmax / LogSoftmax over `axes`, numerically stable.
LogicalResult lowerSoftmax(OpContext &ctx, bool log) {
  TV &x = ctx.in(0);
  int32_t dtype = x.dtype;
  if (!isFloatType(dtype))
    return ctx.invalid("needs a floating-point input");
  auto axis = ctx.axis(ctx.attrInt("axis", ctx.opset < 13 ? 1 : -1), x.rank());
  if (!axis)
    return failure();
  SmallVector<int64_t> axes = {*axis};
  if (ctx.opset < 13) // the input is coerced to 2-D at `axis`
    for (int64_t d = *axis + 1; d < x.rank(); ++d)
      axes.push_back(d);
  Value in = ctx.val(0);
  Value max = reduceKeep(ctx, in, axes, dtype, -INFINITY, "max");
  Value shifted = ctx.broadcastMap(
      x.shape, dtype, {in, max}, [&](OpBuilder &b, Location loc, ValueRange a) {
        return ScalarOps{b, loc, dtype}.sub(a[0], a[1]);
      });
  Value e = ctx.broadcastMap(x.shape, dtype, {shifted},
                             [&](OpBuilder &b, Location loc, ValueRange a) {
                               ScalarOps s{b, loc, dtype};
                               return mathCall(s, a[0], "exp");
                             });
  Value sum = reduceKeep(ctx, e, axes, dtype, 0, "add");
  Value out = ctx.broadcastMap(
      x.shape, dtype, {log ? shifted : e, sum},
      [&](OpBuilder &b, Location loc, ValueRange a) {
        ScalarOps s{b, loc, dtype};
        return log ? s.sub(a[0], mathCall(s, a[1], "log")) : s.div(a[0], a[1]);
      });
  ctx.set(0, out, dtype);
  return success();
}

/// (x - mean) / sqrt(var + eps) over `axes`, computed in `work` precision;
/// also returns mean and 1/sqrt(var + eps) (axes kept as 1).
struct Normalized {
  Value y, mean, invStd;
};

Normalized normalize(OpContext &ctx, Value x, ArrayRef<int64_t> shape,
                     ArrayRef<int64_t> axes, int32_t dtype, int32_t work,
                     double epsilon) {
  if (work != dtype)
    x = ctx.broadcastMap(shape, work, {x},
                         [&](OpBuilder &b, Location loc, ValueRange a) {
                           return ctx.castScalar(b, loc, a[0], dtype, work);
                         });
  int64_t count = 1;
  for (int64_t a : axes)
    count *= shape[a];
  SmallVector<int64_t> kept = keptShape(shape, axes);
  auto scaled = [&](Value v) {
    return ctx.broadcastMap(kept, work, {v},
                            [&](OpBuilder &b, Location loc, ValueRange a) {
                              ScalarOps s{b, loc, work};
                              return s.div(a[0], s.constant(count));
                            });
  };
  Value mean = scaled(reduceKeep(ctx, x, axes, work, 0, "add"));
  Value centered = ctx.broadcastMap(
      shape, work, {x, mean}, [&](OpBuilder &b, Location loc, ValueRange a) {
        return ScalarOps{b, loc, work}.sub(a[0], a[1]);
      });
  Value squares = ctx.broadcastMap(
      shape, work, {centered}, [&](OpBuilder &b, Location loc, ValueRange a) {
        return ScalarOps{b, loc, work}.mul(a[0], a[0]);
      });
  Value var = scaled(reduceKeep(ctx, squares, axes, work, 0, "add"));
  Value invStd = ctx.broadcastMap(
      kept, work, {var}, [&](OpBuilder &b, Location loc, ValueRange a) {
        ScalarOps s{b, loc, work};
        Value sd = mathCall(s, s.add(a[0], s.constant(epsilon)), "sqrt");
        return s.div(s.constant(1), sd);
      });
  Value y = ctx.broadcastMap(shape, work, {centered, invStd},
                             [&](OpBuilder &b, Location loc, ValueRange a) {
                               return ScalarOps{b, loc, work}.mul(a[0], a[1]);
                             });
  return {y, mean, invStd};
}

/// y * scale + bias with broadcasting, cast back to `dtype`.
Value affine(OpContext &ctx, Value y, ArrayRef<int64_t> shape, int32_t work,
             int32_t dtype, Value scale, Value bias) {
  SmallVector<Value> operands = {y};
  if (scale)
    operands.push_back(scale);
  if (bias)
    operands.push_back(bias);
  return ctx.broadcastMap(
      shape, dtype, operands, [&](OpBuilder &b, Location loc, ValueRange a) {
        ScalarOps s{b, loc, work};
        Value v = a[0];
        size_t next = 1;
        if (scale)
          v = s.mul(v, ctx.castScalar(b, loc, a[next++], dtype, work));
        if (bias)
          v = s.add(v, ctx.castScalar(b, loc, a[next++], dtype, work));
        return ctx.castScalar(b, loc, v, work, dtype);
      });
}

LogicalResult lowerLayerNorm(OpContext &ctx) {
  TV &x = ctx.in(0);
  int32_t dtype = x.dtype;
  if (!isFloatType(dtype))
    return ctx.invalid("needs a floating-point input");
  auto axis = ctx.axis(ctx.attrInt("axis", -1), x.rank());
  if (!axis)
    return failure();
  int32_t work =
      ctx.attrInt("stash_type", 1) == 1 && dtype != kDouble ? kFloat : dtype;
  SmallVector<int64_t> axes;
  for (int64_t d = *axis; d < x.rank(); ++d)
    axes.push_back(d);
  for (size_t i : {1, 2})
    if (ctx.has(i) && !broadcastShapes(x.shape, ctx.in(i).shape))
      return ctx.invalid("scale or bias does not broadcast to the input");
  Normalized n = normalize(ctx, ctx.val(0), x.shape, axes, dtype, work,
                           ctx.attrFloat("epsilon", 1e-5));
  ctx.set(0,
          affine(ctx, n.y, x.shape, work, dtype, ctx.val(1),
                 ctx.has(2) ? ctx.val(2) : Value()),
          dtype);
  ctx.set(1, n.mean, work);
  ctx.set(2, n.invStd, work);
  return success();
}

/// [C] parameters viewed as [C, 1, ...] to broadcast over N x C x spatial.
Value channelParam(OpContext &ctx, size_t i, int64_t rank) {
  TV &p = ctx.in(i);
  SmallVector<int64_t> shape = {p.numElements()};
  shape.append(rank - 2, 1);
  return ctx.reshape(ctx.val(i), shape);
}

LogicalResult lowerInstanceNorm(OpContext &ctx) {
  TV &x = ctx.in(0);
  int32_t dtype = x.dtype;
  if (!isFloatType(dtype) || x.rank() < 3)
    return ctx.invalid("needs a floating-point N x C x ... input");
  SmallVector<int64_t> axes;
  for (int64_t d = 2; d < x.rank(); ++d)
    axes.push_back(d);
  Normalized n = normalize(ctx, ctx.val(0), x.shape, axes, dtype, dtype,
                           ctx.attrFloat("epsilon", 1e-5));
  ctx.set(0,
          affine(ctx, n.y, x.shape, dtype, dtype,
                 channelParam(ctx, 1, x.rank()),
                 channelParam(ctx, 2, x.rank())),
          dtype);
  return success();
}

LogicalResult lowerBatchNorm(OpContext &ctx) {
  TV &x = ctx.in(0);
  int32_t dtype = x.dtype;
  if (!isFloatType(dtype) || x.rank() < 2)
    return ctx.invalid("needs a floating-point N x C x ... input");
  if (ctx.attrInt("training_mode", 0) || ctx.numOutputs() > 1)
    return ctx.unsupported("training mode (running statistics outputs)");
  int64_t rank = std::max<int64_t>(x.rank(), 3);
  double eps = ctx.attrFloat("epsilon", 1e-5);
  SmallVector<Value> params;
  for (size_t i = 1; i <= 4; ++i) {
    if (ctx.in(i).numElements() != x.shape[1])
      return ctx.invalid("parameters must have C elements");
    Value p = channelParam(ctx, i, rank);
    if (x.rank() == 2)
      p = ctx.reshape(p, {x.shape[1]});
    params.push_back(p);
  }
  SmallVector<Value> operands = {ctx.val(0)};
  operands.append(params);
  Value out = ctx.broadcastMap(
      x.shape, dtype, operands, [&](OpBuilder &b, Location loc, ValueRange a) {
        ScalarOps s{b, loc, dtype};
        Value sd = mathCall(s, s.add(a[4], s.constant(eps)), "sqrt");
        return s.add(s.mul(s.div(s.sub(a[0], a[3]), sd), a[1]), a[2]);
      });
  ctx.set(0, out, dtype);
  return success();
}

LogicalResult lowerGlobalPool(OpContext &ctx, bool max) {
  TV &x = ctx.in(0);
  if (x.rank() < 3 || !isFloatType(x.dtype))
    return ctx.invalid("needs a floating-point N x C x ... input");
  SmallVector<int64_t> axes;
  for (int64_t d = 2; d < x.rank(); ++d)
    axes.push_back(d);
  int32_t dtype = x.dtype;
  Value r = reduceKeep(ctx, ctx.val(0), axes, dtype, max ? -INFINITY : 0,
                       max ? "max" : "add");
  if (!max) {
    int64_t count = 1;
    for (int64_t a : axes)
      count *= x.shape[a];
    r = ctx.broadcastMap(keptShape(x.shape, axes), dtype, {r},
                         [&](OpBuilder &b, Location loc, ValueRange a) {
                           ScalarOps s{b, loc, dtype};
                           return s.div(a[0], s.constant(count));
                         });
  }
  ctx.set(0, r, dtype);
  return success();
}

/// The index of the first (or last) max / min along `axis`, a reduction
/// carrying (best value, its index); int64 without the axis.
Value argExtreme(OpContext &ctx, TV &x, int64_t axis, bool max, bool last) {
  int32_t dtype = x.dtype;
  int64_t rank = x.rank();
  SmallVector<int64_t> shape;
  SmallVector<AffineExpr> outExprs;
  SmallVector<utils::IteratorType> its(rank, utils::IteratorType::parallel);
  its[axis] = utils::IteratorType::reduction;
  for (int64_t d = 0; d < rank; ++d)
    if (d != axis) {
      shape.push_back(x.shape[d]);
      outExprs.push_back(ctx.b.getAffineDimExpr(d));
    }
  Value best =
      ctx.fill(shape, dtype, ctx.scalar(dtype, max ? -INFINITY : INFINITY));
  Value index = ctx.fill(shape, kInt64, ctx.scalar(kInt64, 0));
  AffineMap outMap = AffineMap::get(rank, 0, outExprs, ctx.b.getContext());
  AffineMap maps[] = {ctx.b.getMultiDimIdentityMap(rank), outMap, outMap};
  int64_t reduced = axis;
  auto op = linalg::GenericOp::create(
      ctx.b, ctx.loc, TypeRange{best.getType(), index.getType()}, ctx.val(0),
      ValueRange{best, index}, maps, its,
      [&](OpBuilder &b, Location loc, ValueRange a) {
        ScalarOps s{b, loc, dtype};
        Value i = arith::IndexCastOp::create(
            b, loc, b.getI64Type(), linalg::IndexOp::create(b, loc, reduced));
        // The first element always wins, so that all-NaN or extreme rows
        // still give a valid index.
        Value first =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, i,
                                  ScalarOps{b, loc, kInt64}.constant(0));
        Value better = s.compare(
            max ? (last ? "ge" : "gt") : (last ? "le" : "lt"), a[0], a[1]);
        better = arith::OrIOp::create(b, loc, first, better);
        linalg::YieldOp::create(
            b, loc,
            ValueRange{arith::SelectOp::create(b, loc, better, a[0], a[1]),
                       arith::SelectOp::create(b, loc, better, i, a[2])});
      });
  return op.getResult(1);
}

LogicalResult lowerArgExtreme(OpContext &ctx, bool max) {
  TV &x = ctx.in(0);
  if (dtypeBytes(x.dtype) == 0 || x.dtype == kBool)
    return ctx.unsupported("element type " + dtypeName(x.dtype));
  auto axis = ctx.axis(ctx.attrInt("axis", 0), x.rank());
  if (!axis)
    return failure();
  Value result =
      argExtreme(ctx, x, *axis, max, ctx.attrInt("select_last_index", 0));
  if (ctx.attrInt("keepdims", 1))
    result = ctx.reshape(result, keptShape(x.shape, {*axis}));
  ctx.set(0, result, kInt64);
  return success();
}

/// One-hot of the first maximum along the axis.
LogicalResult lowerHardmax(OpContext &ctx) {
  TV &x = ctx.in(0);
  if (!isFloatType(x.dtype))
    return ctx.invalid("needs a floating-point input");
  auto axis = ctx.axis(ctx.attrInt("axis", ctx.opset < 13 ? 1 : -1), x.rank());
  if (!axis)
    return failure();
  if (ctx.opset < 13 && *axis != x.rank() - 1)
    return ctx.unsupported("axis before the last dim (2-D coercion)");
  Value best = ctx.reshape(argExtreme(ctx, x, *axis, true, false),
                           keptShape(x.shape, {*axis}));
  int32_t dtype = x.dtype;
  int64_t a = *axis;
  Value out = ctx.broadcastMap(
      x.shape, dtype, {ctx.val(0), best},
      [&](OpBuilder &b, Location loc, ValueRange v) {
        Value i = arith::IndexCastOp::create(
            b, loc, b.getI64Type(), linalg::IndexOp::create(b, loc, a));
        Value hit =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, i, v[1]);
        ScalarOps s{b, loc, dtype};
        return arith::SelectOp::create(b, loc, hit, s.constant(1),
                                       s.constant(0))
            .getResult();
      });
  ctx.set(0, out, dtype);
  return success();
}

/// CumSum: out[p] = sum over t of x[p with axis = t] for t <= p[axis]
/// (< when exclusive; >= / > when reversed), as a masked reduction.
LogicalResult lowerCumSum(OpContext &ctx) {
  TV &x = ctx.in(0);
  auto axisValue = ctx.constInts(1);
  if (!axisValue)
    return failure();
  if (axisValue->size() != 1)
    return ctx.invalid("axis must hold one value");
  auto axis = ctx.axis((*axisValue)[0], x.rank());
  if (!axis)
    return failure();
  bool exclusive = ctx.attrInt("exclusive", 0),
       reverse = ctx.attrInt("reverse", 0);
  int32_t dtype = x.dtype;
  int64_t rank = x.rank(), a = *axis;
  MLIRContext *mctx = ctx.b.getContext();
  SmallVector<AffineExpr> in;
  for (int64_t d = 0; d < rank; ++d)
    in.push_back(getAffineDimExpr(d == a ? rank : d, mctx));
  AffineMap maps[] = {
      AffineMap::get(rank + 1, 0, in, mctx),
      AffineMap::getMultiDimIdentityMap(rank + 1, mctx)
          .getSubMap(llvm::to_vector(llvm::seq<unsigned>(0, rank)))};
  Value init = ctx.fill(x.shape, dtype, ctx.scalar(dtype, 0));
  auto predicate =
      reverse
          ? (exclusive ? arith::CmpIPredicate::sgt : arith::CmpIPredicate::sge)
          : (exclusive ? arith::CmpIPredicate::slt : arith::CmpIPredicate::sle);
  Value out = linalg::GenericOp::create(
                  ctx.b, ctx.loc, init.getType(), ctx.val(0), init, maps,
                  iterators(rank, 1),
                  [&](OpBuilder &b, Location loc, ValueRange v) {
                    Value t = linalg::IndexOp::create(b, loc, rank);
                    Value p = linalg::IndexOp::create(b, loc, a);
                    Value take = arith::CmpIOp::create(b, loc, predicate, t, p);
                    ScalarOps s{b, loc, dtype};
                    Value term = arith::SelectOp::create(b, loc, take, v[0],
                                                         s.constant(0));
                    linalg::YieldOp::create(b, loc, s.add(v[1], term));
                  })
                  .getResult(0);
  ctx.set(0, out, dtype);
  return success();
}

/// MaxPool / AveragePool over N x C x spatial. The input is padded (with
/// -inf for max, 0 for average, plus room for ceil_mode's partial windows);
/// the average divides by a window sum of a 0/1 mask of what counts.
LogicalResult lowerPool(OpContext &ctx, bool max) {
  TV &x = ctx.in(0);
  int64_t spatial = x.rank() - 2;
  if (spatial < 1)
    return ctx.invalid("needs an N x C x spatial input");
  if (dtypeBytes(x.dtype) == 0 || x.dtype == kBool ||
      (!max && !isFloatType(x.dtype)))
    return ctx.unsupported("element type " + dtypeName(x.dtype));
  if (ctx.wants(1))
    return ctx.unsupported("the Indices output");
  std::vector<int64_t> kernel = ctx.attrInts("kernel_shape");
  if (int64_t(kernel.size()) != spatial)
    return ctx.invalid("kernel_shape must have one entry per spatial dim");
  auto window = readWindow(ctx, x.shape, kernel);
  if (!window)
    return failure();
  std::vector<int64_t> &strides = window->strides,
                       &dilations = window->dilations;
  bool ceil = ctx.attrInt("ceil_mode", 0);
  bool includePad = ctx.attrInt("count_include_pad", 0);
  SmallVector<int64_t> outShape = {x.shape[0], x.shape[1]};
  SmallVector<int64_t> padded = x.shape, before(x.rank(), 0);
  SmallVector<int64_t> counted = x.shape; // input plus explicit pads
  for (int64_t d = 0; d < spatial; ++d) {
    int64_t in = x.shape[d + 2], span = window->span(d, in);
    int64_t out =
        (ceil ? (span + strides[d] - 1) / strides[d] : span / strides[d]) + 1;
    // A last window must start inside the input or its left padding.
    if (ceil && (out - 1) * strides[d] >= in + window->pads[d])
      --out;
    outShape.push_back(out);
    before[d + 2] = window->pads[d];
    counted[d + 2] = in + window->pads[d] + window->padsEnd(d);
    padded[d + 2] =
        std::max(counted[d + 2], (out - 1) * strides[d] + window->extent(d));
  }
  int32_t dtype = x.dtype;
  auto windowReduce = [&](Value source, bool takeMax) {
    int64_t rank = x.rank(), loops = rank + spatial;
    MLIRContext *mctx = ctx.b.getContext();
    SmallVector<AffineExpr> in = {getAffineDimExpr(0, mctx),
                                  getAffineDimExpr(1, mctx)};
    for (int64_t d = 0; d < spatial; ++d)
      in.push_back(getAffineDimExpr(2 + d, mctx) * strides[d] +
                   getAffineDimExpr(rank + d, mctx) * dilations[d]);
    SmallVector<AffineExpr> kernelExprs;
    for (int64_t d = 0; d < spatial; ++d)
      kernelExprs.push_back(getAffineDimExpr(rank + d, mctx));
    // The kernel loops get their extent from a dummy operand.
    Value extentOf =
        ctx.empty(SmallVector<int64_t>(kernel.begin(), kernel.end()), dtype);
    Value init =
        ctx.fill(outShape, dtype, ctx.scalar(dtype, takeMax ? -INFINITY : 0));
    AffineMap maps[] = {
        AffineMap::get(loops, 0, in, mctx),
        AffineMap::get(loops, 0, kernelExprs, mctx),
        AffineMap::getMultiDimIdentityMap(loops, mctx)
            .getSubMap(llvm::to_vector(llvm::seq<unsigned>(0, rank)))};
    return linalg::GenericOp::create(
               ctx.b, ctx.loc, init.getType(), ValueRange{source, extentOf},
               init, maps, iterators(rank, spatial),
               [&](OpBuilder &b, Location loc, ValueRange a) {
                 ScalarOps s{b, loc, dtype};
                 linalg::YieldOp::create(
                     b, loc, takeMax ? s.max(a[2], a[0]) : s.add(a[2], a[0]));
               })
        .getResult(0);
  };
  Value fillValue = ctx.scalar(dtype, max ? -INFINITY : 0);
  Value input =
      ctx.insert(ctx.val(0), ctx.fill(padded, dtype, fillValue), before);
  if (max) {
    ctx.set(0, windowReduce(input, true), dtype);
    return success();
  }
  // What the divisor counts: the input, or the input and explicit pads.
  Value ones =
      ctx.fill(includePad ? counted : x.shape, dtype, ctx.scalar(dtype, 1));
  SmallVector<int64_t> maskOffset(x.rank(), 0);
  if (!includePad)
    maskOffset = before;
  Value mask = ctx.insert(ones, ctx.fill(padded, dtype, ctx.scalar(dtype, 0)),
                          maskOffset);
  Value out = ctx.broadcastMap(
      outShape, dtype, {windowReduce(input, false), windowReduce(mask, false)},
      [&](OpBuilder &b, Location loc, ValueRange a) {
        return ScalarOps{b, loc, dtype}.div(a[0], a[1]);
      });
  ctx.set(0, out, dtype);
  return success();
}

void addReduce(LoweringTable &t, StringRef name, ReduceKind kind,
               int64_t axesInputSince = 18) {
  t[name] = [kind, axesInputSince](OpContext &ctx) {
    return lowerReduce(ctx, kind, axesInputSince);
  };
}

} // namespace

void addNeuralLowerings(LoweringTable &t) {
  t["MatMul"] = lowerMatMul;
  t["Gemm"] = lowerGemm;
  t["MaxPool"] = [](OpContext &ctx) { return lowerPool(ctx, true); };
  t["AveragePool"] = [](OpContext &ctx) { return lowerPool(ctx, false); };
  t["ArgMax"] = [](OpContext &ctx) { return lowerArgExtreme(ctx, true); };
  t["Hardmax"] = lowerHardmax;
  t["CumSum"] = lowerCumSum;
  t["ArgMin"] = [](OpContext &ctx) { return lowerArgExtreme(ctx, false); };
  t["Conv"] = lowerConv;
  t["Softmax"] = [](OpContext &ctx) { return lowerSoftmax(ctx, false); };
  t["LogSoftmax"] = [](OpContext &ctx) { return lowerSoftmax(ctx, true); };
  t["LayerNormalization"] = lowerLayerNorm;
  t["InstanceNormalization"] = lowerInstanceNorm;
  t["BatchNormalization"] = lowerBatchNorm;
  t["GlobalAveragePool"] = [](OpContext &ctx) {
    return lowerGlobalPool(ctx, false);
  };
  t["GlobalMaxPool"] = [](OpContext &ctx) {
    return lowerGlobalPool(ctx, true);
  };
  auto square = [](ScalarOps &s, Value v) { return s.mul(v, v); };
  auto abs = [](ScalarOps &s, Value v) {
    return s.isUnsigned() ? v : s.max(v, s.neg(v));
  };
  auto exp = [](ScalarOps &s, Value v) { return mathCall(s, v, "exp"); };
  auto log = [](ScalarOps &s, Value v) { return mathCall(s, v, "log"); };
  auto sqrt = [](ScalarOps &s, Value v) { return mathCall(s, v, "sqrt"); };
  addReduce(t, "ReduceSum", {"add", 0, nullptr, nullptr}, 13);
  addReduce(t, "ReduceMean", {"add", 0, nullptr, nullptr, true});
  addReduce(t, "ReduceMax", {"max", -INFINITY, nullptr, nullptr});
  addReduce(t, "ReduceMin", {"min", INFINITY, nullptr, nullptr});
  addReduce(t, "ReduceProd", {"prod", 1, nullptr, nullptr});
  addReduce(t, "ReduceSumSquare", {"add", 0, square, nullptr});
  addReduce(t, "ReduceL1", {"add", 0, abs, nullptr});
  addReduce(t, "ReduceL2", {"add", 0, square, sqrt});
  addReduce(t, "ReduceLogSum", {"add", 0, nullptr, log});
  addReduce(t, "ReduceLogSumExp", {"add", 0, exp, log});
}

} // namespace modrwkv::onnxfe
