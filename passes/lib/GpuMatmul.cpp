//===- GpuMatmul.cpp - x W^T products as warp-per-row kernels -------------===//
//
// The plain loop lowering gives each thread one y[t, n]: a warp's load then
// touches 32 W rows, and every FMA waits on two loads and a store of y. Here
// a warp walks one W row with consecutive addresses, keeps a tile of
// tokens' partial sums in registers, and reduces them with shuffles: decode
// (T = 1) streams W at memory speed, prefill reads W once per tile.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "GpuBuilders.h"
#include "LinalgBuilders.h"
#include "Products.h"

#include "mlir/IR/Matchers.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVGPUMATMUL
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using modrwkv::indexConstant;
using modrwkv::kWarp;
using modrwkv::Product;

namespace {

constexpr int64_t kVector = 4;

/// Whether `buffer` starts on a 16-byte boundary: a fresh allocation (device
/// allocations are 256-byte aligned) or a view of a function argument (the
/// weights, uploaded whole) at a constant shift that is a multiple of 16.
bool aligned16(Value buffer) {
  if (buffer.getDefiningOp<memref::AllocOp>())
    return true;
  auto view = buffer.getDefiningOp<memref::ViewOp>();
  APInt shift;
  return view && isa<BlockArgument>(view.getSource()) &&
         matchPattern(view.getByteShift(), m_ConstantInt(&shift)) &&
         shift.urem(16) == 0;
}

class Emitter {
public:
  Emitter(const Product &p, Location loc, int64_t vector, int64_t unroll,
          std::optional<Value> init)
      : p(p), loc(loc), vector(vector), unroll(unroll), yInit(init) {}

  /// The launch, in place of the product.
  void emit(OpBuilder &b, int64_t warps, int64_t tile) {
    Value tokens = memref::DimOp::create(b, loc, p.x, 0);
    Value gridY = arith::MaxUIOp::create(
        b, loc,
        arith::CeilDivUIOp::create(b, loc, tokens, indexConstant(b, loc, tile)),
        indexConstant(b, loc, 1));
    modrwkv::WarpLaunch w = modrwkv::createWarpLaunch(
        b, loc, indexConstant(b, loc, p.rows), gridY, warps);
    OpBuilder &kb = w.body;
    Value n = w.item, lane = w.lane;
    Value t0 = arith::MulIOp::create(kb, loc, w.launch.getBlockIds().y,
                                     indexConstant(kb, loc, tile));
    Value rest = arith::SubIOp::create(kb, loc, tokens, t0);
    Value full = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::uge, rest,
                                       indexConstant(kb, loc, tile));
    auto split = scf::IfOp::create(kb, loc, full, /*withElse=*/true);
    OpBuilder tb = OpBuilder::atBlockBegin(split.thenBlock());
    tileBody(tb, t0, tile, n, lane);
    OpBuilder eb = OpBuilder::atBlockBegin(split.elseBlock());
    auto each = scf::ForOp::create(eb, loc, indexConstant(eb, loc, 0), rest,
                                   indexConstant(eb, loc, 1));
    OpBuilder fb = OpBuilder::atBlockBegin(each.getBody());
    tileBody(fb, arith::AddIOp::create(fb, loc, t0, each.getInductionVar()), 1,
             n, lane);
  }

private:
  /// y[t0 + j, n] += x[t0 + j, :] . W[n, :] for j < m, by one warp.
  void tileBody(OpBuilder &b, Value t0, int64_t m, Value n, Value lane) {
    Type f32 = b.getF32Type();
    auto accType = VectorType::get({vector}, f32);
    auto wType = VectorType::get(
        {vector}, cast<MemRefType>(p.w.getType()).getElementType());
    llvm::MaybeAlign xAlign(4 * vector);
    llvm::MaybeAlign wAlign(wType.getElementTypeBitWidth() / 8 * vector);
    Value zero = arith::ConstantOp::create(
        b, loc, accType, DenseElementsAttr::get(accType, 0.0f));
    SmallVector<Value> tokens, init(m, zero);
    for (int64_t j = 0; j < m; ++j)
      tokens.push_back(
          j ? arith::AddIOp::create(b, loc, t0, indexConstant(b, loc, j))
                  .getResult()
            : t0);

    Value start =
        arith::MulIOp::create(b, loc, lane, indexConstant(b, loc, vector));
    auto loop = scf::ForOp::create(
        b, loc, start, indexConstant(b, loc, p.depth),
        indexConstant(b, loc, kWarp * vector * unroll), init);
    OpBuilder lb = OpBuilder::atBlockBegin(loop.getBody());
    SmallVector<Value> acc(loop.getRegionIterArgs());
    for (int64_t u = 0; u < unroll; ++u) {
      Value kk =
          u ? arith::AddIOp::create(lb, loc, loop.getInductionVar(),
                                    indexConstant(lb, loc, u * kWarp * vector))
                  .getResult()
            : loop.getInductionVar();
      Value w = vector::LoadOp::create(lb, loc, wType, p.w, ValueRange{n, kk},
                                       false, wAlign);
      w = modrwkv::widen(lb, loc, accType, w);
      for (int64_t j = 0; j < m; ++j) {
        Value x = vector::LoadOp::create(
            lb, loc, accType, p.x, ValueRange{tokens[j], kk}, false, xAlign);
        acc[j] = vector::FMAOp::create(lb, loc, x, w, acc[j]);
      }
    }
    scf::YieldOp::create(lb, loc, acc);

    Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane,
                                        indexConstant(b, loc, 0));
    for (int64_t j = 0; j < m; ++j) {
      Value sum = modrwkv::warpSum(
          b, loc,
          vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                      loop.getResult(j)));
      auto write = scf::IfOp::create(b, loc, first, /*withElse=*/false);
      OpBuilder wb = OpBuilder::atBlockBegin(write.thenBlock());
      SmallVector<Value, 2> at{tokens[j], n};
      Value old = yInit ? *yInit : memref::LoadOp::create(wb, loc, p.y, at);
      memref::StoreOp::create(wb, loc, arith::AddFOp::create(wb, loc, old, sum),
                              p.y, at);
    }
  }

  const Product &p;
  Location loc;
  int64_t vector, unroll;
  std::optional<Value> yInit; ///< y's scalar initial value, when known
};

struct RwkvGpuMatmulPass
    : public modrwkv::impl::RwkvGpuMatmulBase<RwkvGpuMatmulPass> {
  using Base::Base;

  void runOnOperation() override {
    if (warpsPerBlock < 1 || warpsPerBlock > 32 || tileTokens < 1 ||
        unroll < 1) {
      getOperation().emitError("rwkv-gpu-matmul: warps-per-block must be in "
                               "[1, 32], tile-tokens and unroll >= 1");
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::GenericOp, Product>> products;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (auto p = modrwkv::matchProduct(op))
        products.push_back({op, *p});
    });
    for (auto &[op, p] : products) {
      auto x = cast<MemRefType>(p.x.getType());
      auto w = cast<MemRefType>(p.w.getType());
      bool wide = p.depth % (kWarp * kVector) == 0 &&
                  x.getLayout().isIdentity() && w.getLayout().isIdentity() &&
                  aligned16(p.x) && aligned16(p.w);
      int64_t vector = wide ? kVector : 1, u = unroll;
      while (u > 1 && p.depth % (kWarp * vector * u) != 0)
        --u;
      std::optional<Value> init = modrwkv::takeScalarInit(op, p.y);
      OpBuilder b(op);
      Emitter(p, op.getLoc(), vector, u, init)
          .emit(b, warpsPerBlock, tileTokens);
      op.erase();
    }
  }
};

} // namespace
