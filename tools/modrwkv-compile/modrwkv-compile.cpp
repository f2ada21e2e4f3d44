//===- modrwkv-compile.cpp - checkpoint to artifact -----------------------===//
//
//   modrwkv-compile CHECKPOINT|MODEL.onnx -o OUT [--target cpu]
//                   [--emit mlir|llvm|artifact] [--pipeline PIPELINE]
//                   [--cpu NAME] [--dim NAME=SIZE ...]
//
// --emit mlir writes the imported IR (weights elided), --emit llvm the
// optimized LLVM IR, both to the file OUT ('-' for stdout); --emit artifact
// (the default) writes the artifact directory OUT.
//
//===----------------------------------------------------------------------===//

#include "Artifact.h"

#include "modrwkv/Checkpoint/Adapter.h"
#include "modrwkv/Checkpoint/Config.h"
#include "modrwkv/Checkpoint/Importer.h"
#include "modrwkv/Checkpoint/Tensor.h"
#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Onnx/Importer.h"
#include "modrwkv/Passes/Passes.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <unistd.h>

#include <chrono>

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class Emit { Mlir, Llvm, Artifact };

cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<checkpoint .pth | .safetensors | "
                                        "ONNX model .onnx>"));
cl::opt<std::string> outputPath("o", cl::Required,
                                cl::desc("Artifact directory, or output file "
                                         "for --emit mlir|llvm"),
                                cl::value_desc("path"));
cl::opt<std::string> target("target", cl::init("cpu"),
                            cl::desc("Code generation target (cpu)"));
cl::opt<Emit> emit(
    "emit", cl::init(Emit::Artifact), cl::desc("What to write"),
    cl::values(clEnumValN(Emit::Mlir, "mlir", "imported rwkv IR"),
               clEnumValN(Emit::Llvm, "llvm", "optimized LLVM IR"),
               clEnumValN(Emit::Artifact, "artifact", "artifact directory")));
cl::opt<std::string> adapterPath(
    "adapter",
    cl::desc("Bone adapter: RWKV-PEFT .pth/.safetensors, or a "
             "Hugging Face PEFT folder / adapter_model.safetensors"),
    cl::value_desc("path"));
cl::opt<bool> mergeAdapter(
    "merge-adapter",
    cl::desc("Merge the adapter into the weights at compile time (default: "
             "apply it at run time, swappable with modrwkv-run --adapter)"));
cl::opt<std::string>
    dtype("dtype", cl::init("f32"),
          cl::desc("Storage type of the matrix weights: f32 or bf16 (fp32 "
                   "accumulation either way)"));
cl::opt<std::string> pipeline(
    "pipeline", cl::init("modrwkv-cpu-pipeline"),
    cl::desc("Pass pipeline from rwkv IR to the LLVM dialect, run on the "
             "module (with or without a builtin.module(...) anchor)"));
cl::opt<std::string> cpu("cpu", cl::init("native"),
                         cl::desc("CPU to generate code for (LLVM name, or "
                                  "'native' for this machine)"));

cl::list<std::string>
    dims("dim", cl::desc("Pin a symbolic input dimension of an ONNX model"),
         cl::value_desc("NAME=SIZE"));

cl::opt<unsigned> optLevel("opt-level", cl::init(3),
                           cl::desc("LLVM optimization level (0-3)"));

cl::opt<bool> progress("progress",
                       cl::desc("Report each stage and its time on stderr "
                                "(default: when stderr is a terminal)"));

/// Stage reporting for long compiles: "[2/5] lowering ... 3.1 s".
class Stages {
public:
  explicit Stages(bool enabled) : enabled(enabled) {}
  void begin(const char *name) {
    end();
    if (enabled)
      llvm::errs() << "[" << ++index << "/5] " << name << " ...";
    start = std::chrono::steady_clock::now();
    open = true;
  }
  void end() {
    if (enabled && open)
      llvm::errs() << llvm::format(" %.1f s\n",
                                   std::chrono::duration<double>(
                                       std::chrono::steady_clock::now() - start)
                                       .count());
    open = false;
  }

private:
  bool enabled;
  bool open = false;
  int index = 0;
  std::chrono::steady_clock::time_point start;
};

int error(const llvm::Twine &message) {
  llvm::errs() << "modrwkv-compile: error: " << message << "\n";
  return 1;
}

/// Writes `print` to OUT as a file ('-' is stdout).
int writeText(llvm::function_ref<void(llvm::raw_ostream &)> print) {
  std::string message;
  auto file = mlir::openOutputFile(outputPath, &message);
  if (!file)
    return error(message);
  print(file->os());
  file->keep();
  return 0;
}
int importCheckpoint(MLIRContext &context, Stages &stages,
                     OwningOpRef<ModuleOp> &module) {
  stages.begin("reading the checkpoint");
  auto tensors = modrwkv::checkpoint::readCheckpoint(inputPath);
  if (!tensors)
    return error(llvm::toString(tensors.takeError()));
  auto config = modrwkv::checkpoint::inferConfig(*tensors, inputPath);
  if (!config)
    return error(llvm::toString(config.takeError()));
  std::optional<modrwkv::checkpoint::AdapterSet> adapters;
  if (!adapterPath.empty()) {
    auto read = modrwkv::checkpoint::readAdapter(adapterPath, *tensors);
    if (!read)
      return error(llvm::toString(read.takeError()));
    adapters = std::move(*read);
  } else if (mergeAdapter) {
    return error("--merge-adapter needs --adapter");
  }
  stages.begin("importing into the rwkv dialect");
  module = modrwkv::checkpoint::importRwkv7(
      context, *config, std::move(*tensors), adapters ? &*adapters : nullptr);
  return 0;
}

int importOnnx(MLIRContext &context, Stages &stages,
               OwningOpRef<ModuleOp> &module) {
  stages.begin("reading the ONNX model");
  modrwkv::onnxfe::ReadOptions readOptions;
  for (const std::string &dim : dims) {
    auto [name, size] = llvm::StringRef(dim).split('=');
    long long value;
    if (name.empty() || size.getAsInteger(10, value))
      return error("--dim " + dim + ": expected NAME=SIZE");
    readOptions.dims[name.str()] = value;
  }
  auto model = modrwkv::onnxfe::readModel(inputPath, readOptions);
  if (!model)
    return error(llvm::toString(model.takeError()));
  stages.begin("importing into linalg");
  modrwkv::onnxfe::ImportFailure failure;
  module = modrwkv::onnxfe::importModel(context, *model, {}, failure);
  if (!module)
    return error(failure.message);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  DialectRegistry registry;
  modrwkv::initCompiler(registry);
  cl::ParseCommandLineOptions(argc, argv,
                              "modrwkv-compile: RWKV-7 checkpoint to a native "
                              "artifact\n");
  if (target != "cpu")
    return error("unsupported target '" + target + "' (supported: cpu)");

  Stages stages(progress.getNumOccurrences() ? bool(progress)
                                             : isatty(STDERR_FILENO));
  MLIRContext context(registry);
  context.disableMultithreading();
  OwningOpRef<ModuleOp> module;
  bool onnx = llvm::StringRef(inputPath).ends_with(".onnx") ||
              llvm::StringRef(inputPath).ends_with(".onnxtxt");
  if (!onnx && !dims.empty())
    return error("--dim applies to ONNX models only");
  if (onnx && (!adapterPath.empty() || mergeAdapter || dtype != "f32"))
    return error("--adapter, --merge-adapter and --dtype apply to RWKV "
                 "checkpoints only");
  if (int rc = onnx ? importOnnx(context, stages, module)
                    : importCheckpoint(context, stages, module))
    return rc;
  if (failed(module->verify()))
    return error("the imported module does not verify");

  if (emit == Emit::Mlir) {
    stages.end();
    return writeText([&](llvm::raw_ostream &os) {
      module->print(os, OpPrintingFlags().elideLargeResourceString());
    });
  }

  stages.begin("lowering (modrwkv-cpu-pipeline)");
  if (dtype != "f32" && dtype != "bf16")
    return error("unsupported --dtype '" + dtype + "' (f32, bf16)");
  std::string defaultPipeline = "modrwkv-cpu-pipeline{weight-dtype=" + dtype;
  if (mergeAdapter)
    defaultPipeline += " merge-bone=1";
  defaultPipeline += "}";
  if (failed(modrwkv::runPipeline(*module, pipeline.getNumOccurrences()
                                               ? llvm::StringRef(pipeline)
                                               : defaultPipeline)))
    return 1;

  stages.begin("optimizing LLVM IR");
  modrwkv::CodegenOptions options;
  options.cpu = cpu;
  if (optLevel > 3)
    return error("--opt-level must be 0, 1, 2 or 3");
  options.optLevel = optLevel;
  options.adapterSource = adapterPath;
  llvm::LLVMContext llvmContext;
  auto llvmModule = modrwkv::translateToLLVM(*module, llvmContext, options);
  if (!llvmModule)
    return 1;
  if (emit == Emit::Llvm) {
    stages.end();
    return writeText(
        [&](llvm::raw_ostream &os) { llvmModule->print(os, nullptr); });
  }
  stages.begin("writing model.so, weights.bin, manifest.json");
  if (failed(modrwkv::writeArtifact(*module, *llvmModule, outputPath, inputPath,
                                    options)))
    return 1;
  stages.end();
  return 0;
}
