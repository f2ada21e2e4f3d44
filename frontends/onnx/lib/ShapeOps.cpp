//===- ShapeOps.cpp - shape computations and data movement ----------------===//
//
// Shapes are static after import, so Shape/Size fold to constants and the
// shape sub-graphs that exporters emit (Shape -> Gather -> Concat ->
// Reshape) fold on the host. Operands that decide a shape (Reshape's shape,
// Slice's starts, ...) must be known at import time.
//
//===----------------------------------------------------------------------===//

#include "Lowering.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"

#include <numeric>

using namespace mlir;

namespace modrwkv::onnxfe {

int64_t product(ArrayRef<int64_t> shape, size_t from, size_t to) {
  int64_t n = 1;
  for (size_t d = from; d < std::min(to, shape.size()); ++d)
    n *= shape[d];
  return n;
}

Literal remap(const Literal &in, int64_t n,
              const std::function<int64_t(int64_t)> &source) {
  Literal out;
  out.isFloat = in.isFloat;
  for (int64_t k = 0; k < n; ++k) {
    int64_t s = source(k);
    if (in.isFloat)
      out.floats.push_back(in.floats[s]);
    else
      out.ints.push_back(in.ints[s]);
  }
  return out;
}

TV concatenate(OpContext &ctx, ArrayRef<TV *> parts, int64_t axis) {
  TV out;
  out.dtype = parts.front()->dtype;
  out.shape = parts.front()->shape;
  out.shape[axis] = 0;
  for (TV *v : parts)
    out.shape[axis] += v->shape[axis];
  bool allKnown = llvm::all_of(parts, [](TV *v) { return v->known; });
  if (allKnown && product(out.shape) <= 4096) {
    int64_t outer = product(out.shape, 0, axis),
            inner = product(out.shape, axis + 1);
    Literal l;
    l.isFloat = parts.front()->known->isFloat;
    for (int64_t o = 0; o < outer; ++o)
      for (TV *v : parts) {
        int64_t chunk = v->shape[axis] * inner;
        for (int64_t k = 0; k < chunk; ++k) {
          if (l.isFloat)
            l.floats.push_back(v->known->floats[o * chunk + k]);
          else
            l.ints.push_back(v->known->ints[o * chunk + k]);
        }
      }
    out.known = std::move(l);
    return out;
  }
  Value result = ctx.empty(out.shape, out.dtype);
  SmallVector<int64_t> offsets(out.rank(), 0);
  for (TV *v : parts) {
    result = ctx.insert(ctx.val(*v), result, offsets);
    offsets[axis] += v->shape[axis];
  }
  out.value = result;
  return out;
}

namespace {

SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> s(shape.size(), 1);
  for (int64_t d = int64_t(shape.size()) - 2; d >= 0; --d)
    s[d] = s[d + 1] * shape[d + 1];
  return s;
}

/// Same elements under a new shape: contents stay known, IR is a reshape.
void setReshaped(OpContext &ctx, TV &x, ArrayRef<int64_t> shape) {
  if (x.known) {
    ctx.setKnown(0, x.dtype, shape, *x.known);
    return;
  }
  ctx.set(0, ctx.reshape(ctx.val(x), shape), x.dtype);
}

Value indexConst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

LogicalResult lowerConstant(OpContext &ctx) {
  const Node &n = ctx.node;
  if (const Attribute *a = n.attr("value"); a && a->tensor) {
    const Tensor &t = *a->tensor;
    if (dtypeBytes(t.dtype) == 0)
      return ctx.unsupported("constant of type " + dtypeName(t.dtype));
    Literal l;
    l.isFloat = isFloatType(t.dtype);
    for (int64_t k = 0; k < t.numElements(); ++k) {
      if (l.isFloat)
        l.floats.push_back(t.asDouble(k));
      else
        l.ints.push_back(t.asInt(k));
    }
    ctx.setKnown(0, t.dtype, t.shape, std::move(l));
    return success();
  }
  Literal l;
  if (const Attribute *a = n.attr("value_float")) {
    l.isFloat = true;
    l.floats = {a->f};
    ctx.setKnown(0, kFloat, {}, l);
  } else if (const Attribute *a = n.attr("value_floats")) {
    l.isFloat = true;
    l.floats = a->floats;
    ctx.setKnown(0, kFloat, {int64_t(l.floats.size())}, l);
  } else if (const Attribute *a = n.attr("value_int")) {
    l.ints = {a->i};
    ctx.setKnown(0, kInt64, {}, l);
  } else if (const Attribute *a = n.attr("value_ints")) {
    l.ints = a->ints;
    ctx.setKnown(0, kInt64, {int64_t(l.ints.size())}, l);
  } else {
    return ctx.unsupported("constant without a numeric value attribute");
  }
  return success();
}

LogicalResult lowerShape(OpContext &ctx) {
  TV &x = ctx.in(0);
  int64_t rank = x.rank();
  auto clampAxis = [&](int64_t a) {
    if (a < 0)
      a += rank;
    return std::clamp<int64_t>(a, 0, rank);
  };
  int64_t start = clampAxis(ctx.attrInt("start", 0));
  int64_t end = clampAxis(ctx.attrInt("end", rank));
  Literal l;
  for (int64_t d = start; d < end; ++d)
    l.ints.push_back(x.shape[d]);
  ctx.setKnown(0, kInt64, {int64_t(l.ints.size())}, std::move(l));
  return success();
}

LogicalResult lowerSize(OpContext &ctx) {
  Literal l;
  l.ints = {ctx.in(0).numElements()};
  ctx.setKnown(0, kInt64, {}, std::move(l));
  return success();
}

LogicalResult lowerReshape(OpContext &ctx) {
  TV &x = ctx.in(0);
  std::vector<int64_t> spec;
  if (ctx.opset < 5) {
    spec = ctx.attrInts("shape");
  } else {
    auto s = ctx.constInts(1);
    if (!s)
      return failure();
    spec = *s;
  }
  bool allowZero = ctx.attrInt("allowzero", 0);
  SmallVector<int64_t> shape;
  int64_t inferred = -1, known = 1;
  for (size_t d = 0; d < spec.size(); ++d) {
    int64_t v = spec[d];
    if (v == 0 && !allowZero) {
      if (d >= size_t(x.rank()))
        return ctx.invalid("shape copies dim " + std::to_string(d) +
                           " of a rank-" + std::to_string(x.rank()) + " input");
      v = x.shape[d];
    }
    if (v == -1) {
      if (inferred >= 0)
        return ctx.invalid("shape has more than one -1");
      inferred = d;
      shape.push_back(1);
      continue;
    }
    if (v < 0)
      return ctx.invalid("negative size " + std::to_string(v) + " in shape");
    shape.push_back(v);
    known *= v;
  }
  if (inferred >= 0) {
    if (known == 0 || x.numElements() % known)
      return ctx.invalid("cannot infer the -1 dimension");
    shape[inferred] = x.numElements() / known;
  }
  if (product(shape) != x.numElements())
    return ctx.invalid("reshape changes the number of elements");
  setReshaped(ctx, x, shape);
  return success();
}

LogicalResult lowerFlatten(OpContext &ctx) {
  TV &x = ctx.in(0);
  int64_t a = ctx.attrInt("axis", 1);
  if (a < 0)
    a += x.rank();
  if (a < 0 || a > x.rank())
    return ctx.invalid("axis out of range");
  setReshaped(ctx, x, {product(x.shape, 0, a), product(x.shape, a)});
  return success();
}

/// Axes from the attribute (old opsets) or the optional second input.
std::optional<std::vector<int64_t>> axesOperand(OpContext &ctx,
                                                int64_t inputSince) {
  if (ctx.opset < inputSince)
    return ctx.attrInts("axes");
  if (!ctx.has(1))
    return std::vector<int64_t>{};
  return ctx.constInts(1);
}

LogicalResult lowerSqueeze(OpContext &ctx) {
  TV &x = ctx.in(0);
  auto axes = axesOperand(ctx, 13);
  if (!axes)
    return failure();
  std::vector<bool> drop(x.rank(), false);
  if (axes->empty())
    for (int64_t d = 0; d < x.rank(); ++d)
      drop[d] = x.shape[d] == 1;
  for (int64_t a : *axes) {
    auto d = ctx.axis(a, x.rank());
    if (!d)
      return failure();
    if (x.shape[*d] != 1)
      return ctx.invalid("cannot squeeze dim " + std::to_string(*d) +
                         " of size " + std::to_string(x.shape[*d]));
    drop[*d] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < x.rank(); ++d)
    if (!drop[d])
      shape.push_back(x.shape[d]);
  setReshaped(ctx, x, shape);
  return success();
}

LogicalResult lowerUnsqueeze(OpContext &ctx) {
  TV &x = ctx.in(0);
  auto axes = axesOperand(ctx, 13);
  if (!axes)
    return failure();
  int64_t rank = x.rank() + axes->size();
  std::vector<bool> inserted(rank, false);
  for (int64_t a : *axes) {
    auto d = ctx.axis(a, rank);
    if (!d)
      return failure();
    if (inserted[*d])
      return ctx.invalid("repeated axis " + std::to_string(a));
    inserted[*d] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0, j = 0; d < rank; ++d)
    shape.push_back(inserted[d] ? 1 : x.shape[j++]);
  setReshaped(ctx, x, shape);
  return success();
}

LogicalResult lowerConcat(OpContext &ctx) {
  TV &first = ctx.in(0);
  auto axis = ctx.axis(ctx.attrInt("axis", 0), first.rank());
  if (!axis)
    return failure();
  SmallVector<TV *> parts;
  for (size_t i = 0; i < ctx.numInputs(); ++i) {
    TV &v = ctx.in(i);
    if (v.rank() != first.rank() || v.dtype != first.dtype)
      return ctx.invalid("operands differ in rank or type");
    for (int64_t d = 0; d < v.rank(); ++d)
      if (d != *axis && v.shape[d] != first.shape[d])
        return ctx.invalid("operand " + std::to_string(i) + " differs in dim " +
                           std::to_string(d));
    parts.push_back(&v);
  }
  ctx.set(0, concatenate(ctx, parts, *axis));
  return success();
}

LogicalResult lowerSplit(OpContext &ctx) {
  TV &x = ctx.in(0);
  auto axis = ctx.axis(ctx.attrInt("axis", 0), x.rank());
  if (!axis)
    return failure();
  int64_t n = ctx.numOutputs(), size = x.shape[*axis];
  std::vector<int64_t> sizes;
  if (ctx.opset < 13) {
    sizes = ctx.attrInts("split");
  } else if (ctx.has(1)) {
    auto s = ctx.constInts(1);
    if (!s)
      return failure();
    sizes = *s;
  }
  if (sizes.empty()) {
    // Equal parts; the last one smaller when it does not divide (opset 18).
    int64_t part = (size + n - 1) / n;
    for (int64_t i = 0; i < n; ++i)
      sizes.push_back(std::max<int64_t>(0, std::min(part, size - i * part)));
  }
  if (int64_t(sizes.size()) != n ||
      std::accumulate(sizes.begin(), sizes.end(), int64_t(0)) != size)
    return ctx.invalid("split sizes do not add up to dim " +
                       std::to_string(*axis));
  SmallVector<int64_t> offsets(x.rank(), 0), strides(x.rank(), 1);
  SmallVector<int64_t> shape = x.shape;
  for (int64_t i = 0; i < n; ++i) {
    shape[*axis] = sizes[i];
    if (ctx.wants(i) && product(shape) == 0)
      ctx.set(i, ctx.empty(shape, x.dtype), x.dtype);
    else if (ctx.wants(i))
      ctx.set(i,
              tensor::ExtractSliceOp::create(
                  ctx.b, ctx.loc, ctx.tensorType(shape, x.dtype), ctx.val(0),
                  ValueRange{}, ValueRange{}, ValueRange{}, offsets, shape,
                  strides),
              x.dtype);
    offsets[*axis] += sizes[i];
  }
  return success();
}

LogicalResult lowerSlice(OpContext &ctx) {
  TV &x = ctx.in(0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset < 10) {
    starts = ctx.attrInts("starts");
    ends = ctx.attrInts("ends");
    axes = ctx.attrInts("axes");
  } else {
    auto s = ctx.constInts(1), e = ctx.constInts(2);
    std::optional<std::vector<int64_t>> a, st;
    if (ctx.has(3))
      a = ctx.constInts(3);
    if (ctx.has(4))
      st = ctx.constInts(4);
    if (!s || !e || (ctx.has(3) && !a) || (ctx.has(4) && !st))
      return failure();
    starts = *s;
    ends = *e;
    if (a)
      axes = *a;
    if (st)
      steps = *st;
  }
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k)
      axes.push_back(k);
  if (steps.empty())
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size())
    return ctx.invalid("starts, ends, axes and steps differ in length");
  SmallVector<int64_t> start(x.rank(), 0), step(x.rank(), 1), shape = x.shape;
  for (size_t k = 0; k < starts.size(); ++k) {
    auto d = ctx.axis(axes[k], x.rank());
    if (!d)
      return failure();
    int64_t dim = x.shape[*d], st = steps[k];
    if (st == 0)
      return ctx.invalid("step 0");
    auto norm = [&](int64_t v) { return v < 0 ? v + dim : v; };
    int64_t b = norm(starts[k]), e = norm(ends[k]);
    if (st > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
    } else {
      b = std::clamp<int64_t>(b, -1, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
    }
    int64_t count = st > 0 ? (e - b + st - 1) / st : (b - e - st - 1) / -st;
    start[*d] = b;
    step[*d] = st;
    shape[*d] = std::max<int64_t>(count, 0);
  }
  if (x.known) {
    SmallVector<int64_t> outStrides = stridesOf(shape),
                         inStrides = stridesOf(x.shape);
    ctx.setKnown(0, x.dtype, shape,
                 remap(*x.known, product(shape), [&](int64_t k) {
                   int64_t flat = 0;
                   for (int64_t d = 0; d < x.rank(); ++d) {
                     int64_t p = k / outStrides[d] % shape[d];
                     flat += (start[d] + p * step[d]) * inStrides[d];
                   }
                   return flat;
                 }));
    return success();
  }
  if (product(shape) == 0) { // nothing to read (offsets may be past the end)
    ctx.set(0, ctx.empty(shape, x.dtype), x.dtype);
    return success();
  }
  bool positive = llvm::all_of(step, [](int64_t s) { return s > 0; });
  if (positive) {
    ctx.set(0,
            tensor::ExtractSliceOp::create(
                ctx.b, ctx.loc, ctx.tensorType(shape, x.dtype), ctx.val(0),
                ValueRange{}, ValueRange{}, ValueRange{}, start, shape, step),
            x.dtype);
    return success();
  }
  Value input = ctx.val(0);
  ctx.set(0,
          ctx.gatherMap(shape, x.dtype, input,
                        [&](OpBuilder &b, Location loc, ValueRange pos) {
                          SmallVector<Value> idx;
                          for (int64_t d = 0; d < x.rank(); ++d) {
                            Value scaled = arith::MulIOp::create(
                                b, loc, pos[d], indexConst(b, loc, step[d]));
                            idx.push_back(arith::AddIOp::create(
                                b, loc, scaled, indexConst(b, loc, start[d])));
                          }
                          return idx;
                        }),
          x.dtype);
  return success();
}

LogicalResult lowerGather(OpContext &ctx) {
  TV &x = ctx.in(0), &indices = ctx.in(1);
  auto axis = ctx.axis(ctx.attrInt("axis", 0), x.rank());
  if (!axis)
    return failure();
  if (indices.dtype != kInt64 && indices.dtype != kInt32)
    return ctx.invalid("indices must be int32 or int64");
  int64_t dim = x.shape[*axis];
  SmallVector<int64_t> shape(x.shape.begin(), x.shape.begin() + *axis);
  shape.append(indices.shape.begin(), indices.shape.end());
  shape.append(x.shape.begin() + *axis + 1, x.shape.end());
  int64_t ri = indices.rank();
  if (x.known && indices.known) {
    int64_t inner = product(x.shape, *axis + 1);
    int64_t count = indices.numElements();
    for (int64_t k = 0; k < count; ++k)
      if (indices.known->ints[k] < -dim || indices.known->ints[k] >= dim)
        return ctx.invalid("index " + std::to_string(indices.known->ints[k]) +
                           " is out of range for dim " + std::to_string(dim));
    ctx.setKnown(0, x.dtype, shape,
                 remap(*x.known, product(shape), [&](int64_t k) {
                   int64_t in = k % inner, rest = k / inner;
                   int64_t j = rest % std::max<int64_t>(count, 1);
                   int64_t o = rest / std::max<int64_t>(count, 1);
                   int64_t i = indices.known->ints[j];
                   return (o * dim + (i < 0 ? i + dim : i)) * inner + in;
                 }));
    return success();
  }
  Value data = ctx.val(0), idxTensor = ctx.val(1);
  ctx.set(0,
          ctx.gatherMap(
              shape, x.dtype, data,
              [&](OpBuilder &b, Location loc, ValueRange pos) {
                SmallVector<Value> at(pos.begin() + *axis,
                                      pos.begin() + *axis + ri);
                Value i = tensor::ExtractOp::create(b, loc, idxTensor, at);
                i = arith::IndexCastOp::create(b, loc, b.getIndexType(), i);
                Value zero = indexConst(b, loc, 0);
                Value wrapped =
                    arith::AddIOp::create(b, loc, i, indexConst(b, loc, dim));
                Value negative = arith::CmpIOp::create(
                    b, loc, arith::CmpIPredicate::slt, i, zero);
                i = arith::SelectOp::create(b, loc, negative, wrapped, i);
                SmallVector<Value> idx(pos.begin(), pos.begin() + *axis);
                idx.push_back(i);
                idx.append(pos.begin() + *axis + ri, pos.end());
                return idx;
              }),
          x.dtype);
  return success();
}

LogicalResult lowerGatherElements(OpContext &ctx) {
  TV &x = ctx.in(0), &indices = ctx.in(1);
  auto axis = ctx.axis(ctx.attrInt("axis", 0), x.rank());
  if (!axis)
    return failure();
  if (indices.rank() != x.rank())
    return ctx.invalid("indices must have the rank of the data");
  if (indices.dtype != kInt64 && indices.dtype != kInt32)
    return ctx.invalid("indices must be int32 or int64");
  int64_t dim = x.shape[*axis];
  Value data = ctx.val(0), idxTensor = ctx.val(1);
  ctx.set(0,
          ctx.gatherMap(
              indices.shape, x.dtype, data,
              [&](OpBuilder &b, Location loc, ValueRange pos) {
                Value i = tensor::ExtractOp::create(b, loc, idxTensor, pos);
                i = arith::IndexCastOp::create(b, loc, b.getIndexType(), i);
                Value negative =
                    arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, i,
                                          indexConst(b, loc, 0));
                Value wrapped =
                    arith::AddIOp::create(b, loc, i, indexConst(b, loc, dim));
                SmallVector<Value> idx(pos);
                idx[*axis] =
                    arith::SelectOp::create(b, loc, negative, wrapped, i);
                return idx;
              }),
          x.dtype);
  return success();
}

/// Trilu: keeps the elements on and above (upper) or below (lower) the
/// k-th diagonal of the last two dims.
LogicalResult lowerTrilu(OpContext &ctx) {
  TV &x = ctx.in(0);
  if (x.rank() < 2)
    return ctx.invalid("needs rank >= 2");
  int64_t k = 0;
  if (ctx.has(1)) {
    auto kv = ctx.constInts(1);
    if (!kv)
      return failure();
    if (kv->size() != 1)
      return ctx.invalid("k must hold one value");
    k = (*kv)[0];
  }
  bool upper = ctx.attrInt("upper", 1);
  int64_t rank = x.rank();
  int32_t dtype = x.dtype;
  Value out = ctx.broadcastMap(
      x.shape, dtype, {ctx.val(0)},
      [&](OpBuilder &b, Location loc, ValueRange a) {
        Value i = linalg::IndexOp::create(b, loc, rank - 2);
        Value j = linalg::IndexOp::create(b, loc, rank - 1);
        // keep when j - i >= k (upper) or j - i <= k (lower)
        Value diff = arith::SubIOp::create(b, loc, j, i);
        Value keep = arith::CmpIOp::create(b, loc,
                                           upper ? arith::CmpIPredicate::sge
                                                 : arith::CmpIPredicate::sle,
                                           diff, indexConst(b, loc, k));
        return arith::SelectOp::create(b, loc, keep, a[0],
                                       ScalarOps{b, loc, dtype}.constant(0))
            .getResult();
      });
  ctx.set(0, out, dtype);
  return success();
}

LogicalResult lowerTranspose(OpContext &ctx) {
  TV &x = ctx.in(0);
  std::vector<int64_t> perm = ctx.attrInts("perm");
  if (perm.empty())
    for (int64_t d = x.rank() - 1; d >= 0; --d)
      perm.push_back(d);
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t d = 0; d < x.rank(); ++d)
    if (int64_t(sorted.size()) != x.rank() || sorted[d] != d)
      return ctx.invalid("perm is not a permutation of the input's dims");
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(x.shape[p]);
  Value init = ctx.empty(shape, x.dtype);
  ctx.set(0,
          linalg::TransposeOp::create(ctx.b, ctx.loc, ctx.val(0), init, perm)
              .getResult()[0],
          x.dtype);
  return success();
}

LogicalResult lowerExpand(OpContext &ctx) {
  TV &x = ctx.in(0);
  auto target = ctx.constInts(1);
  if (!target)
    return failure();
  auto shape = broadcastShapes(x.shape, *target);
  if (!shape)
    return ctx.invalid("input does not broadcast to the requested shape");
  ctx.set(0,
          ctx.broadcastMap(
              *shape, x.dtype, {ctx.val(0)},
              [](OpBuilder &, Location, ValueRange a) { return a[0]; }),
          x.dtype);
  return success();
}

LogicalResult lowerConstantOfShape(OpContext &ctx) {
  auto shape = ctx.constInts(0);
  if (!shape)
    return failure();
  for (int64_t d : *shape)
    if (d < 0)
      return ctx.invalid("negative size in shape");
  int32_t dtype = kFloat;
  double value = 0;
  if (const Attribute *a = ctx.node.attr("value"); a && a->tensor) {
    dtype = a->tensor->dtype;
    if (a->tensor->numElements() != 1 || dtypeBytes(dtype) == 0)
      return ctx.invalid("value must be a one-element numeric tensor");
    value = a->tensor->asDouble(0);
  }
  int64_t n = product(*shape);
  if (n <= 4096) {
    Literal l;
    l.isFloat = isFloatType(dtype);
    if (l.isFloat)
      l.floats.assign(n, value);
    else
      l.ints.assign(n, int64_t(value));
    ctx.setKnown(0, dtype, *shape, std::move(l));
    return success();
  }
  ctx.set(0, ctx.fill(*shape, dtype, ctx.scalar(dtype, value)), dtype);
  return success();
}

LogicalResult lowerRange(OpContext &ctx) {
  auto start = ctx.constLiteral(0), limit = ctx.constLiteral(1),
       delta = ctx.constLiteral(2);
  if (!start || !limit || !delta)
    return failure();
  int32_t dtype = ctx.in(0).dtype;
  double s = start->f(0), l = limit->f(0), d = delta->f(0);
  if (d == 0)
    return ctx.invalid("delta is 0");
  int64_t n = std::max<int64_t>(0, int64_t(std::ceil((l - s) / d)));
  Literal out;
  out.isFloat = isFloatType(dtype);
  for (int64_t k = 0; k < n; ++k) {
    if (out.isFloat)
      out.floats.push_back(s + k * d);
    else
      out.ints.push_back(start->i(0) + k * delta->i(0));
  }
  ctx.setKnown(0, dtype, {n}, std::move(out));
  return success();
}

LogicalResult lowerPad(OpContext &ctx) {
  TV &x = ctx.in(0);
  std::string mode = ctx.attrString("mode", "constant");
  std::vector<int64_t> pads;
  Value padValue;
  if (ctx.opset < 11) {
    pads = ctx.attrInts("pads");
    padValue = ctx.scalar(x.dtype, ctx.attrFloat("value", 0));
  } else {
    auto p = ctx.constInts(1);
    if (!p)
      return failure();
    pads = *p;
    if (ctx.has(2)) {
      TV &v = ctx.in(2);
      if (v.numElements() != 1)
        return ctx.invalid("constant_value must hold one element");
      SmallVector<Value> zeros(v.rank(), indexConst(ctx.b, ctx.loc, 0));
      padValue = tensor::ExtractOp::create(ctx.b, ctx.loc, ctx.val(2), zeros);
    } else {
      padValue = ctx.scalar(x.dtype, 0);
    }
  }
  int64_t rank = x.rank();
  SmallVector<int64_t> before(rank, 0), after(rank, 0);
  if (ctx.has(3)) {
    auto axes = ctx.constInts(3);
    if (!axes)
      return failure();
    if (pads.size() != 2 * axes->size())
      return ctx.invalid("pads must hold two values per axis");
    for (size_t k = 0; k < axes->size(); ++k) {
      auto d = ctx.axis((*axes)[k], rank);
      if (!d)
        return failure();
      before[*d] = pads[k];
      after[*d] = pads[k + axes->size()];
    }
  } else {
    if (int64_t(pads.size()) != 2 * rank)
      return ctx.invalid("pads must hold 2 x rank values");
    for (int64_t d = 0; d < rank; ++d) {
      before[d] = pads[d];
      after[d] = pads[d + rank];
    }
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (before[d] < 0 || after[d] < 0)
      return ctx.unsupported("negative pads (cropping)");
    shape.push_back(x.shape[d] + before[d] + after[d]);
  }
  if (mode == "constant") {
    Value filled = ctx.fill(shape, x.dtype, padValue);
    ctx.set(0, ctx.insert(ctx.val(0), filled, before), x.dtype);
    return success();
  }
  if (mode != "edge" && mode != "reflect" && mode != "wrap")
    return ctx.unsupported("mode '" + mode + "'");
  for (int64_t d = 0; d < rank; ++d)
    if ((before[d] || after[d]) &&
        (x.shape[d] == 0 || (mode == "reflect" && x.shape[d] < 2)))
      return ctx.invalid("cannot " + mode + "-pad a dim of size " +
                         std::to_string(x.shape[d]));
  Value input = ctx.val(0);
  ctx.set(0,
          ctx.gatherMap(
              shape, x.dtype, input,
              [&](OpBuilder &b, Location loc, ValueRange pos) {
                SmallVector<Value> idx;
                for (int64_t d = 0; d < rank; ++d) {
                  int64_t n = x.shape[d];
                  if (!before[d] && !after[d]) {
                    idx.push_back(pos[d]);
                    continue;
                  }
                  Value j = arith::SubIOp::create(
                      b, loc, pos[d], indexConst(b, loc, before[d]));
                  if (mode == "edge") {
                    j = arith::MaxSIOp::create(b, loc, j,
                                               indexConst(b, loc, 0));
                    j = arith::MinSIOp::create(b, loc, j,
                                               indexConst(b, loc, n - 1));
                  } else if (mode == "wrap") {
                    // ((j mod n) + n) mod n
                    Value nn = indexConst(b, loc, n);
                    j = arith::RemSIOp::create(
                        b, loc,
                        arith::AddIOp::create(
                            b, loc, arith::RemSIOp::create(b, loc, j, nn), nn),
                        nn);
                  } else {
                    // Reflect about 0 and n-1 (period 2(n-1)).
                    Value period = indexConst(b, loc, 2 * (n - 1));
                    Value m = arith::RemSIOp::create(
                        b, loc,
                        arith::AddIOp::create(
                            b, loc, arith::RemSIOp::create(b, loc, j, period),
                            period),
                        period);
                    Value mirrored = arith::SubIOp::create(b, loc, period, m);
                    j = arith::MinSIOp::create(b, loc, m, mirrored);
                  }
                  idx.push_back(j);
                }
                return idx;
              }),
          x.dtype);
  return success();
}

LogicalResult lowerTile(OpContext &ctx) {
  TV &x = ctx.in(0);
  auto repeats = ctx.constInts(1);
  if (!repeats)
    return failure();
  if (int64_t(repeats->size()) != x.rank())
    return ctx.invalid("repeats must hold one value per dim");
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if ((*repeats)[d] < 0)
      return ctx.invalid("negative repeat");
    shape.push_back(x.shape[d] * (*repeats)[d]);
  }
  Value input = ctx.val(0);
  ctx.set(
      0,
      ctx.gatherMap(shape, x.dtype, input,
                    [&](OpBuilder &b, Location loc, ValueRange pos) {
                      SmallVector<Value> idx;
                      for (int64_t d = 0; d < x.rank(); ++d)
                        idx.push_back(arith::RemSIOp::create(
                            b, loc, pos[d], indexConst(b, loc, x.shape[d])));
                      return idx;
                    }),
      x.dtype);
  return success();
}

} // namespace

void addShapeLowerings(LoweringTable &t) {
  t["Constant"] = lowerConstant;
  t["Shape"] = lowerShape;
  t["Size"] = lowerSize;
  t["Reshape"] = lowerReshape;
  t["Flatten"] = lowerFlatten;
  t["Squeeze"] = lowerSqueeze;
  t["Unsqueeze"] = lowerUnsqueeze;
  t["Concat"] = lowerConcat;
  t["Split"] = lowerSplit;
  t["Slice"] = lowerSlice;
  t["Gather"] = lowerGather;
  t["GatherElements"] = lowerGatherElements;
  t["Trilu"] = lowerTrilu;
  t["Transpose"] = lowerTranspose;
  t["Expand"] = lowerExpand;
  t["ConstantOfShape"] = lowerConstantOfShape;
  t["Range"] = lowerRange;
  t["Pad"] = lowerPad;
  t["Tile"] = lowerTile;
}

} // namespace modrwkv::onnxfe
