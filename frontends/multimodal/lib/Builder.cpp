//===- Builder.cpp - an encoder entry for a ModRWKV model -----------------===//

#include "modrwkv/Multimodal/Builder.h"

#include "modrwkv/Checkpoint/Importer.h"
#include "modrwkv/Dialect/Mm/MmDialect.h"
#include "modrwkv/Onnx/Importer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include "llvm/Support/ScopedPrinter.h"

using namespace mlir;
using modrwkv::checkpoint::Tensor;

namespace modrwkv::multimodal {

namespace {

Value constant(OpBuilder &b, Location loc, Tensor &t, const std::string &key) {
  return checkpoint::tensorConstant(b, loc, t, t.shape, key);
}

/// The compression the projector implies for `dEnc`-wide features.
struct Compression {
  int64_t kernel = 0, stride = 1, padding = 0; ///< kernel 0: none
  bool stacking = false;
};

bool compressionOf(const Projector &p, int64_t dEnc,
                   const EncoderOptions &options, Compression &c,
                   std::string &error) {
  auto mismatch = [&](const std::string &what) {
    error = "encoder/adapter width mismatch: the tower's features are " +
            std::to_string(dEnc) + " wide, " + what;
    return false;
  };
  if (p.conv) {
    int64_t m = p.conv->shape[0], d = p.conv->shape[1];
    if (d != dEnc)
      return mismatch("the compression conv (conv.weight) takes " +
                      std::to_string(d));
    c.kernel = p.conv->shape[2];
    c.stride = options.stride > 0 ? options.stride
                                  : std::max<int64_t>(1, c.kernel - 1);
    // Vision compressions keep the width (no padding); the speech conv
    // adapter widens to 2C with padding 2.
    c.padding = options.padding >= 0 ? options.padding : (m == d ? 0 : 2);
    return true;
  }
  if (options.stride > 0 || options.padding >= 0) {
    error = "--compression-stride/--compression-padding need a conv "
            "compression (proj.conv.weight), which this checkpoint lacks";
    return false;
  }
  int64_t in = p.inWidth();
  if (in == dEnc && options.stack <= 1)
    return true;
  if (in % dEnc != 0)
    return mismatch("the adapter's first layer takes " + std::to_string(in) +
                    " (not a multiple)");
  int64_t k = in / dEnc;
  if (options.stack > 0 && options.stack != k)
    return mismatch("--stack " + std::to_string(options.stack) +
                    " frames make rows of " +
                    std::to_string(options.stack * dEnc) +
                    ", the adapter's first layer takes " + std::to_string(in));
  c.kernel = c.stride = k;
  c.stacking = true;
  return true;
}

} // namespace

bool addEncoder(ModuleOp lm, ModuleOp tower, Projector &&p,
                const EncoderOptions &options, std::string &error) {
  MLIRContext *ctx = lm.getContext();
  OpBuilder b(ctx);
  Location loc = UnknownLoc::get(ctx);
  auto config = lm->getAttrOfType<DictionaryAttr>(checkpoint::kConfigAttrName);
  auto towerGraphs = tower->getAttrOfType<ArrayAttr>(onnxfe::kGraphsAttrName);
  auto funcs = llvm::to_vector(tower.getOps<func::FuncOp>());
  if (!config || !towerGraphs || funcs.size() != 1) {
    error = "internal: expected an RWKV-7 module and one imported tower";
    return false;
  }
  int64_t width = config.getAs<IntegerAttr>("width").getInt();
  func::FuncOp towerFunc = funcs[0];
  FunctionType towerType = towerFunc.getFunctionType();
  auto features = dyn_cast<RankedTensorType>(towerType.getResult(0));
  if (!features || !features.getElementType().isF32() ||
      !features.hasStaticShape() || features.getRank() < 2 ||
      features.getRank() > 3 ||
      (features.getRank() == 3 && features.getDimSize(0) != 1)) {
    error = "the tower's first output must be float features [1, n, d] or "
            "[n, d] with static sizes (pin dynamic dims with --dim), got " +
            llvm::to_string(Type(towerType.getResult(0)));
    return false;
  }
  int64_t n = features.getDimSize(features.getRank() - 2);
  int64_t dEnc = features.getDimSize(features.getRank() - 1);
  Compression c;
  if (!compressionOf(p, dEnc, options, c, error))
    return false;
  if (p.width() != width) {
    error = "encoder/adapter width mismatch: the adapter yields rows of " +
            std::to_string(p.width()) + ", the language model is " +
            std::to_string(width) + " wide";
    return false;
  }
  int64_t rows = c.kernel == 0 ? n
                 : c.stacking
                     ? n / c.kernel
                     : mm::windowOutputLength(n, c.kernel, c.stride, c.padding);
  if (rows < 1) {
    error = "the tower yields " + std::to_string(n) +
            " feature rows, fewer than one compression window (kernel " +
            std::to_string(c.kernel) + ")";
    return false;
  }
  for (Type t : towerType.getInputs())
    if (!cast<ShapedType>(t).hasStaticShape()) {
      error = "the tower's inputs must have static shapes (pin dynamic dims "
              "with --dim NAME=SIZE)";
      return false;
    }

  std::string towerSymbol = "tower_" + options.modality;
  towerFunc.setSymName(towerSymbol);
  towerFunc->moveBefore(lm.getBody(), lm.getBody()->end());

  // encode_<modality>(inputs..., features): C interface, outputs in place.
  SmallVector<Type> argTypes;
  for (Type t : towerType.getInputs()) {
    auto tt = cast<RankedTensorType>(t);
    argTypes.push_back(MemRefType::get(tt.getShape(), tt.getElementType()));
  }
  auto resultType = RankedTensorType::get({rows, width}, b.getF32Type());
  argTypes.push_back(MemRefType::get(resultType.getShape(), b.getF32Type()));
  std::string symbol = "encode_" + options.modality;
  b.setInsertionPointToEnd(lm.getBody());
  auto entry =
      func::FuncOp::create(b, loc, symbol, b.getFunctionType(argTypes, {}));
  entry->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *body = entry.addEntryBlock();
  b.setInsertionPointToStart(body);
  SmallVector<Value> inputs;
  for (auto [type, arg] :
       llvm::zip(towerType.getInputs(), body->getArguments().drop_back()))
    inputs.push_back(bufferization::ToTensorOp::create(
        b, loc, type, arg, b.getUnitAttr(), UnitAttr()));
  Value x = mm::EncoderCallOp::create(b, loc, towerType.getResults(),
                                      towerSymbol, inputs)
                .getResult(0);
  auto seqType = RankedTensorType::get({n, dEnc}, b.getF32Type());
  if (features.getRank() == 3)
    x = tensor::CollapseShapeOp::create(
        b, loc, seqType, x, SmallVector<ReassociationIndices>{{0, 1}, {2}});
  std::string prefix =
      p.layout == "world" ? "modality.world_encoder.adapter." : "proj.";
  if (c.kernel > 0) {
    int64_t outWidth = c.stacking ? dEnc * c.kernel : p.conv->shape[0];
    Value w = c.stacking ? Value()
                         : constant(b, loc, *p.conv, prefix + "conv.weight");
    x = mm::CompressOp::create(
        b, loc, RankedTensorType::get({rows, outWidth}, b.getF32Type()), x, w,
        c.kernel, c.stride, c.padding);
  }
  std::string first = p.layout == "world" ? "proj.0" : "mlp.0";
  std::string second = p.layout == "world" ? "proj.2" : "mlp.2";
  Value w1 = constant(b, loc, p.w1, prefix + first + ".weight");
  Value b1 = constant(b, loc, p.b1, prefix + first + ".bias");
  Value w2 = constant(b, loc, p.w2, prefix + second + ".weight");
  Value b2 = constant(b, loc, p.b2, prefix + second + ".bias");
  Value gamma, beta;
  if (p.normWeight) {
    gamma = constant(b, loc, *p.normWeight, prefix + "pre_norm.weight");
    beta = constant(b, loc, *p.normBias, prefix + "pre_norm.bias");
  }
  Value y = mm::AdapterOp::create(b, loc, resultType, x, w1, b1, w2, b2,
                                  Value(), gamma, beta, 1, 0);
  bufferization::MaterializeInDestinationOp::create(
      b, loc, Type(), y, body->getArguments().back(), b.getUnitAttr(),
      b.getUnitAttr());
  func::ReturnOp::create(b, loc);

  // The artifact's graph record: the tower's inputs, the adapter's rows.
  auto towerGraph = cast<DictionaryAttr>(towerGraphs[0]);
  NamedAttribute output[] = {
      b.getNamedAttr("name", b.getStringAttr("features")),
      b.getNamedAttr("dtype", b.getStringAttr("float32")),
      b.getNamedAttr("shape", b.getI64ArrayAttr({rows, width}))};
  NamedAttribute graph[] = {
      b.getNamedAttr("name", b.getStringAttr(options.modality)),
      b.getNamedAttr("symbol", b.getStringAttr(symbol)),
      b.getNamedAttr("inputs", towerGraph.get("inputs")),
      b.getNamedAttr("outputs", b.getArrayAttr({b.getDictionaryAttr(output)}))};
  SmallVector<Attribute> graphs;
  if (auto existing = lm->getAttrOfType<ArrayAttr>(onnxfe::kGraphsAttrName))
    graphs.append(existing.begin(), existing.end());
  graphs.push_back(b.getDictionaryAttr(graph));
  lm->setAttr(onnxfe::kGraphsAttrName, b.getArrayAttr(graphs));
  NamedAttribute splice[] = {
      b.getNamedAttr(
          "splice",
          b.getStringAttr(p.layout == "world" ? "prefix" : "placeholder")),
      b.getNamedAttr("placeholder", b.getI64IntegerAttr(kPlaceholder)),
      b.getNamedAttr("begin", b.getI64IntegerAttr(kBegin)),
      b.getNamedAttr("end", b.getI64IntegerAttr(kEnd))};
  lm->setAttr(kSpliceAttrName, b.getDictionaryAttr(splice));
  return true;
}

} // namespace modrwkv::multimodal
