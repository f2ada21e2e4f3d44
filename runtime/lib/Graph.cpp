//===- Graph.cpp - run compiled ONNX graphs -------------------------------===//

#include "modrwkv/graph.h"

#include "ArtifactFiles.h"
#include "Cuda.h"
#include "Errors.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#define API MODRWKV_API

using modrwkv::runtime::Descriptor;
using modrwkv::runtime::Failure;
using modrwkv::runtime::guarded;

namespace {

struct TensorSpec {
  std::string name, dtype;
  std::vector<int64_t> shape;
  int64_t bytes = 0;
};

struct GraphEntry {
  std::string name;
  void (*entry)(void **) = nullptr;
  bool weightsArg = false;
  std::vector<TensorSpec> inputs, outputs;
  /// --target cuda: the bytes [first, last) of weights.bin the graph reads
  /// (an encoder's, not the language model's), uploaded at load.
  std::unique_ptr<modrwkv::runtime::cuda::DeviceBuffer> deviceWeights;
  uint64_t first = 0;
};

int64_t elementBytes(const std::string &dtype) {
  if (dtype == "bool" || dtype == "int8" || dtype == "uint8")
    return 1;
  if (dtype == "int16" || dtype == "uint16" || dtype == "float16" ||
      dtype == "bfloat16")
    return 2;
  if (dtype == "float32" || dtype == "int32" || dtype == "uint32")
    return 4;
  if (dtype == "float64" || dtype == "int64" || dtype == "uint64")
    return 8;
  if (dtype == "string")
    return sizeof(char *);
  return 0;
}

/// The text of `v` as Python's repr and numpy print it (the ONNX reference
/// casts with numpy): the shortest digits that read back as `v`,
/// positional for 1e-4 <= |v| < 1e16 ("7.0", "0.0001", "123456790.0"),
/// else scientific ("1e-05", "1.5e+16"); "nan", "inf", "-inf". Malloc'd.
template <typename T> char *numpyText(T v) {
  if (std::isnan(v))
    return strdup("nan");
  if (std::isinf(v))
    return strdup(v < 0 ? "-inf" : "inf");
  std::string out = std::signbit(v) ? "-" : "";
  T a = std::fabs(v);
  if (a == 0)
    return strdup((out + "0.0").c_str());
  // Shortest digits d0.d1d2...e[+-]x.
  char buf[64];
  auto [end, ec] =
      std::to_chars(buf, buf + sizeof buf, a, std::chars_format::scientific);
  std::string sci(buf, ec == std::errc() ? end : buf);
  size_t e = sci.find('e');
  std::string digits =
      sci.substr(0, 1) + (e > 1 ? sci.substr(2, e - 2) : std::string());
  int exponent = std::atoi(sci.c_str() + e + 1);
  if (double(a) >= 1e-4 && double(a) < 1e16) { // as numpy decides
    if (exponent >= 0) {
      digits.resize(std::max<size_t>(digits.size(), exponent + 1), '0');
      std::string fraction = digits.substr(exponent + 1);
      out += digits.substr(0, exponent + 1) + "." +
             (fraction.empty() ? "0" : fraction);
    } else {
      out += "0." + std::string(-exponent - 1, '0') + digits;
    }
  } else {
    std::string power = std::to_string(std::abs(exponent));
    out += digits.substr(0, 1) +
           (digits.size() > 1 ? "." + digits.substr(1) : std::string()) +
           (exponent < 0 ? "e-" : "e+") + (power.size() < 2 ? "0" : "") + power;
  }
  return strdup(out.c_str());
}

std::vector<TensorSpec> specs(const nlohmann::json &list,
                              const std::string &where) {
  std::vector<TensorSpec> out;
  if (!list.is_array())
    throw Failure(where + ": tensor list missing");
  for (const nlohmann::json &t : list) {
    TensorSpec s;
    s.name = t.value("name", "");
    s.dtype = t.value("dtype", "");
    s.shape = t.at("shape").get<std::vector<int64_t>>();
    s.bytes = elementBytes(s.dtype);
    if (s.bytes == 0)
      throw Failure(where + ": tensor '" + s.name + "' has unknown dtype '" +
                    s.dtype + "'");
    for (int64_t d : s.shape) {
      if (d < 0)
        throw Failure(where + ": tensor '" + s.name + "' has a negative dim");
      s.bytes *= d;
    }
    out.push_back(std::move(s));
  }
  return out;
}

} // namespace

struct modrwkv_graphs {
  modrwkv::runtime::ArtifactFiles files;
  std::vector<GraphEntry> graphs;
  bool cuda = false;

  const GraphEntry &at(int64_t g) const {
    if (g < 0 || g >= int64_t(graphs.size()))
      throw Failure("graph index " + std::to_string(g) + " out of range");
    return graphs[g];
  }
};

namespace {

/// Uploads the part of weights.bin that graph `e` reads.
void uploadWeights(modrwkv_graphs &m, GraphEntry &e, const nlohmann::json &g,
                   const std::string &where) {
  uint64_t first = 0, last = m.files.weightBytes;
  if (g.contains("weights_range")) {
    const nlohmann::json &range = g["weights_range"];
    if (!range.is_array() || range.size() != 2 ||
        !range[0].is_number_unsigned() || !range[1].is_number_unsigned() ||
        range[0].get<uint64_t>() > range[1].get<uint64_t>() ||
        range[1].get<uint64_t>() > m.files.weightBytes)
      throw Failure(where + ": bad weights_range " + range.dump());
    first = range[0].get<uint64_t>();
    last = range[1].get<uint64_t>();
  }
  e.deviceWeights = std::make_unique<modrwkv::runtime::cuda::DeviceBuffer>();
  modrwkv::runtime::cuda::upload(
      e.deviceWeights->reserve(last - first),
      static_cast<const char *>(m.files.weights) + first, last - first);
  e.first = first;
}

void load(modrwkv_graphs &m, const std::string &dir) {
  namespace cuda = modrwkv::runtime::cuda;
  m.files.open(dir, {"graph-v1", "rwkv7-forward-mm-v2"}, cuda::initialize);
  m.cuda = m.files.manifest.value("target", "") == "cuda";
  const nlohmann::json &list = m.files.manifest["graphs"];
  if (!list.is_array() || list.empty())
    throw Failure(m.files.manifestPath + ": no graphs");
  for (const nlohmann::json &g : list) {
    GraphEntry e;
    e.name = g.value("name", "");
    std::string where = m.files.manifestPath + ": graph '" + e.name + "'";
    e.inputs = specs(g["inputs"], where);
    e.outputs = specs(g["outputs"], where);
    e.weightsArg = g.value("weights_arg", false);
    e.entry = reinterpret_cast<void (*)(void **)>(
        m.files.symbol(g.value("entry", "")));
    if (m.cuda) {
      for (const std::vector<TensorSpec> *list : {&e.inputs, &e.outputs})
        for (const TensorSpec &t : *list)
          if (t.dtype == "string")
            throw Failure(where + ": string tensor '" + t.name +
                          "' cannot go to the GPU");
      if (e.weightsArg)
        uploadWeights(m, e, g, where);
    }
    m.graphs.push_back(std::move(e));
  }
}

void fillInfo(const TensorSpec &s, modrwkv_tensor_info *info) {
  if (!info)
    throw Failure("no info to fill");
  info->name = s.name.c_str();
  info->dtype = s.dtype.c_str();
  info->rank = s.shape.size();
  info->shape = s.shape.data();
  info->bytes = s.bytes;
}

} // namespace

API modrwkv_graphs *modrwkv_graphs_load(const char *dir) {
  auto *m = new modrwkv_graphs;
  if (guarded([&] { load(*m, dir ? dir : ""); }) != 0) {
    delete m;
    return nullptr;
  }
  return m;
}

API void modrwkv_graphs_free(modrwkv_graphs *graphs) { delete graphs; }

API int64_t modrwkv_graphs_count(const modrwkv_graphs *graphs) {
  return graphs ? graphs->graphs.size() : 0;
}

API int64_t modrwkv_graphs_find(const modrwkv_graphs *graphs,
                                const char *name) {
  for (size_t g = 0; graphs && name && g < graphs->graphs.size(); ++g)
    if (graphs->graphs[g].name == name)
      return g;
  return -1;
}

API const char *modrwkv_graph_name(const modrwkv_graphs *graphs,
                                   int64_t graph) {
  const char *name = nullptr;
  guarded([&] { name = graphs->at(graph).name.c_str(); });
  return name;
}

API int64_t modrwkv_graph_num_inputs(const modrwkv_graphs *graphs,
                                     int64_t graph) {
  int64_t n = -1;
  guarded([&] { n = graphs->at(graph).inputs.size(); });
  return n;
}

API int64_t modrwkv_graph_num_outputs(const modrwkv_graphs *graphs,
                                      int64_t graph) {
  int64_t n = -1;
  guarded([&] { n = graphs->at(graph).outputs.size(); });
  return n;
}

API int modrwkv_graph_input(const modrwkv_graphs *graphs, int64_t graph,
                            int64_t i, modrwkv_tensor_info *info) {
  return guarded([&] {
    const GraphEntry &g = graphs->at(graph);
    if (i < 0 || i >= int64_t(g.inputs.size()))
      throw Failure("input index out of range");
    fillInfo(g.inputs[i], info);
  });
}

API int modrwkv_graph_output(const modrwkv_graphs *graphs, int64_t graph,
                             int64_t i, modrwkv_tensor_info *info) {
  return guarded([&] {
    const GraphEntry &g = graphs->at(graph);
    if (i < 0 || i >= int64_t(g.outputs.size()))
      throw Failure("output index out of range");
    fillInfo(g.outputs[i], info);
  });
}

API int modrwkv_graph_run(const modrwkv_graphs *graphs, int64_t graph,
                          const void *const *inputs, void *const *outputs) {
  return guarded([&] {
    if (!graphs)
      throw Failure("modrwkv_graph_run: no graphs");
    namespace cuda = modrwkv::runtime::cuda;
    const GraphEntry &g = graphs->at(graph);
    std::vector<Descriptor> descriptors;
    descriptors.reserve(1 + g.inputs.size() + g.outputs.size());
    if (g.weightsArg) {
      int64_t size = graphs->files.weightBytes;
      // On the device, the uploaded bytes stand at their file offsets from
      // a base that is never dereferenced below `first`.
      void *base = graphs->cuda
                       ? reinterpret_cast<void *>(reinterpret_cast<uintptr_t>(
                                                      g.deviceWeights->data) -
                                                  g.first)
                       : graphs->files.weights;
      descriptors.emplace_back(base, &size, 1);
    }
    // --target cuda: the graph reads and writes device copies.
    std::vector<cuda::DeviceBuffer> device(
        graphs->cuda ? g.inputs.size() + g.outputs.size() : 0);
    auto add = [&](const TensorSpec &s, const void *data, bool input) {
      if (!data && s.bytes)
        throw Failure("modrwkv_graph_run: no buffer for '" + s.name + "'");
      if (graphs->cuda) {
        void *copy = device[descriptors.size() - g.weightsArg].reserve(s.bytes);
        if (input)
          cuda::upload(copy, data, s.bytes);
        data = copy;
      }
      descriptors.emplace_back(const_cast<void *>(data), s.shape.data(),
                               s.shape.size());
    };
    for (size_t i = 0; i < g.inputs.size(); ++i)
      add(g.inputs[i], inputs[i], true);
    for (size_t i = 0; i < g.outputs.size(); ++i)
      add(g.outputs[i], outputs[i], false);
    std::vector<void *> args;
    for (Descriptor &d : descriptors)
      args.push_back(d.get());
    g.entry(args.data());
    if (!graphs->cuda)
      return;
    cuda::checkErrors(("running graph '" + g.name + "' on the GPU").c_str());
    for (size_t i = 0; i < g.outputs.size(); ++i)
      cuda::download(outputs[i], device[g.inputs.size() + i].data,
                     g.outputs[i].bytes);
  });
}

// Number-to-string casts in compiled graphs call these (ONNX Cast to
// STRING); their text reads back as the same value.
API char *modrwkv_string_from_f32(float v) { return numpyText(v); }
API char *modrwkv_string_from_f64(double v) { return numpyText(v); }
API char *modrwkv_string_from_i64(int64_t v) {
  return strdup(std::to_string(v).c_str());
}
