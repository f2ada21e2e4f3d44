//===- ElementwiseOps.cpp - unary, binary and variadic element-wise ops ---===//
//
// All element-wise ops become one linalg.generic with numpy broadcasting.
// Small operands known at import time (shape arithmetic, loop trip counts)
// fold on the host instead, for the ops whose result is exact or correctly
// rounded: each float result is rounded to its element type.
//
//===----------------------------------------------------------------------===//

#include "Lowering.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;

namespace modrwkv::onnxfe {
namespace {

using UnaryFn = std::function<Value(ScalarOps &, OpContext &, Value)>;
using BinaryFn = std::function<Value(ScalarOps &, Value, Value)>;
using HostFn = std::function<double(double, double)>;

/// Position in a broadcast operand of the flat output index `k`.
int64_t broadcastIndex(ArrayRef<int64_t> out, ArrayRef<int64_t> in, int64_t k) {
  int64_t index = 0, stride = 1;
  for (int64_t d = out.size() - 1, j = in.size() - 1; d >= 0; --d, --j) {
    int64_t coord = k % out[d];
    k /= out[d];
    if (j < 0)
      continue;
    if (in[j] != 1)
      index += coord * stride;
    stride *= in[j];
  }
  return index;
}

/// `r` rounded to the element type (float results computed in double).
double roundTo(int32_t dtype, double r) {
  switch (dtype) {
  case kFloat:
    return float(r);
  case kFloat16:
  case kBFloat16: {
    APFloat v(r);
    bool lost;
    v.convert(dtype == kFloat16 ? APFloat::IEEEhalf() : APFloat::BFloat(),
              APFloat::rmNearestTiesToEven, &lost);
    return v.convertToDouble();
  }
  default:
    return r;
  }
}

/// Evaluates a broadcast op on known operands when all are known and small.
bool foldBroadcast(OpContext &ctx, ArrayRef<TV *> inputs, int32_t dtype,
                   ArrayRef<int64_t> shape,
                   const std::function<double(ArrayRef<double>)> &fn) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  if (n > 4096)
    return false;
  for (TV *v : inputs)
    if (!v->known)
      return false;
  Literal out;
  out.isFloat = isFloatType(dtype);
  for (int64_t k = 0; k < n; ++k) {
    SmallVector<double> args;
    for (TV *v : inputs)
      args.push_back(v->known->f(broadcastIndex(shape, v->shape, k)));
    double r = fn(args);
    if (out.isFloat)
      out.floats.push_back(roundTo(dtype, r));
    else
      out.ints.push_back(int64_t(r));
  }
  ctx.setKnown(0, dtype, shape, std::move(out));
  return true;
}

bool foldable(ArrayRef<TV *> inputs) {
  return llvm::all_of(inputs, [](TV *v) { return v->known.has_value(); });
}

LogicalResult lowerUnary(OpContext &ctx, const UnaryFn &fn, bool floatOnly,
                         const std::function<double(double)> &host) {
  TV &x = ctx.in(0);
  if (floatOnly && !isFloatType(x.dtype))
    return ctx.unsupported("element type " + dtypeName(x.dtype));
  int32_t dtype = x.dtype;
  TV *operands[] = {&x};
  if (host && foldable(operands) &&
      foldBroadcast(ctx, operands, dtype, x.shape,
                    [&](ArrayRef<double> a) { return host(a[0]); }))
    return success();
  Value out =
      ctx.broadcastMap(x.shape, dtype, {ctx.val(0)},
                       [&](OpBuilder &b, Location loc, ValueRange args) {
                         ScalarOps s{b, loc, dtype};
                         return fn(s, ctx, args[0]);
                       });
  ctx.set(0, out, dtype);
  return success();
}

template <typename MathOp> UnaryFn mathFn() {
  return [](ScalarOps &s, OpContext &, Value x) {
    return s.viaF32(x, [&](Value v) { return MathOp::create(s.b, s.loc, v); });
  };
}

Value sigmoid(ScalarOps &s, Value x) {
  return s.viaF32(x, [&](Value v) {
    ScalarOps f{s.b, s.loc, kFloat};
    if (v.getType().isF64())
      f.dtype = kDouble;
    Value e = math::ExpOp::create(s.b, s.loc, f.neg(v));
    return f.div(f.constant(1), f.add(f.constant(1), e));
  });
}

/// max(0, x) etc. written once for every float width.
Value select(ScalarOps &s, Value c, Value x, Value y) {
  return arith::SelectOp::create(s.b, s.loc, c, x, y);
}

void addUnary(LoweringTable &t, StringRef name, UnaryFn fn,
              bool floatOnly = true,
              std::function<double(double)> host = nullptr) {
  t[name] = [fn, floatOnly, host](OpContext &ctx) {
    return lowerUnary(ctx, fn, floatOnly, host);
  };
}

LogicalResult lowerBinary(OpContext &ctx, const BinaryFn &fn,
                          const HostFn &host, bool predicate,
                          bool floatOnly = false) {
  TV &x = ctx.in(0), &y = ctx.in(1);
  if (x.dtype != y.dtype)
    return ctx.invalid("operand types differ: " + dtypeName(x.dtype) + " and " +
                       dtypeName(y.dtype));
  if (floatOnly && !isFloatType(x.dtype))
    return ctx.unsupported("element type " + dtypeName(x.dtype));
  auto shape = broadcastShapes(x.shape, y.shape);
  if (!shape)
    return ctx.invalid("operand shapes do not broadcast");
  int32_t dtype = predicate ? kBool : x.dtype;
  TV *operands[] = {&x, &y};
  if (host && foldable(operands) &&
      foldBroadcast(ctx, operands, dtype, *shape,
                    [&](ArrayRef<double> a) { return host(a[0], a[1]); }))
    return success();
  int32_t operandType = x.dtype;
  Value out =
      ctx.broadcastMap(*shape, dtype, {ctx.val(0), ctx.val(1)},
                       [&](OpBuilder &b, Location loc, ValueRange args) {
                         ScalarOps s{b, loc, operandType};
                         return fn(s, args[0], args[1]);
                       });
  ctx.set(0, out, dtype);
  return success();
}

/// `floatHost`: the host fold for float operands where it differs from the
/// integer one (division).
void addBinary(LoweringTable &t, StringRef name, BinaryFn fn,
               HostFn host = nullptr, bool predicate = false,
               HostFn floatHost = nullptr) {
  t[name] = [fn, host, predicate, floatHost](OpContext &ctx) {
    bool useFloat = floatHost && isFloatType(ctx.in(0).dtype);
    return lowerBinary(ctx, fn, useFloat ? floatHost : host, predicate);
  };
}

/// Max, Min, Sum, Mean: a fold of any number of broadcast operands.
LogicalResult lowerVariadic(OpContext &ctx, const BinaryFn &fn, bool mean) {
  SmallVector<int64_t> shape;
  SmallVector<Value> operands;
  int32_t dtype = ctx.in(0).dtype;
  for (size_t i = 0; i < ctx.numInputs(); ++i) {
    TV &v = ctx.in(i);
    if (v.dtype != dtype)
      return ctx.invalid("operand types differ");
    auto s = broadcastShapes(shape, v.shape);
    if (!s)
      return ctx.invalid("operand shapes do not broadcast");
    shape = *s;
    operands.push_back(ctx.val(i));
  }
  if (mean && !isFloatType(dtype))
    return ctx.unsupported("Mean of " + dtypeName(dtype));
  Value out = ctx.broadcastMap(shape, dtype, operands,
                               [&](OpBuilder &b, Location loc, ValueRange a) {
                                 ScalarOps s{b, loc, dtype};
                                 Value acc = a[0];
                                 for (Value v : a.drop_front())
                                   acc = fn(s, acc, v);
                                 if (mean)
                                   acc = s.div(acc, s.constant(a.size()));
                                 return acc;
                               });
  ctx.set(0, out, dtype);
  return success();
}

/// A known tensor's contents cast to `to`; nullopt where a float does not
/// fit an integer (the run-time cast decides those).
std::optional<Literal> foldCast(const TV &x, int32_t to) {
  if (!x.known || x.numElements() > 4096)
    return std::nullopt;
  Literal out;
  out.isFloat = isFloatType(to);
  for (int64_t k = 0; k < x.known->size(); ++k) {
    double v = x.known->f(k);
    if (to == kBool) {
      out.ints.push_back(v != 0);
    } else if (out.isFloat) {
      out.floats.push_back(roundTo(to, v));
    } else if (!x.known->isFloat) {
      out.ints.push_back(x.known->ints[k]);
    } else {
      if (!std::isfinite(v) || std::fabs(v) >= 9.2e18)
        return std::nullopt;
      out.ints.push_back(int64_t(std::trunc(v)));
    }
  }
  return out;
}

/// Casts from or to strings. A string element is the address of a
/// NUL-terminated string (graph.h): text parses with libc's strtof / strtod
/// / strtoll ("NaN", "INF", "-inf" included); numbers become the shortest
/// text that reads back as the same value, from the runtime's
/// modrwkv_string_from_* (malloc'd; the graph's caller frees them).
LogicalResult lowerStringCast(OpContext &ctx, int32_t from, int32_t to) {
  TV &x = ctx.in(0);
  if (from == to) {
    ctx.set(0, x);
    return success();
  }
  int32_t number = from == kString ? to : from;
  if (number == kBool || number == kUInt64 || dtypeBytes(number) == 0)
    return ctx.unsupported("cast from " + dtypeName(from) + " to " +
                           dtypeName(to));
  OpBuilder &b = ctx.b;
  Type ptr = LLVM::LLVMPointerType::get(b.getContext());
  Type i64 = b.getI64Type(), f32 = b.getF32Type(), f64 = b.getF64Type();
  // The libc or runtime function, and the element type it takes or gives.
  bool isFloat = isFloatType(number);
  int32_t via = !isFloat ? kInt64 : number == kDouble ? kDouble : kFloat;
  Type viaType = via == kInt64 ? i64 : via == kDouble ? f64 : f32;
  func::FuncOp fn;
  if (from == kString) {
    StringRef name = via == kInt64   ? "strtoll"
                     : via == kFloat ? "strtof"
                                     : "strtod";
    SmallVector<Type> args = {ptr, ptr};
    if (via == kInt64)
      args.push_back(b.getI32Type()); // base
    fn = ctx.declareFunction(name, b.getFunctionType(args, viaType));
  } else {
    StringRef name = via == kInt64   ? "modrwkv_string_from_i64"
                     : via == kFloat ? "modrwkv_string_from_f32"
                                     : "modrwkv_string_from_f64";
    fn = ctx.declareFunction(name, b.getFunctionType(viaType, ptr));
  }
  Value out = ctx.broadcastMap(
      x.shape, to, {ctx.val(0)},
      [&](OpBuilder &nb, Location loc, ValueRange a) {
        if (from == kString) {
          SmallVector<Value> args = {
              LLVM::IntToPtrOp::create(nb, loc, ptr, a[0]),
              LLVM::ZeroOp::create(nb, loc, ptr)};
          if (via == kInt64)
            args.push_back(arith::ConstantIntOp::create(nb, loc, 10, 32));
          Value parsed = func::CallOp::create(nb, loc, fn, args).getResult(0);
          return ctx.castScalar(nb, loc, parsed, via, to);
        }
        Value wide = ctx.castScalar(nb, loc, a[0], from, via);
        Value text = func::CallOp::create(nb, loc, fn, wide).getResult(0);
        return LLVM::PtrToIntOp::create(nb, loc, i64, text).getResult();
      });
  ctx.set(0, out, to);
  return success();
}

LogicalResult lowerCast(OpContext &ctx, int32_t to) {
  TV &x = ctx.in(0);
  if (to == kString || x.dtype == kString)
    return lowerStringCast(ctx, x.dtype, to);
  if (dtypeBytes(to) == 0 || dtypeBytes(x.dtype) == 0)
    return ctx.unsupported("cast from " + dtypeName(x.dtype) + " to " +
                           dtypeName(to));
  int32_t from = x.dtype;
  if (std::optional<Literal> l = foldCast(x, to)) {
    ctx.setKnown(0, to, x.shape, std::move(*l));
    return success();
  }
  Value out = ctx.broadcastMap(x.shape, to, {ctx.val(0)},
                               [&](OpBuilder &b, Location loc, ValueRange a) {
                                 return ctx.castScalar(b, loc, a[0], from, to);
                               });
  ctx.set(0, out, to);
  return success();
}

LogicalResult lowerWhere(OpContext &ctx) {
  TV &c = ctx.in(0), &x = ctx.in(1), &y = ctx.in(2);
  if (c.dtype != kBool || x.dtype != y.dtype)
    return ctx.invalid("needs a bool condition and operands of one type");
  auto s1 = broadcastShapes(c.shape, x.shape);
  auto shape = s1 ? broadcastShapes(*s1, y.shape) : std::nullopt;
  if (!shape)
    return ctx.invalid("operand shapes do not broadcast");
  TV *operands[] = {&c, &x, &y};
  if (foldable(operands) &&
      foldBroadcast(ctx, operands, x.dtype, *shape,
                    [](ArrayRef<double> a) { return a[0] != 0 ? a[1] : a[2]; }))
    return success();
  Value out = ctx.broadcastMap(
      *shape, x.dtype, {ctx.val(0), ctx.val(1), ctx.val(2)},
      [&](OpBuilder &b, Location loc, ValueRange a) {
        return arith::SelectOp::create(b, loc, a[0], a[1], a[2]).getResult();
      });
  ctx.set(0, out, x.dtype);
  return success();
}

LogicalResult lowerPow(OpContext &ctx) {
  TV &x = ctx.in(0), &y = ctx.in(1);
  auto shape = broadcastShapes(x.shape, y.shape);
  if (!shape)
    return ctx.invalid("operand shapes do not broadcast");
  int32_t base = x.dtype, exponent = y.dtype;
  if (dtypeBytes(base) == 0 || dtypeBytes(exponent) == 0 || base == kBool)
    return ctx.unsupported("element types " + dtypeName(base) + ", " +
                           dtypeName(exponent));
  // Integer powers are computed in float64 (exact below 2^53) and truncated.
  int32_t work = isFloatType(base) ? base : kDouble;
  Value out = ctx.broadcastMap(
      *shape, base, {ctx.val(0), ctx.val(1)},
      [&](OpBuilder &b, Location loc, ValueRange a) {
        ScalarOps s{b, loc, work};
        Value xb = ctx.castScalar(b, loc, a[0], base, work);
        Value yb = ctx.castScalar(b, loc, a[1], exponent, work);
        Value p = s.viaF32(xb, [&](Value v) {
          Value e = v.getType() == yb.getType()
                        ? yb
                        : ctx.castScalar(b, loc, yb, work, kFloat);
          return math::PowFOp::create(b, loc, v, e).getResult();
        });
        return ctx.castScalar(b, loc, p, work, base);
      });
  ctx.set(0, out, base);
  return success();
}

LogicalResult lowerClip(OpContext &ctx) {
  TV &x = ctx.in(0);
  int32_t dtype = x.dtype;
  SmallVector<Value> operands = {ctx.val(0)};
  std::optional<double> lo, hi;
  bool loInput = false, hiInput = false;
  if (ctx.opset < 11) {
    lo = ctx.attrFloat("min", -INFINITY);
    hi = ctx.attrFloat("max", INFINITY);
  } else {
    for (size_t i : {1, 2}) {
      if (!ctx.has(i))
        continue;
      if (ctx.in(i).rank() != 0)
        return ctx.invalid("min and max must be scalars");
      operands.push_back(ctx.val(i));
      (i == 1 ? loInput : hiInput) = true;
    }
  }
  Value out = ctx.broadcastMap(x.shape, dtype, operands,
                               [&](OpBuilder &b, Location loc, ValueRange a) {
                                 ScalarOps s{b, loc, dtype};
                                 Value v = a[0];
                                 size_t next = 1;
                                 if (loInput)
                                   v = s.max(v, a[next++]);
                                 else if (lo && std::isfinite(*lo))
                                   v = s.max(v, s.constant(*lo));
                                 if (hiInput)
                                   v = s.min(v, a[next++]);
                                 else if (hi && std::isfinite(*hi))
                                   v = s.min(v, s.constant(*hi));
                                 return v;
                               });
  ctx.set(0, out, dtype);
  return success();
}

LogicalResult lowerDropout(OpContext &ctx) {
  // Inference: the identity, and an all-true mask.
  if (ctx.has(2)) {
    auto training = ctx.constInts(2);
    if (!training)
      return failure();
    if (!training->empty() && (*training)[0] != 0)
      return ctx.unsupported("training_mode = true (random masks)");
  }
  if (ctx.attrInt("is_test", 1) == 0 && ctx.opset < 7)
    return ctx.unsupported("is_test = 0");
  TV x = ctx.in(0);
  ctx.set(0, x);
  if (ctx.wants(1))
    ctx.set(1, ctx.fill(x.shape, kBool, ctx.scalar(kBool, 1)), kBool);
  return success();
}

LogicalResult lowerPRelu(OpContext &ctx) {
  TV &x = ctx.in(0), &slope = ctx.in(1);
  auto shape = broadcastShapes(x.shape, slope.shape);
  if (!shape || *shape != ArrayRef<int64_t>(x.shape))
    return ctx.invalid("slope does not broadcast to the input");
  int32_t dtype = x.dtype;
  Value out =
      ctx.broadcastMap(x.shape, dtype, {ctx.val(0), ctx.val(1)},
                       [&](OpBuilder &b, Location loc, ValueRange a) {
                         ScalarOps s{b, loc, dtype};
                         return select(s, s.compare("lt", a[0], s.constant(0)),
                                       s.mul(a[0], a[1]), a[0]);
                       });
  ctx.set(0, out, dtype);
  return success();
}

LogicalResult lowerMod(OpContext &ctx) {
  bool fmod = ctx.attrInt("fmod", 0);
  int32_t dtype = ctx.in(0).dtype;
  if (isFloatType(dtype) && !fmod)
    return ctx.invalid("floating-point Mod needs fmod = 1");
  return lowerBinary(
      ctx,
      [fmod](ScalarOps &s, Value x, Value y) -> Value {
        if (s.isFloat())
          return arith::RemFOp::create(s.b, s.loc, x, y);
        if (s.isUnsigned())
          return arith::RemUIOp::create(s.b, s.loc, x, y);
        Value r = arith::RemSIOp::create(s.b, s.loc, x, y);
        if (fmod)
          return r;
        // Python-style: the remainder takes the divisor's sign.
        Value zero = s.constant(0);
        Value signsDiffer = arith::XOrIOp::create(
            s.b, s.loc, s.compare("lt", r, zero), s.compare("lt", y, zero));
        Value adjust = arith::AndIOp::create(
            s.b, s.loc, signsDiffer,
            arith::CmpIOp::create(s.b, s.loc, arith::CmpIPredicate::ne, r,
                                  zero));
        return select(s, adjust, s.add(r, y), r);
      },
      nullptr, false);
}

} // namespace

void addElementwiseLowerings(LoweringTable &t) {
  addUnary(t, "Sqrt", mathFn<math::SqrtOp>());
  addUnary(t, "Exp", mathFn<math::ExpOp>());
  addUnary(t, "Log", mathFn<math::LogOp>());
  addUnary(t, "Tanh", mathFn<math::TanhOp>());
  addUnary(t, "Erf", mathFn<math::ErfOp>());
  addUnary(t, "Sin", mathFn<math::SinOp>());
  addUnary(t, "Cos", mathFn<math::CosOp>());
  addUnary(t, "Tan", mathFn<math::TanOp>());
  addUnary(t, "Asin", mathFn<math::AsinOp>());
  addUnary(t, "Acos", mathFn<math::AcosOp>());
  addUnary(t, "Atan", mathFn<math::AtanOp>());
  addUnary(t, "Sinh", mathFn<math::SinhOp>());
  addUnary(t, "Cosh", mathFn<math::CoshOp>());
  addUnary(t, "Asinh", mathFn<math::AsinhOp>());
  addUnary(t, "Acosh", mathFn<math::AcoshOp>());
  addUnary(t, "Atanh", mathFn<math::AtanhOp>());
  addUnary(t, "Floor", mathFn<math::FloorOp>(), true,
           [](double x) { return std::floor(x); });
  addUnary(t, "Ceil", mathFn<math::CeilOp>(), true,
           [](double x) { return std::ceil(x); });
  addUnary(t, "Round", mathFn<math::RoundEvenOp>(), true,
           [](double x) { return std::nearbyint(x); });
  addUnary(t, "Sigmoid",
           [](ScalarOps &s, OpContext &, Value x) { return sigmoid(s, x); });
  addUnary(t, "Reciprocal", [](ScalarOps &s, OpContext &, Value x) {
    return s.div(s.constant(1), x);
  });
  addUnary(
      t, "Abs",
      [](ScalarOps &s, OpContext &, Value x) -> Value {
        if (s.isFloat())
          return math::AbsFOp::create(s.b, s.loc, x);
        if (s.isUnsigned())
          return x;
        return math::AbsIOp::create(s.b, s.loc, x);
      },
      false, [](double x) { return std::fabs(x); });
  addUnary(
      t, "Neg", [](ScalarOps &s, OpContext &, Value x) { return s.neg(x); },
      false, [](double x) { return -x; });
  addUnary(
      t, "Sign",
      [](ScalarOps &s, OpContext &, Value x) {
        Value zero = s.constant(0);
        Value pos = select(s, s.compare("gt", x, zero), s.constant(1), zero);
        return select(s, s.compare("lt", x, zero), s.constant(-1), pos);
      },
      false);
  addUnary(
      t, "Relu",
      [](ScalarOps &s, OpContext &, Value x) {
        return select(s, s.compare("gt", x, s.constant(0)), x, s.constant(0));
      },
      false, [](double x) { return x > 0 ? x : 0; });
  addUnary(t, "LeakyRelu", [](ScalarOps &s, OpContext &ctx, Value x) {
    Value alpha = s.constant(ctx.attrFloat("alpha", 0.01));
    return select(s, s.compare("lt", x, s.constant(0)), s.mul(alpha, x), x);
  });
  addUnary(t, "ThresholdedRelu", [](ScalarOps &s, OpContext &ctx, Value x) {
    Value alpha = s.constant(ctx.attrFloat("alpha", 1.0));
    return select(s, s.compare("gt", x, alpha), x, s.constant(0));
  });
  auto expm1 = [](ScalarOps &s, Value x) {
    return s.viaF32(x, [&](Value v) {
      return math::ExpM1Op::create(s.b, s.loc, v).getResult();
    });
  };
  addUnary(t, "Elu", [expm1](ScalarOps &s, OpContext &ctx, Value x) {
    Value alpha = s.constant(ctx.attrFloat("alpha", 1.0));
    return select(s, s.compare("lt", x, s.constant(0)),
                  s.mul(alpha, expm1(s, x)), x);
  });
  addUnary(t, "Celu", [expm1](ScalarOps &s, OpContext &ctx, Value x) {
    Value alpha = s.constant(ctx.attrFloat("alpha", 1.0));
    Value scaled = s.mul(alpha, expm1(s, s.div(x, alpha)));
    return s.add(s.max(s.constant(0), x), s.min(s.constant(0), scaled));
  });
  addUnary(t, "Selu", [expm1](ScalarOps &s, OpContext &ctx, Value x) {
    Value alpha = s.constant(ctx.attrFloat("alpha", 1.67326319217681884765625));
    Value gamma = s.constant(ctx.attrFloat("gamma", 1.05070102214813232421875));
    Value negative = s.mul(alpha, expm1(s, x));
    return s.mul(gamma,
                 select(s, s.compare("gt", x, s.constant(0)), x, negative));
  });
  addUnary(t, "HardSigmoid", [](ScalarOps &s, OpContext &ctx, Value x) {
    Value alpha = s.constant(ctx.attrFloat("alpha", 0.2));
    Value beta = s.constant(ctx.attrFloat("beta", 0.5));
    Value y = s.add(s.mul(alpha, x), beta);
    return s.max(s.constant(0), s.min(s.constant(1), y));
  });
  addUnary(t, "HardSwish", [](ScalarOps &s, OpContext &, Value x) {
    Value y = s.add(s.mul(s.constant(1.0 / 6), x), s.constant(0.5));
    return s.mul(x, s.max(s.constant(0), s.min(s.constant(1), y)));
  });
  addUnary(t, "Softplus", [](ScalarOps &s, OpContext &, Value x) {
    return s.viaF32(x, [&](Value v) {
      return math::Log1pOp::create(s.b, s.loc,
                                   math::ExpOp::create(s.b, s.loc, v))
          .getResult();
    });
  });
  addUnary(t, "Softsign", [](ScalarOps &s, OpContext &, Value x) {
    Value a = math::AbsFOp::create(s.b, s.loc, x);
    return s.div(x, s.add(s.constant(1), a));
  });
  addUnary(t, "Gelu", [](ScalarOps &s, OpContext &ctx, Value x) {
    bool tanh = ctx.attrString("approximate", "none") == "tanh";
    return s.viaF32(x, [&](Value v) {
      ScalarOps f{s.b, s.loc, v.getType().isF64() ? kDouble : kFloat};
      Value half = f.mul(f.constant(0.5), v);
      Value inner;
      if (tanh) {
        Value cube = f.mul(f.mul(v, v), v);
        Value arg = f.mul(f.constant(std::sqrt(2 / M_PI)),
                          f.add(v, f.mul(f.constant(0.044715), cube)));
        inner = math::TanhOp::create(s.b, s.loc, arg);
      } else {
        inner =
            math::ErfOp::create(s.b, s.loc, f.mul(v, f.constant(M_SQRT1_2)));
      }
      return f.mul(half, f.add(f.constant(1), inner));
    });
  });
  t["IsNaN"] = [](OpContext &ctx) {
    TV &x = ctx.in(0);
    Value out = ctx.broadcastMap(x.shape, kBool, {ctx.val(0)},
                                 [&](OpBuilder &b, Location loc, ValueRange a) {
                                   return arith::CmpFOp::create(
                                              b, loc, arith::CmpFPredicate::UNO,
                                              a[0], a[0])
                                       .getResult();
                                 });
    ctx.set(0, out, kBool);
    return success();
  };
  t["IsInf"] = [](OpContext &ctx) {
    TV &x = ctx.in(0);
    bool neg = ctx.attrInt("detect_negative", 1),
         pos = ctx.attrInt("detect_positive", 1);
    int32_t dtype = x.dtype;
    Value out = ctx.broadcastMap(
        x.shape, kBool, {ctx.val(0)},
        [&](OpBuilder &b, Location loc, ValueRange a) {
          ScalarOps s{b, loc, dtype};
          Value r = s.compare("eq", a[0], s.constant(INFINITY));
          Value n = s.compare("eq", a[0], s.constant(-INFINITY));
          Value no = arith::ConstantOp::create(b, loc, b.getBoolAttr(false));
          return arith::OrIOp::create(b, loc, pos ? r : no, neg ? n : no)
              .getResult();
        });
    ctx.set(0, out, kBool);
    return success();
  };
  t["Not"] = [](OpContext &ctx) {
    TV &x = ctx.in(0);
    if (x.dtype != kBool)
      return ctx.invalid("Not needs bool");
    TV *operands[] = {&x};
    if (foldable(operands) &&
        foldBroadcast(ctx, operands, kBool, x.shape,
                      [](ArrayRef<double> a) { return a[0] == 0 ? 1 : 0; }))
      return success();
    Value out = ctx.broadcastMap(
        x.shape, kBool, {ctx.val(0)},
        [&](OpBuilder &b, Location loc, ValueRange a) {
          Value one = arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
          return arith::XOrIOp::create(b, loc, a[0], one).getResult();
        });
    ctx.set(0, out, kBool);
    return success();
  };
  t["Identity"] = [](OpContext &ctx) {
    ctx.set(0, ctx.in(0));
    return success();
  };

  addBinary(
      t, "Add", [](ScalarOps &s, Value x, Value y) { return s.add(x, y); },
      [](double x, double y) { return x + y; });
  addBinary(
      t, "Sub", [](ScalarOps &s, Value x, Value y) { return s.sub(x, y); },
      [](double x, double y) { return x - y; });
  addBinary(
      t, "Mul", [](ScalarOps &s, Value x, Value y) { return s.mul(x, y); },
      [](double x, double y) { return x * y; });
  addBinary(
      t, "Div", [](ScalarOps &s, Value x, Value y) { return s.div(x, y); },
      [](double x, double y) { return y == 0 ? 0 : std::trunc(x / y); }, false,
      [](double x, double y) { return x / y; });
  addBinary(
      t, "Equal",
      [](ScalarOps &s, Value x, Value y) { return s.compare("eq", x, y); },
      [](double x, double y) { return double(x == y); }, true);
  addBinary(
      t, "Less",
      [](ScalarOps &s, Value x, Value y) { return s.compare("lt", x, y); },
      [](double x, double y) { return double(x < y); }, true);
  addBinary(
      t, "LessOrEqual",
      [](ScalarOps &s, Value x, Value y) { return s.compare("le", x, y); },
      nullptr, true);
  addBinary(
      t, "Greater",
      [](ScalarOps &s, Value x, Value y) { return s.compare("gt", x, y); },
      [](double x, double y) { return double(x > y); }, true);
  addBinary(
      t, "GreaterOrEqual",
      [](ScalarOps &s, Value x, Value y) { return s.compare("ge", x, y); },
      nullptr, true);
  addBinary(
      t, "And",
      [](ScalarOps &s, Value x, Value y) {
        return arith::AndIOp::create(s.b, s.loc, x, y).getResult();
      },
      [](double x, double y) { return double(x != 0 && y != 0); });
  addBinary(
      t, "Or",
      [](ScalarOps &s, Value x, Value y) {
        return arith::OrIOp::create(s.b, s.loc, x, y).getResult();
      },
      [](double x, double y) { return double(x != 0 || y != 0); });
  addBinary(t, "Xor", [](ScalarOps &s, Value x, Value y) {
    return arith::XOrIOp::create(s.b, s.loc, x, y).getResult();
  });
  t["BitShift"] = [](OpContext &ctx) {
    bool left = ctx.attrString("direction", "") == "LEFT";
    return lowerBinary(
        ctx,
        [left](ScalarOps &s, Value x, Value y) -> Value {
          if (left)
            return arith::ShLIOp::create(s.b, s.loc, x, y);
          return arith::ShRUIOp::create(s.b, s.loc, x, y);
        },
        nullptr, false);
  };
  t["Max"] = [](OpContext &ctx) {
    return lowerVariadic(
        ctx, [](ScalarOps &s, Value x, Value y) { return s.max(x, y); }, false);
  };
  t["Min"] = [](OpContext &ctx) {
    return lowerVariadic(
        ctx, [](ScalarOps &s, Value x, Value y) { return s.min(x, y); }, false);
  };
  t["Sum"] = [](OpContext &ctx) {
    return lowerVariadic(
        ctx, [](ScalarOps &s, Value x, Value y) { return s.add(x, y); }, false);
  };
  t["Mean"] = [](OpContext &ctx) {
    return lowerVariadic(
        ctx, [](ScalarOps &s, Value x, Value y) { return s.add(x, y); }, true);
  };
  t["Cast"] = [](OpContext &ctx) {
    return lowerCast(ctx, ctx.attrInt("to", kUndefined));
  };
  t["CastLike"] = [](OpContext &ctx) {
    return lowerCast(ctx, ctx.in(1).dtype);
  };
  t["Where"] = lowerWhere;
  t["Pow"] = lowerPow;
  t["Clip"] = lowerClip;
  t["Dropout"] = lowerDropout;
  t["PRelu"] = lowerPRelu;
  t["Mod"] = lowerMod;
}

} // namespace modrwkv::onnxfe
