//===- GpuKernelsToHost.cpp - kernels as host code, for the emulator ------===//
//
// The CUDA emulator (runtime/lib/CudaEmulator.cpp) runs a kernel's threads
// on the CPU: a kernel becomes an ordinary LLVM function whose thread and
// block ids, warp shuffles and barriers are calls into the emulator, plus a
// launch wrapper that unpacks cuLaunchKernel's parameter array and a table
// of the parameter sizes (modrwkv/cuda_emulator.h). The memref arguments
// are expanded into descriptor fields as gpu-to-llvm passes them.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"
#include "modrwkv/cuda_emulator.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/LLVMCommon/ConversionTarget.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Interfaces/DataLayoutInterfaces.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringSet.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVGPUKERNELSTOHOST
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;

namespace {

constexpr StringLiteral kIdFunction = "modrwkv_emu_id";
constexpr StringLiteral kShuffleFunction = "modrwkv_emu_shuffle";
constexpr StringLiteral kBarrierFunction = "modrwkv_emu_barrier";

/// Declares the emulator's entry points in the kernel module.
void declareEmulator(gpu::GPUModuleOp module) {
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  auto declare = [&](StringRef name, TypeRange args, TypeRange results) {
    auto f = func::FuncOp::create(b, module.getLoc(), name,
                                  b.getFunctionType(args, results));
    f.setPrivate();
  };
  declare(kIdFunction, {i32}, {i64});
  declare(kShuffleFunction, {i32, i32, i32, i32}, {i64});
  declare(kBarrierFunction, {}, {});
}

/// `which` of modrwkv_emu_id: 3 * kind + dimension.
Value emulatorId(OpBuilder &b, Location loc, int kind, gpu::Dimension dim) {
  Value which = arith::ConstantIntOp::create(b, loc, b.getI32Type(),
                                             3 * kind + static_cast<int>(dim));
  Value id = func::CallOp::create(b, loc, kIdFunction, b.getI64Type(), which)
                 .getResult(0);
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), id);
}

int shuffleMode(gpu::ShuffleMode mode) {
  switch (mode) {
  case gpu::ShuffleMode::XOR:
    return MODRWKV_EMU_XOR;
  case gpu::ShuffleMode::UP:
    return MODRWKV_EMU_UP;
  case gpu::ShuffleMode::DOWN:
    return MODRWKV_EMU_DOWN;
  case gpu::ShuffleMode::IDX:
    return MODRWKV_EMU_IDX;
  }
  llvm_unreachable("unknown shuffle mode");
}

LogicalResult rewriteShuffle(gpu::ShuffleOp shuffle) {
  Type type = shuffle.getValue().getType();
  if (!type.isInteger(32) && !type.isF32())
    return shuffle.emitOpError("the CUDA emulator shuffles 32-bit values only");
  OpBuilder b(shuffle);
  Location loc = shuffle.getLoc();
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  Value bits = shuffle.getValue();
  if (type.isF32())
    bits = arith::BitcastOp::create(b, loc, i32, bits);
  Value mode =
      arith::ConstantIntOp::create(b, loc, i32, shuffleMode(shuffle.getMode()));
  Value packed = func::CallOp::create(b, loc, kShuffleFunction, i64,
                                      ValueRange{bits, shuffle.getOffset(),
                                                 shuffle.getWidth(), mode})
                     .getResult(0);
  Value result = arith::TruncIOp::create(b, loc, i32, packed);
  if (type.isF32())
    result = arith::BitcastOp::create(b, loc, type, result);
  Value shift = arith::ConstantIntOp::create(b, loc, i64, 32);
  Value valid = arith::TruncIOp::create(
      b, loc, b.getI1Type(), arith::ShRUIOp::create(b, loc, packed, shift));
  shuffle.replaceAllUsesWith(ValueRange{result, valid});
  shuffle.erase();
  return success();
}

/// gpu.func -> func.func, and every gpu op inside to a call into the
/// emulator. Returns the kernels that wait for other threads.
FailureOr<llvm::StringSet<>> rewriteGpuOps(gpu::GPUModuleOp module) {
  llvm::StringSet<> collective;
  for (auto kernel :
       llvm::make_early_inc_range(module.getOps<gpu::GPUFuncOp>())) {
    if (!kernel.getWorkgroupAttributions().empty() ||
        !kernel.getPrivateAttributions().empty()) {
      kernel.emitOpError(
          "the CUDA emulator has no workgroup or private attributions");
      return failure();
    }
    OpBuilder b(kernel);
    auto f = func::FuncOp::create(b, kernel.getLoc(), kernel.getName(),
                                  kernel.getFunctionType());
    if (kernel.isKernel())
      f->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
    f.getBody().takeBody(kernel.getBody());
    kernel.erase();

    WalkResult walk = f.walk([&](Operation *op) -> WalkResult {
      OpBuilder ob(op);
      Location loc = op->getLoc();
      auto replace = [&](int kind, gpu::Dimension dim) {
        op->getResult(0).replaceAllUsesWith(emulatorId(ob, loc, kind, dim));
        op->erase();
        return WalkResult::skip();
      };
      if (auto id = dyn_cast<gpu::ThreadIdOp>(op))
        return replace(0, id.getDimension());
      if (auto id = dyn_cast<gpu::BlockIdOp>(op))
        return replace(1, id.getDimension());
      if (auto id = dyn_cast<gpu::BlockDimOp>(op))
        return replace(2, id.getDimension());
      if (auto id = dyn_cast<gpu::GridDimOp>(op))
        return replace(3, id.getDimension());
      if (auto ret = dyn_cast<gpu::ReturnOp>(op)) {
        func::ReturnOp::create(ob, loc, ret.getOperands());
        ret.erase();
        return WalkResult::skip();
      }
      if (auto shuffle = dyn_cast<gpu::ShuffleOp>(op)) {
        collective.insert(f.getName());
        return failed(rewriteShuffle(shuffle)) ? WalkResult::interrupt()
                                               : WalkResult::skip();
      }
      if (isa<gpu::BarrierOp>(op)) {
        collective.insert(f.getName());
        func::CallOp::create(ob, loc, kBarrierFunction, TypeRange{});
        op->erase();
        return WalkResult::skip();
      }
      if (isa<gpu::GPUDialect>(op->getDialect())) {
        op->emitOpError("has no CUDA emulator lowering");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
  }
  return collective;
}

/// For each kernel: `modrwkv_emu_launch_K(ptr params)` and the
/// `modrwkv_emu_info_K` table (modrwkv/cuda_emulator.h).
void addLaunchWrappers(gpu::GPUModuleOp module,
                       const llvm::StringSet<> &collective) {
  DataLayout layout(module);
  auto kernels = llvm::to_vector(
      llvm::make_filter_range(module.getOps<LLVM::LLVMFuncOp>(), [](auto f) {
        return f->hasAttr(gpu::GPUDialect::getKernelFuncAttrName());
      }));
  for (LLVM::LLVMFuncOp kernel : kernels) {
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    Location loc = kernel.getLoc();
    auto ptr = LLVM::LLVMPointerType::get(b.getContext());
    auto wrapper = LLVM::LLVMFuncOp::create(
        b, loc, (MODRWKV_EMULATOR_LAUNCH_PREFIX + kernel.getName()).str(),
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(b.getContext()),
                                    {ptr}));
    Block *body = wrapper.addEntryBlock(b);
    b.setInsertionPointToStart(body);
    SmallVector<Value> args;
    SmallVector<int64_t> info = {collective.contains(kernel.getName()),
                                 kernel.getNumArguments()};
    for (auto [i, type] :
         llvm::enumerate(kernel.getFunctionType().getParams())) {
      Value slot = LLVM::GEPOp::create(b, loc, ptr, ptr, body->getArgument(0),
                                       ArrayRef<LLVM::GEPArg>{int32_t(i)});
      Value at = LLVM::LoadOp::create(b, loc, ptr, slot);
      args.push_back(LLVM::LoadOp::create(b, loc, type, at));
      info.push_back(layout.getTypeSize(type).getFixedValue());
    }
    LLVM::CallOp::create(b, loc, kernel, args);
    LLVM::ReturnOp::create(b, loc, ValueRange{});

    b.setInsertionPointToEnd(module.getBody());
    auto table = LLVM::LLVMArrayType::get(b.getI64Type(), info.size());
    LLVM::GlobalOp::create(
        b, loc, table, /*isConstant=*/true, LLVM::Linkage::External,
        (MODRWKV_EMULATOR_INFO_PREFIX + kernel.getName()).str(),
        b.getI64TensorAttr(info));
  }
}

struct RwkvGpuKernelsToHostPass
    : public modrwkv::impl::RwkvGpuKernelsToHostBase<RwkvGpuKernelsToHostPass> {
  using Base::Base;

  void runOnOperation() override {
    gpu::GPUModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    declareEmulator(module);
    FailureOr<llvm::StringSet<>> collective = rewriteGpuOps(module);
    if (failed(collective))
      return signalPassFailure();

    // Math as on the CPU: LLVM intrinsics where there are (rsqrt, fma,
    // exp, tanh, ...), libm for the rest (erf, ...); libm first would call
    // functions it does not have (rsqrtf).
    LLVMTypeConverter converter(context);
    LLVMConversionTarget target(*context);
    RewritePatternSet intrinsics(context);
    populateMathToLLVMConversionPatterns(converter, intrinsics);
    if (failed(applyPartialConversion(module, target, std::move(intrinsics))))
      return signalPassFailure();
    RewritePatternSet libm(context);
    populateMathToLibmConversionPatterns(libm);
    if (failed(applyPatternsGreedily(module, std::move(libm))))
      return signalPassFailure();

    RewritePatternSet patterns(context);
    populateFuncToLLVMConversionPatterns(converter, patterns);
    populateFinalizeMemRefToLLVMConversionPatterns(converter, patterns);
    arith::populateArithToLLVMConversionPatterns(converter, patterns);
    cf::populateControlFlowToLLVMConversionPatterns(converter, patterns);
    index::populateIndexToLLVMConversionPatterns(converter, patterns);
    populateVectorToLLVMConversionPatterns(converter, patterns);
    SmallVector<Operation *> ops;
    for (Operation &op : module.getBody()->getOperations())
      ops.push_back(&op);
    if (failed(applyFullConversion(ops, target, std::move(patterns))))
      return signalPassFailure();
    addLaunchWrappers(module, *collective);
  }
};

} // namespace
