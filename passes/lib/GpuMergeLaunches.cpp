//===- GpuMergeLaunches.cpp - independent kernels as one launch -----------===//
//
// Decoding one token runs a few dozen small kernels per layer; on the GPU
// each costs a launch (a few microseconds, even replayed from a CUDA graph)
// while its work takes less. Many of them do not depend on each other: the
// receptance, key, value and LoRA down-projections of a time-mix all read
// the token-shift lerps and write their own buffers. This pass reorders the
// host code so that such launches are adjacent and makes each run one
// launch whose blocks are split among the former kernels.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "Buffers.h"
#include "GpuBuilders.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include <set>

namespace modrwkv {
#define GEN_PASS_DEF_RWKVGPUMERGELAUNCHES
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using modrwkv::Access;
using modrwkv::accessOf;
using modrwkv::conflict;
using modrwkv::indexConstant;

namespace {

/// Ops the schedule places on demand, just before the first op that needs
/// them: pure ops (grid sizes, views) and device allocations, which
/// therefore live no longer than before.
bool onDemand(Operation &op) {
  return isa<gpu::AllocOp>(op) ||
         (isMemoryEffectFree(&op) && op.getNumRegions() == 0);
}

/// A launch the pass can merge: plain (no async tokens, clusters, shared
/// memory or barriers), one block in its body, a static block size, and
/// whole warps per block when its threads exchange values by shuffles.
std::optional<int64_t> mergeableThreads(gpu::LaunchOp launch) {
  if (launch.getAsyncToken() || !launch.getAsyncDependencies().empty() ||
      launch.hasClusterSize() || launch.getDynamicSharedMemorySize() ||
      !launch.getWorkgroupAttributions().empty() ||
      !launch.getPrivateAttributions().empty() ||
      !launch.getBody().hasOneBlock())
    return std::nullopt;
  int64_t threads = 1;
  for (Value size : {launch.getBlockSizeX(), launch.getBlockSizeY(),
                     launch.getBlockSizeZ()}) {
    std::optional<int64_t> known = getConstantIntValue(size);
    if (!known || *known < 1)
      return std::nullopt;
    threads *= *known;
  }
  bool shuffles = false, barriers = false;
  launch.getBody().walk([&](Operation *op) {
    shuffles |= isa<gpu::ShuffleOp>(op);
    barriers |= isa<gpu::BarrierOp>(op);
  });
  if (barriers || (shuffles && threads % modrwkv::kWarp != 0))
    return std::nullopt;
  return threads;
}

/// Bytes of kernel parameters a captured value becomes (a memref: its
/// descriptor, two pointers, an offset, sizes and strides).
int64_t parameterBytes(Value v) {
  if (auto memref = dyn_cast<MemRefType>(v.getType()))
    return 8 * (3 + 2 * memref.getRank());
  return 8;
}

int64_t parameterBytes(gpu::LaunchOp launch) {
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(launch.getBody(), captured);
  int64_t bytes = 8 * 4; // its grid size and block offset in the merged one
  for (Value v : captured)
    bytes += parameterBytes(v);
  return bytes;
}

/// How many blocks of `member` (of `own` threads) share a merged block of
/// `threads`: as many as fit, or one for a launch marked to stay spread.
int64_t packing(gpu::LaunchOp member, int64_t own, int64_t threads) {
  return member->hasAttr(modrwkv::kSpreadBlocksAttrName) ? 1 : threads / own;
}

/// One launch in place of `members` (independent, each mergeable, listed in
/// schedule order), built at `b`: block size the largest of theirs, each
/// member's blocks packed `threads / its threads` to a merged block (one,
/// the other threads idle, for a launch marked rwkv.spread_blocks), the
/// members' blocks one after the other along x. In its range of blocks a
/// member's body runs with the block and thread ids it had.
void merge(OpBuilder &b, ArrayRef<gpu::LaunchOp> members,
           ArrayRef<int64_t> memberThreads) {
  Location loc = gpu::LaunchOp(members.front()).getLoc();
  int64_t threads = *llvm::max_element(memberThreads);
  struct Range {
    Value first, end, blocks;
  };
  SmallVector<Range> ranges;
  Value offset = indexConstant(b, loc, 0);
  for (auto [launch, own] : llvm::zip(members, memberThreads)) {
    gpu::LaunchOp member = launch;
    Value blocks = arith::MulIOp::create(
        b, loc,
        arith::MulIOp::create(b, loc, member.getGridSizeX(),
                              member.getGridSizeY()),
        member.getGridSizeZ());
    Value merged = arith::CeilDivUIOp::create(
        b, loc, blocks, indexConstant(b, loc, packing(member, own, threads)));
    Value end = arith::AddIOp::create(b, loc, offset, merged);
    ranges.push_back({offset, end, blocks});
    offset = end;
  }
  Value c1 = indexConstant(b, loc, 1);
  auto launch = gpu::LaunchOp::create(b, loc, offset, c1, c1,
                                      indexConstant(b, loc, threads), c1, c1);
  OpBuilder kb = OpBuilder::atBlockBegin(&launch.getBody().front());
  Value block = launch.getBlockIds().x, thread = launch.getThreadIds().x;
  for (auto [memberOp, own, range] :
       llvm::zip(members, memberThreads, ranges)) {
    gpu::LaunchOp member = memberOp;
    Value inRange = arith::AndIOp::create(
        kb, loc,
        arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::uge, block,
                              range.first),
        arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, block,
                              range.end));
    auto inside = scf::IfOp::create(kb, loc, inRange, /*withElse=*/false);
    OpBuilder mb = OpBuilder::atBlockBegin(inside.thenBlock());
    int64_t packed = packing(member, own, threads);
    Value local = arith::SubIOp::create(mb, loc, block, range.first);
    Value tid = thread;
    if (packed == 1 && own < threads) {
      auto active = scf::IfOp::create(
          mb, loc,
          arith::CmpIOp::create(mb, loc, arith::CmpIPredicate::ult, thread,
                                indexConstant(mb, loc, own)),
          /*withElse=*/false);
      mb.setInsertionPointToStart(active.thenBlock());
    }
    if (packed > 1) {
      // Packed blocks: the last merged block may hold fewer than `packed`.
      Value ownThreads = indexConstant(mb, loc, own);
      local = arith::AddIOp::create(
          mb, loc,
          arith::MulIOp::create(mb, loc, local, indexConstant(mb, loc, packed)),
          arith::DivUIOp::create(mb, loc, thread, ownThreads));
      tid = arith::RemUIOp::create(mb, loc, thread, ownThreads);
      auto exists = scf::IfOp::create(
          mb, loc,
          arith::CmpIOp::create(mb, loc, arith::CmpIPredicate::ult, local,
                                range.blocks),
          /*withElse=*/false);
      mb.setInsertionPointToStart(exists.thenBlock());
    }
    // Ids from the linear ones, x fastest.
    auto split = [&](Value linear, Value x, Value y, Value z) {
      Value zero = indexConstant(mb, loc, 0);
      if (isConstantIntValue(y, 1) && isConstantIntValue(z, 1))
        return std::array<Value, 3>{linear, zero, zero};
      Value rest = arith::DivUIOp::create(mb, loc, linear, x);
      return std::array<Value, 3>{arith::RemUIOp::create(mb, loc, linear, x),
                                  arith::RemUIOp::create(mb, loc, rest, y),
                                  arith::DivUIOp::create(mb, loc, rest, y)};
    };
    std::array<Value, 3> blockIds =
        split(local, member.getGridSizeX(), member.getGridSizeY(),
              member.getGridSizeZ());
    std::array<Value, 3> threadIds =
        split(tid, member.getBlockSizeX(), member.getBlockSizeY(),
              member.getBlockSizeZ());
    IRMapping mapping;
    gpu::KernelDim3 ids = member.getBlockIds(), tids = member.getThreadIds(),
                    grid = member.getGridSize(), sizes = member.getBlockSize();
    mapping.map(ids.x, blockIds[0]);
    mapping.map(ids.y, blockIds[1]);
    mapping.map(ids.z, blockIds[2]);
    mapping.map(tids.x, threadIds[0]);
    mapping.map(tids.y, threadIds[1]);
    mapping.map(tids.z, threadIds[2]);
    mapping.map(grid.x, member.getGridSizeX());
    mapping.map(grid.y, member.getGridSizeY());
    mapping.map(grid.z, member.getGridSizeZ());
    mapping.map(sizes.x, member.getBlockSizeX());
    mapping.map(sizes.y, member.getBlockSizeY());
    mapping.map(sizes.z, member.getBlockSizeZ());
    for (Operation &op : member.getBody().front().without_terminator())
      mb.clone(op, mapping);
  }
  gpu::TerminatorOp::create(kb, loc);
  for (gpu::LaunchOp member : members)
    member.erase();
}

/// Reorders the ops of `block` (its terminator stays last) and merges
/// launches. The ops with effects are list-scheduled: an op waits for the
/// earlier ones it conflicts with and for those whose results it uses; of
/// the ready ones, the first that is not a mergeable launch goes next, and
/// when only mergeable launches are ready they all go, as merged launches.
class Scheduler {
public:
  Scheduler(Block &block, int64_t maxParameterBytes)
      : block(block), maxParameterBytes(maxParameterBytes) {}

  void run() {
    Operation *terminator = block.getTerminator();
    SmallVector<Operation *> lazy;
    for (Operation &op : block) {
      if (&op == terminator)
        continue;
      if (onDemand(op)) {
        lazy.push_back(&op);
        continue;
      }
      index[&op] = ops.size();
      ops.push_back(&op);
    }
    buildDependences();
    std::set<unsigned> ready;
    for (unsigned i = 0; i < ops.size(); ++i)
      if (waiting[i] == 0)
        ready.insert(i);
    while (!ready.empty()) {
      auto next = llvm::find_if(
          ready, [&](unsigned i) { return !threads.count(ops[i]); });
      if (next != ready.end()) {
        unsigned i = *next;
        ready.erase(next);
        place(ops[i]);
        release(i, ready);
        continue;
      }
      SmallVector<unsigned> wave(ready.begin(), ready.end());
      ready.clear();
      emitMerged(wave);
      for (unsigned i : wave)
        release(i, ready);
    }
    // What nothing needed, in its order, then the terminator.
    for (Operation *op : lazy)
      if (!placed.contains(op))
        op->moveBefore(terminator);
  }

private:
  /// The ops that define what `op` (or an op inside it) uses, in `block`.
  SmallVector<Operation *> producers(Operation *op) {
    SmallVector<Operation *> defs;
    op->walk([&](Operation *inner) {
      for (Value v : inner->getOperands())
        if (Operation *def = v.getDefiningOp();
            def && def->getBlock() == &block && !op->isAncestor(def) &&
            !llvm::is_contained(defs, def))
          defs.push_back(def);
    });
    return defs;
  }

  /// The scheduled ops whose results `op` uses, through on-demand ops.
  void sources(Operation *op, llvm::SmallSetVector<unsigned, 8> &out,
               llvm::SmallPtrSetImpl<Operation *> &seen) {
    for (Operation *def : producers(op)) {
      if (!seen.insert(def).second)
        continue;
      if (auto it = index.find(def); it != index.end())
        out.insert(it->second);
      else
        sources(def, out, seen);
    }
  }

  void buildDependences() {
    successors.resize(ops.size());
    waiting.assign(ops.size(), 0);
    SmallVector<Access> accesses;
    for (Operation *op : ops) {
      accesses.push_back(accessOf(op));
      if (auto launch = dyn_cast<gpu::LaunchOp>(op))
        if (std::optional<int64_t> n = mergeableThreads(launch))
          threads[op] = *n;
    }
    for (unsigned j = 0; j < ops.size(); ++j) {
      llvm::SmallSetVector<unsigned, 8> before;
      llvm::SmallPtrSet<Operation *, 16> seen;
      sources(ops[j], before, seen);
      for (unsigned i = 0; i < j; ++i)
        if (conflict(accesses[i], accesses[j]))
          before.insert(i);
      for (unsigned i : before) {
        successors[i].push_back(j);
        ++waiting[j];
      }
    }
  }

  void release(unsigned i, std::set<unsigned> &ready) {
    for (unsigned j : successors[i])
      if (--waiting[j] == 0)
        ready.insert(j);
  }

  /// Moves `op`, after what it uses that is not placed yet, to the end.
  void place(Operation *op) {
    placeProducers(op);
    op->moveBefore(block.getTerminator());
    placed.insert(op);
  }

  /// Places what `op` uses that is placed on demand and not placed yet.
  void placeProducers(Operation *op) {
    for (Operation *def : producers(op))
      if (!index.count(def) && !placed.contains(def))
        place(def);
  }

  /// The launches of `wave` (ready together, so independent) as few
  /// launches as the parameter limit allows.
  void emitMerged(ArrayRef<unsigned> wave) {
    SmallVector<gpu::LaunchOp> group;
    SmallVector<int64_t> groupThreads;
    int64_t bytes = 0;
    auto flush = [&] {
      if (group.size() == 1) {
        place(group.front());
      } else if (!group.empty()) {
        for (gpu::LaunchOp member : group)
          placeProducers(member);
        OpBuilder b(block.getTerminator());
        merge(b, group, groupThreads);
      }
      group.clear();
      groupThreads.clear();
      bytes = 0;
    };
    for (unsigned i : wave) {
      auto launch = cast<gpu::LaunchOp>(ops[i]);
      int64_t own = threads.lookup(ops[i]), need = parameterBytes(launch);
      int64_t most = std::max(
          own, groupThreads.empty() ? own : *llvm::max_element(groupThreads));
      bool fits = bytes + need <= maxParameterBytes &&
                  llvm::all_of(groupThreads,
                               [&](int64_t n) { return most % n == 0; }) &&
                  most % own == 0;
      if (!group.empty() && !fits)
        flush();
      group.push_back(launch);
      groupThreads.push_back(own);
      bytes += need;
    }
    flush();
  }

  Block &block;
  int64_t maxParameterBytes;
  SmallVector<Operation *> ops; ///< the scheduled ops, in their order
  llvm::DenseMap<Operation *, unsigned> index;
  llvm::DenseMap<Operation *, int64_t> threads; ///< mergeable launches
  SmallVector<SmallVector<unsigned>> successors;
  SmallVector<unsigned> waiting;
  llvm::SmallPtrSet<Operation *, 32> placed;
};

struct RwkvGpuMergeLaunchesPass
    : public modrwkv::impl::RwkvGpuMergeLaunchesBase<RwkvGpuMergeLaunchesPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<Block *> blocks;
    getOperation().walk([&](Block *block) {
      Operation *parent = block->getParentOp();
      if (isa<gpu::LaunchOp>(parent) ||
          parent->getParentOfType<gpu::LaunchOp>() || block->empty() ||
          !block->back().hasTrait<OpTrait::IsTerminator>())
        return;
      blocks.push_back(block);
    });
    for (Block *block : blocks)
      Scheduler(*block, maxParameterBytes).run();
  }
};

} // namespace
