//===- MmOps.td - ModRWKV multimodal operations ------------*- tablegen -*-===//
//
// The `mm` dialect describes the multimodal side of ModRWKV: the call of an
// encoder tower (an imported ONNX graph), the 1-D compression of its token
// sequence, the adapter MLP into the language model's width, and the splice
// of the adapter's rows into the token stream. Sequences are `[n, d]`
// tensors (n tokens of width d); linear weights are `[out, in]` and conv
// weights `[out, in, kernel]` as in PyTorch.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_DIALECT_MM_OPS_TD
#define MODRWKV_DIALECT_MM_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Mm_Dialect : Dialect {
  let name = "mm";
  let cppNamespace = "::modrwkv::mm";
  let summary = "ModRWKV multimodal operations: encoder, compression, "
                "adapter, splice";
  let description = [{
    Feeds encoder features into an RWKV-7 language model: an encoder tower
    yields `[n, d_enc]` features, a compression shortens the sequence, an
    adapter MLP maps it to the model width C, and a splice puts the rows in
    place of placeholder tokens. `mm-fuse-adapter-compression` folds the
    compression into the adapter; `mm-lower` lowers everything to `rwkv`,
    `linalg`, `tensor` and `scf`.
  }];
}

class Mm_Op<string mnemonic, list<Trait> traits = []>
    : Op<Mm_Dialect, mnemonic, traits>;

def Mm_Sequence : 2DTensorOf<[F32]>;
def Mm_Vector : 1DTensorOf<[F32]>;

def Mm_EncoderCallOp : Mm_Op<"encoder_call",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "call of an imported encoder tower";
  let description = [{
    Calls the function `callee` (an ONNX graph imported with a tensor
    signature) on `inputs`; its results are the tower's outputs. Lowered to
    `func.call` and inlined, so the tower and the adapter compile as one
    graph.
  }];
  let arguments = (ins FlatSymbolRefAttr:$callee,
                   Variadic<AnyRankedTensor>:$inputs);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $callee `(` $inputs `)` attr-dict `:` functional-type($inputs, $results)
  }];
}

def Mm_CompressOp : Mm_Op<"compress", [Pure]> {
  let summary = "1-D compression of a token sequence";
  let description = [{
    With a `weight` [m, d, k]: a bias-free Conv1d along the token axis,
    `result[t, o] = sum_{c, j} weight[o, c, j] * xp[t * stride + j, c]`,
    where xp is x with `padding` zero rows at both ends and
    n' = (n + 2 * padding - k) / stride + 1.
    Without a weight: frame stacking (PyTorch's
    `x.unfold(0, k, k).flatten(1)`), `result[t, c * k + j] = x[t * k + j, c]`
    with n' = n / k (trailing frames dropped); stride must equal the kernel
    and padding must be 0.
  }];
  let arguments = (ins Mm_Sequence:$x, Optional<3DTensorOf<[F32]>>:$weight,
                   ConfinedAttr<I64Attr, [IntPositive]>:$kernel,
                   ConfinedAttr<I64Attr, [IntPositive]>:$stride,
                   ConfinedAttr<I64Attr, [IntNonNegative]>:$padding);
  let results = (outs Mm_Sequence:$result);
  let assemblyFormat = [{
    $x (`,` $weight^ `:` type($weight))? `kernel` `=` $kernel `stride` `=`
    $stride `padding` `=` $padding attr-dict `:` type($x) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Mm_AdapterOp : Mm_Op<"adapter", [Pure, AttrSizedOperandSegments]> {
  let summary = "adapter MLP from encoder features to the model width";
  let description = [{
    `y = relu(h) W2^T + b2`, then `y + LayerNorm(y)` (eps 1e-5, affine) when
    the norm weights are given, where the first layer h [n', hidden] is:
    - `w1` [hidden, d]: `h = x w1^T + b1` (n' = n);
    - `w1` [hidden, d, k]: a window product along the tokens (a Conv1d with
      bias), `h[t, o] = b1[o] + sum_{c, j} w1[o, c, j] xp[t * stride + j, c]`
      with xp padded as in `mm.compress`: a compression folded into the
      first layer;
    - `w1` [hidden, m] with `conv` [m, d, k]: `h = conv(x) w1^T + b1`, the
      conv of `mm.compress` computed one output token at a time so that its
      output never goes to memory (loop fusion).
    `stride` and `padding` describe the window; they must be 1 and 0 for a
    plain first layer.
  }];
  let arguments = (ins Mm_Sequence:$x, TensorOf<[F32]>:$w1, Mm_Vector:$b1,
                   2DTensorOf<[F32]>:$w2, Mm_Vector:$b2,
                   Optional<3DTensorOf<[F32]>>:$conv,
                   Optional<Mm_Vector>:$norm_weight,
                   Optional<Mm_Vector>:$norm_bias,
                   ConfinedAttr<I64Attr, [IntPositive]>:$stride,
                   ConfinedAttr<I64Attr, [IntNonNegative]>:$padding);
  let results = (outs Mm_Sequence:$result);
  let assemblyFormat = [{
    $x `,` $w1 `,` $b1 `,` $w2 `,` $b2 (`conv` $conv^)?
    (`norm` $norm_weight^ `,` $norm_bias)? `stride` `=` $stride `padding` `=`
    $padding attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Mm_SpliceOp : Mm_Op<"splice", [Pure]> {
  let summary = "token embeddings with modality rows spliced in";
  let description = [{
    `result[t] = features[i]` where `tokens[t] == placeholder` and t is the
    i-th placeholder position, else `table[tokens[t]]`. The number of
    placeholders must equal the number of feature rows (the runtime checks
    it before calling compiled code, as it checks token ids). The table may
    be stored as bf16 or f16, as `rwkv.embedding`'s.
  }];
  let arguments = (ins 1DTensorOf<[I32]>:$tokens,
                   2DTensorOf<[F32, BF16, F16]>:$table,
                   Mm_Sequence:$features, I32Attr:$placeholder);
  let results = (outs Mm_Sequence:$result);
  let assemblyFormat = [{
    $tokens `,` $table `,` $features `placeholder` `=` $placeholder attr-dict
    `:` type($tokens) `,` type($table) `,` type($features) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // MODRWKV_DIALECT_MM_OPS_TD
