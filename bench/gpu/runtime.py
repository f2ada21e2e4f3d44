"""ctypes binding of the runtime C API (runtime/include/modrwkv/runtime.h),
for machines that have a GPU but no compiler: bench/gpu scripts drive
libmodrwkv_runtime.so directly instead of modrwkv-run; the e2e tests use it
for the calls modrwkv-run has no flag for (batched decode)."""
import ctypes

import numpy as np


class RuntimeError_(RuntimeError):
    pass


class Runtime:
    def __init__(self, library):
        lib = ctypes.CDLL(library)
        p, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32
        fptr = ctypes.POINTER(ctypes.c_float)
        iptr = ctypes.POINTER(ctypes.c_int32)
        for name, res, args in [
                ("modrwkv_last_error", ctypes.c_char_p, []),
                ("modrwkv_model_load", p, [ctypes.c_char_p]),
                ("modrwkv_model_free", None, [p]),
                ("modrwkv_model_vocab_size", i64, [p]),
                ("modrwkv_state_create", p, [p]),
                ("modrwkv_state_free", None, [p]),
                ("modrwkv_state_copy", ctypes.c_int, [p, p]),
                ("modrwkv_prefill", ctypes.c_int, [p, p, iptr, i64, fptr]),
                ("modrwkv_decode", ctypes.c_int, [p, p, i32, fptr]),
                ("modrwkv_state_logits", fptr, [p]),
                ("modrwkv_state_save", ctypes.c_int, [p, ctypes.c_char_p]),
                ("modrwkv_state_load", ctypes.c_int, [p, ctypes.c_char_p]),
                ("modrwkv_batch_create", p, [p, i64]),
                ("modrwkv_batch_free", None, [p]),
                ("modrwkv_batch_put", ctypes.c_int, [p, i64, p]),
                ("modrwkv_batch_get", ctypes.c_int, [p, i64, p]),
                ("modrwkv_decode_batch", ctypes.c_int, [p, p, iptr]),
                ("modrwkv_batch_logits", fptr, [p]),
                ("modrwkv_prefill_features", ctypes.c_int,
                 [p, p, iptr, i64, fptr, i64, fptr]),
                ("modrwkv_graphs_load", p, [ctypes.c_char_p]),
                ("modrwkv_graphs_free", None, [p]),
                ("modrwkv_graph_run", ctypes.c_int, [p, i64, p, p])]:
            f = getattr(lib, name)
            f.restype, f.argtypes = res, args
        self.lib = lib

    def check(self, rc):
        if rc != 0:
            raise RuntimeError_(self.lib.modrwkv_last_error().decode())

    def load(self, artifact):
        model = self.lib.modrwkv_model_load(artifact.encode())
        if not model:
            raise RuntimeError_(self.lib.modrwkv_last_error().decode())
        return Model(self, model)

    def graphs(self, artifact):
        graphs = self.lib.modrwkv_graphs_load(artifact.encode())
        if not graphs:
            raise RuntimeError_(self.lib.modrwkv_last_error().decode())
        return Graphs(self, graphs)


class Graphs:
    """The ONNX graphs of an artifact (an encoder tower's)."""

    def __init__(self, rt, handle):
        self.rt, self.handle = rt, handle

    def run(self, graph, x, out_shape):
        """Graph `graph` on the one float32 input `x`: its one output."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.full(out_shape, np.nan, np.float32)
        inputs = (ctypes.c_void_p * 1)(x.ctypes.data)
        outputs = (ctypes.c_void_p * 1)(out.ctypes.data)
        self.rt.check(self.rt.lib.modrwkv_graph_run(self.handle, graph,
                                                    inputs, outputs))
        return out

    def __del__(self):
        self.rt.lib.modrwkv_graphs_free(self.handle)


class Model:
    def __init__(self, rt, handle):
        self.rt, self.handle = rt, handle
        self.vocab = rt.lib.modrwkv_model_vocab_size(handle)

    def state(self):
        return State(self)

    def batch(self, slots):
        return Batch(self, slots)

    def batch_of(self, prompts):
        """A batch whose slot i holds prompts[i], prefilled on its own (an
        empty prompt leaves its slot as created: a fresh state)."""
        batch = self.batch(len(prompts))
        for slot, prompt in enumerate(prompts):
            if not prompt:
                continue
            alone = self.state()
            alone.prefill(prompt, want_logits=False)
            batch.put(slot, alone)
        return batch

    def __del__(self):
        self.rt.lib.modrwkv_model_free(self.handle)


class State:
    def __init__(self, model):
        self.model, self.lib = model, model.rt.lib
        self.handle = self.lib.modrwkv_state_create(model.handle)

    def prefill(self, tokens, want_logits=True):
        """Logits after every token ([n, vocab]); NaN-poisoned first, so a
        row the runtime does not write shows up."""
        toks = np.ascontiguousarray(tokens, dtype=np.int32)
        out = np.full((len(toks), self.model.vocab), np.nan, np.float32)
        ptr = out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)) \
            if want_logits else None
        self.model.rt.check(self.lib.modrwkv_prefill(
            self.model.handle, self.handle,
            toks.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), len(toks),
            ptr))
        return out if want_logits else self.last_logits()

    def prefill_features(self, tokens, features):
        """prefill with the rows of `features` at the placeholder tokens."""
        toks = np.ascontiguousarray(tokens, dtype=np.int32)
        rows = np.ascontiguousarray(features, dtype=np.float32)
        out = np.full((len(toks), self.model.vocab), np.nan, np.float32)
        fptr = ctypes.POINTER(ctypes.c_float)
        self.model.rt.check(self.lib.modrwkv_prefill_features(
            self.model.handle, self.handle,
            toks.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), len(toks),
            rows.ctypes.data_as(fptr), len(rows), out.ctypes.data_as(fptr)))
        return out

    def decode(self, token):
        out = np.full(self.model.vocab, np.nan, np.float32)
        self.model.rt.check(self.lib.modrwkv_decode(
            self.model.handle, self.handle, int(token),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))))
        return out

    def last_logits(self):
        ptr = self.lib.modrwkv_state_logits(self.handle)
        return np.ctypeslib.as_array(ptr, (self.model.vocab,)).copy()

    def copy_from(self, other):
        self.model.rt.check(self.lib.modrwkv_state_copy(self.handle,
                                                        other.handle))

    def save(self, path):
        self.model.rt.check(self.lib.modrwkv_state_save(self.handle,
                                                        path.encode()))

    def load(self, path):
        self.model.rt.check(self.lib.modrwkv_state_load(self.handle,
                                                        path.encode()))

    def __del__(self):
        self.lib.modrwkv_state_free(self.handle)


class Batch:
    """Slots decoded together (modrwkv_decode_batch)."""

    def __init__(self, model, slots):
        self.model, self.lib, self.slots = model, model.rt.lib, slots
        self.handle = self.lib.modrwkv_batch_create(model.handle, slots)
        if not self.handle:
            raise RuntimeError_(self.lib.modrwkv_last_error().decode())

    def put(self, slot, state):
        self.model.rt.check(self.lib.modrwkv_batch_put(self.handle, slot,
                                                       state.handle))

    def get(self, slot, state):
        self.model.rt.check(self.lib.modrwkv_batch_get(self.handle, slot,
                                                       state.handle))

    def decode(self, tokens):
        """Feeds tokens[i] to slot i; the logits, [slots, vocab]."""
        toks = np.ascontiguousarray(tokens, dtype=np.int32)
        self.model.rt.check(self.lib.modrwkv_decode_batch(
            self.model.handle, self.handle,
            toks.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))))
        ptr = self.lib.modrwkv_batch_logits(self.handle)
        return np.ctypeslib.as_array(
            ptr, (self.slots, self.model.vocab)).copy()

    def decode_steps(self, steps):
        """decode() for each step's tokens: [slots, steps, vocab]."""
        return np.stack([self.decode(tokens) for tokens in steps], axis=1)

    def __del__(self):
        if self.handle:
            self.lib.modrwkv_batch_free(self.handle)
