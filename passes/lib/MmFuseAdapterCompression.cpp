//===- MmFuseAdapterCompression.cpp - compression into the adapter --------===//
//
// A compression followed by the adapter's first linear layer is a product of
// linear maps; see the pass description for the two ways it is fused and
// the FLOP counts that choose between them.
//
//===----------------------------------------------------------------------===//

#include "Blobs.h"

#include "modrwkv/Passes/Passes.h"

namespace modrwkv {
#define GEN_PASS_DEF_MMFUSEADAPTERCOMPRESSION
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using namespace modrwkv;
using namespace modrwkv::mm;

namespace {

/// W1 [hidden, m] x Wconv [m, d, k] -> [hidden, d, k], accumulated in double.
void foldWeights(const Blob &w1, const Blob &conv, float *out) {
  int64_t hidden = w1.type.getDimSize(0), m = w1.type.getDimSize(1);
  int64_t inner = conv.type.getDimSize(1) * conv.type.getDimSize(2);
  std::vector<double> acc(inner);
  for (int64_t o = 0; o < hidden; ++o) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t c = 0; c < m; ++c) {
      double scale = w1.data[o * m + c];
      const float *row = conv.data.data() + c * inner;
      for (int64_t i = 0; i < inner; ++i)
        acc[i] += scale * row[i];
    }
    for (int64_t i = 0; i < inner; ++i)
      out[o * inner + i] = float(acc[i]);
  }
}

struct MmFuseAdapterCompressionPass
    : public modrwkv::impl::MmFuseAdapterCompressionBase<
          MmFuseAdapterCompressionPass> {
  using Base::Base;

  void runOnOperation() override {
    if (mode != "auto" && mode != "fold" && mode != "loops" && mode != "none") {
      getOperation().emitError("mm-fuse-adapter-compression: unknown mode '")
          << mode << "' (auto, fold, loops, none)";
      return signalPassFailure();
    }
    if (mode == "none")
      return;
    SmallVector<AdapterOp> adapters;
    getOperation().walk([&](AdapterOp op) {
      auto compress = op.getX().getDefiningOp<CompressOp>();
      if (compress && compress->hasOneUse() && !op.getConv() &&
          cast<ShapedType>(op.getW1().getType()).getRank() == 2)
        adapters.push_back(op);
    });
    for (AdapterOp op : adapters)
      fuse(op, op.getX().getDefiningOp<CompressOp>());
  }

  void fuse(AdapterOp op, CompressOp compress) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto w1Type = cast<RankedTensorType>(op.getW1().getType());
    int64_t hidden = w1Type.getDimSize(0);
    int64_t d = cast<ShapedType>(compress.getX().getType()).getDimSize(1);
    int64_t k = compress.getKernel();
    Value conv = compress.getWeight();
    if (!conv) {
      // Frame stacking: column c*K + j of W1 reads frame j, channel c.
      auto viewType =
          RankedTensorType::get({hidden, d, k}, w1Type.getElementType());
      Value view = tensor::ExpandShapeOp::create(
          b, loc, viewType, op.getW1(),
          SmallVector<ReassociationIndices>{{0}, {1, 2}});
      op.getW1Mutable().assign(view);
    } else {
      int64_t m = cast<ShapedType>(conv.getType()).getDimSize(0);
      bool fold = mode == "fold" ||
                  (mode == "auto" && hidden * d * k < m * d * k + hidden * m);
      std::optional<Blob> w1 = blobOf(op.getW1()), wc = blobOf(conv);
      if (fold && w1 && wc) {
        auto type = RankedTensorType::get({hidden, d, k}, b.getF32Type());
        op.getW1Mutable().assign(
            makeBlobConstant(b, loc, type, (w1->key + "*" + wc->key).str(),
                             [&](float *out) { foldWeights(*w1, *wc, out); }));
      } else {
        op.getConvMutable().assign(conv);
      }
    }
    op.getXMutable().assign(compress.getX());
    op.setStride(compress.getStride());
    op.setPadding(compress.getPadding());
    compress.erase();
  }
};

} // namespace
