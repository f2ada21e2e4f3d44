//===- Lowering.h - the op lowerings' shared context ------------*- C++ -*-===//
//
// Each ONNX op lowers through an OpContext: typed access to the node's
// inputs and attributes, compile-time contents where they are known (shape
// sub-graphs fold at import time), and builders of linalg/tensor ops on
// static shapes with numpy broadcasting.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_FRONTENDS_ONNX_LOWERING_H
#define MODRWKV_FRONTENDS_ONNX_LOWERING_H

#include "modrwkv/Onnx/Importer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/StringMap.h"

#include <functional>
#include <optional>
#include <set>

namespace modrwkv::onnxfe {

/// Compile-time contents of a tensor, row-major: integers (and bools) as
/// int64, floating point as double.
struct Literal {
  bool isFloat = false;
  std::vector<int64_t> ints;
  std::vector<double> floats;

  int64_t size() const { return isFloat ? floats.size() : ints.size(); }
  double f(int64_t k) const { return isFloat ? floats[k] : double(ints[k]); }
  int64_t i(int64_t k) const { return isFloat ? int64_t(floats[k]) : ints[k]; }
};

/// A graph value during import: an SSA tensor, compile-time contents, or
/// both (materialized on first use).
struct TV {
  mlir::Value value;
  int32_t dtype = kUndefined;
  llvm::SmallVector<int64_t> shape;
  std::optional<Literal> known;
  /// An initializer not yet in the IR (materialized on first use).
  const Tensor *initializer = nullptr;
  /// For values computed at run time: the graph inputs they are computed
  /// from, and whether initializers too large to fold feed them (then
  /// binding those inputs at compile time would not make them known).
  std::set<std::string> sources;
  bool fromWeights = false;

  int64_t rank() const { return shape.size(); }
  int64_t numElements() const;
};

using ScalarFn = std::function<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                           mlir::ValueRange)>;

class GraphImporter;

/// One node being lowered.
class OpContext {
public:
  OpContext(GraphImporter &importer, const Node &node, int64_t opset);

  const Node &node;
  int64_t opset;
  mlir::OpBuilder &b;
  mlir::Location loc;

  // Inputs ("" = absent optional input).
  size_t numInputs() const { return node.inputs.size(); }
  bool has(size_t i) const;
  TV &in(size_t i);
  /// in(i) as an SSA value (materializing a constant if needed).
  mlir::Value val(size_t i);
  mlir::Value val(TV &v);
  /// The matrix initializer `v` ([K, N]) stored transposed ([N, K]), once
  /// per initializer.
  mlir::Value transposedWeight(const TV &v);

  // Attributes.
  int64_t attrInt(const std::string &key, int64_t otherwise) const;
  double attrFloat(const std::string &key, double otherwise) const;
  std::string attrString(const std::string &key,
                         const std::string &otherwise) const;
  std::vector<int64_t> attrInts(const std::string &key,
                                std::vector<int64_t> otherwise = {}) const;
  bool hasAttr(const std::string &key) const { return node.attr(key); }

  /// The compile-time integer contents of input i; on failure records why
  /// (a graph input to bind, or a value computed at run time).
  std::optional<std::vector<int64_t>> constInts(size_t i);
  std::optional<Literal> constLiteral(size_t i);

  // Results.
  void set(size_t i, TV v);
  void set(size_t i, mlir::Value v, int32_t dtype);
  void setKnown(size_t i, int32_t dtype, llvm::ArrayRef<int64_t> shape,
                Literal literal);
  size_t numOutputs() const { return node.outputs.size(); }
  bool wants(size_t i) const {
    return i < node.outputs.size() && !node.outputs[i].empty();
  }

  /// Imports the graph attribute `attribute` (a Loop body, an If branch)
  /// at the insertion point, its inputs bound to `inputs`; its outputs, or
  /// failure after its nodes' errors were recorded. `where` qualifies the
  /// messages ("iteration 3").
  mlir::FailureOr<llvm::SmallVector<TV>>
  subgraph(const std::string &attribute, llvm::ArrayRef<TV> inputs,
           const std::string &where = "");

  // Failures (each returns failure() for `return ctx.unsupported(...)`).
  mlir::LogicalResult unsupported(const std::string &reason);
  mlir::LogicalResult invalid(const std::string &reason);

  // Builders.
  mlir::Type elementType(int32_t dtype) const;
  mlir::RankedTensorType tensorType(llvm::ArrayRef<int64_t> shape,
                                    int32_t dtype) const;
  mlir::Value empty(llvm::ArrayRef<int64_t> shape, int32_t dtype);
  mlir::Value fill(llvm::ArrayRef<int64_t> shape, int32_t dtype,
                   mlir::Value scalar);
  mlir::Value scalar(int32_t dtype, double value);
  mlir::Value constant(int32_t dtype, llvm::ArrayRef<int64_t> shape,
                       const Literal &literal);
  /// out[p] = body(inputs[broadcast(p)]...), numpy broadcasting.
  mlir::Value broadcastMap(llvm::ArrayRef<int64_t> shape, int32_t dtype,
                           llvm::ArrayRef<mlir::Value> inputs,
                           const ScalarFn &body);
  /// A reduction of `input` over `axes` (sorted, unique) into a tensor
  /// without those axes, starting from `init`: acc = body(acc, x).
  mlir::Value reduce(mlir::Value input, llvm::ArrayRef<int64_t> axes,
                     int32_t dtype, mlir::Value init, const ScalarFn &body);
  /// `dest` with `source` written at `offsets` (unit strides).
  mlir::Value insert(mlir::Value source, mlir::Value dest,
                     llvm::ArrayRef<int64_t> offsets);
  /// Same elements, new static shape.
  mlir::Value reshape(mlir::Value v, llvm::ArrayRef<int64_t> shape);
  /// out[p] = input[indexFn(p)], the indices computed in scalar code from
  /// the output position (for gathers, slices, resizes, pads).
  mlir::Value
  gatherMap(llvm::ArrayRef<int64_t> shape, int32_t dtype, mlir::Value input,
            const std::function<llvm::SmallVector<mlir::Value>(
                mlir::OpBuilder &, mlir::Location, mlir::ValueRange position)>
                &indexFn);
  /// The module's declaration of the external function `name` (added on
  /// first use), for calls from scalar code.
  mlir::func::FuncOp declareFunction(llvm::StringRef name,
                                     mlir::FunctionType type);
  /// Casts a scalar between ONNX element types.
  mlir::Value castScalar(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                         int32_t from, int32_t to) const;

  /// Normalizes an axis attribute against a rank (negative counts from the
  /// end); nullopt after recording an error.
  std::optional<int64_t> axis(int64_t a, int64_t rank);

private:
  GraphImporter &importer;
};

/// Lowers `ctx.node`; returns failure after ctx.unsupported/invalid.
using Lowering = std::function<mlir::LogicalResult(OpContext &ctx)>;
using LoweringTable = llvm::StringMap<Lowering>;

void addElementwiseLowerings(LoweringTable &table);
void addShapeLowerings(LoweringTable &table);
void addNeuralLowerings(LoweringTable &table);
void addResizeLowerings(LoweringTable &table);
void addControlFlowLowerings(LoweringTable &table);

/// The product of shape[from, to).
int64_t product(llvm::ArrayRef<int64_t> shape, size_t from = 0,
                size_t to = std::string::npos);

/// out[k] = in[source(k)] for compile-time contents.
Literal remap(const Literal &in, int64_t n,
              const std::function<int64_t(int64_t)> &source);

/// `parts` (one rank and type, equal dims but `axis`) joined along `axis`:
/// folded when every part is known and the result small, else inserted
/// into one tensor.
TV concatenate(OpContext &ctx, llvm::ArrayRef<TV *> parts, int64_t axis);

/// numpy broadcast of two shapes; nullopt if incompatible.
std::optional<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b);

/// Scalar arithmetic that follows the element type (float / signed /
/// unsigned integer / bool).
struct ScalarOps {
  mlir::OpBuilder &b;
  mlir::Location loc;
  int32_t dtype;

  bool isFloat() const { return isFloatType(dtype); }
  bool isUnsigned() const { return isUnsignedType(dtype); }
  mlir::Value add(mlir::Value x, mlir::Value y);
  mlir::Value sub(mlir::Value x, mlir::Value y);
  mlir::Value mul(mlir::Value x, mlir::Value y);
  mlir::Value div(mlir::Value x, mlir::Value y);
  mlir::Value max(mlir::Value x, mlir::Value y);
  mlir::Value min(mlir::Value x, mlir::Value y);
  mlir::Value neg(mlir::Value x);
  mlir::Value constant(double v);
  /// ordered comparisons: "lt", "le", "gt", "ge", "eq".
  mlir::Value compare(llvm::StringRef predicate, mlir::Value x, mlir::Value y);
  /// A float function computed in at least f32 (f16/bf16 widened).
  mlir::Value viaF32(mlir::Value x,
                     const std::function<mlir::Value(mlir::Value)> &fn);
};

} // namespace modrwkv::onnxfe

#endif // MODRWKV_FRONTENDS_ONNX_LOWERING_H
