//===- Artifact.cpp - LLVM-dialect module to an artifact directory --------===//

#include "Artifact.h"

#include "modrwkv/Checkpoint/Importer.h"
#include "modrwkv/Multimodal/Builder.h"
#include "modrwkv/Onnx/Importer.h"
#include "modrwkv/Passes/Passes.h"
#include "modrwkv/cuda_emulator.h"

#include "modrwkv/Dialect/Mm/MmDialect.h"
#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <set>

using namespace mlir;

namespace modrwkv {
namespace {

constexpr llvm::StringLiteral kGraphEntryPrefix = "modrwkv_graph_";

std::unique_ptr<llvm::TargetMachine> hostMachine(const CodegenOptions &options,
                                                 std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  std::string cpu = options.cpu;
  std::string features;
  if (cpu == "native") {
    cpu = llvm::sys::getHostCPUName().str();
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      features += (feature.second ? "+" : "-") + feature.first().str() + ",";
  }
  llvm::TargetOptions targetOptions;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpu, features, targetOptions, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOpt::getLevel(options.optLevel)
          .value_or(llvm::CodeGenOptLevel::Aggressive)));
  if (!machine)
    error = "cannot create a target machine for CPU '" + cpu + "'";
  return machine;
}

/// LLVM's -O<level> pipeline for `machine`. With `vectorMath` (x86-64 Linux:
/// glibc's libmvec has the AVX2 and AVX-512 variants), the loop vectorizer
/// may turn libm calls in vectorized loops (expf; LLVM also maps log, sin,
/// cos, tan and pow, not tanh) into libmvec calls instead of one scalar
/// call per lane.
void optimize(llvm::Module &module, llvm::TargetMachine &machine,
              unsigned optLevel, bool vectorMath) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = optLevel > 1;
  tuning.LoopVectorization = optLevel > 1;
  tuning.SLPVectorization = optLevel > 1;
  llvm::PassBuilder builder(&machine, tuning);
  const llvm::Triple &triple = machine.getTargetTriple();
  bool libmvec = vectorMath && triple.getArch() == llvm::Triple::x86_64 &&
                 triple.isOSLinux() && triple.isGNUEnvironment();
  llvm::TargetLibraryInfoImpl library(triple,
                                      libmvec ? llvm::VectorLibrary::LIBMVEC
                                              : llvm::VectorLibrary::NoLibrary);
  fam.registerPass([&] { return llvm::TargetLibraryAnalysis(library); });
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel level = optLevel == 0   ? llvm::OptimizationLevel::O0
                                  : optLevel == 1 ? llvm::OptimizationLevel::O1
                                  : optLevel == 2 ? llvm::OptimizationLevel::O2
                                                  : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager passes =
      optLevel == 0 ? builder.buildO0DefaultPipeline(level)
                    : builder.buildPerModuleDefaultPipeline(level);
  passes.run(module, mam);
}

ArrayAttr graphsOf(ModuleOp module) {
  return module->getAttrOfType<ArrayAttr>(onnxfe::kGraphsAttrName);
}

StringRef graphSymbol(Attribute graph) {
  return cast<DictionaryAttr>(graph).getAs<StringAttr>("symbol").getValue();
}

bool isMultimodal(ModuleOp module) {
  return bool(module->getAttr(multimodal::kSpliceAttrName));
}

/// Graph entries take descriptors of [weights,] inputs and outputs; the
/// language-model entry is `void(ptr x 6)` (x 7 with the modality rows, see
/// runtime.h): state and logits updated in place through the descriptors.

LogicalResult checkEntry(ModuleOp module) {
  if (ArrayAttr graphs = graphsOf(module)) {
    for (Attribute g : graphs) {
      std::string name = ("_mlir_ciface_" + graphSymbol(g)).str();
      auto entry = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
      if (!entry ||
          !isa<LLVM::LLVMVoidType>(entry.getFunctionType().getReturnType()))
        return module.emitError("lowered module has no void entry point @")
               << name;
    }
  }
  if (!module->hasAttr(checkpoint::kConfigAttrName))
    return success();
  std::string name = ("_mlir_ciface_" + checkpoint::kEntryName).str();
  auto entry = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
  if (!entry)
    return module.emitError("lowered module has no entry point @") << name;
  LLVM::LLVMFunctionType type = entry.getFunctionType();
  unsigned buffers = isMultimodal(module) ? 7 : 6;
  if (!isa<LLVM::LLVMVoidType>(type.getReturnType()) ||
      type.getNumParams() != buffers)
    return entry.emitError("entry point must return nothing and take the ")
           << buffers
           << " buffers (weights, tokens, [features,] att_shift, ffn_shift, "
              "wkv, logits); got "
           << type << ": state or logits were not updated in place";
  auto batch = module.lookupSymbol<LLVM::LLVMFuncOp>(
      ("_mlir_ciface_" + checkpoint::kBatchEntryName).str());
  if (batch &&
      (!isa<LLVM::LLVMVoidType>(batch.getFunctionType().getReturnType()) ||
       batch.getFunctionType().getNumParams() != 6))
    return batch.emitError("the batched decode entry must return nothing and "
                           "take the 6 buffers; got ")
           << batch.getFunctionType()
           << ": state or logits were not updated in place";
  return success();
}

/// `void modrwkv_graph_<symbol>(void **args)` calling the C interface with
/// args[i]: the runtime calls every graph the same way, whatever its arity.
void addPackedEntries(ModuleOp module, llvm::Module &llvmModule) {
  ArrayAttr graphs = graphsOf(module);
  if (!graphs)
    return;
  llvm::LLVMContext &ctx = llvmModule.getContext();
  auto *ptr = llvm::PointerType::get(ctx, 0);
  for (Attribute g : graphs) {
    llvm::Function *callee =
        llvmModule.getFunction(("_mlir_ciface_" + graphSymbol(g)).str());
    auto *type =
        llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr}, false);
    auto *wrapper = llvm::Function::Create(
        type, llvm::GlobalValue::ExternalLinkage,
        (kGraphEntryPrefix + graphSymbol(g)).str(), llvmModule);
    llvm::IRBuilder<> builder(llvm::BasicBlock::Create(ctx, "entry", wrapper));
    SmallVector<llvm::Value *> args;
    for (unsigned i = 0; i < callee->arg_size(); ++i) {
      llvm::Value *slot =
          builder.CreateConstGEP1_64(ptr, wrapper->getArg(0), i);
      args.push_back(builder.CreateLoad(ptr, slot));
    }
    builder.CreateCall(callee, args);
    builder.CreateRetVoid();
  }
}

LogicalResult fail(const llvm::Twine &message) {
  llvm::errs() << "modrwkv-compile: error: " << message << "\n";
  return failure();
}

LogicalResult writeWeights(ModuleOp module, StringRef path,
                           nlohmann::json &table, uint64_t &size) {
  auto weights = module->getAttrOfType<ArrayAttr>(kWeightsAttrName);
  if (!weights)
    return fail("lowered module has no '" + kWeightsAttrName +
                "' table (was rwkv-externalize-weights run?)");
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return fail("cannot write " + path + ": " + ec.message());
  size = 0;
  for (Attribute a : weights) {
    auto entry = cast<DictionaryAttr>(a);
    auto value = entry.getAs<DenseResourceElementsAttr>("value");
    uint64_t offset = entry.getAs<IntegerAttr>("offset").getInt();
    StringRef name = entry.getAs<StringAttr>("name").getValue();
    AsmResourceBlob *blob = value.getRawHandle().getBlob();
    if (!blob)
      return fail("weight '" + name + "' has no data");
    ArrayRef<char> data = blob->getData();
    auto type = cast<ShapedType>(value.getType());
    Type element = type.getElementType();
    std::string dtype;
    if (element.isF32() || element.isBF16() || element.isF16() ||
        element.isF64())
      dtype = element.isBF16()
                  ? "bf16"
                  : "f" + std::to_string(element.getIntOrFloatBitWidth());
    else if (element.isInteger(1))
      dtype = "bool"; // a byte each, as memrefs of i1 hold them
    else if (element.isInteger() && element.getIntOrFloatBitWidth() % 8 == 0)
      dtype = "i" + std::to_string(element.getIntOrFloatBitWidth());
    else
      return fail("weight '" + name + "' has unsupported element type");
    uint64_t bytes = uint64_t(type.getNumElements()) *
                     std::max(1u, element.getIntOrFloatBitWidth() / 8);
    if (data.size() != bytes)
      return fail("weight '" + name + "' holds " + llvm::Twine(data.size()) +
                  " bytes, its type needs " + llvm::Twine(bytes));
    if (offset < size)
      return fail("weight table is not sorted by offset");
    os.write_zeros(offset - size);
    os.write(data.data(), data.size());
    size = offset + data.size();
    table.push_back({{"name", name.str()},
                     {"offset", offset},
                     {"shape", type.getShape().vec()},
                     {"dtype", dtype}});
  }
  os.close();
  if (os.has_error())
    return fail("cannot write " + path + ": " + os.error().message());
  return success();
}

LogicalResult describeLanguageModel(ModuleOp module,
                                    const nlohmann::json &table,
                                    const CodegenOptions &options,
                                    nlohmann::json &manifest) {
  auto config =
      module->getAttrOfType<DictionaryAttr>(checkpoint::kConfigAttrName);
  if (!config)
    return fail("lowered module has no '" + checkpoint::kConfigAttrName +
                "' attribute");
  nlohmann::json cfg;
  for (NamedAttribute a : config)
    cfg[a.getName().str()] = cast<IntegerAttr>(a.getValue()).getInt();
  int64_t L = cfg["layers"], C = cfg["width"], H = cfg["heads"],
          N = cfg["head_size"];
  // Adapter tensors still in the weight file (not merged away) can be
  // swapped at run time.
  nlohmann::json adapter = nlohmann::json::object();
  if (auto provided =
          module->getAttrOfType<DictionaryAttr>(checkpoint::kAdapterAttrName)) {
    std::set<std::string> stored;
    for (const nlohmann::json &entry : table)
      stored.insert(entry["name"].get<std::string>());
    nlohmann::json tensors = nlohmann::json::object();
    for (NamedAttribute a : provided)
      if (stored.count(a.getName().str()))
        tensors[a.getName().str()] = cast<StringAttr>(a.getValue()).str();
    adapter = {{"source", options.adapterSource}, {"tensors", tensors}};
  }
  manifest["entry"] = ("_mlir_ciface_" + checkpoint::kEntryName).str();
  manifest["abi"] = "rwkv7-forward-v2";
  if (module.lookupSymbol(checkpoint::kBatchEntryName))
    manifest["batch_entry"] =
        ("_mlir_ciface_" + checkpoint::kBatchEntryName).str();
  if (auto splice =
          module->getAttrOfType<DictionaryAttr>(multimodal::kSpliceAttrName)) {
    manifest["abi"] = "rwkv7-forward-mm-v2";
    nlohmann::json mm = nlohmann::json::object();
    for (NamedAttribute a : splice) {
      if (auto i = dyn_cast<IntegerAttr>(a.getValue()))
        mm[a.getName().str()] = i.getInt();
      else
        mm[a.getName().str()] = cast<StringAttr>(a.getValue()).str();
    }
    if (auto pre = module->getAttrOfType<StringAttr>(kPreprocessAttrName))
      mm["preprocess"] = nlohmann::json::parse(pre.str());
    manifest["multimodal"] = mm;
  }
  manifest["config"] = cfg;
  manifest["state"] = {
      {"att_shift", {L, C}}, {"ffn_shift", {L, C}}, {"wkv", {L, H, N, N}}};
  // A state-tuned model: fresh states start from these weights (one per
  // layer), not from zeros.
  if (auto states =
          module->getAttrOfType<ArrayAttr>(rwkv::kInitialStateAttrName)) {
    nlohmann::json names = nlohmann::json::array();
    for (auto state : states.getAsRange<DenseResourceElementsAttr>())
      names.push_back(state.getRawHandle().getKey().str());
    manifest["initial_state"] = {{"wkv", names}};
  }
  manifest["adapter"] = adapter;
  return success();
}

LogicalResult describeGraphs(ModuleOp module, nlohmann::json &manifest) {
  nlohmann::json graphs = nlohmann::json::array();
  auto tensors = [](Attribute list) {
    nlohmann::json out = nlohmann::json::array();
    for (Attribute a : cast<ArrayAttr>(list)) {
      auto t = cast<DictionaryAttr>(a);
      std::vector<int64_t> shape;
      for (Attribute d : t.getAs<ArrayAttr>("shape"))
        shape.push_back(cast<IntegerAttr>(d).getInt());
      out.push_back({{"name", t.getAs<StringAttr>("name").str()},
                     {"dtype", t.getAs<StringAttr>("dtype").str()},
                     {"shape", shape}});
    }
    return out;
  };
  for (Attribute a : graphsOf(module)) {
    auto g = cast<DictionaryAttr>(a);
    StringRef symbol = graphSymbol(g);
    auto entry =
        module.lookupSymbol<LLVM::LLVMFuncOp>(("_mlir_ciface_" + symbol).str());
    nlohmann::json inputs = tensors(g.get("inputs")),
                   outputs = tensors(g.get("outputs"));
    size_t params = entry.getFunctionType().getNumParams();
    bool weightsArg = params == inputs.size() + outputs.size() + 1;
    if (!weightsArg && params != inputs.size() + outputs.size())
      return fail("entry @" + symbol + " takes " + llvm::Twine(params) +
                  " buffers for " + llvm::Twine(inputs.size()) +
                  " inputs and " + llvm::Twine(outputs.size()) + " outputs");
    nlohmann::json graph = {{"name", g.getAs<StringAttr>("name").str()},
                            {"entry", (kGraphEntryPrefix + symbol).str()},
                            {"weights_arg", weightsArg},
                            {"inputs", inputs},
                            {"outputs", outputs}};
    if (auto range = weightsArg ? entry.getArgAttrOfType<DenseI64ArrayAttr>(
                                      0, kWeightsBufferAttrName)
                                : DenseI64ArrayAttr())
      graph["weights_range"] = range.asArrayRef().vec();
    graphs.push_back(graph);
  }
  if (!manifest.contains("abi"))
    manifest["abi"] = "graph-v1";
  manifest["graphs"] = graphs;
  return success();
}

/// Whether `ir` calls into LLVM's OpenMP runtime (--parallel loops).
bool usesOpenmp(const llvm::Module &ir) {
  return ir.getFunction("__kmpc_fork_call") != nullptr;
}

/// Emits `ir` as an object at `objectPath` and links it into the shared
/// library `libraryPath` with the system C compiler driver (libm for tanhf
/// etc., libmvec and OpenMP when the code calls them); the object is
/// removed.
LogicalResult linkSharedLibrary(llvm::Module &ir, llvm::TargetMachine &machine,
                                StringRef objectPath, StringRef libraryPath) {
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(objectPath, ec, llvm::sys::fs::OF_None);
    if (ec)
      return fail("cannot write " + objectPath + ": " + ec.message());
    llvm::legacy::PassManager pm;
    if (machine.addPassesToEmitFile(pm, os, nullptr,
                                    llvm::CodeGenFileType::ObjectFile))
      return fail("the target cannot emit object files");
    pm.run(ir);
  }
  std::string cc = "cc";
  if (const char *env = std::getenv("MODRWKV_CC"))
    cc = env;
  auto program = llvm::sys::findProgramByName(cc);
  if (!program)
    return fail("cannot find the linker driver '" + cc +
                "' (install a C compiler or set MODRWKV_CC)");
  SmallVector<std::string> args = {*program,          "-shared",        "-o",
                                   libraryPath.str(), objectPath.str(), "-lm"};
  // Vectorized math calls (CodegenOptions::vectorMath) live in libmvec.
  if (llvm::any_of(ir.functions(), [](const llvm::Function &f) {
        return f.isDeclaration() && f.getName().starts_with("_ZGV");
      }))
    args.push_back("-lmvec");
  if (usesOpenmp(ir)) {
#ifdef MODRWKV_LIBOMP
    args.push_back(MODRWKV_LIBOMP);
    args.push_back("-Wl,-rpath," +
                   llvm::sys::path::parent_path(MODRWKV_LIBOMP).str());
#else
    return fail("the model has parallel loops, but this compiler was built "
                "without libomp (install libomp-22-dev and rebuild)");
#endif
  }
  SmallVector<llvm::StringRef> argRefs(args.begin(), args.end());
  std::string linkError;
  int rc = llvm::sys::ExecuteAndWait(*program, argRefs, std::nullopt, {}, 0, 0,
                                     &linkError);
  llvm::sys::fs::remove(objectPath);
  if (rc != 0)
    return fail("linking " + libraryPath + " failed (" + cc + " exited with " +
                llvm::Twine(rc) + ") " + linkError);
  return success();
}

} // namespace

void initCompiler(DialectRegistry &registry) {
  registerAllPasses();
  registerPasses();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  registry.insert<rwkv::RwkvDialect, mm::MmDialect, rwkv_gpu::RwkvGpuDialect>();
  registerRwkvGpuToLLVMInterface(registry);
}

LogicalResult runPipeline(ModuleOp module, StringRef pipeline) {
  PassManager pm(module.getContext());
  StringRef passes = pipeline;
  if (passes.consume_front("builtin.module(") && !passes.consume_back(")"))
    return fail("unbalanced pipeline '" + pipeline + "'");
  if (failed(parsePassPipeline(passes, pm, llvm::errs())))
    return fail("cannot parse the pipeline '" + pipeline + "'");
  if (failed(pm.run(module)))
    return fail("lowering failed");
  return success();
}

std::unique_ptr<llvm::Module> translateToLLVM(ModuleOp module,
                                              llvm::LLVMContext &llvmContext,
                                              const CodegenOptions &options) {
  if (failed(checkEntry(module)))
    return nullptr;
  std::string error;
  auto machine = hostMachine(options, error);
  if (!machine) {
    (void)fail(error);
    return nullptr;
  }
  auto llvmModule = translateModuleToLLVMIR(module, llvmContext, "model");
  if (!llvmModule) {
    (void)fail("translation to LLVM IR failed");
    return nullptr;
  }
  addPackedEntries(module, *llvmModule);
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple());
  optimize(*llvmModule, *machine, options.optLevel, options.vectorMath);
  return llvmModule;
}

LogicalResult embedHostKernels(ModuleOp module, const CodegenOptions &options) {
  std::string error;
  auto machine = hostMachine(options, error);
  if (!machine)
    return fail(error);
  SmallVector<gpu::GPUModuleOp> kernelModules(
      module.getOps<gpu::GPUModuleOp>());
  for (gpu::GPUModuleOp kernels : kernelModules) {
    llvm::LLVMContext llvmContext;
    auto ir = translateModuleToLLVMIR(kernels, llvmContext, kernels.getName());
    if (!ir)
      return fail("translating the kernels of @" + kernels.getName() +
                  " to LLVM IR failed");
    ir->setDataLayout(machine->createDataLayout());
    ir->setTargetTriple(machine->getTargetTriple());
    optimize(*ir, *machine, options.optLevel, /*vectorMath=*/false);
    llvm::SmallString<128> dir;
    if (std::error_code ec =
            llvm::sys::fs::createUniqueDirectory("modrwkv-kernels", dir))
      return fail("cannot create a temporary directory: " + ec.message());
    auto join = [&](StringRef file) {
      llvm::SmallString<128> p(dir);
      llvm::sys::path::append(p, file);
      return std::string(p);
    };
    std::string library = join("kernels.so");
    if (failed(linkSharedLibrary(*ir, *machine, join("kernels.o"), library))) {
      llvm::sys::fs::remove(library);
      llvm::sys::fs::remove(dir);
      return failure();
    }
    auto bytes = llvm::MemoryBuffer::getFile(library);
    llvm::sys::fs::remove(library);
    llvm::sys::fs::remove(dir);
    if (!bytes)
      return fail("cannot read " + library + ": " + bytes.getError().message());

    // The image model.so hands to cuModuleLoadData (cuda_emulator.h).
    modrwkv_emulator_image header = {};
    std::strncpy(header.magic, MODRWKV_EMULATOR_MAGIC, sizeof header.magic);
    header.size = (*bytes)->getBufferSize();
    std::string image(reinterpret_cast<const char *>(&header), sizeof header);
    image += (*bytes)->getBuffer();
    OpBuilder b(kernels);
    MLIRContext *context = b.getContext();
    context->getOrLoadDialect<NVVM::NVVMDialect>();
    // The object's target only carries it: select_object embeds a `bin`
    // object as bytes, whatever the target.
    auto object =
        gpu::ObjectAttr::get(context, NVVM::NVVMTargetAttr::get(context),
                             gpu::CompilationTarget::Binary,
                             b.getStringAttr(image), nullptr, nullptr);
    gpu::BinaryOp::create(b, kernels.getLoc(), kernels.getName(), nullptr,
                          ArrayRef<Attribute>{object});
    kernels.erase();
  }
  return success();
}

std::string deviceAssembly(ModuleOp module) {
  std::string text;
  module.walk([&](gpu::BinaryOp binary) {
    for (Attribute object : binary.getObjects())
      if (auto o = dyn_cast<gpu::ObjectAttr>(object);
          o && o.getFormat() == gpu::CompilationTarget::Assembly)
        text += o.getObject().getValue();
  });
  return text;
}

/// The kernel table of a cuda artifact: every kernel model.so launches,
/// in launch order, the device code's file, and the products that take
/// cuBLAS (rwkv_gpu.gemm) from `min_tokens` tokens on (each one instead of
/// its kernel; a bf16 product as two calls and a conversion kernel).
nlohmann::json kernelTable(ModuleOp module, const CodegenOptions &options) {
  nlohmann::json names = nlohmann::json::array();
  std::map<std::string, int64_t> launches, gemms; ///< per entry point
  std::set<std::string> seen;
  auto entryOf = [](Operation *op) {
    auto entry = op->getParentOfType<FunctionOpInterface>();
    return entry ? entry.getName().str() : "";
  };
  module.walk([&](gpu::LaunchFuncOp launch) {
    ++launches[entryOf(launch)];
    std::string name = launch.getKernelName().str();
    if (seen.insert(name).second)
      names.push_back(name);
  });
  std::optional<int64_t> minTokens;
  module.walk([&](LLVM::CallOp call) {
    std::optional<StringRef> callee = call.getCallee();
    APInt value;
    if (callee == "modrwkv_gpu_gemm")
      ++gemms[entryOf(call)];
    else if (callee == "modrwkv_gpu_blas_min_tokens" &&
             matchPattern(call.getOperand(0), m_ConstantInt(&value)))
      minTokens = value.getSExtValue();
  });
  std::string entry = checkpoint::kEntryName.str(),
              batch = checkpoint::kBatchEntryName.str();
  nlohmann::json table = {{"format", options.hostKernels ? "host" : "ptx"},
                          {"chip", options.hostKernels ? "" : options.chip},
                          {"names", names},
                          {"launches_per_call", launches[entry]}};
  if (!options.hostKernels)
    table["file"] = "kernels.ptx";
  if (launches.count(batch))
    table["batch_launches_per_call"] = launches[batch];
  if (minTokens) {
    table["cublas"] = {{"min_tokens", *minTokens},
                       {"calls_per_call", gemms[entry]}};
    if (gemms.count(batch))
      table["cublas"]["batch_calls_per_call"] = gemms[batch];
  }
  return table;
}

LogicalResult writeArtifact(ModuleOp module, llvm::Module &llvmIR,
                            StringRef dir, StringRef source,
                            const CodegenOptions &options) {
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return fail("cannot create " + dir + ": " + ec.message());
  auto join = [&](StringRef file) {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, file);
    return std::string(p);
  };

  // Object code, linked into model.so.
  std::string error;
  auto machine = hostMachine(options, error);
  if (!machine)
    return fail(error);
  bool openmp = usesOpenmp(llvmIR);
  if (failed(linkSharedLibrary(llvmIR, *machine, join("model.o"),
                               join("model.so"))))
    return failure();

  // Weights and manifest.
  nlohmann::json table = nlohmann::json::array();
  uint64_t weightBytes = 0;
  if (failed(writeWeights(module, join("weights.bin"), table, weightBytes)))
    return failure();
  bool cuda = options.target == "cuda";
  if (cuda && !options.hostKernels) {
    std::error_code ec;
    llvm::raw_fd_ostream ptx(join("kernels.ptx"), ec, llvm::sys::fs::OF_Text);
    if (ec)
      return fail("cannot write kernels.ptx: " + ec.message());
    ptx << deviceAssembly(module);
  }
  nlohmann::json manifest = {
      {"format", "modrwkv-artifact"},
      {"version", 1},
      {"target", options.target},
      {"cpu", options.cpu},
      {"library", "model.so"},
      {"threads", openmp ? "openmp" : "single"},
      {"source", source.str()},
      {"weights",
       {{"file", "weights.bin"}, {"size", weightBytes}, {"tensors", table}}}};
  if (cuda)
    manifest["kernels"] = kernelTable(module, options);
  if (module->hasAttr(checkpoint::kConfigAttrName) &&
      failed(describeLanguageModel(module, table, options, manifest)))
    return failure();
  if (graphsOf(module) && failed(describeGraphs(module, manifest)))
    return failure();
  std::error_code ec;
  llvm::raw_fd_ostream os(join("manifest.json"), ec, llvm::sys::fs::OF_Text);
  if (ec)
    return fail("cannot write manifest.json: " + ec.message());
  os << manifest.dump(2) << "\n";
  return success();
}

} // namespace modrwkv
