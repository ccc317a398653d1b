"""Writes one rnnconf case file (schema version 1, documented in fixtures/README.md).

The one case writer: the fixture generators and every `capture_*` helper call it.

    from rnnconf_capture import write_case
    write_case("my_case.h5", name="pytorch/my_lstm", framework="pytorch", library="torch",
               library_version=torch.__version__, cell="lstm", dtype="float32",
               description="...", config={...},
               weights=[("weight_ih_l0", w), ...], inputs=[("input", x)],
               outputs=[("output", y), ("h_n", h), ("c_n", c)])

Tensors are numpy arrays written in their own dtype and native layout. The file
carries no HDF5 object timestamps, so writing the same case twice gives the same bytes.
"""
from __future__ import annotations

import json
import os
from typing import Iterable, Mapping, Sequence

import h5py
import numpy as np

SCHEMA_VERSION = 1
FRAMEWORKS = ("keras", "tf1", "pytorch", "onnx")
CELLS = ("rnn", "lstm", "gru", "mixed")
DEFAULT_TOLERANCE = {"float32": (1e-5, 1e-5), "float64": (1e-10, 1e-10)}

Named = Sequence[tuple[str, np.ndarray]]


def _str_array(names: Iterable[str]) -> np.ndarray:
    # Fixed-length byte strings, as Keras writes `layer_names` / `weight_names`.
    names = list(names)
    width = max([len(n.encode("utf-8")) for n in names] + [1])
    return np.array([n.encode("utf-8") for n in names], dtype=f"S{width}")


def _ordered_untimed(plist_class) -> h5py.h5p.PropID:
    # Creation order tracked (h5dump and `rnnconf inspect` list objects as the
    # framework did) and no object timestamps, so regenerating a case gives
    # the same bytes.
    plist = h5py.h5p.create(plist_class)
    plist.set_obj_track_times(False)
    plist.set_link_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
    return plist


def _require_group(parent: h5py.Group, path: str) -> h5py.Group:
    g = parent
    for part in path.split("/"):
        if part in g:
            g = g[part]
        else:
            gid = h5py.h5g.create(g.id, part.encode("utf-8"), gcpl=_ordered_untimed(h5py.h5p.GROUP_CREATE))
            g = h5py.Group(gid)
    return g


def _create_dataset(parent: h5py.Group, name: str, data: np.ndarray) -> None:
    head, _, leaf = name.rpartition("/")
    g = _require_group(parent, head) if head else parent
    g.create_dataset(leaf, data=data, track_times=False)


def _write_group(f: h5py.File, group: str, named: Named, list_attr: str) -> None:
    g = _require_group(f, group)
    seen = set()
    for name, value in named:
        if name in seen:
            raise ValueError(f"duplicate tensor name {name!r} in /{group}")
        seen.add(name)
        arr = np.asarray(value)
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        _create_dataset(g, name, arr)
    f.attrs[list_attr] = _str_array([n for n, _ in named])


def write_case(
    path: str,
    *,
    name: str,
    framework: str,
    library: str,
    library_version: str,
    cell: str,
    dtype: str,
    description: str,
    config: Mapping,
    weights: Named,
    inputs: Named,
    outputs: Named,
    atol: float | None = None,
    rtol: float | None = None,
    tolerance_reason: str | None = None,
    nan_equal: bool = False,
    artifacts: Mapping[str, bytes] | None = None,
    references: str | None = None,
    intermediates: Named | None = None,
    compared_outputs: Sequence[str] | None = None,
) -> None:
    """Writes the case to `path` (parent folders created). Raises ValueError for a framework,
    cell or dtype outside the schema, an empty name, a duplicate tensor name, or a tolerance
    looser than the dtype's default without a `tolerance_reason`.

    `compared_outputs`: the names of the outputs the case compares (root attribute
    `compared_output_names`), when its framework test checks only some (the second call of a
    stateful layer); each must be one of `outputs`. rnnconf reports every other stored or
    produced output as not compared. None = compare every output."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be a non-empty string, `<framework>/<case>` (rnnconf refuses an empty name)")
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework {framework!r} is not one of {FRAMEWORKS}")
    if cell not in CELLS:
        raise ValueError(f"cell {cell!r} is not one of {CELLS}")
    if dtype not in DEFAULT_TOLERANCE:
        raise ValueError(f"dtype {dtype!r} is not float32 or float64")
    d_atol, d_rtol = DEFAULT_TOLERANCE[dtype]
    atol = d_atol if atol is None else atol
    rtol = d_rtol if rtol is None else rtol
    if (atol > d_atol or rtol > d_rtol) and not tolerance_reason:
        raise ValueError(f"case {name}: tolerance looser than atol={d_atol} rtol={d_rtol} needs a tolerance_reason")
    if compared_outputs is not None:
        compared_outputs = list(compared_outputs)
        stored = [n for n, _ in outputs]
        if not compared_outputs:
            raise ValueError(f"case {name}: compared_outputs is empty (the case would compare nothing)")
        if len(set(compared_outputs)) != len(compared_outputs):
            raise ValueError(f"case {name}: compared_outputs names an output twice: {compared_outputs}")
        unknown = [n for n in compared_outputs if n not in stored]
        if unknown:
            raise ValueError(f"case {name}: compared_outputs {unknown} are not among the outputs {stored}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fid = h5py.h5f.create(os.fsencode(path), h5py.h5f.ACC_TRUNC,
                          fcpl=_ordered_untimed(h5py.h5p.FILE_CREATE))
    with h5py.File(fid) as f:
        f.attrs["rnnconf_case_schema"] = np.int64(SCHEMA_VERSION)
        f.attrs["name"] = name
        f.attrs["framework"] = framework
        f.attrs["library"] = library
        f.attrs["library_version"] = library_version
        f.attrs["cell"] = cell
        f.attrs["dtype"] = dtype
        f.attrs["description"] = description
        f.attrs["config"] = json.dumps(config, sort_keys=True)
        f.attrs["atol"] = np.float64(atol)
        f.attrs["rtol"] = np.float64(rtol)
        if tolerance_reason:
            f.attrs["tolerance_reason"] = tolerance_reason
        f.attrs["nan_equal"] = np.int64(1 if nan_equal else 0)
        if references:
            f.attrs["references"] = references
        _write_group(f, "weights", weights, "weight_names")
        _write_group(f, "inputs", inputs, "input_names")
        _write_group(f, "outputs", outputs, "output_names")
        if compared_outputs is not None:
            f.attrs["compared_output_names"] = _str_array(compared_outputs)
        if intermediates:
            for lname, value in intermediates:
                if np.asarray(value).dtype != np.dtype(dtype):
                    raise ValueError(f"case {name}: intermediate output {lname!r} is {np.asarray(value).dtype}, "
                                     f"expected the case's dtype {dtype}")
            _write_group(f, "intermediate", intermediates, "intermediate_names")
        if artifacts:
            g = _require_group(f, "artifacts")
            for fname, blob in artifacts.items():
                g.create_dataset(fname, data=np.frombuffer(blob, dtype=np.uint8), track_times=False)
            f.attrs["artifact_names"] = _str_array(artifacts.keys())
