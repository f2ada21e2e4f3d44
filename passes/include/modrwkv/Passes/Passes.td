//===- Passes.td - modrwkv transformation passes -----------*- tablegen -*-===//

#ifndef MODRWKV_PASSES_TD
#define MODRWKV_PASSES_TD

include "mlir/Pass/PassBase.td"

def RwkvOutlineBlocks : Pass<"rwkv-outline-blocks", "mlir::ModuleOp"> {
  let summary = "Move each time-mix / channel-mix into a function the layers share";
  let description = [{
    Replaces every `rwkv.time_mix` and `rwkv.channel_mix` by a `func.call` to
    a private function holding that op alone, with the op's operands
    (activations, state slices, weights) as arguments and its results as
    results. Ops with the same name, attributes, operand types and result
    types share one function: a model of L layers compiles two time-mix
    bodies (layer 0 produces v_first, the others mix it in) and one
    channel-mix body instead of 2L, so the code generated after expansion
    is independent of the depth (compile time, code size, instruction
    cache). Weights stay constants of the caller. Arguments get a
    `bufferization.buffer_layout` with a dynamic offset, so that the state
    slices a layer updates bufferize to views of the caller's buffers.
  }];
  let dependentDialects = ["mlir::func::FuncDialect",
                           "mlir::bufferization::BufferizationDialect"];
}

def RwkvExpandBlocks : Pass<"rwkv-expand-blocks", "mlir::func::FuncOp"> {
  let summary = "Expand rwkv.time_mix / rwkv.channel_mix into primitive ops";
  let description = [{
    Rewrites each block op into token shifts, lerps, linear layers, one
    `rwkv.wkv7`, group norm, and `linalg.generic` element-wise chains (decay,
    in-context learning rate, gates, per-head key normalization, bonus term),
    following the equations in the ops' descriptions.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::math::MathDialect"];
}

def RwkvToLinalg : Pass<"rwkv-to-linalg", "mlir::func::FuncOp"> {
  let summary = "Lower primitive rwkv ops to linalg, tensor, arith and math";
  let description = [{
    Lowers embedding, layer/group norm, token shift, lerp, linear and
    quantized_linear (the int8 product, then a scale per output column) to
    `linalg.generic` ops and tensor slicing. `rwkv.wkv7` is left alone (see
    `rwkv-lower-wkv7`); block ops must have been expanded first.

    The token shift's shifted rows are the previous state row then rows
    0..T-2 of x, built by slice inserts (copies). With `shift-by-index`
    they are a generic instead, marked `rwkv.recompute`:

      shifted[t, c] = t == 0 ? prev[c] : x[max(t - 1, 0), c]

    which rwkv-fuse-elementwise folds into every lerp that reads it: on the
    GPU, no copy kernels run before the lerps.
  }];
  let options = [
    Option<"shiftByIndex", "shift-by-index", "bool", "false",
           "Token shift as an indexed generic the lerps absorb">
  ];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::math::MathDialect"];
}

def RwkvLowerWkv7 : Pass<"rwkv-lower-wkv7", "mlir::func::FuncOp"> {
  let summary = "Lower the WKV-7 recurrence to scf loops over vector rows";
  let description = [{
    Emits an `scf.forall` over the heads (independent: threads may take
    them) of a loop over the tokens (the recurrence) of a loop over the 64
    value rows of the head's fp32 state; each row is one `vector<64xf32>`
    read, updated with the delta rule and written back, so the state never
    leaves fp32 and the key axis is vectorized. Operates on tensors;
    bufferization makes the state update in place.
  }];
  let dependentDialects = ["mlir::func::FuncDialect",
                           "mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect",
                           "mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect"];
}

def RwkvLowerWkv7Gpu : Pass<"rwkv-lower-wkv7-gpu", "mlir::func::FuncOp"> {
  let summary = "Lower the WKV-7 recurrence to one gpu.launch per call";
  let description = [{
    Each GPU thread owns one value row of one head's fp32 state and keeps it
    in registers (a loop-carried `vector<64xf32>`) across the whole time
    loop: per token it reads the head's r, w, k, a, b (64 floats, shared by
    the head's 64 threads through the cache) and v[i], applies the delta
    rule and writes y[t, i]. Blocks hold `heads-per-block` heads; the time
    loop is unrolled by `unroll`. The same kernel serves decode (T = 1) and
    prefill. Inputs become read-only buffer views, outputs new buffers
    (`bufferization.to_tensor`), so the result still bufferizes with the
    rest of the function.
  }];
  let options = [
    Option<"headsPerBlock", "heads-per-block", "int64_t", "1",
           "Heads per thread block (64 threads each)">,
    Option<"unroll", "unroll", "int64_t", "1",
           "Unroll factor of the time loop">
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect",
                           "mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::bufferization::BufferizationDialect",
                           "mlir::arith::ArithDialect"];
}

def RwkvLowerNormsGpu : Pass<"rwkv-lower-norms-gpu", "mlir::func::FuncOp"> {
  let summary = "Lower each layer or group norm to one gpu.launch";
  let description = [{
    Replaces `rwkv.layer_norm` and `rwkv.group_norm` (on tensors) by one
    kernel each, instead of rwkv-to-linalg's mean, variance and
    normalization (three kernels on the GPU). A warp owns one row of a
    layer norm, or one (row, group) of a group norm (W = C / groups
    channels), and makes three passes over it:

      mean = warp_sum(x) / W; var = warp_sum((x - mean)^2) / W
      y = (x - mean) * rsqrt(var + eps) * gamma + beta

    x, gamma and beta become read-only buffer views, y a new buffer
    (`bufferization.to_tensor`), so the result bufferizes with the rest of
    the function. Other ops are left alone.
  }];
  let options = [
    Option<"warpsPerBlock", "warps-per-block", "int64_t", "4",
           "Warps (rows or groups) per block">
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
                           "mlir::math::MathDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::bufferization::BufferizationDialect",
                           "mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect"];
}

def RwkvParallelLoopsToGpu
    : Pass<"rwkv-parallel-loops-to-gpu", "mlir::func::FuncOp"> {
  let summary = "Run each outermost host scf.parallel as one gpu.launch";
  let description = [{
    Numbers the N iterations of the loop row-major and launches
    ceil(N / block-size) blocks of `block-size` threads; thread
    g = block_id * block-size + thread_id runs iteration g when g < N.
    Sequential loops inside (the reductions of linalg ops) stay in the
    thread. Loops with reductions (`init` values) are refused. Then each run
    of host ops that load or store (a linalg op whose loops all reduce, a
    rank-0 computation), with the pure ops among them, becomes a one-thread
    launch when nothing after the run uses a value it makes: correct, not
    fast (no model's hot path has one).
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "256",
           "Threads per block">
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect"];
}

def RwkvGpuMatmul : Pass<"rwkv-gpu-matmul", "mlir::func::FuncOp"> {
  let summary = "Run each x W^T product as a warp-per-row gpu.launch";
  let description = [{
    Rewrites each product `y[t, n] += sum_k x[t, k] * W[n, k]` on buffers
    (the linalg.generic that rwkv-matmul-kernels matches; W f32, bf16 or f16)
    into one kernel where a warp owns a W row and a tile of tokens:

      block = warps-per-block warps; grid = (ceil(N / warps), ceil(T / tile))
      n = block_x * warps + warp; t0 = block_y * tile-tokens
      acc[j] = 0 for the tile's tokens j
      for k = lane * V; k < K; k += 32 * V:      (coalesced W and x reads,
        acc[j] += x[t0 + j, k:k+V] . W[n, k:k+V]   V-wide when aligned)
      y[t0 + j, n] += warp_sum(acc[j])            (shuffle xor tree, lane 0)

    W is read once per tile of tokens, from consecutive addresses across
    the warp (the plain lowering gives each thread a W row: 32 rows per warp
    load). V is 4 when K is a multiple of 128 and both buffers are known to
    be 16-byte aligned (allocations, views of the weights at aligned
    offsets), with `unroll` loads in flight per lane when K allows; else 1.
    A partial last tile runs token by token. When y was set to one value v
    just before (a linalg.fill, or a copy of a buffer filled with v, and no
    read of y in between), that initialization is dropped and lane 0 writes
    v + sum: one kernel launch fewer. When that v is 0 and y's only reader
    is an element-wise generic E later in the block (a residual add, an
    activation, a gate: every operand at a permutation of (t, n) or a part
    of it, y and the outputs at (t, n); no output on x's or W's buffer, an
    input on an output's buffer only as that output at (t, n); nothing
    between the two touches x or W), the kernel runs in E's place and lane
    0 stores what E's body makes of sum (E's other inputs loaded at the
    point) into E's outputs: E and y are gone. Other generics are left
    alone.

    With `blas`, a product with f32 or bf16 W whose y starts at 0 or holds
    what it adds to also gets a library path, chosen at run time by its
    token count T (the kernel above reads W once per tile of 8 tokens and
    uses no tensor cores; cuBLAS does both):

      use = T >= rwkv_gpu.blas_min_tokens (blas-min-tokens unless the
            runtime overrides it; never when cuBLAS cannot be loaded)
      the kernel above, with grid y = use ? 0 : ceil(T / tile)
      m = use ? T : 0
      bf16 W: xb[m, K] = bf16(x[0:m])          (a conversion kernel)
      rwkv_gpu.gemm xb or x[0:m], W, y[0:m]    (accumulate unless y was 0)
      with E: E over the rows [0, m) of its operands  (a kernel)

    The kernel comes first: it needs only x, while each step of the library
    path needs the one before (rwkv-gpu-merge-launches then launches the
    kernel beside the conversion).

    A launch with an empty grid and an allocation of 0 bytes do nothing
    in the runtime, so each call runs one of the two paths. f16 and int8
    W keep the kernel (f16 activations could overflow; cuBLAS has no
    int8-weight, f32-activation product).
  }];
  let options = [
    Option<"warpsPerBlock", "warps-per-block", "int64_t", "8",
           "Warps (W rows) per block">,
    Option<"tileTokens", "tile-tokens", "int64_t", "8",
           "Tokens per warp (W is read once per tile)">,
    Option<"unroll", "unroll", "int64_t", "4",
           "Vector loads of W in flight per lane (when K allows)">,
    Option<"blas", "blas", "bool", "false",
           "Give products of many tokens a cuBLAS path (rwkv_gpu.gemm)">,
    Option<"blasMinTokens", "blas-min-tokens", "int64_t", "16",
           "The fewest tokens that take the cuBLAS path, unless the runtime "
           "overrides it">
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::vector::VectorDialect",
                           "mlir::memref::MemRefDialect",
                           "modrwkv::rwkv_gpu::RwkvGpuDialect"];
}

def RwkvGpuHostBuffers : Pass<"rwkv-gpu-host-buffers", "mlir::func::FuncOp"> {
  let summary = "Allocate host-side buffers in device memory";
  let description = [{
    Outside kernels, memref.alloc / memref.dealloc become gpu.alloc /
    gpu.dealloc, so every buffer that kernels share lives on the device, as
    the function's arguments do. Host loads, stores and copies that touch a
    function argument or such a buffer (through views) are errors: they
    would dereference device pointers on the CPU; so is a kernel that reads
    a memref.get_global (a host address on the GPU).
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

def RwkvGpuStoreEpilogues
    : Pass<"rwkv-gpu-store-epilogues", "mlir::func::FuncOp"> {
  let summary = "Compute an element-wise reader of a kernel's output in that kernel";
  let description = [{
    On buffers, before the loop nests become kernels: a gpu.launch W fills a
    fresh buffer y with memref.store ops (and does nothing else with it),
    and y's only other reader is an element-wise linalg.generic E, later in
    the block, that reads y (or an expand_shape of it, whose groups have
    static sizes after their first dim) at its loop point. Then each store
    of v at p becomes E's body at p (v for y, E's other inputs loaded
    through their maps), storing E's results; W moves to E's place, and E
    and y go. Required: E's body reads no memory, its operands are read at
    permutations of its loop dims or parts of them and its outputs at the
    loop point; E reads nothing else W writes, writes nothing W touches;
    nothing between W and E conflicts with W. On the GPU: one dependent
    launch fewer (a layer's group norm and its output gate).
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect"];
}

def RwkvGpuMergeLaunches
    : Pass<"rwkv-gpu-merge-launches", "mlir::func::FuncOp"> {
  let summary = "Reorder host code and merge independent gpu.launch ops";
  let description = [{
    In each host block, the ops with memory effects (launches, cuBLAS
    calls, deallocations) are list-scheduled: an op follows the earlier ops
    whose results it uses and those it conflicts with (one writes a buffer,
    followed through views to its allocation or function argument, that
    the other reads or writes; the arguments are distinct buffers, as the
    runtime passes them; an effect on no named buffer, or on one reached
    otherwise, conflicts with all).
    Pure ops and device allocations are moved just before their first user.
    Of the ready ops the first that is not a mergeable launch goes next;
    when only mergeable launches are ready, they form one launch (several
    when their parameters would pass `max-parameter-bytes`): its block size
    is the largest of theirs (each must divide it), a member of n blocks of
    s threads gets ceil(n / (S / s)) merged blocks, S / s of its blocks
    packed per merged block (one block per merged block, its other threads
    idle, for a launch marked `rwkv.spread_blocks`: the WKV-7 kernel, whose
    blocks each run the whole time loop and should stay spread over the
    multiprocessors), and its body runs there with the block and thread
    ids, grid and block sizes it had. Mergeable: no async tokens,
    clusters, shared memory, attributions or barriers, a one-block body, a
    constant block size, a multiple of 32 threads if it shuffles (a member's
    blocks are then whole warps of the merged block). An empty member (grid
    0, the path not taken of a product) gets no blocks.
  }];
  let options = [
    Option<"maxParameterBytes", "max-parameter-bytes", "int64_t", "4096",
           "Largest kernel parameter list a merged launch may need (memref "
           "descriptors counted at 8 bytes a field)">
  ];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::scf::SCFDialect"];
}

def RwkvMergeGpuModules : Pass<"rwkv-merge-gpu-modules", "mlir::ModuleOp"> {
  let summary = "Move all outlined kernels into one gpu.module";
  let description = [{
    After gpu-kernel-outlining (one gpu.module per kernel), moves every
    kernel into one gpu.module `name`, renaming each after its former module
    and retargeting the gpu.launch_func ops, so that the artifact holds one
    device binary with the whole kernel table.
  }];
  let options = [
    Option<"name", "name", "std::string", "\"kernels\"",
           "Name of the merged gpu.module">
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

def RwkvGpuReductions : Pass<"rwkv-gpu-reductions", "mlir::func::FuncOp"> {
  let summary = "Run each sum over the innermost axis as a warp-per-output gpu.launch";
  let description = [{
    Rewrites each linalg.generic on buffers that sums over its innermost
    loop, `y[p] = y[p] + sum_k g(inputs at (p, k))` (one reduction
    iterator, last; projected-permutation maps; the output indexed by the
    parallel dims in order; a body ending in `yield addf(out, g)` with no
    other use of `out`), into one kernel where a warp owns an output:

      block = warps-per-block warps; grid = ceil(outputs / warps)
      p = the output of block_x * warps + warp
      acc = sum of g(p, k) for k = lane, lane + 32, ...   (coalesced reads)
      y[p] = y[p] + warp_sum(acc)                        (lane 0)

    These are the means and variances of the layer and group norms, the
    key normalization and the r.k bonus; the plain lowering runs each
    output's sum on one thread (at decode, a layer norm is one thread over
    C channels). The order of the additions changes, as float sums may.
    As in rwkv-gpu-matmul, an initialization of y to one value just before
    (a fill, a copy of a filled buffer) is folded into lane 0's write.
    Products are rwkv-gpu-matmul's, run before; other generics are left
    alone.
  }];
  let options = [
    Option<"warpsPerBlock", "warps-per-block", "int64_t", "4",
           "Warps (outputs) per block">
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
                           "mlir::memref::MemRefDialect"];
}

def RwkvFuseElementwise : Pass<"rwkv-fuse-elementwise"> {
  let summary = "Producer-consumer fusion of linalg ops, matrix products apart";
  let description = [{
    Upstream's `linalg-fuse-elementwise-ops` (element-wise producers fused
    into their consumers, reshapes propagated by expansion, constants
    folded) with one more rule: neither side of a fusion may be a
    contraction (`linalg::isaContractionOpInterface`: a product
    `y += x * w`). A product keeps its operands as they are, so that the
    kernel passes recognize it: an element-wise prologue fused into it
    would run once per output column, and a row-collapsing reshape
    propagated through it would give it extra loops. A producer marked
    `rwkv.recompute` (an indexed token shift) is fused into each of its
    consumers, not only into a sole one.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect",
                           "mlir::affine::AffineDialect"];
}

def RwkvSplitBatchedProducts
    : Pass<"rwkv-split-batched-products", "mlir::func::FuncOp"> {
  let summary = "Batched products as a loop of two-dimensional ones";
  let description = [{
    On buffers: a linalg.generic y[b.., t, n] += x[b.., t, k] * w[b.., n, k]
    (batch loops of static size first, then t and n parallel, k a
    reduction; the importer builds attention's activation products so)
    becomes scf.for loops over the batch elements around the same body on
    rank-reduced subviews, y[t, n] += x[t, k] * w[n, k]: the form of the
    products that rwkv-matmul-kernels and rwkv-gpu-matmul take.
  }];
  let dependentDialects = ["mlir::scf::SCFDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect"];
}

def RwkvFuseSiblings : Pass<"rwkv-fuse-siblings", "mlir::func::FuncOp"> {
  let summary = "Merge runs of adjacent element-wise generics into one";
  let description = [{
    On buffers: consecutive linalg.generic ops (with at most allocations
    and side-effect-free ops between them) that are element-wise (all
    loops parallel, identity output maps) over the same domain (their first
    outputs have equal shapes, dynamic sizes proven equal by value bounds)
    become one generic with all their outputs, when every buffer one of them
    writes is used by the others only as the same value at the same point
    (identity maps, no other view of it): each point then reads before it
    writes, as in the separate ops. The merged op takes the place of the
    run's last one. On the GPU each generic is a kernel launch: the six
    token-shift lerps of a layer become one.
  }];
}

def RwkvGpuKernelsToHost
    : Pass<"rwkv-gpu-kernels-to-host", "mlir::gpu::GPUModuleOp"> {
  let summary = "Lower a gpu.module's kernels to host code for the CUDA emulator";
  let description = [{
    Instead of NVVM: every gpu.func becomes an LLVM function of the host
    (memref arguments expanded into descriptor fields, as gpu-to-llvm passes
    them), whose thread / block ids and sizes, warp shuffles and barriers
    are calls into the CUDA emulator (`modrwkv_emu_id`,
    `modrwkv_emu_shuffle`, `modrwkv_emu_barrier`); math ops become LLVM
    intrinsics where there are, else calls into libm, as on the CPU. Each kernel K also gets `modrwkv_emu_launch_K(ptr params)`,
    which unpacks cuLaunchKernel's parameter array and calls K, and the
    constant table `modrwkv_emu_info_K` = [uses shuffles or barriers,
    parameter count, each parameter's size]. Ops the emulator cannot run
    (workgroup memory, other gpu ops, shuffles of non-32-bit values) are
    errors naming the op.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect",
                           "mlir::func::FuncDialect",
                           "mlir::arith::ArithDialect"];
}

def RwkvExternalizeWeights
    : Pass<"rwkv-externalize-weights", "mlir::ModuleOp"> {
  let summary = "Turn dense_resource weight constants into views of a weight buffer";
  let description = [{
    Each public function that uses `dense_resource` tensor constants gets a
    new first argument `memref<?xi8>` (the weight file, mapped by the
    runtime); every such constant becomes a `memref.view` at an aligned byte
    offset wrapped in `bufferization.to_tensor`. The layout is recorded in
    the module attribute `rwkv.weights`: an array of dictionaries
    `{name, offset, value}` where `value` is the original resource, from
    which the artifact writer packs the weight file. The new argument's
    attribute `rwkv.weights_buffer = array<i64: first, last>` gives the byte
    range the function reads. The resources of the
    module attribute `rwkv.initial_state` (a state-tuned model's learned
    initial state, which only the runtime reads) are laid out after them.
    With `inline-constants`, tensor constants written out in the IR (small
    initializers of an ONNX model, splats) go to the weight buffer too:
    on a GPU, kernels cannot read the host globals they would become.
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", /*default=*/"64",
           "Byte alignment of each weight in the buffer">,
    Option<"inlineConstants", "inline-constants", "bool", /*default=*/"false",
           "Also move dense tensor constants (ints, floats) to the buffer">
  ];
  let dependentDialects = ["mlir::memref::MemRefDialect",
                           "mlir::bufferization::BufferizationDialect",
                           "mlir::arith::ArithDialect"];
}

def RwkvMergeBone : Pass<"rwkv-merge-bone", "mlir::ModuleOp"> {
  let summary = "Fold Bone adapters into their base weights at compile time";
  let description = [{
    For every adapter carried by an rwkv.linear, rwkv.time_mix or
    rwkv.channel_mix op whose weight and adapter are dense_resource
    constants, computes the merged weight on the blobs (bone: D^T added to
    each input shard; bat: W_ji (I + B_s) + B_s per r x r block, see
    rwkv.linear) as a new resource `<weight>+<adapter>`, and drops the
    adapter. A weight and adapter pair is merged once for all the functions
    that use it, and the originals' data is freed once nothing names them.
    Adapters on non-constant weights are left to be applied at run time.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect"];
}

def RwkvWeightDtype : Pass<"rwkv-weight-dtype", "mlir::ModuleOp"> {
  let summary = "Store the weights of products and embeddings in bf16, f16 or int8";
  let description = [{
    Rewrites the f32 or bf16 dense_resource weights of rwkv.linear and
    rwkv.embedding (the matrices that dominate model size and decode
    bandwidth) into bf16 or f16 resources, rounding to nearest even; the
    lowering widens them to f32 inside the products, so accumulation stays
    fp32. A weight already in the storage type is kept as it is (the
    importer keeps a bf16 checkpoint's matrices bf16), `f32` widens bf16
    weights exactly. Weights of linears with an unmerged Bone adapter,
    vectors, and non-constant weights are left alone. A weight that reaches
    its products as an argument of a private function (a layer body shared
    by rwkv-outline-blocks) is converted at every call site when all of them
    pass such resource constants, and the argument's type follows. f16 keeps
    3 more mantissa bits than bf16 but only |w| <= 65504: a weight beyond
    that is an error naming it (not an infinity). A replaced weight's data is
    freed as soon as no constant names it, so a compile holds one copy of
    each weight, not two.

    `i8`: an rwkv.linear whose [N, K] weight has N and K >= `i8-min-size`
    (the projections, FFN and head of released models; their LoRA-style
    paths are narrower) becomes an rwkv.quantized_linear: int8 weights with
    a scale per output row, `scale[n] = max_k |W[n,k]| / 127` and
    `q[n,k] = W[n,k] / scale[n]` rounded to nearest even (f32 arithmetic). A
    shared layer function gets the scale as a new argument. The other
    weights become bf16. A non-finite weight is an error naming it.
  }];
  let options = [
    Option<"dtype", "dtype", "std::string", /*default=*/"\"bf16\"",
           "Storage type of the weights: bf16, f16, i8 or f32">,
    Option<"i8MinSize", "i8-min-size", "int64_t", /*default=*/"512",
           "i8: the smallest N and K of a weight stored as int8">
  ];
  let dependentDialects = ["mlir::arith::ArithDialect"];
}

def RwkvCopiesToLinalg : Pass<"rwkv-copies-to-linalg", "mlir::func::FuncOp"> {
  let summary = "Rewrite memref.copy into linalg.copy";
  let description = [{
    The LLVM lowering of a `memref.copy` between non-contiguous buffers calls
    `memrefCopy` from MLIR's runner-utils library, which compiled models must
    not depend on. As `linalg.copy`, every copy becomes plain loops (which
    LLVM turns back into memcpy where the layout allows).
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def RwkvMatmulKernels : Pass<"rwkv-matmul-kernels", "mlir::ModuleOp"> {
  let summary = "Register-blocked vector kernels for the x W^T products";
  let description = [{
    Rewrites each product `y[t, n] += sum_k x[t, k] * W[n, k]` on buffers (a
    `linalg.generic` with maps (t, k), (n, k) -> (t, n) and a multiply-add
    body; W f32, bf16 or f16, K a multiple of `vector-width`, unit innermost
    strides) into loops over register tiles:

      for each block of `token-block` tokens:
        for n0 in steps of `tile-rows`:            (W rows stay in L1)
          for t0 in steps of `tile-tokens` (in the block):
            acc[i][j] = 0                          (tile-tokens x tile-rows
            for k in steps of `vector-width`:        vector accumulators)
              acc[i][j] = fma(x[t0+i, k:], W[n0+j, k:], acc[i][j])
            y[t0+i, n0+j] += reduce_add(acc[i][j])

    so that each vector load feeds several FMAs instead of one (the plain
    loops' dot products are bound by loads). Leftover tokens and rows use
    1-wide tiles. A one-token tile (decode: W streams from memory once)
    prefetches the rows of the next tile at each k (`prefetch`). With
    `parallel`, the loops over W rows are `scf.parallel` (threads take
    disjoint rows of y), behind an `scf.if` that keeps a product on one
    thread when its token block brings fewer than `min-parallel-macs`
    multiply-adds (decode's small LoRA products: a fork and a barrier cost
    more than they save). The loops live in one private function per operand
    types (`rwkv_matmul_kernel_N`), called in place of each product, so that
    the layers share their code. Other generics, and products that do not
    qualify, are left alone for the plain loop lowering.
  }];
  let options = [
    Option<"tileTokens", "tile-tokens", "int64_t", "4",
           "Tokens per register tile">,
    Option<"tileRows", "tile-rows", "int64_t", "6",
           "Weight rows per register tile">,
    Option<"vectorWidth", "vector-width", "int64_t", "16",
           "f32 lanes per vector (16 = one AVX-512 register)">,
    Option<"tokenBlock", "token-block", "int64_t", "64",
           "Tokens per cache block (their x rows stay in L2)">,
    Option<"parallel", "parallel", "bool", "false",
           "Split the weight rows across threads (scf.parallel, for "
           "convert-scf-to-openmp)">,
    Option<"minParallelMacs", "min-parallel-macs", "int64_t", "262144",
           "With `parallel`: products of fewer multiply-adds (a token block "
           "x rows x depth) run on one thread">,
    Option<"prefetch", "prefetch", "bool", "true",
           "One-token tiles prefetch the next tile's W rows">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect",
                           "mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect"];
}

def RwkvParallelTokens : Pass<"rwkv-parallel-tokens", "mlir::func::FuncOp"> {
  let summary = "Split the token loop of loop nests on buffers across threads";
  let description = [{
    Tiles the first loop of each `linalg` op on buffers whose first loop is
    parallel, runs over a dynamic extent (the tokens) and indexes every
    output, into an `scf.parallel` over blocks of `rows` rows:

      for t in [0, T), c in ...:  out[t, ...] = f(in[t, ...], ...)
    becomes
      scf.parallel t0 in [0, T) step rows:
        for t in [t0, min(t0 + rows, T)), c in ...: (the same op on subviews)

    so that `convert-scf-to-openmp` gives each thread a block of rows. The
    split is guarded by `T > rows`; with fewer tokens (decode) the op runs
    as before, without an OpenMP region. Ops on static shapes (state
    copies), ops whose first loop is a reduction, and ops with an output
    not indexed by the first loop are left alone.
  }];
  let options = [
    Option<"rows", "rows", "int64_t", "8", "Token rows per parallel iteration">,
  ];
  let dependentDialects = ["mlir::scf::SCFDialect",
                           "mlir::affine::AffineDialect",
                           "mlir::memref::MemRefDialect"];
}

def MmFuseAdapterCompression
    : Pass<"mm-fuse-adapter-compression", "mlir::func::FuncOp"> {
  let summary = "Fuse a sequence compression into the adapter's first layer";
  let description = [{
    For each `mm.adapter` fed by an `mm.compress`:
    - frame stacking is a re-layout: the first weight [hidden, d * K] is
      viewed as [hidden, d, K] and the adapter reads the frames directly
      (a window product with kernel = stride = K; nothing is copied);
    - a bias-free conv [m, d, k] followed by the first linear [hidden, m] is
      two linear maps. `fold` computes W1 * Wconv = [hidden, d, k] on the
      blobs at compile time (hidden*d*k multiply-adds per output token);
      `loops` keeps both weights and computes the conv one output token at
      a time, so its output never goes to memory (m*d*k + hidden*m).
      `auto` takes the one with fewer FLOPs; folding needs constant weights
      and falls back to `loops` otherwise; `none` leaves the compression
      unfused (for comparisons).
    Adapters not fed by a compression, and compressions feeding anything
    else, are left alone.
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"auto\"",
           "How to fuse a conv compression: auto, fold, loops or none">
  ];
  let dependentDialects = ["mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect"];
}

def MmLower : Pass<"mm-lower", "mlir::func::FuncOp"> {
  let summary = "Lower mm ops to rwkv, linalg, tensor, scf and func";
  let description = [{
    `mm.encoder_call` becomes `func.call` (inline it next); `mm.compress`
    and the window products of `mm.adapter` become `linalg.generic`
    contractions over a zero-padded sequence (the loop-fused form an
    `scf.for` over output tokens); the adapter's linear layers and norm
    become `rwkv.linear` and `rwkv.layer_norm`; `mm.splice` becomes an
    `rwkv.embedding` of the non-placeholder tokens and an `scf.for` that
    writes feature rows over the placeholder positions.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::scf::SCFDialect",
                           "mlir::func::FuncDialect",
                           "modrwkv::rwkv::RwkvDialect"];
}

#endif // MODRWKV_PASSES_TD
