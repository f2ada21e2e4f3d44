//===- ExpandBlocks.cpp - time-mix / channel-mix into primitive ops -------===//

#include "LinalgBuilders.h"
#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Passes/Passes.h"

#include <cmath>

namespace modrwkv {
#define GEN_PASS_DEF_RWKVEXPANDBLOCKS
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using namespace modrwkv;
using namespace modrwkv::rwkv;

namespace {

using Fn = ScalarBody;

/// x W^T, with the Bone adapter `slot` (if any) of that weight.
Value linear(OpBuilder &b, Location loc, Value x, Value w,
             const AdapterSlot *slot = nullptr) {
  auto wType = cast<ShapedType>(w.getType());
  auto xType = cast<ShapedType>(x.getType());
  auto type = RankedTensorType::get({xType.getDimSize(0), wType.getDimSize(0)},
                                    b.getF32Type());
  if (!slot)
    return LinearOp::create(b, loc, type, x, w, Value(), StringAttr());
  return LinearOp::create(b, loc, type, x, w, slot->adapter,
                          b.getStringAttr(slot->variant));
}

/// The adapter slot of projection `target` of a block op, or null.
const AdapterSlot *adapterOf(ArrayRef<AdapterSlot> slots, StringRef target) {
  for (const AdapterSlot &slot : slots)
    if (slot.target == target)
      return &slot;
  return nullptr;
}

Value mul(OpBuilder &b, Location l, Value x, Value y) {
  return arith::MulFOp::create(b, l, x, y);
}
Value add(OpBuilder &b, Location l, Value x, Value y) {
  return arith::AddFOp::create(b, l, x, y);
}
Value sub(OpBuilder &b, Location l, Value x, Value y) {
  return arith::SubFOp::create(b, l, x, y);
}

struct TimeMixExpansion {
  OpBuilder &b;
  Location loc;
  TimeMixOp op;

  Value ew(ArrayRef<MappedInput> inputs, Fn fn) {
    return elementwise(b, loc, op.getX(), inputs, fn);
  }

  void run() {
    SmallVector<AdapterSlot> adapters = getAdapterSlots(op);
    Value x = op.getX();
    int64_t c = cast<ShapedType>(x.getType()).getDimSize(1);
    int64_t heads = c / kHeadSize;
    auto shift = TokenShiftOp::create(
        b, loc, x.getType(), op.getShift().getType(), x, op.getShift());
    Value xs = shift.getShifted();
    auto lerp = [&](Value mu) {
      return LerpOp::create(b, loc, x.getType(), x, xs, mu).getResult();
    };
    Value xr = lerp(op.getXR()), xw = lerp(op.getXW()), xk = lerp(op.getXK()),
          xv = lerp(op.getXV()), xa = lerp(op.getXA()), xg = lerp(op.getXG());

    Value r = linear(b, loc, xr, op.getReceptance(),
                     adapterOf(adapters, "receptance"));
    Value k = linear(b, loc, xk, op.getKey(), adapterOf(adapters, "key"));
    Value v = linear(b, loc, xv, op.getValue(), adapterOf(adapters, "value"));

    // Decay: exp(-exp(-0.5) * sigmoid(w0 + tanh(x_w W1^T) W2^T)).
    Value wLow = linear(b, loc, xw, op.getW1());
    wLow = elementwise(b, loc, wLow, {full(wLow)},
                       [](OpBuilder &nb, Location l, ValueRange a) {
                         return math::TanhOp::create(nb, l, a[0]).getResult();
                       });
    Value wUp = linear(b, loc, wLow, op.getW2());
    double decayScale = -std::exp(-0.5);
    Value w = ew({full(wUp), inner(op.getW0(), 2)},
                 [&](OpBuilder &nb, Location l, ValueRange a) {
                   Value s = sigmoid(nb, l, add(nb, l, a[0], a[1]));
                   return math::ExpOp::create(
                              nb, l, mul(nb, l, s, f32Const(nb, l, decayScale)))
                       .getResult();
                 });

    // In-context learning rate: sigmoid(a0 + (x_a A1^T) A2^T).
    Value aUp = linear(b, loc, linear(b, loc, xa, op.getA1()), op.getA2());
    Value a = ew({full(aUp), inner(op.getA0(), 2)},
                 [](OpBuilder &nb, Location l, ValueRange args) {
                   return sigmoid(nb, l, add(nb, l, args[0], args[1]));
                 });

    // Gate: sigmoid(x_g G1^T) G2^T.
    Value gLow = linear(b, loc, xg, op.getG1());
    gLow = elementwise(b, loc, gLow, {full(gLow)},
                       [](OpBuilder &nb, Location l, ValueRange args) {
                         return sigmoid(nb, l, args[0]);
                       });
    Value g = linear(b, loc, gLow, op.getG2());

    // Value residual from the first layer.
    Value vFirstOut = v;
    if (Value vFirst = op.getVFirst()) {
      ValueRange res = op.getVResidual();
      Value vUp = linear(b, loc, linear(b, loc, xv, res[1]), res[2]);
      v = ew({full(v), full(vFirst), full(vUp), inner(res[0], 2)},
             [](OpBuilder &nb, Location l, ValueRange args) {
               Value gate = sigmoid(nb, l, add(nb, l, args[2], args[3]));
               return add(nb, l, args[0],
                          mul(nb, l, sub(nb, l, args[1], args[0]), gate));
             });
      vFirstOut = vFirst;
    }

    // kk = normalize_per_head(k * k_k), with F.normalize's eps = 1e-12.
    Value kkRaw = ew({full(k), inner(op.getKK(), 2)},
                     [](OpBuilder &nb, Location l, ValueRange args) {
                       return mul(nb, l, args[0], args[1]);
                     });
    Value kk3 = splitChannels(b, loc, kkRaw, heads);
    Value sumSq = reduceInner(b, loc, kk3, {full(kk3)},
                              [](OpBuilder &nb, Location l, ValueRange args) {
                                return mul(nb, l, args[0], args[0]);
                              });
    Value kk = mergeChannels(
        b, loc,
        elementwise(
            b, loc, kk3, {full(kk3), outer(sumSq, 3)},
            [](OpBuilder &nb, Location l, ValueRange args) {
              Value norm = math::SqrtOp::create(nb, l, args[1]);
              norm = arith::MaximumFOp::create(nb, l, norm,
                                               f32Const(nb, l, 1e-12));
              return arith::DivFOp::create(nb, l, args[0], norm).getResult();
            }));

    // k = k * (1 + (a - 1) * k_a).
    Value kScaled =
        ew({full(k), full(a), inner(op.getKA(), 2)},
           [](OpBuilder &nb, Location l, ValueRange args) {
             Value one = f32Const(nb, l, 1.0);
             Value f =
                 add(nb, l, one, mul(nb, l, sub(nb, l, args[1], one), args[2]));
             return mul(nb, l, args[0], f);
           });
    Value negKK =
        ew({full(kk)}, [](OpBuilder &nb, Location l, ValueRange args) {
          return arith::NegFOp::create(nb, l, args[0]).getResult();
        });
    Value kkA =
        ew({full(kk), full(a)}, [](OpBuilder &nb, Location l, ValueRange args) {
          return mul(nb, l, args[0], args[1]);
        });

    auto wkv = Wkv7Op::create(b, loc, x.getType(), op.getState().getType(), r,
                              w, kScaled, v, negKK, kkA, op.getState());
    Value y =
        GroupNormOp::create(b, loc, x.getType(), wkv.getY(), op.getLnXWeight(),
                            op.getLnXBias(), heads, APFloat(64e-5f));

    // Bonus: y + sum_head(r * k * r_k) * v.
    Value r3 = splitChannels(b, loc, r, heads);
    Value k3 = splitChannels(b, loc, kScaled, heads);
    Value rk3 = splitChannels(b, loc, op.getRK(), heads);
    Value bonus =
        reduceInner(b, loc, r3, {full(r3), full(k3), inner(rk3, 3)},
                    [](OpBuilder &nb, Location l, ValueRange args) {
                      return mul(nb, l, mul(nb, l, args[0], args[1]), args[2]);
                    });
    Value y3 = splitChannels(b, loc, y, heads);
    Value v3 = splitChannels(b, loc, v, heads);
    Value yBonus = mergeChannels(
        b, loc,
        elementwise(b, loc, y3,
                    {
                        full(y3),
                        outer(bonus, 3),
                        full(v3),
                    },
                    [](OpBuilder &nb, Location l, ValueRange args) {
                      return add(nb, l, args[0], mul(nb, l, args[1], args[2]));
                    }));
    Value gated = ew({full(yBonus), full(g)},
                     [](OpBuilder &nb, Location l, ValueRange args) {
                       return mul(nb, l, args[0], args[1]);
                     });
    Value out =
        linear(b, loc, gated, op.getOutput(), adapterOf(adapters, "output"));

    replaceWithCasts(b, op,
                     {out, shift.getLast(), wkv.getStateOut(), vFirstOut});
  }
};

void expandChannelMix(OpBuilder &b, ChannelMixOp op) {
  Location loc = op.getLoc();
  Value x = op.getX();
  auto shift = TokenShiftOp::create(b, loc, x.getType(),
                                    op.getShift().getType(), x, op.getShift());
  Value h =
      LerpOp::create(b, loc, x.getType(), x, shift.getShifted(), op.getXK());
  SmallVector<AdapterSlot> adapters = getAdapterSlots(op);
  Value hidden = linear(b, loc, h, op.getKey(), adapterOf(adapters, "key"));
  hidden = elementwise(b, loc, hidden, {full(hidden)},
                       [](OpBuilder &nb, Location l, ValueRange args) {
                         Value relu = arith::MaximumFOp::create(
                             nb, l, args[0], f32Const(nb, l, 0.0));
                         return mul(nb, l, relu, relu);
                       });
  replaceWithCasts(
      b, op,
      {linear(b, loc, hidden, op.getValue(), adapterOf(adapters, "value")),
       shift.getLast()});
}

struct RwkvExpandBlocksPass
    : public modrwkv::impl::RwkvExpandBlocksBase<RwkvExpandBlocksPass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<TimeMixOp, ChannelMixOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      OpBuilder b(op);
      if (auto tm = dyn_cast<TimeMixOp>(op))
        TimeMixExpansion{b, op->getLoc(), tm}.run();
      else
        expandChannelMix(b, cast<ChannelMixOp>(op));
    }
  }
};

} // namespace
