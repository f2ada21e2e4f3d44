//===- modrwkv-onnx-test.cpp - run ONNX backend-test folders --------------===//
//
//   modrwkv-onnx-test [--rtol R] [--atol A] [--keep DIR] [--cuda-emulator]
//                     TEST_DIR...
//
// Each TEST_DIR holds model.onnx and test_data_set_*/{input,output}_N.pb
// (the layout of ONNX's backend node tests). Every model is imported,
// compiled to an artifact, run on the CPU (with --cuda-emulator: compiled
// for --target cuda and run on the CUDA emulator) and compared with the
// expected outputs: |got - want| <= atol + rtol * |want| (NaN matches NaN).
// Prints
//   PASS <name> | FAIL <name>: <reason> | UNSUPPORTED <name>: <op>
// per test, then `K unsupported` and `N passed, M failed`; exits 1 on any
// FAIL.
//
// Graph inputs that decide shapes (a Reshape's `shape` fed as an input) are
// bound to the data set's values at compile time, and the test line says so.
//
//===----------------------------------------------------------------------===//

#include "Artifact.h"

#include "modrwkv/Onnx/Importer.h"
#include "modrwkv/Passes/Passes.h"
#include "modrwkv/graph.h"
#include "modrwkv/runtime.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>
#include <set>

using namespace mlir;
namespace cl = llvm::cl;
namespace fe = modrwkv::onnxfe;

namespace {

cl::list<std::string> testDirs(cl::Positional, cl::OneOrMore,
                               cl::desc("<backend test folder>..."));
cl::opt<double> rtol("rtol", cl::init(1e-3), cl::desc("Relative tolerance"));
cl::opt<double> atol("atol", cl::init(1e-7), cl::desc("Absolute tolerance"));
cl::opt<bool> cudaEmulator(
    "cuda-emulator",
    cl::desc("Compile for --target cuda with the kernels as host code and "
             "run on the CUDA emulator (MODRWKV_LIBCUDA, by default "
             "libmodrwkv_cuda_emulator.so beside this tool's bin/)"),
    cl::init(false));
cl::opt<std::string> keep("keep",
                          cl::desc("Keep the artifacts under this folder "
                                   "(default: a temporary folder, removed)"),
                          cl::value_desc("dir"));

struct DataSet {
  std::string name;
  std::vector<fe::Tensor> inputs, outputs;
};

/// input_0.pb, input_1.pb, ... until one is missing.
llvm::Expected<std::vector<fe::Tensor>> readSeries(const std::string &dir,
                                                   const char *prefix) {
  std::vector<fe::Tensor> out;
  for (int i = 0;; ++i) {
    std::string path = dir + "/" + prefix + std::to_string(i) + ".pb";
    if (!llvm::sys::fs::exists(path))
      return out;
    auto t = fe::readTensorFile(path);
    if (!t)
      return t.takeError();
    out.push_back(std::move(*t));
  }
}

llvm::Expected<std::vector<DataSet>> readDataSets(const std::string &dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    std::string base = llvm::sys::path::filename(it->path()).str();
    if (llvm::StringRef(base).starts_with("test_data_set_"))
      names.push_back(base);
  }
  llvm::sort(names);
  std::vector<DataSet> sets;
  for (const std::string &name : names) {
    DataSet set{name, {}, {}};
    auto inputs = readSeries(dir + "/" + name, "input_");
    if (!inputs)
      return inputs.takeError();
    auto outputs = readSeries(dir + "/" + name, "output_");
    if (!outputs)
      return outputs.takeError();
    set.inputs = std::move(*inputs);
    set.outputs = std::move(*outputs);
    sets.push_back(std::move(set));
  }
  if (sets.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "no test_data_set_* folder");
  return sets;
}

/// Compares string outputs exactly (the graph malloc'd them: freed here).
std::string compareStrings(const fe::Tensor &want,
                           const modrwkv_tensor_info &info,
                           const std::vector<char> &got) {
  std::vector<char *> texts(want.strings.size());
  std::memcpy(texts.data(), got.data(), texts.size() * sizeof(char *));
  int64_t bad = 0, first = -1;
  for (size_t k = 0; k < texts.size(); ++k)
    if (!texts[k] || want.strings[k] != texts[k])
      if (bad++ == 0)
        first = k;
  std::string msg;
  if (bad)
    msg = "output '" + std::string(info.name) + "': " + std::to_string(bad) +
          " of " + std::to_string(texts.size()) + " strings differ (first at " +
          std::to_string(first) + ": got '" +
          (texts[first] ? texts[first] : "(null)") + "', want '" +
          want.strings[first] + "')";
  for (char *text : texts)
    std::free(text);
  return msg;
}

/// Compares one output; "" if it matches.
std::string compare(const fe::Tensor &want, const modrwkv_tensor_info &info,
                    const std::vector<char> &got) {
  std::vector<int64_t> shape(info.shape, info.shape + info.rank);
  if (shape != want.shape)
    return "output '" + std::string(info.name) + "' has the wrong shape";
  if (fe::dtypeName(want.dtype) != info.dtype)
    return "output '" + std::string(info.name) + "' is " + info.dtype +
           ", expected " + fe::dtypeName(want.dtype);
  if (want.dtype == fe::kString)
    return compareStrings(want, info, got);
  fe::Tensor actual = want;
  actual.data = got.data();
  int64_t n = want.numElements(), bad = 0, first = -1;
  double worst = 0;
  for (int64_t k = 0; k < n; ++k) {
    bool ok;
    if (fe::isFloatType(want.dtype)) {
      double w = want.asDouble(k), g = actual.asDouble(k);
      ok = (std::isnan(w) && std::isnan(g)) || w == g ||
           std::fabs(g - w) <= atol + rtol * std::fabs(w);
      if (!ok && !std::isnan(g - w))
        worst = std::max(worst, std::fabs(g - w));
    } else {
      ok = want.asInt(k) == actual.asInt(k);
    }
    if (!ok && bad++ == 0)
      first = k;
  }
  if (!bad)
    return "";
  std::string msg = "output '" + std::string(info.name) +
                    "': " + std::to_string(bad) + " of " + std::to_string(n) +
                    " elements differ (first at " + std::to_string(first) +
                    ": got " + std::to_string(actual.asDouble(first)) +
                    ", want " + std::to_string(want.asDouble(first)) + ")";
  if (worst > 0)
    msg += ", max abs error " + std::to_string(worst);
  return msg;
}

enum class Outcome { Pass, Fail, Unsupported };

struct Result {
  Outcome outcome;
  std::string detail;
};

class Runner {
public:
  explicit Runner(DialectRegistry &registry) : registry(registry) {}

  Result run(const std::string &dir, const std::string &artifacts) {
    base = artifacts;
    std::string artifactDir;
    auto model = fe::readModel(dir + "/model.onnx");
    if (!model)
      return {Outcome::Fail, llvm::toString(model.takeError())};
    for (const auto *list : {&model->graph.inputs, &model->graph.outputs})
      for (const fe::ValueInfo &v : *list)
        if (v.dtype == fe::kUndefined ||
            (fe::dtypeBytes(v.dtype) == 0 && v.dtype != fe::kString))
          return {Outcome::Unsupported,
                  "graph value '" + v.name + "' is " +
                      (v.dtype == fe::kUndefined
                           ? std::string("a sequence, map or optional")
                           : "of type " + fe::dtypeName(v.dtype))};
    auto sets = readDataSets(dir);
    if (!sets)
      return {Outcome::Fail, llvm::toString(sets.takeError())};
    // First try with every input at run time; bind shape inputs if asked.
    fe::ImportOptions options;
    std::string note;
    auto compiled = compile(*model, options, artifactDir);
    for (size_t s = 0; s < sets->size(); ++s) {
      const DataSet &set = (*sets)[s];
      if (!compiled.error.empty() &&
          compiled.failure.kind == fe::ImportFailure::NeedsConstant) {
        // Binding some inputs can reveal more (a lowering stops at the
        // first unknown operand): bind until the import asks for no more.
        options.boundInputs.clear();
        std::set<std::string> wanted = compiled.failure.inputs;
        Compiled bound = compiled;
        for (int round = 0;
             round < 8 && !bound.error.empty() &&
             bound.failure.kind == fe::ImportFailure::NeedsConstant;
             ++round) {
          wanted.insert(bound.failure.inputs.begin(),
                        bound.failure.inputs.end());
          for (const std::string &name : wanted) {
            auto index = inputIndex(*model, name);
            if (!index || *index >= set.inputs.size())
              return {Outcome::Fail, "no data for input '" + name + "'"};
            options.boundInputs[name] = set.inputs[*index];
          }
          bound = compile(*model, options, artifactDir);
        }
        note = " (inputs deciding shapes bound at compile time)";
        if (!bound.error.empty())
          return failedCompile(bound);
        if (Result r = execute(*model, set, options, artifactDir);
            r.outcome != Outcome::Pass)
          return r;
        continue;
      }
      if (!compiled.error.empty())
        return failedCompile(compiled);
      if (Result r = execute(*model, set, options, artifactDir);
          r.outcome != Outcome::Pass)
        return r;
    }
    return {Outcome::Pass, note};
  }

private:
  struct Compiled {
    std::string error;
    fe::ImportFailure failure;
  };

  static std::optional<size_t> inputIndex(const fe::Model &model,
                                          const std::string &name) {
    // Data sets list every declared input, initializers excluded.
    for (size_t i = 0; i < model.graph.inputs.size(); ++i)
      if (model.graph.inputs[i].name == name)
        return i;
    return std::nullopt;
  }

  static Result failedCompile(const Compiled &c) {
    if (c.failure.kind == fe::ImportFailure::Unsupported && !c.error.empty())
      return {Outcome::Unsupported, c.error};
    return {Outcome::Fail, c.error};
  }

  /// Each compilation gets its own folder: a library path is never
  /// dlopen-ed twice with different contents.
  Compiled compile(const fe::Model &model, const fe::ImportOptions &options,
                   std::string &artifactDir) {
    Compiled c;
    artifactDir = base + "/" + std::to_string(++compilations);
    MLIRContext context(registry);
    context.disableMultithreading();
    OwningOpRef<ModuleOp> module =
        fe::importModel(context, model, options, c.failure);
    if (!module) {
      c.error = c.failure.message;
      // Keep only the node lines of the message: "<op> '<node>' ...".
      size_t nl = c.error.find('\n');
      if (c.failure.kind == fe::ImportFailure::Unsupported &&
          nl != std::string::npos) {
        std::string lines = c.error.substr(nl + 1);
        llvm::StringRef rest(lines);
        c.error.clear();
        while (!rest.empty()) {
          auto [line, tail] = rest.split('\n');
          c.error += (c.error.empty() ? "" : "; ") + line.trim().str();
          rest = tail;
        }
      }
      return c;
    }
    std::string diagnostics;
    {
      llvm::raw_string_ostream os(diagnostics);
      ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
        os << d.str() << "; ";
        return success();
      });
      modrwkv::CodegenOptions codegen;
      if (cudaEmulator) {
        codegen.target = "cuda";
        codegen.hostKernels = true;
      }
      llvm::LLVMContext llvmContext;
      std::unique_ptr<llvm::Module> llvmModule;
      if (failed(module->verify()) ||
          failed(modrwkv::runPipeline(
              *module, cudaEmulator ? "modrwkv-cuda-pipeline{host-kernels=1}"
                                    : "modrwkv-cpu-pipeline")) ||
          (cudaEmulator &&
           failed(modrwkv::embedHostKernels(*module, codegen))) ||
          !(llvmModule =
                modrwkv::translateToLLVM(*module, llvmContext, codegen)) ||
          failed(modrwkv::writeArtifact(*module, *llvmModule, artifactDir,
                                        model.path, codegen)))
        c.error =
            "compilation failed: " +
            (diagnostics.empty() ? std::string("see stderr") : diagnostics);
    }
    return c;
  }

  Result execute(const fe::Model &model, const DataSet &set,
                 const fe::ImportOptions &options,
                 const std::string &artifactDir) {
    modrwkv_graphs *graphs = modrwkv_graphs_load(artifactDir.c_str());
    if (!graphs)
      return {Outcome::Fail, modrwkv_last_error()};
    std::unique_ptr<modrwkv_graphs, void (*)(modrwkv_graphs *)> owner(
        graphs, modrwkv_graphs_free);
    int64_t numInputs = modrwkv_graph_num_inputs(graphs, 0);
    int64_t numOutputs = modrwkv_graph_num_outputs(graphs, 0);
    std::vector<const void *> inputs;
    std::vector<std::vector<const char *>> texts; // string inputs
    texts.reserve(numInputs);
    for (int64_t i = 0; i < numInputs; ++i) {
      modrwkv_tensor_info info;
      modrwkv_graph_input(graphs, 0, i, &info);
      auto index = inputIndex(model, info.name);
      if (!index || *index >= set.inputs.size())
        return {Outcome::Fail, set.name + ": no data for input '" +
                                   std::string(info.name) + "'"};
      const fe::Tensor &t = set.inputs[*index];
      int64_t bytes = t.dtype == fe::kString
                          ? int64_t(t.strings.size() * sizeof(char *))
                          : t.bytes;
      if (bytes != info.bytes)
        return {Outcome::Fail, set.name + ": input '" + std::string(info.name) +
                                   "' has the wrong size"};
      if (t.dtype != fe::kString) {
        inputs.push_back(t.data);
        continue;
      }
      texts.emplace_back();
      for (const std::string &text : t.strings)
        texts.back().push_back(text.c_str());
      inputs.push_back(texts.back().data());
    }
    if (size_t(numOutputs) != set.outputs.size())
      return {Outcome::Fail, "the graph has " + std::to_string(numOutputs) +
                                 " outputs, the data set " +
                                 std::to_string(set.outputs.size())};
    std::vector<std::vector<char>> results(numOutputs);
    std::vector<void *> outputs;
    for (int64_t i = 0; i < numOutputs; ++i) {
      modrwkv_tensor_info info;
      modrwkv_graph_output(graphs, 0, i, &info);
      results[i].assign(std::max<int64_t>(info.bytes, 1), 0);
      outputs.push_back(results[i].data());
    }
    if (modrwkv_graph_run(graphs, 0, inputs.data(), outputs.data()) != 0)
      return {Outcome::Fail, modrwkv_last_error()};
    for (int64_t i = 0; i < numOutputs; ++i) {
      modrwkv_tensor_info info;
      modrwkv_graph_output(graphs, 0, i, &info);
      std::string diff = compare(set.outputs[i], info, results[i]);
      if (!diff.empty())
        return {Outcome::Fail, set.name + ": " + diff};
    }
    return {Outcome::Pass, ""};
  }

  DialectRegistry &registry;
  std::string base;
  int compilations = 0;
};

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  DialectRegistry registry;
  modrwkv::initCompiler(registry);
  cl::ParseCommandLineOptions(argc, argv,
                              "modrwkv-onnx-test: compile and run ONNX "
                              "backend-test folders\n");

  if (cudaEmulator && !getenv("MODRWKV_LIBCUDA")) {
    llvm::SmallString<256> emulator(llvm::sys::path::parent_path(
        llvm::sys::fs::getMainExecutable(argv[0], (void *)&main)));
    llvm::sys::path::append(emulator, "..", "lib",
                            "libmodrwkv_cuda_emulator.so");
    setenv("MODRWKV_LIBCUDA", emulator.c_str(), 1);
  }
  llvm::SmallString<128> root;
  if (!keep.empty()) {
    root = keep;
    llvm::sys::fs::create_directories(root);
  } else if (llvm::sys::fs::createUniqueDirectory("modrwkv-onnx-test", root)) {
    llvm::errs() << "modrwkv-onnx-test: cannot create a temporary folder\n";
    return 1;
  }
  Runner runner(registry);
  int passed = 0, failed = 0, unsupported = 0;
  for (const std::string &dir : testDirs) {
    llvm::StringRef trimmed = llvm::StringRef(dir).rtrim('/');
    std::string name = llvm::sys::path::filename(trimmed).str();
    llvm::SmallString<128> artifact(root);
    llvm::sys::path::append(artifact, name);
    Result r = runner.run(trimmed.str(), std::string(artifact));
    switch (r.outcome) {
    case Outcome::Pass:
      ++passed;
      llvm::outs() << "PASS " << name << r.detail << "\n";
      break;
    case Outcome::Fail:
      ++failed;
      llvm::outs() << "FAIL " << name << ": " << r.detail << "\n";
      break;
    case Outcome::Unsupported:
      ++unsupported;
      llvm::outs() << "UNSUPPORTED " << name << ": " << r.detail << "\n";
      break;
    }
    llvm::outs().flush();
    if (keep.empty())
      llvm::sys::fs::remove_directories(artifact);
  }
  if (keep.empty())
    llvm::sys::fs::remove_directories(root);
  llvm::outs() << unsupported << " unsupported\n"
               << passed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}
