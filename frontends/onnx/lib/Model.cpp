//===- Model.cpp - read an ONNX model into plain C++ data -----------------===//

#include "modrwkv/Onnx/Model.h"

#include "onnx/checker.h"
#include "onnx/defs/parser.h"
#include "onnx/defs/schema.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"

#include <google/protobuf/io/coded_stream.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace modrwkv::onnxfe {

namespace {

llvm::Error fail(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// A read-only mapping of part of a file.
struct Mapping {
  void *base = MAP_FAILED;
  size_t length = 0;
  ~Mapping() {
    if (base != MAP_FAILED)
      munmap(base, length);
  }
};

llvm::Expected<std::string> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <typename T>
std::shared_ptr<std::vector<char>> packed(const T *values, int64_t n) {
  auto out = std::make_shared<std::vector<char>>(n * sizeof(T));
  std::memcpy(out->data(), values, out->size());
  return out;
}

/// Converts the typed repeated fields of a TensorProto to raw bytes.
llvm::Expected<std::shared_ptr<std::vector<char>>>
typedFieldBytes(const onnx::TensorProto &t, int64_t count,
                const std::string &what) {
  auto need = [&](int64_t have) -> llvm::Error {
    if (have != count)
      return fail(what + ": holds " + std::to_string(have) +
                  " values, its shape needs " + std::to_string(count));
    return llvm::Error::success();
  };
  int32_t dtype = t.data_type();
  switch (dtype) {
  case kFloat:
    if (auto e = need(t.float_data_size()))
      return std::move(e);
    return packed(t.float_data().data(), count);
  case kDouble:
    if (auto e = need(t.double_data_size()))
      return std::move(e);
    return packed(t.double_data().data(), count);
  case kInt64:
    if (auto e = need(t.int64_data_size()))
      return std::move(e);
    return packed(t.int64_data().data(), count);
  case kUInt32:
  case kUInt64: {
    if (auto e = need(t.uint64_data_size()))
      return std::move(e);
    if (dtype == kUInt64)
      return packed(t.uint64_data().data(), count);
    std::vector<uint32_t> v(t.uint64_data().begin(), t.uint64_data().end());
    return packed(v.data(), count);
  }
  case kInt32:
  case kInt16:
  case kInt8:
  case kUInt16:
  case kUInt8:
  case kBool:
  case kFloat16:
  case kBFloat16: {
    // These travel in int32_data, one element per entry (16-bit floats as
    // their bit patterns).
    if (auto e = need(t.int32_data_size()))
      return std::move(e);
    int64_t width = dtypeBytes(dtype);
    auto out = std::make_shared<std::vector<char>>(count * width);
    for (int64_t i = 0; i < count; ++i) {
      int32_t v = t.int32_data(i);
      std::memcpy(out->data() + i * width, &v, width); // little endian
    }
    return out;
  }
  default:
    return fail(what + ": unsupported element type " + dtypeName(dtype));
  }
}

/// Resolves `location` against the model folder, refusing paths that could
/// reach outside it.
llvm::Expected<std::string> externalPath(const std::string &modelPath,
                                         const std::string &location,
                                         const std::string &what) {
  if (location.empty())
    return fail(what + ": external data without a location");
  if (location[0] == '/')
    return fail(what + ": external data path '" + location +
                "' is absolute; only paths inside the model's folder are "
                "allowed");
  std::stringstream parts(location);
  std::string part;
  while (std::getline(parts, part, '/'))
    if (part == "..")
      return fail(what + ": external data path '" + location +
                  "' contains '..'; only paths inside the model's folder "
                  "are allowed");
  std::string folder = ".";
  if (size_t slash = modelPath.rfind('/'); slash != std::string::npos)
    folder = modelPath.substr(0, slash);
  std::string full = folder + "/" + location;
  // A symbolic link could still leave the folder: compare real paths.
  char realFolder[PATH_MAX], realFile[PATH_MAX];
  if (!realpath(folder.c_str(), realFolder) ||
      !realpath(full.c_str(), realFile))
    return fail(what + ": external data file '" + full +
                "' cannot be opened: " + std::strerror(errno));
  std::string prefix = std::string(realFolder) + "/";
  if (std::string(realFile).compare(0, prefix.size(), prefix) != 0)
    return fail(what + ": external data path '" + location +
                "' resolves outside the model's folder");
  return full;
}

llvm::Expected<Tensor> convertTensor(const onnx::TensorProto &t,
                                     const std::string &modelPath,
                                     const std::string &what) {
  Tensor out;
  out.name = t.name();
  out.dtype = t.data_type();
  for (int64_t d : t.dims()) {
    if (d < 0)
      return fail(what + ": negative dimension " + std::to_string(d));
    out.shape.push_back(d);
  }
  int64_t width = dtypeBytes(out.dtype);
  if (width == 0 && out.dtype != kString)
    return fail(what + ": unsupported element type " + dtypeName(out.dtype));
  int64_t count = 1;
  for (int64_t d : out.shape) {
    if (d != 0 && count > (int64_t(1) << 40) / d)
      return fail(what + ": shape is too large");
    count *= d;
  }
  out.bytes = count * width;
  if (out.dtype == kString) {
    if (t.data_location() == onnx::TensorProto::EXTERNAL || t.has_raw_data())
      return fail(what + ": string tensors must hold their strings in "
                         "string_data");
    if (t.string_data_size() != count)
      return fail(what + ": holds " + std::to_string(t.string_data_size()) +
                  " strings, its shape needs " + std::to_string(count));
    out.strings.assign(t.string_data().begin(), t.string_data().end());
    return out;
  }

  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto &kv : t.external_data()) {
      char *end = nullptr;
      if (kv.key() == "location") {
        location = kv.value();
        continue;
      }
      if (kv.key() != "offset" && kv.key() != "length")
        continue;
      long long v = std::strtoll(kv.value().c_str(), &end, 10);
      if (kv.value().empty() || *end || v < 0)
        return fail(what + ": bad external data " + kv.key() + " '" +
                    kv.value() + "'");
      (kv.key() == "offset" ? offset : length) = v;
    }
    auto path = externalPath(modelPath, location, what);
    if (!path)
      return path.takeError();
    if (length >= 0 && length != out.bytes)
      return fail(what + ": external data length " + std::to_string(length) +
                  " does not match its shape (" + std::to_string(out.bytes) +
                  " bytes)");
    int fd = open(path->c_str(), O_RDONLY);
    if (fd < 0)
      return fail(what + ": cannot open external data '" + *path +
                  "': " + std::strerror(errno));
    struct stat st;
    fstat(fd, &st);
    if (offset + out.bytes > st.st_size) {
      close(fd);
      return fail(what + ": external data '" + *path + "' holds " +
                  std::to_string(st.st_size) + " bytes, the tensor needs " +
                  std::to_string(offset + out.bytes));
    }
    auto mapping = std::make_shared<Mapping>();
    long page = sysconf(_SC_PAGESIZE);
    int64_t start = offset / page * page;
    mapping->length = offset - start + out.bytes;
    if (mapping->length > 0)
      mapping->base =
          mmap(nullptr, mapping->length, PROT_READ, MAP_PRIVATE, fd, start);
    close(fd);
    if (mapping->length > 0 && mapping->base == MAP_FAILED)
      return fail(what + ": cannot map external data '" + *path + "'");
    out.data = static_cast<const char *>(mapping->base) + (offset - start);
    out.owner = mapping;
    return out;
  }
  if (t.has_raw_data()) {
    if (int64_t(t.raw_data().size()) != out.bytes)
      return fail(
          what + ": raw data holds " + std::to_string(t.raw_data().size()) +
          " bytes, its shape and type need " + std::to_string(out.bytes));
    auto owned = std::make_shared<std::string>(t.raw_data());
    out.data = owned->data();
    out.owner = owned;
    return out;
  }
  auto bytes = typedFieldBytes(t, count, what);
  if (!bytes)
    return bytes.takeError();
  out.data = (*bytes)->data();
  out.owner = *bytes;
  return out;
}

ValueInfo convertValueInfo(const onnx::ValueInfoProto &v) {
  ValueInfo out;
  out.name = v.name();
  if (!v.type().has_tensor_type())
    return out;
  const auto &tt = v.type().tensor_type();
  out.dtype = tt.elem_type();
  if (!tt.has_shape())
    return out;
  out.hasShape = true;
  for (const auto &d : tt.shape().dim()) {
    out.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
    out.dimParams.push_back(d.has_dim_param() ? d.dim_param() : "");
  }
  return out;
}

llvm::Error convertGraph(const onnx::GraphProto &g, const std::string &path,
                         Graph &graph);

llvm::Expected<Attribute> convertAttribute(const onnx::AttributeProto &a,
                                           const std::string &modelPath,
                                           const std::string &what) {
  Attribute out;
  out.typeName = onnx::AttributeProto_AttributeType_Name(a.type());
  switch (a.type()) {
  case onnx::AttributeProto::FLOAT:
    out.kind = Attribute::Float;
    out.f = a.f();
    break;
  case onnx::AttributeProto::INT:
    out.kind = Attribute::Int;
    out.i = a.i();
    break;
  case onnx::AttributeProto::STRING:
    out.kind = Attribute::String;
    out.s = a.s();
    break;
  case onnx::AttributeProto::FLOATS:
    out.kind = Attribute::Floats;
    out.floats.assign(a.floats().begin(), a.floats().end());
    break;
  case onnx::AttributeProto::INTS:
    out.kind = Attribute::Ints;
    out.ints.assign(a.ints().begin(), a.ints().end());
    break;
  case onnx::AttributeProto::STRINGS:
    out.kind = Attribute::Strings;
    out.strings.assign(a.strings().begin(), a.strings().end());
    break;
  case onnx::AttributeProto::TENSOR: {
    auto t =
        convertTensor(a.t(), modelPath, what + " attribute '" + a.name() + "'");
    if (!t)
      return t.takeError();
    out.kind = Attribute::Tensor;
    out.tensor = std::make_shared<Tensor>(std::move(*t));
    break;
  }
  case onnx::AttributeProto::GRAPH: {
    auto graph = std::make_shared<Graph>();
    if (auto e = convertGraph(a.g(), modelPath, *graph))
      return std::move(e);
    out.kind = Attribute::Subgraph;
    out.graph = std::move(graph);
    break;
  }
  default:
    out.kind = Attribute::Other;
  }
  return out;
}

/// Pins symbolic input dims; every `--dim` must name a dim that exists.
llvm::Error pinDims(onnx::ModelProto &proto, const ReadOptions &options,
                    const std::string &path) {
  std::set<std::string> used;
  for (auto &input : *proto.mutable_graph()->mutable_input()) {
    if (!input.type().has_tensor_type() ||
        !input.type().tensor_type().has_shape())
      continue;
    auto *shape = input.mutable_type()->mutable_tensor_type()->mutable_shape();
    for (auto &dim : *shape->mutable_dim()) {
      if (!dim.has_dim_param())
        continue;
      auto it = options.dims.find(dim.dim_param());
      if (it == options.dims.end())
        continue;
      used.insert(it->first);
      dim.set_dim_value(it->second);
    }
  }
  for (const auto &[name, size] : options.dims) {
    if (size < 0)
      return fail(path + ": --dim " + name + "=" + std::to_string(size) +
                  ": the size must not be negative");
    if (!used.count(name))
      return fail(path + ": --dim " + name +
                  ": no graph input has a dimension named '" + name + "'");
  }
  return llvm::Error::success();
}

/// Every value is defined once, before its uses (libonnx's shape inference
/// assumes it and crashes otherwise); sub-graphs also see the names defined
/// before their node.
llvm::Error checkTopology(const onnx::GraphProto &g, const std::string &path,
                          std::set<std::string> defined = {}) {
  for (const auto &v : g.input())
    defined.insert(v.name());
  for (const auto &t : g.initializer())
    defined.insert(t.name());
  int index = 0;
  for (const auto &n : g.node()) {
    std::string label =
        n.op_type() + (n.name().empty() ? " #" + std::to_string(index)
                                        : " '" + n.name() + "'");
    ++index;
    for (const std::string &in : n.input())
      if (!in.empty() && !defined.count(in))
        return fail(path + ": " + label + ": input '" + in +
                    "' is not defined before it (graph inputs, "
                    "initializers and earlier nodes' outputs)");
    for (const auto &a : n.attribute())
      if (a.has_g())
        if (auto e = checkTopology(
                a.g(), path + ": " + label + " attribute '" + a.name() + "'",
                defined))
          return e;
    for (const std::string &out : n.output())
      if (!out.empty() && !defined.insert(out).second)
        return fail(path + ": " + label + ": output '" + out +
                    "' is defined twice");
  }
  for (const auto &v : g.output())
    if (!defined.count(v.name()))
      return fail(path + ": graph output '" + v.name() +
                  "' is not produced by any node");
  return llvm::Error::success();
}

llvm::Error convertGraph(const onnx::GraphProto &g, const std::string &path,
                         Graph &graph) {
  graph.name = g.name();
  for (const auto &t : g.initializer()) {
    if (t.name().empty())
      return fail(path + ": an initializer has no name");
    auto tensor =
        convertTensor(t, path, path + ": initializer '" + t.name() + "'");
    if (!tensor)
      return tensor.takeError();
    graph.initializers[t.name()] = std::move(*tensor);
  }
  for (const auto &v : g.input())
    if (!graph.initializers.count(v.name()))
      graph.inputs.push_back(convertValueInfo(v));
  for (const auto &v : g.output())
    graph.outputs.push_back(convertValueInfo(v));
  for (const auto &v : g.value_info())
    graph.valueInfo[v.name()] = convertValueInfo(v);
  for (const auto &v : g.output())
    graph.valueInfo[v.name()] = convertValueInfo(v);
  int64_t index = 0;
  for (const auto &n : g.node()) {
    Node node;
    node.index = index++;
    node.name = n.name();
    node.opType = n.op_type();
    node.domain = n.domain() == "ai.onnx" ? "" : n.domain();
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    for (const auto &a : n.attribute()) {
      auto attr = convertAttribute(a, path, path + ": " + node.label());
      if (!attr)
        return attr.takeError();
      node.attributes[a.name()] = std::move(*attr);
    }
    graph.nodes.push_back(std::move(node));
  }
  return llvm::Error::success();
}

} // namespace

std::string dtypeName(int32_t dtype) {
  switch (dtype) {
  case kFloat:
    return "float32";
  case kUInt8:
    return "uint8";
  case kInt8:
    return "int8";
  case kUInt16:
    return "uint16";
  case kInt16:
    return "int16";
  case kInt32:
    return "int32";
  case kInt64:
    return "int64";
  case kString:
    return "string";
  case kBool:
    return "bool";
  case kFloat16:
    return "float16";
  case kDouble:
    return "float64";
  case kUInt32:
    return "uint32";
  case kUInt64:
    return "uint64";
  case kBFloat16:
    return "bfloat16";
  default:
    return "dtype" + std::to_string(dtype);
  }
}

int64_t dtypeBytes(int32_t dtype) {
  switch (dtype) {
  case kUInt8:
  case kInt8:
  case kBool:
    return 1;
  case kUInt16:
  case kInt16:
  case kFloat16:
  case kBFloat16:
    return 2;
  case kFloat:
  case kInt32:
  case kUInt32:
    return 4;
  case kInt64:
  case kDouble:
  case kUInt64:
    return 8;
  default:
    return 0;
  }
}

bool isFloatType(int32_t dtype) {
  return dtype == kFloat || dtype == kDouble || dtype == kFloat16 ||
         dtype == kBFloat16;
}

bool isUnsignedType(int32_t dtype) {
  return dtype == kUInt8 || dtype == kUInt16 || dtype == kUInt32 ||
         dtype == kUInt64 || dtype == kBool;
}

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

namespace {
template <typename T> T load(const char *data, int64_t i) {
  T v;
  std::memcpy(&v, data + i * sizeof(T), sizeof(T));
  return v;
}

double halfToDouble(uint16_t h) {
  int sign = h >> 15, exponent = (h >> 10) & 31, mantissa = h & 1023;
  double v;
  if (exponent == 0)
    v = std::ldexp(mantissa, -24);
  else if (exponent == 31)
    v = mantissa ? NAN : INFINITY;
  else
    v = std::ldexp(mantissa + 1024, exponent - 25);
  return sign ? -v : v;
}
} // namespace

double Tensor::asDouble(int64_t i) const {
  switch (dtype) {
  case kFloat:
    return load<float>(data, i);
  case kDouble:
    return load<double>(data, i);
  case kFloat16:
    return halfToDouble(load<uint16_t>(data, i));
  case kBFloat16: {
    uint32_t bits = uint32_t(load<uint16_t>(data, i)) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  case kUInt64:
    return double(load<uint64_t>(data, i));
  default:
    return double(asInt(i));
  }
}

int64_t Tensor::asInt(int64_t i) const {
  switch (dtype) {
  case kUInt8:
  case kBool:
    return load<uint8_t>(data, i);
  case kInt8:
    return load<int8_t>(data, i);
  case kUInt16:
    return load<uint16_t>(data, i);
  case kInt16:
    return load<int16_t>(data, i);
  case kInt32:
    return load<int32_t>(data, i);
  case kUInt32:
    return load<uint32_t>(data, i);
  case kInt64:
    return load<int64_t>(data, i);
  case kUInt64:
    return int64_t(load<uint64_t>(data, i));
  default:
    return int64_t(asDouble(i));
  }
}

const Attribute *Node::attr(const std::string &key) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? nullptr : &it->second;
}

std::string Node::label() const {
  if (!name.empty())
    return opType + " '" + name + "'";
  return opType + " #" + std::to_string(index);
}

llvm::Expected<Model> readModel(const std::string &path,
                                const ReadOptions &options) {
  auto bytes = readFile(path);
  if (!bytes)
    return bytes.takeError();
  onnx::ModelProto proto;
  if (llvm::StringRef(path).ends_with(".onnxtxt")) {
    // ONNX's textual syntax (onnx/defs/parser.h), for small hand-written
    // models in tests.
    // libonnx's parser reports most errors in its status but throws on
    // some (std::stol on a malformed number).
    std::string error;
    try {
      onnx::Common::Status status =
          onnx::OnnxParser::Parse(proto, bytes->c_str());
      if (!status.IsOK())
        error = status.ErrorMessage();
    } catch (const std::exception &e) {
      error = std::string("malformed literal (") + e.what() + ")";
    }
    if (!error.empty())
      return fail(path + ": not a valid textual ONNX model: " + error);
  } else {
    google::protobuf::io::CodedInputStream stream(
        reinterpret_cast<const uint8_t *>(bytes->data()), bytes->size());
    stream.SetTotalBytesLimit(INT32_MAX);
    if (!proto.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
      return fail(path + ": not a valid ONNX model (the protobuf does not "
                         "parse: truncated or corrupt file?)");
  }
  if (!proto.has_graph())
    return fail(path + ": the model has no graph");
  Model model;
  model.path = path;
  model.irVersion = proto.ir_version();
  std::unordered_map<std::string, int> opsets;
  for (const auto &o : proto.opset_import()) {
    opsets[o.domain()] = o.version();
    if (o.domain().empty() || o.domain() == "ai.onnx")
      model.opset = o.version();
  }
  if (auto e = pinDims(proto, options, path))
    return std::move(e);

  if (auto e = checkTopology(proto.graph(), path))
    return std::move(e);

  // Shape inference only when every op is known to libonnx: its inference
  // functions crash on inputs of unknown type. Otherwise the importer
  // reports the unknown ops (and computes shapes itself anyway).
  bool allKnown = true;
  std::function<void(const onnx::GraphProto &)> visit =
      [&](const onnx::GraphProto &g) {
        for (const auto &n : g.node()) {
          auto it = opsets.find(n.domain());
          int version = it == opsets.end() ? 0 : it->second;
          if (!onnx::OpSchemaRegistry::Schema(n.op_type(), version, n.domain()))
            allKnown = false;
          for (const auto &a : n.attribute())
            if (a.has_g())
              visit(a.g());
        }
      };
  visit(proto.graph());
  if (allKnown)
    try {
      // Nodes must match their schemas (input counts, attribute types) before
      // shape inference looks at them: libonnx's inference functions trust it.
      {
        onnx::checker::CheckerContext checker;
        checker.set_ir_version(model.irVersion);
        checker.set_opset_imports(opsets);
        // Sub-graphs (If, Loop, Scan) read outer names: the scope holds
        // every name defined before the node.
        onnx::checker::LexicalScopeContext scope;
        for (const auto &v : proto.graph().input())
          scope.add(v.name());
        for (const auto &t : proto.graph().initializer())
          scope.add(t.name());
        for (const auto &n : proto.graph().node()) {
          onnx::checker::check_node(n, checker, scope);
          for (const std::string &out : n.output())
            scope.add(out);
        }
      }
      onnx::ShapeInferenceOptions inference(/*check_type=*/true,
                                            /*error_mode=*/1,
                                            /*data_prop=*/true);
      onnx::shape_inference::InferShapes(
          proto, onnx::OpSchemaRegistry::Instance(), inference);
    } catch (const std::exception &e) {
      std::string what = e.what();
      while (!what.empty() && (what.back() == '\n' || what.back() == ' '))
        what.pop_back();
      return fail(path + ": " +
                  (dynamic_cast<const onnx::checker::ValidationError *>(&e)
                       ? "invalid node: "
                       : "ONNX shape inference failed: ") +
                  what);
    }

  if (auto e = convertGraph(proto.graph(), path, model.graph))
    return std::move(e);
  return model;
}

llvm::Expected<Tensor> readTensorFile(const std::string &path) {
  auto bytes = readFile(path);
  if (!bytes)
    return bytes.takeError();
  onnx::TensorProto proto;
  if (!proto.ParseFromString(*bytes))
    return fail(path + ": not a serialized ONNX TensorProto");
  return convertTensor(proto, path, path);
}

} // namespace modrwkv::onnxfe
