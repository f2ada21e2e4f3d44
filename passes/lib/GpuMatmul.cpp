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

/// An element-wise generic that a product (y set to 0 before it) applies
/// itself, in the generic's place: y's only reader, taking y[t, n] as
/// `y`; its other operands are read at (t, n) through their maps.
struct Epilogue {
  linalg::GenericOp op;
  OpOperand *y;
};

class Emitter {
public:
  /// Lane 0 stores init + sum into y, init being `scalar` when given, else
  /// y's own element; with `epilogue`, it stores what the epilogue makes of
  /// init + sum into the epilogue's outputs instead.
  Emitter(const Product &p, Location loc, int64_t vector, int64_t unroll,
          std::optional<Value> scalar, const Epilogue *epilogue)
      : p(p), loc(loc), vector(vector), unroll(unroll), yInit(scalar),
        epilogue(epilogue) {}

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
      Value old = yInit ? *yInit : memref::LoadOp::create(wb, loc, p.y, at);
      Value y = arith::AddFOp::create(wb, loc, old, sum);
      if (epilogue)
        modrwkv::applyAtPoint(wb, loc, epilogue->op, epilogue->y, y, at);
      else
        memref::StoreOp::create(wb, loc, y, p.y, at);
    }
  }

  const Product &p;
  Location loc;
  int64_t vector, unroll;
  std::optional<Value> yInit; ///< y's scalar initial value, when known
  const Epilogue *epilogue;
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

/// The first `rows` rows of `buffer`, which `op` reads or writes through
/// `map`: the dimensions that map to the loop over tokens (d0) are cut.
Value firstRows(OpBuilder &b, Location loc, Value buffer, AffineMap map,
                Value rows) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<OpFoldResult> offsets, sizes, strides;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    offsets.push_back(b.getIndexAttr(0));
    strides.push_back(b.getIndexAttr(1));
    if (map.getResult(d) == b.getAffineDimExpr(0))
      sizes.push_back(rows);
    else if (type.isDynamicDim(d))
      sizes.push_back(memref::DimOp::create(b, loc, buffer, d).getResult());
    else
      sizes.push_back(b.getIndexAttr(type.getDimSize(d)));
  }
  return memref::SubViewOp::create(b, loc, buffer, offsets, sizes, strides);
}

/// Whether `p` takes the cuBLAS path this call (i1): x has enough rows.
Value libraryUse(OpBuilder &b, Location loc, const Product &p,
                 int64_t minTokens) {
  Value tokens = memref::DimOp::create(b, loc, p.x, 0);
  Value least = modrwkv::rwkv_gpu::BlasMinTokensOp::create(
      b, loc, b.getIndexType(), minTokens);
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, tokens,
                               least);
}

/// The cuBLAS path of `p` (see the pass description), taken when `use`.
/// With `epilogue`, y = x W^T, then the epilogue over the same rows (a
/// kernel later, with no blocks when the path is not taken).
void emitLibraryPath(OpBuilder &b, Location loc, const Product &p, Value use,
                     bool accumulate, const Epilogue *epilogue) {
  Value tokens = memref::DimOp::create(b, loc, p.x, 0);
  Value rows =
      arith::SelectOp::create(b, loc, use, tokens, indexConstant(b, loc, 0));
  AffineMap rowMajor = b.getMultiDimIdentityMap(2);
  Value y = firstRows(b, loc, p.y, rowMajor, rows);
  auto gemm = [&](Value x, bool accumulate) {
    modrwkv::rwkv_gpu::GemmOp::create(b, loc, /*asyncToken=*/Type(),
                                      ValueRange{}, x, p.w, y, accumulate);
  };
  Value x = firstRows(b, loc, p.x, rowMajor, rows);
  if (!cast<MemRefType>(p.w.getType()).getElementType().isBF16()) {
    gemm(x, accumulate);
  } else {
    auto [hi, lo] = splitToBf16(b, loc, x, rows, p.depth);
    gemm(hi, accumulate);
    gemm(lo, /*accumulate=*/true);
    memref::DeallocOp::create(b, loc, hi);
    memref::DeallocOp::create(b, loc, lo);
  }
  if (epilogue) {
    linalg::GenericOp op = epilogue->op;
    IRMapping mapping;
    for (OpOperand &use : op->getOpOperands())
      mapping.map(use.get(), firstRows(b, loc, use.get(),
                                       op.getMatchingIndexingMap(&use), rows));
    b.clone(*op, mapping);
  }
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

/// The epilogue the product `p` (y set to 0 before it) can apply: an
/// element-wise generic over y's domain (its body reads no memory), after
/// it in the block, reading the fresh buffer y once at (t, n) and nothing
/// else reading y; every operand
/// read or written at a permutation of (t, n) or a part of it, the outputs
/// at (t, n); no output on x's or W's buffer, and an input on an output's
/// buffer only as that output at (t, n) (in place, read before the write
/// of the same point); nothing between the two touches x or W.
std::optional<Epilogue> epilogueOf(linalg::GenericOp product,
                                   const Product &p) {
  if (!p.y.getDefiningOp<memref::AllocOp>())
    return std::nullopt;
  linalg::GenericOp op;
  for (Operation *user : p.y.getUsers()) {
    if (user == product.getOperation() || isa<memref::DeallocOp>(user))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic || op)
      return std::nullopt;
    op = generic;
  }
  if (!op || op->getBlock() != product->getBlock())
    return std::nullopt;
  OpOperand *y = nullptr;
  for (OpOperand &use : op->getOpOperands())
    if (use.get() == p.y)
      y = &use;
  if (!modrwkv::appliesAtPoint(op, y))
    return std::nullopt;
  Value xRoot = modrwkv::rootBuffer(p.x), wRoot = modrwkv::rootBuffer(p.w);
  for (OpOperand &out : op.getDpsInitsMutable()) {
    Value root = modrwkv::rootBuffer(out.get());
    if (root == xRoot || root == wRoot)
      return std::nullopt;
    for (OpOperand *in : op.getDpsInputOperands())
      if (modrwkv::rootBuffer(in->get()) == root &&
          (in->get() != out.get() ||
           !op.getMatchingIndexingMap(in).isIdentity()))
        return std::nullopt;
  }
  llvm::SmallPtrSet<Value, 8> watched = modrwkv::aliases(xRoot);
  watched.insert_range(modrwkv::aliases(wRoot));
  for (Operation *between = product->getNextNode();
       between != op.getOperation(); between = between->getNextNode())
    if (!isMemoryEffectFree(between) && modrwkv::touches(between, watched))
      return std::nullopt;
  return Epilogue{op, y};
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
      std::optional<Epilogue> epilogue;
      if (init && matchPattern(*init, m_AnyZeroFloat()))
        epilogue = epilogueOf(op, p);
      OpBuilder b(epilogue ? epilogue->op.getOperation() : op.getOperation());
      // The kernel first: it needs x only, while the library path's
      // conversion, call and epilogue follow each other (launches are
      // later ordered by the buffers they share).
      bool library = blas && libraryCan(p, init);
      Value use =
          library ? libraryUse(b, op.getLoc(), p, blasMinTokens) : Value();
      const Epilogue *e = epilogue ? &*epilogue : nullptr;
      Emitter(p, op.getLoc(), vector, u, init, e)
          .emit(b, warpsPerBlock, tileTokens, use);
      if (library)
        emitLibraryPath(b, op.getLoc(), p, use, /*accumulate=*/!init, e);
      op.erase();
      if (!epilogue)
        continue;
      epilogue->op.erase();
      if (library)
        continue;
      // y is never written: its deallocations and itself go.
      for (Operation *user : llvm::make_early_inc_range(p.y.getUsers()))
        user->erase();
      p.y.getDefiningOp()->erase();
    }
  }
};

} // namespace
