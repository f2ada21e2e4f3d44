//===- GpuMatmul.cpp - x W^T products as warp-per-row kernels -------------===//
//
// The plain loop lowering gives each thread one y[t, n]: a warp's load then
// touches 32 W rows, and every FMA waits on two loads and a store of y. Here
// a warp walks one W row with consecutive addresses, keeps a tile of
// tokens' partial sums in registers, and reduces them with shuffles: decode
// (T = 1) streams W at memory speed, prefill reads W once per tile. Many
// tokens at once are better served by cuBLAS (tensor cores, W read once):
// with `blas` the host code picks one of the two paths per call.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "modrwkv/Dialect/RwkvGpu/RwkvGpuDialect.h"

#include "Buffers.h"
#include "GpuBuilders.h"
#include "LinalgBuilders.h"
#include "Products.h"

#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

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
  /// Lane 0 stores init + sum into y, init being `scalar` when given, else
  /// the element of `base` when given, else y's own.
  Emitter(const Product &p, Location loc, int64_t vector, int64_t unroll,
          std::optional<Value> scalar, Value base)
      : p(p), loc(loc), vector(vector), unroll(unroll), yInit(scalar),
        base(base ? base : p.y) {}

  /// The launch, in place of the product; with `skip` (i1) set, an empty
  /// grid.
  void emit(OpBuilder &b, int64_t warps, int64_t tile, Value skip) {
    Value tokens = memref::DimOp::create(b, loc, p.x, 0);
    Value gridY = arith::MaxUIOp::create(
        b, loc,
        arith::CeilDivUIOp::create(b, loc, tokens, indexConstant(b, loc, tile)),
        indexConstant(b, loc, 1));
    if (skip)
      gridY = arith::SelectOp::create(b, loc, skip, indexConstant(b, loc, 0),
                                      gridY);
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
      Value old = yInit ? *yInit : memref::LoadOp::create(wb, loc, base, at);
      memref::StoreOp::create(wb, loc, arith::AddFOp::create(wb, loc, old, sum),
                              p.y, at);
    }
  }

  const Product &p;
  Location loc;
  int64_t vector, unroll;
  std::optional<Value> yInit; ///< y's scalar initial value, when known
  Value base;                 ///< else where the initial values are
};

/// x (its first rows) as hi + lo, both bf16: hi = bf16(x), lo = bf16(x -
/// hi), an element-wise generic (a kernel of its own later, with no blocks
/// for 0 rows). hi W^T + lo W^T keeps about 16 bits of x (bf16(x) alone, 8,
/// moves a small model's logits by 2% of their spread).
std::pair<Value, Value> splitToBf16(OpBuilder &b, Location loc, Value x,
                                    Value rows, int64_t depth) {
  Type bf16 = b.getBF16Type();
  auto type = MemRefType::get({ShapedType::kDynamic, depth}, bf16);
  Value hi = memref::AllocOp::create(b, loc, type, ValueRange{rows});
  Value lo = memref::AllocOp::create(b, loc, type, ValueRange{rows});
  AffineMap id = b.getMultiDimIdentityMap(2);
  linalg::GenericOp::create(
      b, loc, ValueRange{x}, ValueRange{hi, lo},
      ArrayRef<AffineMap>{id, id, id},
      ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                    utils::IteratorType::parallel},
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value high = arith::TruncFOp::create(nb, l, bf16, args[0]);
        Value rest = arith::SubFOp::create(
            nb, l, args[0],
            arith::ExtFOp::create(nb, l, nb.getF32Type(), high));
        linalg::YieldOp::create(
            nb, l,
            ValueRange{high, arith::TruncFOp::create(nb, l, bf16, rest)});
      });
  return {hi, lo};
}

/// The cuBLAS path of `p` (see the pass description); returns whether it
/// runs (i1), for the kernel to skip. With `base`, y = base + x W^T (base
/// copied into y first).
Value emitLibraryPath(OpBuilder &b, Location loc, const Product &p,
                      bool accumulate, Value base, int64_t minTokens) {
  Value tokens = memref::DimOp::create(b, loc, p.x, 0);
  Value least = modrwkv::rwkv_gpu::BlasMinTokensOp::create(
      b, loc, b.getIndexType(), minTokens);
  Value use =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, tokens, least);
  Value rows =
      arith::SelectOp::create(b, loc, use, tokens, indexConstant(b, loc, 0));
  auto firstRows = [&](Value buffer) {
    int64_t cols = cast<MemRefType>(buffer.getType()).getDimSize(1);
    return memref::SubViewOp::create(
        b, loc, buffer,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{rows, b.getIndexAttr(cols)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  };
  Value y = firstRows(p.y);
  if (base) {
    linalg::CopyOp::create(b, loc, firstRows(base).getResult(), y);
    accumulate = true;
  }
  auto gemm = [&](Value x, bool accumulate) {
    modrwkv::rwkv_gpu::GemmOp::create(b, loc, /*asyncToken=*/Type(),
                                      ValueRange{}, x, p.w, y, accumulate);
  };
  if (!cast<MemRefType>(p.w.getType()).getElementType().isBF16()) {
    gemm(firstRows(p.x), accumulate);
    return use;
  }
  auto [hi, lo] = splitToBf16(b, loc, firstRows(p.x), rows, p.depth);
  gemm(hi, accumulate);
  gemm(lo, /*accumulate=*/true);
  memref::DeallocOp::create(b, loc, hi);
  memref::DeallocOp::create(b, loc, lo);
  return use;
}

/// Whether cuBLAS can compute `p`: W f32 or bf16, rows of x and y of static
/// length (for their first-rows views), y row-major, and y set to 0 before
/// (`init`) or holding what the product adds to (no `init`).
bool libraryCan(const Product &p, std::optional<Value> init) {
  Type w = cast<MemRefType>(p.w.getType()).getElementType();
  auto x = cast<MemRefType>(p.x.getType());
  auto y = cast<MemRefType>(p.y.getType());
  return (w.isF32() || w.isBF16()) && !x.isDynamicDim(1) &&
         !y.isDynamicDim(1) && y.isLastDimUnitStride() &&
         (!init || matchPattern(*init, m_AnyZeroFloat()));
}

/// out = a + y, by an element-wise generic after the product that is the
/// only reader of y, a fresh buffer.
struct Residual {
  linalg::GenericOp add;
  Value a, out;
};

/// The residual add that the product (y set to 0 before it) can compute
/// itself, storing a + sum into out in the add's place: nothing between
/// the two touches x, a or out, and out is not what the product reads.
std::optional<Residual> residualAdd(linalg::GenericOp product,
                                    const Product &p) {
  if (!p.y.getDefiningOp<memref::AllocOp>())
    return std::nullopt;
  linalg::GenericOp add;
  for (Operation *user : p.y.getUsers()) {
    if (user == product.getOperation() || isa<memref::DeallocOp>(user))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic || add)
      return std::nullopt;
    add = generic;
  }
  if (!add || add->getBlock() != product->getBlock() ||
      !add.hasPureBufferSemantics() || add.getNumDpsInputs() != 2 ||
      add.getNumDpsInits() != 1 ||
      add.getNumParallelLoops() != add.getNumLoops() ||
      !llvm::all_of(add.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return std::nullopt;
  Block &body = *add.getBlock();
  auto sum = cast<linalg::YieldOp>(body.getTerminator())
                 .getOperand(0)
                 .getDefiningOp<arith::AddFOp>();
  if (body.getOperations().size() != 2 || !sum ||
      !llvm::is_contained({sum.getLhs(), sum.getRhs()}, body.getArgument(0)) ||
      !llvm::is_contained({sum.getLhs(), sum.getRhs()}, body.getArgument(1)))
    return std::nullopt;
  ValueRange ins = add.getDpsInputs();
  Value a = ins[0] == p.y ? ins[1] : ins[0], out = add.getDpsInits()[0];
  if (a == p.y || cast<MemRefType>(a.getType()).isDynamicDim(1))
    return std::nullopt;
  llvm::SmallPtrSet<Value, 8> watched =
      modrwkv::aliases(modrwkv::rootBuffer(a));
  for (Value v : {out, p.x})
    watched.insert_range(modrwkv::aliases(modrwkv::rootBuffer(v)));
  for (Operation *op = product->getNextNode(); op != add.getOperation();
       op = op->getNextNode())
    if (!isMemoryEffectFree(op) && modrwkv::touches(op, watched))
      return std::nullopt;
  Value root = modrwkv::rootBuffer(out);
  if (root == modrwkv::rootBuffer(p.x) || root == modrwkv::rootBuffer(p.w) ||
      (root == modrwkv::rootBuffer(a) && out != a))
    return std::nullopt;
  return Residual{add, a, out};
}

struct RwkvGpuMatmulPass
    : public modrwkv::impl::RwkvGpuMatmulBase<RwkvGpuMatmulPass> {
  using Base::Base;

  void runOnOperation() override {
    if (warpsPerBlock < 1 || warpsPerBlock > 32 || tileTokens < 1 ||
        unroll < 1 || blasMinTokens < 1) {
      getOperation().emitError(
          "rwkv-gpu-matmul: warps-per-block must be in [1, 32], tile-tokens, "
          "unroll and blas-min-tokens >= 1");
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
      // y = 0 + x W^T feeding only out = a + y: out = a + x W^T directly.
      std::optional<Residual> residual;
      if (init && matchPattern(*init, m_AnyZeroFloat()))
        residual = residualAdd(op, p);
      Value base;
      Operation *at = op;
      Value y = p.y;
      if (residual) {
        base = residual->a;
        p.y = residual->out;
        init.reset();
        at = residual->add;
      }
      OpBuilder b(at);
      Value skip =
          blas && libraryCan(p, init)
              ? emitLibraryPath(b, op.getLoc(), p, /*accumulate=*/!init, base,
                                blasMinTokens)
              : Value();
      Emitter(p, op.getLoc(), vector, u, init, base)
          .emit(b, warpsPerBlock, tileTokens, skip);
      op.erase();
      if (residual) {
        residual->add.erase();
        for (Operation *user : llvm::make_early_inc_range(y.getUsers()))
          user->erase(); // its deallocations
        y.getDefiningOp()->erase();
      }
    }
  }
};

} // namespace
