"""Hostile ONNX files, made with the ``onnx`` helper API, for the importer's tests.

Each maker returns the file's bytes. The graphs are small on purpose: what is hostile is one
tensor, one attribute or the graph's shape, and the rest is a plain conv net that imports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from onnx import AttributeProto, TensorProto, helper

X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)


def model(nodes: list[Any], inits: list[Any] | None = None, **graph: Any) -> bytes:
    g = helper.make_graph(nodes, "g", [X], [Y], initializer=inits or [], **graph)
    return helper.make_model(g).SerializeToString()


def conv_weight(name: str = "w", out: int = 8) -> Any:
    return helper.make_tensor(name, TensorProto.FLOAT, [out, 3, 3, 3], [0.0] * (out * 27))


def conv(inp: str = "x", out: str = "c", **attrs: Any) -> Any:
    attrs = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], **attrs}
    return helper.make_node("Conv", [inp, "w"], [out], name="/conv/Conv", **attrs)


def reshape_by(shape: Any) -> bytes:
    """conv, then a flatten whose target shape is the tensor ``shape`` (a value the importer
    must read: Reshape to N x -1)."""
    nodes = [conv(), helper.make_node("Reshape", ["c", shape.name], ["y"],
                                      name="/flatten/Reshape")]
    return model(nodes, [conv_weight(), shape])


def shape_tensor(**fields: Any) -> Any:
    """The Reshape target [1, -1] as INT64, with ``fields`` set on it afterwards."""
    t = helper.make_tensor("target", TensorProto.INT64, [2], [1, -1])
    for key, value in fields.items():
        if key == "dims":
            del t.dims[:]
            t.dims.extend(value)
        elif key == "int64_data":
            del t.int64_data[:]
            t.int64_data.extend(value)
        else:
            setattr(t, key, value)
    return t


def external(t: Any, location: str | None, data_location: bool = True,
             **extra: str) -> Any:
    """``t`` pointing at ``location`` as ONNX external data (its own values dropped)."""
    del t.int64_data[:]
    del t.float_data[:]
    t.ClearField("raw_data")
    if data_location:
        t.data_location = TensorProto.EXTERNAL
    entries = ({"location": location} if location is not None else {}) | extra
    for key, value in entries.items():
        e = t.external_data.add()
        e.key, e.value = key, value
    return t


def external_reshape(location: str | None, **kw: Any) -> bytes:
    return reshape_by(external(shape_tensor(), location, **kw))


def external_constant(location: str) -> bytes:
    """The Reshape target from a Constant node whose value tensor is external."""
    value = external(shape_tensor(), location)
    nodes = [conv(), helper.make_node("Constant", [], ["target"], name="/flatten/Constant",
                                      value=value),
             helper.make_node("Reshape", ["c", "target"], ["y"], name="/flatten/Reshape")]
    return model(nodes, [conv_weight()])


def external_clip_bound(location: str) -> bytes:
    """Clip (ReLU6) whose upper bound is an external scalar."""
    lo = helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0])
    hi = external(helper.make_tensor("hi", TensorProto.FLOAT, [], [6.0]), location)
    nodes = [conv(), helper.make_node("Clip", ["c", "lo", "hi"], ["y"], name="/act/Clip")]
    return model(nodes, [conv_weight(), lo, hi])


def conv_attr(**attrs: Any) -> bytes:
    return model([conv(out="c0", **attrs),
                  helper.make_node("Relu", ["c0"], ["y"], name="/act/Relu")], [conv_weight()])


def relu_chain(n: int) -> bytes:
    nodes = [helper.make_node("Relu", [f"v{i}"], [f"v{i + 1}"], name="/act/Relu")
             for i in range(n)]
    nodes[0].input[0], nodes[-1].output[0] = "x", "y"
    return model(nodes)


def nested_adds(n: int) -> bytes:
    """a1 = relu(x) + x, a2 = relu(a1) + x, ...: every addition nests in the next."""
    nodes, prev = [], "x"
    for i in range(n):
        nodes += [helper.make_node("Relu", [prev], [f"r{i}"], name=f"/b{i}/Relu"),
                  helper.make_node("Add", [f"r{i}", "x"], [f"a{i}"], name=f"/b{i}/Add")]
        prev = f"a{i}"
    nodes.append(helper.make_node("Relu", [prev], ["y"], name="/out/Relu"))
    return model(nodes)


def crossing_merges(n: int) -> bytes:
    """A chain of n Relus, then n additions each of the chain's end and one of its layers:
    branches that cross, whose dominators a naive walk finds in quadratic time."""
    nodes = [helper.make_node("Relu", ["x" if i == 0 else f"r{i - 1}"], [f"r{i}"],
                              name=f"/r{i}/Relu") for i in range(n)]
    prev = f"r{n - 1}"
    for i in range(n - 1):
        nodes.append(helper.make_node("Add", [prev, f"r{i}"], [f"m{i}"], name=f"/m{i}/Add"))
        prev = f"m{i}"
    nodes.append(helper.make_node("Relu", [prev], ["y"], name="/out/Relu"))
    return model(nodes)


def pads_before_convs(n: int) -> bytes:
    """n times Pad then a 1x1 conv: each Pad's reader was found by scanning every node."""
    w = helper.make_tensor("w1", TensorProto.FLOAT, [3, 3, 1, 1], [0.0] * 9)
    pads = helper.make_tensor("p", TensorProto.INT64, [8], [0, 0, 1, 1, 0, 0, 1, 1])
    nodes, prev = [], "x"
    for i in range(n):
        nodes += [helper.make_node("Pad", [prev, "p"], [f"p{i}"], name=f"/b{i}/Pad"),
                  helper.make_node("Conv", [f"p{i}", "w1"], [f"c{i}"], name=f"/b{i}/Conv",
                                   kernel_shape=[1, 1], pads=[0, 0, 0, 0])]
        prev = f"c{i}"
    nodes.append(helper.make_node("Relu", [prev], ["y"], name="/out/Relu"))
    return model(nodes, [w, pads])


def if_nodes(n: int) -> bytes:
    """A conv net with an If node whose branch holds n nodes (subgraph nodes count too)."""
    branch_nodes = [helper.make_node("Relu", ["c" if i == 0 else f"s{i - 1}"], [f"s{i}"])
                    for i in range(n)]
    out = helper.make_tensor_value_info(f"s{n - 1}", TensorProto.FLOAT, None)
    branch = helper.make_graph(branch_nodes, "b", [], [out])
    cond = helper.make_tensor("cond", TensorProto.BOOL, [], [True])
    nodes = [conv(), helper.make_node("If", ["cond"], ["y"], name="/if/If",
                                      then_branch=branch, else_branch=branch)]
    return model(nodes, [conv_weight(), cond])


def value_infos(n: int) -> bytes:
    infos = [helper.make_tensor_value_info(f"v{i}", TensorProto.FLOAT, [1])
             for i in range(n)]
    return model([conv(out="c0"), helper.make_node("Relu", ["c0"], ["y"], name="/act/Relu")],
                 [conv_weight()], value_info=infos)


def long_string_attribute() -> bytes:
    node = helper.make_node("Relu", ["c0"], ["y"], name="/act/Relu")
    a = node.attribute.add()
    a.name, a.type, a.s = "note", AttributeProto.STRING, b"x" * 100_000
    return model([conv(out="c0"), node], [conv_weight()])


def squaring_muls(n: int) -> bytes:
    """Shape arithmetic that squares a constant n times (folded integers would grow without
    bound), feeding a Reshape."""
    big = helper.make_tensor("k0", TensorProto.INT64, [1], [2**40])
    nodes = [conv()]
    for i in range(n):
        nodes.append(helper.make_node("Mul", [f"k{i}", f"k{i}"], [f"k{i + 1}"],
                                      name=f"/k{i}/Mul"))
    nodes.append(helper.make_node("Reshape", ["c", f"k{n}"], ["y"], name="/flatten/Reshape"))
    return model(nodes, [conv_weight(), big])


#: files that must be refused (422 through the web) with the words expected in the message
MALFORMED: dict[str, tuple[Callable[[], bytes], tuple[str, ...]]] = {
    "unknown data_type": (lambda: reshape_by(shape_tensor(data_type=999)),
                          ("target", "data type 999")),
    "raw data of the wrong size": (lambda: reshape_by(shape_tensor(
        raw_data=b"\x01\x02\x03", int64_data=[])), ("target", "3 bytes")),
    "typed values of the wrong count": (lambda: reshape_by(shape_tensor(int64_data=[1])),
                                        ("target", "1 values")),
    "dims 2^32 x 2^32 x 0": (lambda: reshape_by(shape_tensor(dims=[2**32, 2**32, 0],
                                                             int64_data=[])),
                             ("target", "4294967296")),
    "a negative dim": (lambda: reshape_by(shape_tensor(dims=[-2])), ("target", "-2")),
    "a STRING tensor": (lambda: reshape_by(helper.make_tensor("target", TensorProto.STRING,
                                                              [2], [b"1", b"-1"])),
                        ("target", "data type 8")),
    "Conv pads of 2 million ints": (lambda: conv_attr(pads=[1] * 2_000_000),
                                    ("/conv/Conv", "pads", "2,000,000")),
    "Conv pads of 3 ints": (lambda: conv_attr(pads=[1, 1, 1]), ("/conv/Conv", "pads")),
    "Conv kernel_shape of 1 int": (lambda: conv_attr(kernel_shape=[3]),
                                   ("/conv/Conv", "kernel_shape")),
    "Conv strides as floats": (lambda: conv_attr(strides=[1.5, 1.5]), ("/conv/Conv", "strides")),
    "a string attribute of 100,000 bytes": (long_string_attribute, ("/act/Relu", "note")),
    "a node name of 2,000 characters": (
        lambda: model([helper.make_node("Relu", ["x"], ["y"], name="n" * 2000)]),
        ("node #0", "1,024 characters")),
}

#: where hostile external data points (the symlinked one is made by the test)
LOCATIONS = ("pyproject.toml", "/etc/passwd", "../../../../../../etc/passwd", "missing.bin",
             "", "secret.bin")
