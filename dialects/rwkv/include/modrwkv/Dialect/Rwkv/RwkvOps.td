//===- RwkvOps.td - RWKV-7 model-level operations ----------*- tablegen -*-===//
//
// The `rwkv` dialect describes an RWKV-7 ("x070") language model at the level
// of its equations. Activations are `[T, C]` tensors (T tokens of width C);
// per-channel parameters are `[C]`; linear weights are `[out, in]` as in
// PyTorch. The WKV state of one layer is `[H, N, N]` with head size N = 64,
// laid out as S[head][value i][key j].
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_DIALECT_RWKV_OPS_TD
#define MODRWKV_DIALECT_RWKV_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Rwkv_Dialect : Dialect {
  let name = "rwkv";
  let cppNamespace = "::modrwkv::rwkv";
  let summary = "RWKV-7 (x070) language-model operations on tensors";
  let description = [{
    Model-level operations of RWKV-7: token shift, lerp mixes, the WKV-7
    generalized delta-rule recurrence, the time-mix and channel-mix blocks,
    layer/group normalization and linear layers. Passes in `passes/` expand
    the blocks and lower everything to upstream dialects.
  }];
}

class Rwkv_Op<string mnemonic, list<Trait> traits = []>
    : Op<Rwkv_Dialect, mnemonic, traits>;

def Rwkv_Activations : 2DTensorOf<[F32]>;
def Rwkv_Vector : 1DTensorOf<[F32]>;
// Stored weights of products may be bf16; they are widened to f32 inside
// the product (fp32 accumulation).
def Rwkv_WeightMatrix : 2DTensorOf<[F32, BF16, F16]>;
def Rwkv_State : 3DTensorOf<[F32]>;
// Batched decode: the T rows of the activations are T independent
// sequences of one token each, and the carried values have one row (one
// [H, 64, 64] state) per sequence.
def Rwkv_Carry : TensorRankOf<[F32], [1, 2]>;
def Rwkv_CarriedState : TensorRankOf<[F32], [3, 4]>;

//===----------------------------------------------------------------------===//
// Primitive operations
//===----------------------------------------------------------------------===//

def Rwkv_EmbeddingOp : Rwkv_Op<"embedding", [Pure]> {
  let summary = "row gather from an embedding table";
  let description = [{
    `result[t, c] = table[tokens[t], c]`. Token ids must lie in
    `[0, vocab)`; the runtime checks them before calling compiled code.
  }];
  let arguments = (ins 1DTensorOf<[I32]>:$tokens, Rwkv_WeightMatrix:$table);
  let results = (outs Rwkv_Activations:$result);
  let assemblyFormat = [{
    $tokens `,` $table attr-dict `:` type($tokens) `,` type($table) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def Rwkv_LayerNormOp : Rwkv_Op<"layer_norm", [Pure,
    AllTypesMatch<["x", "result"]>, AllTypesMatch<["gamma", "beta"]>]> {
  let summary = "layer normalization over the channel axis";
  let description = [{
    For each row t: `mu = mean_c x[t,c]`, `var = mean_c (x[t,c] - mu)^2`,
    `result[t,c] = (x[t,c] - mu) / sqrt(var + eps) * gamma[c] + beta[c]`.
  }];
  let arguments = (ins Rwkv_Activations:$x, Rwkv_Vector:$gamma,
                   Rwkv_Vector:$beta, F32Attr:$eps);
  let results = (outs Rwkv_Activations:$result);
  let assemblyFormat = [{
    $x `,` $gamma `,` $beta `eps` `=` $eps attr-dict `:` type($x) `,`
    type($gamma)
  }];
  let hasVerifier = 1;
}

def Rwkv_GroupNormOp : Rwkv_Op<"group_norm", [Pure,
    AllTypesMatch<["x", "result"]>, AllTypesMatch<["gamma", "beta"]>]> {
  let summary = "group normalization, one group per head";
  let description = [{
    The C channels of each row are cut into `groups` contiguous groups of
    C/groups channels; each group is normalized as in `rwkv.layer_norm`
    (mean and variance over the group), then scaled by `gamma[c]` and shifted
    by `beta[c]` per channel.
  }];
  let arguments = (ins Rwkv_Activations:$x, Rwkv_Vector:$gamma,
                   Rwkv_Vector:$beta, ConfinedAttr<I64Attr, [IntPositive]>:$groups,
                   F32Attr:$eps);
  let results = (outs Rwkv_Activations:$result);
  let assemblyFormat = [{
    $x `,` $gamma `,` $beta `groups` `=` $groups `eps` `=` $eps attr-dict `:`
    type($x) `,` type($gamma)
  }];
  let hasVerifier = 1;
}

def Rwkv_TokenShiftOp : Rwkv_Op<"token_shift", [Pure,
    AllTypesMatch<["x", "shifted"]>, AllTypesMatch<["prev", "last"]>]> {
  let summary = "shift a sequence by one token, carrying the last one";
  let description = [{
    `shifted[0] = prev`, `shifted[t] = x[t-1]` for t >= 1, and
    `last = x[T-1]`, the carry for the next call. T must be at least 1.

    Batched form (`prev` is [T, C]): the rows are T sequences of one token
    each, so `shifted = prev` and `last = x`.
  }];
  let arguments = (ins Rwkv_Activations:$x, Rwkv_Carry:$prev);
  let results = (outs Rwkv_Activations:$shifted, Rwkv_Carry:$last);
  let assemblyFormat = [{
    $x `,` $prev attr-dict `:` type($x) `,` type($prev)
  }];
  let hasVerifier = 1;
}

def Rwkv_LerpOp : Rwkv_Op<"lerp", [Pure,
    AllTypesMatch<["x", "shifted", "result"]>]> {
  let summary = "per-channel interpolation with the shifted sequence";
  let description = [{
    `result[t,c] = x[t,c] + (shifted[t,c] - x[t,c]) * mu[c]`.
  }];
  let arguments = (ins Rwkv_Activations:$x, Rwkv_Activations:$shifted,
                   Rwkv_Vector:$mu);
  let results = (outs Rwkv_Activations:$result);
  let assemblyFormat = [{
    $x `,` $shifted `,` $mu attr-dict `:` type($x) `,` type($mu)
  }];
  let hasVerifier = 1;
}

def Rwkv_BoneVariant : ConfinedAttr<StrAttr, [AttrConstraint<CPred<[{
    ::llvm::is_contained(::llvm::ArrayRef<::llvm::StringRef>{
        "bone", "bat_in", "bat_out"},
        ::llvm::cast<::mlir::StringAttr>($_self).getValue())}]>,
    "one of bone, bat_in, bat_out">]>;

def Rwkv_LinearOp : Rwkv_Op<"linear", [Pure]> {
  let summary = "bias-free linear layer with a [out, in] weight";
  let description = [{
    `result[t,n] = sum_k x[t,k] * weight[n,k]`, i.e. `x W^T` as in
    PyTorch's `nn.Linear`, with W = weight [N, K].

    An optional Bone (Block Affine) adapter modifies W (r its rank):
    - `bone`: adapter D is [r, N]; every r-wide input shard of W gets D^T
      added: W'[n, b*r + k] = W[n, b*r + k] + D[k, n] (a partial last
      shard gets the first columns), so that
      `result = x W^T + sum_b x_pad[:, b*r:(b+1)*r] D`.
    - `bat_in` / `bat_out`: adapter B is [K/r, r, r] / [N/r, r, r]; W is cut
      into r x r blocks W_ji (j over outputs, i over inputs) and
      W'_ji = W_ji (I + B_s) + B_s with s = i (`bat_in`, RWKV-PEFT's layout)
      or s = j (`bat_out`, Hugging Face PEFT's layout).
  }];
  let arguments = (ins Rwkv_Activations:$x, Rwkv_WeightMatrix:$weight,
                   Optional<TensorOf<[F32]>>:$adapter,
                   OptionalAttr<Rwkv_BoneVariant>:$adapter_variant);
  let results = (outs Rwkv_Activations:$result);
  let assemblyFormat = [{
    $x `,` $weight (`adapter` `(` $adapter^ `:` type($adapter) `)`)?
    attr-dict `:` type($x) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Rwkv_QuantizedLinearOp : Rwkv_Op<"quantized_linear", [Pure]> {
  let summary = "linear layer with an int8 weight and a scale per output row";
  let description = [{
    `result[t,n] = scale[n] * sum_k x[t,k] * weight[n,k]`: an rwkv.linear
    whose [N, K] weight W is stored as int8 with a scale per output row
    (symmetric quantization, `weight[n,k] = round(W[n,k] / scale[n])`,
    `scale[n] = max_k |W[n,k]| / 127`; see rwkv-weight-dtype). The sum is
    computed in f32.
  }];
  let arguments = (ins Rwkv_Activations:$x, 2DTensorOf<[I8]>:$weight,
                   Rwkv_Vector:$scale);
  let results = (outs Rwkv_Activations:$result);
  let assemblyFormat = [{
    $x `,` $weight `,` $scale attr-dict `:` type($x) `,` type($weight) `,`
    type($scale) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Rwkv_Wkv7Op : Rwkv_Op<"wkv7", [Pure,
    AllTypesMatch<["r", "w", "k", "v", "a", "b", "y"]>,
    AllTypesMatch<["state", "state_out"]>]> {
  let summary = "the WKV-7 generalized delta-rule recurrence";
  let description = [{
    Runs the recurrence over T tokens for H heads of size N = 64 (C = H*N).
    With per-head slices r, w, k, v, a, b of token t (vectors of N) and the
    head's state S (N x N, S[i][j], i indexing values and j keys):

      S[i][j] <- S[i][j] * w[j] + (sum_l S[i][l] * a[l]) * b[j] + v[i] * k[j]
      y[t][i]  = sum_j S[i][j] * r[j]

    RWKV-7 calls it with a = -kk and b = kk * a_gate. `state` is the state
    before the first token, `state_out` the state after the last one; the
    state is always fp32.

    Batched form (`state` is [T, H, 64, 64]): token t is the one token of
    sequence t, whose state is state[t].
  }];
  let arguments = (ins Rwkv_Activations:$r, Rwkv_Activations:$w,
                   Rwkv_Activations:$k, Rwkv_Activations:$v,
                   Rwkv_Activations:$a, Rwkv_Activations:$b,
                   Rwkv_CarriedState:$state);
  let results = (outs Rwkv_Activations:$y, Rwkv_CarriedState:$state_out);
  let assemblyFormat = [{
    $r `,` $w `,` $k `,` $v `,` $a `,` $b `,` $state attr-dict `:` type($r)
    `,` type($state)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Blocks
//===----------------------------------------------------------------------===//

def Rwkv_TimeMixOp : Rwkv_Op<"time_mix", [Pure, AttrSizedOperandSegments]> {
  let summary = "the RWKV-7 time-mix (attention) block";
  let description = [{
    Input `x` is the block's normalized input (LN1 output), `shift` the
    previous call's last LN1 row, `state` the layer's WKV state. LoRA
    matrices are given as [out, in] like every linear weight.

      xs = token_shift(x, shift); x_* = lerp(x, xs, mu_*) for r,w,k,v,a,g
      r = x_r W_r^T ; k = x_k W_k^T ; v = x_v W_v^T
      w = exp(-exp(-0.5) * sigmoid(w0 + tanh(x_w W1^T) W2^T))
      a = sigmoid(a0 + (x_a A1^T) A2^T) ; g = sigmoid(x_g G1^T) G2^T
      first layer (no v_first operand): v_first_out = v
      other layers: v = v + (v_first - v) * sigmoid(v0 + (x_v V1^T) V2^T),
                    v_first_out = v_first
      kk = normalize_per_head(k * k_k) ; k = k * (1 + (a - 1) * k_a)
      y, state_out = wkv7(r, w, k, v, -kk, kk * a, state)
      y = group_norm_H(y, ln_x, eps = 64e-5) + sum_head(r * k * r_k) * v
      result = (y * g) W_o^T ; shift_out = x[T-1]

    `v_residual` is either empty (first layer) or (v0, V1, V2). The
    matrices may be stored as bf16 or f16 (a bf16 checkpoint's are), the
    products computing in f32; a matrix with an adapter is f32.

    `adapters` are Bone adapters of the projections named in
    `adapter_targets` (receptance, key, value, output), with the variants in
    `adapter_variants` (see `rwkv.linear`).

    Batched decode: with `shift` [T, C] and `state` [T, H, 64, 64] the T
    rows of `x` are T independent sequences, one token each (see
    `rwkv.token_shift` and `rwkv.wkv7`).
  }];
  let arguments = (ins Rwkv_Activations:$x, Rwkv_Carry:$shift,
      Rwkv_CarriedState:$state, Optional<Rwkv_Activations>:$v_first,
      Rwkv_Vector:$x_r, Rwkv_Vector:$x_w, Rwkv_Vector:$x_k,
      Rwkv_Vector:$x_v, Rwkv_Vector:$x_a, Rwkv_Vector:$x_g,
      Rwkv_Vector:$w0, Rwkv_WeightMatrix:$w1, Rwkv_WeightMatrix:$w2,
      Rwkv_Vector:$a0, Rwkv_WeightMatrix:$a1, Rwkv_WeightMatrix:$a2,
      Rwkv_WeightMatrix:$g1, Rwkv_WeightMatrix:$g2,
      Rwkv_Vector:$k_k, Rwkv_Vector:$k_a, Rwkv_Vector:$r_k,
      Rwkv_WeightMatrix:$receptance, Rwkv_WeightMatrix:$key,
      Rwkv_WeightMatrix:$value, Rwkv_WeightMatrix:$output,
      Rwkv_Vector:$ln_x_weight, Rwkv_Vector:$ln_x_bias,
      Variadic<TensorOf<[F32, BF16, F16]>>:$v_residual,
      Variadic<TensorOf<[F32]>>:$adapters,
      OptionalAttr<StrArrayAttr>:$adapter_targets,
      OptionalAttr<StrArrayAttr>:$adapter_variants);
  let results = (outs Rwkv_Activations:$result, Rwkv_Carry:$shift_out,
                      Rwkv_CarriedState:$state_out,
                      Rwkv_Activations:$v_first_out);
  let assemblyFormat = [{
    $x `,` $shift `,` $state (`v_first` `(` $v_first^ `)`)?
    `mix` `(` $x_r `,` $x_w `,` $x_k `,` $x_v `,` $x_a `,` $x_g `)`
    `decay` `(` $w0 `,` $w1 `,` $w2 `)`
    `iclr` `(` $a0 `,` $a1 `,` $a2 `)`
    `gate` `(` $g1 `,` $g2 `)`
    `key_scale` `(` $k_k `,` $k_a `,` $r_k `)`
    `proj` `(` $receptance `,` $key `,` $value `,` $output `)`
    `ln_x` `(` $ln_x_weight `,` $ln_x_bias `)`
    (`v_residual` `(` $v_residual^ `)`)?
    (`adapters` `(` $adapters^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Rwkv_ChannelMixOp : Rwkv_Op<"channel_mix", [Pure]> {
  let summary = "the RWKV-7 channel-mix (feed-forward) block";
  let description = [{
    Input `x` is the LN2 output, `shift` the previous call's last LN2 row:

      xs = token_shift(x, shift) ; h = lerp(x, xs, x_k)
      result = relu(h K^T)^2 V^T ; shift_out = x[T-1]

    with K of shape [F, C] and V of shape [C, F]. `adapters` are Bone
    adapters of the projections named in `adapter_targets` (key, value).
    With `shift` [T, C] the rows are T sequences of one token each.
  }];
  let arguments = (ins Rwkv_Activations:$x, Rwkv_Carry:$shift,
                   Rwkv_Vector:$x_k, Rwkv_WeightMatrix:$key,
                   Rwkv_WeightMatrix:$value,
                   Variadic<TensorOf<[F32]>>:$adapters,
                   OptionalAttr<StrArrayAttr>:$adapter_targets,
                   OptionalAttr<StrArrayAttr>:$adapter_variants);
  let results = (outs Rwkv_Activations:$result, Rwkv_Carry:$shift_out);
  let assemblyFormat = [{
    $x `,` $shift `mix` `(` $x_k `)` `proj` `(` $key `,` $value `)`
    (`adapters` `(` $adapters^ `)`)? attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // MODRWKV_DIALECT_RWKV_OPS_TD
