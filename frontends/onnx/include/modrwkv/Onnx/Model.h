//===- Model.h - ONNX models as plain C++ data ------------------*- C++ -*-===//
//
// The reader parses an ONNX ModelProto (protobuf, via libonnx), resolves
// external data (mmapped, confined to the model's folder), runs ONNX shape
// inference after pinning symbolic dims, and hands back this plain
// description. Nothing here depends on protobuf or MLIR, so the importer and
// the tools see one small, checked structure.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_ONNX_MODEL_H
#define MODRWKV_ONNX_MODEL_H

#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace modrwkv::onnxfe {

/// ONNX TensorProto.DataType codes.
enum DType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kDouble = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kBFloat16 = 16,
};

/// "float32", "int64", ... ("dtype<N>" for codes we do not name).
std::string dtypeName(int32_t dtype);
/// Bytes per element; 0 for types without a fixed size (strings, unknown).
int64_t dtypeBytes(int32_t dtype);
bool isFloatType(int32_t dtype);
bool isUnsignedType(int32_t dtype);

/// A tensor's data as little-endian bytes in ONNX's element layout; a
/// string tensor's elements are in `strings` instead.
struct Tensor {
  std::string name;
  int32_t dtype = kUndefined;
  std::vector<int64_t> shape;
  const char *data = nullptr;
  int64_t bytes = 0;
  std::shared_ptr<const void> owner; ///< keeps `data` alive
  std::vector<std::string> strings;

  int64_t numElements() const;
  /// Element i converted to double / int64 (any numeric dtype).
  double asDouble(int64_t i) const;
  int64_t asInt(int64_t i) const;
};

struct Graph;

struct Attribute {
  enum Kind {
    Float,
    Int,
    String,
    Tensor,
    Floats,
    Ints,
    Strings,
    Subgraph,
    Other
  };
  Kind kind = Other;
  double f = 0;
  int64_t i = 0;
  std::string s;
  std::vector<double> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::shared_ptr<onnxfe::Tensor> tensor;
  std::shared_ptr<const onnxfe::Graph> graph; ///< If/Loop/Scan bodies
  std::string typeName; ///< the AttributeProto type, for messages
};

struct Node {
  std::string name, opType, domain;
  std::vector<std::string> inputs, outputs; ///< "" = optional, absent
  std::map<std::string, Attribute> attributes;

  const Attribute *attr(const std::string &key) const;
  /// A label for messages: `Conv 'conv1'` (or `Conv #3` when unnamed).
  std::string label() const;
  int64_t index = 0;
};

/// A value's static type; dims < 0 are unknown (named in dimParams).
struct ValueInfo {
  std::string name;
  int32_t dtype = kUndefined;
  bool hasShape = false;
  std::vector<int64_t> shape;
  std::vector<std::string> dimParams;
};

/// A graph; a sub-graph (an If branch, a Loop or Scan body) also reads the
/// values of the graphs around it by name.
struct Graph {
  std::string name;
  std::vector<ValueInfo> inputs, outputs;     ///< inputs exclude initializers
  std::map<std::string, ValueInfo> valueInfo; ///< after shape inference
  std::map<std::string, Tensor> initializers;
  std::vector<Node> nodes;
};

struct Model {
  std::string path;
  int64_t opset = 0; ///< of the default ("" / "ai.onnx") domain
  int64_t irVersion = 0;
  Graph graph;
};

struct ReadOptions {
  /// Symbolic dims pinned to sizes (`--dim batch=1`), applied to the graph
  /// inputs before shape inference.
  std::map<std::string, int64_t> dims;
};

/// Reads, validates and shape-infers `path` (binary protobuf; `.onnxtxt`:
/// ONNX's textual syntax). Errors name the file and the
/// tensor or node concerned.
llvm::Expected<Model> readModel(const std::string &path,
                                const ReadOptions &options = {});

/// Reads a serialized TensorProto (the backend tests' input_N.pb).
llvm::Expected<Tensor> readTensorFile(const std::string &path);

} // namespace modrwkv::onnxfe

#endif // MODRWKV_ONNX_MODEL_H
