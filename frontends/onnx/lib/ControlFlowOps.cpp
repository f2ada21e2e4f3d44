//===- ControlFlowOps.cpp - If, Loop and Scan -----------------------------===//
//
// Sub-graphs import into the enclosing function. An If whose condition is
// known at compile time imports the branch taken; otherwise both branches
// become the regions of an scf.if, and must yield the same types. Loop and
// Scan unroll: shapes here are static, and the number of iterations decides
// the shape of their stacked ("scan") outputs, so a Loop's trip count and
// conditions must be known at compile time, and a Scan runs along a static
// axis. Unrolling stops with an error past kMaxUnrolledNodes nodes.
//
//===----------------------------------------------------------------------===//

#include "Lowering.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace modrwkv::onnxfe {
namespace {

constexpr int64_t kMaxUnrolledNodes = 1 << 16;

std::string shapeString(const TV &v) {
  std::string s;
  for (int64_t d : v.shape)
    s += std::to_string(d) + "x";
  return s + dtypeName(v.dtype);
}

TV knownScalar(int32_t dtype, int64_t value) {
  TV v;
  v.dtype = dtype;
  v.known = Literal();
  v.known->ints.push_back(value);
  return v;
}

int64_t graphNodes(OpContext &ctx, const std::string &attribute) {
  const Attribute *a = ctx.node.attr(attribute);
  return a && a->graph ? std::max<size_t>(a->graph->nodes.size(), 1) : 1;
}

/// Element `index` of `v` along `axis` (the axis removed).
TV take(OpContext &ctx, TV &v, int64_t axis, int64_t index) {
  TV out;
  out.dtype = v.dtype;
  out.shape = v.shape;
  out.shape.erase(out.shape.begin() + axis);
  if (v.known) {
    int64_t n = v.shape[axis], inner = product(v.shape, axis + 1);
    out.known = remap(*v.known, out.numElements(), [&](int64_t k) {
      return (k / inner * n + index) * inner + k % inner;
    });
    return out;
  }
  out.value = ctx.gatherMap(
      out.shape, v.dtype, ctx.val(v),
      [&](OpBuilder &b, Location loc, ValueRange position) {
        SmallVector<Value> indices(position.begin(), position.end());
        indices.insert(indices.begin() + axis,
                       arith::ConstantIndexOp::create(b, loc, index));
        return indices;
      });
  return out;
}

/// `parts` (one shape) stacked along a new axis `axis`; nullopt after an
/// error when their shapes differ.
std::optional<TV> stack(OpContext &ctx, ArrayRef<TV> parts, int64_t axis,
                        const std::string &what) {
  const TV &first = parts.front();
  for (const TV &p : parts)
    if (p.shape != first.shape || p.dtype != first.dtype) {
      (void)ctx.unsupported(what + " changes from " + shapeString(first) +
                            " to " + shapeString(p) +
                            " between iterations (stacked outputs need one "
                            "static shape)");
      return std::nullopt;
    }
  // Each part with a unit dim at `axis` (same contents), then joined.
  SmallVector<TV> units(parts.begin(), parts.end());
  SmallVector<TV *> joined;
  for (TV &u : units) {
    Value value = u.known ? Value() : ctx.val(u);
    u.shape.insert(u.shape.begin() + axis, 1);
    if (value)
      u.value = ctx.reshape(value, u.shape);
    joined.push_back(&u);
  }
  return concatenate(ctx, joined, axis);
}

LogicalResult lowerIf(OpContext &ctx) {
  TV &cond = ctx.in(0);
  if (cond.dtype != kBool || cond.numElements() != 1)
    return ctx.invalid("the condition must be a single bool, not " +
                       shapeString(cond));
  auto setOutputs = [&](ArrayRef<TV> outs) {
    if (outs.size() != ctx.numOutputs())
      return ctx.invalid("a branch yields " + std::to_string(outs.size()) +
                         " values for " + std::to_string(ctx.numOutputs()) +
                         " outputs");
    for (size_t i = 0; i < outs.size(); ++i)
      ctx.set(i, outs[i]);
    return success();
  };
  if (cond.known) {
    auto outs =
        ctx.subgraph(cond.known->i(0) ? "then_branch" : "else_branch", {});
    return failed(outs) ? failure() : setOutputs(*outs);
  }

  // A run-time condition: both branches go into an scf.if. Its result
  // types are known once they are imported, so they are built in a
  // placeholder first.
  OpBuilder &b = ctx.b;
  SmallVector<Value> zeros;
  if (cond.rank() > 0)
    zeros.assign(cond.rank(), arith::ConstantIndexOp::create(b, ctx.loc, 0));
  Value c = tensor::ExtractOp::create(b, ctx.loc, ctx.val(0), zeros);
  auto placeholder = scf::IfOp::create(b, ctx.loc, TypeRange{}, c,
                                       /*withElseRegion=*/true);
  SmallVector<TV> branchOutputs[2];
  const char *names[2] = {"then_branch", "else_branch"};
  for (int k = 0; k < 2; ++k) {
    Block &block = k == 0 ? placeholder.getThenRegion().front()
                          : placeholder.getElseRegion().front();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(block.getTerminator());
    auto outs = ctx.subgraph(names[k], {});
    if (failed(outs)) {
      placeholder.erase();
      return failure();
    }
    SmallVector<Value> yielded;
    for (TV &v : *outs)
      yielded.push_back(ctx.val(v));
    block.getTerminator()->erase();
    b.setInsertionPointToEnd(&block);
    scf::YieldOp::create(b, ctx.loc, yielded);
    branchOutputs[k] = std::move(*outs);
  }
  auto &[thenOuts, elseOuts] = branchOutputs;
  bool agree = thenOuts.size() == elseOuts.size();
  for (size_t i = 0; agree && i < thenOuts.size(); ++i)
    if (thenOuts[i].shape != elseOuts[i].shape ||
        thenOuts[i].dtype != elseOuts[i].dtype) {
      placeholder.erase();
      return ctx.unsupported(
          "output " + std::to_string(i) + " is " + shapeString(thenOuts[i]) +
          " in the then branch and " + shapeString(elseOuts[i]) +
          " in the else branch (a run-time condition needs one static type)");
    }
  if (!agree) {
    placeholder.erase();
    return ctx.invalid("the branches yield different numbers of values");
  }
  SmallVector<Type> types;
  for (TV &v : thenOuts)
    types.push_back(ctx.tensorType(v.shape, v.dtype));
  auto ifOp = scf::IfOp::create(b, ctx.loc, types, c, /*withElseRegion=*/true);
  ifOp.getThenRegion().front().erase();
  ifOp.getElseRegion().front().erase();
  ifOp.getThenRegion().takeBody(placeholder.getThenRegion());
  ifOp.getElseRegion().takeBody(placeholder.getElseRegion());
  placeholder.erase();
  SmallVector<TV> outs;
  for (auto [v, result] : llvm::zip(thenOuts, ifOp.getResults())) {
    TV out;
    out.dtype = v.dtype;
    out.shape = v.shape;
    out.value = result;
    outs.push_back(std::move(out));
  }
  return setOutputs(outs);
}

/// Input i as one compile-time integer; nullopt after an error.
std::optional<int64_t> knownInt(OpContext &ctx, size_t i,
                                const std::string &what) {
  auto v = ctx.constInts(i);
  if (!v)
    return std::nullopt;
  if (v->size() != 1) {
    (void)ctx.invalid(what + " must be a single value");
    return std::nullopt;
  }
  return v->front();
}

LogicalResult lowerLoop(OpContext &ctx) {
  std::optional<int64_t> tripCount, initial = 1;
  if (ctx.has(0) && !(tripCount = knownInt(ctx, 0, "the trip count")))
    return failure();
  if (ctx.has(1) && !(initial = knownInt(ctx, 1, "the condition")))
    return failure();
  bool cond = *initial != 0;
  size_t numCarried = ctx.numInputs() - 2;
  SmallVector<TV> carried;
  for (size_t i = 2; i < ctx.numInputs(); ++i)
    carried.push_back(ctx.in(i));
  if (ctx.numOutputs() < numCarried)
    return ctx.invalid("fewer outputs than loop-carried values");
  size_t numScans = ctx.numOutputs() - numCarried;
  std::vector<SmallVector<TV>> scans(numScans);
  int64_t limit = kMaxUnrolledNodes / graphNodes(ctx, "body");
  auto tooLong = [&] {
    return ctx.unsupported("the loop runs more than " + std::to_string(limit) +
                           " iterations; loops unroll at compile time, up to " +
                           std::to_string(kMaxUnrolledNodes) + " nodes");
  };
  if (cond && tripCount && *tripCount > limit)
    return tooLong();
  for (int64_t i = 0; cond && (!tripCount || i < *tripCount); ++i) {
    if (i == limit)
      return tooLong();
    SmallVector<TV> args = {knownScalar(kInt64, i), knownScalar(kBool, 1)};
    args.append(carried);
    auto outs = ctx.subgraph("body", args, "iteration " + std::to_string(i));
    if (failed(outs))
      return failure();
    if (outs->size() != 1 + numCarried + numScans)
      return ctx.invalid("the body yields " + std::to_string(outs->size()) +
                         " values, but the node has " +
                         std::to_string(ctx.numOutputs()) + " outputs");
    TV &c = (*outs)[0];
    if (!c.known || c.numElements() != 1)
      return ctx.unsupported("the loop condition is computed at run time; "
                             "loops unroll at compile time, so it must be "
                             "known then");
    cond = c.known->i(0) != 0;
    carried.assign(outs->begin() + 1, outs->begin() + 1 + numCarried);
    for (size_t k = 0; k < numScans; ++k)
      scans[k].push_back((*outs)[1 + numCarried + k]);
  }
  for (size_t i = 0; i < numCarried; ++i)
    ctx.set(i, carried[i]);
  for (size_t k = 0; k < numScans; ++k) {
    std::string what = "scan output " + std::to_string(k);
    if (scans[k].empty())
      return ctx.unsupported(what + " of a loop that runs no iteration "
                                    "(its element shape is unknown)");
    auto out = stack(ctx, scans[k], 0, what);
    if (!out)
      return failure();
    ctx.set(numCarried + k, std::move(*out));
  }
  return success();
}

/// One Scan over `scanInputs` (opset 9 semantics): the final states and the
/// stacked scan outputs, or nullopt after an error.
std::optional<std::pair<SmallVector<TV>, SmallVector<TV>>>
scanOnce(OpContext &ctx, SmallVector<TV> states, ArrayRef<TV> scanInputs,
         ArrayRef<int64_t> inAxes, ArrayRef<int64_t> inReverse,
         size_t numScanOutputs, ArrayRef<int64_t> outAxes,
         ArrayRef<int64_t> outReverse) {
  int64_t length = -1;
  for (auto [v, axis] : llvm::zip(scanInputs, inAxes)) {
    if (length >= 0 && v.shape[axis] != length) {
      (void)ctx.invalid("the scan inputs have different lengths");
      return std::nullopt;
    }
    length = v.shape[axis];
  }
  if (length * graphNodes(ctx, "body") > kMaxUnrolledNodes) {
    (void)ctx.unsupported("a scan of " + std::to_string(length) +
                          " steps; scans unroll at compile time, up to " +
                          std::to_string(kMaxUnrolledNodes) + " nodes");
    return std::nullopt;
  }
  std::vector<SmallVector<TV>> scans(numScanOutputs);
  for (int64_t t = 0; t < length; ++t) {
    SmallVector<TV> args = states;
    for (size_t j = 0; j < scanInputs.size(); ++j) {
      TV input = scanInputs[j];
      args.push_back(
          take(ctx, input, inAxes[j], inReverse[j] ? length - 1 - t : t));
    }
    auto outs = ctx.subgraph("body", args, "step " + std::to_string(t));
    if (failed(outs))
      return std::nullopt;
    if (outs->size() != states.size() + numScanOutputs) {
      (void)ctx.invalid(
          "the body yields " + std::to_string(outs->size()) + " values for " +
          std::to_string(states.size() + numScanOutputs) + " outputs");
      return std::nullopt;
    }
    states.assign(outs->begin(), outs->begin() + states.size());
    for (size_t k = 0; k < numScanOutputs; ++k)
      scans[k].push_back((*outs)[states.size() + k]);
  }
  SmallVector<TV> stacked;
  for (size_t k = 0; k < numScanOutputs; ++k) {
    if (scans[k].empty()) {
      (void)ctx.unsupported("a scan of zero steps");
      return std::nullopt;
    }
    if (outReverse[k])
      std::reverse(scans[k].begin(), scans[k].end());
    auto axis = ctx.axis(outAxes[k], scans[k].front().rank() + 1);
    if (!axis)
      return std::nullopt;
    auto out = stack(ctx, scans[k], *axis, "scan output " + std::to_string(k));
    if (!out)
      return std::nullopt;
    stacked.push_back(std::move(*out));
  }
  return std::make_pair(std::move(states), std::move(stacked));
}

LogicalResult lowerScan(OpContext &ctx) {
  // Opset 8 has a leading sequence_lens input and a batch axis 0 on every
  // input and output; opset 9 dropped both and added per-input axes.
  bool batched = ctx.opset < 9;
  size_t first = batched ? 1 : 0;
  if (batched && ctx.has(0))
    return ctx.unsupported("sequence_lens (per-batch lengths)");
  int64_t numScanInputs = ctx.attrInt("num_scan_inputs", 0);
  if (numScanInputs < 1 ||
      first + numScanInputs > static_cast<int64_t>(ctx.numInputs()))
    return ctx.invalid("num_scan_inputs is " + std::to_string(numScanInputs) +
                       " for " + std::to_string(ctx.numInputs()) + " inputs");
  size_t numStates = ctx.numInputs() - first - numScanInputs;
  if (ctx.numOutputs() < numStates)
    return ctx.invalid("fewer outputs than state variables");
  size_t numScanOutputs = ctx.numOutputs() - numStates;
  auto attrOr = [&](const char *key, size_t n, int64_t value) {
    std::vector<int64_t> v = ctx.attrInts(key);
    return v.empty() ? std::vector<int64_t>(n, value) : v;
  };
  std::vector<int64_t> inAxes = attrOr("scan_input_axes", numScanInputs, 0);
  std::vector<int64_t> inReverse = attrOr(
      batched ? "directions" : "scan_input_directions", numScanInputs, 0);
  std::vector<int64_t> outAxes = attrOr("scan_output_axes", numScanOutputs, 0);
  std::vector<int64_t> outReverse =
      attrOr("scan_output_directions", numScanOutputs, 0);
  if (inAxes.size() != size_t(numScanInputs) ||
      inReverse.size() != size_t(numScanInputs) ||
      outAxes.size() != numScanOutputs || outReverse.size() != numScanOutputs)
    return ctx.invalid("an axes or directions attribute has the wrong length");

  SmallVector<TV> states, scanInputs;
  for (size_t i = first; i < first + numStates; ++i)
    states.push_back(ctx.in(i));
  for (size_t i = first + numStates; i < ctx.numInputs(); ++i)
    scanInputs.push_back(ctx.in(i));
  int64_t batchRank = batched ? 1 : 0;
  for (size_t j = 0; j < scanInputs.size(); ++j) {
    auto axis = ctx.axis(inAxes[j], scanInputs[j].rank() - batchRank);
    if (!axis)
      return failure();
    inAxes[j] = *axis;
  }

  if (!batched) {
    auto result = scanOnce(ctx, states, scanInputs, inAxes, inReverse,
                           numScanOutputs, outAxes, outReverse);
    if (!result)
      return failure();
    for (size_t i = 0; i < numStates; ++i)
      ctx.set(i, result->first[i]);
    for (size_t k = 0; k < numScanOutputs; ++k)
      ctx.set(numStates + k, result->second[k]);
    return success();
  }

  // Opset 8: one scan per batch element, the results stacked on axis 0.
  int64_t batch = -1;
  for (TV &v : llvm::concat<TV>(states, scanInputs)) {
    if (v.rank() < 1 || (batch >= 0 && v.shape[0] != batch))
      return ctx.invalid("inputs need one leading batch axis");
    batch = v.shape[0];
  }
  // Per output (final states, then scan outputs): its value per batch row.
  std::vector<SmallVector<TV>> rows(numStates + numScanOutputs);
  for (int64_t n = 0; n < batch; ++n) {
    SmallVector<TV> s, x;
    for (TV &v : states)
      s.push_back(take(ctx, v, 0, n));
    for (TV &v : scanInputs)
      x.push_back(take(ctx, v, 0, n));
    auto one = scanOnce(ctx, s, x, inAxes, inReverse, numScanOutputs,
                        std::vector<int64_t>(numScanOutputs), outReverse);
    if (!one)
      return failure();
    for (auto [j, v] :
         llvm::enumerate(llvm::concat<TV>(one->first, one->second)))
      rows[j].push_back(v);
  }
  for (size_t j = 0; j < rows.size(); ++j) {
    std::string what = j < numStates
                           ? "state " + std::to_string(j)
                           : "scan output " + std::to_string(j - numStates);
    auto out = stack(ctx, rows[j], 0, what);
    if (!out)
      return failure();
    ctx.set(j, std::move(*out));
  }
  return success();
}

} // namespace

void addControlFlowLowerings(LoweringTable &t) {
  t["If"] = lowerIf;
  t["Loop"] = lowerLoop;
  t["Scan"] = lowerScan;
}

} // namespace modrwkv::onnxfe
