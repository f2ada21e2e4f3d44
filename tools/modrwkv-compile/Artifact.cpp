//===- Artifact.cpp - LLVM-dialect module to an artifact directory --------===//

#include "Artifact.h"

#include "modrwkv/Checkpoint/Importer.h"
#include "modrwkv/Passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <nlohmann/json.hpp>

#include <set>

using namespace mlir;

namespace modrwkv {
namespace {

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
      llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    error = "cannot create a target machine for CPU '" + cpu + "'";
  return machine;
}

/// The compiled entry must be `void(ptr x 6)`: state and logits updated in
/// place through the descriptors (see runtime.h).
LogicalResult checkEntry(ModuleOp module) {
  std::string name = ("_mlir_ciface_" + checkpoint::kEntryName).str();
  auto entry = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
  if (!entry)
    return module.emitError("lowered module has no entry point @") << name;
  LLVM::LLVMFunctionType type = entry.getFunctionType();
  if (!isa<LLVM::LLVMVoidType>(type.getReturnType()) ||
      type.getNumParams() != 6)
    return entry.emitError("entry point must return nothing and take the six "
                           "buffers (weights, tokens, att_shift, ffn_shift, "
                           "wkv, logits); got ")
           << type << ": state or logits were not updated in place";
  return success();
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
    if (!element.isF32() && !element.isBF16())
      return fail("weight '" + name + "' has unsupported element type");
    uint64_t bytes =
        uint64_t(type.getNumElements()) * element.getIntOrFloatBitWidth() / 8;
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
                     {"dtype", element.isF32() ? "f32" : "bf16"}});
  }
  os.close();
  if (os.has_error())
    return fail("cannot write " + path + ": " + os.error().message());
  return success();
}

} // namespace

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
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple());
  auto optimize = makeOptimizingTransformer(options.optLevel, 0, machine.get());
  if (llvm::Error err = optimize(llvmModule.get())) {
    (void)fail("LLVM optimization failed: " + llvm::toString(std::move(err)));
    return nullptr;
  }
  return llvmModule;
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

  // Object code.
  std::string error;
  auto machine = hostMachine(options, error);
  if (!machine)
    return fail(error);
  std::string objectPath = join("model.o");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(objectPath, ec, llvm::sys::fs::OF_None);
    if (ec)
      return fail("cannot write " + objectPath + ": " + ec.message());
    llvm::legacy::PassManager pm;
    if (machine->addPassesToEmitFile(pm, os, nullptr,
                                     llvm::CodeGenFileType::ObjectFile))
      return fail("the target cannot emit object files");
    pm.run(llvmIR);
  }

  // model.so, linked by the system C compiler driver (libm for tanhf etc.).
  std::string cc = "cc";
  if (const char *env = std::getenv("MODRWKV_CC"))
    cc = env;
  auto program = llvm::sys::findProgramByName(cc);
  if (!program)
    return fail("cannot find the linker driver '" + cc +
                "' (install a C compiler or set MODRWKV_CC)");
  std::string libraryPath = join("model.so");
  llvm::StringRef args[] = {*program,    "-shared",  "-o",
                            libraryPath, objectPath, "-lm"};
  std::string linkError;
  int rc = llvm::sys::ExecuteAndWait(*program, args, std::nullopt, {}, 0, 0,
                                     &linkError);
  llvm::sys::fs::remove(objectPath);
  if (rc != 0)
    return fail("linking " + libraryPath + " failed (" + cc + " exited with " +
                llvm::Twine(rc) + ") " + linkError);

  // Weights and manifest.
  nlohmann::json table = nlohmann::json::array();
  uint64_t weightBytes = 0;
  if (failed(writeWeights(module, join("weights.bin"), table, weightBytes)))
    return failure();
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
  nlohmann::json manifest = {
      {"format", "modrwkv-artifact"},
      {"version", 1},
      {"target", "cpu"},
      {"cpu", options.cpu},
      {"library", "model.so"},
      {"entry", ("_mlir_ciface_" + checkpoint::kEntryName).str()},
      {"abi", "rwkv7-forward-v1"},
      {"source", source.str()},
      {"config", cfg},
      {"state",
       {{"att_shift", {L, C}}, {"ffn_shift", {L, C}}, {"wkv", {L, H, N, N}}}},
      {"weights",
       {{"file", "weights.bin"}, {"size", weightBytes}, {"tensors", table}}},
      {"adapter", adapter}};
  std::error_code ec;
  llvm::raw_fd_ostream os(join("manifest.json"), ec, llvm::sys::fs::OF_Text);
  if (ec)
    return fail("cannot write manifest.json: " + ec.message());
  os << manifest.dump(2) << "\n";
  return success();
}

} // namespace modrwkv
