//===- RwkvGpuToLLVM.cpp - rwkv_gpu ops as runtime calls ------------------===//
//
// gpu-to-llvm collects the patterns of every dialect that implements
// ConvertToLLVMPatternInterface, in the same conversion that turns
// gpu.async.tokens into streams: rwkv_gpu ops become calls of the runtime's
// entry points (runtime/lib/Cuda.cpp) on the stream of their dependency.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "modrwkv/Dialect/RwkvGpu/RwkvGpuDialect.h"

#include "mlir/Conversion/ConvertToLLVM/ToLLVMInterface.h"
#include "mlir/Conversion/LLVMCommon/MemRefBuilder.h"
#include "mlir/Conversion/LLVMCommon/Pattern.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

using namespace mlir;
namespace rwkv_gpu = modrwkv::rwkv_gpu;

namespace {

/// cudaDataType_t values (library_types.h), as the runtime passes them on.
constexpr int32_t kCudaR32F = 0, kCudaR16BF = 14;

/// A call of the runtime's `name`, declared on first use.
LLVM::CallOp callRuntime(ConversionPatternRewriter &rewriter, Operation *op,
                         StringRef name, Type result, ValueRange args) {
  auto module = op->getParentOfType<ModuleOp>();
  auto callee = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
  if (!callee) {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToEnd(module.getBody());
    callee = LLVM::LLVMFuncOp::create(
        rewriter, op->getLoc(), name,
        LLVM::LLVMFunctionType::get(result, llvm::to_vector(args.getTypes())));
  }
  return LLVM::CallOp::create(rewriter, op->getLoc(), callee, args);
}

/// modrwkv_gpu_gemm(stream, T, N, K, W, ldW, type, x, ldx, y, ldy,
/// accumulate): pointers to the first elements, leading dimensions from the
/// row strides.
struct GemmLowering : ConvertOpToLLVMPattern<rwkv_gpu::GemmOp> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;

  LogicalResult
  matchAndRewrite(rwkv_gpu::GemmOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!op.getAsyncToken() || adaptor.getAsyncDependencies().size() != 1)
      return rewriter.notifyMatchFailure(
          op, "needs one async dependency and a token (gpu-async-region)");
    Location loc = op.getLoc();
    auto ptr = LLVM::LLVMPointerType::get(rewriter.getContext());
    struct Matrix {
      Value data, rows, cols, ld;
    };
    auto matrix = [&](Value memref, Value lowered) {
      MemRefDescriptor d(lowered);
      Type element = getTypeConverter()->convertType(
          cast<MemRefType>(memref.getType()).getElementType());
      Value data = LLVM::GEPOp::create(rewriter, loc, ptr, element,
                                       d.alignedPtr(rewriter, loc),
                                       ValueRange{d.offset(rewriter, loc)});
      return Matrix{data, d.size(rewriter, loc, 0), d.size(rewriter, loc, 1),
                    d.stride(rewriter, loc, 0)};
    };
    Matrix x = matrix(op.getX(), adaptor.getX());
    Matrix w = matrix(op.getW(), adaptor.getW());
    Matrix y = matrix(op.getY(), adaptor.getY());
    auto i32 = [&](int32_t v) {
      return LLVM::ConstantOp::create(rewriter, loc, rewriter.getI32Type(),
                                      rewriter.getI32IntegerAttr(v));
    };
    bool bf16 = cast<MemRefType>(op.getW().getType()).getElementType().isBF16();
    Value stream = adaptor.getAsyncDependencies().front();
    callRuntime(rewriter, op, "modrwkv_gpu_gemm",
                LLVM::LLVMVoidType::get(rewriter.getContext()),
                {stream, x.rows, w.rows, w.cols, w.data, w.ld,
                 i32(bf16 ? kCudaR16BF : kCudaR32F), x.data, x.ld, y.data, y.ld,
                 i32(op.getAccumulate())});
    rewriter.replaceOp(op, stream);
    return success();
  }
};

/// modrwkv_gpu_blas_min_tokens(default).
struct BlasMinTokensLowering
    : ConvertOpToLLVMPattern<rwkv_gpu::BlasMinTokensOp> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;

  LogicalResult
  matchAndRewrite(rwkv_gpu::BlasMinTokensOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type i64 = rewriter.getI64Type();
    Value compiled =
        LLVM::ConstantOp::create(rewriter, op.getLoc(), i64,
                                 rewriter.getI64IntegerAttr(op.getCompiled()));
    rewriter.replaceOp(op,
                       callRuntime(rewriter, op, "modrwkv_gpu_blas_min_tokens",
                                   i64, {compiled})
                           .getResult());
    return success();
  }
};

struct RwkvGpuToLLVMInterface : ConvertToLLVMPatternInterface {
  using ConvertToLLVMPatternInterface::ConvertToLLVMPatternInterface;

  void populateConvertToLLVMConversionPatterns(
      ConversionTarget &target, LLVMTypeConverter &converter,
      RewritePatternSet &patterns) const final {
    target.addIllegalDialect<rwkv_gpu::RwkvGpuDialect>();
    patterns.add<GemmLowering, BlasMinTokensLowering>(converter);
  }
};

} // namespace

void modrwkv::registerRwkvGpuToLLVMInterface(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *, rwkv_gpu::RwkvGpuDialect *dialect) {
    dialect->addInterfaces<RwkvGpuToLLVMInterface>();
  });
}
