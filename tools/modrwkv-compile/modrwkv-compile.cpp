//===- modrwkv-compile.cpp - checkpoint to artifact -----------------------===//
//
//   modrwkv-compile CHECKPOINT|MODEL.onnx -o OUT [--target cpu|cuda]
//                   [--chip sm_90] [--emit mlir|llvm|ptx|artifact]
//                   [--pipeline PIPELINE]
//                   [--cpu NAME] [--dim NAME=SIZE ...]
//   modrwkv-compile MODRWKV_CHECKPOINT --encoder TOWER.onnx
//                   [--encoder-config preprocessor_config.json] -o OUT
//                   [--adapter-fusion auto|fold|loops|none] [--stats]
//
// With --encoder, the checkpoint's projector (adapter + compression) and
// the tower compile with the language model into one artifact: the model's
// entry takes the adapter rows spliced at placeholder tokens, and a graph
// `image` or `audio` (tower + compression + adapter; the tower's input shape
// says which) yields them.
//
// --emit mlir writes the imported IR (weights elided), --emit llvm the
// optimized LLVM IR (host code), --emit ptx the device code of a cuda
// target, all to the file OUT ('-' for stdout); --emit artifact (the
// default) writes the artifact directory OUT.
//
// --target cuda compiles a language model, with its encoder graph if any,
// for NVIDIA GPUs (modrwkv-cuda-pipeline): kernels as PTX for --chip,
// JIT-compiled by the driver, and host code in model.so that launches
// them. With --cuda-emulator the kernels are compiled for the host instead,
// for the CUDA emulator that tests the CUDA path where there is no GPU.
//
//===----------------------------------------------------------------------===//

#include "Artifact.h"
#include "Preprocessing.h"

#include "modrwkv/Checkpoint/Adapter.h"
#include "modrwkv/Checkpoint/Config.h"
#include "modrwkv/Checkpoint/Importer.h"
#include "modrwkv/Checkpoint/Tensor.h"
#include "modrwkv/Dialect/Mm/MmDialect.h"
#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Multimodal/Builder.h"
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

#include <sys/resource.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <nlohmann/json.hpp>

#include <chrono>

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class Emit { Mlir, Llvm, Ptx, Artifact };

// --help lists these, not the options of every LLVM backend linked in.
cl::OptionCategory compileOptions("modrwkv-compile options");

cl::opt<std::string> inputPath(cl::cat(compileOptions), cl::Positional,
                               cl::Required,
                               cl::desc("<checkpoint .pth | .safetensors | "
                                        "ONNX model .onnx>"));
cl::opt<std::string> outputPath(cl::cat(compileOptions), "o", cl::Required,
                                cl::desc("Artifact directory, or output file "
                                         "for --emit mlir|llvm"),
                                cl::value_desc("path"));
cl::opt<std::string> target(cl::cat(compileOptions), "target", cl::init("cpu"),
                            cl::desc("Code generation target (cpu, cuda)"));
cl::opt<std::string> chip(cl::cat(compileOptions), "chip", cl::init("sm_90"),
                          cl::desc("GPU architecture for --target cuda"));
cl::opt<bool> cudaEmulator(
    cl::cat(compileOptions), "cuda-emulator",
    cl::desc("With --target cuda: the kernels as host code for the CUDA "
             "emulator (libmodrwkv_cuda_emulator.so as MODRWKV_LIBCUDA), to "
             "test the CUDA path without a GPU"),
    cl::init(false));
cl::opt<bool> mergeLaunches(
    cl::cat(compileOptions), "merge-launches", cl::init(true),
    cl::desc("With --target cuda: independent kernels share one launch "
             "(rwkv-gpu-merge-launches); =0 launches each alone, so that "
             "MODRWKV_CUDA_PROFILE times each"));
cl::opt<Emit> emit(
    cl::cat(compileOptions), "emit", cl::init(Emit::Artifact),
    cl::desc("What to write"),
    cl::values(clEnumValN(Emit::Mlir, "mlir", "imported rwkv IR"),
               clEnumValN(Emit::Llvm, "llvm", "optimized LLVM IR"),
               clEnumValN(Emit::Ptx, "ptx", "PTX of the kernels (cuda)"),
               clEnumValN(Emit::Artifact, "artifact", "artifact directory")));
cl::opt<std::string> adapterPath(
    cl::cat(compileOptions), "adapter",
    cl::desc("Bone adapter: RWKV-PEFT .pth/.safetensors, or a "
             "Hugging Face PEFT folder / adapter_model.safetensors"),
    cl::value_desc("path"));
cl::opt<std::string> initialStatePath(
    cl::cat(compileOptions), "initial-state",
    cl::desc("State-tuning file (RWKV-PEFT: blocks.N.att.time_state): fresh "
             "states start from it (swappable with modrwkv-run "
             "--initial-state)"),
    cl::value_desc("path"));
cl::opt<bool> mergeAdapter(
    cl::cat(compileOptions), "merge-adapter",
    cl::desc("Merge the adapter into the weights at compile time (default: "
             "apply it at run time, swappable with modrwkv-run --adapter)"));
cl::opt<std::string>
    dtype(cl::cat(compileOptions), "dtype", cl::init("f32"),
          cl::desc("Storage type of the matrix weights: f32, bf16, f16, or "
                   "i8 (int8 with a scale per row for the large products, "
                   "bf16 for the rest; cpu only). fp32 accumulation always"));
cl::opt<int64_t> i8MinSize(
    cl::cat(compileOptions), "i8-min-size", cl::init(512),
    cl::desc("--dtype i8: the smallest rows and columns of a weight stored "
             "as int8 (default 512: the projections, FFN and head of "
             "released models, not their LoRA paths)"));
cl::opt<std::string> pipeline(
    cl::cat(compileOptions), "pipeline",
    cl::desc("Pass pipeline from rwkv IR to the LLVM dialect, run on the "
             "module (with or without a builtin.module(...) anchor)"));
cl::opt<std::string> cpu(cl::cat(compileOptions), "cpu", cl::init("native"),
                         cl::desc("CPU to generate code for (LLVM name, or "
                                  "'native' for this machine)"));

cl::list<std::string>
    dims(cl::cat(compileOptions), "dim",
         cl::desc("Pin a symbolic input dimension of an ONNX model"),
         cl::value_desc("NAME=SIZE"));

cl::opt<std::string>
    encoderPath(cl::cat(compileOptions), "encoder",
                cl::desc("ONNX encoder tower of a ModRWKV checkpoint"),
                cl::value_desc("tower.onnx"));
cl::opt<std::string> encoderConfig(
    cl::cat(compileOptions), "encoder-config",
    cl::desc("The tower's preprocessing (Hugging Face "
             "preprocessor_config.json; images: size, image_mean, image_std, "
             "rescale_factor, resample; audio: sampling_rate, feature_size, "
             "n_fft, hop_length, do_normalize)"),
    cl::value_desc("json"));
cl::opt<int64_t> stackFrames(cl::cat(compileOptions), "stack",
                             cl::desc("Frames per adapter row (default: "
                                      "from the adapter and tower widths)"),
                             cl::init(0));
cl::opt<int64_t> compressionStride(
    cl::cat(compileOptions), "compression-stride",
    cl::desc("Stride of the conv compression (default: kernel - 1)"),
    cl::init(-1));
cl::opt<int64_t> compressionPadding(
    cl::cat(compileOptions), "compression-padding",
    cl::desc("Padding of the conv compression (default: 0 when it keeps the "
             "width, 2 for the widening speech adapter)"),
    cl::init(-1));
cl::opt<std::string> adapterFusion(
    cl::cat(compileOptions), "adapter-fusion", cl::init("auto"),
    cl::desc(
        "Fuse a conv compression into the adapter by folding the "
        "weights (fold) or the loops (loops); auto picks fewer FLOPs; none "
        "leaves it unfused"));

#ifdef MODRWKV_LIBOMP
constexpr bool kHaveOpenmp = true;
#else
constexpr bool kHaveOpenmp = false;
#endif
cl::opt<bool> parallel(
    cl::cat(compileOptions), "parallel", cl::init(kHaveOpenmp),
    cl::desc("Run on several threads (OpenMP): the products' weight rows, "
             "the recurrence's heads, the other loops' token rows; model.so "
             "links libomp (default: on when this compiler has libomp)"));

cl::opt<bool> batchDecode(
    cl::cat(compileOptions), "batch-decode",
    cl::desc("Also compile the batched decode entry: one token for each of B "
             "sequences per call, their states side by side "
             "(modrwkv_decode_batch; token ids only, also in a multimodal "
             "artifact, whose media are prefilled per state; default: on "
             "for --target cpu; off for cuda, where it doubles the compile "
             "time)"));

cl::opt<unsigned> optLevel(cl::cat(compileOptions), "opt-level", cl::init(3),
                           cl::desc("LLVM optimization level (0-3)"));
cl::opt<bool> vectorMath(
    cl::cat(compileOptions), "vector-math", cl::init(true),
    cl::desc("Vectorized loops call glibc's libmvec for exp (log, sin, ...) "
             "(x86-64 Linux; --vector-math=0: one libm call per lane)"));

cl::opt<bool> progress(cl::cat(compileOptions), "progress",
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
  /// Prints the stage's time and the peak memory so far: the weights'
  /// copies dominate it, so it tells what a larger model will need.
  void end() {
    if (enabled && open) {
      struct rusage usage;
      getrusage(RUSAGE_SELF, &usage);
      llvm::errs() << llvm::format(
          " %.1f s (peak memory %.2f GiB)\n",
          std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                        start)
              .count(),
          usage.ru_maxrss / double(1 << 20)); // ru_maxrss is in KiB
    }
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
/// Pins the symbolic dims named by --dim.
int readDims(modrwkv::onnxfe::ReadOptions &readOptions) {
  for (const std::string &dim : dims) {
    auto [name, size] = llvm::StringRef(dim).split('=');
    long long value;
    if (name.empty() || size.getAsInteger(10, value))
      return error("--dim " + dim + ": expected NAME=SIZE");
    readOptions.dims[name.str()] = value;
  }
  return 0;
}

/// Adds the tower and the projector to `module` (the language model).
int addEncoder(MLIRContext &context, ModuleOp module,
               modrwkv::multimodal::Projector &&projector) {
  modrwkv::onnxfe::ReadOptions readOptions;
  if (int rc = readDims(readOptions))
    return rc;
  auto model = modrwkv::onnxfe::readModel(encoderPath, readOptions);
  if (!model)
    return error(llvm::toString(model.takeError()));
  modrwkv::onnxfe::ImportOptions importOptions;
  importOptions.callable = true;
  importOptions.symbol = "tower";
  modrwkv::onnxfe::ImportFailure failure;
  auto tower =
      modrwkv::onnxfe::importModel(context, *model, importOptions, failure);
  if (!tower)
    return error(failure.message);
  nlohmann::json preprocess;
  modrwkv::multimodal::EncoderOptions options;
  std::string message;
  if (!modrwkv::towerPreprocessing(*tower, encoderPath, encoderConfig,
                                   options.modality, preprocess, message))
    return error(message);
  options.stack = stackFrames;
  options.stride = compressionStride;
  options.padding = compressionPadding;
  if (!modrwkv::multimodal::addEncoder(module, *tower, std::move(projector),
                                       options, message))
    return error(inputPath + " + " + encoderPath + ": " + message);
  module->setAttr(
      modrwkv::kPreprocessAttrName,
      StringAttr::get(&context,
                      nlohmann::json{{options.modality, preprocess}}.dump()));
  return 0;
}

/// Puts the states of a state-tuning file into `tensors` (replacing any
/// the checkpoint has).
int addInitialState(modrwkv::checkpoint::TensorMap &tensors,
                    modrwkv::checkpoint::ModelConfig &config,
                    llvm::StringRef path) {
  namespace ckpt = modrwkv::checkpoint;
  int64_t layers = 0, heads = 0;
  auto states = ckpt::readInitialState(path, layers, heads);
  if (!states)
    return error(llvm::toString(states.takeError()));
  if (layers != config.layers || heads != config.heads)
    return error(llvm::Twine(path) + ": states for " + llvm::Twine(layers) +
                 " layers x " + llvm::Twine(heads) + " heads; " +
                 inputPath.getValue() + " has " + llvm::Twine(config.layers) +
                 " x " + llvm::Twine(config.heads));
  int64_t perLayer = heads * config.headSize * config.headSize;
  for (int64_t l = 0; l < layers; ++l) {
    ckpt::Tensor t;
    t.shape = {heads, config.headSize, config.headSize};
    t.data.assign(states->begin() + l * perLayer,
                  states->begin() + (l + 1) * perLayer);
    tensors[ckpt::initialStateName(l)] = std::move(t);
  }
  config.initialState = true;
  return 0;
}

int importCheckpoint(MLIRContext &context, Stages &stages,
                     OwningOpRef<ModuleOp> &module) {
  stages.begin("reading the checkpoint");
  auto tensors = modrwkv::checkpoint::readCheckpoint(inputPath);
  if (!tensors)
    return error(llvm::toString(tensors.takeError()));
  auto hfConfig = modrwkv::checkpoint::readHfConfig(inputPath);
  if (!hfConfig)
    return error(llvm::toString(hfConfig.takeError()));
  if (*hfConfig)
    if (llvm::Error e =
            modrwkv::checkpoint::tieWordEmbeddings(**hfConfig, *tensors))
      return error(llvm::toString(std::move(e)));
  std::optional<modrwkv::multimodal::Projector> projector;
  if (!encoderPath.empty()) {
    auto taken = modrwkv::multimodal::takeProjector(*tensors, inputPath);
    if (!taken)
      return error(llvm::toString(taken.takeError()));
    projector = std::move(*taken);
  }
  if (llvm::Error e = modrwkv::checkpoint::toReleasedNames(*tensors, inputPath))
    return error(llvm::toString(std::move(e)));
  auto config = modrwkv::checkpoint::inferConfig(*tensors, inputPath);
  if (!config)
    return error(llvm::toString(config.takeError()));
  if (*hfConfig)
    if (llvm::Error e = modrwkv::checkpoint::checkHfConfig(**hfConfig, *config))
      return error(llvm::toString(std::move(e)));
  if (!initialStatePath.empty() &&
      addInitialState(*tensors, *config, initialStatePath) != 0)
    return 1;
  std::optional<modrwkv::checkpoint::AdapterSet> adapters;
  if (!adapterPath.empty()) {
    auto read = modrwkv::checkpoint::readAdapter(adapterPath, *tensors);
    if (!read)
      return error(llvm::toString(read.takeError()));
    adapters = std::move(*read);
  } else if (mergeAdapter) {
    return error("--merge-adapter needs --adapter");
  }
  bool batch =
      batchDecode.getNumOccurrences() ? bool(batchDecode) : target == "cpu";
  stages.begin("importing into the rwkv dialect");
  module = modrwkv::checkpoint::importRwkv7(
      context, *config, std::move(*tensors), adapters ? &*adapters : nullptr,
      projector ? modrwkv::multimodal::kPlaceholder : -1, batch,
      /*keepBf16=*/dtype != "f32");
  if (projector) {
    stages.begin("importing the encoder tower");
    return addEncoder(context, *module, std::move(*projector));
  }
  return 0;
}

int importOnnx(MLIRContext &context, Stages &stages,
               OwningOpRef<ModuleOp> &module) {
  stages.begin("reading the ONNX model");
  modrwkv::onnxfe::ReadOptions readOptions;
  if (int rc = readDims(readOptions))
    return rc;
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

/// FLOPs of the adapters and compressions, and how they were fused.
int64_t adapterFlops(ModuleOp module, std::string &how) {
  int64_t total = 0;
  module.walk([&](Operation *op) {
    if (auto flops = modrwkv::mm::productFlops(op))
      total += *flops;
    if (auto adapter = dyn_cast<modrwkv::mm::AdapterOp>(op)) {
      auto w1 = cast<ShapedType>(adapter.getW1().getType());
      how = adapter.getX().getDefiningOp<modrwkv::mm::CompressOp>()
                ? "no compression fusion"
            : adapter.getConv() ? "loop fusion (conv kept)"
            : w1.getRank() == 3 ? "folded into the first layer"
                                : "no compression";
      if (w1.getRank() == 3 &&
          !adapter.getW1().getDefiningOp<arith::ConstantOp>())
        how = "frame stacking read in place";
    }
  });
  return total;
}

/// --stats: runs the fusion now (the pipeline's own run is then a no-op)
/// and prints the FLOPs per encoder call before and after.
int printStats(ModuleOp module) {
  std::string how;
  int64_t before = adapterFlops(module, how);
  if (failed(modrwkv::runPipeline(
          module, "func.func(mm-fuse-adapter-compression{mode=" +
                      adapterFusion + "})")))
    return 1;
  int64_t after = adapterFlops(module, how);
  llvm::outs() << "adapter + compression FLOPs per encoder call: " << before
               << " unfused, " << after << " fused (" << how << ", "
               << llvm::format("%.2fx", double(before) / double(after))
               << ")\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
#ifdef __GLIBC__
  // Weights freed while compiling (each f32 copy a narrower copy replaces)
  // go back to the system at once: glibc's adaptive threshold would
  // otherwise keep tensors of up to 32 MB in the heap, and the peak memory.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
  DialectRegistry registry;
  modrwkv::initCompiler(registry);
  cl::HideUnrelatedOptions(compileOptions);
  cl::ParseCommandLineOptions(argc, argv,
                              "modrwkv-compile: RWKV-7 checkpoint to a native "
                              "artifact\n");
  // --stats is LLVM's own flag (its statistics, empty in release builds of
  // LLVM); here it also prints the adapter's FLOPs.
  cl::Option *statsOption = cl::getRegisteredOptions().lookup("stats");
  bool stats = statsOption && statsOption->getNumOccurrences() > 0;
  if (target != "cpu" && target != "cuda")
    return error("unsupported target '" + target + "' (supported: cpu, cuda)");
  bool cuda = target == "cuda";
  if (!cuda && emit == Emit::Ptx)
    return error("--emit ptx needs --target cuda");
  if (cudaEmulator && !cuda)
    return error("--cuda-emulator needs --target cuda");
  if (cudaEmulator && emit == Emit::Ptx)
    return error("--cuda-emulator compiles the kernels for the host: there "
                 "is no PTX to emit");

  Stages stages(progress.getNumOccurrences() ? bool(progress)
                                             : isatty(STDERR_FILENO));
  MLIRContext context(registry);
  context.disableMultithreading();
  OwningOpRef<ModuleOp> module;
  bool onnx = llvm::StringRef(inputPath).ends_with(".onnx") ||
              llvm::StringRef(inputPath).ends_with(".onnxtxt");
  if (!onnx && !dims.empty() && encoderPath.empty())
    return error("--dim applies to ONNX models only");
  bool mmOptions = !encoderConfig.empty() || stackFrames.getNumOccurrences() ||
                   compressionStride.getNumOccurrences() ||
                   compressionPadding.getNumOccurrences() || stats;
  if (encoderPath.empty() && mmOptions)
    return error("--encoder-config, --stack, --compression-stride, "
                 "--compression-padding and --stats need --encoder");
  if (onnx && !encoderPath.empty())
    return error("--encoder goes with a ModRWKV checkpoint, not an ONNX "
                 "model");
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

  if (stats && printStats(*module))
    return 1;

  stages.begin(cuda ? "lowering (modrwkv-cuda-pipeline)"
                    : "lowering (modrwkv-cpu-pipeline)");
  if (dtype != "f32" && dtype != "bf16" && dtype != "f16" && dtype != "i8")
    return error("unsupported --dtype '" + dtype + "' (f32, bf16, f16, i8)");
  if (dtype == "i8" && cuda)
    return error("--dtype i8 is for --target cpu (the GPU kernels take f32, "
                 "bf16 or f16 weights)");
  if (i8MinSize < 1)
    return error("--i8-min-size must be at least 1");
  std::string defaultPipeline =
      std::string(cuda ? "modrwkv-cuda-pipeline" : "modrwkv-cpu-pipeline") +
      "{weight-dtype=" + dtype + " adapter-fusion=" + adapterFusion;
  if (dtype == "i8")
    defaultPipeline += " i8-min-size=" + std::to_string(i8MinSize);
  if (mergeAdapter)
    defaultPipeline += " merge-bone=1";
  if (cuda) {
    defaultPipeline += " chip=" + chip;
    if (cudaEmulator)
      defaultPipeline += " host-kernels=1";
    if (!mergeLaunches)
      defaultPipeline += " merge-launches=0";
  } else {
    if (parallel && !kHaveOpenmp)
      return error("--parallel: this compiler was built without libomp "
                   "(install libomp-22-dev and rebuild)");
    if (parallel)
      defaultPipeline += " parallel=1";
  }
  defaultPipeline += "}";
  if (failed(modrwkv::runPipeline(*module, pipeline.getNumOccurrences()
                                               ? llvm::StringRef(pipeline)
                                               : defaultPipeline)))
    return 1;

  if (emit == Emit::Ptx) {
    stages.end();
    std::string ptx = modrwkv::deviceAssembly(*module);
    if (ptx.empty())
      return error("the lowered module holds no PTX (a cubin pipeline?)");
    return writeText([&](llvm::raw_ostream &os) { os << ptx; });
  }

  stages.begin("optimizing LLVM IR");
  modrwkv::CodegenOptions options;
  options.target = target;
  options.chip = chip;
  options.cpu = cpu;
  if (optLevel > 3)
    return error("--opt-level must be 0, 1, 2 or 3");
  options.optLevel = optLevel;
  options.vectorMath = vectorMath;
  options.adapterSource = adapterPath;
  options.hostKernels = cudaEmulator;
  if (cudaEmulator && failed(modrwkv::embedHostKernels(*module, options)))
    return 1;
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
