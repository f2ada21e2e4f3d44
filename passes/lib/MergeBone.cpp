//===- MergeBone.cpp - fold Bone adapters into base weights ---------------===//

#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Passes/Passes.h"

#include "Blobs.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"

#include <map>

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
    auto resource = [](Value v) -> const void * {
      auto constant = v.getDefiningOp<arith::ConstantOp>();
      return constant ? constant.getValue().getAsOpaquePointer() : nullptr;
    };
    // Every entry function (prefill/decode, batched decode) holds its own
    // constants of the same resources: each pair is merged once, and the
    // ops sharing a weight are merged one after the other, so that the
    // weight's data is freed before the next one is merged.
    llvm::MapVector<const void *, SmallVector<Operation *>> byWeight;
    getOperation().walk([&](Operation *op) {
      SmallVector<AdapterSlot> slots = getAdapterSlots(op);
      if (!slots.empty())
        byWeight[resource(slots.front().weight->get())].push_back(op);
    });
    SmallVector<Operation *> ops;
    for (auto &group : byWeight)
      ops.append(group.second);
    BlobReleaser releaser(getOperation());
    std::map<std::tuple<const void *, const void *, std::string>, Attribute>
        merged;
    for (Operation *op : ops) {
      SmallVector<AdapterSlot> slots = getAdapterSlots(op);
      bool all = true;
      for (const AdapterSlot &slot : slots)
        all &= blobOf(slot.weight->get()) && blobOf(slot.adapter);
      if (!all)
        continue; // applied at run time
      OpBuilder b(op);
      llvm::SetVector<Value> originals; // a constant may fill two slots
      for (const AdapterSlot &slot : slots) {
        Value weight = slot.weight->get();
        Attribute &attr = merged[{resource(weight), resource(slot.adapter),
                                  slot.variant.str()}];
        if (!attr) {
          Blob w = *blobOf(weight), a = *blobOf(slot.adapter);
          attr = makeBlob(w.type, (w.key + "+" + a.key).str(),
                          [&](float *out) { merge(w, a, slot.variant, out); });
        }
        slot.weight->set(
            arith::ConstantOp::create(b, op->getLoc(), cast<TypedAttr>(attr)));
        originals.insert(weight);
        originals.insert(slot.adapter);
      }
      dropAdapters(op);
      for (Value original : originals)
        releaser.eraseIfUnused(original);
    }
  }
};

} // namespace
