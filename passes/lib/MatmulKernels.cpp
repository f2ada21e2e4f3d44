//===- MatmulKernels.cpp - register-blocked x W^T products ----------------===//
//
// The plain loop lowering computes each y[t, n] as one dot product: two
// vector loads per FMA, so the products run at a few percent of the FMA
// peak. A tile of tile-tokens x tile-rows outputs keeps that many vector
// accumulators in registers and reuses every loaded x and W vector across
// the tile; the accumulators are reduced once, after the whole K loop.
// Products with the same operand types share one kernel function.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "LinalgBuilders.h"
#include "Products.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVMATMULKERNELS
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using modrwkv::matchProduct;
using modrwkv::Product;

namespace {

class KernelEmitter {
public:
  KernelEmitter(const Product &p, int64_t width, bool parallel,
                int64_t minParallelMacs, bool prefetch, Location loc)
      : p(p), width(width), parallel(parallel),
        minParallelMacs(minParallelMacs), prefetch(prefetch), loc(loc) {}

  /// The loop nest of the pass description as the function `name` (args x,
  /// w, y) and its strips `name`_strip<rows> (the token loops for a few W
  /// rows: the body of the parallel loop, so that each thread runs a call).
  func::FuncOp emit(OpBuilder &mb, StringRef name, int64_t tileTokens,
                    int64_t tileRows, int64_t tokenBlock) {
    Type index = mb.getIndexType();
    auto type =
        mb.getFunctionType({p.x.getType(), p.w.getType(), p.y.getType()}, {});
    auto stripType =
        mb.getFunctionType({p.x.getType(), p.w.getType(), p.y.getType(), index,
                            index, index, index},
                           {});
    auto function = [&](const std::string &symbol, FunctionType t) {
      auto f = func::FuncOp::create(mb, loc, symbol, t);
      f.setPrivate();
      return f;
    };
    func::FuncOp kernel = function(name.str(), type);
    // strip(x, w, y, tb, mainEnd, end, n0) for `nt` rows from n0.
    auto strip = [&](int64_t nt) {
      func::FuncOp f =
          function((name + "_strip" + std::to_string(nt)).str(), stripType);
      Block *body = f.addEntryBlock();
      OpBuilder b = OpBuilder::atBlockBegin(body);
      Product args = p;
      args.x = body->getArgument(0);
      args.w = body->getArgument(1);
      args.y = body->getArgument(2);
      auto a = body->getArguments();
      forLoop(b, a[3], a[4], idx(b, tileTokens), [&](OpBuilder &b, Value t0) {
        tile(b, args, t0, a[6], tileTokens, nt);
      });
      forLoop(b, a[4], a[5], idx(b, 1),
              [&](OpBuilder &b, Value t0) { tile(b, args, t0, a[6], 1, nt); });
      func::ReturnOp::create(b, loc);
      return f;
    };

    Block *body = kernel.addEntryBlock();
    OpBuilder b = OpBuilder::atBlockBegin(body);
    Value x = body->getArgument(0), w = body->getArgument(1),
          y = body->getArgument(2);
    Value tokens = memref::DimOp::create(b, loc, x, 0);
    int64_t mainRows = p.rows - p.rows % tileRows;
    forLoop(
        b, idx(b, 0), tokens, idx(b, tokenBlock), [&](OpBuilder &b, Value tb) {
          Value end = arith::MinUIOp::create(
              b, loc, arith::AddIOp::create(b, loc, tb, idx(b, tokenBlock)),
              tokens);
          Value span = arith::SubIOp::create(b, loc, end, tb);
          Value mainEnd = arith::AddIOp::create(
              b, loc, tb,
              arith::SubIOp::create(
                  b, loc, span,
                  arith::RemUIOp::create(b, loc, span, idx(b, tileTokens))));
          auto rowLoop = [&](int64_t lo, int64_t hi, int64_t nt) {
            if (lo == hi)
              return;
            func::FuncOp f = strip(nt);
            rowsLoop(b, span, idx(b, lo), idx(b, hi), idx(b, nt),
                     [&](OpBuilder &b, Value n0) {
                       func::CallOp::create(
                           b, loc, f,
                           ValueRange{x, w, y, tb, mainEnd, end, n0});
                     });
          };
          rowLoop(0, mainRows, tileRows);
          rowLoop(mainRows, p.rows, 1);
        });
    func::ReturnOp::create(b, loc);
    return kernel;
  }

private:
  Value idx(OpBuilder &b, int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
  Value plus(OpBuilder &b, Value v, int64_t c) {
    return c == 0 ? v : arith::AddIOp::create(b, loc, v, idx(b, c));
  }
  void forLoop(OpBuilder &b, Value lo, Value hi, Value step,
               llvm::function_ref<void(OpBuilder &, Value)> body) {
    scf::ForOp::create(b, loc, lo, hi, step, ValueRange{},
                       [&](OpBuilder &nb, Location, Value iv, ValueRange) {
                         body(nb, iv);
                         scf::YieldOp::create(nb, loc);
                       });
  }

  /// Rows of W are independent: with `parallel`, threads split them when
  /// the product has at least `minParallelMacs` multiply-adds (`tokens`
  /// x rows x depth); below that a thread team costs more than it saves.
  void rowsLoop(OpBuilder &b, Value tokens, Value lo, Value hi, Value step,
                llvm::function_ref<void(OpBuilder &, Value)> body) {
    if (!parallel)
      return forLoop(b, lo, hi, step, body);
    auto parallelLoop = [&](OpBuilder &b) {
      scf::ParallelOp::create(
          b, loc, ValueRange{lo}, ValueRange{hi}, ValueRange{step},
          [&](OpBuilder &nb, Location, ValueRange ivs) { body(nb, ivs[0]); });
    };
    int64_t perToken = p.rows * p.depth;
    if (perToken >= minParallelMacs)
      return parallelLoop(b);
    Value enough = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::uge,
        arith::MulIOp::create(b, loc, tokens, idx(b, perToken)),
        idx(b, minParallelMacs));
    scf::IfOp::create(
        b, loc, enough,
        [&](OpBuilder &nb, Location) {
          parallelLoop(nb);
          scf::YieldOp::create(nb, loc);
        },
        [&](OpBuilder &nb, Location) {
          forLoop(nb, lo, hi, step, body);
          scf::YieldOp::create(nb, loc);
        });
  }

  /// y[t0 + i, n0 + j] += x[t0 + i, :] . w[n0 + j, :] for the mt x nt tile.
  void tile(OpBuilder &b, const Product &p, Value t0, Value n0, int64_t mt,
            int64_t nt) {
    Type f32 = b.getF32Type();
    auto lanes = VectorType::get({width}, f32);
    auto wLanes = VectorType::get(
        {width}, cast<MemRefType>(p.w.getType()).getElementType());
    Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(lanes));
    SmallVector<Value> init(mt * nt, zero);
    // A one-token tile (decode) streams W from memory with nt interleaved
    // rows, which the hardware prefetchers follow poorly: fetch the next
    // tile's rows at the same k (clamped to the last row) while this one
    // computes.
    SmallVector<Value> ahead;
    if (prefetch && mt == 1) {
      Value last = idx(b, p.rows - 1);
      for (int64_t j = 0; j < nt; ++j)
        ahead.push_back(
            arith::MinUIOp::create(b, loc, plus(b, n0, nt + j), last));
    }
    auto loop = scf::ForOp::create(
        b, loc, idx(b, 0), idx(b, p.depth), idx(b, width), init,
        [&](OpBuilder &nb, Location, Value k, ValueRange acc) {
          SmallVector<Value> xs, ws, next;
          for (Value row : ahead)
            memref::PrefetchOp::create(nb, loc, p.w, ValueRange{row, k},
                                       /*isWrite=*/false, /*localityHint=*/3,
                                       /*isDataCache=*/true);
          for (int64_t i = 0; i < mt; ++i)
            xs.push_back(vector::LoadOp::create(
                nb, loc, lanes, p.x, ValueRange{plus(nb, t0, i), k}));
          for (int64_t j = 0; j < nt; ++j) {
            Value w = vector::LoadOp::create(nb, loc, wLanes, p.w,
                                             ValueRange{plus(nb, n0, j), k});
            ws.push_back(modrwkv::widen(nb, loc, lanes, w));
          }
          for (int64_t i = 0; i < mt; ++i)
            for (int64_t j = 0; j < nt; ++j)
              next.push_back(vector::FMAOp::create(nb, loc, xs[i], ws[j],
                                                   acc[i * nt + j]));
          scf::YieldOp::create(nb, loc, next);
        });
    for (int64_t i = 0; i < mt; ++i)
      for (int64_t j = 0; j < nt; ++j) {
        SmallVector<Value> at = {plus(b, t0, i), plus(b, n0, j)};
        Value old = memref::LoadOp::create(b, loc, p.y, at);
        Value sum = vector::ReductionOp::create(
            b, loc, vector::CombiningKind::ADD, loop.getResult(i * nt + j), old,
            arith::FastMathFlags::reassoc);
        memref::StoreOp::create(b, loc, sum, p.y, at);
      }
  }

  const Product &p;
  int64_t width;
  bool parallel;
  int64_t minParallelMacs;
  bool prefetch;
  Location loc;
};

struct RwkvMatmulKernelsPass
    : public modrwkv::impl::RwkvMatmulKernelsBase<RwkvMatmulKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (tileTokens < 1 || tileRows < 1 || vectorWidth < 1 || tokenBlock < 1) {
      getOperation().emitError("rwkv-matmul-kernels: tile sizes, vector "
                               "width and token block must be >= 1");
      return signalPassFailure();
    }
    ModuleOp module = getOperation();
    SmallVector<std::pair<linalg::GenericOp, Product>> products;
    module.walk([&](linalg::GenericOp op) {
      if (auto p = matchProduct(op); p && p->depth % vectorWidth == 0)
        products.push_back({op, *p});
    });
    // One kernel function per operand types: the layers share them.
    llvm::DenseMap<FunctionType, func::FuncOp> kernels;
    for (auto &[op, p] : products) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      auto type = b.getFunctionType(
          TypeRange{p.x.getType(), p.w.getType(), p.y.getType()}, {});
      func::FuncOp &kernel = kernels[type];
      if (!kernel) {
        OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
        std::string name =
            "rwkv_matmul_kernel_" + std::to_string(kernels.size() - 1);
        kernel = KernelEmitter(p, vectorWidth, parallel, minParallelMacs,
                               prefetch, loc)
                     .emit(mb, name, tileTokens, tileRows,
                           std::max<int64_t>(tokenBlock, tileTokens));
      }
      func::CallOp::create(b, loc, kernel, ValueRange{p.x, p.w, p.y});
      op.erase();
    }
  }
};

} // namespace
