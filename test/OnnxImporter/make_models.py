#!/usr/bin/env python3
"""Writes the binary ONNX models the lit tests need into a folder:
  weights.onnx     a MatMul whose 64x32 weight is an initializer (large
                   enough to leave the IR for weights.bin)
  ext/             the same weight as external data in ext/weights.data,
                   as a backend-test folder with numpy's expected output
  absolute.onnx / dotdot.onnx   external data at '/etc/passwd' / '../x'
  truncated.onnx   the first half of weights.onnx
  conv/            Convs by weight initializers, with a numpy reference
  control-flow/    Inputs/control-flow.onnxtxt (If, Loop, Scan) as a
                   backend-test folder: numpy's outputs for both branches
  strings/         Cast between strings and numbers (float32, float64,
                   int64), with Python's own parsing and shortest repr
  strings-wrong/   the same model, one expected string altered
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, parser

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def model(weight):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 32])
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")
    graph = helper.make_graph([node], "encoder", [x], [y], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


w = np.arange(64 * 32, dtype=np.float32).reshape(64, 32) / 1000
onnx.save(model(numpy_helper.from_array(w, "w")), f"{out}/weights.onnx")

os.makedirs(f"{out}/ext", exist_ok=True)
with open(f"{out}/ext/weights.data", "wb") as f:
    f.write(w.tobytes())


def external(location):
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[64, 32])
    t.data_location = TensorProto.EXTERNAL
    for k, v in [("location", location), ("offset", "0"),
                 ("length", str(w.nbytes))]:
        e = t.external_data.add()
        e.key, e.value = k, v
    return model(t)


for name, location in [("ext/model", "weights.data"),
                       ("absolute", "/etc/passwd"), ("dotdot", "../x.data")]:
    with open(f"{out}/{name}.onnx", "wb") as f:
        f.write(external(location).SerializeToString())

# ext/ is a backend-test folder: the expected output from numpy.
x = np.linspace(-1, 1, 2 * 64, dtype=np.float32).reshape(2, 64)
os.makedirs(f"{out}/ext/test_data_set_0", exist_ok=True)
for name, array in [("input_0", x), ("output_0", x @ w)]:
    with open(f"{out}/ext/test_data_set_0/{name}.pb", "wb") as f:
        f.write(numpy_helper.from_array(array).SerializeToString())

data = open(f"{out}/weights.onnx", "rb").read()
with open(f"{out}/truncated.onnx", "wb") as f:
    f.write(data[: len(data) // 2])


def write_data_set(folder, index, inputs, outputs):
    os.makedirs(f"{folder}/test_data_set_{index}", exist_ok=True)
    for kind, arrays in [("input", inputs), ("output", outputs)]:
        for i, array in enumerate(arrays):
            with open(f"{folder}/test_data_set_{index}/{kind}_{i}.pb", "wb") as f:
                f.write(numpy_helper.from_array(array).SerializeToString())


# conv/: Convs by weight initializers (products over im2col rows): 2-D
# with strides, dilations, asymmetric pads and a bias, and 1-D without a
# bias; the reference sums the windows in float64.
def conv_reference(x, w, b, strides, dilations, pads):
    spatial = x.ndim - 2
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [
        (pads[d], pads[d + spatial]) for d in range(spatial)])
    kernel = w.shape[2:]
    out = [(xp.shape[2 + d] - (kernel[d] - 1) * dilations[d] - 1)
           // strides[d] + 1 for d in range(spatial)]
    y = np.zeros((x.shape[0], w.shape[0], *out))
    for o in np.ndindex(*out):
        window = tuple(slice(o[d] * strides[d], o[d] * strides[d] +
                             (kernel[d] - 1) * dilations[d] + 1, dilations[d])
                       for d in range(spatial))
        patch = xp[(slice(None), slice(None)) + window]
        summed = list(range(1, 2 + spatial))
        y[(slice(None), slice(None)) + o] = np.tensordot(
            patch, w.astype(np.float64), axes=(summed, summed))
    if b is not None:
        y += b.reshape(1, -1, *([1] * spatial))
    return y.astype(np.float32)


rng = np.random.default_rng(7)
x2 = rng.standard_normal((2, 8, 11, 9)).astype(np.float32)
w2 = rng.standard_normal((16, 8, 3, 2)).astype(np.float32)
b2 = rng.standard_normal(16).astype(np.float32)
x1 = rng.standard_normal((1, 12, 20)).astype(np.float32)
w1 = rng.standard_normal((24, 12, 5)).astype(np.float32)
attrs2 = dict(strides=[2, 1], dilations=[2, 3], pads=[1, 0, 2, 1])
attrs1 = dict(strides=[3], dilations=[1], pads=[2, 2])
y2 = conv_reference(x2, w2, b2, **attrs2)
y1 = conv_reference(x1, w1, None, **attrs1)
graph = helper.make_graph(
    [helper.make_node("Conv", ["x2", "w2", "b2"], ["y2"], **attrs2),
     helper.make_node("Conv", ["x1", "w1"], ["y1"], **attrs1)], "conv",
    [helper.make_tensor_value_info(n, TensorProto.FLOAT, a.shape)
     for n, a in [("x2", x2), ("x1", x1)]],
    [helper.make_tensor_value_info(n, TensorProto.FLOAT, a.shape)
     for n, a in [("y2", y2), ("y1", y1)]],
    [numpy_helper.from_array(a, n) for n, a in
     [("w2", w2), ("b2", b2), ("w1", w1)]])
os.makedirs(f"{out}/conv", exist_ok=True)
onnx.save(helper.make_model(graph, opset_imports=[
    helper.make_opsetid("", 17)]), f"{out}/conv/model.onnx")
write_data_set(f"{out}/conv", 0, [x2, x1], [y2, y1])

# control-flow/: the reference follows the ONNX operator definitions.
here = os.path.dirname(os.path.abspath(__file__))
with open(f"{here}/Inputs/control-flow.onnxtxt") as f:
    cf = parser.parse_model(f.read())
os.makedirs(f"{out}/control-flow", exist_ok=True)
onnx.save(cf, f"{out}/control-flow/model.onnx")
x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)
s0 = np.array([1.0, 2.0, 3.0], dtype=np.float32)
z = x * x * x * x  # v <- v * x, three times, from x
acc = s0 + x[0] + x[1]
steps = np.stack([s0 + x[0], s0 + x[0] + x[1]], axis=-1)
for index, c in enumerate([True, False]):
    y = x + 1 if c else -x
    write_data_set(f"{out}/control-flow", index,
                   [x, np.array(c), s0], [y, z, acc, steps])


# strings/: text <-> numbers. Python's float() parses the text; numbers
# print as numpy's shortest repr (float32 values as float32).
text = np.array(["1.5", "-0.25", "NaN", "-INF", "3e-7", "42"], dtype=object)
numbers = np.array([0.1, -2.5, 1e-5, 123456789.0, 1e-4, -0.0], dtype=np.float32)
doubles = numbers.astype(np.float64) / 3
ints = np.array([0, -7, 9007199254740993, 12, -1, 5], dtype=np.int64)
strings = helper.make_model(helper.make_graph(
    [helper.make_node("Cast", ["text"], ["parsed"], to=TensorProto.FLOAT),
     helper.make_node("Cast", ["text"], ["parsed64"], to=TensorProto.DOUBLE),
     helper.make_node("Cast", ["numbers"], ["printed"], to=TensorProto.STRING),
     helper.make_node("Cast", ["doubles"], ["printed64"], to=TensorProto.STRING),
     helper.make_node("Cast", ["ints"], ["printed_ints"], to=TensorProto.STRING)],
    "strings",
    [helper.make_tensor_value_info("text", TensorProto.STRING, [6]),
     helper.make_tensor_value_info("numbers", TensorProto.FLOAT, [6]),
     helper.make_tensor_value_info("doubles", TensorProto.DOUBLE, [6]),
     helper.make_tensor_value_info("ints", TensorProto.INT64, [6])],
    [helper.make_tensor_value_info("parsed", TensorProto.FLOAT, [6]),
     helper.make_tensor_value_info("parsed64", TensorProto.DOUBLE, [6]),
     helper.make_tensor_value_info("printed", TensorProto.STRING, [6]),
     helper.make_tensor_value_info("printed64", TensorProto.STRING, [6]),
     helper.make_tensor_value_info("printed_ints", TensorProto.STRING, [6])]),
    opset_imports=[helper.make_opsetid("", 17)])
parsed = np.array([float(t) for t in text])
want = [parsed.astype(np.float32), parsed,
        np.array([str(np.float32(v)) for v in numbers], dtype=object),
        np.array([repr(float(v)) for v in doubles], dtype=object),
        np.array([str(v) for v in ints], dtype=object)]
for name, outputs in [("strings", want),
                      ("strings-wrong", want[:2] + [np.array(
                          ["0.1"] * 5 + ["0.0"], dtype=object)] + want[3:])]:
    os.makedirs(f"{out}/{name}", exist_ok=True)
    onnx.save(strings, f"{out}/{name}/model.onnx")
    write_data_set(f"{out}/{name}", 0, [text, numbers, doubles, ints], outputs)
