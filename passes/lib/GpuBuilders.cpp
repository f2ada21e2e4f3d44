//===- GpuBuilders.cpp - pieces shared by the warp kernels ----------------===//

#include "GpuBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;

namespace modrwkv {

Value indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value warpSum(OpBuilder &b, Location loc, Value value) {
  for (int32_t offset = kWarp / 2; offset > 0; offset /= 2) {
    auto shuffle = gpu::ShuffleOp::create(b, loc, value, offset, kWarp,
                                          gpu::ShuffleMode::XOR);
    value = arith::AddFOp::create(b, loc, value, shuffle.getShuffleResult());
  }
  return value;
}

} // namespace modrwkv
