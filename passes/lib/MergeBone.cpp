//===- MergeBone.cpp - fold Bone adapters into base weights ---------------===//

#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Passes/Passes.h"

#include "Blobs.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVMERGEBONE
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using namespace modrwkv;
using namespace modrwkv::rwkv;

namespace {

/// The merged [N, K] weight (see rwkv.linear for the formulas).
void merge(const Blob &w, const Blob &a, StringRef variant, float *out) {
  int64_t n = w.type.getDimSize(0), k = w.type.getDimSize(1);
  ArrayRef<float> W = w.data, A = a.data;
  std::copy(W.begin(), W.end(), out);
  if (variant == "bone") { // D [r, N]: W'[o, b*r + j] += D[j, o]
    int64_t r = a.type.getDimSize(0);
    for (int64_t o = 0; o < n; ++o)
      for (int64_t col = 0; col < k; ++col)
        out[o * k + col] += A[(col % r) * n + o];
    return;
  }
  int64_t r = a.type.getDimSize(1);
  bool byInput = variant == "bat_in";
  for (int64_t row = 0; row < n; ++row)
    for (int64_t col = 0; col < k; ++col) {
      int64_t s = byInput ? col / r : row / r;
      const float *B = A.data() + s * r * r;
      int64_t blockCol = col / r * r;
      double acc = B[(row % r) * r + col % r];
      for (int64_t c = 0; c < r; ++c)
        acc += double(W[row * k + blockCol + c]) * B[c * r + col % r];
      out[row * k + col] += float(acc);
    }
}

struct RwkvMergeBonePass
    : public modrwkv::impl::RwkvMergeBoneBase<RwkvMergeBonePass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (!getAdapterSlots(op).empty())
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      SmallVector<AdapterSlot> slots = getAdapterSlots(op);
      bool all = true;
      for (const AdapterSlot &slot : slots)
        all &= blobOf(slot.weight->get()) && blobOf(slot.adapter);
      if (!all)
        continue; // applied at run time
      OpBuilder b(op);
      for (const AdapterSlot &slot : slots) {
        Blob w = *blobOf(slot.weight->get()), a = *blobOf(slot.adapter);
        slot.weight->set(makeBlobConstant(
            b, op->getLoc(), w.type, (w.key + "+" + a.key).str(),
            [&](float *out) { merge(w, a, slot.variant, out); }));
      }
      dropAdapters(op);
    }
  }
};

} // namespace
