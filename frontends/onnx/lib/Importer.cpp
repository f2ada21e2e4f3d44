//===- Importer.cpp - ONNX graphs to upstream MLIR ------------------------===//

#include "Lowering.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;

namespace modrwkv::onnxfe {

/// Initializers up to this many elements stay inline (and foldable).
constexpr int64_t kInlineElements = 64;
/// Integer tensors up to this many elements keep their contents for folding.
constexpr int64_t kFoldElements = 4096;

int64_t TV::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::optional<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> a,
                                                    ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t k = 0; k < rank; ++k) {
    int64_t x = k < rank - a.size() ? 1 : a[k - (rank - a.size())];
    int64_t y = k < rank - b.size() ? 1 : b[k - (rank - b.size())];
    if (x != y && x != 1 && y != 1)
      return std::nullopt;
    out[k] = x == 1 ? y : x;
  }
  return out;
}

/// The importer's state: values by name, the function being built, and
/// what went wrong.
class GraphImporter {
public:
  GraphImporter(MLIRContext &context, const Model &model,
                const ImportOptions &options, ImportFailure &failure)
      : model(model), options(options), failure(failure), b(&context),
        loc(b.getUnknownLoc()) {
    addElementwiseLowerings(table);
    addShapeLowerings(table);
    addNeuralLowerings(table);
    addResizeLowerings(table);
    addControlFlowLowerings(table);
  }

  OwningOpRef<ModuleOp> run();
  FailureOr<SmallVector<TV>> importSubgraph(const Graph &graph,
                                            ArrayRef<TV> inputs,
                                            const std::string &where);

  Value materialize(TV &v);
  Value transposedWeight(const TV &v);
  /// The initializer `t`'s bytes as written by `fill`, as a dense_resource
  /// constant "onnx.<name><suffix>" of `shape` (at the insertion point).
  Value weight(const Tensor &t, StringRef suffix, ArrayRef<int64_t> shape,
               int32_t dtype, function_ref<void(char *)> fill);
  Value constant(int32_t dtype, ArrayRef<int64_t> shape,
                 const Literal &literal);

  const Model &model;
  const ImportOptions &options;
  ImportFailure &failure;
  OpBuilder b;
  Location loc;
  std::map<std::string, TV> values;
  /// Matrix initializers stored transposed, by initializer name.
  std::map<std::string, Value> transposed;
  std::set<std::string> graphInputs;
  std::vector<std::string> unsupported, invalid;
  const Node *current = nullptr;
  /// Where the nodes being lowered sit, for messages: "" in the main graph,
  /// else the path of sub-graphs ("Loop 'l' body, iteration 2: ").
  std::string scope;

private:
  LogicalResult declareInputs(SmallVectorImpl<Type> &types,
                              SmallVectorImpl<const ValueInfo *> &infos);
  void bindInitializers(const Graph &graph);
  void lowerNodes(const Graph &graph);
  /// Records which graph inputs the node's run-time outputs come from.
  void trackSources(const Node &node);
  LogicalResult checkInferred(const Node &node, const Graph &graph);

  LoweringTable table;
};

//===----------------------------------------------------------------------===//
// OpContext
//===----------------------------------------------------------------------===//

OpContext::OpContext(GraphImporter &importer, const Node &node, int64_t opset)
    : node(node), opset(opset), b(importer.b), loc(importer.loc),
      importer(importer) {}

bool OpContext::has(size_t i) const {
  return i < node.inputs.size() && !node.inputs[i].empty();
}

TV &OpContext::in(size_t i) { return importer.values.at(node.inputs[i]); }

Value OpContext::val(size_t i) { return importer.materialize(in(i)); }
Value OpContext::val(TV &v) { return importer.materialize(v); }
Value OpContext::transposedWeight(const TV &v) {
  return importer.transposedWeight(v);
}

int64_t OpContext::attrInt(const std::string &key, int64_t otherwise) const {
  const Attribute *a = node.attr(key);
  return a && a->kind == Attribute::Int ? a->i : otherwise;
}

double OpContext::attrFloat(const std::string &key, double otherwise) const {
  const Attribute *a = node.attr(key);
  return a && a->kind == Attribute::Float ? a->f : otherwise;
}

std::string OpContext::attrString(const std::string &key,
                                  const std::string &otherwise) const {
  const Attribute *a = node.attr(key);
  return a && a->kind == Attribute::String ? a->s : otherwise;
}

std::vector<int64_t> OpContext::attrInts(const std::string &key,
                                         std::vector<int64_t> otherwise) const {
  const Attribute *a = node.attr(key);
  return a && a->kind == Attribute::Ints ? a->ints : otherwise;
}

std::optional<Literal> OpContext::constLiteral(size_t i) {
  TV &v = in(i);
  if (v.known)
    return v.known;
  const std::string &name = node.inputs[i];
  if (importer.graphInputs.count(name))
    importer.failure.inputs.insert(name);
  else if (!v.sources.empty() && !v.fromWeights)
    importer.failure.inputs.insert(v.sources.begin(), v.sources.end());
  else
    (void)unsupported("input " + std::to_string(i) + " ('" + name +
                      "') must be known at compile time, but it is computed "
                      "at run time");
  return std::nullopt;
}

std::optional<std::vector<int64_t>> OpContext::constInts(size_t i) {
  auto literal = constLiteral(i);
  if (!literal)
    return std::nullopt;
  std::vector<int64_t> out;
  for (int64_t k = 0; k < literal->size(); ++k)
    out.push_back(literal->i(k));
  return out;
}

void OpContext::set(size_t i, TV v) {
  if (wants(i))
    importer.values[node.outputs[i]] = std::move(v);
}

void OpContext::set(size_t i, Value v, int32_t dtype) {
  TV tv;
  tv.value = v;
  tv.dtype = dtype;
  tv.shape = llvm::to_vector(cast<RankedTensorType>(v.getType()).getShape());
  set(i, std::move(tv));
}

void OpContext::setKnown(size_t i, int32_t dtype, ArrayRef<int64_t> shape,
                         Literal literal) {
  TV tv;
  tv.dtype = dtype;
  tv.shape = llvm::to_vector(shape);
  tv.known = std::move(literal);
  set(i, std::move(tv));
}

FailureOr<SmallVector<TV>> OpContext::subgraph(const std::string &attribute,
                                               ArrayRef<TV> inputs,
                                               const std::string &where) {
  const Attribute *a = node.attr(attribute);
  if (!a || a->kind != Attribute::Subgraph) {
    (void)invalid("has no graph attribute '" + attribute + "'");
    return failure();
  }
  const Node *outer = importer.current;
  std::string outerScope = importer.scope;
  importer.scope += node.label() + " " + attribute +
                    (where.empty() ? "" : ", " + where) + ": ";
  auto outputs = importer.importSubgraph(*a->graph, inputs,
                                         node.label() + " " + attribute);
  importer.scope = std::move(outerScope);
  importer.current = outer;
  return outputs;
}

LogicalResult OpContext::unsupported(const std::string &reason) {
  importer.unsupported.push_back(importer.scope + node.label() + " (opset " +
                                 std::to_string(opset) + "): " + reason);
  return failure();
}

LogicalResult OpContext::invalid(const std::string &reason) {
  importer.invalid.push_back(importer.scope + node.label() + ": " + reason);
  return failure();
}

std::optional<int64_t> OpContext::axis(int64_t a, int64_t rank) {
  if (a < -rank || a >= std::max<int64_t>(rank, 1) ||
      (rank == 0 && a != 0 && a != -1)) {
    (void)invalid("axis " + std::to_string(a) + " is out of range for rank " +
                  std::to_string(rank));
    return std::nullopt;
  }
  return a < 0 ? a + rank : a;
}

Type OpContext::elementType(int32_t dtype) const {
  switch (dtype) {
  case kFloat:
    return b.getF32Type();
  case kDouble:
    return b.getF64Type();
  case kFloat16:
    return b.getF16Type();
  case kBFloat16:
    return b.getBF16Type();
  case kBool:
    return b.getI1Type();
  case kString: // the address of a NUL-terminated string (graph.h)
    return b.getI64Type();
  default:
    return b.getIntegerType(8 * dtypeBytes(dtype));
  }
}

func::FuncOp OpContext::declareFunction(StringRef name, FunctionType type) {
  auto module =
      b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  if (auto f = module.lookupSymbol<func::FuncOp>(name))
    return f;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  auto f = func::FuncOp::create(b, loc, name, type);
  f.setPrivate();
  return f;
}

RankedTensorType OpContext::tensorType(ArrayRef<int64_t> shape,
                                       int32_t dtype) const {
  return RankedTensorType::get(shape, elementType(dtype));
}

Value OpContext::empty(ArrayRef<int64_t> shape, int32_t dtype) {
  return tensor::EmptyOp::create(b, loc, shape, elementType(dtype));
}

Value OpContext::fill(ArrayRef<int64_t> shape, int32_t dtype, Value scalar) {
  return linalg::FillOp::create(b, loc, scalar, empty(shape, dtype))
      .getResult(0);
}

Value OpContext::scalar(int32_t dtype, double value) {
  return ScalarOps{b, loc, dtype}.constant(value);
}

Value OpContext::constant(int32_t dtype, ArrayRef<int64_t> shape,
                          const Literal &literal) {
  return importer.constant(dtype, shape, literal);
}

static SmallVector<utils::IteratorType> parallel(int64_t rank) {
  return SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel);
}

Value OpContext::broadcastMap(ArrayRef<int64_t> shape, int32_t dtype,
                              ArrayRef<Value> inputs, const ScalarFn &body) {
  int64_t rank = shape.size();
  SmallVector<AffineMap> maps;
  for (Value input : inputs) {
    ArrayRef<int64_t> own = cast<RankedTensorType>(input.getType()).getShape();
    SmallVector<AffineExpr> exprs;
    for (size_t j = 0; j < own.size(); ++j) {
      int64_t d = rank - own.size() + j;
      exprs.push_back(own[j] == 1 && shape[d] != 1 ? b.getAffineConstantExpr(0)
                                                   : b.getAffineDimExpr(d));
    }
    maps.push_back(AffineMap::get(rank, 0, exprs, b.getContext()));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  Value init = empty(shape, dtype);
  return linalg::GenericOp::create(
             b, loc, init.getType(), inputs, init, maps, parallel(rank),
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(nb, nloc,
                                       body(nb, nloc, args.drop_back()));
             })
      .getResult(0);
}

Value OpContext::reduce(Value input, ArrayRef<int64_t> axes, int32_t dtype,
                        Value init, const ScalarFn &body) {
  ArrayRef<int64_t> shape = cast<RankedTensorType>(input.getType()).getShape();
  int64_t rank = shape.size();
  SmallVector<int64_t> outShape;
  SmallVector<AffineExpr> outExprs;
  SmallVector<utils::IteratorType> iterators = parallel(rank);
  for (int64_t d = 0; d < rank; ++d) {
    if (llvm::is_contained(axes, d)) {
      iterators[d] = utils::IteratorType::reduction;
      continue;
    }
    outShape.push_back(shape[d]);
    outExprs.push_back(b.getAffineDimExpr(d));
  }
  Value acc = fill(outShape, dtype, init);
  SmallVector<AffineMap> maps = {
      b.getMultiDimIdentityMap(rank),
      AffineMap::get(rank, 0, outExprs, b.getContext())};
  return linalg::GenericOp::create(
             b, loc, acc.getType(), input, acc, maps, iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value args2[] = {args[1], args[0]};
               linalg::YieldOp::create(nb, nloc, body(nb, nloc, args2));
             })
      .getResult(0);
}

Value OpContext::insert(Value source, Value dest, ArrayRef<int64_t> offsets) {
  auto shape = cast<RankedTensorType>(source.getType()).getShape();
  SmallVector<int64_t> ones(shape.size(), 1);
  return tensor::InsertSliceOp::create(
      b, loc, source, dest, getAsIndexOpFoldResult(b.getContext(), offsets),
      getAsIndexOpFoldResult(b.getContext(), shape),
      getAsIndexOpFoldResult(b.getContext(), ones));
}

Value OpContext::reshape(Value v, ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getShape() == shape)
    return v;
  auto flatType =
      RankedTensorType::get({type.getNumElements()}, type.getElementType());
  auto all = [&](int64_t rank) {
    SmallVector<ReassociationIndices> r(rank ? 1 : 0);
    for (int64_t d = 0; d < rank; ++d)
      r[0].push_back(d);
    return r;
  };
  Value flat = v;
  if (type.getRank() == 0)
    flat = tensor::ExpandShapeOp::create(b, loc, flatType, v, all(0));
  else if (type.getRank() > 1)
    flat = tensor::CollapseShapeOp::create(b, loc, v, all(type.getRank()));
  auto target = RankedTensorType::get(shape, type.getElementType());
  if (shape.size() == 1)
    return flat;
  if (shape.empty())
    return tensor::CollapseShapeOp::create(b, loc, target, flat, all(0));
  return tensor::ExpandShapeOp::create(b, loc, target, flat, all(shape.size()));
}

Value OpContext::gatherMap(
    ArrayRef<int64_t> shape, int32_t dtype, Value input,
    const std::function<SmallVector<Value>(OpBuilder &, Location, ValueRange)>
        &indexFn) {
  int64_t rank = shape.size();
  Value init = empty(shape, dtype);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{}, init, maps, parallel(rank),
             [&](OpBuilder &nb, Location nloc, ValueRange) {
               SmallVector<Value> position;
               for (int64_t d = 0; d < rank; ++d)
                 position.push_back(linalg::IndexOp::create(nb, nloc, d));
               SmallVector<Value> indices = indexFn(nb, nloc, position);
               Value x = tensor::ExtractOp::create(nb, nloc, input, indices);
               linalg::YieldOp::create(nb, nloc, x);
             })
      .getResult(0);
}

Value OpContext::castScalar(OpBuilder &b, Location loc, Value x, int32_t from,
                            int32_t to) const {
  if (from == to)
    return x;
  Type target = elementType(to);
  bool fromFloat = isFloatType(from), toFloat = isFloatType(to);
  if (fromFloat && toFloat) {
    unsigned fw = x.getType().getIntOrFloatBitWidth();
    unsigned tw = target.getIntOrFloatBitWidth();
    if (fw == tw) // f16 <-> bf16
      return arith::TruncFOp::create(
          b, loc, target, arith::ExtFOp::create(b, loc, b.getF32Type(), x));
    return fw < tw ? Value(arith::ExtFOp::create(b, loc, target, x))
                   : Value(arith::TruncFOp::create(b, loc, target, x));
  }
  if (fromFloat) {
    if (to == kBool)
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, x,
                                   ScalarOps{b, loc, from}.constant(0));
    if (isUnsignedType(to))
      return arith::FPToUIOp::create(b, loc, target, x);
    return arith::FPToSIOp::create(b, loc, target, x);
  }
  if (toFloat) {
    if (isUnsignedType(from))
      return arith::UIToFPOp::create(b, loc, target, x);
    return arith::SIToFPOp::create(b, loc, target, x);
  }
  if (to == kBool)
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x,
                                 ScalarOps{b, loc, from}.constant(0));
  unsigned fw = x.getType().getIntOrFloatBitWidth();
  unsigned tw = target.getIntOrFloatBitWidth();
  if (fw == tw)
    return x;
  if (fw > tw)
    return arith::TruncIOp::create(b, loc, target, x);
  if (isUnsignedType(from))
    return arith::ExtUIOp::create(b, loc, target, x);
  return arith::ExtSIOp::create(b, loc, target, x);
}

//===----------------------------------------------------------------------===//
// ScalarOps
//===----------------------------------------------------------------------===//

Value ScalarOps::constant(double v) {
  switch (dtype) {
  case kFloat:
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  case kDouble:
    return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(v));
  case kFloat16:
    return arith::ConstantOp::create(b, loc, b.getF16FloatAttr(v));
  case kBFloat16:
    return arith::ConstantOp::create(b, loc,
                                     b.getFloatAttr(b.getBF16Type(), v));
  case kBool:
    return arith::ConstantOp::create(b, loc, b.getBoolAttr(v != 0));
  default: {
    auto type = b.getIntegerType(8 * dtypeBytes(dtype));
    if (std::isinf(v)) { // the identity of an integer max / min
      unsigned w = type.getWidth();
      APInt limit = v > 0 ? (isUnsigned() ? APInt::getMaxValue(w)
                                          : APInt::getSignedMaxValue(w))
                          : (isUnsigned() ? APInt::getMinValue(w)
                                          : APInt::getSignedMinValue(w));
      return arith::ConstantOp::create(b, loc, b.getIntegerAttr(type, limit));
    }
    int64_t i = isUnsigned() && v >= 9.2e18 ? int64_t(uint64_t(v)) : int64_t(v);
    return arith::ConstantOp::create(b, loc, b.getIntegerAttr(type, i));
  }
  }
}

Value ScalarOps::add(Value x, Value y) {
  if (isFloat())
    return arith::AddFOp::create(b, loc, x, y);
  if (dtype == kBool)
    return arith::OrIOp::create(b, loc, x, y);
  return arith::AddIOp::create(b, loc, x, y);
}

Value ScalarOps::sub(Value x, Value y) {
  if (isFloat())
    return arith::SubFOp::create(b, loc, x, y);
  return arith::SubIOp::create(b, loc, x, y);
}

Value ScalarOps::mul(Value x, Value y) {
  if (isFloat())
    return arith::MulFOp::create(b, loc, x, y);
  if (dtype == kBool)
    return arith::AndIOp::create(b, loc, x, y);
  return arith::MulIOp::create(b, loc, x, y);
}

Value ScalarOps::div(Value x, Value y) {
  if (isFloat())
    return arith::DivFOp::create(b, loc, x, y);
  if (isUnsigned())
    return arith::DivUIOp::create(b, loc, x, y);
  return arith::DivSIOp::create(b, loc, x, y);
}

Value ScalarOps::max(Value x, Value y) {
  if (isFloat())
    return arith::MaximumFOp::create(b, loc, x, y);
  if (isUnsigned())
    return arith::MaxUIOp::create(b, loc, x, y);
  return arith::MaxSIOp::create(b, loc, x, y);
}

Value ScalarOps::min(Value x, Value y) {
  if (isFloat())
    return arith::MinimumFOp::create(b, loc, x, y);
  if (isUnsigned())
    return arith::MinUIOp::create(b, loc, x, y);
  return arith::MinSIOp::create(b, loc, x, y);
}

Value ScalarOps::neg(Value x) {
  if (isFloat())
    return arith::NegFOp::create(b, loc, x);
  return arith::SubIOp::create(b, loc, constant(0), x);
}

Value ScalarOps::compare(StringRef predicate, Value x, Value y) {
  if (isFloat()) {
    auto p = llvm::StringSwitch<arith::CmpFPredicate>(predicate)
                 .Case("lt", arith::CmpFPredicate::OLT)
                 .Case("le", arith::CmpFPredicate::OLE)
                 .Case("gt", arith::CmpFPredicate::OGT)
                 .Case("ge", arith::CmpFPredicate::OGE)
                 .Default(arith::CmpFPredicate::OEQ);
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  bool u = isUnsigned();
  auto p =
      llvm::StringSwitch<arith::CmpIPredicate>(predicate)
          .Case("lt", u ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt)
          .Case("le", u ? arith::CmpIPredicate::ule : arith::CmpIPredicate::sle)
          .Case("gt", u ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt)
          .Case("ge", u ? arith::CmpIPredicate::uge : arith::CmpIPredicate::sge)
          .Default(arith::CmpIPredicate::eq);
  return arith::CmpIOp::create(b, loc, p, x, y);
}

Value ScalarOps::viaF32(Value x, const std::function<Value(Value)> &fn) {
  if (dtype != kFloat16 && dtype != kBFloat16)
    return fn(x);
  Value wide = arith::ExtFOp::create(b, loc, b.getF32Type(), x);
  return arith::TruncFOp::create(b, loc, x.getType(), fn(wide));
}

//===----------------------------------------------------------------------===//
// GraphImporter
//===----------------------------------------------------------------------===//

static Literal literalOf(const Tensor &t) {
  Literal l;
  l.isFloat = isFloatType(t.dtype);
  int64_t n = t.numElements();
  for (int64_t k = 0; k < n; ++k) {
    if (l.isFloat)
      l.floats.push_back(t.asDouble(k));
    else
      l.ints.push_back(t.asInt(k));
  }
  return l;
}

Value GraphImporter::constant(int32_t dtype, ArrayRef<int64_t> shape,
                              const Literal &literal) {
  OpContext ctx(*this, *current, 0);
  RankedTensorType type = ctx.tensorType(shape, dtype);
  Type element = type.getElementType();
  DenseElementsAttr attr;
  if (auto ft = dyn_cast<FloatType>(element)) {
    SmallVector<APFloat> vals;
    for (int64_t k = 0; k < literal.size(); ++k) {
      APFloat v(literal.f(k));
      bool lost;
      v.convert(ft.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
      vals.push_back(v);
    }
    attr = DenseElementsAttr::get(type, vals);
  } else {
    unsigned width = element.getIntOrFloatBitWidth();
    SmallVector<APInt> vals;
    for (int64_t k = 0; k < literal.size(); ++k)
      vals.push_back(APInt(width, uint64_t(literal.i(k)), /*isSigned=*/false,
                           /*implicitTrunc=*/true));
    attr = DenseElementsAttr::get(type, vals);
  }
  return arith::ConstantOp::create(b, loc, attr);
}

namespace {
/// Moves `b` to the start of the function it builds: constants go there so
/// that every later use sees them.
void toFunctionEntry(OpBuilder &b) {
  Block *entry = b.getInsertionBlock();
  while (!isa<func::FuncOp>(entry->getParentOp()))
    entry = entry->getParentOp()->getBlock();
  b.setInsertionPointToStart(entry);
}
} // namespace

Value GraphImporter::materialize(TV &v) {
  if (v.value)
    return v.value;
  OpBuilder::InsertionGuard guard(b);
  toFunctionEntry(b);
  if (v.known) {
    v.value = constant(v.dtype, v.shape, *v.known);
    return v.value;
  }
  const Tensor &t = *v.initializer;
  v.value = weight(t, "", v.shape, v.dtype,
                   [&](char *out) { std::memcpy(out, t.data, t.bytes); });
  return v.value;
}

Value GraphImporter::transposedWeight(const TV &v) {
  const Tensor &t = *v.initializer;
  Value &value = transposed[t.name];
  if (value)
    return value;
  OpBuilder::InsertionGuard guard(b);
  toFunctionEntry(b);
  int64_t rows = v.shape[0], cols = v.shape[1];
  int64_t bytes = dtypeBytes(v.dtype);
  value = weight(t, ".T", {cols, rows}, v.dtype, [&](char *out) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        std::memcpy(out + (c * rows + r) * bytes,
                    t.data + (r * cols + c) * bytes, bytes);
  });
  return value;
}

Value GraphImporter::weight(const Tensor &t, StringRef suffix,
                            ArrayRef<int64_t> shape, int32_t dtype,
                            function_ref<void(char *)> fill) {
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(
      std::max<int64_t>(t.bytes, 1), 64, /*dataIsMutable=*/true);
  fill(blob.getMutableData().data());
  OpContext ctx(*this, *current, 0);
  auto attr = DenseResourceElementsAttr::get(ctx.tensorType(shape, dtype),
                                             ("onnx." + t.name + suffix).str(),
                                             std::move(blob));
  return arith::ConstantOp::create(b, loc, attr);
}

LogicalResult
GraphImporter::declareInputs(SmallVectorImpl<Type> &types,
                             SmallVectorImpl<const ValueInfo *> &infos) {
  const std::string &path = model.path;
  for (const auto &[name, t] : options.boundInputs)
    if (!llvm::any_of(model.graph.inputs,
                      [&](const ValueInfo &v) { return v.name == name; }))
      invalid.push_back("bound input '" + name + "' is not a graph input");
  for (const ValueInfo &info : model.graph.inputs) {
    graphInputs.insert(info.name);
    if (options.boundInputs.count(info.name))
      continue;
    if (dtypeBytes(info.dtype) == 0 && info.dtype != kString) {
      unsupported.push_back("graph input '" + info.name + "' has type " +
                            dtypeName(info.dtype));
      continue;
    }
    if (!info.hasShape) {
      invalid.push_back(path + ": graph input '" + info.name +
                        "' has no shape");
      continue;
    }
    for (size_t d = 0; d < info.shape.size(); ++d)
      if (info.shape[d] < 0)
        invalid.push_back(
            "graph input '" + info.name + "' has the dynamic dimension " +
            (info.dimParams[d].empty() ? "#" + std::to_string(d)
                                       : "'" + info.dimParams[d] + "'") +
            "; pin it with --dim " +
            (info.dimParams[d].empty() ? "NAME" : info.dimParams[d]) + "=N");
    infos.push_back(&info);
    types.push_back(MemRefType::get(
        info.shape, OpContext(*this, *current, 0).elementType(info.dtype)));
  }
  return success(invalid.empty() && unsupported.empty());
}

/// Our shapes must agree with what ONNX shape inference found.
LogicalResult GraphImporter::checkInferred(const Node &node,
                                           const Graph &graph) {
  for (const std::string &out : node.outputs) {
    auto it = values.find(out);
    auto info = graph.valueInfo.find(out);
    if (out.empty() || it == values.end() || info == graph.valueInfo.end() ||
        !info->second.hasShape)
      continue;
    const ValueInfo &v = info->second;
    bool agree = v.shape.size() == it->second.shape.size() &&
                 (v.dtype == kUndefined || v.dtype == it->second.dtype);
    for (size_t d = 0; agree && d < v.shape.size(); ++d)
      agree = v.shape[d] < 0 || v.shape[d] == it->second.shape[d];
    if (!agree) {
      std::string ours, theirs;
      for (int64_t d : it->second.shape)
        ours += std::to_string(d) + "x";
      for (int64_t d : v.shape)
        theirs += (d < 0 ? "?" : std::to_string(d)) + "x";
      invalid.push_back(scope + node.label() + ": output '" + out + "' is " +
                        ours + dtypeName(it->second.dtype) +
                        " here, but ONNX shape inference says " + theirs +
                        dtypeName(v.dtype));
      values.erase(it); // later nodes would only repeat the report
      return mlir::failure();
    }
  }
  return success();
}

void GraphImporter::lowerNodes(const Graph &graph) {
  for (const Node &node : graph.nodes) {
    current = &node;
    auto lowering = table.find(node.opType);
    if (!node.domain.empty() || lowering == table.end()) {
      unsupported.push_back(
          scope + node.label() + " (opset " + std::to_string(model.opset) +
          (node.domain.empty() ? "" : ", domain " + node.domain) +
          "): no lowering for this op");
      continue;
    }
    bool ready = true, strings = false;
    for (const std::string &name : node.inputs) {
      ready &= name.empty() || values.count(name);
      strings |= ready && !name.empty() && values[name].dtype == kString;
    }
    if (!ready)
      continue; // a producer failed; it was reported
    if (strings && node.opType != "Cast" && node.opType != "CastLike" &&
        node.opType != "Identity") {
      unsupported.push_back(scope + node.label() + " (opset " +
                            std::to_string(model.opset) +
                            "): string tensors are only cast or passed on");
      continue;
    }
    OpContext ctx(*this, node, model.opset);
    size_t needed = failure.inputs.size();
    if (failed(lowering->second(ctx)) || failure.inputs.size() != needed)
      continue;
    for (size_t i = 0; i < node.outputs.size(); ++i)
      if (ctx.wants(i) && !values.count(node.outputs[i]))
        unsupported.push_back(scope + node.label() + ": output " +
                              std::to_string(i) + " is not supported");
    trackSources(node);
    (void)checkInferred(node, graph);
  }
}

void GraphImporter::trackSources(const Node &node) {
  std::set<std::string> sources;
  bool fromWeights = false;
  for (const std::string &name : node.inputs) {
    auto it = values.find(name);
    if (name.empty() || it == values.end() || it->second.known)
      continue;
    sources.insert(it->second.sources.begin(), it->second.sources.end());
    fromWeights |= it->second.fromWeights || it->second.initializer;
  }
  for (const std::string &name : node.outputs) {
    auto it = values.find(name);
    if (name.empty() || it == values.end() || it->second.known)
      continue;
    it->second.sources = sources;
    it->second.fromWeights = fromWeights;
  }
}

void GraphImporter::bindInitializers(const Graph &graph) {
  for (const auto &[name, t] : graph.initializers) {
    if (&graph == &model.graph && values.count(name))
      continue; // bound inputs take precedence over defaults
    if (t.dtype == kString) {
      unsupported.push_back(scope + "initializer '" + name +
                            "': string constants are not supported");
      continue;
    }
    TV v;
    v.dtype = t.dtype;
    v.shape = llvm::to_vector(t.shape);
    int64_t n = t.numElements();
    if (n <= kInlineElements || t.dtype == kBool ||
        (!isFloatType(t.dtype) && n <= kFoldElements))
      v.known = literalOf(t);
    else
      v.initializer = &t;
    values[name] = std::move(v);
  }
}

FailureOr<SmallVector<TV>>
GraphImporter::importSubgraph(const Graph &graph, ArrayRef<TV> inputs,
                              const std::string &what) {
  if (graph.inputs.size() != inputs.size()) {
    invalid.push_back(
        scope + "the graph takes " + std::to_string(graph.inputs.size()) +
        " inputs, but its node passes " + std::to_string(inputs.size()));
    return mlir::failure();
  }
  size_t errors = unsupported.size() + invalid.size();
  size_t needed = failure.inputs.size();
  // The sub-graph sees the outer values; the names it defines are removed
  // again afterwards (an outer value of the same name comes back). Outer
  // values it materializes keep their constants: those sit at the top of
  // the function and dominate everything.
  std::set<std::string> own;
  for (const ValueInfo &in : graph.inputs)
    own.insert(in.name);
  for (const auto &[name, t] : graph.initializers)
    own.insert(name);
  for (const Node &node : graph.nodes)
    own.insert(node.outputs.begin(), node.outputs.end());
  std::map<std::string, TV> shadowed;
  for (const std::string &name : own)
    if (auto node = values.extract(name))
      shadowed.insert(std::move(node));
  for (auto [info, v] : llvm::zip(graph.inputs, inputs))
    values[info.name] = v;
  bindInitializers(graph);
  lowerNodes(graph);
  SmallVector<TV> outputs;
  for (const ValueInfo &out : graph.outputs) {
    auto it = values.find(out.name);
    if (it == values.end())
      break; // a producer failed (and was reported)
    outputs.push_back(it->second);
  }
  for (const std::string &name : own)
    values.erase(name);
  values.merge(shadowed);
  if (unsupported.size() + invalid.size() != errors ||
      failure.inputs.size() != needed)
    return mlir::failure();
  if (outputs.size() != graph.outputs.size()) {
    invalid.push_back(scope + what + ": an output is not produced");
    return mlir::failure();
  }
  return outputs;
}

static std::string sanitize(const std::string &name) {
  std::string out;
  for (char c : name)
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0])))
    out = "graph_" + out;
  return out;
}

OwningOpRef<ModuleOp> GraphImporter::run() {
  MLIRContext *ctx = b.getContext();
  ctx->loadDialect<arith::ArithDialect, bufferization::BufferizationDialect,
                   func::FuncDialect, linalg::LinalgDialect, math::MathDialect,
                   memref::MemRefDialect, scf::SCFDialect,
                   tensor::TensorDialect, LLVM::LLVMDialect>();
  Node none;
  none.opType = "graph";
  current = &none;
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  SmallVector<Type> argTypes;
  SmallVector<const ValueInfo *> inputInfos;
  auto finish = [&]() -> OwningOpRef<ModuleOp> {
    auto join = [](const std::vector<std::string> &lines) {
      std::string s;
      for (const std::string &l : lines)
        s += "\n  " + l;
      return s;
    };
    std::string where = model.path + ": ";
    if (!invalid.empty()) {
      failure.kind = ImportFailure::Invalid;
      failure.message = where + "invalid model:" + join(invalid);
    } else if (!unsupported.empty()) {
      failure.kind = ImportFailure::Unsupported;
      failure.message =
          where + std::to_string(unsupported.size()) + " unsupported node" +
          (unsupported.size() == 1 ? "" : "s") + join(unsupported);
    } else if (!failure.inputs.empty()) {
      failure.kind = ImportFailure::NeedsConstant;
      std::vector<std::string> names(failure.inputs.begin(),
                                     failure.inputs.end());
      failure.message = where +
                        "these graph inputs decide shapes and must be "
                        "bound to values at compile time:" +
                        join(names);
    } else {
      return std::move(module);
    }
    return nullptr;
  };
  if (failed(declareInputs(argTypes, inputInfos)))
    return finish();

  std::string symbol = sanitize(!options.symbol.empty()    ? options.symbol
                                : model.graph.name.empty() ? "main_graph"
                                                           : model.graph.name);
  OpContext graphCtx(*this, none, model.opset);
  if (options.callable)
    for (auto [info, type] : llvm::zip(inputInfos, argTypes))
      type = graphCtx.tensorType(info->shape, info->dtype);
  b.setInsertionPointToEnd(module->getBody());
  auto func =
      func::FuncOp::create(b, loc, symbol, b.getFunctionType(argTypes, {}));
  if (options.callable)
    func.setPrivate();
  else
    func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);

  for (auto [info, arg] : llvm::zip(inputInfos, entry->getArguments())) {
    TV v;
    v.dtype = info->dtype;
    v.shape = llvm::to_vector(info->shape);
    v.sources = {info->name};
    v.value = options.callable
                  ? Value(arg)
                  : Value(bufferization::ToTensorOp::create(
                        b, loc, graphCtx.tensorType(info->shape, info->dtype),
                        arg, /*restrict=*/b.getUnitAttr(),
                        /*writable=*/UnitAttr()));
    values[info->name] = std::move(v);
  }
  for (const auto &[name, t] : options.boundInputs) {
    if (t.dtype == kString) {
      invalid.push_back("bound input '" + name + "' is a string tensor");
      continue;
    }
    TV v;
    v.dtype = t.dtype;
    v.shape = llvm::to_vector(t.shape);
    v.known = literalOf(t);
    values[name] = std::move(v);
  }
  bindInitializers(model.graph);
  lowerNodes(model.graph);
  current = &none;

  // Outputs are written into caller buffers appended to the signature.
  auto describe = [&](const std::string &name, const TV &v) {
    NamedAttribute fields[] = {
        b.getNamedAttr("name", b.getStringAttr(name)),
        b.getNamedAttr("dtype", b.getStringAttr(dtypeName(v.dtype))),
        b.getNamedAttr("shape", b.getI64ArrayAttr(v.shape))};
    return b.getDictionaryAttr(fields);
  };
  SmallVector<mlir::Attribute> inputs, outputs;
  SmallVector<Value> results;
  for (const ValueInfo *info : inputInfos)
    inputs.push_back(describe(info->name, values[info->name]));
  for (const ValueInfo &out : model.graph.outputs) {
    auto it = values.find(out.name);
    if (it == values.end()) {
      if (unsupported.empty() && invalid.empty() && failure.inputs.empty())
        invalid.push_back("graph output '" + out.name +
                          "' is not produced by any node");
      continue;
    }
    TV &v = it->second;
    if (dtypeBytes(v.dtype) == 0 && v.dtype != kString) {
      unsupported.push_back("graph output '" + out.name + "' has type " +
                            dtypeName(v.dtype));
      continue;
    }
    Value result = materialize(v);
    outputs.push_back(describe(out.name, v));
    if (options.callable) {
      results.push_back(result);
      continue;
    }
    BlockArgument buffer = entry->addArgument(
        MemRefType::get(v.shape, graphCtx.elementType(v.dtype)), loc);
    bufferization::MaterializeInDestinationOp::create(
        b, loc, Type(), result, buffer, b.getUnitAttr(), b.getUnitAttr());
  }
  func::ReturnOp::create(b, loc, results);
  func.setType(b.getFunctionType(entry->getArgumentTypes(),
                                 ValueRange(results).getTypes()));
  NamedAttribute graph[] = {
      b.getNamedAttr("name", b.getStringAttr(model.graph.name)),
      b.getNamedAttr("symbol", b.getStringAttr(symbol)),
      b.getNamedAttr("inputs", b.getArrayAttr(inputs)),
      b.getNamedAttr("outputs", b.getArrayAttr(outputs))};
  (*module)->setAttr(kGraphsAttrName,
                     b.getArrayAttr({b.getDictionaryAttr(graph)}));
  return finish();
}

OwningOpRef<ModuleOp> importModel(MLIRContext &context, const Model &model,
                                  const ImportOptions &options,
                                  ImportFailure &failure) {
  failure = ImportFailure();
  return GraphImporter(context, model, options, failure).run();
}

} // namespace modrwkv::onnxfe
